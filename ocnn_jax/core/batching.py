"""Padded per-class data, masked minibatch epochs, chunked full-set passes and the run-axis map.

How unequal class sizes are handled (the run axis carries runs of different normal classes):

* ``StackedData.x`` holds every class's training set in one (C, n_max, ...) array, zero-padded to the
  largest class (rounded up to a whole number of inference chunks); ``StackedData.n[c]`` is the true
  size of class c. Runs index it by their class, so seeds of one class share one copy.
* Each epoch draws a permutation that puts a run's n_c valid rows first, in random order, and the
  padding last. The epoch has a *static* ⌊n_max/b⌋ steps; only the first ⌊n_c/b⌋ are active and the
  rest are exact no-ops (``lax.cond``; a select under ``vmap``), so every active batch is full of real
  samples: neither the loss nor BatchNorm ever sees padding, and the Adam step count is that of an
  unpadded run.
* Full-set passes (centre, training scores, quantiles) run in inference mode over fixed-size chunks;
  padded rows are masked out of sums, means and quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "StackedData",
    "stack_classes",
    "eval_chunking",
    "padded_permutation",
    "minibatch_epoch",
    "chunked_apply",
    "run_map",
]


class StackedData(NamedTuple):
    """Training sets of several classes, padded to a common length.

    Attributes:
      x: (C, n_max, *sample_shape) float32; rows ≥ n[c] of class c are zero padding.
      n: (C,) int32 number of valid rows per class.
    """

    x: jax.Array
    n: jax.Array

    @property
    def n_max(self) -> int:
        return int(self.x.shape[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[2:])


def eval_chunking(n: int, target: int) -> tuple[int, int]:
    """Split n rows into equal inference chunks of at most ``target`` rows.

    Returns (n_chunks, chunk); n_chunks·chunk ≥ n is the padded length.
    """
    n_chunks = max(1, math.ceil(n / max(1, target)))
    return n_chunks, math.ceil(n / n_chunks)


def stack_classes(arrays: Sequence[np.ndarray], eval_batch: int = 2048) -> StackedData:
    """Pad per-class float arrays (n_c, *sample_shape) into one ``StackedData``.

    n_max is the largest n_c rounded up to whole inference chunks of at most ``eval_batch`` rows.
    """
    if not arrays:
        raise ValueError("stack_classes: need at least one class array")
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"stack_classes: all classes must share a sample shape, got {sorted(shapes)}")
    n_largest = max(a.shape[0] for a in arrays)
    n_chunks, chunk = eval_chunking(n_largest, eval_batch)
    n_max = n_chunks * chunk
    out = np.zeros((len(arrays), n_max) + arrays[0].shape[1:], dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    counts = np.array([a.shape[0] for a in arrays], dtype=np.int32)
    return StackedData(jnp.asarray(out), jnp.asarray(counts))


def padded_permutation(key: jax.Array, n_valid: jax.Array, n_max: int) -> jax.Array:
    """A uniformly random order of the indices 0 … n_valid−1, followed by the padding indices.

    Returns (n_max,) int32; positions < n_valid hold a permutation of range(n_valid).
    """
    u = jax.random.uniform(key, (n_max,))
    return jnp.argsort(jnp.where(jnp.arange(n_max) < n_valid, u, 2.0)).astype(jnp.int32)


def minibatch_epoch(
    step: Callable[[Any, jax.Array], tuple[Any, jax.Array]],
    carry: Any,
    key: jax.Array,
    n_valid: jax.Array,
    n_max: int,
    batch_size: int,
) -> tuple[Any, jax.Array]:
    """One epoch of ⌊n_valid/b⌋ full minibatches over a padded set, as a ``lax.scan``.

    Args:
      step: ``step(carry, idx) -> (carry, loss)`` for a (b,) int32 array of row indices.
      carry: the training state.
      key: PRNG key for this epoch's permutation.
      n_valid: number of valid rows (traced int).
      n_max: padded length (static).
      batch_size: b (static), ≤ n_valid.

    Returns:
      (carry, mean loss over the active steps).

    Raises:
      ValueError: ``batch_size`` exceeds ``n_max`` (not one full minibatch fits the padded set).
    """
    steps = n_max // batch_size
    if steps == 0:
        raise ValueError(f"minibatch_epoch: batch_size {batch_size} exceeds the padded set's {n_max} rows, so no "
                         f"full minibatch fits; expected a batch_size of at most the smallest class's rows")
    perm = padded_permutation(key, n_valid, n_max)[: steps * batch_size].reshape(steps, batch_size)
    active_steps = n_valid // batch_size

    def body(c, s):
        def run(c):
            return step(c, perm[s])

        def skip(c):
            return c, jnp.zeros((), jnp.float32)

        return lax.cond(s < active_steps, run, skip, c)

    carry, losses = lax.scan(body, carry, jnp.arange(steps))
    return carry, jnp.sum(losses) / jnp.maximum(active_steps, 1).astype(jnp.float32)


def chunked_apply(
    fn: Callable[[jax.Array], Any],
    x: jax.Array,
    cls: jax.Array,
    n_chunks: int,
) -> Any:
    """Apply ``fn`` to class ``cls`` of a (C, n_max, ...) array in ``n_chunks`` equal chunks.

    Only one chunk of the class is gathered at a time (also under vmap over ``cls``), so memory stays
    at one chunk per run. ``fn`` maps (chunk, ...) -> pytree with leading axis chunk; the outputs are
    concatenated back to (n_max, ...).
    """
    n_max = x.shape[1]
    chunk = n_max // n_chunks

    def one(i):
        start = (cls, i * chunk) + (0,) * (x.ndim - 2)
        block = lax.dynamic_slice(x, start, (1, chunk) + x.shape[2:])[0]
        return fn(block)

    out = lax.map(one, jnp.arange(n_chunks))
    return jax.tree.map(lambda a: a.reshape((n_max,) + a.shape[2:]), out)


def run_map(fn: Callable[..., Any], width: int | None, n_runs: int) -> Callable[..., Any]:
    """Map ``fn(mapped, shared)`` over the leading (model) axis of ``mapped``.

    width None or ≥ n_runs: ``jax.vmap`` (all models side by side: GPU/TPU, or dense-only nets).
    width k < n_runs: ``lax.map`` over groups of k vmapped models (k = 1: one model at a time,
    which keeps XLA-CPU convolutions ungrouped). The numerics are the same up to float rounding.
    """
    if width is None or width >= n_runs:
        return jax.vmap(fn, in_axes=(0, None))

    def mapped_fn(mapped, shared):
        return lax.map(lambda m: fn(m, shared), mapped, batch_size=width if width > 1 else None)

    return mapped_fn
