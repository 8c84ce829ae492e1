"""Layer 5, running programs on devices: CPU devices, the run axis and its mesh, the chunked driver
(progress, NaN checks, training callbacks and loggers), checkpoints, and several processes
(``jax.distributed``)."""

from ._callbacks import Callback, CSVLogger, EpochMetrics, TensorBoardLogger
from ._checkpoint import Checkpointer, Position, atomic_savez, atomic_write_bytes
from ._compile_cache import CACHE_ENV, default_cache_dir, ensure_compilation_cache
from ._distributed import distributed_env, init_distributed, launch_local
from ._devices import parse_cpu_devices, set_cpu_devices, to_host, usable_cores
from ._driver import chunk_size, execute
from ._runs import RUN_AXIS, make_run_mesh, replicate, run_mapper, resolve_run_axis, shard_runs

__all__ = [
    "execute",
    "EpochMetrics",
    "Callback",
    "CSVLogger",
    "TensorBoardLogger",
    "chunk_size",
    "Checkpointer",
    "Position",
    "atomic_savez",
    "atomic_write_bytes",
    "RUN_AXIS",
    "make_run_mesh",
    "run_mapper",
    "resolve_run_axis",
    "set_cpu_devices",
    "parse_cpu_devices",
    "usable_cores",
    "to_host",
    "ensure_compilation_cache",
    "default_cache_dir",
    "CACHE_ENV",
    "init_distributed",
    "distributed_env",
    "launch_local",
    "shard_runs",
    "replicate",
]
