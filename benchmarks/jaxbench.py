"""ocnn_jax's side of the benchmarks: any deep method as one compiled M-run program on the benchmark's
arrays, its training-image count, and its FLOPs counted from the traced program.

``MethodBench`` runs the same pieces ``ocnn_jax.fit`` runs (``make_train`` → ``train(key, run, data)``,
mapped over the run axis by ``engine.run_mapper``, one PRNG key ``jax.random.key(seed)`` per run),
without fit's preprocessing, progress chunks and training-score pass, so the timed work is training only.

FLOPs: XLA's ``cost_analysis()`` counts a loop body once, whatever its trip count (a 10-step
``lax.scan`` of matmuls reports the FLOPs of one), so it cannot measure a training program made of
nested scans. ``program_flops`` walks the program's jaxpr instead: 2 × the multiply-adds of every
``dot_general`` and ``conv_general_dilated``, scan bodies multiplied by their lengths, the larger
branch of a ``cond`` (e.g. the CPU-only FFT weight gradient vs the convolution), ``while`` bodies once
(their trip count is not static; the training loops are scans). Elementwise work is not counted, so
this is the matrix-unit work the chip's peak refers to.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["MethodBench", "images_per_run", "jaxpr_flops", "program_flops", "memory_analysis",
           "device_memory", "synthetic_classes"]


# --------------------------------------------------------------------------------------------------
# FLOPs from the jaxpr


def _sub_jaxprs(value: Any) -> list[Any]:
    """Jaxprs held in an equation parameter (a Jaxpr, a ClosedJaxpr, or a tuple/list of them)."""
    from jax import extend as jex  # noqa: F401  (jax.core types moved; duck-type instead)

    if hasattr(value, "eqns"):
        return [value]
    if hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        return [value.jaxpr]
    if isinstance(value, (tuple, list)):
        out = []
        for v in value:
            out += _sub_jaxprs(v)
        return out
    return []


def _prod(xs: Sequence[int]) -> int:
    return int(math.prod(int(x) for x in xs))


def jaxpr_flops(jaxpr: Any) -> float:
    """FLOPs (2 × multiply-adds) of the dots and convolutions of a (closed) jaxpr, loops unrolled.

    Args:
      jaxpr: a ``Jaxpr`` or ``ClosedJaxpr`` (e.g. ``jax.make_jaxpr(f)(*args)`` or ``jit(f).trace(...).jaxpr``).
    """
    if hasattr(jaxpr, "jaxpr") and hasattr(jaxpr.jaxpr, "eqns"):
        jaxpr = jaxpr.jaxpr
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        params = eqn.params
        if name == "dot_general":
            (lhs_contract, _), _ = params["dimension_numbers"]
            lhs = eqn.invars[0].aval
            total += 2.0 * _prod(eqn.outvars[0].aval.shape) * _prod([lhs.shape[d] for d in lhs_contract])
        elif name == "conv_general_dilated":
            rhs = eqn.invars[1].aval
            spec = params["dimension_numbers"].rhs_spec  # (out features, in features, *spatial)
            total += 2.0 * _prod(eqn.outvars[0].aval.shape) * rhs.shape[spec[1]] * _prod([rhs.shape[d] for d in spec[2:]])
        elif name == "scan":
            total += params["length"] * jaxpr_flops(params["jaxpr"])
        elif name == "cond":
            total += max((jaxpr_flops(b) for b in params["branches"]), default=0.0)
        else:
            for value in params.values():
                for sub in _sub_jaxprs(value):
                    total += jaxpr_flops(sub)
    return total


def program_flops(fn: Callable[..., Any], *args: Any) -> float:
    """FLOPs of one call of ``fn(*args)`` (see ``jaxpr_flops``)."""
    import jax

    return jaxpr_flops(jax.make_jaxpr(fn)(*args))


def memory_analysis(compiled: Any) -> dict[str, int] | None:
    """XLA's static memory estimate of a compiled program (bytes), or None where unavailable."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001  (not implemented on every backend)
        return None
    if m is None:
        return None
    keys = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes", "generated_code_size_in_bytes")
    out = {k: int(getattr(m, k)) for k in keys if hasattr(m, k)}
    if out:
        out["total_bytes"] = sum(out.get(k, 0) for k in keys[:3])
    return out or None


