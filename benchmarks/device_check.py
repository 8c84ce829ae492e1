"""Accelerator check in one unattended call: equivalence, throughput vs M, precision options, and as much
of the full MNIST reproduction as the time budget leaves. Writes JSON + Markdown (+ figures).

Run from the repository root on the machine under test (no network needed)::

    PYTHONPATH=. python benchmarks/device_check.py                 # writes into $OUT (else --out)
    PYTHONPATH=. python benchmarks/device_check.py --tiny --out /tmp/dc   # CPU smoke run (CI)

Sections, each within its share of ``--budget`` seconds (a section that would overrun is cut short and
says so; results are written after every section, so a killed run keeps what it finished):

1. **equivalence**: every deep method, M = 3 runs as one vmapped program vs the same runs compiled one
   at a time, float32 matmul precision; largest differences of the trained variables and of the test
   scores' AUROC. Where pytest is installed, also the vmap/lax.map equivalence tests of
   ``tests/test_training.py`` on this backend.
2. **throughput**: Deep SVDD, OC-NN and RCAE at M = 1, 10, 100, 1000 (the first M (class, seed) runs,
   seed-major), vmapped model axis, JAX's default precision. Per M: compile s, first execution
   (includes autotuning), steady execution (the second), images·models/s, speed-up over M = 1,
   achieved TFLOP/s (FLOPs counted from the traced program, ``jaxbench.jaxpr_flops``) against the
   chip's peak, XLA's memory estimate and the device's peak bytes in use.
3. **precision**: the same Deep SVDD program at float32, TF32 and bf16 matmul/conv precision
   (``jax.default_matmul_precision``): steady seconds and the AUROC of the first runs, per run against
   float32.
4. **reproduction**: the paper-length MNIST tables through ``benchmarks/reproduce.py --full`` (the same
   sweeps, protocol, preprocessing and result files as the CPU runs): per method, in ``--repro-methods``
   order (one-class Deep SVDD first: its table is the target), one sweep of every class × ``--seeds``
   seeds, until the budget is spent. A method projected (from the throughput section's rate) to overrun
   runs its first classes only; one still running at the deadline is interrupted, writes its checkpoint
   and resumes with the command in the report. ``OUT/reproduce/results.md`` puts the finished methods
   beside the published numbers. ``--repro-settings`` is ``reproduce.py``'s ``--settings`` (e.g.
   ``dictionary``: the published settings with the dictionary-initialised first AE conv).

5. **keras_original** (only when named in ``--sections``): the original repository's procedure at its
   full epoch counts on MNIST digit 0 (``keras_original_compare.py --full``: ocnn_jax's ``keras_compat``
   and, where Keras is importable, the Keras port), ``--ko-seeds`` seeds (default the repository's ten),
   as concurrent processes (``KERAS_ORIGINAL_JOBS``); at the deadline the unfinished ones are
   interrupted. Their runs are merged into ``OUT/keras_original/keras_original_mnist_full.{json,md}``.
   Keras uses ``$KERAS_BACKEND``, else TensorFlow where installed, else its JAX backend.
   ``--ko-rcae-epochs 250 --ko-jobs keras:dcae:2,jax:dcae:2`` runs the notebooks' ten-seed "DCAE"/"RCAE"
   procedure instead (one 250-epoch stage from a fresh AE per seed).

``--sections`` runs a subset (e.g. ``--sections equivalence,throughput,reproduction``).

Data: MNIST from ``--data-dir`` / ``$OCNN_JAX_DATA_DIR`` (or its ``mnist/``) / ``data/mnist`` / ``out/mnist``;
without it the throughput uses synthetic MNIST-shaped data (timings do not depend on pixels) and the
AUROC-dependent sections say so. To bring MNIST to a machine without network, copy the four IDX ``.gz``
files into an ignored folder of the checkout (e.g. ``out/mnist``) and pass ``--data-dir out/mnist``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from common import REPO_ROOT, REPRODUCE_SETTINGS, environment, markdown_table, mean_std, write_json  # noqa: E402

__all__ = ["PEAK_TFLOPS", "peak_tflops", "parse_args", "main", "Budget"]

#: Dense peak TFLOP/s per chip by matmul precision (vendor data sheets, SXM parts, no sparsity).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"float32": 67.0, "tensorfloat32": 494.7, "bfloat16": 989.4},
    "H100": {"float32": 67.0, "tensorfloat32": 494.7, "bfloat16": 989.4},
    "A100": {"float32": 19.5, "tensorfloat32": 156.0, "bfloat16": 312.0},
    "L4": {"float32": 30.3, "tensorfloat32": 60.0, "bfloat16": 121.0},
}

#: JAX's default precision per platform, in the keys of PEAK_TFLOPS (GPU: f32 dots/convs run as TF32).
DEFAULT_PRECISION = {"gpu": "tensorfloat32", "cuda": "tensorfloat32", "tpu": "bfloat16", "cpu": "float32"}

#: Precision options: label -> values of jax.default_matmul_precision to try in order (the dot
#: algorithm presets first; the legacy names where a backend refuses a preset).
PRECISIONS: dict[str, tuple[str, ...]] = {
    "float32": ("F32_F32_F32", "float32"),
    "tensorfloat32": ("TF32_TF32_F32", "tensorfloat32"),
    "bfloat16": ("BF16_BF16_F32", "bfloat16"),
}

#: Throughput workload per method (short: a few epochs on every training image of the class).
THROUGHPUT_OVERRIDES: dict[str, dict[str, Any]] = {
    "deep_svdd": {"pretrain_epochs": 2, "epochs": 2},
    "soft_boundary": {"pretrain_epochs": 2, "epochs": 2, "warmup_epochs": 1},
    "ocnn": {"pretrain_epochs": 2, "epochs": 10},
    "rcae": {"outer_iterations": 2, "epochs_per_iteration": 1},
    "dcae": {"epochs": 2},
}

#: Equivalence workload: tiny, so that a difference is a difference of computation, not of chaos.
EQUIV_OVERRIDES: dict[str, dict[str, Any]] = {
    "deep_svdd": {"pretrain_epochs": 1, "epochs": 2, "batch_size": 50, "pretrain_batch_size": 50},
    "soft_boundary": {"pretrain_epochs": 1, "epochs": 2, "warmup_epochs": 1, "batch_size": 50, "pretrain_batch_size": 50},
    "ocnn": {"pretrain_epochs": 1, "epochs": 3, "batch_size": 50, "pretrain_batch_size": 50},
    "rcae": {"outer_iterations": 2, "epochs_per_iteration": 1, "batch_size": 50},
    "dcae": {"epochs": 2, "batch_size": 50},
}

#: The sections, in the order they run.
SECTION_NAMES = ("equivalence", "throughput", "precision", "reproduction", "keras_original")

#: The sections run when ``--sections`` is not given (keras_original is asked for by name).
DEFAULT_SECTIONS = ("equivalence", "throughput", "precision", "reproduction")

#: The original repository's procedure (``keras_original_compare.py``) as concurrent processes:
#: (framework, methods, processes); ``--ko-jobs`` replaces it. Each entry's seeds are dealt round-robin
#: over its processes, so every process starts with one of the first seeds. Few processes: they share
#: one accelerator, and each is slower the more there are.
KERAS_ORIGINAL_JOBS: tuple[tuple[str, str, int], ...] = (
    ("jax", "rcae", 1), ("keras", "rcae", 1), ("jax", "ocnn,deep_svdd", 1), ("keras", "ocnn,deep_svdd", 1))

#: The Keras port's ``steps_per_execution`` in the keras_original section (``--ko-steps-per-execution``):
#: the same updates as one step per call (tested), with fewer host round-trips per step on the device.
KERAS_STEPS_PER_EXECUTION = 32

TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "deep_svdd": {"pretrain_epochs": 1, "epochs": 1, "batch_size": 16, "pretrain_batch_size": 16},
    "soft_boundary": {"pretrain_epochs": 1, "epochs": 1, "warmup_epochs": 1, "batch_size": 16, "pretrain_batch_size": 16},
    "ocnn": {"epochs": 2, "batch_size": 16, "landmarks": 16},  # K landmarks <= images per class
    "rcae": {"outer_iterations": 1, "epochs_per_iteration": 1, "batch_size": 16},
    "dcae": {"epochs": 1, "batch_size": 16},
}


def peak_tflops(device_kind: str, precision: str) -> float | None:
    """The chip's dense peak for ``precision`` ("float32", "tensorfloat32", "bfloat16"), or None."""
    kind = device_kind.upper()
    for name, peaks in PEAK_TFLOPS.items():
        if name in kind:
            return peaks.get(precision)
    return None


