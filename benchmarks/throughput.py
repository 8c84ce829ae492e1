"""Training throughput of ocnn_jax against the Keras and PyTorch references, in one run on one machine.

The workload: one-class Deep SVDD on MNIST (AE pretraining, then the Deep SVDD phase), the same
preprocessed arrays for every framework (``benchmarks/common.py``), the same network, optimiser,
epochs and batch size. M models are the first M of the (seed, class) grid in seed-major order
(M = 10: every digit once; M = 100: ten digits × ten seeds). Frameworks:

* ``jax``: ocnn_jax's engine, all M runs as ONE compiled program (``run_program`` under
  ``run_map``: ``jax.vmap`` on GPU/TPU; on CPU ``model_axis="auto"`` maps one run at a time
  *inside* the program, because XLA-CPU runs a conv vmapped over per-run weights as a slow grouped
  conv). Compilation is timed separately (``jit(...).lower(...).compile()``); the training time is
  the median of ``--repeats`` executions of the compiled program.
  On CPU the cores are exposed as separate JAX devices (``--cpu-devices``, default one per core) and
  the M runs are sharded over them with ``shard_map``, as ``ocnn_jax.sweep`` does, so several runs
  train at once.
* ``jax_seq``: the same code compiled once for M = 1 and called once per model from Python. The ratio
  jax / jax_seq is the gain of putting the runs in one program; jax_seq / Keras and jax_seq / PyTorch
  compare the frameworks model for model.
* ``keras``: ``benchmarks/keras_reference.py``, one ``fit`` per phase and model (Python loops).
* ``torch``: ``benchmarks/torch_reference.py``, Ruff's training loop, one model after another.

Sequential frameworks (jax_seq, keras, torch) train K = ``--seq-models`` models after one untimed
warm-up model; their time for M models is **M × the median time per model** of those K (measured
when M ≤ K, i.e. those models were trained; *derived* beyond). Times cover training only: model
construction, AE pretraining, weight copy, the centre pass and the Deep SVDD phase. Test scoring is
not timed. Images·models/s counts the training images (full batches of both phases) of all M models.
AUROC (``sklearn``, anomaly = positive) is reported for every framework on the runs it trained, plus
a per-run comparison on the K runs that all frameworks trained.

Run ``python benchmarks/throughput.py --help``; ``--quick`` is a one-minute sanity run; the default
finishes in well under 15 minutes on a quiet 2-core CPU; ``--device`` suits a GPU machine.
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
    Stopwatch,
    add_common_args,
    environment,
    hyper_from_args,
    images_per_run,
    markdown_table,
    mean_std,
    median,
    parse_int_list,
    prepare_classes,
    write_outputs,
)

__all__ = ["FRAMEWORKS", "run_plan", "JaxDeepSVDD", "FrameworkTiming", "build_rows", "format_table",
           "auroc_comparison", "jax_seed_spread", "main"]

FRAMEWORKS = ("jax", "jax_seq", "keras", "torch")
SEQUENTIAL = ("jax_seq", "keras", "torch")


def run_plan(classes: Sequence[int], n_models: int) -> list[tuple[int, int]]:
    """The first ``n_models`` (class, seed) runs in seed-major order: seed 0 over all classes, then seed 1…"""
    if n_models < 1:
        raise ValueError(f"the number of models must be >= 1, got {n_models}")
    seeds = -(-n_models // len(classes))
    return [(c, s) for s in range(seeds) for c in classes][:n_models]


@dataclasses.dataclass
class FrameworkTiming:
    """What one framework measured.

    Attributes:
      framework: one of ``FRAMEWORKS``.
      per_model_seconds: sequential frameworks: training seconds of each measured model, in run order.
      program_seconds: jax: M -> the training seconds of each repeated execution of the M-run program.
      compile_seconds: jax: M -> compile seconds of that program; jax_seq: {1: compile seconds}.
      warmup_seconds: sequential frameworks: the untimed first model (one-time start-up costs).
      aurocs: M -> AUROC per run of the runs trained for M (sequential: keyed by K).
      note: why a framework was skipped, or what it ran on.
    """

    framework: str
    per_model_seconds: list[float] = dataclasses.field(default_factory=list)
    program_seconds: dict[int, list[float]] = dataclasses.field(default_factory=dict)
    compile_seconds: dict[int, float] = dataclasses.field(default_factory=dict)
    warmup_seconds: float | None = None
    aurocs: dict[int, list[float]] = dataclasses.field(default_factory=dict)
    note: str = ""
    skipped: bool = False


# --------------------------------------------------------------------------------------------------
# ocnn_jax


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


def bench_jax(jb: JaxDeepSVDD, classes: Sequence[int], models: Sequence[int], repeats: int,
              log: Callable[[str], None], max_repeat_seconds: float = 60.0) -> FrameworkTiming:
    """All M runs as one compiled program: compile once per M, execute ``repeats`` times (only once
    when an execution takes longer than ``max_repeat_seconds``: long runs need no repeats)."""
    import jax

    n_dev = jax.device_count()
    ft = FrameworkTiming("jax", note=f"model_axis={jb.model_axis!r}, {n_dev} {jax.default_backend()} device(s)"
                         + (f"; M divisible by {n_dev}: runs sharded over the devices (shard_map), "
                            f"M = 1: one device" if n_dev > 1 else ""))
    for m in models:
        runs = run_plan(classes, m)
        compiled, ct = jb.compile(m)
        ft.compile_seconds[m] = ct
        times: list[float] = []
        out = None
        for _ in range(repeats):
            out, t = jb.train(compiled, runs)
            times.append(t)
            if t > max_repeat_seconds:
                break
        ft.program_seconds[m] = times
        ft.aurocs[m] = jb.aurocs(out, runs)
        w = jb.width(m)
        log(f"jax M={m} (map width {'vmap' if w is None else w}): compile {ct:.1f} s, train "
            f"{', '.join(f'{t:.1f}' for t in times)} s, AUROC {100 * np.mean(ft.aurocs[m]):.2f}")
    return ft


def bench_jax_seq(jb: JaxDeepSVDD, plan: Sequence[tuple[int, int]], log: Callable[[str], None]) -> FrameworkTiming:
    """The M = 1 program compiled once and called once per model."""
    ft = FrameworkTiming("jax_seq")
    compiled, ct = jb.compile(1)  # shared with the jax M = 1 row when that ran first
    ft.compile_seconds[1] = ct
    _, ft.warmup_seconds = jb.train(compiled, plan[:1])
    aucs = []
    for run in plan:
        out, t = jb.train(compiled, [run])
        ft.per_model_seconds.append(t)
        aucs.extend(jb.aurocs(out, [run]))
    ft.aurocs[len(plan)] = aucs
    log(f"jax_seq: compile {ct:.1f} s, {len(plan)} models, median {median(ft.per_model_seconds):.2f} s/model, "
        f"AUROC {100 * np.mean(aucs):.2f}")
    return ft


# --------------------------------------------------------------------------------------------------
# References


def bench_reference(name: str, data: dict[int, ClassData], hyper: Hyper, plan: Sequence[tuple[int, int]],
                    log: Callable[[str], None], torch_device: str = "cpu") -> FrameworkTiming:
    """Train ``plan`` one model at a time with the Keras or PyTorch reference (after a warm-up model)."""
    ft = FrameworkTiming(name)
    try:
        if name == "keras":
            mod = importlib.import_module("keras_reference")

            def train(c: int, s: int):
                return mod.train_run(data[c], s, hyper, ("deep_svdd",))[0]
        else:
            mod = importlib.import_module("torch_reference")

            def train(c: int, s: int):
                return mod.train_deep_svdd(data[c], s, hyper, device=torch_device)[0]
    except ImportError as e:  # the optional extra is not installed
        ft.skipped, ft.note = True, f"skipped: {e} (install the '{name}' extra)"
        log(f"{name}: {ft.note}")
        return ft
    c0, s0 = plan[0]
    ft.warmup_seconds = train(c0, s0 + 10_000).total_seconds
    aucs = []
    for c, s in plan:
        rec = train(c, s)
        ft.per_model_seconds.append(rec.total_seconds)
        aucs.append(rec.auroc)
    ft.aurocs[len(plan)] = aucs
    if name == "torch":
        import torch

        ft.note = f"device={torch_device}, threads={torch.get_num_threads()}"
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        ft.note = f"TensorFlow {'GPU' if gpus else 'CPU'}, jit_compile=auto"
    log(f"{name}: warm-up {ft.warmup_seconds:.1f} s, {len(plan)} models, median "
        f"{median(ft.per_model_seconds):.2f} s/model, AUROC {100 * np.mean(aucs):.2f}")
    return ft


# --------------------------------------------------------------------------------------------------
# Table


def build_rows(timings: dict[str, FrameworkTiming], models: Sequence[int], image_count: Callable[[int], int]
               ) -> list[dict[str, Any]]:
    """One row per (framework, M): seconds, s/model, images·models/s, speed-up ratios and AUROC.

    ``image_count(M)``: training images of M models. Ratios are Keras (PyTorch) seconds / this
    framework's seconds for the same M: > 1 means faster than the reference. For jax the ratio
    excludes compilation; ``ratio_*_incl_compile`` adds the one compile of that M (jax) or of the
    M = 1 program (jax_seq).
    """
    seconds: dict[tuple[str, int], float] = {}
    rows: list[dict[str, Any]] = []
    for fw in FRAMEWORKS:
        ft = timings.get(fw)
        if ft is None or ft.skipped:
            continue
        for m in models:
            if fw == "jax":
                if m not in ft.program_seconds:
                    continue
                total, how = median(ft.program_seconds[m]), f"median of {len(ft.program_seconds[m])}"
                comp = ft.compile_seconds.get(m)
                auc = ft.aurocs.get(m, [])
            else:
                k = len(ft.per_model_seconds)
                if k == 0:
                    continue
                total = m * median(ft.per_model_seconds)
                how = f"{m} × median of {k} models" + ("" if m <= k else " (derived)")
                comp = ft.compile_seconds.get(1)
                auc = next(iter(ft.aurocs.values()), [])[:m]
            seconds[(fw, m)] = total
            a_mean, a_std = mean_std([100 * a for a in auc])
            rows.append({
                "framework": fw, "models": m, "how": how, "measured": fw == "jax" or m <= len(ft.per_model_seconds),
                "train_seconds": total, "compile_seconds": comp,
                "seconds_per_model": total / m, "images_models_per_second": image_count(m) / total,
                "auroc_mean": a_mean, "auroc_std": a_std, "auroc_runs": len(auc),
            })
    for row in rows:
        for ref in ("keras", "torch"):
            ref_s = seconds.get((ref, row["models"]))
            if ref_s is None:
                continue
            row[f"ratio_{ref}"] = ref_s / row["train_seconds"]
            if row["compile_seconds"] is not None:
                row[f"ratio_{ref}_incl_compile"] = ref_s / (row["train_seconds"] + row["compile_seconds"])
    return rows


def _ratio(key: str) -> Callable[[dict[str, Any]], str]:
    def fmt(row: dict[str, Any]) -> str:
        v, w = row.get(f"ratio_{key}"), row.get(f"ratio_{key}_incl_compile")
        if v is None:
            return "—"
        return f"{v:.2f}" + (f" ({w:.2f})" if w is not None else "")
    return fmt


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The Markdown throughput table (ratios: excl. compile, incl. compile in parentheses)."""
    view = [dict(r, ratio_keras_fmt=_ratio("keras")(r), ratio_torch_fmt=_ratio("torch")(r),
                 auroc_fmt=(f"{r['auroc_mean']:.2f} ± {r['auroc_std']:.2f} ({r['auroc_runs']})"
                            if r["auroc_runs"] else "—")) for r in rows]
    cols = [
        ("framework", "framework", "{}"), ("M", "models", "{}"), ("time = ", "how", "{}"),
        ("train s", "train_seconds", "{:.1f}"), ("compile s", "compile_seconds", "{:.1f}"),
        ("s / model", "seconds_per_model", "{:.3f}"), ("img·models / s", "images_models_per_second", "{:,.0f}"),
        ("× Keras", "ratio_keras_fmt", "{}"), ("× PyTorch", "ratio_torch_fmt", "{}"),
        ("AUROC % (runs)", "auroc_fmt", "{}"),
    ]
    return markdown_table(view, cols)


