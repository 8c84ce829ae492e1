"""An exclusive lock on an output directory, so two writers never mix their files in it.

The lock is a file (``<directory>/.lock``) created with ``O_CREAT | O_EXCL``, which is atomic on local
filesystems and on NFSv3+. It holds JSON: the holder's PID, host name, process start time (Linux),
creation time, command line and a random token. A second writer finds the file and is refused with
a ``DirectoryLockedError`` naming the holder, unless the lock is stale:

* same host, and the PID no longer runs (or runs a different process: its start time differs) →
  the lock is taken over (the stale file is renamed away, its content checked, then a new lock is
  created with ``O_EXCL`` again, so two processes taking over at once cannot both win);
* another host → refused: liveness cannot be checked from here. The message names the host and PID
  and says which file to delete if that sweep is known to be gone.

Release removes the file only if it still holds this lock's token.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import time
from typing import Any

from ..core.errors import DirectoryLockedError

__all__ = ["DirectoryLock", "LOCK_NAME", "read_lock"]

#: File name of the lock inside the locked directory.
LOCK_NAME = ".lock"


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of stat(5)


def _pid_alive(pid: int, start: str | None) -> bool:
    """Does ``pid`` run on this host, and (when the lock recorded it) with the same start time?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    except OSError:
        return False
    if start is not None:
        now = _process_start(pid)
        if now is not None and now != start:
            return False  # the PID was reused by another process
    return True


def read_lock(path: str) -> dict[str, Any] | None:
    """The holder recorded in lock file ``path``; None when the file does not exist. A file that is
    not valid JSON (a writer died between create and write) gives {}."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "an unknown process (the lock file is empty or unreadable)"
    cmd = " ".join(holder.get("argv") or [])
    return (f"PID {holder.get('pid')} on host {holder.get('host')!r} since {holder.get('created', '?')}"
            + (f" ({cmd})" if cmd else ""))


class DirectoryLock:
    """Exclusive lock on ``directory`` (which must exist); a context manager.

    Args:
      directory: the directory to lock.
      name: lock file name inside it.

    Raises (on ``acquire``):
      DirectoryLockedError: a live process on this host, or any process on another host, holds it.
    """

    def __init__(self, directory: str, name: str = LOCK_NAME):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, name)
        self.token: str | None = None
        self.host = socket.gethostname()

    @property
    def held(self) -> bool:
        return self.token is not None

    def acquire(self) -> DirectoryLock:
        if self.held:
            raise RuntimeError(f"{self.path!r} is already held by this DirectoryLock")
        for _ in range(10):  # every retry follows a stale lock removed (by us or a competitor)
            if self._try_create():
                return self
            holder = read_lock(self.path)
            if holder is None:
                continue  # released meanwhile
            if not self._is_stale(holder):
                raise DirectoryLockedError(self.path, holder, self._refusal(holder))
            self._remove_stale(holder)
        raise DirectoryLockedError(self.path, read_lock(self.path) or {},
                                   f"could not take the lock {self.path!r}: other processes keep taking it")

    def release(self) -> None:
        """Remove the lock file if it is still ours (never another process's lock)."""
        if not self.held:
            return
        holder = read_lock(self.path)
        if holder is not None and holder.get("token") == self.token:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.token = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # ----------------------------------------------------------------------------------------------
    def _try_create(self) -> bool:
        token = secrets.token_hex(16)
        record = {
            "pid": os.getpid(),
            "host": self.host,
            "start": _process_start(os.getpid()),
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "argv": list(sys.argv),
            "token": token,
        }
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(record).encode())
            fh.flush()
            os.fsync(fh.fileno())
        self.token = token
        return True

    def _is_stale(self, holder: dict[str, Any]) -> bool:
        if not holder:
            # Empty/unreadable: a writer may be between create and write. Stale only when old.
            try:
                return time.time() - os.path.getmtime(self.path) > 60
            except OSError:
                return False
        if holder.get("host") != self.host:
            return False  # cannot check a process on another host
        try:
            pid = int(holder.get("pid"))
        except (TypeError, ValueError):
            return True
        return not _pid_alive(pid, holder.get("start"))

    def _remove_stale(self, holder: dict[str, Any]) -> None:
        """Move the stale lock away; if what was moved is not the stale lock (another process took
        over in between), put it back."""
        aside = f"{self.path}.stale-{secrets.token_hex(6)}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # someone else removed it
        moved = read_lock(aside)
        if moved != holder:
            try:
                os.link(aside, self.path)  # restore the live lock unless a new one exists already
            except OSError:
                pass
        try:
            os.remove(aside)
        except FileNotFoundError:
            pass

    def _refusal(self, holder: dict[str, Any]) -> str:
        same_host = holder.get("host") == self.host
        hint = (
            "wait for it to finish or stop it"
            if same_host
            else f"if no sweep runs on {holder.get('host')!r} any more, delete {self.path!r}"
        )
        return f"output directory {self.directory!r} is locked by {_describe(holder)}; {hint}, or use another directory"
