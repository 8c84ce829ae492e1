"""Shared pieces of the benchmark scripts: identical data for every framework, the hyperparameters of
docs/algorithms.md §6, the LR rule, AUROC, timing records and table formatting.

Every framework (ocnn_jax, the Keras reference, the PyTorch reference) receives exactly the arrays made
here: the inductive one-class split of docs/algorithms.md §7 (l1 GCN + min-max with the normal class's
constants, computed by ``ocnn_jax.one_class_split`` on the class's *full* training set), NHWC
float32 ``(n, 28, 28, 1)``; PyTorch transposes them to NCHW itself. Optional subsampling takes the first
``n_train`` rows of the class (official order) and a fixed random subset of the test split shared by
all classes, so no framework sees different data.

This module imports only NumPy, scikit-learn and ocnn_jax's data layer (never jax-heavy training code,
Keras or PyTorch), so every script and the smoke test can import it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = [
    "REPO_ROOT",
    "REPRODUCE_SETTINGS",
    "Phase",
    "Hyper",
    "ClassData",
    "RunRecord",
    "default_data_dir",
    "parse_int_list",
    "add_common_args",
    "hyper_from_args",
    "prepare_classes",
    "test_subset",
    "lr_at_epoch",
    "center_eps_rule",
    "steps_per_epoch",
    "images_per_run",
    "auroc",
    "Stopwatch",
    "median",
    "mean_std",
    "summarize_runs",
    "markdown_table",
    "environment",
    "limit_threads",
    "write_json",
    "write_outputs",
    "ocnn_jax_records",
    "RESULT_COLUMNS",
    "report_runs",
]

#: The repository root (benchmarks/..).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent

#: ``reproduce.py --settings`` values (also ``device_check.py --repro-settings``): the published settings, with
#: the dictionary start added, or the library defaults.
REPRODUCE_SETTINGS: tuple[str, ...] = ("published", "dictionary", "defaults")


# --------------------------------------------------------------------------------------------------
# Hyperparameters (docs/algorithms.md §6, MNIST rows)


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training phase: Adam(β = 0.9/0.999, ε = 1e-8) with coupled L2 decay and a ×0.1 milestone.

    Attributes:
      lr: Adam learning rate.
      lr_milestone: 1-based epoch m of the ×0.1 drop (epochs 0 … m−2 at ``lr``, m−1 on at ``0.1·lr``),
        or None for a constant LR.
      weight_decay: coupled decay λ: λ·θ is added to the gradient before the Adam moments.
      batch_size: minibatch size; every epoch drops its last partial batch.
      epochs: number of epochs.
    """

    lr: float
    lr_milestone: int | None
    weight_decay: float
    batch_size: int
    epochs: int


@dataclasses.dataclass(frozen=True)
class Hyper:
    """Settings shared by all three implementations (MNIST defaults of docs/algorithms.md §2, §3, §6).

    Attributes:
      pretrain: AE pretraining, which is also the whole DCAE run.
      svdd: the one-class Deep SVDD phase.
      ocnn: the OC-NN head phase (constant LR, no weight decay: its penalties are in the loss).
      center_eps: ε of the centre rule.
      nu: OC-NN ν (r is the ν-quantile of ŷ over the training set, refreshed every epoch).
      ocnn_hidden: OC-NN h (rows of V).
      rep_dim: representation size p of the LeNet encoder.
      rcae_lam: RCAE λ (l1 penalty: N-step soft-threshold at λ/2); RCAE trains ``pretrain``'s phase
        as T alternations of E epochs (:func:`rcae_split`).
    """

    pretrain: Phase = Phase(1e-4, 50, 5e-4, 200, 150)
    svdd: Phase = Phase(1e-4, 50, 5e-7, 200, 150)
    ocnn: Phase = Phase(1e-4, None, 0.0, 200, 100)
    center_eps: float = 0.1
    nu: float = 0.1
    ocnn_hidden: int = 32
    rep_dim: int = 32
    rcae_lam: float = 0.1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return dataclasses.asdict(self)


def lr_at_epoch(phase: Phase, epoch: int) -> float:
    """Learning rate during 0-based ``epoch``: ×0.1 from epoch m−1 on (Ruff's scheduler stepped at the
    start of each epoch), the rule ``ocnn_jax.optim.lr_at_epoch`` implements."""
    if phase.lr_milestone is not None and epoch >= phase.lr_milestone - 1:
        return 0.1 * phase.lr
    return phase.lr