def auroc_comparison(timings: dict[str, FrameworkTiming], plan: Sequence[tuple[int, int]]) -> tuple[str, list[dict]]:
    """Per-run AUROC of every framework on the runs they all trained (the sequential plan)."""
    per_fw: dict[str, list[float]] = {}
    for fw, ft in timings.items():
        if ft.skipped:
            continue
        if fw == "jax":
            aucs = next((v for m, v in sorted(ft.aurocs.items()) if m >= len(plan)), None)
        else:
            aucs = next(iter(ft.aurocs.values()), None)
        if aucs is not None and len(aucs) >= len(plan):
            per_fw[fw] = [100 * a for a in aucs[: len(plan)]]
    rows = [{"class": c, "seed": s, **{fw: v[i] for fw, v in per_fw.items()}} for i, (c, s) in enumerate(plan)]
    means = {fw: float(np.mean(v)) for fw, v in per_fw.items()}
    rows.append({"class": "mean", "seed": "", **means})
    cols = [("class", "class", "{}"), ("seed", "seed", "{}")] + [(fw, fw, "{:.2f}") for fw in per_fw]
    text = markdown_table(rows, cols)
    spread = jax_seed_spread(timings.get("jax"), len(plan))
    if spread:
        text += "\n\n" + spread
    return text, rows