class Budget:
    """Wall-clock budget: ``left()`` seconds remain of ``total`` since construction."""

    def __init__(self, total: float) -> None:
        self.total = float(total)
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.total - self.elapsed()


# --------------------------------------------------------------------------------------------------
# Command line


def _positive_int(text: str) -> int:
    from keras_original_compare import positive_int

    return positive_int(text)


def _ints(text: str) -> list[int]:
    from common import parse_int_list

    return parse_int_list(text)


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _jobs(text: str) -> list[tuple[str, str, int]]:
    """``--ko-jobs``: comma-separated ``framework:methods:processes``, methods joined by "+"
    (e.g. ``jax:rcae:2,keras:ocnn+deep_svdd:1``); the methods are ``keras_original_compare.METHODS``."""
    from keras_original_compare import METHODS

    jobs = []
    for item in _names(text):
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in ("jax", "keras") or not parts[2].isdigit() or int(parts[2]) < 1:
            raise argparse.ArgumentTypeError(f"{item!r}: expected framework:methods:processes, e.g. jax:rcae:2 "
                                             "(framework jax or keras, methods joined by +, processes >= 1)")
        methods = [m for m in parts[1].split("+") if m]
        bad = [m for m in methods if m not in METHODS]
        if bad or not methods:
            raise argparse.ArgumentTypeError(f"{item!r}: unknown methods {bad or parts[1]!r}; expected "
                                             f"{', '.join(METHODS)} joined by +")
        jobs.append((parts[0], ",".join(methods), int(parts[2])))
    return jobs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="output folder (default: $OUT, else out/device_check)")
    p.add_argument("--budget", type=float, default=None,
                   help="total seconds for all sections (default 420; --tiny 120)")
    p.add_argument("--data-dir", default=None, help="folder of the MNIST IDX .gz files")
    p.add_argument("--models", type=_ints, default=None, help="throughput M values (default 1,10,100,1000)")
    p.add_argument("--methods", type=_names, default=None, help="throughput methods (default deep_svdd,ocnn,rcae)")
    p.add_argument("--equiv-methods", type=_names, default=None,
                   help="equivalence methods (default: all five deep methods)")
    p.add_argument("--precisions", type=_names, default=None,
                   help=f"precision options from {','.join(PRECISIONS)} (default: all)")
    p.add_argument("--precision-models", type=int, default=None, help="M of the precision runs (default 100)")
    p.add_argument("--repro-methods", type=_names, default=None,
                   help="reproduction methods, in order (default deep_svdd,soft_boundary,dcae,rcae,ocnn)")
    p.add_argument("--repro-settings", choices=REPRODUCE_SETTINGS, default="published",
                   help="reproduce.py --settings of the reproduction sweeps (default published)")
    p.add_argument("--sections", type=_names, default=None,
                   help=f"sections to run, from {','.join(SECTION_NAMES)} (default: {','.join(DEFAULT_SECTIONS)})")
    p.add_argument("--seeds", type=int, default=None, help="reproduction seeds per class (default 10)")
    p.add_argument("--ko-seeds", type=_ints, default=None,
                   help="keras_original data seeds (default: the repository's ten)")
    p.add_argument("--ko-class", type=int, default=0, help="keras_original normal class (default 0)")
    p.add_argument("--ko-jobs", type=_jobs, default=None,
                   help="keras_original processes: framework:methods:processes, comma-separated, methods joined "
                   "by + (default jax:rcae:1,keras:rcae:1,jax:ocnn+deep_svdd:1,keras:ocnn+deep_svdd:1)")
    p.add_argument("--ko-rcae-epochs", type=_positive_int, default=None,
                   help="keras_original epochs per λ stage (default: the repository's 150; 250 with the dcae job "
                   "is the notebooks' ten-seed DCAE/RCAE procedure)")
    p.add_argument("--ko-steps-per-execution", type=_positive_int, default=KERAS_STEPS_PER_EXECUTION,
                   help=f"the Keras port's steps_per_execution (default {KERAS_STEPS_PER_EXECUTION}; 1 = Keras's default)")
    p.add_argument("--n-train", type=int, default=None,
                   help="training images per class for equivalence/throughput/precision (default: all)")
    p.add_argument("--n-test", type=int, default=None, help="test images (default: all 10 000)")
    p.add_argument("--backbone", default=None, help="mnist_lenet (default) or mlp")
    p.add_argument("--no-pytest", action="store_true", help="skip the pytest equivalence tests")
    p.add_argument("--no-figures", action="store_true", help="skip the matplotlib figures")
    p.add_argument("--tiny", action="store_true",
                   help="CPU smoke run: MLP backbone, synthetic data, OC-NN only, M = 1,2, a few steps")
    args = p.parse_args(argv)
    tiny = args.tiny

    def default(attr: str, normal: Any, small: Any) -> None:
        if getattr(args, attr) is None:
            setattr(args, attr, small if tiny else normal)

    default("budget", 420.0, 120.0)
    default("models", [1, 10, 100, 1000], [1, 2])
    default("methods", ["deep_svdd", "ocnn", "rcae"], ["ocnn"])
    default("equiv_methods", ["deep_svdd", "rcae", "ocnn", "soft_boundary", "dcae"], ["ocnn"])
    default("precisions", list(PRECISIONS), ["bfloat16"])
    default("precision_models", 100, 2)
    default("repro_methods", ["deep_svdd", "soft_boundary", "dcae", "rcae", "ocnn"], ["ocnn"])
    default("sections", list(DEFAULT_SECTIONS), list(DEFAULT_SECTIONS))
    default("seeds", 10, 2)
    default("n_train", None, 48)
    default("n_test", None, 60)
    default("backbone", "mnist_lenet", "mlp")
    if tiny:
        args.no_pytest = True
    if args.out is None:
        args.out = os.environ.get("OUT") or str(REPO_ROOT / "out" / "device_check")
    for name in [*args.methods, *args.equiv_methods, *args.repro_methods]:
        if name not in THROUGHPUT_OVERRIDES:
            p.error(f"unknown deep method {name!r}; expected one of {sorted(THROUGHPUT_OVERRIDES)}")
    bad = [x for x in args.sections if x not in SECTION_NAMES]
    if bad:
        p.error(f"--sections: unknown {bad}; expected from {list(SECTION_NAMES)}")
    bad = [x for x in args.precisions if x not in PRECISIONS]
    if bad:
        p.error(f"--precisions: unknown {bad}; expected from {list(PRECISIONS)}")
    if args.budget <= 0:
        p.error(f"--budget must be positive, got {args.budget}")
    return args


