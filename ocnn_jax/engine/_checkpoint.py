"""Atomic, device-independent checkpoints of a training state between compiled calls.

A checkpoint is one ``.npz``: every leaf of the state pytree (PRNG keys as their raw key data), the
per-epoch metrics gathered so far, the position (phase, next epoch) and a fingerprint of the tree
structure. It is written to a temporary file in the same directory, flushed, fsync'd and renamed over
the old one, so a process killed at any moment (``kill -9``) leaves either the previous or the new
checkpoint, never a torn one. Resuming rebuilds the exact state, so the run continues bit for bit as
if it had not stopped (the same compiled programs see the same inputs).

Several processes (``jax.distributed``): each process writes the rows of the run axis that its own
devices hold, as ``<path>.shards/pos-<phase>-<epoch>.p<i>of<n>.npz`` (atomic like the single file, no
gathering), and keeps its last two positions. A checkpoint is the newest position for which all n
processes wrote their file: a process killed while writing (or before it could) leaves the previous
complete position, since the processes save after the same compiled calls and no process can get
more than one save ahead of another (each chunk ends in a collective). ``load`` reads every shard file of
that position (the directory must be on a shared filesystem) and assembles the full state, so a
sweep can also resume with another number of processes.
"""

from __future__ import annotations

import glob
import json
import os
import re
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

    @property
    def shard_dir(self) -> str:
        """Where the processes of a multi-process run write their shard files."""
        return self.path + ".shards"

    def exists(self) -> bool:
        return os.path.exists(self.path) or self._complete_position() is not None

    def maybe_save(self, pos: Position, state: Any, metrics: dict[str, np.ndarray]) -> bool:
        """Save if ``every_s`` seconds passed since the last save; returns whether it saved. With
        several processes, process 0's clock decides for all (one broadcast), so they save together."""
        due = time.monotonic() - self._last >= self.every_s
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            due = bool(multihost_utils.broadcast_one_to_all(np.int32(due)))
        if not due:
            return False
        self.save(pos, state, metrics)
        return True

    def save(self, pos: Position, state: Any, metrics: dict[str, np.ndarray]) -> None:
        """Write ``state`` (device arrays are fetched), ``metrics`` and ``pos`` atomically (with several
        processes: each process its own rows, ``shard_dir``)."""
        if jax.process_count() > 1:
            self._save_shards(pos, state, metrics)
            return
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
        if self._complete_position() is not None:
            meta, leaves, metrics = self._read_shards()
        elif os.path.exists(self.path):
            try:
                with np.load(self.path, allow_pickle=False) as f:
                    meta = json.loads(bytes(f["__meta__"]).decode())
                    leaves = [f[f"leaf/{i}"] for i in range(sum(k.startswith("leaf/") for k in f.files))]
                    metrics = {k[len("metrics/") :]: f[k] for k in f.files if k.startswith("metrics/")}
            except Exception as err:
                raise ValueError(f"checkpoint {self.path!r} cannot be read ({err}); delete it to start over") from None
        else:
            return None
        if self.identity is not None and meta.get("identity") != self.identity:
            where = self.shard_dir if "shapes" in meta else self.path
            raise ValueError(
                f"checkpoint {where!r} belongs to another run (identity {meta.get('identity')!r}, expected "
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
        """Remove the checkpoint (after the results it protects are safely written): process 0 the
        single file, every process its own shard files."""
        if jax.process_index() == 0 and os.path.exists(self.path):
            os.remove(self.path)
        lead = jax.process_index() == 0  # process 0 also sweeps up what others (or a killed run) left
        for f in self._shard_files(process=None if lead else jax.process_index()):
            try:
                os.remove(f["path"])
            except FileNotFoundError:  # another process removed it first
                pass
        if lead:
            try:
                os.rmdir(self.shard_dir)
            except OSError:  # absent, or a slower process is still removing its files
                pass

    # -- several processes ------------------------------------------------------------------------
    _SHARD = re.compile(r"pos-(\d+)-(\d+)\.p(\d+)of(\d+)\.npz$")

    def _shard_files(self, process: int | None = None) -> list[dict[str, Any]]:
        """The shard files present: path, position, process index and process count of each."""
        out = []
        for path in glob.glob(os.path.join(glob.escape(self.shard_dir), "pos-*.npz")):
            m = self._SHARD.search(os.path.basename(path))
            if m and (process is None or int(m.group(3)) == process):
                out.append({"path": path, "pos": Position(int(m.group(1)), int(m.group(2))),
                            "process": int(m.group(3)), "count": int(m.group(4))})
        return out

    def _complete_position(self) -> Position | None:
        """The newest position for which every process of its run wrote its shard file."""
        files = self._shard_files()
        complete = [f["pos"] for f in files
                    if len({g["process"] for g in files if g["pos"] == f["pos"] and g["count"] == f["count"]}) == f["count"]]
        return max(complete) if complete else None

    def _save_shards(self, pos: Position, state: Any, metrics: dict[str, np.ndarray]) -> None:
        """This process's rows of every leaf (its addressable shards along the run axis)."""
        leaves, treedef = jax.tree.flatten(state)
        arrays: dict[str, np.ndarray] = {}
        shapes = []
        for i, leaf in enumerate(leaves):
            raw = jax.random.key_data(leaf) if _is_key(leaf) else leaf
            shapes.append([list(raw.shape), str(raw.dtype)])
            for j, shard in enumerate(s for s in raw.addressable_shards if s.replica_id == 0):
                start = shard.index[0].start if raw.ndim and shard.index[0].start is not None else 0
                arrays[f"leaf/{i}/{j}"] = np.asarray(shard.data)
                arrays[f"start/{i}/{j}"] = np.asarray(start, np.int64)
        arrays.update({f"metrics/{k}": np.asarray(v) for k, v in metrics.items()})
        meta = {"phase": pos.phase, "epoch": pos.epoch, "treedef": str(treedef), "shapes": shapes,
                "identity": self.identity}
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        me, n = jax.process_index(), jax.process_count()
        atomic_savez(os.path.join(self.shard_dir, f"pos-{pos.phase}-{pos.epoch:06d}.p{me}of{n}.npz"), arrays)
        self._last = time.monotonic()
        self.saves += 1
        mine = sorted(self._shard_files(process=me), key=lambda f: f["pos"])
        for f in mine[:-2]:  # keep this process's last two positions
            os.remove(f["path"])

    def _read_shards(self) -> tuple[dict[str, Any], list[np.ndarray], dict[str, np.ndarray]]:
        """(meta, full leaves, metrics) of the newest complete position, assembled from every shard file."""
        pos = self._complete_position()
        files = [f for f in self._shard_files() if f["pos"] == pos]
        leaves: list[np.ndarray] | None = None
        metrics: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {}
        for f in files:
            try:
                with np.load(f["path"], allow_pickle=False) as z:
                    meta = json.loads(bytes(z["__meta__"]).decode())
                    if leaves is None:
                        leaves = [np.zeros(shape, dtype) for shape, dtype in meta["shapes"]]
                    for key in z.files:
                        if key.startswith("leaf/"):
                            _, i, j = key.split("/")
                            block, start = z[key], int(z[f"start/{i}/{j}"])
                            if block.ndim:
                                leaves[int(i)][start : start + block.shape[0]] = block
                            else:
                                leaves[int(i)][...] = block
                    metrics = metrics or {k[len("metrics/") :]: z[k] for k in z.files if k.startswith("metrics/")}
            except Exception as err:
                raise ValueError(f"checkpoint shard {f['path']!r} cannot be read ({err}); delete {self.shard_dir!r} "
                                 "to start over") from None
        return meta, leaves or [], metrics