def rcae_split(epochs: int) -> tuple[int, int]:
    """RCAE's (T, E) for an AE phase of ``epochs`` epochs: two alternations when ``epochs`` is even and
    at least 2 (T·E = epochs), else one alternation of all of them."""
    t = 2 if epochs >= 2 and epochs % 2 == 0 else 1
    return t, epochs // t


def center_eps_rule(mean: np.ndarray, eps: float) -> np.ndarray:
    """Ruff's centre rule on the mean representation: entries in (−ε, 0) become −ε, entries in (0, ε)
    become +ε, exact zeros stay 0. Returns a new float32 array."""
    c = np.asarray(mean, np.float64).copy()
    c[(np.abs(c) < eps) & (c < 0)] = -eps
    c[(np.abs(c) < eps) & (c > 0)] = eps
    return c.astype(np.float32)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full minibatches per epoch (the last partial batch is dropped)."""
    return n // batch_size


def images_per_run(n: int, hyper: Hyper, svdd_epochs: int | None = None, pretrain_epochs: int | None = None) -> int:
    """Training images one Deep SVDD run processes: AE pretraining plus the Deep SVDD phase, full batches
    only. Inference passes (centre, scores) are not counted."""
    p = hyper.pretrain.epochs if pretrain_epochs is None else pretrain_epochs
    e = hyper.svdd.epochs if svdd_epochs is None else svdd_epochs
    return (p * steps_per_epoch(n, hyper.pretrain.batch_size) * hyper.pretrain.batch_size
            + e * steps_per_epoch(n, hyper.svdd.batch_size) * hyper.svdd.batch_size)


# --------------------------------------------------------------------------------------------------
# Data


class ClassData(NamedTuple):
    """One normal class's preprocessed data, identical for every framework.

    Attributes:
      normal_class: the digit that is normal.
      x_train: (n, 28, 28, 1) float32 normal training images (GCN + min-max with this class's constants).
      x_test: (n_test, 28, 28, 1) float32 test images, same transform.
      y_test: (n_test,) int32, 1 = anomaly (another digit), 0 = normal.
    """

    normal_class: int
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def default_data_dir() -> str | None:
    """``$OCNN_JAX_DATA_DIR`` when set, else None: ``ocnn_jax.datasets.load`` then searches its own places
    (the environment variables and the per-user cache ``~/.cache/ocnn_jax``)."""
    return os.environ.get("OCNN_JAX_DATA_DIR") or None


def test_subset(n_total: int, n_test: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a fixed random test subset (all rows when ``n_test`` is None or ≥ n_total)."""
    if n_test is None or n_test >= n_total:
        return np.arange(n_total)
    if n_test < 2:
        raise ValueError(f"n_test must be at least 2, got {n_test}")
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:n_test])


def prepare_classes(
    classes: Sequence[int],
    data_dir: str | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    dataset: Any = None,
) -> list[ClassData]:
    """Load MNIST once and build every class's one-class split (docs/algorithms.md §7).

    Args:
      classes: the normal classes, in order (duplicates are built once and shared).
      data_dir: the folder of the MNIST IDX files (default ``default_data_dir()``).
      n_train: keep the first ``n_train`` training rows of each class (official order); None: all.
      n_test: evaluate on a fixed random subset of this many test images (the same rows for every
        class and framework); None: the whole test split.
      dataset: an already loaded ``ocnn_jax.datasets.Dataset`` (tests), instead of ``data_dir``.

    Returns:
      One ``ClassData`` per entry of ``classes``.
    """
    from ocnn_jax.datasets import load
    from ocnn_jax.datasets.protocol import one_class_split

    ds = dataset if dataset is not None else load("mnist", data_dir=data_dir or default_data_dir())
    rows = test_subset(len(ds.y_test), n_test)
    cache: dict[int, ClassData] = {}
    for c in classes:
        c = int(c)
        if c in cache:
            continue
        split = one_class_split(ds, c)
        x_train = split.x_train if n_train is None else split.x_train[:n_train]
        cache[c] = ClassData(
            c,
            np.ascontiguousarray(x_train, np.float32),
            np.ascontiguousarray(split.x_test[rows], np.float32),
            np.asarray(split.y_test[rows], np.int32),
        )
    return [cache[int(c)] for c in classes]


# --------------------------------------------------------------------------------------------------
# Metrics, timing and records


