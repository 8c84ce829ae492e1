"""Preprocessing of docs/algorithms.md §7.2: l1 global contrast normalisation, per-class min-max, standardising.

All functions are pure NumPy on the host (preprocessing happens once per dataset, before training) and
work in float32 unless told otherwise. The per-class constants are *fitted on the normal class's
training data only* and then applied unchanged to training and test data.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import DatasetError

__all__ = [
    "PREPROCESSING",
    "resolve_preprocessing",
    "gcn_l1",
    "minmax_constants",
    "Affine",
    "fit_minmax",
    "fit_standardize",
    "fit_standardize_floor",
    "fit_identity",
]


#: Preprocessing modes of ``fit``, ``sweep`` and the protocol functions ("unit" is accepted as an alias
#: of "none": the [0, 1] pixels or the raw features, unchanged). "auto" is the method's default
#: (``ocnn_jax.methods.registry``: (images, feature vectors) per method).
PREPROCESSING: tuple[str, ...] = ("auto", "gcn_minmax", "minmax", "standardize", "standardize_floor", "none")

#: What "auto" means for the deep methods (and wherever no method is given): (images, feature vectors).
DEFAULT_PREPROCESSING: tuple[str, str] = ("gcn_minmax", "standardize")


def resolve_preprocessing(preprocessing: str, *, image: bool,
                          defaults: tuple[str, str] = DEFAULT_PREPROCESSING) -> tuple[str, str]:
    """(mode, base) of a preprocessing name: "auto" is ``defaults[0]`` for images and ``defaults[1]``
    for feature vectors (by default "gcn_minmax" and "standardize"); base is the per-sample transform
    before the per-class constants ("gcn_l1" for "gcn_minmax", else "none").

    Raises:
      DatasetError (a ValueError): an unknown name.
    """
    mode = "none" if preprocessing == "unit" else preprocessing
    if not isinstance(mode, str) or mode not in PREPROCESSING:
        raise DatasetError(f"preprocessing={preprocessing!r}; preprocess must be one of {PREPROCESSING} ('unit' = 'none')")
    if mode == "auto":
        mode = defaults[0] if image else defaults[1]
        if mode not in PREPROCESSING or mode == "auto":
            raise DatasetError(f"default preprocessing {mode!r} is not one of {PREPROCESSING[1:]}")
    return mode, ("gcn_l1" if mode == "gcn_minmax" else "none")


def gcn_l1(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Global contrast normalisation, l1 form, per sample.

    For each sample, over all its pixels and channels: ``x <- x - mean(x)`` then
    ``x <- x / mean(|x|)`` (the *mean*, not the sum, of absolute values; docs/algorithms.md §7.2).
    The statistics are computed in float64 (chunk by chunk) and the result stored as float32: in
    float32, low-contrast CIFAR-10 images drift enough to miss the published min-max constants
    (class 0: −28.94098 instead of −28.94083). The transform is scale-invariant, so uint8 input in
    0..255 gives the same result as [0, 1] pixels.

    Args:
      x: (n, ...) array of pixels.
      out: optional float32 output buffer of x's shape (lets callers avoid a second full copy).

    Returns:
      (n, ...) float32 array. A constant sample (mean |x - mean| = 0) maps to all zeros.
    """
    x = np.asarray(x)
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    n = x.shape[0]
    flat_in = x.reshape(n, -1)
    flat_out = out.reshape(n, -1)
    for start in range(0, n, 1024):  # float64 temporaries stay at 1024 rows
        block = flat_in[start : start + 1024].astype(np.float64)
        block -= block.mean(axis=1, keepdims=True)
        scale = np.abs(block).mean(axis=1, keepdims=True)
        np.divide(block, scale, out=block, where=scale > 0)
        block[scale[:, 0] == 0] = 0.0
        flat_out[start : start + 1024] = block
    return out


def minmax_constants(x: np.ndarray) -> tuple[float, float]:
    """(min, max) over all entries of ``x``: the §7.2 constants (m_c, M_c) of one normal class."""
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("minmax_constants: got an empty array; expected the normal class's training data")
    return float(x.min()), float(x.max())


class Affine(NamedTuple):
    """A fitted per-class input transform ``x -> (x - shift) * inv_scale``.

    ``shift`` and ``inv_scale`` are float32 arrays broadcastable to one sample's shape (scalars for
    min-max scaling, per-feature vectors for standardising). ``base`` names the class-independent
    per-sample transform applied first ("gcn_l1" or "none").
    """

    base: str
    shift: np.ndarray
    inv_scale: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = apply_base(self.base, x)
        return ((x - self.shift) * self.inv_scale).astype(np.float32)


def apply_base(base: str, x: np.ndarray) -> np.ndarray:
    """The class-independent per-sample transform named ``base``."""
    if base == "gcn_l1":
        return gcn_l1(x)
    if base == "none":
        return np.asarray(x, dtype=np.float32)
    raise ValueError(f"preprocessing base must be 'gcn_l1' or 'none', got {base!r}")


def fit_minmax(x_base: np.ndarray, base: str = "gcn_l1") -> Affine:
    """Min-max scaling fitted on ``x_base`` (already passed through ``base``): one scalar pair for all
    pixels and channels, so the fitted training data spans exactly [0, 1]."""
    lo, hi = minmax_constants(x_base)
    span = hi - lo
    inv = 1.0 / span if span > 0 else 1.0
    return Affine(base, np.float32(lo), np.float32(inv))


def fit_standardize(x_base: np.ndarray, base: str = "none", eps: float = 1e-8) -> Affine:
    """Per-feature standardising with the (normal) training data's mean and population std.

    Features with zero spread get ``inv_scale = 1`` (they are centred, not blown up)."""
    x_base = np.asarray(x_base, dtype=np.float64)
    mean = x_base.mean(axis=0)
    std = x_base.std(axis=0)
    inv = np.where(std > eps, 1.0 / np.maximum(std, eps), 1.0)
    return Affine(base, mean.astype(np.float32), inv.astype(np.float32))


def fit_standardize_floor(x_base: np.ndarray, base: str = "none", eps: float = 1e-8) -> Affine:
    """Per-feature standardising with every feature's std floored at the median std of the features
    that vary (mode "standardize_floor"; the shallow baselines' default on feature vectors).

    Plain standardising divides a feature that barely varies in the normal class (a border pixel of a
    flattened digit) by its tiny std, so one unusual value dominates every distance; the floor caps that
    weight at the one of a typical feature, and features on very different scales (wine's proline
    against its hue) are still put on one scale. Features with zero spread are centred only (scale 1
    when no feature varies).
    """
    x_base = np.asarray(x_base, dtype=np.float64)
    mean = x_base.mean(axis=0)
    std = x_base.std(axis=0)
    varying = std > eps
    floor = float(np.median(std[varying])) if varying.any() else 1.0
    inv = 1.0 / np.maximum(std, floor)
    return Affine(base, mean.astype(np.float32), inv.astype(np.float32))


def fit_identity(base: str = "none") -> Affine:
    """No scaling after ``base`` (for data the user already preprocessed)."""
    return Affine(base, np.float32(0.0), np.float32(1.0))
