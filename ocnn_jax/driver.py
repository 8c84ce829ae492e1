"""Runs a ``Program`` for many models, a chunk of epochs per compiled call, with progress and checks.

Progress is reported from outside the vmap (``jax.debug.callback`` would fire once per mapped run):
each call runs K epochs of every run and returns their stacked metrics; the Python loop between calls
updates the progress bar, checks every loss for NaN/inf (raising ``TrainingDivergedError`` naming the
run) and donates the state to the next call. The epoch functions are the same ones ``run_program``
scans over, so the result equals the single-program ``train``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from .batching import StackedData, model_map
from .errors import TrainingDivergedError
from .program import Phase, Program, RunSpec, run_phase_epochs

__all__ = ["execute", "chunk_size"]


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
) -> tuple[Any, dict[str, np.ndarray], float]:
    """Train every run on the model axis.

    Args:
      program: the method's ``Program``.
      keys: (M,) PRNG keys, one per run.
      runs: ``RunSpec`` with (M,) leaves.
      data: the shared ``StackedData``.
      width: model-axis map width (None: vmap all; k: lax.map over groups of k).
      run_info: per run, a dict with "normal_class" and "seed" (for error messages).
      images_per_epoch: per phase, images·models processed per epoch (for the throughput figure).
      progress: show a tqdm bar.
      target_chunks: about how many compiled calls per phase.

    Returns:
      (final state with (M, ...) leaves, metrics "<phase>/<name>" -> (M, epochs) arrays, wall seconds).
    """
    n_models = int(runs.cls.shape[0])
    mapped = lambda fn: model_map(fn, width, n_models)  # noqa: E731
    t0 = time.perf_counter()
    init = jax.jit(mapped(lambda kr, d: program.init(kr[0], kr[1], d)))
    state = init((keys, runs), data)
    total = sum(p.epochs for p in program.phases)
    metrics: dict[str, list[np.ndarray]] = {}
    bar = tqdm(total=total, desc="training", unit="epoch", disable=not progress, leave=True)
    try:
        for phase_idx, (phase, transition) in enumerate(zip(program.phases, program.transitions, strict=True)):
            if phase.epochs > 0:
                state = _run_phase(phase, state, runs, data, mapped, run_info, images_per_epoch[phase_idx],
                                   target_chunks, bar, metrics)
            step = jax.jit(mapped(lambda sr, d, _t=transition: _t(sr[0], sr[1], d)))
            state = step((state, runs), data)
        jax.block_until_ready(state)
    finally:
        bar.close()
    out = {k: np.concatenate(v, axis=1) for k, v in metrics.items()}
    return state, out, time.perf_counter() - t0


def _run_phase(phase: Phase, state, runs, data, mapped, run_info, images_per_epoch, target_chunks, bar, metrics):
    k = chunk_size(phase.epochs, target_chunks)

    def chunk(state_runs, shared):
        d, start = shared
        return run_phase_epochs(phase, state_runs[0], state_runs[1], d, start, k)

    call = jax.jit(mapped(chunk))
    bar.set_description(phase.name)
    for start in range(0, phase.epochs, k):
        t = time.perf_counter()
        state, m = call((state, runs), (data, jnp.asarray(start, jnp.int32)))
        m = jax.device_get(m)
        loss = np.asarray(m["loss"])  # (M, k)
        bad = ~np.isfinite(loss)
        if bad.any():
            models = sorted(set(np.nonzero(bad.any(axis=1))[0].tolist()))
            first_epoch = start + int(np.nonzero(bad.any(axis=0))[0][0])
            raise TrainingDivergedError(models, [dict(run_info[i]) for i in models], phase.name, first_epoch)
        for name, value in m.items():
            metrics.setdefault(f"{phase.name}/{name}", []).append(np.asarray(value))
        dt = max(time.perf_counter() - t, 1e-9)
        bar.update(k)
        bar.set_postfix(loss=f"{float(np.mean(loss[:, -1])):.4g}", rate=f"{images_per_epoch * k / dt:,.0f} img·models/s")
    return state