def auroc(y_is_anomaly: np.ndarray, scores: np.ndarray) -> float:
    """AUROC of continuous scores, anomaly (label 1) = positive class, higher score = more anomalous."""
    s = np.asarray(scores, np.float64)
    if not np.all(np.isfinite(s)):
        return float("nan")
    return float(roc_auc_score(np.asarray(y_is_anomaly), s))


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds`` (perf_counter wall time)."""

    def __enter__(self) -> "Stopwatch":
        self._t0 = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def median(values: Iterable[float]) -> float:
    """Median of the finite values (NaN when there are none)."""
    v = [float(x) for x in values if x is not None and np.isfinite(x)]
    return float(statistics.median(v)) if v else float("nan")


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and population std (ddof = 0) of the finite values; (NaN, NaN) when there are none."""
    v = np.asarray([float(x) for x in values if x is not None and np.isfinite(x)], np.float64)
    return (float(v.mean()), float(v.std())) if v.size else (float("nan"), float("nan"))


@dataclasses.dataclass
class RunRecord:
    """One trained model of a reference script.

    Attributes:
      framework: "keras", "torch" or "jax".
      method: "deep_svdd", "ocnn", "dcae" or "rcae".
      normal_class, seed: the run.
      n_train: training images of the run.
      seconds: wall seconds of this method's training, per phase (e.g. {"pretrain": 3.1, "train": 2.0});
        inference passes (centre, scores) are excluded.
      images: training images processed (full batches, all phases of ``seconds``).
      auroc: AUROC on the test set.
      extra: anything else (final losses, r, …).
    """

    framework: str
    method: str
    normal_class: int
    seed: int
    n_train: int
    seconds: dict[str, float]
    images: int
    auroc: float
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds.values()))


