"""Use a CPU's cores as separate JAX devices, so a sweep runs several models at once on one CPU.

On CPU, ``model_axis="auto"`` trains conv nets one run at a time inside the compiled program, and one
run of a small LeNet keeps the cores only partly busy (XLA:CPU executes its many small ops one after
another). Exposing the cores as N host devices (``jax_num_cpu_devices``) lets the sweep's mesh
(``ocnn_jax.make_run_mesh``, ``fit(..., mesh=...)``) place runs on each device with ``shard_map``; the
devices execute in parallel (timings: ``benchmarks/results/throughput_cpu.md``).

It is a process-wide JAX setting: call it right after ``import jax``, before any JAX computation.
It changes only the CPU platform, so it is harmless on a GPU/TPU machine.
"""

from __future__ import annotations

import os
from typing import Any

import jax

__all__ = ["set_cpu_devices", "usable_cores", "parse_cpu_devices", "to_host"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_cpu_devices(n: int | None = None) -> int:
    """Expose ``n`` CPU devices to JAX (default: one per usable core) and return ``n``.

    Raises:
      ValueError: ``n`` is not a positive int.
      RuntimeError: JAX has already started its backends (any array was created or computation run);
        then the number of CPU devices can no longer change.
    """
    if n is None:
        n = usable_cores()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_cpu_devices: n must be a positive int (or None for one per core), got {n!r}")
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError as err:
        raise RuntimeError(
            f"set_cpu_devices({n}) must run before JAX starts its backends (right after `import jax`, "
            f"before any array is created); this process already has {jax.local_device_count('cpu')} "
            f"CPU device(s). Alternatively set XLA_FLAGS=--xla_force_host_platform_device_count={n} "
            f"before starting Python."
        ) from err
    return n


def parse_cpu_devices(text: str) -> int | None:
    """A ``--cpu-devices`` value: "auto" -> None (one per core, ``set_cpu_devices``'s default), "N" -> N.

    Raises:
      ValueError: anything but "auto" or a positive integer.
    """
    if text == "auto":
        return None
    if not (text.isdigit() and int(text) >= 1):
        raise ValueError(f"--cpu-devices must be a positive integer or 'auto', got {text!r}")
    return int(text)


def to_host(tree: Any) -> Any:
    """Fetch a (possibly sharded, possibly multi-host) pytree as NumPy arrays on every process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)
