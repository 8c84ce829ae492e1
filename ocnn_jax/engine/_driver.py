"""Runs a ``Program`` for many models, a chunk of epochs per compiled call, with progress and checks.

Progress is reported from outside the vmap (``jax.debug.callback`` would fire once per mapped run):
each call runs K epochs of every run and returns their stacked metrics; the Python loop between calls
updates the progress bar, checks every loss for NaN/inf (raising ``TrainingDivergedError`` naming the
run), optionally writes a checkpoint, and donates the state to the next call. The epoch functions are
the same ones ``run_program`` scans over, so the result equals the single-program ``train``.

Devices: with a ``mesh`` (one axis named "runs"), every compiled call is a ``jax.shard_map`` whose
body maps the device's own slice of runs (``batching.run_map``); runs never communicate. The number
of runs must be a multiple of the mesh size (``sweep`` pads). Across hosts (``jax.distributed``), the
same code runs on every process and the results are gathered with ``process_allgather``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from ..core.batching import StackedData
from ._checkpoint import Checkpointer, Position
from ._callbacks import Callback, report_chunk
from ._devices import to_host
from ._interrupt import interrupt_requested
from ._runs import replicate, run_mapper, shard_runs
from ..core.errors import Interrupted, TrainingDivergedError
from ..core.progress import progress as progress_display
from ..core.program import Program, RunSpec, run_phase_epochs

__all__ = ["execute", "chunk_size"]


@dataclasses.dataclass
class _Display:
    """What the driver shows and reports besides the numbers: the progress bar, per-run labels for
    error messages, and per-phase images·runs per epoch for the throughput figure."""

    bar: Any
    run_info: Sequence[dict[str, Any]]
    images_per_epoch: Sequence[int]
    description: str = ""
    callbacks: Sequence[Callback] = ()
    done_epochs: int = 0  # epochs finished over all phases (the callbacks' ``step``)


def chunk_size(epochs: int, target_chunks: int = 10) -> int:
    """Largest divisor of ``epochs`` that is ≤ max(1, epochs // target_chunks): whole, equal chunks
    (one compilation per phase), about ``target_chunks`` host syncs per phase."""
    limit = max(1, epochs // max(1, target_chunks))
    return max(d for d in range(1, limit + 1) if epochs % d == 0)


def execute(
    program: Program,
    keys: jax.Array,
    runs: RunSpec,
    data: StackedData,
    *,
    width: int | None,
    run_info: Sequence[dict[str, Any]],
    images_per_epoch: Sequence[int],
    progress: bool = True,
    target_chunks: int = 10,
    mesh: Mesh | None = None,
    checkpoint: Checkpointer | None = None,
    description: str = "",
    callbacks: Sequence[Callback] = (),
    cache: dict[Any, Any] | None = None,
) -> tuple[Any, dict[str, np.ndarray], float]:
    """Train every run on the run axis.

    Args:
      program: the method's ``Program``.
      keys: (M,) PRNG keys, one per run.
      runs: ``RunSpec`` with (M,) leaves.
      data: the shared ``StackedData``.
      width: run-axis map width per device (None: vmap all; k: lax.map over groups of k).
      run_info: per run, a dict with "normal_class" and "seed" (for error messages).
      images_per_epoch: per phase, images·runs processed per epoch (for the throughput figure).
      progress: show progress (``ocnn_jax.core.progress``: a bar in a terminal or notebook, plain lines
        otherwise) with the mean loss and the training rate, which excludes compilation (each phase's
        compiled call is built ahead of time, before its first epoch).
      target_chunks: about how many compiled calls per phase.
      mesh: optional device mesh with one axis "runs"; M must be a multiple of its size.
      checkpoint: optional ``Checkpointer``: the state is saved after every compiled call and, if a
        checkpoint exists, training resumes from it (nothing finished is recomputed).
      description: prefix of the progress bar.
      callbacks: called with an ``EpochMetrics`` for every finished epoch (``engine._callbacks``), after
        each compiled call, where the progress display updates.
      cache: optional dict that keeps the jitted init and transitions and the compiled epoch-chunk
        executables, so that a later ``execute`` of the same ``program`` with as many runs and the same
        ``width`` and ``mesh`` reuses them instead of tracing and compiling again (a sweep's chunks).
        The caller owns it; it must not be shared between programs.

    Returns:
      (final state with (M, ...) leaves, metrics "<phase>/<name>" -> (M, epochs) arrays, wall seconds).
    """
    n_runs = int(runs.cls.shape[0])
    mapped = run_mapper(width, n_runs, mesh)
    if mesh is not None:  # global arrays: runs split over the mesh, data on every device (multi-process too)
        keys, runs = shard_runs((keys, runs), mesh)
        data = replicate(data, mesh)
    t0 = time.perf_counter()
    total = sum(p.epochs for p in program.phases)
    metrics: dict[str, list[np.ndarray]] = {}

    cache = {} if cache is None else cache
    tag = (n_runs, width)  # the functions below are specific to these (the mesh is the caller's)

    def cached(key, build):
        if (key, tag) not in cache:
            cache[(key, tag)] = build()
        return cache[(key, tag)]

    def jit_transition(t):
        return jax.jit(mapped(lambda sr, d: t(sr[0], sr[1], d)))

    init = cached("init", lambda: jax.jit(mapped(lambda kr, d: program.init(kr[0], kr[1], d))))
    transitions = []
    for i in range(len(program.phases)):
        t = program.transition(i)
        transitions.append(None if t is None else cached(("transition", i), lambda t=t: jit_transition(t)))

    start = Position(0, 0)
    state = None
    if checkpoint is not None:
        restored = checkpoint.load(lambda pos: _state_shape(program, init, transitions, keys, runs, data, pos))
        if restored is not None:
            start, state, saved_metrics = restored
            if mesh is not None:
                state = shard_runs(state, mesh)
            metrics = {k: [v] for k, v in saved_metrics.items()}
    if state is None:
        state = init((keys, runs), data)
    if interrupt_requested():  # SIGINT while compiling: nothing newer than the checkpoint to save
        raise Interrupted(checkpoint.path if checkpoint is not None and checkpoint.exists() else None)

    done_epochs = sum(p.epochs for p in program.phases[: start.phase]) + start.epoch
    bar = progress_display(total=total, initial=done_epochs, desc=description or "training", unit="epoch",
                           enabled=progress)
    display = _Display(bar, run_info, images_per_epoch, description, tuple(callbacks), done_epochs)
    try:
        for phase_idx in range(start.phase, len(program.phases)):
            phase = program.phases[phase_idx]
            first = start.epoch if phase_idx == start.phase else 0
            if phase.epochs > first:
                state = _run_phase(phase_idx, program, first, state, runs, data, mapped, target_chunks, metrics,
                                   checkpoint, display, cached)
            if transitions[phase_idx] is not None:
                state = transitions[phase_idx]((state, runs), data)
            if checkpoint is not None and phase_idx + 1 < len(program.phases):
                checkpoint.save(Position(phase_idx + 1, 0), state, _joined(metrics))
            if interrupt_requested() and phase_idx + 1 < len(program.phases):
                raise Interrupted(checkpoint.path if checkpoint is not None else None)
        jax.block_until_ready(state)
    finally:
        bar.close()
    return state, _joined(metrics), time.perf_counter() - t0


def _joined(metrics: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate(v, axis=1) for k, v in metrics.items()}


def _state_shape(program, init, transitions, keys, runs, data, pos: Position):
    """Abstract state (shapes, dtypes, tree structure) at the start of phase ``pos.phase``."""

    def build():
        s = init((keys, runs), data)
        for t in transitions[: pos.phase]:
            if t is not None:
                s = t((s, runs), data)
        return s

    return jax.eval_shape(build)


def _run_phase(phase_idx: int, program: Program, first: int, state: Any, runs: RunSpec, data: StackedData,
               mapped: Callable[[Callable], Callable], target_chunks: int, metrics: dict[str, list[np.ndarray]],
               checkpoint: Checkpointer | None, display: _Display, cached: Callable[[Any, Callable], Any]) -> Any:
    """Epochs ``first`` … end of phase ``phase_idx``, a chunk of epochs per compiled call."""
    phase = program.phases[phase_idx]
    bar, run_info, description = display.bar, display.run_info, display.description
    images_per_epoch = display.images_per_epoch[phase_idx]
    k = chunk_size(phase.epochs, target_chunks)
    if first % k:  # a checkpoint from a run with another chunking: finish the odd epochs one by one
        k = 1

    def build():
        def chunk(state_runs, shared):
            d, start = shared
            return run_phase_epochs(phase, state_runs[0], state_runs[1], d, start, k)

        mapped_chunk = mapped(chunk)
        jitted = jax.jit(lambda s, r, shared: mapped_chunk((s, r), shared), donate_argnums=(0,))
        # Compiled ahead of time, so that the first chunk's rate is a training rate, not compilation.
        return jitted.lower(state, runs, (data, jnp.asarray(first, jnp.int32))).compile()

    bar.set_description(f"{description} {phase.name}".strip())
    bar.set_postfix_str("compiling")
    # An executable is compiled for its inputs' shardings: a restored or re-placed state gets its own.
    placement = tuple(str(getattr(a, "sharding", None)) for a in jax.tree.leaves((state, runs, data)))
    call = cached(("phase", phase_idx, k, placement), build)
    for start in range(first, phase.epochs, k):
        t = time.perf_counter()
        state, m = call(state, runs, (data, jnp.asarray(start, jnp.int32)))
        m = to_host(m)
        dt = max(time.perf_counter() - t, 1e-9)
        loss = np.asarray(m["loss"])  # (M, k)
        bad = ~np.isfinite(loss)
        if bad.any():
            models = sorted(set(np.nonzero(bad.any(axis=1))[0].tolist()))
            first_epoch = start + int(np.nonzero(bad.any(axis=0))[0][0])
            raise TrainingDivergedError(models, [dict(run_info[i]) for i in models], phase.name, first_epoch)
        for name, value in m.items():
            metrics.setdefault(f"{phase.name}/{name}", []).append(np.asarray(value))
        saved = checkpoint is not None and checkpoint.maybe_save(Position(phase_idx, start + k), state, _joined(metrics))
        report_chunk(display.callbacks, phase.name, start, phase.epochs, display.done_epochs,
                     {name: np.asarray(v) for name, v in m.items()}, run_info)
        display.done_epochs += k
        if interrupt_requested():  # SIGINT (engine._interrupt): stop between compiled calls, state saved
            if checkpoint is not None and not saved:
                checkpoint.save(Position(phase_idx, start + k), state, _joined(metrics))
            raise Interrupted(checkpoint.path if checkpoint is not None else None)
        bar.update(k)
        bar.set_postfix(loss=f"{float(np.mean(loss[:, -1])):.4g}", rate=f"{images_per_epoch * k / dt:,.0f} img·runs/s")
    return state
