"""A sweep's output directory: used only by the sweep that made it, by one writer at a time.

``SweepDirectory(out_dir, fingerprint, resume=..., overwrite=...)``:

* ``check()`` (read-only, before any training; creates nothing): ``out_dir`` must be a directory or
  creatable; a directory holding sweep state (results, chunks, checkpoints, a fingerprint) is used
  only with ``resume`` and a matching fingerprint, or emptied first with ``overwrite``. Otherwise a
  ``SweepDirectoryError`` says what is there, what differs (entry by entry) and how to start fresh;
  nothing in the directory is touched.
* ``open()`` (a context manager): creates the directory, takes its ``DirectoryLock`` for the whole
  sweep, checks again under the lock, removes the old state when overwriting, and writes
  ``fingerprint.json`` (the fingerprint, its digest, and the chunking of the first call, which a
  resumed call reuses so that its chunks are the same).
* ``verify_chunk(...)``: a finished chunk (or a checkpoint) found on disk is used only when it
  carries this sweep's fingerprint digest and holds exactly the planned runs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..core.errors import SweepDirectoryError
from ..engine._checkpoint import atomic_write_bytes
from ..engine._dirlock import DirectoryLock
from ._fingerprint import canonical, differences, fingerprint_digest

__all__ = ["SweepDirectory", "FINGERPRINT_FILE", "check_creatable_dir", "check_new_file_path"]

FINGERPRINT_FILE = "fingerprint.json"
#: What a sweep writes into its directory (``overwrite`` removes exactly these).
_STATE_FILES = ("results.json", "results.csv", "results.md", "extremes.npz", FINGERPRINT_FILE)
_STATE_DIRS = ("chunks", "checkpoints")
_FIGURE_PREFIXES = ("auroc_", "extremes_", "noise_rcae_")


def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_creatable_dir(path: str, what: str) -> None:
    """``path`` is a directory, or can be created (its nearest existing ancestor is a writable
    directory). Creates nothing."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise SweepDirectoryError(path, f"{what} {path!r} exists and is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise SweepDirectoryError(path, f"{what} {path!r} is not writable")
        return
    anchor = _nearest_existing(path)
    if not os.path.isdir(anchor):
        raise SweepDirectoryError(path, f"{what} {path!r} cannot be created: {anchor!r} is not a directory")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise SweepDirectoryError(path, f"{what} {path!r} cannot be created: {anchor!r} is not writable")


def check_new_file_path(path: str, what: str = "--json") -> None:
    """A file can be written at ``path`` (its folder exists or can be created; ``path`` itself is not
    a directory). Creates nothing; raises ``ValueError`` naming ``what``."""
    if os.path.isdir(path) or path.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise ValueError(f"{what} {path!r} is a directory; give a file path")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path!r} is not writable")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        check_creatable_dir(parent, f"the folder of {what}")
    except SweepDirectoryError as err:
        raise ValueError(str(err)) from None


