"""Validation of user inputs: clear errors naming the argument, what was given and what was expected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_samples", "network_shape", "resolve_seeds", "check_labels", "MAX_SEED"]


def as_samples(x: Any, name: str = "x", *, min_samples: int = 1) -> np.ndarray:
    """Validate a sample array: numeric, rank ≥ 2 ((n, features) or (n, H, W[, C])), finite.

    uint8 input is taken as 8-bit images and scaled to [0, 1]; other numeric input is kept as given
    (as float32).

    Returns:
      (n, ...) float32 array.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of shape (n_samples, ...), got None")
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be convertible to a numeric array, got {type(x).__name__}: {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}; pass e.g. np.abs(x) or "
                        "np.concatenate([x.real, x.imag], axis=-1) if that is what you mean")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have rank >= 2: (n_samples, n_features) or (n_samples, H, W[, C]); got shape {arr.shape}"
        )
    if arr.ndim > 4:
        raise ValueError(f"{name} must have rank 2, 3 or 4, got shape {arr.shape}")
    if arr.shape[0] < min_samples:
        what = "is empty" if arr.shape[0] == 0 else f"has {arr.shape[0]} sample(s)"
        raise ValueError(f"{name} {what}; at least {min_samples} samples are needed")
    if any(s == 0 for s in arr.shape[1:]):
        raise ValueError(f"{name} has an empty feature dimension: shape {arr.shape}")
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    else:
        out = arr.astype(np.float32)
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out.reshape(out.shape[0], -1)).all(axis=1))[:5, 0].tolist()
        kind = "NaN" if np.isnan(out).any() else "inf"
        raise ValueError(f"{name} contains {kind} values (non-finite entries in samples {bad} ...); clean or impute them first")
    return out


def network_shape(sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """One sample's shape as the networks see it: (H, W) images get a channel axis (H, W, 1)."""
    if len(sample_shape) == 2:
        return sample_shape + (1,)
    return sample_shape


#: Seeds are uint32: every seed in 0 … MAX_SEED makes a distinct PRNG key (``jax.random.key``) and is
#: a valid scikit-learn ``random_state``; larger seeds are refused, never wrapped around.
MAX_SEED = 2**32 - 1


def resolve_seeds(seeds: Any) -> list[int]:
    """``seeds`` as a list of distinct ints in 0 … 2**32 − 1: an int k means seeds 0 … k−1.

    Seeds outside uint32 are refused: ``jax.random.key`` would wrap 2**32 to 0, training two
    identical runs labelled as different seeds."""
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a positive int or a sequence of ints, got {seeds!r}")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (number of seeds), got {seeds}")
        if seeds > MAX_SEED + 1:
            raise ValueError(f"seeds = {seeds} would use seeds above 2**32 - 1; at most {MAX_SEED + 1} seeds")
        return list(range(int(seeds)))
    if isinstance(seeds, Sequence) or isinstance(seeds, np.ndarray):
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise ValueError(f"seeds must contain non-negative ints, got {s!r} in {seeds!r}")
            if s > MAX_SEED:
                raise ValueError(f"seeds must lie in 0 … 2**32 - 1 (uint32; larger seeds would wrap around), "
                                 f"got {int(s)} in {seeds!r}")
            out.append(int(s))
        if not out:
            raise ValueError("seeds is empty; give an int >= 1 or a non-empty list of ints")
        if len(set(out)) != len(out):
            raise ValueError(f"seeds contains duplicates: {out}")
        return out
    raise TypeError(f"seeds must be a positive int or a sequence of ints, got {type(seeds).__name__}")


def check_labels(y: Any, n: int, name: str = "y") -> np.ndarray:
    """Labels as a 1-d array of length n."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match x, got {arr.shape}")
    return arr