# --------------------------------------------------------------------------------------------------
# Data


def load_classes(args: argparse.Namespace, classes: Sequence[int], n_train: int | None, log: Callable[[str], None]):
    """(ClassData list, source): MNIST where found, else synthetic MNIST-shaped data."""
    from common import prepare_classes
    from jaxbench import synthetic_classes

    d = None if args.tiny else _mnist_dir(args)
    if d is not None:
        try:
            return prepare_classes(classes, d, n_train=n_train, n_test=args.n_test), f"mnist ({d})"
        except Exception as err:  # noqa: BLE001
            log(f"MNIST at {d} unusable: {err}")
    return synthetic_classes(classes, n_train or 6000, args.n_test or 10000), "synthetic"


# --------------------------------------------------------------------------------------------------
# Sections


class Context:
    """Shared state of one device check: budget, log, benches (cached per method/config/classes)."""

    def __init__(self, args: argparse.Namespace, budget: Budget) -> None:
        self.args = args
        self.budget = budget
        self.benches: dict[Any, Any] = {}
        self.compiled: dict[Any, Any] = {}
        self.data_cache: dict[Any, Any] = {}
        self.data_source = "not loaded"
        self.sections: dict[str, Any] = {}  # the finished sections' results (the reproduction reads throughput's)

    def log(self, msg: str) -> None:
        print(f"[{self.budget.elapsed():6.1f} s] {msg}", flush=True)

    def classes(self, ids: Sequence[int], n_train: int | None):
        key = (tuple(ids), n_train)
        if key not in self.data_cache:
            self.data_cache[key], self.data_source = load_classes(self.args, ids, n_train, self.log)
        return self.data_cache[key]

    def bench(self, method: str, overrides: dict[str, Any], ids: Sequence[int], n_train: int | None):
        from jaxbench import MethodBench

        key = (method, tuple(sorted(overrides.items())), tuple(ids), n_train)
        if key not in self.benches:
            self.benches[key] = MethodBench(method, self.classes(ids, n_train), self.args.backbone, overrides, "vmap")
        return self.benches[key]

    def compile(self, bench: Any, n_models: int, precision: str | None = None, count_flops: bool = True):
        key = (id(bench), n_models, precision)
        if key not in self.compiled:
            self.compiled[key] = bench.compile(n_models, precision=precision, count_flops=count_flops)
        c = self.compiled[key]
        if count_flops and not math.isfinite(c.flops):  # compiled earlier without counting
            c.flops = bench.count_flops(n_models)
        return c

    def overrides(self, method: str, table: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return dict(TINY_OVERRIDES[method] if self.args.tiny else table[method])


def run_plan(classes: Sequence[int], n_models: int) -> list[tuple[int, int]]:
    """The first ``n_models`` (class, seed) runs, seed-major."""
    seeds = -(-n_models // len(classes))
    return [(c, s) for s in range(seeds) for c in classes][:n_models]


def _max_diff(a: Any, b: Any, rtol: float = 2e-3, atol: float = 2e-3) -> tuple[float, float, bool]:
    """(max |a − b|, max |a − b| / (|b| + 1e-6), every leaf allclose(rtol, atol)) over all leaves;
    a NaN or inf anywhere counts as infinitely different."""
    import jax

    abs_d, rel_d, close = 0.0, 0.0, True
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x.size == 0:
            continue
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            return float("inf"), float("inf"), False
        d = np.abs(x - y)
        abs_d = max(abs_d, float(d.max()))
        rel_d = max(rel_d, float((d / (np.abs(y) + 1e-6)).max()))
        close = close and bool(np.allclose(x, y, rtol=rtol, atol=atol))
    return abs_d, rel_d, close


def section_equivalence(ctx: Context, share: float) -> dict[str, Any]:
    """Every deep method: M = 3 vmapped runs vs each run compiled alone, float32 precision."""
    import jax

    args = ctx.args
    end = ctx.budget.elapsed() + share
    rows, notes = [], []
    ids = [0, 1]
    runs = [(0, 0), (1, 1), (0, 2)] if not args.tiny else [(0, 0), (1, 1)]
    n_train = args.n_train if args.tiny else min(args.n_train or 600, 600)
    for method in args.equiv_methods:
        if ctx.budget.elapsed() > end:
            notes.append(f"{method}: not run (section budget of {share:.0f} s spent)")
            continue
        try:
            bench = ctx.bench(method, ctx.overrides(method, EQUIV_OVERRIDES), ids, n_train)
            prec = None if args.tiny else "highest"
            many = ctx.compile(bench, len(runs), prec, count_flops=False)
            one = ctx.compile(bench, 1, prec, count_flops=False)
            out_many, s_many = bench.train(many, runs)
            worst_abs, worst_rel, auc_diff, ok = 0.0, 0.0, 0.0, True
            auc_many = bench.aurocs(out_many, runs)
            for i, r in enumerate(runs):
                out_one, _ = bench.train(one, [r])
                a, rel, close = _max_diff(jax.tree.map(lambda v: v[i], out_many), jax.tree.map(lambda v: v[0], out_one))
                worst_abs, worst_rel, ok = max(worst_abs, a), max(worst_rel, rel), ok and close
                auc_diff = max(auc_diff, abs(bench.aurocs(out_one, [r])[0] - auc_many[i]))
            rows.append({"method": method, "runs": len(runs), "max_abs_diff": worst_abs, "max_rel_diff": worst_rel,
                         "max_auroc_diff": auc_diff, "pass": bool(ok and auc_diff <= 1e-3)})
            ctx.log(f"equivalence {method}: max |Δ| {worst_abs:.2e}, max rel {worst_rel:.2e}, max ΔAUROC {auc_diff:.2e}")
        except Exception as err:  # noqa: BLE001
            rows.append({"method": method, "error": f"{type(err).__name__}: {err}"[:500]})
            ctx.log(f"equivalence {method} FAILED: {err}")
            traceback.print_exc()
    pytest_result = None
    if not args.no_pytest:
        pytest_result = run_pytest(ctx, max(0.0, end - ctx.budget.elapsed()))
    return {"rows": rows, "notes": notes, "pytest": pytest_result,
            "precision": "float32 ('highest')" if not args.tiny else "default",
            "criterion": "pass: trained variables equal to rtol 2e-3 / atol 2e-3 and test AUROC to 1e-3"}


def _child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child Python process run from the repository root: the repository
    first on PYTHONPATH (so ``ocnn_jax`` imports uninstalled), plus ``extra``."""
    path = str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=path, **extra)


def run_pytest(ctx: Context, seconds: float) -> dict[str, Any] | None:
    """The vmap / lax.map equivalence tests of tests/test_training.py on this backend, if pytest exists."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        return {"skipped": "pytest is not installed here"}
    if seconds < 30:
        return {"skipped": f"only {seconds:.0f} s left in the section"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
           "tests/test_training.py", "-k", "vmapped or lax_map or same_key"]
    # float32 matmuls: the tests' tolerances are for vmap vs sequential, not for TF32 (GPU default)
    env = _child_env(JAX_DEFAULT_MATMUL_PRECISION="float32")
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=seconds)
        tail = (proc.stdout + proc.stderr)[-1500:]
        ctx.log(f"pytest equivalence tests: rc {proc.returncode}")
        return {"command": " ".join(cmd), "returncode": proc.returncode, "output_tail": tail}
    except subprocess.TimeoutExpired:
        return {"command": " ".join(cmd), "timeout_seconds": seconds}


def section_throughput(ctx: Context, share: float) -> dict[str, Any]:
    """Throughput vs M for each method, vmapped model axis, default precision."""
    import jax

    args = ctx.args
    end = ctx.budget.elapsed() + share
    ids = list(range(10)) if not args.tiny else [0, 1]
    kind = jax.devices()[0].device_kind
    prec = DEFAULT_PRECISION.get(jax.default_backend(), "float32")
    peak = peak_tflops(kind, prec)
    rows, notes = [], []
    methods = list(args.methods)
    for mi, method in enumerate(methods):
        m_end = ctx.budget.elapsed() + (end - ctx.budget.elapsed()) / (len(methods) - mi)
        try:
            bench = ctx.bench(method, ctx.overrides(method, THROUGHPUT_OVERRIDES), ids, args.n_train)
        except Exception as err:  # noqa: BLE001
            rows.append({"method": method, "error": f"{type(err).__name__}: {err}"[:500]})
            continue
        base = None
        last = None  # (M, compile s, first execution s) of the last measured M
        ms = sorted(args.models)
        order = ms[:1] + ms[:0:-1]  # M = 1 first (the speed-up's base), then the largest M down
        for m in order:
            left = m_end - ctx.budget.elapsed()
            if last is not None:
                # compile (≈ independent of M) + one execution: linear in M from a saturated M > 1; from
                # M = 1 (launch-bound on an accelerator) assume the vmapped axis gains at least 10×
                est = last[1] + last[2] * (m / last[0]) * (0.1 if last[0] == 1 else 1.0)
                if est > left:
                    notes.append(f"{method} M = {m}: skipped (≈ {est:.0f} s projected, {max(left, 0):.0f} s "
                                 "left of its share)")
                    continue
            runs = run_plan(ids, m)
            try:
                c = ctx.compile(bench, m)
                out, first = bench.train(c, runs)
                steady, repeated = first, False
                if ctx.budget.elapsed() + first < m_end:
                    out, steady = bench.train(c, runs)
                    repeated = True
                aucs = bench.aurocs(out, runs, limit=min(m, 10))
            except Exception as err:  # noqa: BLE001
                msg = f"{type(err).__name__}: {err}"
                rows.append({"method": method, "models": m, "error": msg[:500]})
                ctx.log(f"throughput {method} M = {m} FAILED: {msg[:300]}")
                continue
            last = (m, c.compile_seconds, first)
            images = bench.images(runs)
            rate = images / steady
            base = rate if m == 1 else base
            tflops = c.flops / steady / 1e12 if math.isfinite(c.flops) else None
            a_mean, a_std = mean_std([100 * a for a in aucs])
            row = {"method": method, "models": m, "compile_seconds": c.compile_seconds, "first_seconds": first,
                   "steady_seconds": steady, "images": images, "images_models_per_second": rate,
                   "speedup_vs_one": rate / base if base else None, "flops": c.flops, "tflops": tflops,
                   "peak_tflops": peak, "fraction_of_peak": (tflops / peak) if (tflops and peak) else None,
                   "xla_memory": c.memory, "device_memory": _device_memory(), "auroc_mean": a_mean,
                   "auroc_std": a_std, "auroc_runs": len(aucs), "steady_is_second_execution": repeated}
            rows.append(row)
            ctx.log(f"throughput {method} M = {m}: compile {c.compile_seconds:.1f} s, first {first:.2f} s, "
                    f"steady {steady:.2f} s, {rate:,.0f} img·models/s, "
                    f"{tflops if tflops is not None else float('nan'):.2f} TFLOP/s")
            del out
    rows.sort(key=lambda r: (methods.index(r["method"]), r.get("models", 0)))
    return {"rows": rows, "notes": notes, "device_kind": kind, "precision": prec, "peak_tflops": peak,
            "workload": {m: ctx.overrides(m, THROUGHPUT_OVERRIDES) for m in methods},
            "classes": ids, "n_train": args.n_train}


def _device_memory() -> dict[str, int] | None:
    from jaxbench import device_memory

    return device_memory()


def section_precision(ctx: Context, share: float) -> dict[str, Any]:
    """Deep SVDD at float32 / TF32 / bf16: steady seconds and AUROC vs float32."""
    import jax

    args = ctx.args
    end = ctx.budget.elapsed() + share
    method = "ocnn" if args.tiny else "deep_svdd"
    ids = list(range(10)) if not args.tiny else [0, 1]
    bench = ctx.bench(method, ctx.overrides(method, THROUGHPUT_OVERRIDES), ids, args.n_train)
    m = args.precision_models
    runs = run_plan(ids, m)
    kind = jax.devices()[0].device_kind
    labels = list(args.precisions)
    if "float32" not in labels:
        labels = ["default"] + labels  # the reference: JAX's default precision
    rows, notes, ref = [], [], None
    for label in labels:
        if ctx.budget.elapsed() > end and ref is not None:
            notes.append(f"{label}: not run (section budget spent)")
            continue
        tried = [None] if label == "default" else list(PRECISIONS[label])
        for value in tried:
            try:
                c = ctx.compile(bench, m, value, count_flops=False)
                out, first = bench.train(c, runs)
                out, steady = bench.train(c, runs)
                aucs = bench.aurocs(out, runs, limit=min(m, 10))
            except Exception as err:  # noqa: BLE001
                notes.append(f"{label} as {value!r}: {type(err).__name__}: {str(err)[:200]}")
                continue
            a_mean, _ = mean_std([100 * a for a in aucs])
            if ref is None:
                ref = aucs
            diffs = [100 * (a - r) for a, r in zip(aucs, ref)]
            rows.append({"precision": label, "setting": value or "JAX default", "models": m,
                         "steady_seconds": steady, "images_models_per_second": bench.images(runs) / steady,
                         "peak_tflops": peak_tflops(kind, label) if label != "default" else None,
                         "auroc_mean": a_mean, "auroc_runs": len(aucs),
                         "auroc_diff_vs_reference_mean": float(np.mean(diffs)),
                         "auroc_diff_vs_reference_max_abs": float(np.max(np.abs(diffs)))})
            ctx.log(f"precision {label} ({value}): steady {steady:.2f} s, AUROC {a_mean:.2f}")
            break
    return {"method": method, "rows": rows, "notes": notes, "reference": labels[0],
            "workload": ctx.overrides(method, THROUGHPUT_OVERRIDES)}


#: Seconds a reproduction sweep gets, after SIGINT at its deadline, to write its checkpoint and stop.
SETTLE_SECONDS = 40.0

#: Seconds of set-up a reproduction sweep spends besides training (process start, data, compile, scores)
#: where no measurement says better.
SWEEP_OVERHEAD_SECONDS = 60.0


def _mnist_dir(args: argparse.Namespace) -> str | None:
    """The first folder holding MNIST's IDX files among --data-dir, $OCNN_JAX_DATA_DIR (or its mnist/),
    data/mnist and out/mnist; None when there is none."""
    from common import default_data_dir

    for d in [args.data_dir, default_data_dir(), str(REPO_ROOT / "data" / "mnist"), str(REPO_ROOT / "out" / "mnist")]:
        for cand in ([Path(d), Path(d) / "mnist"] if d else []):
            if cand.is_dir() and any(cand.glob("*ubyte*")):
                return str(cand)
    return None


def _paper_images(method: str, n: int) -> int:
    """Training images one paper-length MNIST run of ``method`` processes on a class of ``n`` images
    (the library defaults with ``published_settings``, as ``reproduce.py --full`` runs them)."""
    from jaxbench import images_per_run

    import ocnn_jax
    from ocnn_jax.experiments import published_settings

    cfg = ocnn_jax.with_overrides(ocnn_jax.default_config("mnist_lenet", method), **published_settings("mnist", method))
    return images_per_run(method, cfg, n)


def _seconds_per_image(ctx: Context, method: str, measured: dict[str, float]) -> float | None:
    """Seconds per training image·run at the largest M: this method's throughput row, else the rate a
    finished reproduction sweep measured (any method), else None."""
    rows = [r for r in (ctx.sections.get("throughput") or {}).get("rows", [])
            if r.get("method") == method and r.get("steady_seconds")]
    if rows:
        r = max(rows, key=lambda r: r["models"])
        return r["steady_seconds"] / r["images"]
    return measured.get(method) or (min(measured.values()) if measured else None)


def plan_classes(classes: Sequence[int], per_class: float | None, left: float,
                 overhead: float = SWEEP_OVERHEAD_SECONDS) -> tuple[list[int], float | None, str | None]:
    """The classes of one reproduction sweep that fit into ``left`` seconds.

    Args:
      classes: every class of the table, in order.
      per_class: projected training seconds of one class (all its seeds); None = unknown (run all and
        let the deadline stop the sweep).
      left: seconds left for the sweep.
      overhead: seconds of set-up besides training (process start, data, compile, scores).

    Returns:
      (the first k classes that fit, their projected seconds or None, a note when cut or skipped); no
      classes when not even one fits.
    """
    classes = list(classes)
    if per_class is None:
        return classes, None, None
    projected = overhead + per_class * len(classes)
    if projected <= left:
        return classes, projected, None
    k = int((left - overhead) // per_class)
    if k < 1:
        return [], None, f"not run (one class projected at {overhead + per_class:.0f} s, {left:.0f} s left)"
    return (classes[:k], overhead + per_class * k,
            f"classes {classes[:k]} only (all {len(classes)} projected at {projected:.0f} s, {left:.0f} s left)")


def _spawn_interruptible(cmds: Sequence[list[str]], env: dict[str, str], logs: Sequence[Any]) -> list[subprocess.Popen]:
    """Start ``cmds`` (output to ``logs``) with SIGINT at its default action in the children, also where
    this process ignores SIGINT (a background job of a non-interactive shell, e.g. ``nohup cmd &``): an
    ignored signal stays ignored across exec, so the deadline's SIGINT would not reach the children and
    every interrupt would become a kill. A caught signal is reset to its default at exec, so while the
    children start, this process catches SIGINT with a handler that does nothing."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    ignored = main and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        return [subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                for cmd, log in zip(cmds, logs)]
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_many(cmds: Sequence[list[str]], seconds: float, log_paths: Sequence[Path], ctx: Context,
              env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run ``cmds`` concurrently (each one's output to its ``log_paths`` entry) for at most ``seconds``;
    then SIGINT the unfinished ones (a sweep writes its checkpoint and stops), and SIGKILL what is still
    running ``SETTLE_SECONDS`` later. Returns per command its return code, wall seconds and how it stopped."""
    import signal

    t0 = time.perf_counter()
    env = env or _child_env(PYTHONUNBUFFERED="1")
    logs = [open(path, "a") for path in log_paths]
    procs = _spawn_interruptible(cmds, env, logs)
    walls: list[float | None] = [None] * len(procs)
    stopped: list[str | None] = [None] * len(procs)
    try:
        deadline = t0 + max(seconds, 1.0)
        while any(w is None for w in walls):
            for i, proc in enumerate(procs):
                if walls[i] is None and proc.poll() is not None:
                    walls[i] = time.perf_counter() - t0
            if time.perf_counter() >= deadline:
                break
            time.sleep(0.2)
        late = [i for i, w in enumerate(walls) if w is None]
        for i in late:
            stopped[i] = "interrupted at the deadline"
            procs[i].send_signal(signal.SIGINT)
        settle = time.perf_counter() + SETTLE_SECONDS
        for i in late:
            try:
                procs[i].wait(timeout=max(settle - time.perf_counter(), 0.1))
            except subprocess.TimeoutExpired:
                stopped[i] = "killed at the deadline"
                procs[i].kill()
                procs[i].wait()
            walls[i] = time.perf_counter() - t0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    rows = []
    for cmd, proc, wall, stop in zip(cmds, procs, walls, stopped):
        ctx.log(f"  {' '.join(cmd[1:4])} …: rc {proc.returncode} after {wall:.0f} s" + (f" ({stop})" if stop else ""))
        rows.append({"returncode": proc.returncode, "wall_seconds": wall, "stopped": stop})
    return rows


def _run_until(cmd: list[str], seconds: float, log_path: Path, ctx: Context) -> dict[str, Any]:
    """Run ``cmd`` (output to ``log_path``) for at most ``seconds``; then SIGINT (the sweep writes its
    checkpoint and stops), and SIGKILL after ``SETTLE_SECONDS`` more."""
    return _run_many([cmd], seconds, [log_path], ctx)[0]


def section_reproduction(ctx: Context, share: float) -> dict[str, Any]:
    """The paper-length MNIST tables through ``benchmarks/reproduce.py --full`` (its sweeps, protocol,
    preprocessing and result files): per method one sweep of every class × ``--seeds`` seeds, as many
    runs in one program as the sweep's memory estimate allows, methods in ``--repro-methods`` order until
    the budget is spent. A method whose projected time (the throughput section's rate, else the last
    sweep's) exceeds what is left runs its first classes only; one still running at the deadline is
    interrupted and leaves its checkpoint (rerun the printed command to resume it)."""
    args = ctx.args
    end = ctx.budget.elapsed() + share
    out_dir = Path(args.out) / "reproduce"
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "reproduce.log"
    seeds = args.seeds
    if args.tiny:  # CPU smoke: the embedded digits at quick settings, one class
        dataset, mode, data_args, all_classes = "digits", "--quick", [], [0]
    else:
        mnist = _mnist_dir(args)
        if mnist is None:
            return {"rows": [], "notes": ["no MNIST folder found (see --data-dir): nothing reproduced"],
                    "seeds": seeds, "dataset": "mnist", "out": str(out_dir)}
        dataset, mode, all_classes = "mnist", "--full", list(range(10))
        data_args = ["--data-dir", mnist, "--settings", args.repro_settings]
        if ctx.data_source == "not loaded":  # the report's data line, when no earlier section loaded any
            ctx.data_source = f"mnist ({mnist})"
    n_class = 6000  # MNIST training images per class, about (5421 … 6742)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    measured: dict[str, float] = {}  # method -> wall seconds per training image·run of its sweep
    finished: list[str] = []
    for method in args.repro_methods:
        left = end - ctx.budget.elapsed() - SETTLE_SECONDS
        if left < (5 if args.tiny else 60):
            notes.append(f"{method}: not run ({max(left, 0):.0f} s left)")
            continue
        class_images = 0 if args.tiny else _paper_images(method, n_class) * seeds  # one class, all seeds
        rate = None if args.tiny else _seconds_per_image(ctx, method, measured)
        per_class = None if rate is None else rate * class_images
        classes, projected, note = plan_classes(all_classes, per_class, left)
        if note:
            notes.append(f"{method}: {note}")
        if not classes:
            continue
        cmd = [sys.executable, str(HERE / "reproduce.py"), "--dataset", dataset, mode, "--methods", method,
               "--seeds", str(seeds), "--classes", ",".join(map(str, classes)), *data_args, "--out", str(out_dir)]
        ctx.log(f"reproduction {method}: classes {classes} × {seeds} seeds"
                + (f", projected {projected:.0f} s" if projected else "") + f", {left:.0f} s left")
        run = _run_until(cmd, left, log_path, ctx)
        result_file = out_dir / method / "results.json"
        row: dict[str, Any] = {"method": method, "classes": classes, "seeds": seeds, "projected_seconds": projected,
                               **run, "command": " ".join(["python", *cmd[1:]])}
        if run["returncode"] == 0 and result_file.is_file():
            res = json.loads(result_file.read_text())
            per_class_rows = res["settings"][0]["per_class"]
            row.update(train_seconds=res["train_time_s"],
                       per_class=[{"class": int(p["normal_class"]), "auroc": 100 * p["mean"], "std": 100 * p["std"]}
                                  for p in per_class_rows],
                       auroc_mean=100 * float(np.mean([p["mean"] for p in per_class_rows])))
            if class_images:
                measured[method] = run["wall_seconds"] / (class_images * len(classes))
            finished.append(method)
            ctx.log(f"reproduction {method}: mean AUROC {row['auroc_mean']:.2f} over classes {classes}")
        rows.append(row)
    table = None
    if finished:  # the overview beside the published numbers, as reproduce.py writes it
        cmd = [sys.executable, str(HERE / "reproduce.py"), "--dataset", dataset, mode, "--table-only",
               "--methods", ",".join(finished), "--out", str(out_dir)]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                              env=_child_env())
        if proc.returncode == 0 and (out_dir / "results.md").is_file():
            table = (out_dir / "results.md").read_text()
        else:
            notes.append(f"table: reproduce.py --table-only failed: {(proc.stdout + proc.stderr)[-400:]}")
    return {"rows": rows, "notes": notes, "seeds": seeds, "dataset": dataset, "out": str(out_dir),
            "table_markdown": table,
            "settings": "reproduce.py " + mode + ("" if args.tiny else f" --settings {args.repro_settings}")}


def keras_original_plan(seeds: Sequence[int], keras: bool,
                        jobs: Sequence[tuple[str, str, int]] = KERAS_ORIGINAL_JOBS) -> list[tuple[str, str, list[int]]]:
    """The processes of the keras_original section: (framework, methods, seeds) per process. Each job's
    seeds are dealt round-robin over its processes (at most one process per seed); Keras jobs only when
    ``keras`` (importable)."""
    plan = []
    for framework, methods, processes in jobs:
        if framework == "keras" and not keras:
            continue
        n = max(1, min(processes, len(seeds)))
        plan += [(framework, methods, list(seeds[i::n])) for i in range(n) if seeds[i::n]]
    return plan


def _keras_backend() -> str | None:
    """The Keras backend the keras_original section uses, or None when Keras is not importable."""
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        return None
    return os.environ.get("KERAS_BACKEND") or ("tensorflow" if importlib.util.find_spec("tensorflow") else "jax")


def keras_original_length(args: argparse.Namespace) -> list[str]:
    """keras_original_compare.py's epoch flags for the section: one epoch per phase under ``--tiny``, else
    the repository's counts (``--full``), with ``--ko-rcae-epochs`` per λ stage where given."""
    if args.tiny:
        return ["--ae-epochs", "1", "--ocnn-epochs", "1", "--svdd-epochs", "1", "--rcae-epochs", "1"]
    return ["--full"] + (["--rcae-epochs", str(args.ko_rcae_epochs)] if args.ko_rcae_epochs else [])


def section_keras_original(ctx: Context, share: float) -> dict[str, Any]:
    """The original procedure at its full epoch counts (``keras_original_compare.py --full``; ``--tiny``: one
    epoch per phase) for ``--ko-seeds`` on MNIST class ``--ko-class``, as the concurrent processes of
    :func:`keras_original_plan`; unfinished ones are interrupted at the deadline (a run's result is in its
    part file once all its methods finished). The parts are merged into one JSON + Markdown table."""
    from ocnn_jax.datasets.keras_compat import KERAS_COMPAT_SEEDS

    args = ctx.args
    end = ctx.budget.elapsed() + share
    out_dir = Path(args.out) / "keras_original"
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(args.ko_seeds or KERAS_COMPAT_SEEDS)
    mnist = _mnist_dir(args)
    if mnist is None:
        return {"rows": [], "notes": ["no MNIST folder found (see --data-dir): nothing run"], "out": str(out_dir)}
    backend = _keras_backend()
    notes = [] if backend else ["Keras is not importable here: the Keras port's runs are left out"]
    length = keras_original_length(args)
    script = str(HERE / "keras_original_compare.py")
    plan = keras_original_plan(seeds, backend is not None, args.ko_jobs or KERAS_ORIGINAL_JOBS)
    cmds, logs, parts = [], [], []
    for i, (framework, methods, part_seeds) in enumerate(plan):
        part = out_dir / f"part{i}_{framework}_{methods.replace(',', '_')}.json"
        parts.append(part)
        logs.append(part.with_suffix(".log"))
        cmds.append([sys.executable, script, *length, "--dataset", "mnist", "--data-dir", mnist,
                     "--classes", str(args.ko_class), "--seeds", ",".join(map(str, part_seeds)),
                     "--frameworks", framework, "--methods", methods, "--out", str(part),
                     "--md", str(part.with_suffix(".md")), "--quiet",
                     "--keras-steps-per-execution", str(args.ko_steps_per_execution)])
    left = end - ctx.budget.elapsed() - SETTLE_SECONDS
    ctx.log(f"keras_original: {len(cmds)} processes, seeds {seeds}, Keras backend {backend}, {left:.0f} s")
    env = _child_env(PYTHONUNBUFFERED="1", **({"KERAS_BACKEND": backend} if backend else {}))
    runs = _run_many(cmds, left, logs, ctx, env=env)
    rows = []
    for (framework, methods, part_seeds), part, run in zip(plan, parts, runs):
        done = json.loads(part.read_text())["runs"] if part.is_file() else []
        rows.append({"framework": framework, "methods": methods, "seeds": part_seeds,
                     "seeds_done": [r["seed"] for r in done], **run})
    merged = out_dir / "keras_original_mnist_full.json"
    existing = [str(p) for p in parts if p.is_file()]
    table = None
    if existing:
        merged.unlink(missing_ok=True)
        cmd = [sys.executable, script, *length, "--table-only", "--merge", ",".join(existing), "--out", str(merged),
               "--md", str(merged.with_suffix(".md"))]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False, env=env)
        if proc.returncode == 0:
            table = merged.with_suffix(".md").read_text()
        else:
            notes.append(f"merge failed: {(proc.stdout + proc.stderr)[-400:]}")
    return {"rows": rows, "notes": notes, "out": str(out_dir), "keras_backend": backend, "seeds": seeds,
            "class": args.ko_class, "length": "tiny (1 epoch per phase)" if args.tiny else
            "full" + (f", {args.ko_rcae_epochs} epochs per λ stage" if args.ko_rcae_epochs else ""),
            "table_markdown": table}