class SweepDirectory:
    """The output directory of one sweep (see the module docstring).

    Args:
      out_dir: the directory.
      fingerprint: the sweep's fingerprint (``_fingerprint.make_fingerprint``).
      resume: continue the sweep stored there (it must have the same fingerprint).
      overwrite: delete the sweep state stored there first (files of other programs are kept).
      writer: whether this process writes (multi-host: process 0); others only check.
    """

    def __init__(self, out_dir: str, fingerprint: dict[str, Any], *, resume: bool = False, overwrite: bool = False,
                 writer: bool = True):
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other: continue the sweep in out_dir, or delete it")
        self.out_dir = os.fspath(out_dir)
        self.fingerprint = canonical(fingerprint)
        self.digest = fingerprint_digest(self.fingerprint)
        self.resume = resume
        self.overwrite = overwrite
        self.writer = writer
        self.stored: dict[str, Any] | None = None  # fingerprint.json of the directory when resuming
        self._lock: DirectoryLock | None = None

    # ----------------------------------------------------------------------------------------------
    def state(self) -> list[str]:
        """The sweep state in the directory: relative paths of results, chunks, checkpoints, fingerprint."""
        found = []
        for name in _STATE_FILES:
            if os.path.exists(os.path.join(self.out_dir, name)):
                found.append(name)
        for name in _STATE_DIRS:
            d = os.path.join(self.out_dir, name)
            if os.path.isdir(d):
                found += [f"{name}/{f}" for f in sorted(os.listdir(d)) if not f.startswith(".tmp-")]
        return found

    def check(self) -> None:
        """Refuse (``SweepDirectoryError``) a directory this call must not use; see the module docstring.
        Reads only."""
        check_creatable_dir(self.out_dir, "out_dir")
        found = self.state() if os.path.isdir(self.out_dir) else []
        self.stored = None
        if not found or self.overwrite:
            return
        where = f"out_dir {self.out_dir!r}"
        listing = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        if not self.resume:
            raise SweepDirectoryError(
                self.out_dir,
                f"{where} already holds a sweep ({listing}); pass resume=True (--resume) to continue it, "
                "overwrite=True (--overwrite) to delete it and start fresh, or use another directory",
            )
        stored = self._read_stored()
        diff = differences(stored["fingerprint"], self.fingerprint)
        if diff or stored.get("digest") != self.digest:
            raise SweepDirectoryError(
                self.out_dir,
                f"{where} holds a different sweep; it was not changed. Differences:\n  " + "\n  ".join(diff or ["digest"])
                + "\nTo start fresh: use another directory, or overwrite=True (--overwrite) to delete the old results."
                " To continue the old sweep: repeat its arguments with --resume.",
                diff,
            )
        self.stored = stored

    def _read_stored(self) -> dict[str, Any]:
        path = os.path.join(self.out_dir, FINGERPRINT_FILE)
        hint = ("it cannot be resumed safely; use another directory, or overwrite=True (--overwrite) to delete "
                "its results and start fresh")
        if not os.path.exists(path):
            raise SweepDirectoryError(
                self.out_dir, f"out_dir {self.out_dir!r} holds sweep files but no {FINGERPRINT_FILE} (written by an "
                              f"older version or by something else), so what they hold is unknown; {hint}")
        try:
            with open(path, "rb") as fh:
                stored = json.loads(fh.read().decode())
            if not isinstance(stored, dict) or not isinstance(stored.get("fingerprint"), dict):
                raise ValueError("no 'fingerprint' object")
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise SweepDirectoryError(self.out_dir, f"{path!r} cannot be read ({err}); {hint}") from None
        return stored

    # ----------------------------------------------------------------------------------------------
    @property
    def stored_chunking(self) -> dict[str, Any]:
        """The chunking recorded by the first call ({} for a fresh sweep)."""
        return dict((self.stored or {}).get("chunking") or {})

    @contextmanager
    def open(self, chunking: dict[str, Any]) -> Iterator[SweepDirectory]:
        """Create the directory, hold its lock for the block, check again under the lock, remove the
        old state when overwriting, and record the fingerprint and ``chunking``."""
        if not self.writer:
            yield self
            return
        os.makedirs(self.out_dir, exist_ok=True)
        lock = DirectoryLock(self.out_dir)
        lock.acquire()
        self._lock = lock
        try:
            self.check()  # another writer may have changed it between check() and the lock
            if self.overwrite:
                self._remove_state()
            record = {"fingerprint": self.fingerprint, "digest": self.digest,
                      "chunking": self.stored_chunking or canonical(chunking)}
            atomic_write_bytes(os.path.join(self.out_dir, FINGERPRINT_FILE), json.dumps(record, indent=2).encode())
            yield self
        finally:
            self._lock = None
            lock.release()

    def _remove_state(self) -> None:
        for name in _STATE_FILES:
            p = os.path.join(self.out_dir, name)
            if os.path.exists(p):
                os.remove(p)
        for name in _STATE_DIRS:
            p = os.path.join(self.out_dir, name)
            if os.path.isdir(p):
                shutil.rmtree(p)
        figures = os.path.join(self.out_dir, "figures")
        if os.path.isdir(figures):
            for f in os.listdir(figures):
                if f.startswith(_FIGURE_PREFIXES) and f.endswith(".png"):
                    os.remove(os.path.join(figures, f))

    # ----------------------------------------------------------------------------------------------
    def chunk_identity(self, tag: str, classes: list[Any], seeds: list[int]) -> str:
        """What a chunk's checkpoint must carry: this sweep's digest, the chunk tag and its runs."""
        return f"{self.digest}:{tag}:classes={list(classes)}:seeds={list(seeds)}"

    def verify_chunk(self, path: str, finished: dict[str, Any], tag: str, classes: list[int], seeds: list[int],
                     group: str) -> None:
        """A finished chunk file is this sweep's and holds exactly the planned (class, seed) runs."""
        if finished.get("fingerprint") != self.digest:
            raise SweepDirectoryError(
                self.out_dir, f"chunk {path!r} was written by another sweep (fingerprint {finished.get('fingerprint')!r}, "
                              f"this sweep {self.digest!r}); use another directory or overwrite=True (--overwrite)")
        runs = finished.get("runs") or []
        have = sorted({(int(r["normal_class"]), int(r["seed"])) for r in runs})
        want = sorted({(int(c), int(s)) for c in classes for s in seeds})
        groups = {r.get("group") for r in runs}
        if have != want or groups != {group}:
            raise SweepDirectoryError(
                self.out_dir,
                f"chunk {path!r} holds the runs (class, seed) {have} of group {sorted(map(str, groups))}, but this call "
                f"plans {want} of group {group!r} for {tag}: a different chunking (the first call used at most "
                f"{self.stored_chunking.get('limits')} runs per chunk; give the same --max-models or none); nothing "
                "was changed",
            )