def jax_seed_spread(ft: FrameworkTiming | None, k: int) -> str:
    """How much the mean AUROC of k runs moves with the seeds alone: jax's largest M split into
    consecutive groups of k runs (each group = the same classes with other seeds)."""
    if ft is None or ft.skipped or not ft.aurocs or k < 1:
        return ""
    m = max(ft.aurocs)
    a = 100 * np.asarray(ft.aurocs[m][: (m // k) * k], np.float64)
    if a.size < 2 * k:
        return ""
    groups = a.reshape(-1, k).mean(axis=1)
    return (f"Seed spread for scale: jax's {a.size} runs (M = {m}) have AUROC {a.mean():.2f} ± {a.std():.2f}; "
            f"the means of its {len(groups)} consecutive groups of {k} runs (same classes, other seeds) range "
            f"{groups.min():.2f}–{groups.max():.2f}. Framework means inside that range differ by seed, not by "
            f"implementation.")


# --------------------------------------------------------------------------------------------------
# Command line


def _frameworks(text: str) -> list[str]:
    out = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in out if f not in FRAMEWORKS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"frameworks must be a list from {FRAMEWORKS}, got {text!r}")
    return out


def _model_axis(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=(
        "Defaults (CPU): classes 0-9, M = 1,10,100, the first 1000 training images per class, 2000 test "
        "images, 1 AE + 1 Deep SVDD epoch, 3 repeats of each jax program, 10 models per sequential "
        "framework. --quick: classes 0-1, M = 1,4, 400 images, 1 repeat, 2 sequential models. "
        "--device: M = 1,10,100,1000, vmapped model axis, all training images, full test set, "
        "3 sequential models."))
    add_common_args(parser, epochs=1, pretrain_epochs=1, n_train=1000, n_test=2000, seeds=False)  # runs: run_plan
    parser.set_defaults(classes=list(range(10)))
    parser.add_argument("--models", type=parse_int_list, default=None,
                        help="numbers of models M (default 1,10,100; --device 1,10,100,1000)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="executions of each jax program (default 3; a program whose execution "
                             "takes over --max-repeat-seconds runs once)")
    parser.add_argument("--max-repeat-seconds", type=float, default=60.0,
                        help="see --repeats (default: %(default)s)")
    parser.add_argument("--seq-models", type=int, default=None,
                        help="models K trained by each sequential framework; larger M are derived as "
                             "M × the median time per model (default 10; --device 3)")
    parser.add_argument("--frameworks", type=_frameworks, default=list(FRAMEWORKS),
                        help=f"comma list from {','.join(FRAMEWORKS)} (missing ones are skipped with a note)")
    parser.add_argument("--model-axis", type=_model_axis, default=None,
                        help="ocnn_jax model axis: auto, vmap, map or a group width (default: auto; --device vmap)")
    parser.add_argument("--cpu-devices", default=None, metavar="N|auto",
                        help="expose N CPU devices to JAX ('auto': one per core; ocnn_jax.set_cpu_devices); the "
                             "jax rows then shard their M runs over them (M divisible by N; otherwise one "
                             "device). Default: auto on CPU, 1 with --device")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit every framework to N CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="tiny sanity configuration (~1 minute)")
    parser.add_argument("--device", action="store_true", help="GPU-friendly settings (see below)")
    parser.add_argument("--md", default=None, help="also write the tables as Markdown to this path")
    args = parser.parse_args(argv)
    given = {a for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--")}
    given = {g.split("=")[0] for g in given}

    def default(flag: str, attr: str, value: Any) -> None:
        if flag not in given:
            setattr(args, attr, value)

    if args.quick:
        default("--classes", "classes", [0, 1])
        default("--models", "models", [1, 4])
        default("--n-train", "n_train", 400)
        default("--n-test", "n_test", 500)
        default("--repeats", "repeats", 1)
        default("--seq-models", "seq_models", 2)
    if args.device:
        default("--models", "models", [1, 10, 100, 1000])
        default("--n-train", "n_train", None)
        default("--n-test", "n_test", None)
        default("--seq-models", "seq_models", 3)
        default("--model-axis", "model_axis", "vmap")
    if args.models is None:
        args.models = [1, 10, 100]
    if args.repeats is None:
        args.repeats = 3
    if args.seq_models is None:
        args.seq_models = 10
    if args.model_axis is None:
        args.model_axis = "auto"
    if args.cpu_devices is None:
        args.cpu_devices = "1" if args.device else "auto"
    from ocnn_jax.engine import parse_cpu_devices  # imports jax, which reads XLA_FLAGS only at backend start

    try:
        parse_cpu_devices(args.cpu_devices)
    except ValueError as err:
        parser.error(str(err))
    return args


def _limit_threads(n: int) -> None:
    """Restrict XLA, TensorFlow and PyTorch to n threads (must run before jax is imported)."""
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
                               f" intra_op_parallelism_threads={n}").strip()
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(n)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(n)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    if args.threads:
        _limit_threads(args.threads)
    if args.device:  # JAX, TensorFlow and PyTorch may share the GPU: no framework grabs it all
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", flush=True)

    hyper = hyper_from_args(args)
    models = sorted(set(args.models))
    classes = list(args.classes)
    seq_plan = run_plan(classes, min(args.seq_models, max(models)))
    needed = sorted({c for c, _ in run_plan(classes, max(models))})
    log(f"preparing data: classes {needed}, n_train {args.n_train}, n_test {args.n_test}")
    prepared = prepare_classes(needed, args.data_dir, n_train=args.n_train, n_test=args.n_test)
    data = {cd.normal_class: cd for cd in prepared}
    n_per_class = {c: len(cd.x_train) for c, cd in data.items()}

    def image_count(m: int) -> int:
        return sum(images_per_run(n_per_class[c], hyper) for c, _ in run_plan(classes, m))

    timings: dict[str, FrameworkTiming] = {}
    jb = None
    if "jax" in args.frameworks or "jax_seq" in args.frameworks:
        import jax  # after _limit_threads: XLA reads XLA_FLAGS at start-up

        from ocnn_jax.engine import parse_cpu_devices, set_cpu_devices

        set_cpu_devices(parse_cpu_devices(args.cpu_devices))
        jb = JaxDeepSVDD(prepared, hyper, args.model_axis)
        log(f"jax {jax.__version__} on {jax.default_backend()} ({jax.device_count()} x {jax.devices()[0].device_kind})")
    if "jax" in args.frameworks:
        timings["jax"] = bench_jax(jb, classes, models, args.repeats, log, args.max_repeat_seconds)
    if "jax_seq" in args.frameworks:
        timings["jax_seq"] = bench_jax_seq(jb, seq_plan, log)
    torch_device = "cpu"
    for name in ("keras", "torch"):
        if name not in args.frameworks:
            continue
        if name == "keras" and args.threads:
            try:
                import tensorflow as tf

                tf.config.threading.set_intra_op_parallelism_threads(args.threads)
                tf.config.threading.set_inter_op_parallelism_threads(args.threads)
            except ImportError:
                pass
        if name == "torch":
            try:
                import torch

                if args.threads:
                    torch.set_num_threads(args.threads)
                if args.device and torch.cuda.is_available():
                    torch_device = "cuda"
            except ImportError:
                pass
        timings[name] = bench_reference(name, data, hyper, seq_plan, log, torch_device)

    rows = build_rows(timings, models, image_count)
    table = format_table(rows)
    auc_table, auc_rows = auroc_comparison(timings, seq_plan)
    notes = [
        f"Workload per model: AE pretraining {hyper.pretrain.epochs} epoch(s) + Deep SVDD {hyper.svdd.epochs} "
        f"epoch(s), batch {hyper.svdd.batch_size} (last partial batch dropped), "
        f"{args.n_train or 'all'} training images per class, AUROC on {args.n_test or 10000} test images.",
        "train s: jax = median of the repeated executions of the compiled M-run program (compile s apart); "
        "sequential frameworks = M × the median training time per model over the K models they trained "
        "(measured for M ≤ K, derived beyond). Keras times include its per-model graph tracing; "
        "jax_seq's compile s is the one compile of the M = 1 program.",
        "× Keras / × PyTorch: reference seconds ÷ this row's seconds for the same M (> 1 = faster); "
        "in parentheses with this row's compile time added.",
    ]
    notes += [f"{fw}: {ft.note}" for fw, ft in timings.items() if ft.note]
    elapsed = time.perf_counter() - t_start
    text = "\n".join([
        "## Throughput: MNIST one-class Deep SVDD" + (" (--quick sanity run)" if args.quick else ""), "",
        table, "", *[f"- {n}" for n in notes], "",
        f"## AUROC % per run on the {len(seq_plan)} runs every framework trained", "", auc_table, "",
        f"Total benchmark time {elapsed:.0f} s.",
    ])
    print(text)
    payload = {
        "script": "throughput", "quick": args.quick, "device_mode": args.device,
        "args": {k: v for k, v in vars(args).items()}, "hyper": hyper.as_dict(), "environment": environment(),
        "models": models, "sequential_plan": seq_plan, "rows": rows, "auroc_per_run": auc_rows,
        "timings": {k: dataclasses.asdict(v) for k, v in timings.items()}, "notes": notes,
        "total_seconds": elapsed,
    }
    write_outputs(args.out, args.md, payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
