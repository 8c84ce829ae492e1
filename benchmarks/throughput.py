"""Training throughput of ocnn_jax against the Keras and PyTorch references, side by side in one run.

Every deep method (``deep_svdd``, ``soft_boundary``, ``ocnn``, ``rcae``, ``dcae``) is timed for ocnn_jax,
and for the references where they implement it (Keras: Deep SVDD, OC-NN, DCAE, RCAE; PyTorch: Deep SVDD,
DCAE), on the same preprocessed MNIST arrays (``benchmarks/common.py``), the same network, optimiser,
epochs and batch size.

Workloads (``--workloads``, default both, in this order):

* ``realistic``: classes 0–1, the first 4000 training images of each, 10 AE + 10 method epochs
  (OC-NN: 10 AE + 10 head epochs; RCAE: T × E = 2 × 5; DCAE: the 10 AE epochs), M = 2 runs.
* ``setup``: the workload of the old headline (1 AE + 1 method epoch on 1000 images per class), kept as
  the labelled "set-up dominated" row: five optimizer steps per phase mostly measure the references'
  per-model set-up (Keras traces a new graph for every model).
* ``paper``: paper length (150 + 150 epochs, all training images) on class 0, M = 1; hours on a CPU,
  never a default.

Frameworks:

* ``jax``: ocnn_jax's engine, the M runs as ONE compiled program (``jaxbench.MethodBench``: what
  ``ocnn_jax.fit`` runs, without its preprocessing, progress chunks and training-score pass). Compile
  seconds are measured apart; the CPU cores are JAX devices (``--cpu-devices``) over which the runs
  are sharded, as ``ocnn_jax.sweep`` does.
* ``keras``: ``keras_reference.train_run``, one model after another (one AE per model, from which DCAE
  is scored and OC-NN and Deep SVDD continue; RCAE, the paper's alternation with N fed back, trains an
  AE of its own). DCAE and RCAE on every framework use Ruff's bias-free decoder (``output_bias="none"``
  for ocnn_jax), so that all three compute the same network.
* ``torch``: ``torch_reference.train_deep_svdd`` (Ruff's loop), one model after another.

Every framework is measured ``--rounds`` times, interleaved (round 1 of every framework, then round
2 …), so that the ratios of one round come from the same minutes of a shared machine; the table gives
the median over rounds of each round's ratio. Two speeds per row:

* **steady img/s**: training images per second once running. jax: the images of the whole compiled
  program ÷ its execution seconds (compile apart; init and the centre/quantile passes included).
  References: the images of every epoch but the first of each phase ÷ those epochs' seconds (the
  first epoch carries Keras's graph tracing and the first-touch costs).
* **s / model**: wall seconds per trained model, per-model set-up included (jax: program seconds ÷ M;
  with compile: + compile ÷ M in the "incl. compile" ratio).

AUROC (``sklearn``, anomaly = positive) is reported per run beside the times. A sequential reference
warms up once (one untimed model) before its first round.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from common import (
    ClassData,
    Hyper,
    Phase,
    Stopwatch,
    environment,
    limit_threads,
    markdown_table,
    mean_std,
    median,
    parse_int_list,
    prepare_classes,
    rcae_split,
    write_outputs,
)

__all__ = ["FRAMEWORKS", "METHODS", "REFERENCE_METHODS", "WORKLOADS", "Workload", "run_plan", "JaxDeepSVDD",
           "Measurement", "hyper_for", "jax_overrides", "workload_label", "steady_from_epochs", "build_rows", "format_table",
           "parse_args", "main"]

FRAMEWORKS = ("jax", "keras", "torch")
METHODS = ("deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae")
#: What each reference implements (the rest of METHODS is ocnn_jax only).
REFERENCE_METHODS = {"keras": ("deep_svdd", "ocnn", "dcae", "rcae"), "torch": ("deep_svdd", "dcae")}


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Attributes:
      name: key in ``WORKLOADS``; label: how the table names it.
      classes: normal classes; models: numbers of runs M (the first M of the seed-major plan).
      n_train: first N training images per class (None: all); n_test: fixed test subset (None: all).
      pretrain_epochs: AE epochs (also DCAE's and OC-NN's pretraining); epochs: Deep SVDD / OC-NN
        head epochs; RCAE runs T = 2 alternations of pretrain_epochs / 2 epochs.
      seq_models: models K each sequential reference trains per round.
    """

    name: str
    label: str
    classes: tuple[int, ...]
    models: tuple[int, ...]
    n_train: int | None
    n_test: int | None
    pretrain_epochs: int
    epochs: int
    seq_models: int


