"""The run axis: how a program's runs are mapped on one device (``vmap`` or ``lax.map`` groups) and
laid over several devices (a 1-D mesh, ``shard_map``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from ..core.batching import run_map

__all__ = ["RUN_AXIS", "make_run_mesh", "resolve_run_axis", "run_mapper", "shard_runs", "replicate"]

#: Name of the mesh axis that carries the runs.
RUN_AXIS = "runs"


def make_run_mesh(devices: Sequence[Any] | None = None):
    """A 1-D mesh over ``devices`` (default: all devices of all processes) with axis "runs".

    The axis type is Auto (jax ≥ 0.10 defaults to Explicit, which breaks vmapped convolutions under a
    sharded run axis); the driver uses ``shard_map`` over it."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.asarray(devices), (RUN_AXIS,), axis_types=(AxisType.Auto,))


def resolve_run_axis(model_axis: str | int, family: str, n_runs: int) -> int | None:
    """Map width of the run axis: None = vmap everything; k = lax.map over groups of k runs.

    "auto" vmaps on GPU/TPU and for dense nets; for conv nets on CPU it maps one run at a time,
    because XLA-CPU runs a conv vmapped over per-run weights as a slow grouped convolution.
    """
    if isinstance(model_axis, bool):
        raise TypeError(f"model_axis must be 'auto', 'vmap', 'map' or a positive int, got {model_axis!r}")
    if isinstance(model_axis, (int, np.integer)):
        if model_axis < 1:
            raise ValueError(f"model_axis width must be >= 1, got {model_axis}")
        return None if model_axis >= n_runs else int(model_axis)
    if model_axis == "vmap":
        return None
    if model_axis == "map":
        return 1 if n_runs > 1 else None
    if model_axis == "auto":
        conv = family in ("mnist_lenet", "cifar_lenet", "custom")
        return 1 if (conv and jax.default_backend() == "cpu" and n_runs > 1) else None
    raise ValueError(f"model_axis must be 'auto', 'vmap', 'map' or a positive int, got {model_axis!r}")


def run_mapper(width: int | None, n_runs: int, mesh: Mesh | None) -> Callable[[Callable], Callable]:
    """A decorator mapping ``fn(mapped, shared)`` over the run axis, as :func:`execute` (and so
    ``fit`` and ``sweep``) maps a training program.

    Args:
      width: ``batching.run_map``'s map width (None: vmap all runs; k: ``lax.map`` over groups of k).
      n_runs: runs on the run axis (leading axis of every leaf of ``mapped``).
      mesh: None, or a 1-D mesh over ``RUN_AXIS``: the runs are split evenly over its devices with
        ``shard_map`` and mapped with ``width`` on each (``n_runs`` must be a multiple of its size).
    """
    if mesh is None:
        return lambda fn: run_map(fn, width, n_runs)
    n_dev = mesh.size
    if n_runs % n_dev:
        raise ValueError(f"{n_runs} runs cannot be split evenly over {n_dev} devices; pad the runs first")
    local = n_runs // n_dev

    def wrap(fn):
        inner = run_map(fn, width, local)
        # check_vma=False: scan carries born as constants (initial R = 0, BN stats) are not marked
        # as varying over the run axis.
        return jax.shard_map(
            inner,
            mesh=mesh,
            in_specs=(PartitionSpec(RUN_AXIS), PartitionSpec()),
            out_specs=PartitionSpec(RUN_AXIS),
            check_vma=False,
        )

    return wrap


def _place(tree: Any, sharding: NamedSharding) -> Any:
    """Every leaf of ``tree`` as a global array with ``sharding``, built with
    ``jax.make_array_from_callback`` from the host value that every process holds (each process
    supplies the shards of its own devices); PRNG key arrays travel as their raw key data. A leaf
    that already has this sharding is kept."""

    def one(a):
        if getattr(a, "sharding", None) == sharding:
            return a
        is_key = hasattr(a, "dtype") and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
        host = np.asarray(jax.random.key_data(a) if is_key else a)
        placed = jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])
        return jax.random.wrap_key_data(placed, impl=jax.random.key_impl(a)) if is_key else placed

    return jax.tree.map(one, tree)


def shard_runs(tree: Any, mesh: Mesh) -> Any:
    """``tree``'s leaves (leading run axis) split over ``mesh``'s "runs" axis as global arrays, the form
    a multi-process program needs; every process passes the same full values (it built the same runs)."""
    return _place(tree, NamedSharding(mesh, PartitionSpec(RUN_AXIS)))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """``tree``'s leaves as global arrays replicated on every device of ``mesh`` (the shared data)."""
    return _place(tree, NamedSharding(mesh, PartitionSpec()))