def summarize_runs(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per (framework, method, class): AUROC mean ± std (%, population) over seeds, mean
    seconds per model and images/s, plus an "all" row per (framework, method)."""
    rows: list[dict[str, Any]] = []
    keys = sorted({(r.framework, r.method) for r in records})
    for fw, method in keys:
        sel = [r for r in records if r.framework == fw and r.method == method]
        groups = sorted({r.normal_class for r in sel})
        for g in groups + ["all"]:
            rs = sel if g == "all" else [r for r in sel if r.normal_class == g]
            m, s = mean_std([100 * r.auroc for r in rs])
            secs = sum(r.total_seconds for r in rs)
            rows.append({
                "framework": fw, "method": method, "class": g, "runs": len(rs),
                "seeds": sorted({r.seed for r in rs}),
                "auroc_mean": m, "auroc_std": s,
                "seconds_per_model": secs / len(rs),
                "images_per_second": sum(r.images for r in rs) / secs if secs > 0 else float("nan"),
            })
    return rows


Column = tuple[str, str, "Callable[[Any], str] | str"]


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """A Markdown table. ``columns``: (header, key, format) with format a ``str.format`` spec such as
    "{:.2f}" or a callable on the value."""
    def cell(row: dict[str, Any], key: str, fmt: Callable[[Any], str] | str) -> str:
        v = row.get(key)
        if v is None:
            return "—"
        if isinstance(v, float) and not np.isfinite(v):
            return "—"
        return fmt(v) if callable(fmt) else fmt.format(v)

    head = "| " + " | ".join(h for h, _, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(r, k, f) for _, k, f in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def environment() -> dict[str, Any]:
    """Machine and library versions, for the JSON record."""
    import importlib.metadata as md

    versions = {}
    names = ("ocnn_jax", "jax", "jaxlib", "flax", "optax", "numpy", "keras", "tensorflow", "tensorflow-cpu", "torch")
    for name in names:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def limit_threads(n: int) -> None:
    """Restrict XLA, TensorFlow and PyTorch to n threads: XLA's multi-threaded Eigen off for n = 1, XLA's
    intra-op pool, OpenMP and TensorFlow's pools set to n. Must run before jax is imported (XLA reads
    ``XLA_FLAGS`` at start-up)."""
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}").strip()
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(n)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(n)


def _jsonable(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        d = dataclasses.asdict(o)
        if isinstance(o, RunRecord):
            d["total_seconds"] = o.total_seconds
        return _jsonable(d)
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` (dataclasses, NumPy values and NaN → null allowed) as indented JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(_jsonable(payload), indent=2) + "\n")


def write_outputs(json_path: str | None, md_path: str | None, payload: Any, text: str) -> None:
    """A benchmark's results: ``payload`` as JSON to ``json_path`` and ``text`` as Markdown to ``md_path``
    (each skipped when None; parent folders are created)."""
    if json_path:
        write_json(json_path, payload)
    if md_path:
        p = Path(md_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text + "\n")


# --------------------------------------------------------------------------------------------------
# ocnn_jax on the same arrays (for AUROC comparisons in the reference scripts)


def ocnn_jax_records(classes: Sequence[ClassData], seeds: Sequence[int], hyper: Hyper, method: str,
                     verbose: bool = True) -> list[RunRecord]:
    """Train the same (class, seed) runs with ``ocnn_jax.fit`` on the same preprocessed arrays.

    One ``fit`` per class (its seeds on the model axis), ``preprocessing="none"``, the same epochs, batch
    size, milestones, decays and ν as ``hyper``; DCAE trains ``hyper.pretrain.epochs`` AE epochs,
    RCAE the same epochs as T × E alternations (:func:`rcae_split`) with λ = ``hyper.rcae_lam``.
    ``seconds`` is fit's ``wall_time`` (training incl. compilation) split evenly over the class's runs.
    The LeNet encoder/decoder are passed as modules: ``fit(preprocessing="none")`` would otherwise give
    the built-in decoder a linear output (it cannot know the data lie in [0, 1]), whereas Ruff's AE
    and the references end in a sigmoid. Raises ValueError when this ocnn_jax has no such method.
    """
    import ocnn_jax
    from ocnn_jax.nn.lenet import MnistLeNetDecoder, MnistLeNetEncoder

    pre, ph = hyper.pretrain, hyper.svdd
    if method == "deep_svdd":
        cfg = dict(epochs=ph.epochs, batch_size=ph.batch_size, lr=ph.lr, lr_milestone=ph.lr_milestone,
                   weight_decay=ph.weight_decay, pretrain_epochs=pre.epochs, pretrain_batch_size=pre.batch_size,
                   pretrain_lr=pre.lr, pretrain_lr_milestone=pre.lr_milestone,
                   pretrain_weight_decay=pre.weight_decay)
        n_images = lambda n: images_per_run(n, hyper)  # noqa: E731
    elif method == "ocnn":
        oc = hyper.ocnn
        # The references train the paper's OC-NN (head on the frozen pretrained codes, g linear, no RBF
        # layer: PAPER_OCNN, docs/algorithms.md §2), not our default.
        cfg = dict(features="encoder", kernel="none", g="linear", epochs=oc.epochs, batch_size=oc.batch_size, lr=oc.lr, nu=hyper.nu,
                   hidden_units=hyper.ocnn_hidden, pretrain_epochs=pre.epochs, pretrain_batch_size=pre.batch_size,
                   pretrain_lr=pre.lr, pretrain_lr_milestone=pre.lr_milestone,
                   pretrain_weight_decay=pre.weight_decay)
        n_images = lambda n: (pre.epochs * steps_per_epoch(n, pre.batch_size) * pre.batch_size  # noqa: E731
                              + oc.epochs * steps_per_epoch(n, oc.batch_size) * oc.batch_size)
    elif method == "dcae":
        # The references train Ruff's bias-free AE (the paper network), not our default's output bias.
        cfg = dict(epochs=pre.epochs, batch_size=pre.batch_size, lr=pre.lr, lr_milestone=pre.lr_milestone,
                   weight_decay=pre.weight_decay, output_bias="none")
        n_images = lambda n: pre.epochs * steps_per_epoch(n, pre.batch_size) * pre.batch_size  # noqa: E731
    elif method == "rcae":
        # The paper's alternation on Ruff's bias-free AE, the AE phase split into T × E (rcae_split).
        t, e = rcae_split(pre.epochs)
        cfg = dict(outer_iterations=t, epochs_per_iteration=e, batch_size=pre.batch_size, lr=pre.lr,
                   lr_milestone=pre.lr_milestone, weight_decay=pre.weight_decay, lam=hyper.rcae_lam,
                   output_bias="none")
        n_images = lambda n: t * e * steps_per_epoch(n, pre.batch_size) * pre.batch_size  # noqa: E731
    else:
        raise ValueError(f"unknown method {method!r}")
    records: list[RunRecord] = []
    for cd in classes:
        model = ocnn_jax.fit(cd.x_train, method=method, seeds=list(seeds), preprocessing="none", progress=False,
                             check_collapse=False, encoder=MnistLeNetEncoder(rep_dim=hyper.rep_dim),
                             decoder=MnistLeNetDecoder(rep_dim=hyper.rep_dim), **cfg)
        aucs = model.evaluate(cd.x_test, y_is_anomaly=cd.y_test)
        n = len(cd.x_train)
        for seed, a in zip(seeds, aucs):
            records.append(RunRecord("jax", method, cd.normal_class, int(seed), n,
                                     {"fit": model.wall_time / len(seeds)}, n_images(n), float(a),
                                     {"model_axis_width": model.model_axis_width}))
            if verbose:
                print(f"jax {method} class {cd.normal_class} seed {seed}: AUROC {100 * a:.2f}", flush=True)
    return records


# --------------------------------------------------------------------------------------------------
# Command line


def parse_int_list(text: str) -> list[int]:
    """"0,1,2" or "0-9" or "0-4,7" → [ints] (order kept)."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    if not out:
        raise argparse.ArgumentTypeError(f"expected a list of ints such as '0,1' or '0-9', got {text!r}")
    return out


