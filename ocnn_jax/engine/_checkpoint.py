"""Atomic, device-independent checkpoints of a training state between compiled calls.

A checkpoint is one ``.npz``: every leaf of the state pytree (PRNG keys as their raw key data), the
per-epoch metrics gathered so far, the position (phase, next epoch) and a fingerprint of the tree
structure. It is written to a temporary file in the same directory, flushed, fsync'd and renamed over
the old one, so a process killed at any moment (``kill -9``) leaves either the previous or the new
checkpoint, never a torn one. Resuming rebuilds the exact state, so the run continues bit for bit as
if it had not stopped (the same compiled programs see the same inputs).

Multi-host: every process holds the gathered state; only process 0 writes, every process reads (the
directory must be on a shared filesystem).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from ._devices import to_host

__all__ = ["Position", "Checkpointer", "atomic_write_bytes", "atomic_savez"]


class Position(NamedTuple):
    """Where a run stands: the next epoch to train in phase ``phase`` (0-based)."""

    phase: int
    epoch: int


def _atomic(path: str, write: Callable[[Any], None], suffix: str = "") -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The temporary file is created with mode 0o666 minus the process umask (as ``open`` would), so the
    final file is readable by whoever the umask allows (``tempfile.mkstemp`` would make it 0o600).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    while True:
        tmp = os.path.join(directory, f".tmp-{secrets.token_hex(8)}{suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (best effort: not every platform opens directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temp file + fsync + rename)."""
    _atomic(path, lambda fh: fh.write(payload))


def atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to ``path`` atomically."""
    _atomic(path, lambda fh: np.savez(fh, **arrays), suffix=".npz")


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


class Checkpointer:
    """Saves and restores one training state at ``path``.

    Args:
      path: the checkpoint file (``.npz``).
      every_s: ``maybe_save`` writes at most once per this many seconds (0: after every call).
        ``save`` always writes.
      identity: optional string naming what is trained (e.g. a sweep's fingerprint digest and chunk);
        it is stored in the checkpoint, and ``load`` refuses a checkpoint with another identity.
    """

    def __init__(self, path: str, every_s: float = 0.0, identity: str | None = None):
        self.path = os.fspath(path)
        self.every_s = float(every_s)
        self.identity = identity
        self._last = -float("inf")
        self.saves = 0

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def maybe_save(self, pos: Position, state: Any, metrics: dict[str, np.ndarray]) -> bool:
        """Save if ``every_s`` seconds passed since the last save; returns whether it saved."""
        if time.monotonic() - self._last < self.every_s:
            return False
        self.save(pos, state, metrics)
        return True

    def save(self, pos: Position, state: Any, metrics: dict[str, np.ndarray]) -> None:
        """Write ``state`` (device arrays are fetched), ``metrics`` and ``pos`` atomically."""
        leaves, treedef = jax.tree.flatten(state)
        host = to_host([jax.random.key_data(x) if _is_key(x) else x for x in leaves])
        self._last = time.monotonic()
        if jax.process_index() != 0:
            return
        arrays = {f"leaf/{i}": np.asarray(v) for i, v in enumerate(host)}
        arrays.update({f"metrics/{k}": np.asarray(v) for k, v in metrics.items()})
        meta = {"phase": pos.phase, "epoch": pos.epoch, "treedef": str(treedef), "identity": self.identity}
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        atomic_savez(self.path, arrays)
        self.saves += 1

    def load(self, template: Callable[[Position], Any]) -> tuple[Position, Any, dict[str, np.ndarray]] | None:
        """Restore (position, state, metrics), or None when there is no checkpoint.

        Args:
          template: position -> abstract state (``jax.eval_shape``) at that position; gives the tree
            structure, dtypes and which leaves are PRNG keys.
        """
        if not self.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                meta = json.loads(bytes(f["__meta__"]).decode())
                leaves = [f[f"leaf/{i}"] for i in range(sum(k.startswith("leaf/") for k in f.files))]
                metrics = {k[len("metrics/") :]: f[k] for k in f.files if k.startswith("metrics/")}
        except Exception as err:
            raise ValueError(f"checkpoint {self.path!r} cannot be read ({err}); delete it to start over") from None
        if self.identity is not None and meta.get("identity") != self.identity:
            raise ValueError(
                f"checkpoint {self.path!r} belongs to another run (identity {meta.get('identity')!r}, expected "
                f"{self.identity!r}); delete it or use another output directory"
            )
        pos = Position(int(meta["phase"]), int(meta["epoch"]))
        abstract = template(pos)
        t_leaves, treedef = jax.tree.flatten(abstract)
        if str(treedef) != meta["treedef"] or len(t_leaves) != len(leaves):
            raise ValueError(
                f"checkpoint {self.path!r} does not match this run's state structure (different method, "
                "config or number of runs?); delete it or use another output directory"
            )
        restored = []
        for saved, t in zip(leaves, t_leaves):
            if _is_key(t):
                restored.append(jax.random.wrap_key_data(saved, impl=t.dtype._impl))  # abstract key: impl from dtype
            else:
                if saved.shape != t.shape or saved.dtype != t.dtype:
                    raise ValueError(
                        f"checkpoint {self.path!r}: leaf of shape {saved.shape} {saved.dtype}, expected "
                        f"{t.shape} {t.dtype}"
                    )
                restored.append(jax.numpy.asarray(saved))
        return pos, jax.tree.unflatten(treedef, restored), metrics

    def clear(self) -> None:
        """Remove the checkpoint (after the results it protects are safely written)."""
        if jax.process_index() == 0 and self.exists():
            os.remove(self.path)
