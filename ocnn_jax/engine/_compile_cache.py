"""JAX's persistent compilation cache, on by default: a program compiled once (a sweep's chunk, a
rerun of the same fit) is loaded from disk by later processes instead of compiled again.

Directory: ``$OCNN_JAX_COMPILATION_CACHE`` if set, else ``$XDG_CACHE_HOME/ocnn_jax/jax_cache``
(``~/.cache/ocnn_jax/jax_cache``). ``OCNN_JAX_COMPILATION_CACHE=off`` (or ``0``, ``none``, empty)
disables it. A directory configured through JAX itself (``JAX_COMPILATION_CACHE_DIR`` or
``jax.config.update("jax_compilation_cache_dir", ...)``) is left alone. JAX stores only programs whose
compilation took at least ``jax_persistent_cache_min_compile_time_secs`` (1 s by default).
"""

from __future__ import annotations

import os

import jax

__all__ = ["ensure_compilation_cache", "default_cache_dir", "CACHE_ENV"]

#: Environment variable naming the cache directory ("off" disables the cache).
CACHE_ENV = "OCNN_JAX_COMPILATION_CACHE"
_OFF = ("", "0", "off", "none", "false", "no")


def default_cache_dir() -> str | None:
    """The directory ``ensure_compilation_cache`` uses, or None when the environment disables it."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else os.path.expanduser(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ocnn_jax", "jax_cache")


def ensure_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at ``default_cache_dir()`` unless JAX already has a
    cache directory; returns the directory in use (None: no persistent cache). Called by ``fit`` and
    ``sweep`` before they compile; cheap to call again."""
    current = jax.config.jax_compilation_cache_dir
    if current:
        return current
    path = default_cache_dir()
    if path is None:
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home etc.: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    return path