def add_common_args(parser: argparse.ArgumentParser, *, epochs: int, pretrain_epochs: int,
                    n_train: int | None, n_test: int | None, seeds: bool = True) -> None:
    """The options every script shares (data, classes, [seeds,] epochs, output)."""
    parser.add_argument("--data-dir", default=default_data_dir(),
                        help="folder with the MNIST IDX .gz files (default: $OCNN_JAX_DATA_DIR, else the "
                             "per-user cache ~/.cache/ocnn_jax, where `ocnn-jax ... --download` puts them)")
    parser.add_argument("--classes", type=parse_int_list, default=[0],
                        help="normal classes, e.g. '0,3' or '0-9' (default: 0)")
    if seeds:
        parser.add_argument("--seeds", type=parse_int_list, default=[0],
                            help="seeds, e.g. '0-2' (default: 0); one seed drives init and shuffling of a run")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help="Deep SVDD epochs (paper: 150; default: %(default)s)")
    parser.add_argument("--pretrain-epochs", type=int, default=pretrain_epochs,
                        help="AE pretraining epochs, also the DCAE epochs (paper: 150; default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=200, help="minibatch size of every phase (default: 200)")
    parser.add_argument("--lr-milestone", type=int, default=50,
                        help="×0.1 LR milestone m of the AE and Deep SVDD phases (default: 50)")
    parser.add_argument("--n-train", type=int, default=n_train,
                        help="use the first N training images of each class (default: %(default)s = all)")
    parser.add_argument("--n-test", type=int, default=n_test,
                        help="evaluate on a fixed random subset of N test images (default: %(default)s = all 10000)")
    parser.add_argument("--out", default=None, help="write the results as JSON to this path")


def hyper_from_args(args: argparse.Namespace, ocnn_epochs: int | None = None) -> Hyper:
    """The ``Hyper`` for parsed common arguments (paper values for everything not on the command line)."""
    b, m = args.batch_size, args.lr_milestone
    return Hyper(
        pretrain=Phase(1e-4, m, 5e-4, b, args.pretrain_epochs),
        svdd=Phase(1e-4, m, 5e-7, b, args.epochs),
        ocnn=Phase(1e-4, None, 0.0, b, args.epochs if ocnn_epochs is None else ocnn_epochs),
    )


#: Columns of the per-(framework, method, class) result table of the reference scripts.
RESULT_COLUMNS = [
    ("framework", "framework", "{}"), ("method", "method", "{}"), ("class", "class", "{}"),
    ("runs", "runs", "{}"), ("AUROC % (mean)", "auroc_mean", "{:.2f}"), ("± (pop. std)", "auroc_std", "{:.2f}"),
    ("s / model", "seconds_per_model", "{:.2f}"), ("train img/s", "images_per_second", "{:,.0f}"),
]


def report_runs(script: str, args: argparse.Namespace, hyper: Hyper, data: Sequence[ClassData],
                records: list[RunRecord], jax_methods: Sequence[str]) -> int:
    """Shared tail of the reference scripts: optionally train the same runs with ocnn_jax
    (``--compare-jax``), print the summary table, and write the JSON record."""
    notes = []
    if args.compare_jax:
        for method in jax_methods:
            try:
                records = records + ocnn_jax_records(data, args.seeds, hyper, method)
            except (ValueError, TypeError) as e:  # an ocnn_jax without this method or option
                notes.append(f"ocnn_jax {method}: skipped ({e})")
    rows = summarize_runs(records)
    print(markdown_table(rows, RESULT_COLUMNS))
    for note in notes:
        print(f"- {note}")
    if args.out:
        write_json(args.out, {"script": script, "args": vars(args), "hyper": hyper.as_dict(),
                              "environment": environment(), "summary": rows, "runs": records, "notes": notes})
    return 0
