"""Reading and checking a model file before anything is built from it.

``load`` must never hand back a model that silently scores wrong (NaN weights that flag nothing, a
misshapen array that broadcasts), nor fail with a bare ``KeyError`` or NumPy's advice to enable
pickles. Every problem found here is a ``ModelFileError`` naming the file and the problem:

* the archive: empty file, a single ``.npy`` array, not a zip archive, truncated or corrupt members,
  object arrays (never unpickled);
* the header (``__meta__``): JSON, the format version, the method, the config, shapes and classes;
* the arrays: every expected array present (and nothing else), with the expected shape and dtype;
  the network variables' shapes come from tracing the method's program (``jax.eval_shape``, nothing
  is computed), so ``batch_stats`` and every other leaf are checked too;
* the values: weights, thresholds and preprocessing constants finite; run indices in range.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from ..core.errors import ModelFileError

__all__ = ["resolve_model_path", "read_archive", "check_header", "check_arrays", "expected_variables",
           "MAX_SEED"]

#: Seeds are uint32 (``ocnn_jax.core.inputs.resolve_seeds``).
MAX_SEED = 2**32 - 1
_NPY_MAGIC = b"\x93NUMPY"


def resolve_model_path(path: Any) -> str:
    """The file ``load(path)`` reads: ``path`` itself, or ``path + ".npz"`` (what ``save(path)`` wrote).

    Raises:
      FileNotFoundError: neither exists (the message names both).
      ModelFileError: ``path`` is a directory.
    """
    path = os.fspath(path)
    candidates = [path] if path.endswith(".npz") else [path, path + ".npz"]
    for p in candidates:
        if os.path.isdir(p):
            raise ModelFileError(p, "is a directory, not a model file")
        if os.path.exists(p):
            return p
    tried = " or ".join(repr(p) for p in candidates)
    raise FileNotFoundError(f"no model file at {tried}")


def read_archive(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header dict, {name: array}) of the ``.npz`` at ``path``, every member read and checked to be
    a plain array (never unpickled). Raises ``ModelFileError`` for anything that is not."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_NPY_MAGIC))
    except OSError as err:
        raise ModelFileError(path, f"cannot be read ({err.strerror or err})") from None
    if not head:
        raise ModelFileError(path, "is empty (0 bytes); it was not written completely or is not a model file")
    if head == _NPY_MAGIC:
        raise ModelFileError(path, "is a single NumPy array (.npy), not a model archive (.npz written by Model.save)")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(path, "is not a model archive: not a zip (.npz) file, or truncated (no zip directory)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as f:
            for name in f.files:
                arrays[name] = f[name]
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise ModelFileError(path, "holds Python objects (pickles), which are never loaded") from None
        raise ModelFileError(path, f"holds an unreadable array ({err})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, RuntimeError) as err:
        raise ModelFileError(path, f"is truncated or corrupt ({type(err).__name__}: {err})") from None
    except Exception as err:  # zlib.error and whatever else a damaged member raises
        raise ModelFileError(path, f"is truncated or corrupt ({type(err).__name__}: {err})") from None
    if "__meta__" not in arrays:
        raise ModelFileError(path, "is not an ocnn_jax model file (no __meta__ entry)")
    raw = arrays.pop("__meta__")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(path, f"__meta__ must be UTF-8 JSON bytes (uint8, 1-d), got {raw.dtype} {raw.shape}")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(path, f"__meta__ is not valid UTF-8 JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(path, f"__meta__ must be a JSON object, got {type(meta).__name__}")
    return meta, arrays


def check_header(path: str, meta: dict[str, Any], format_version: int, methods: Any) -> None:
    """The header's entries, their types and the format version (not yet the config's fields)."""
    version = meta.get("format_version")
    if version != format_version:
        raise ModelFileError(path, f"has model format version {version!r}; this library reads version {format_version}")
    required = {"method": str, "config": dict, "backbone": dict, "sample_shape": list, "classes": list,
                "preprocessing": dict}
    for key, typ in required.items():
        if key not in meta:
            raise ModelFileError(path, f"header entry {key!r} is missing")
        if not isinstance(meta[key], typ):
            raise ModelFileError(path, f"header entry {key!r} must be a {typ.__name__}, got {type(meta[key]).__name__}")
    if meta["method"] not in methods:
        raise ModelFileError(path, f"unknown method {meta['method']!r} (this library knows {sorted(methods)})")
    shape = meta["sample_shape"]
    if not 1 <= len(shape) <= 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ModelFileError(path, f"sample_shape must be 1 to 3 positive ints, got {shape}")
    if not meta["classes"]:
        raise ModelFileError(path, "classes is empty")
    for key in ("mode", "base"):
        if not isinstance(meta["preprocessing"].get(key), str):
            raise ModelFileError(path, f"preprocessing.{key} is missing or not a string")


def _same_dtype(actual: np.dtype, expected: Any) -> bool:
    if expected == "int":
        return np.issubdtype(actual, np.integer)
    if expected == "float":
        return np.issubdtype(actual, np.floating)
    return actual == np.dtype(expected)


def _dtype_name(expected: Any) -> str:
    return {"int": "an integer dtype", "float": "a float dtype"}.get(expected, str(np.dtype(expected)) if expected else "")


def check_arrays(path: str, arrays: dict[str, np.ndarray], expected: dict[str, tuple[tuple[int | None, ...], Any, bool]],
                 hint: str = "") -> None:
    """Every array of ``expected`` present with its shape and dtype, no other array, finite where asked.

    Args:
      expected: name -> (shape, dtype, finite). ``None`` in a shape matches any length; dtype is a
        NumPy dtype, "int" or "float" (any of that kind).
      hint: appended to shape errors (e.g. "does the encoder= module match?").
    """
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise ModelFileError(path, f"unexpected array {extra[0]!r} (shape {arrays[extra[0]].shape}); the file does not "
                                   "match the layout its header describes")
    for name, (shape, dtype, finite) in expected.items():
        if name not in arrays:
            raise ModelFileError(path, f"array {name!r} is missing")
        a = arrays[name]
        if len(a.shape) != len(shape) or any(e is not None and e != s for s, e in zip(a.shape, shape)):
            want = "(" + ", ".join("n" if e is None else str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ModelFileError(path, f"array {name!r} has shape {a.shape}, expected {want}{hint}")
        if dtype is not None and not _same_dtype(a.dtype, dtype):
            raise ModelFileError(path, f"array {name!r} has dtype {a.dtype}, expected {_dtype_name(dtype)}")
        if finite and np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
            bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
            kind = "NaN" if np.isnan(a).any() else "inf"
            raise ModelFileError(path, f"array {name!r} holds {bad} non-finite value(s) ({kind}); the model would "
                                       "score or flag wrongly")


def expected_variables(method_spec: Any, backbone: Any, config: Any, net_shape: tuple[int, ...], n_classes: int,
                       n_max: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Flat "variables/<path>" -> (shape of ONE run, dtype) of what ``fit`` stores for a deep method,
    from tracing its program (init, the phase transitions, export) with ``jax.eval_shape``."""
    import jax
    import jax.numpy as jnp
    from flax import traverse_util

    from ..core.batching import StackedData, eval_chunking
    from ..core.program import RunSpec

    n_chunks, _ = eval_chunking(n_max, config.score_batch_size)
    program = method_spec.make_program(backbone, config, n_max, n_chunks)

    def build(key, run, d):
        s = program.init(key, run, d)
        for i in range(len(program.phases)):
            t = program.transition(i)
            if t is not None:
                s = t(s, run, d)
        return s

    def exported(d):
        keys = jax.vmap(jax.random.key)(jnp.zeros(1, jnp.uint32))
        lam = jnp.ones(1, jnp.float32) if hasattr(config, "lams") else None
        runs = RunSpec(jnp.zeros(1, jnp.int32), jnp.full(1, 0.1, jnp.float32), lam)
        return method_spec.export(jax.vmap(build, in_axes=(0, 0, None))(keys, runs, d))

    data = StackedData(jax.ShapeDtypeStruct((n_classes, n_max) + tuple(net_shape), jnp.float32),
                       jax.ShapeDtypeStruct((n_classes,), jnp.int32))
    tree = jax.eval_shape(exported, data)
    flat = traverse_util.flatten_dict(_as_dict(tree), sep="/")
    return {f"variables/{k}": (tuple(v.shape[1:]), np.dtype(v.dtype)) for k, v in flat.items()}


def _as_dict(tree: Any) -> Any:
    if hasattr(tree, "_asdict"):
        tree = tree._asdict()
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {str(k): _as_dict(v) for k, v in tree.items()}
    return tree