WORKLOADS: dict[str, Workload] = {
    "realistic": Workload("realistic", "realistic (10 + 10 epochs, 4000 img/class)", (0, 1), (2,), 4000, 2000, 10, 10, 2),
    "setup": Workload("setup", "set-up dominated (1 + 1 epoch, 1000 img/class)", (0, 1), (2,), 1000, 2000, 1, 1, 2),
    "paper": Workload("paper", "paper length (150 + 150 epochs, all images)", (0,), (1,), None, None, 150, 150, 1),
}


def run_plan(classes: Sequence[int], n_models: int) -> list[tuple[int, int]]:
    """The first ``n_models`` (class, seed) runs in seed-major order: seed 0 over all classes, then seed 1…"""
    if n_models < 1:
        raise ValueError(f"the number of models must be >= 1, got {n_models}")
    seeds = -(-n_models // len(classes))
    return [(c, s) for s in range(seeds) for c in classes][:n_models]


#: Every method's minibatch size in this benchmark (Ruff et al.'s 200).
BATCH_SIZE = 200


def hyper_for(w: Workload, batch_size: int = BATCH_SIZE, lr_milestone: int = 50) -> Hyper:
    """The references' ``Hyper`` of a workload (paper values except the epochs)."""
    return Hyper(pretrain=Phase(1e-4, lr_milestone, 5e-4, batch_size, w.pretrain_epochs),
                 svdd=Phase(1e-4, lr_milestone, 5e-7, batch_size, w.epochs),
                 ocnn=Phase(1e-4, None, 0.0, batch_size, w.epochs))


def jax_overrides(method: str, hyper: Hyper) -> dict[str, Any]:
    """ocnn_jax config overrides that give ``method`` the references' phases: the same optimiser,
    epochs, batch and milestone. OC-NN is the paper's configuration (``PAPER_OCNN``: the linear head on
    the frozen pretrained encoder's codes), as the Keras reference implements it."""
    from ocnn_jax import OptimConfig

    def opt(p: Phase) -> Any:
        return OptimConfig(lr=p.lr, lr_milestone=p.lr_milestone, weight_decay=p.weight_decay,
                           batch_size=p.batch_size, epochs=p.epochs)

    pre = hyper.pretrain
    if method in ("deep_svdd", "soft_boundary"):
        extra = {"warmup_epochs": min(2, hyper.svdd.epochs)} if method == "soft_boundary" else {}
        return {"train": opt(hyper.svdd), "pretrain": opt(pre), "center_eps": hyper.center_eps, **extra}
    if method == "ocnn":
        return {"train": opt(hyper.ocnn), "pretrain": opt(pre), "features": "encoder", "kernel": "none", "g": "linear",
                "hidden_units": hyper.ocnn_hidden, "nu": hyper.nu}
    # DCAE and RCAE: Ruff's bias-free decoder, as the references build it (not our defaults' output bias).
    if method == "dcae":
        return {"train": opt(pre), "output_bias": "none"}
    if method == "rcae":
        t, e = rcae_split(pre.epochs)
        return {"outer_iterations": t, "epochs_per_iteration": e, "lr": pre.lr, "lam": hyper.rcae_lam,
                "weight_decay": pre.weight_decay, "batch_size": pre.batch_size, "lr_milestone": pre.lr_milestone,
                "output_bias": "none"}
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def steady_from_epochs(epoch_seconds: dict[str, list[float]], images_per_epoch: dict[str, int]
                       ) -> tuple[int, float] | None:
    """(images, seconds) of every epoch but the first of each phase; None when no phase has two epochs."""
    images, seconds = 0, 0.0
    for phase, times in epoch_seconds.items():
        if len(times) >= 2:
            images += images_per_epoch[phase] * (len(times) - 1)
            seconds += float(sum(times[1:]))
    return (images, seconds) if seconds > 0 else None


@dataclasses.dataclass
class Measurement:
    """One (workload, method, framework, M) cell of one round.

    Attributes:
      seconds: training wall seconds of the M models (jax: the program's execution; references: the sum
        over the K models trained, scaled to M as M × median per model).
      per_model_seconds: references: each model's wall seconds.
      steady_images, steady_seconds: see the module docstring.
      compile_seconds: jax only.
      aurocs: per run.
    """

    workload: str
    method: str
    framework: str
    models: int
    round: int
    seconds: float
    steady_images: int
    steady_seconds: float
    compile_seconds: float | None = None
    per_model_seconds: list[float] = dataclasses.field(default_factory=list)
    aurocs: list[float] = dataclasses.field(default_factory=list)

    @property
    def steady_rate(self) -> float:
        return self.steady_images / self.steady_seconds if self.steady_seconds > 0 else float("nan")



# --------------------------------------------------------------------------------------------------
# ocnn_jax's one-class Deep SVDD program as benchmarks/profile_cpu.py profiles it


class JaxDeepSVDD:
    """One-class Deep SVDD through ocnn_jax's engine on the benchmark's arrays.

    The same pieces ``ocnn_jax.fit`` runs (``make_train`` → ``train(key, run, data)``, mapped over the
    run axis by ``engine.run_mapper``, one PRNG key ``jax.random.key(seed)`` per run), without fit's
    preprocessing, progress chunks and training-score pass, so the timed work equals the references'.
    """

    def __init__(self, classes: Sequence[ClassData], hyper: Hyper, model_axis: str | int = "auto") -> None:
        import jax
        import jax.numpy as jnp

        from ocnn_jax import DeepSVDDConfig, OptimConfig, make_train
        from ocnn_jax.core import stack_classes
        from ocnn_jax.engine import resolve_run_axis
        from ocnn_jax.nn import make_backbone

        self._jax, self._jnp = jax, jnp
        self._resolve = resolve_run_axis
        self.model_axis = model_axis
        self.hyper = hyper
        self.class_ids = [cd.normal_class for cd in classes]
        cfg = DeepSVDDConfig(
            objective="one-class", nu=hyper.nu, center_eps=hyper.center_eps,
            train=OptimConfig(**dataclasses.asdict(hyper.svdd)),
            pretrain=OptimConfig(**dataclasses.asdict(hyper.pretrain)),
        )
        self.backbone = make_backbone("mnist_lenet", (28, 28, 1), rep_dim=hyper.rep_dim)
        self.data = stack_classes([cd.x_train for cd in classes], cfg.score_batch_size)
        self.train_fn = make_train("deep_svdd", self.backbone, self.data, cfg)
        self.cfg = self.train_fn.config
        self.x_test = [jnp.asarray(cd.x_test) for cd in classes]
        self.y_test = [cd.y_test for cd in classes]
        self._score = jax.jit(self.train_fn.score)
        self._compiled: dict[int, tuple[Callable[..., Any], float]] = {}

    def width(self, n_models: int) -> int | None:
        """The model-axis map width ``ocnn_jax.fit`` would use (None = vmap all)."""
        return self._resolve(self.model_axis, "mnist_lenet", n_models)

    def inputs(self, runs: Sequence[tuple[int, int]]):
        """((keys, RunSpec), data) for the given (class, seed) runs."""
        from ocnn_jax import make_runs

        keys, spec = make_runs([self.class_ids.index(c) for c, _ in runs], [s for _, s in runs], self.hyper.nu)
        return (keys, spec), self.data

    def compile(self, n_models: int) -> tuple[Callable[..., Any], float]:
        """Compile the M-run training program once (cached per M); returns (compiled, seconds of
        lowering + compiling)."""
        if n_models in self._compiled:
            return self._compiled[n_models]
        from ocnn_jax.engine import make_run_mesh, run_mapper

        train = self.train_fn

        def one(key_run, data):
            state, _ = train(key_run[0], key_run[1], data)
            return train.variables(state)

        n_dev = self._jax.device_count()
        # Several (CPU) devices: shard the runs over them, as ocnn_jax.sweep does; else one device.
        mesh = make_run_mesh() if n_dev > 1 and n_models % n_dev == 0 else None
        per_device = n_models if mesh is None else n_models // n_dev
        fn = self._jax.jit(run_mapper(self.width(per_device), n_models, mesh)(one))
        mapped, data = self.inputs([(self.class_ids[0], 0)] * n_models)
        with Stopwatch() as t:
            compiled = fn.lower(mapped, data).compile()
        self._compiled[n_models] = (compiled, t.seconds)
        return compiled, t.seconds

    def train(self, compiled: Callable[..., Any], runs: Sequence[tuple[int, int]]) -> tuple[Any, float]:
        """Execute a compiled program on ``runs``; returns (variables with a model axis, seconds)."""
        mapped, data = self.inputs(runs)
        self._jax.block_until_ready(mapped)
        with Stopwatch() as t:
            out = compiled(mapped, data)
            self._jax.block_until_ready(out)
        return out, t.seconds

    def aurocs(self, out: Any, runs: Sequence[tuple[int, int]], chunk: int = 2500) -> list[float]:
        """Test AUROC of every run (inference-mode scores ‖φ(x) − c‖²)."""
        from common import auroc

        jax = self._jax
        result = []
        for i, (c, _) in enumerate(runs):
            k = self.class_ids.index(c)
            v = jax.tree.map(lambda a: a[i], out)
            x = self.x_test[k]
            scores = np.concatenate([np.asarray(self._score(v, x[j:j + chunk]))
                                     for j in range(0, x.shape[0], chunk)])
            result.append(auroc(self.y_test[k], scores))
        return result


# --------------------------------------------------------------------------------------------------
# Measuring


def measure_jax(bench: Any, w: Workload, method: str, m: int, rnd: int, compiled: dict[int, Any],
                mesh_for: Callable[[int], Any], log: Callable[[str], None]) -> Measurement:
    """Execute the M-run program of ``method`` once (compiling it on first use)."""
    if m not in compiled:
        compiled[m] = bench.compile(m, mesh=mesh_for(m), count_flops=False)
    c = compiled[m]
    runs = run_plan(w.classes, m)
    out, seconds = bench.train(c, runs)
    aucs = bench.aurocs(out, runs)
    images = bench.images(runs)
    log(f"{w.name} {method} jax M={m} round {rnd}: {seconds:.2f} s (compile {c.compile_seconds:.1f} s), "
        f"AUROC {100 * np.nanmean(aucs):.2f}")
    return Measurement(w.name, method, "jax", m, rnd, seconds, images, seconds, c.compile_seconds, aurocs=aucs)


def reference_trainer(name: str, hyper: Hyper, methods: Sequence[str], torch_device: str = "cpu"
                      ) -> Callable[[ClassData, int], dict[str, Any]]:
    """``train(class data, seed) -> {method: RunRecord}`` of a reference (ImportError when its extra is
    missing)."""
    if name == "keras":
        mod = importlib.import_module("keras_reference")
        wanted = tuple(m for m in REFERENCE_METHODS["keras"] if m in methods)
        return lambda cd, s: {r.method: r for r in mod.train_run(cd, s, hyper, wanted)}
    mod = importlib.import_module("torch_reference")
    return lambda cd, s: {r.method: r for r in mod.train_deep_svdd(cd, s, hyper, dcae="dcae" in methods,
                                                                  device=torch_device)}


def measure_reference(name: str, train: Callable[[ClassData, int], dict[str, Any]], data: dict[int, ClassData],
                      hyper: Hyper, w: Workload, methods: Sequence[str], rnd: int, log: Callable[[str], None]
                      ) -> list[Measurement]:
    """Train the workload's K sequential models once; one Measurement per (method, M)."""
    from common import steps_per_epoch

    plan = run_plan(w.classes, w.seq_models)
    records = [train(data[c], s) for c, s in plan]
    out = []
    for method in [m for m in REFERENCE_METHODS[name] if m in methods]:
        recs = [r[method] for r in records]
        per_model = [r.total_seconds for r in recs]
        s_images, s_seconds = 0, 0.0
        train_batch = {"ocnn": hyper.ocnn, "rcae": hyper.pretrain}.get(method, hyper.svdd).batch_size
        for r in recs:
            n = r.n_train
            per_epoch = {"pretrain": steps_per_epoch(n, hyper.pretrain.batch_size) * hyper.pretrain.batch_size,
                         "train": steps_per_epoch(n, train_batch) * train_batch}
            st = steady_from_epochs(r.extra.get("epoch_seconds", {}), per_epoch)
            if st is None:  # one epoch per phase: only the wall time exists
                st = (r.images, r.total_seconds)
            s_images += st[0]
            s_seconds += st[1]
        for m in w.models:
            out.append(Measurement(w.name, method, name, m, rnd, m * median(per_model), s_images, s_seconds,
                                   per_model_seconds=per_model, aurocs=[r.auroc for r in recs]))
        log(f"{w.name} {method} {name} round {rnd}: median {median(per_model):.2f} s/model, steady "
            f"{s_images / s_seconds:,.0f} img/s, AUROC {100 * np.nanmean([r.auroc for r in recs]):.2f}")
    return out


# --------------------------------------------------------------------------------------------------
# Table


def workload_label(w: Workload) -> str:
    """How the table names a workload: its kind and its actual settings (after command-line overrides)."""
    kind = {"realistic": "realistic", "setup": "set-up dominated", "paper": "paper length"}.get(w.name, w.name)
    return f"{kind} ({w.pretrain_epochs} + {w.epochs} epochs, {w.n_train or 'all'} img/class)"


def build_rows(measurements: Sequence[Measurement], labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per (workload, method, framework, M): medians over rounds, per-round ratios against the
    references (same workload, method, M and round) and their median, AUROC. ``labels``: workload name ->
    table label (default: the name's defaults, ``workload_label(WORKLOADS[name])``)."""
    labels = labels or {}
    by = {(x.workload, x.method, x.framework, x.models, x.round): x for x in measurements}
    keys = sorted({(x.workload, x.method, x.framework, x.models) for x in measurements},
                  key=lambda k: (list(WORKLOADS).index(k[0]) if k[0] in WORKLOADS else 99,
                                 METHODS.index(k[1]) if k[1] in METHODS else 99, FRAMEWORKS.index(k[2]), k[3]))
    rows = []
    for wl, method, fw, m in keys:
        xs = sorted((x for x in measurements if (x.workload, x.method, x.framework, x.models) == (wl, method, fw, m)),
                    key=lambda x: x.round)
        row: dict[str, Any] = {
            "workload": wl, "method": method, "framework": fw, "models": m, "rounds": len(xs),
            "workload_label": labels.get(wl) or (workload_label(WORKLOADS[wl]) if wl in WORKLOADS else wl),
            "seconds_per_model": median([x.seconds / m for x in xs]),
            "seconds_per_model_rounds": [x.seconds / m for x in xs],
            "steady_images_per_second": median([x.steady_rate for x in xs]),
            "steady_rounds": [x.steady_rate for x in xs],
            "compile_seconds": xs[0].compile_seconds,
        }
        aucs = xs[0].aurocs
        row["auroc_mean"], row["auroc_std"] = mean_std([100 * a for a in aucs])
        row["auroc_runs"] = [100 * a for a in aucs]
        if fw == "jax":
            for ref in ("keras", "torch"):
                steady, wall, wall_c = [], [], []
                for x in xs:
                    r = by.get((wl, method, ref, m, x.round))
                    if r is None:
                        continue
                    steady.append(x.steady_rate / r.steady_rate)
                    wall.append(r.seconds / x.seconds)
                    wall_c.append(r.seconds / (x.seconds + (x.compile_seconds or 0.0)))
                if steady:
                    row[f"steady_ratio_{ref}"] = median(steady)
                    row[f"steady_ratio_{ref}_rounds"] = steady
                    row[f"wall_ratio_{ref}"] = median(wall)
                    row[f"wall_ratio_{ref}_incl_compile"] = median(wall_c)
        rows.append(row)
    return rows


def _ratio(key: str) -> Callable[[dict[str, Any]], str]:
    def fmt(row: dict[str, Any]) -> str:
        v = row.get(f"steady_ratio_{key}")
        if v is None:
            return "—"
        rounds = row.get(f"steady_ratio_{key}_rounds", [])
        spread = f" [{min(rounds):.2f}–{max(rounds):.2f}]" if len(rounds) > 1 else ""
        return (f"{v:.2f}{spread}; wall {row[f'wall_ratio_{key}']:.2f} "
                f"({row[f'wall_ratio_{key}_incl_compile']:.2f})")
    return fmt


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The Markdown table: per row medians over rounds; ratios = median of the per-round ratios,
    [range], then the wall-time ratio and, in parentheses, with jax's compile time added."""
    view = [dict(r, workload_label=r.get("workload_label") or r["workload"],
                 keras_fmt=_ratio("keras")(r), torch_fmt=_ratio("torch")(r),
                 auroc_fmt=(f"{r['auroc_mean']:.2f} ± {r['auroc_std']:.2f} ("
                            + ", ".join(f"{a:.1f}" for a in r["auroc_runs"]) + ")") if r["auroc_runs"] else "—")
            for r in rows]
    cols = [
        ("workload", "workload_label", "{}"), ("method", "method", "{}"), ("framework", "framework", "{}"),
        ("M", "models", "{}"), ("rounds", "rounds", "{}"), ("steady img/s", "steady_images_per_second", "{:,.0f}"),
        ("s / model", "seconds_per_model", "{:.2f}"), ("compile s", "compile_seconds", "{:.1f}"),
        ("× Keras: steady [range]; wall (incl. compile)", "keras_fmt", "{}"),
        ("× PyTorch: steady [range]; wall (incl. compile)", "torch_fmt", "{}"),
        ("AUROC % mean ± std (per run)", "auroc_fmt", "{}"),
    ]
    return markdown_table(view, cols)


# --------------------------------------------------------------------------------------------------
# Command line


def _names(choices: Sequence[str], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        out = [f.strip() for f in text.split(",") if f.strip()]
        bad = [f for f in out if f not in choices]
        if bad or not out:
            raise argparse.ArgumentTypeError(f"{what} must be a comma list from {','.join(choices)}, got {text!r}")
        return out
    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from common import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=_names(tuple(WORKLOADS), "workloads"), default=["realistic", "setup"],
                        help="comma list from realistic,setup,paper (default: realistic,setup)")
    parser.add_argument("--methods", type=_names(METHODS, "methods"), default=list(METHODS),
                        help=f"comma list from {','.join(METHODS)} (default: all)")
    parser.add_argument("--frameworks", type=_names(FRAMEWORKS, "frameworks"), default=list(FRAMEWORKS),
                        help="comma list from jax,keras,torch (a missing extra is skipped with a note)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every framework (default 3)")
    parser.add_argument("--models", type=parse_int_list, default=None, help="override every workload's M values")
    parser.add_argument("--classes", type=parse_int_list, default=None, help="override every workload's classes")
    parser.add_argument("--n-train", type=int, default=None, help="override every workload's images per class")
    parser.add_argument("--n-test", type=int, default=None, help="override every workload's test subset")
    parser.add_argument("--epochs", type=int, default=None, help="override the realistic workload's method epochs")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="override the realistic workload's AE epochs")
    parser.add_argument("--seq-models", type=int, default=None, help="override the models per reference round")
    parser.add_argument("--model-axis", default="auto", help="ocnn_jax model axis: auto, vmap, map or a width")
    parser.add_argument("--cpu-devices", default="auto", metavar="N|auto",
                        help="expose N CPU devices to JAX ('auto': one per core); M runs are sharded over them "
                             "when M is divisible by N")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit every framework to N CPU threads (default: all cores); with 1, also 1 JAX device")
    parser.add_argument("--data-dir", default=default_data_dir(), help="folder with the MNIST IDX .gz files")
    parser.add_argument("--out", default=None, help="write the results as JSON to this path")
    parser.add_argument("--md", default=None, help="also write the table as Markdown to this path")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    if args.n_train is not None and args.n_train < BATCH_SIZE:
        parser.error(f"--n-train {args.n_train} is under the minibatch size {BATCH_SIZE}: not one training step "
                     f"per epoch; expected at least {BATCH_SIZE}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.threads == 1 and args.cpu_devices == "auto":
        args.cpu_devices = "1"  # one core: one device
    from ocnn_jax.engine import parse_cpu_devices  # jax reads XLA_FLAGS only at backend start

    try:
        parse_cpu_devices(args.cpu_devices)
    except ValueError as err:
        parser.error(str(err))
    return args


def workloads_from_args(args: argparse.Namespace) -> list[Workload]:
    """The selected workloads with the command line's overrides applied."""
    out = []
    for name in args.workloads:
        w = WORKLOADS[name]
        changes: dict[str, Any] = {}
        if args.models:
            changes["models"] = tuple(args.models)
        if args.classes:
            changes["classes"] = tuple(args.classes)
        if args.n_train:
            changes["n_train"] = args.n_train
        if args.n_test:
            changes["n_test"] = args.n_test
        if args.seq_models:
            changes["seq_models"] = args.seq_models
        if name == "realistic" and args.epochs:
            changes["epochs"] = args.epochs
        if name == "realistic" and args.pretrain_epochs:
            changes["pretrain_epochs"] = args.pretrain_epochs
        out.append(dataclasses.replace(w, **changes))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    if args.threads:
        limit_threads(args.threads)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", flush=True)

    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    workloads = workloads_from_args(args)
    notes: list[str] = []
    trainers: dict[tuple[str, str], Any] = {}
    benches: dict[tuple[str, str], Any] = {}
    compiled: dict[tuple[str, str], dict[int, Any]] = {}
    data: dict[str, dict[int, ClassData]] = {}
    for w in workloads:
        log(f"preparing data for {w.name}: classes {list(w.classes)}, n_train {w.n_train}, n_test {w.n_test}")
        data[w.name] = {cd.normal_class: cd for cd in prepare_classes(w.classes, args.data_dir, n_train=w.n_train,
                                                                        n_test=w.n_test)}
    mesh, n_dev = None, 1

    def mesh_for(m: int) -> Any:
        """The run mesh for M models: all devices where M divides over them, else None (one device)."""
        return mesh if (mesh is not None and m % n_dev == 0) else None

    if "jax" in args.frameworks:
        import jax  # after limit_threads: XLA reads XLA_FLAGS at start-up

        from jaxbench import MethodBench
        from ocnn_jax.engine import make_run_mesh, parse_cpu_devices, set_cpu_devices

        set_cpu_devices(parse_cpu_devices(args.cpu_devices))
        n_dev = jax.device_count()
        mesh = make_run_mesh() if n_dev > 1 else None
        notes.append(f"jax {jax.__version__}: model_axis={args.model_axis!r}, {n_dev} {jax.default_backend()} "
                     f"device(s); M divisible by {n_dev}: runs sharded over them")
        for w in workloads:
            hyper = hyper_for(w)
            cds = [data[w.name][c] for c in w.classes]
            for method in args.methods:
                benches[(w.name, method)] = MethodBench(method, cds, "mnist_lenet", jax_overrides(method, hyper),
                                                        args.model_axis)
                compiled[(w.name, method)] = {}
    for name in ("keras", "torch"):
        if name not in args.frameworks or not any(m in REFERENCE_METHODS[name] for m in args.methods):
            continue
        try:
            if name == "keras" and args.threads:
                import tensorflow as tf

                tf.config.threading.set_intra_op_parallelism_threads(args.threads)
                tf.config.threading.set_inter_op_parallelism_threads(args.threads)
            if name == "torch":
                import torch

                if args.threads:
                    torch.set_num_threads(args.threads)
                notes.append(f"torch {torch.__version__}: {torch.get_num_threads()} thread(s)")
            for w in workloads:
                trainers[(name, w.name)] = reference_trainer(name, hyper_for(w), args.methods)
        except ImportError as err:
            notes.append(f"{name}: skipped ({err}; install the '{name}' extra)")
            log(notes[-1])

    measurements: list[Measurement] = []
    warmed: set[str] = set()
    for rnd in range(args.rounds):
        for w in workloads:
            hyper = hyper_for(w)
            for fw in args.frameworks:
                if fw == "jax":
                    for method in args.methods:
                        for m in w.models:
                            measurements.append(measure_jax(benches[(w.name, method)], w, method, m, rnd,
                                                            compiled[(w.name, method)], mesh_for, log))
                elif (fw, w.name) in trainers:
                    train = trainers[(fw, w.name)]
                    if fw not in warmed:  # one untimed model: imports, first-touch allocations, thread pools
                        c0 = w.classes[0]
                        with Stopwatch() as sw:
                            train(data[w.name][c0], 10_000)
                        warmed.add(fw)
                        log(f"{fw}: warm-up model {sw.seconds:.1f} s")
                    measurements.extend(measure_reference(fw, train, data[w.name], hyper, w, args.methods, rnd, log))

    rows = build_rows(measurements, {w.name: workload_label(w) for w in workloads})
    table = format_table(rows)
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    elapsed = time.perf_counter() - t_start
    notes += [
        "steady img/s: jax = training images of the compiled program ÷ its execution seconds (compile apart); "
        "references = images of every epoch but each phase's first ÷ those epochs' seconds.",
        "s / model: wall seconds per model with per-model set-up (Keras's graph tracing, model building). "
        "Ratios: median over rounds of (this round's jax ÷ this round's reference), [min–max over rounds]; "
        "'wall' = reference s / model ÷ jax s / model, in parentheses with jax's compile time added.",
        f"threads: {args.threads or 'all cores'} ({os.cpu_count()} cores); load average at start "
        f"{load_start and round(load_start[0], 1)}, at end {load_end and round(load_end[0], 1)} "
        "(the machine is shared: a load above the core count means other jobs ran alongside).",
    ]
    command = "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        "## Throughput: ocnn_jax vs Keras vs PyTorch, every deep method", "", f"`{command}`", "",
        table, "", *[f"- {n}" for n in notes], "", f"Total benchmark time {elapsed:.0f} s.",
    ])
    print(text)
    payload = {
        "script": "throughput", "command": command, "args": vars(args),
        "workloads": [dataclasses.asdict(w) for w in workloads], "environment": environment(),
        "load_average_start": load_start, "load_average_end": load_end, "rows": rows,
        "measurements": [dict(dataclasses.asdict(x), steady_rate=x.steady_rate) for x in measurements],
        "notes": notes, "total_seconds": elapsed,
    }
    write_outputs(args.out, args.md, payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
