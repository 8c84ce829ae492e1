"""Ctrl-C (SIGINT) that stops training between compiled calls, never inside one.

A ``KeyboardInterrupt`` raised while XLA runs a program, or while a file is half written, can leave
the process in a bad state (we saw crashes with SIGSEGV). Inside ``deferred_sigint()`` the first
SIGINT only sets a flag; the driver looks at it after every compiled call (``interrupt_requested``),
writes its checkpoint and raises ``ocnn_jax.core.errors.Interrupted``. A second SIGINT raises
``KeyboardInterrupt`` at once (every file is written atomically, so nothing is torn either way).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["deferred_sigint", "interrupt_requested", "request_interrupt"]

_flag = threading.Event()
_depth = 0


def interrupt_requested() -> bool:
    """Has SIGINT arrived inside ``deferred_sigint()`` (and not been handled yet)?"""
    return _flag.is_set()


def request_interrupt() -> None:
    """What the first SIGINT does: ask the running training to stop at its next check."""
    _flag.set()


def _handler(signum: int, frame: Any) -> None:
    if _flag.is_set():  # second Ctrl-C: stop now
        raise KeyboardInterrupt
    _flag.set()
    print("\ninterrupt: stopping after the current compiled call and saving the checkpoint "
          "(Ctrl-C again to stop at once)", file=sys.stderr, flush=True)


@contextmanager
def deferred_sigint() -> Iterator[None]:
    """Within the block, SIGINT sets the flag instead of raising (main thread only; nested blocks
    and other threads leave the handler as it is). The previous handler is restored on exit."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth > 0:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    previous = signal.getsignal(signal.SIGINT)
    _flag.clear()
    signal.signal(signal.SIGINT, _handler)
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        signal.signal(signal.SIGINT, previous)
        _flag.clear()