def device_memory() -> dict[str, int] | None:
    """The first device's ``memory_stats()`` (bytes in use, peak, limit), or None (e.g. XLA:CPU)."""
    import jax

    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001
        return None
    if not stats:
        return None
    keys = ("bytes_in_use", "peak_bytes_in_use", "bytes_limit", "largest_alloc_size")
    return {k: int(stats[k]) for k in keys if k in stats}


# --------------------------------------------------------------------------------------------------
# Training images per run


def _phase_images(cfg: Any, n: int) -> int:
    return cfg.epochs * (n // cfg.batch_size) * cfg.batch_size


def images_per_run(method: str, cfg: Any, n: int) -> int:
    """Training images (full minibatches of every training phase) one run of ``method`` processes on a
    class of ``n`` images; inference passes (centre, quantiles, N updates, scores) are not counted."""
    images = _phase_images(cfg.train, n)
    pretrain = getattr(cfg, "pretrain", None)
    if pretrain is not None and (method in ("deep_svdd", "soft_boundary") or getattr(cfg, "features", "input") != "input"):
        images += _phase_images(pretrain, n)
    return images


# --------------------------------------------------------------------------------------------------
# Data without MNIST


def synthetic_classes(classes: Sequence[int], n_train: int, n_test: int, shape: tuple[int, ...] = (28, 28, 1),
                      seed: int = 0) -> list[Any]:
    """``common.ClassData`` stand-ins with MNIST's shapes: class c = a fixed random pattern + noise, in
    [0, 1]. For timings (which do not depend on the pixels) where MNIST is not at hand; AUROCs on
    them only show that scoring works."""
    from common import ClassData

    rng = np.random.default_rng(seed)
    ids = sorted(set(int(c) for c in classes))
    labels = sorted(set(range(10)) | set(ids))  # the test split holds every class, as MNIST's does
    patterns = {c: rng.random(shape).astype(np.float32) for c in labels}

    def draw(c: int, n: int) -> np.ndarray:
        x = 0.6 * patterns[c] + 0.4 * rng.random((n, *shape), dtype=np.float32)
        return np.clip(x, 0.0, 1.0).astype(np.float32)

    test_labels = np.resize(np.asarray(labels), n_test)
    x_test = np.concatenate([draw(int(c), 1) for c in test_labels]) if n_test else np.zeros((0, *shape), np.float32)
    out = {c: ClassData(c, draw(c, n_train), x_test, (test_labels != c).astype(np.int32)) for c in ids}
    return [out[int(c)] for c in classes]


# --------------------------------------------------------------------------------------------------
# One method as one compiled M-run program


@dataclasses.dataclass
class Compiled:
    """A compiled M-run program and what was measured while building it."""

    fn: Callable[..., Any]
    n_models: int
    compile_seconds: float
    flops: float
    memory: dict[str, int] | None


class MethodBench:
    """One deep method through ocnn_jax's engine on the benchmark's per-class arrays.

    Args:
      method: a deep method name ("deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae").
      classes: ``common.ClassData`` of the normal classes (runs index them by their ``normal_class``).
      backbone: "mnist_lenet" (Ruff's LeNet; the default) or "mlp" (cheap; CPU smoke tests).
      overrides: flat config overrides (``ocnn_jax.with_overrides``), e.g. ``epochs=10``.
      model_axis: "vmap", "map", "auto" or a group width (``engine.resolve_run_axis``).
    """

    def __init__(self, method: str, classes: Sequence[Any], backbone: str = "mnist_lenet",
                 overrides: dict[str, Any] | None = None, model_axis: str | int = "auto") -> None:
        import jax

        from ocnn_jax import make_train
        from ocnn_jax.core import stack_classes
        from ocnn_jax.engine import resolve_run_axis
        from ocnn_jax.nn import make_backbone

        self._jax = jax
        self._resolve = resolve_run_axis
        self.method = method
        self.model_axis = model_axis
        self.class_ids = [cd.normal_class for cd in classes]
        self.n_per_class = {cd.normal_class: len(cd.x_train) for cd in classes}
        shape = tuple(classes[0].x_train.shape[1:])
        self.backbone = make_backbone(backbone, shape, rep_dim=32, **({"hidden": (64,)} if backbone == "mlp" else {}))
        self.family = self.backbone.name
        self.data = stack_classes([cd.x_train for cd in classes], 2048)
        self.train_fn = make_train(method, self.backbone, self.data, **(overrides or {}))
        self.config = self.train_fn.config
        self.x_test = {cd.normal_class: cd.x_test for cd in classes}
        self.y_test = {cd.normal_class: cd.y_test for cd in classes}
        self._score = jax.jit(self.train_fn.score)

    def images(self, runs: Sequence[tuple[int, int]]) -> int:
        """Training images of these (class, seed) runs together."""
        return sum(images_per_run(self.method, self.config, self.n_per_class[c]) for c, _ in runs)

    def inputs(self, runs: Sequence[tuple[int, int]]):
        """((keys, RunSpec), data) for the given (class, seed) runs."""
        from ocnn_jax import make_runs

        keys, spec = make_runs([self.class_ids.index(c) for c, _ in runs], [s for _, s in runs],
                               getattr(self.config, "nu", 0.1))
        return (keys, spec), self.data

    def _program(self, n_models: int, mesh: Any = None):
        """(jitted M-run training function, its example arguments)."""
        from ocnn_jax.engine import run_mapper

        jax = self._jax
        train = self.train_fn

        def one(key_run, data):
            state, _ = train(key_run[0], key_run[1], data)
            return train.variables(state)

        per_device = n_models if mesh is None else n_models // mesh.size
        fn = jax.jit(run_mapper(self._resolve(self.model_axis, self.family, per_device), n_models, mesh)(one))
        return fn, self.inputs([(self.class_ids[0], 0)] * n_models)

    def count_flops(self, n_models: int, *, mesh: Any = None) -> float:
        """FLOPs of the M-run program (``jaxpr_flops``; traced, not compiled)."""
        fn, (mapped, data) = self._program(n_models, mesh)
        flops = jaxpr_flops(fn.trace(mapped, data).jaxpr)
        return flops * (mesh.size if mesh is not None else 1)  # shard_map's body has one device's shapes

    def compile(self, n_models: int, *, mesh: Any = None, precision: str | None = None,
                count_flops: bool = True) -> Compiled:
        """Trace, count FLOPs of, and compile the M-run training program (``precision``: a
        ``jax.default_matmul_precision`` value in force while tracing, None = JAX's default)."""
        import contextlib
        import time

        jax = self._jax
        fn, (mapped, data) = self._program(n_models, mesh)
        ctx = jax.default_matmul_precision(precision) if precision else contextlib.nullcontext()
        with ctx:
            t0 = time.perf_counter()
            traced = fn.trace(mapped, data)
            compiled = traced.lower().compile()
            seconds = time.perf_counter() - t0
            flops = jaxpr_flops(traced.jaxpr) if count_flops else float("nan")
        if mesh is not None and count_flops:
            flops *= mesh.size  # shard_map's body has one device's shapes
        return Compiled(compiled, n_models, seconds, flops, memory_analysis(compiled))

    def train(self, compiled: Compiled, runs: Sequence[tuple[int, int]]) -> tuple[Any, float]:
        """Execute a compiled program on ``runs``; returns (variables with a run axis, seconds)."""
        import time

        jax = self._jax
        mapped, data = self.inputs(runs)
        jax.block_until_ready(mapped)
        t0 = time.perf_counter()
        out = compiled.fn(mapped, data)
        jax.block_until_ready(out)
        return out, time.perf_counter() - t0

    def aurocs(self, out: Any, runs: Sequence[tuple[int, int]], limit: int | None = None,
               chunk: int = 2500) -> list[float]:
        """Test AUROC of the first ``limit`` runs (all when None); NaN scores give NaN."""
        from common import auroc

        jax = self._jax
        result = []
        for i, (c, _) in enumerate(runs[:limit]):
            v = jax.tree.map(lambda a: a[i], out)
            x = self.x_test[c]
            scores = np.concatenate([np.asarray(self._score(v, x[j:j + chunk])) for j in range(0, x.shape[0], chunk)])
            result.append(auroc(self.y_test[c], scores))
        return result
