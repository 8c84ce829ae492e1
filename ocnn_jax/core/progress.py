"""Progress display on the host: a tqdm bar in a terminal or notebook, plain log lines otherwise.

A bar redrawn with carriage returns fills a log file (CI, ``nohup``, a pipe) with thousands of
partial lines, so when stderr is not a terminal (and not a Jupyter kernel) ``progress`` returns a
``PlainProgress`` that prints one complete line at most every ``interval`` seconds and one when it
closes. Both offer the part of tqdm's interface the library uses: ``update``, ``set_description``,
``set_postfix``, ``set_postfix_str``, ``close``, iteration and use as a context manager.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

__all__ = ["interactive", "progress", "PlainProgress"]


def interactive(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is a terminal, or when running inside a Jupyter kernel."""
    stream = sys.stderr if stream is None else stream
    try:
        if stream is not None and stream.isatty():
            return True
    except (AttributeError, ValueError):  # closed or unusual streams
        pass
    return "ipykernel" in sys.modules


class PlainProgress:
    """tqdm-like progress that writes whole lines: ``desc: n/total unit [postfix]``, time-limited.

    Args:
      iterable: optional iterable to wrap (its length is ``total`` when not given).
      total: the count at completion (None: unknown).
      desc: the line's prefix.
      unit: what is counted ("epoch", "chunk", "run").
      initial: the count to start from (a resumed run).
      interval: seconds between lines; the first update and ``close`` always print.
      stream: where to write (default stderr).
    """

    def __init__(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, interval: float = 10.0, stream: TextIO | None = None,
                 **_ignored: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.interval, self.stream = interval, stream
        self.postfix = ""
        self._last: float | None = None
        self._last_line = ""
        self._closed = False

    def _write(self) -> None:
        total = "" if self.total is None else f"/{self.total}"
        line = f"{self.desc}: {self.n}{total} {self.unit}" + (f" [{self.postfix}]" if self.postfix else "")
        if line != self._last_line:
            print(line.strip(), file=self.stream or sys.stderr, flush=True)
            self._last_line = line
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._last is None or time.monotonic() - self._last >= self.interval:
            self._write()

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = desc

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._last is not None or (self.total is not None and self.n >= self.total):
                self._write()

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Silent(PlainProgress):
    """Disabled progress: counts, writes nothing."""

    def _write(self) -> None:
        pass


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, initial: int = 0, leave: bool = True, position: int | None = None,
             interval: float = 10.0) -> Any:
    """A progress display: tqdm in a terminal or notebook, ``PlainProgress`` lines otherwise, nothing
    when ``enabled`` is False. Arguments as in tqdm (``interval``: seconds between plain lines)."""
    if not enabled:
        return _Silent(iterable, total=total, desc=desc, unit=unit, initial=initial)
    if interactive():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave, position=position)
    return PlainProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, interval=interval)
