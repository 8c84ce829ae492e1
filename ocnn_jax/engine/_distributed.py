"""Several processes on JAX's distributed runtime: starting it (explicit arguments, environment
variables or JAX's cluster auto-detection), a launcher for N processes on this machine, and the
clear stop of a process whose peer died.

What a multi-process sweep does (``ocnn_jax.sweep`` after ``init_distributed``): every process loads
the data and builds the same runs (keys derive from the seeds); the run axis is split over the global
mesh of all processes' devices, with arrays placed by ``jax.make_array_from_callback``
(``engine._runs.shard_runs`` / ``replicate``); metrics and final variables are gathered with
``process_allgather``; each process writes its own checkpoint shards; only process 0 writes results.

Failure: if a process dies (``kill -9``, OOM, preemption), the others fail in their next collective
(the gloo / NCCL connection closes) or, if they are computing, when the coordination service misses
the dead process's heartbeats (``HEARTBEAT_TIMEOUT_S``); ``stop_after_failure`` prints what happened
and how to resume, and exits at once (no shutdown barrier that would wait for the dead peer). The
local launcher also stops the remaining processes as soon as one exits with an error.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import jax

__all__ = ["init_distributed", "distributed_env", "launch_local", "stop_after_failure", "free_port", "barrier",
           "HEARTBEAT_TIMEOUT_S"]

#: Seconds without heartbeats after which the coordination service declares a process dead and stops
#: the others (JAX's default is 100); ``OCNN_JAX_HEARTBEAT_TIMEOUT`` overrides it.
HEARTBEAT_TIMEOUT_S = 30


def distributed_env(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """(coordinator_address, num_processes, process_id) from environment variables, each None if absent:
    ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` / ``JAX_PROCESS_ID``, else the torchrun-style
    ``MASTER_ADDR`` + ``MASTER_PORT`` / ``WORLD_SIZE`` / ``RANK``."""
    env = os.environ if env is None else env
    coordinator = env.get("JAX_COORDINATOR_ADDRESS")
    if coordinator is None and env.get("MASTER_ADDR"):
        coordinator = f"{env['MASTER_ADDR']}:{env.get('MASTER_PORT', '29500')}"
    count = env.get("JAX_NUM_PROCESSES", env.get("WORLD_SIZE"))
    index = env.get("JAX_PROCESS_ID", env.get("RANK"))
    return {"coordinator_address": coordinator, "num_processes": None if count is None else int(count),
            "process_id": None if index is None else int(index)}


def init_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None, *, heartbeat_timeout_s: int | None = None) -> None:
    """Start JAX's distributed runtime for this process (before any JAX computation).

    Arguments left None come from ``distributed_env`` and then from JAX's own cluster detection
    (SLURM, Open MPI, Cloud TPU, Kubernetes). CPU devices use the gloo collectives, so several
    processes of one machine (or CPU hosts) can run a sweep together. Does nothing if the runtime is
    already started.

    Raises:
      ValueError: the arguments are incomplete and no cluster was detected (JAX's message).
    """
    from jax._src import distributed as _jax_distributed  # the only way to ask whether it is running

    if _jax_distributed.global_state.client is not None:
        return
    found = distributed_env()
    coordinator_address = coordinator_address or found["coordinator_address"]
    num_processes = num_processes if num_processes is not None else found["num_processes"]
    process_id = process_id if process_id is not None else found["process_id"]
    if heartbeat_timeout_s is None:
        heartbeat_timeout_s = int(os.environ.get("OCNN_JAX_HEARTBEAT_TIMEOUT", HEARTBEAT_TIMEOUT_S))
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, heartbeat_timeout_seconds=heartbeat_timeout_s)


def barrier(name: str) -> None:
    """Wait until every process of a multi-process run reaches the barrier ``name``; nothing with one process."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def stop_after_failure(err: BaseException, command: str = "ocnn-jax sweep") -> None:
    """Print why this process of a multi-process run stops and how to continue, then exit(1) at once.

    ``os._exit`` skips the runtime's shutdown barrier, which would otherwise wait for the dead peer
    (and then abort with a stack trace)."""
    text = f"{type(err).__name__}: {err}".strip()
    peer = any(s in text for s in ("Gloo", "gloo", "Connection closed", "heartbeat", "UNAVAILABLE", "DEADLINE"))
    why = ("a collective failed, so another process of this run has most likely stopped (killed, out of memory "
           "or preempted)" if peer else "an error in this process")
    print(f"{command}: process {jax.process_index()} of {jax.process_count()} stops: {why}.\n"
          f"  {text.splitlines()[0] if text else ''}\n"
          f"  Finished chunks and the last complete checkpoint are kept: start the same command again with "
          f"--resume to continue from them.", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a local coordinator)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_local(worker_argv: Sequence[str], num_processes: int, *, env: Mapping[str, str] | None = None,
                 grace_s: float = 10.0, poll_s: float = 0.2) -> int:
    """Run ``num_processes`` copies of ``worker_argv`` on this machine as one distributed run.

    Process i gets ``--process-id i --num-processes N --coordinator 127.0.0.1:PORT`` appended and
    ``JAX_PLATFORMS=cpu`` unless the environment sets a platform. Their output goes to this process's
    stdout/stderr. As soon as one exits with an error, the others get SIGTERM (SIGKILL after
    ``grace_s``), a message says which process failed, and the first failing exit code is returned;
    0 when all succeed.
    """
    if num_processes < 1:
        raise ValueError(f"--num-processes must be >= 1, got {num_processes}")
    coordinator = f"127.0.0.1:{free_port()}"
    base_env = dict(os.environ if env is None else env)
    base_env.setdefault("JAX_PLATFORMS", "cpu")
    procs = []
    for i in range(num_processes):
        argv = [*worker_argv, "--process-id", str(i), "--num-processes", str(num_processes), "--coordinator", coordinator]
        procs.append(subprocess.Popen(argv, env=base_env))
    failed: tuple[int, int] | None = None
    try:
        while True:
            codes = [p.poll() for p in procs]
            bad = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if bad:
                failed = bad[0]
                break
            if all(c == 0 for c in codes):
                return 0
            time.sleep(poll_s)
    except KeyboardInterrupt:
        failed = (-1, 130)
    i, code = failed
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    who = "interrupted" if i < 0 else f"process {i} of {num_processes} {how}"
    print(f"ocnn-jax: {who}; stopping the other processes. Start the same command again with --resume to continue "
          f"from the finished chunks and the last complete checkpoint.", file=sys.stderr, flush=True)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return code if code > 0 else 1
