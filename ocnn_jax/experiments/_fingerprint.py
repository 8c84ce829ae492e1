"""The fingerprint of a sweep: everything that decides its numbers, so that a sweep directory is only
ever continued by the very same sweep.

A fingerprint is a JSON-able dict:

    dataset          registry name of the data set
    dataset_digest   SHA-256 of the data itself (train/test arrays with dtype and shape, class names)
    method           the method name
    config           per grid group: the method's complete resolved config (every field, defaults
                     included), as ``dataclasses.asdict`` gives it
    classes          the normal classes (names)
    seeds            the seed list
    grid             the hyperparameter grid
    library          the package's compatibility version: the major version, or "0.<minor>" before
                     1.0 (a 0.x minor release may change numbers)

``fingerprint_digest`` hashes its canonical JSON; ``differences`` lists, entry by entry (nested
configs key by key), what two fingerprints disagree on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["dataset_digest", "compatibility_version", "make_fingerprint", "canonical", "fingerprint_digest",
           "differences"]


def dataset_digest(arrays: dict[str, np.ndarray], classes: list[str] | tuple[str, ...] = ()) -> str:
    """SHA-256 (hex) of named arrays (name, dtype, shape and bytes of each, in name order) and the
    class names: equal exactly when the data is."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    h.update(json.dumps([str(c) for c in classes]).encode())
    return h.hexdigest()


def compatibility_version(version: str) -> str:
    """"1.4.2" -> "1"; "0.3.1" -> "0.3" (before 1.0 a minor release may change results)."""
    parts = str(version).split(".")
    major = parts[0]
    if major == "0" and len(parts) > 1:
        return f"0.{parts[1]}"
    return major


def canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings, NumPy scalars plain),
    so a fingerprint compares equal to its stored copy."""
    return json.loads(json.dumps(value, sort_keys=True, default=_plain))


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def make_fingerprint(*, dataset: str, dataset_digest: str, method: str, config: dict[str, Any],
                     classes: list[Any], seeds: list[int], grid: dict[str, list[Any]], library: str) -> dict[str, Any]:
    """The fingerprint dict (canonical JSON values); see the module docstring for the entries."""
    return canonical({
        "dataset": dataset,
        "dataset_digest": dataset_digest,
        "method": method,
        "config": config,
        "classes": list(classes),
        "seeds": list(seeds),
        "grid": grid,
        "library": library,
    })


def fingerprint_digest(fingerprint: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``fingerprint``."""
    return hashlib.sha256(json.dumps(canonical(fingerprint), sort_keys=True).encode()).hexdigest()


def differences(stored: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    """One line per entry that differs: ``"config.default.epochs: 150 in the directory, 1 in this call"``.

    Nested dicts are compared key by key; lists and scalars as a whole."""
    stored, current = canonical(stored), canonical(current)
    out: list[str] = []
    for key in sorted(set(stored) | set(current)):
        name = f"{prefix}{key}"
        if key not in stored:
            out.append(f"{name}: absent in the directory, {_short(current[key])} in this call")
        elif key not in current:
            out.append(f"{name}: {_short(stored[key])} in the directory, absent in this call")
        elif isinstance(stored[key], dict) and isinstance(current[key], dict):
            out.extend(differences(stored[key], current[key], prefix=f"{name}."))
        elif stored[key] != current[key]:
            out.append(f"{name}: {_short(stored[key])} in the directory, {_short(current[key])} in this call")
    return out


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
