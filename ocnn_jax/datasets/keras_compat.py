"""The Keras oc-nn repository's transductive sets (``protocol="keras_compat"``; docs/algorithms.md §9).

Only for comparing with the Keras repository ``raghavchalapathy/oc-nn`` on identical data; the
project's own protocol is the inductive one of §7 (:func:`ocnn_jax.datasets.protocol.one_class_split`).
The sets are rebuilt row for row from the legacy NumPy generator seeded with the repository's seed
(``np.random.RandomState(seed)`` draws the same numbers as its ``np.random.seed(seed)`` calls), so a
given seed selects the same images the repository selected.

**MNIST** (the repository's MNIST loader followed by its one-class set builder):

1. From the official *training* split: normals = rows of the normal class, outliers = rows of all
   other digits, both in file order. ``n_out = ceil(0.01·n_norm/0.99)`` outliers are kept.
2. One permutation of the normals and one of the outliers; the first ``int(n/6)`` of each are the
   (unused) validation part. What remains is the loader's training array: ``n_norm − int(n_norm/6)``
   normals and ``n_out − int(n_out/6)`` outliers, then shuffled (two permutations, plus a
   ``choice(n, n, replace=False)`` that Python 3 turns into one more shuffle). For digit 0: 4936 + 50.
3. The official *test* split, normals then outliers, shuffled once.
4. The transductive set X = [loader-train normals; test normals; the first ``int(0.01·#normals)``
   of (loader-train outliers, then test outliers)]. Digit 0: 4936 + 980 normals, 59 anomalies, 5975
   rows. **X is also the evaluation set.**
5. Pixels /255, nothing else (the repository's GCN and min-max results are discarded by its loader).

**CIFAR-10**: train and test concatenated (60 000 images); normals = all 6000 images of the class in
that order; 500 outliers = the first 500 of one permutation of the other 54 000. X = [6000 normals;
500 outliers], pixels /255, then an l2 global contrast normalisation per image (subtract the image
mean, divide by the l2 norm of the result) **only** for normal classes 1, 3, 5, 6, 7 and 9, as in the
repository. X is the evaluation set.

Keras ``fit(validation_split=f)`` trains on the first ``int(n·(1−f))`` rows, before any shuffling
(:func:`keras_fit_rows`); the anomalies sit at the tail of X, so a split of 0.01 (OC-NN, Deep SVDD on
CIFAR) or 0.1 (RCAE) removes some or all of them from training.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .base import Dataset, to_unit
from .errors import DatasetError

__all__ = [
    "KerasCompatSet",
    "KerasCompatRows",
    "CIFAR10_GCN_CLASSES",
    "KERAS_COMPAT_SEEDS",
    "keras_compat_rows",
    "keras_compat_set",
    "keras_fit_rows",
]

#: The ten seeds of the repository's notebooks (they seed the data only there).
KERAS_COMPAT_SEEDS = (42, 56, 81, 67, 33, 25, 90, 77, 15, 11)
#: Normal CIFAR-10 classes for which the repository applies its l2 GCN.
CIFAR10_GCN_CLASSES = frozenset({1, 3, 5, 6, 7, 9})
_MNIST_VAL_FRAC = 1.0 / 6.0
_MNIST_OUT_FRAC = 0.01
_CIFAR_OUTLIERS = 500


class KerasCompatRows(NamedTuple):
    """Where every row of a transductive set comes from (no pixels; see :func:`keras_compat_rows`).

    Attributes:
      split: (n,) int8; 0 = official training split, 1 = official test split.
      index: (n,) int64 row in that split.
      y: (n,) int32; 1 = anomaly (another class), 0 = normal. Normals first, anomalies at the tail.
      loader_split, loader_index: (m,) rows of the repository's loader training array (MNIST: the
        shuffled 4986 rows of digit 0 that its Keras Deep SVDD and AE pretraining fit on; CIFAR-10:
        the set itself).
      loader_y: (m,) int32 labels of those rows (1 = anomaly).
    """

    split: np.ndarray
    index: np.ndarray
    y: np.ndarray
    loader_split: np.ndarray
    loader_index: np.ndarray
    loader_y: np.ndarray


class KerasCompatSet(NamedTuple):
    """A transductive set of the Keras repository, with pixels (see the module docstring).

    Attributes:
      x: (n, H, W, C) float32; the training *and* evaluation set (normals first, anomalies last).
      y: (n,) int32; 1 = anomaly, 0 = normal.
      x_loader: (m, H, W, C) float32; the loader's training array (MNIST Deep SVDD and AE pretraining
        fit on it; for CIFAR-10 it is ``x``).
      y_loader: (m,) int32 labels of ``x_loader``.
      rows: the :class:`KerasCompatRows` behind both.
      normal_class: index of the normal class.
      seed: the data seed.
      dataset: ``"mnist"`` or ``"cifar10"``.
    """

    x: np.ndarray
    y: np.ndarray
    x_loader: np.ndarray
    y_loader: np.ndarray
    rows: KerasCompatRows
    normal_class: int
    seed: int
    dataset: str


def keras_fit_rows(n: int, validation_split: float) -> int:
    """Rows Keras ``fit(validation_split=f)`` trains on: the first ``int(n·(1 − f))`` (the tail is held out
    before shuffling)."""
    if not 0.0 <= validation_split < 1.0:
        raise DatasetError(f"validation_split={validation_split!r}; expected a fraction in [0, 1)")
    return int(n * (1.0 - validation_split))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise DatasetError(f"seed={seed!r}; expected an int in [0, 2**32) (the repository's data seed)")
    return int(seed)


def _mnist_rows(y_train: np.ndarray, y_test: np.ndarray, c: int, seed: int) -> KerasCompatRows:
    rng = np.random.RandomState(seed)
    norm = np.flatnonzero(y_train == c)
    out = np.flatnonzero(y_train != c)
    n_norm = norm.size
    n_out = int(math.ceil(_MNIST_OUT_FRAC * n_norm / (1.0 - _MNIST_OUT_FRAC)))
    if n_out > out.size:
        raise DatasetError(f"class {c}: needs {n_out} training rows of other classes, found {out.size}")
    perm_norm = rng.permutation(n_norm)
    perm_out = rng.permutation(out.size)
    k_norm = int(_MNIST_VAL_FRAC * n_norm)
    k_out = int(_MNIST_VAL_FRAC * n_out)
    tr_rows = np.concatenate([norm[perm_norm[k_norm:]], out[perm_out[:n_out][k_out:]]])
    tr_y = np.concatenate([np.zeros(n_norm - k_norm, np.int32), np.ones(n_out - k_out, np.int32)])
    n_tr, n_val = tr_rows.size, k_norm + k_out
    perm_train = rng.permutation(n_tr)
    rng.permutation(n_val)  # the loader's validation shuffle: drawn, unused
    tr_rows, tr_y = tr_rows[perm_train], tr_y[perm_train]
    subset = rng.choice(n_tr, n_tr, replace=False)  # "batch-size subsetting": a shuffle under Python 3
    tr_rows, tr_y = tr_rows[subset], tr_y[subset]
    te_norm = np.flatnonzero(y_test == c)
    te_out = np.flatnonzero(y_test != c)
    te_rows = np.concatenate([te_norm, te_out])
    te_y = np.concatenate([np.zeros(te_norm.size, np.int32), np.ones(te_out.size, np.int32)])
    perm_test = rng.permutation(te_rows.size)
    te_rows, te_y = te_rows[perm_test], te_y[perm_test]
    pos = [(0, tr_rows[tr_y == 0]), (1, te_rows[te_y == 0])]
    neg = [(0, tr_rows[tr_y == 1]), (1, te_rows[te_y == 1])]
    n_pos = sum(r.size for _, r in pos)
    n_anom = int(0.01 * n_pos)
    split = np.concatenate([np.full(r.size, s, np.int8) for s, r in pos + neg])
    index = np.concatenate([r for _, r in pos + neg]).astype(np.int64)
    keep = n_pos + n_anom
    if keep > index.size:
        raise DatasetError(f"class {c}: needs {n_anom} anomalies, found {index.size - n_pos}")
    y = np.concatenate([np.zeros(n_pos, np.int32), np.ones(n_anom, np.int32)])
    return KerasCompatRows(split[:keep], index[:keep], y, np.zeros(n_tr, np.int8), tr_rows.astype(np.int64), tr_y)


def _cifar_rows(y_train: np.ndarray, y_test: np.ndarray, c: int, seed: int) -> KerasCompatRows:
    y_all = np.concatenate([y_train, y_test])
    n_tr = y_train.size
    norm = np.flatnonzero(y_all == c)
    out = np.flatnonzero(y_all != c)
    if out.size < _CIFAR_OUTLIERS:
        raise DatasetError(f"class {c}: needs {_CIFAR_OUTLIERS} rows of other classes, found {out.size}")
    out = out[np.random.RandomState(seed).permutation(out.size)[:_CIFAR_OUTLIERS]]
    rows = np.concatenate([norm, out]).astype(np.int64)
    split = (rows >= n_tr).astype(np.int8)
    index = np.where(split == 1, rows - n_tr, rows)
    y = np.concatenate([np.zeros(norm.size, np.int32), np.ones(out.size, np.int32)])
    return KerasCompatRows(split, index, y, split.copy(), index.copy(), y.copy())


_BUILDERS = {"mnist": _mnist_rows, "cifar10": _cifar_rows}


def keras_compat_rows(dataset: str, y_train: np.ndarray, y_test: np.ndarray, normal_class: int,
                      seed: int) -> KerasCompatRows:
    """The rows of the repository's transductive set for one normal class and data seed (labels only).

    Args:
      dataset: ``"mnist"`` or ``"cifar10"`` (the repository's two image procedures used here).
      y_train, y_test: (n_train,), (n_test,) int class labels of the official splits, file order.
      normal_class: the normal class.
      seed: the repository's data seed (``KERAS_COMPAT_SEEDS``).

    Returns:
      :class:`KerasCompatRows`.
    """
    if dataset not in _BUILDERS:
        raise DatasetError(f"protocol 'keras_compat' supports datasets {sorted(_BUILDERS)}; got {dataset!r}")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    c = int(normal_class)
    if not np.any(y_train == c) and not np.any(y_test == c):
        raise DatasetError(f"normal class {c} has no rows in {dataset!r}; expected at least one")
    return _BUILDERS[dataset](y_train, y_test, c, _check_seed(seed))


def _gather(ds: Dataset, split: np.ndarray, index: np.ndarray) -> np.ndarray:
    out = np.empty((index.size,) + ds.x_train.shape[1:], np.float32)
    for s, src in ((0, ds.x_train), (1, ds.x_test)):
        m = split == s
        if m.any():
            out[m] = to_unit(src[index[m]])
    return out


def _gcn_l2(x: np.ndarray) -> None:
    """In place: per image, subtract its mean and divide by the l2 norm of the result (a zero norm is left)."""
    flat = x.reshape(x.shape[0], -1)
    flat -= flat.mean(axis=1, keepdims=True, dtype=np.float32)
    norm = np.sqrt(np.sum(flat * flat, axis=1, keepdims=True, dtype=np.float32))
    flat /= np.where(norm > 0, norm, np.float32(1.0))


def keras_compat_set(ds: Dataset, normal_class: int | str, seed: int) -> KerasCompatSet:
    """The repository's transductive set for ``ds`` ("mnist" or "cifar10"), one normal class and seed.

    Args:
      ds: the data set with its official splits (``ocnn_jax.datasets.load("mnist")``).
      normal_class: class index or name.
      seed: the repository's data seed.

    Returns:
      :class:`KerasCompatSet` with float32 pixels (/255; l2 GCN for CIFAR-10 classes in
      ``CIFAR10_GCN_CLASSES``).
    """
    if ds.kind != "image":
        raise DatasetError(f"protocol 'keras_compat' needs an image data set; {ds.name!r} is tabular")
    c = ds.class_index(normal_class)
    rows = keras_compat_rows(ds.name, ds.y_train, ds.y_test, c, seed)
    x = _gather(ds, rows.split, rows.index)
    if ds.name == "cifar10":
        if c in CIFAR10_GCN_CLASSES:
            _gcn_l2(x)
        x_loader, y_loader = x, rows.y
    else:
        x_loader, y_loader = _gather(ds, rows.loader_split, rows.loader_index), rows.loader_y
    return KerasCompatSet(x, rows.y, x_loader, y_loader, rows, c, int(seed), ds.name)