# --------------------------------------------------------------------------------------------------
# Report


def _fmt(v: Any, f: str = "{:.2f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f.format(v)


def render(report: dict[str, Any]) -> str:
    """The Markdown report of whatever sections have finished."""
    env = report["environment"]
    lines = [f"# Device check: {env.get('device_kind', '?')} × {env.get('device_count', '?')} "
             f"({env.get('backend', '?')}){' — tiny CPU smoke run' if report['args'].get('tiny') else ''}", "",
             f"jax {env['versions'].get('jax', '?')}, Python {env['python']}, data: {report.get('data', '?')}, "
             f"budget {report['args']['budget']:.0f} s, elapsed {report.get('elapsed_seconds', 0):.0f} s.", "",
             f"Command: `{report['command']}`", ""]
    eq = report["sections"].get("equivalence")
    if eq:
        lines += ["## 1. vmap vs one run at a time", "", f"Precision {eq['precision']}; {eq['criterion']}.", ""]
        lines.append(markdown_table(eq["rows"], [
            ("method", "method", "{}"), ("runs", "runs", "{}"), ("max abs Δ", "max_abs_diff", "{:.2e}"),
            ("max rel Δ", "max_rel_diff", "{:.2e}"), ("max ΔAUROC", "max_auroc_diff", "{:.2e}"),
            ("pass", "pass", "{}"), ("error", "error", "{}")]))
        lines += [f"- {n}" for n in eq["notes"]]
        if eq.get("pytest"):
            py = eq["pytest"]
            lines += ["", f"pytest: {py.get('skipped') or ('rc ' + str(py.get('returncode')))}"]
        lines.append("")
    tp = report["sections"].get("throughput")
    if tp:
        lines += ["## 2. Throughput vs number of models M", "",
                  f"Vmapped model axis, JAX default precision ({tp['precision']}, peak "
                  f"{_fmt(tp['peak_tflops'], '{:.0f}')} TFLOP/s), classes {tp['classes']}, "
                  f"{tp['n_train'] or 'all'} training images per class; workload {tp['workload']}. "
                  "steady = second execution of the compiled program; TFLOP/s = dot/conv FLOPs of the traced "
                  "program ÷ steady s.", ""]
        view = [dict(r, xla_gib=(r.get("xla_memory") or {}).get("total_bytes", 0) / 2**30 if r.get("xla_memory") else None,
                     peak_gib=((r.get("device_memory") or {}).get("peak_bytes_in_use", 0) / 2**30)
                     if r.get("device_memory") else None) for r in tp["rows"]]
        lines.append(markdown_table(view, [
            ("method", "method", "{}"), ("M", "models", "{}"), ("compile s", "compile_seconds", "{:.1f}"),
            ("first s", "first_seconds", "{:.2f}"), ("steady s", "steady_seconds", "{:.2f}"),
            ("img·models / s", "images_models_per_second", "{:,.0f}"), ("× M = 1", "speedup_vs_one", "{:.1f}"),
            ("TFLOP/s", "tflops", "{:.2f}"), ("% of peak", "fraction_of_peak", lambda v: f"{100 * v:.1f}"),
            ("XLA GiB", "xla_gib", "{:.2f}"), ("device peak GiB", "peak_gib", "{:.2f}"),
            ("AUROC % (first ≤ 10 runs)", "auroc_mean", "{:.2f}"), ("error", "error", "{}")]))
        lines += [f"- {n}" for n in tp["notes"]] + [""]
    pr = report["sections"].get("precision")
    if pr:
        lines += ["## 3. Precision options", "",
                  f"{pr['method']} with workload {pr['workload']}; AUROC of the first runs, difference per run "
                  f"against {pr['reference']} in percentage points.", ""]
        lines.append(markdown_table(pr["rows"], [
            ("precision", "precision", "{}"), ("setting", "setting", "{}"), ("M", "models", "{}"),
            ("steady s", "steady_seconds", "{:.2f}"), ("img·models / s", "images_models_per_second", "{:,.0f}"),
            ("peak TFLOP/s", "peak_tflops", "{:.0f}"), ("AUROC %", "auroc_mean", "{:.2f}"),
            ("mean Δ pp", "auroc_diff_vs_reference_mean", "{:+.2f}"),
            ("max abs Δ pp", "auroc_diff_vs_reference_max_abs", "{:.2f}")]))
        lines += [f"- {n}" for n in pr["notes"]] + [""]
    rp = report["sections"].get("reproduction")
    if rp:
        lines += [f"## 4. Paper-length tables, the part that fitted ({rp['settings']})", "",
                  f"Data {rp['dataset']}, {rp['seeds']} seeds per class, one `reproduce.py` sweep per method "
                  f"(files under `{rp['out']}`); wall s includes process start, data, compile and scoring.", ""]
        view = [dict(r, classes_text=",".join(map(str, r["classes"]))) for r in rp["rows"]]
        lines.append(markdown_table(view, [
            ("method", "method", "{}"), ("classes", "classes_text", "{}"), ("seeds", "seeds", "{}"),
            ("projected s", "projected_seconds", "{:.0f}"), ("wall s", "wall_seconds", "{:.0f}"),
            ("train s", "train_seconds", "{:.0f}"), ("mean AUROC %", "auroc_mean", "{:.2f}"),
            ("stopped", "stopped", "{}"), ("rc", "returncode", "{}")]))
        lines += [f"- {n}" for n in rp["notes"]] + [""]
        if rp.get("table_markdown"):
            body = rp["table_markdown"].split("\n")
            lines += ["Per class, beside the published numbers (`reproduce.py --table-only`):", ""]
            lines += [ln.replace("# ", "### ", 1) if ln.startswith("#") else ln for ln in body] + [""]
    ko = report["sections"].get("keras_original")
    if ko:
        lines += [f"## 5. The original repository's procedure, {ko.get('length', 'full')} length "
                  f"(`keras_original_compare.py`)", "",
                  f"MNIST class {ko.get('class', 0)}, seeds {ko.get('seeds')}; Keras backend "
                  f"{ko.get('keras_backend') or 'none (not importable)'}; processes run side by side (files under "
                  f"`{ko['out']}`).", ""]
        view = [dict(r, seeds_text=",".join(map(str, r["seeds"])), done_text=",".join(map(str, r["seeds_done"])))
                for r in ko["rows"]]
        lines.append(markdown_table(view, [
            ("framework", "framework", "{}"), ("methods", "methods", "{}"), ("seeds", "seeds_text", "{}"),
            ("seeds done", "done_text", "{}"), ("wall s", "wall_seconds", "{:.0f}"), ("stopped", "stopped", "{}"),
            ("rc", "returncode", "{}")]))
        lines += [f"- {n}" for n in ko["notes"]] + [""]
        if ko.get("table_markdown"):
            lines += [ln.replace("# ", "### ", 1) if ln.startswith("#") else ln
                      for ln in ko["table_markdown"].split("\n")] + [""]
    for name, err in report.get("errors", {}).items():
        lines += [f"Section {name} failed: `{err}`", ""]
    return "\n".join(lines)


def figures(report: dict[str, Any], out: Path) -> list[str]:
    """images·models/s and TFLOP/s against M per method (PNG); [] when matplotlib is missing."""
    tp = report["sections"].get("throughput")
    if not tp or not tp["rows"]:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in sorted({r["method"] for r in tp["rows"]}):
        rs = [r for r in tp["rows"] if r["method"] == method and "steady_seconds" in r]
        if not rs:
            continue
        ms = [r["models"] for r in rs]
        axes[0].plot(ms, [r["images_models_per_second"] for r in rs], "o-", label=method)
        axes[1].plot(ms, [r["tflops"] or float("nan") for r in rs], "o-", label=method)
    for ax, title in zip(axes, ("images·models / s", "achieved TFLOP/s")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("models M (vmapped)")
        ax.set_title(title)
        ax.legend()
    if tp.get("peak_tflops"):
        axes[1].axhline(tp["peak_tflops"], color="grey", ls="--", lw=1)
    fig.tight_layout()
    path = out / "throughput_vs_models.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path.name]


# --------------------------------------------------------------------------------------------------


SECTIONS: tuple[tuple[str, float, Callable[[Context, float], dict[str, Any]]], ...] = (
    ("equivalence", 0.20, section_equivalence),
    ("throughput", 0.40, section_throughput),
    ("precision", 0.12, section_precision),
    ("reproduction", 1.00, section_reproduction),  # whatever is left
    ("keras_original", 1.00, section_keras_original),  # whatever is left (asked for by name)
)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(args.budget)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # peak memory = what the programs use
    import jax

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(args, budget)
    dev = jax.devices()[0]
    env = environment()
    env.update(backend=jax.default_backend(), device_kind=dev.device_kind, device_count=jax.device_count(),
               machine=platform.machine())
    report: dict[str, Any] = {
        "script": "device_check", "command": " ".join(["python benchmarks/device_check.py", *(argv or sys.argv[1:])]),
        "args": vars(args), "environment": env, "sections": {}, "errors": {},
    }
    ctx.log(f"jax {jax.__version__} on {jax.default_backend()}: {jax.device_count()} × {dev.device_kind}; "
            f"budget {args.budget:.0f} s; writing to {out}")

    def write() -> None:
        report["elapsed_seconds"] = budget.elapsed()
        report["data"] = ctx.data_source
        write_json(out / "device_check.json", report)
        (out / "device_check.md").write_text(render(report) + "\n")

    for name, share, fn in SECTIONS:
        if name not in args.sections:
            continue
        left = budget.left()
        if left <= 1:
            report["errors"][name] = "no time left in the budget"
            continue
        seconds = left if share >= 1.0 else share * args.budget
        ctx.log(f"section {name}: {min(seconds, left):.0f} s")
        try:
            report["sections"][name] = ctx.sections[name] = fn(ctx, min(seconds, left))
        except Exception as err:  # noqa: BLE001  (a section's failure must not lose the others)
            report["errors"][name] = f"{type(err).__name__}: {err}"[:1000]
            traceback.print_exc()
        write()
    if not args.no_figures:
        try:
            report["figures"] = figures(report, out)
        except Exception as err:  # noqa: BLE001
            report["errors"]["figures"] = f"{type(err).__name__}: {err}"
    write()
    print(render(report))
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
