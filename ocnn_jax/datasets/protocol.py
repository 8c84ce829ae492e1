"""The inductive one-class protocol of docs/algorithms.md §7: split, contamination and preprocessing.

* **Split (§7.1).** One class ``c`` is normal. Training data: the class-``c`` rows of the official
  training split. Test data: the *whole* official test split, labelled 0 for class ``c`` and 1 for
  every other class. Nothing is carved from the test set.
* **Contamination (§7.3).** ``contamination = ρ`` adds ``round(ρ·n_norm/(1−ρ))`` rows (half rounded
  up) drawn without replacement from the *other* classes of the training split, so that a fraction ρ
  of the training set is anomalous. The draw and the order of the mixed training set are fixed by
  ``key_or_seed``; the learner never sees which rows are anomalies (``train_is_anomaly`` is returned
  for diagnostics only). The preprocessing constants are fitted on the normal rows only, and the test
  set is unchanged.
* **Preprocessing (§7.2).** Pixels are first mapped to [0, 1] (:func:`ocnn_jax.datasets.to_unit`).
  ``"gcn_minmax"`` (default for images): l1 global contrast normalisation per sample, then min-max
  scaling with the constants (m_c, M_c) = (min, max) of the GCN'd class-``c`` training rows, applied
  to training and test data alike. ``"standardize"`` (default for tabular data): per-feature mean and
  population std of the normal training rows. ``"minmax"``: min-max without GCN. ``"none"`` (alias
  ``"unit"``): the [0, 1] pixels (or raw features) unchanged. ``ocnn_jax.fit`` uses the same code
  (:func:`preprocess_classes`).

The fitted transform is returned as a :class:`ocnn_jax.datasets.preprocess.Affine`, which maps data that has
already been through ``to_unit`` (``affine(to_unit(x))``).

Memory: images are converted chunk by chunk straight into the one float32 output array of each
split, so preprocessing holds the uint8 source plus one float32 copy; :func:`one_class_stack` builds
the per-class training stack for many classes with each training row GCN'd once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .base import Dataset, to_unit
from .errors import DatasetError
from .keras_compat import keras_compat_set
from .preprocess import (PREPROCESSING, Affine, fit_identity, fit_standardize, fit_standardize_floor, gcn_l1,
                         resolve_preprocessing)

__all__ = [
    "PREPROCESSING",
    "PROTOCOLS",
    "contaminated_rows",
    "preprocess_classes",
    "OneClassSplit",
    "OneClassStack",
    "one_class_split",
    "one_class_stack",
    "contamination_count",
    "sample_contamination",
    "minmax_table",
    "base_transform",
]

_CHUNK = 2048

#: ``one_class_split`` protocols: the project's inductive one (§7) and the Keras repository's
#: transductive one (§9, :mod:`ocnn_jax.datasets.keras_compat`), for like-for-like comparisons only.
PROTOCOLS = ("inductive", "keras_compat")


class OneClassSplit(NamedTuple):
    """One normal class's training and test data, preprocessed.

    Attributes:
      x_train: (n_train, *sample_shape) float32; normal rows plus any contaminating rows, preprocessed.
        Official order when ``contamination == 0``; a seeded random order otherwise.
      x_test: (n_test, *sample_shape) float32; the whole official test split, preprocessed alike.
      y_test: (n_test,) int32; 1 = anomaly (any other class), 0 = normal.
      affine: the fitted transform (apply as ``affine(to_unit(x))``).
      train_index: (n_train,) int64 rows of ``Dataset.x_train`` in ``x_train`` order.
      train_is_anomaly: (n_train,) bool; hidden labels of the training rows (diagnostics only).
      normal_class: index of the normal class.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    affine: Affine
    train_index: np.ndarray
    train_is_anomaly: np.ndarray
    normal_class: int


class OneClassStack(NamedTuple):
    """Training sets of several one-class runs stacked for a vmapped engine, plus a shared test set.

    Entry ``k`` is one run with normal class ``normal_class[k]`` (entries may repeat a class with
    different contamination draws). Each training row is converted once; the test set gets the
    class-independent base transform (l1 GCN or none) once, and each entry's constants are returned
    separately so the engine can apply them per run: ``(x_test_base - shift[k]) * inv_scale[k]``.

    Attributes:
      x: (K, n_max, *sample_shape) float32; entry k's preprocessed training rows first (``n[k]`` of
        them), zero padding after. ``ocnn_jax.core.StackedData(x, n)`` takes it as is.
      n: (K,) int32 valid rows per entry.
      normal_class: (K,) int32.
      shift, inv_scale: (K, *s) float32 per-entry constants; s = () for min-max and identity,
        s = sample_shape for standardising.
      base: "gcn_l1" or "none", the per-sample transform applied before the constants.
      x_test_base: (n_test, *sample_shape) float32 test set after ``base`` only.
      y_test: (K, n_test) int32; 1 = anomaly for entry k.
      y_test_class: (n_test,) int32 official test labels.
      train_index: (K, n_max) int64 rows of ``Dataset.x_train``; -1 on padding.
      train_is_anomaly: (K, n_max) bool hidden labels; False on padding.
    """

    x: np.ndarray
    n: np.ndarray
    normal_class: np.ndarray
    shift: np.ndarray
    inv_scale: np.ndarray
    base: str
    x_test_base: np.ndarray
    y_test: np.ndarray
    y_test_class: np.ndarray
    train_index: np.ndarray
    train_is_anomaly: np.ndarray

    def affine(self, k: int) -> Affine:
        """Entry ``k``'s fitted transform."""
        return Affine(self.base, self.shift[k], self.inv_scale[k])

    def test_x(self, k: int) -> np.ndarray:
        """(n_test, *sample_shape) float32 test set preprocessed for entry ``k`` (a new array)."""
        out = self.x_test_base - self.shift[k]
        out *= self.inv_scale[k]
        return out.astype(np.float32, copy=False)

    def split(self, k: int) -> OneClassSplit:
        """Entry ``k`` as a :class:`OneClassSplit` (copies that entry's data)."""
        n = int(self.n[k])
        return OneClassSplit(
            self.x[k, :n].copy(),
            self.test_x(k),
            self.y_test[k].copy(),
            self.affine(k),
            self.train_index[k, :n].copy(),
            self.train_is_anomaly[k, :n].copy(),
            int(self.normal_class[k]),
        )


# ---------------------------------------------------------------------------------------------------------------
# Seeds and contamination


def _seed_sequence(key_or_seed: Any) -> np.random.SeedSequence:
    """A NumPy SeedSequence from an int seed, a JAX PRNG key (typed or raw uint32) or a SeedSequence."""
    if isinstance(key_or_seed, np.random.SeedSequence):
        return key_or_seed
    if isinstance(key_or_seed, (int, np.integer)) and not isinstance(key_or_seed, bool):
        if key_or_seed < 0:
            raise DatasetError(f"key_or_seed={key_or_seed}; expected a non-negative int seed or a JAX key")
        return np.random.SeedSequence(int(key_or_seed))
    try:
        import jax

        arr = key_or_seed
        if hasattr(arr, "dtype") and jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
            arr = jax.random.key_data(arr)
        bits = np.asarray(arr)
    except Exception as e:  # noqa: BLE001
        raise DatasetError(f"key_or_seed of type {type(key_or_seed).__name__}; expected an int seed or a JAX key") from e
    if bits.dtype != np.uint32 or bits.ndim != 1:
        raise DatasetError(
            f"key_or_seed is an array {bits.shape} {bits.dtype}; expected an int seed or a single JAX key"
        )
    return np.random.SeedSequence([int(b) for b in bits])


def _per_entry_seeds(key_or_seed: Any, k: int) -> list[np.random.SeedSequence]:
    """One SeedSequence per stack entry: a sequence of ``k`` seeds/keys is used as is; a single seed or
    key is split with ``SeedSequence.spawn``."""
    if isinstance(key_or_seed, (list, tuple)):
        if len(key_or_seed) != k:
            raise DatasetError(f"got {len(key_or_seed)} seeds/keys for {k} entries; expected one per entry or a single one")
        return [_seed_sequence(s) for s in key_or_seed]
    if hasattr(key_or_seed, "dtype") and hasattr(key_or_seed, "shape") and len(key_or_seed.shape) >= 1:
        import jax

        typed = jax.dtypes.issubdtype(key_or_seed.dtype, jax.dtypes.prng_key)
        raw_single = not typed and np.dtype(key_or_seed.dtype) == np.uint32 and len(key_or_seed.shape) == 1
        if not raw_single:
            if key_or_seed.shape[0] != k:
                raise DatasetError(f"got {key_or_seed.shape[0]} keys for {k} entries; expected one per entry or a single one")
            return [_seed_sequence(key_or_seed[i] if typed else np.asarray(key_or_seed[i])) for i in range(k)]
    return _seed_sequence(key_or_seed).spawn(k)


def contamination_count(n_normal: int, contamination: float) -> int:
    """round(ρ·n_normal/(1−ρ)), half rounded up: the anomalies to add so that a fraction ρ of the
    training set is anomalous (docs/algorithms.md §7.3)."""
    _check_rho(contamination)
    return int(math.floor(contamination * n_normal / (1.0 - contamination) + 0.5))


def _check_rho(contamination: float) -> None:
    if not (isinstance(contamination, (int, float, np.floating)) and 0.0 <= float(contamination) < 1.0):
        raise DatasetError(f"contamination={contamination!r}; expected a fraction in [0, 1)")


def sample_contamination(
    y_train: np.ndarray, normal_class: int, contamination: float, key_or_seed: Any = 0
) -> np.ndarray:
    """Rows of the training split to mix in as anomalies (without replacement, other classes only).

    Args:
      y_train: (n,) int labels of the official training split.
      normal_class: the normal class.
      contamination: ρ in [0, 1).
      key_or_seed: int seed or JAX key.

    Returns:
      (round(ρ·n_norm/(1−ρ)),) int64 row indices, in draw order.
    """
    return _draw(np.asarray(y_train), normal_class, contamination, np.random.default_rng(_seed_sequence(key_or_seed)))


def _draw(y: np.ndarray, c: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    n_norm = int(np.count_nonzero(y == c))
    m = contamination_count(n_norm, rho)
    if m == 0:
        return np.empty(0, np.int64)
    pool = np.flatnonzero(y != c)
    if m > pool.size:
        raise DatasetError(
            f"contamination={rho} needs {m} anomalies for {n_norm} normal rows of class {c}, but the training "
            f"split has only {pool.size} rows of other classes"
        )
    return rng.choice(pool, size=m, replace=False).astype(np.int64)


# ---------------------------------------------------------------------------------------------------------------
# Preprocessing


def _resolve_mode(ds: Dataset, preprocessing: str) -> tuple[str, str]:
    """(mode, base) for a preprocessing name and a data set."""
    return resolve_preprocessing(preprocessing, image=ds.kind == "image")


def base_transform(
    x: np.ndarray,
    base: str,
    *,
    rows: np.ndarray | None = None,
    out: np.ndarray | None = None,
    chunk: int = _CHUNK,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``to_unit`` then ``base`` ("gcn_l1" or "none"), chunk by chunk into one float32 array.

    Args:
      x: (N, ...) uint8 or float source (read-only is fine).
      base: "gcn_l1" (l1 GCN per sample, :func:`ocnn_jax.datasets.preprocess.gcn_l1`) or "none".
      rows: optional (n,) row indices of ``x`` to convert, in this order (default: all rows).
      out: optional C-contiguous float32 (n, ...) destination.
      chunk: rows per chunk (bounds the temporaries).

    Returns:
      ``(out, row_min, row_max)``: the (n, ...) float32 result and its per-row minima and maxima, (n,).
    """
    n = x.shape[0] if rows is None else len(rows)
    if out is None:
        out = np.empty((n,) + x.shape[1:], np.float32)
    if out.shape != (n,) + x.shape[1:] or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise DatasetError(f"base_transform: out is {out.shape} {out.dtype}; expected C-contiguous float32 {(n,) + x.shape[1:]}")
    lo = np.empty(n, np.float32)
    hi = np.empty(n, np.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        src = x[s:e] if rows is None else x[rows[s:e]]
        dst = out[s:e]
        if base == "gcn_l1":
            gcn_l1(src, out=dst)
        elif base == "none":
            to_unit(src, out=dst)
        else:
            raise DatasetError(f"base={base!r}; expected 'gcn_l1' or 'none'")
        flat = dst.reshape(e - s, -1)
        if flat.shape[1]:
            flat.min(axis=1, out=lo[s:e])
            flat.max(axis=1, out=hi[s:e])
    return out, lo, hi


def _fit(mode: str, base: str, rows_x: np.ndarray, lo: np.ndarray, hi: np.ndarray, normal: np.ndarray) -> Affine:
    """Fit the constants on the normal rows (``normal`` is a bool mask over ``rows_x``)."""
    if not normal.any():
        raise DatasetError("the normal class has no training rows; expected at least one to fit the preprocessing")
    if mode in ("gcn_minmax", "minmax"):
        m, mx = float(lo[normal].min()), float(hi[normal].max())
        span = mx - m
        return Affine(base, np.float32(m), np.float32(1.0 / span if span > 0 else 1.0))
    if mode == "standardize":
        return fit_standardize(rows_x if normal.all() else rows_x[normal], base)
    if mode == "standardize_floor":
        return fit_standardize_floor(rows_x if normal.all() else rows_x[normal], base)
    return fit_identity(base)


def _apply_inplace(x: np.ndarray, aff: Affine, chunk: int = _CHUNK) -> None:
    for s in range(0, x.shape[0], chunk):
        blk = x[s : s + chunk]
        blk -= aff.shift
        blk *= aff.inv_scale


def _entry_rows(ds: Dataset, c: int, rho: float, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """(rows, is_anomaly) of one run's training set, in training order."""
    if not np.any(ds.y_train == c):
        raise DatasetError(f"{ds.name}: class {c} ({ds.classes[c]!r}) has no training rows; cannot be the normal class")
    return contaminated_rows(ds.y_train, c, rho, seed)


def contaminated_rows(y_train: np.ndarray, normal_class: Any, contamination: float,
                      key_or_seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """The training rows of one normal class with a fraction ρ of other-class rows mixed in (§7.3).

    Args:
      y_train: (n,) labels of the training data.
      normal_class: the normal class's label.
      contamination: ρ in [0, 1).
      key_or_seed: int seed, JAX key or SeedSequence driving the draw and the mixed order.

    Returns:
      ``(rows, is_anomaly)``: (m,) int64 row indices in training order (the class's rows in their
      order when ρ = 0, a seeded random order otherwise) and (m,) bool hidden labels.
    """
    _check_rho(contamination)
    y = np.asarray(y_train)
    normal = np.flatnonzero(y == normal_class)
    if contamination == 0:
        return normal.astype(np.int64), np.zeros(normal.size, bool)
    rng = np.random.default_rng(_seed_sequence(key_or_seed))
    extra = _draw(y, normal_class, contamination, rng)
    rows = np.concatenate([normal, extra]).astype(np.int64)
    anom = np.concatenate([np.zeros(normal.size, bool), np.ones(extra.size, bool)])
    perm = rng.permutation(rows.size)
    return rows[perm], anom[perm]


def preprocess_classes(x: np.ndarray, class_rows: Sequence[np.ndarray], preprocessing: str = "auto", *,
                       normal: Sequence[np.ndarray] | None = None) -> tuple[list[Affine], list[np.ndarray]]:
    """Fit one transform per normal class on its rows of x and return the transformed per-class arrays.

    The path of ``ocnn_jax.fit`` (and through it ``sweep`` and ``compare``): the same base transform,
    constants and in-place application as :func:`one_class_split`, on the requested rows only (a chunk
    of a sweep does not transform or copy the whole data set).

    Args:
      x: (N, ...) samples (uint8 pixels, or floats already in their working scale).
      class_rows: per class, its training rows of x (in training order).
      preprocessing: a mode of ``PREPROCESSING``; "auto" is "gcn_minmax" for images (rank > 2) and
        "standardize" for feature vectors.
      normal: optional per class, a bool mask over its rows: the constants are fitted on these rows
        only (contaminated training sets); default all rows.

    Returns:
      (per-class ``Affine``, per-class (n_c, ...) float32 arrays).
    """
    mode, base = resolve_preprocessing(preprocessing, image=np.ndim(x) > 2)
    affines, out = [], []
    for i, rows in enumerate(class_rows):
        xc, lo, hi = base_transform(x, base, rows=rows)
        mask = np.ones(len(rows), bool) if normal is None else np.asarray(normal[i], bool)
        aff = _fit(mode, base, xc, lo, hi, mask)
        _apply_inplace(xc, aff)
        affines.append(aff)
        out.append(xc)
    return affines, out


# ---------------------------------------------------------------------------------------------------------------
# Public protocol functions


def one_class_split(
    ds: Dataset,
    normal_class: int | str,
    *,
    contamination: float = 0.0,
    key_or_seed: Any = 0,
    preprocessing: str = "auto",
    protocol: str = "inductive",
) -> OneClassSplit:
    """The one-class split of one normal class, preprocessed (docs/algorithms.md §7, or §9).

    Args:
      ds: the data set (official train/test splits).
      normal_class: class index or name.
      contamination: ρ in [0, 1); anomalies mixed into the training set only.
      key_or_seed: int seed or JAX key driving the contamination draw and the mixed order.
      preprocessing: "auto" (images "gcn_minmax", tabular "standardize"), "gcn_minmax", "minmax",
        "standardize", "none" (alias "unit"); ``PREPROCESSING``.
      protocol: "inductive" (default, §7) or "keras_compat": the Keras repository's transductive set
        (:func:`ocnn_jax.datasets.keras_compat.keras_compat_set`; MNIST and CIFAR-10 only). Then
        ``key_or_seed`` is the repository's int data seed, ``contamination`` must be 0 and
        ``preprocessing`` "auto" (the repository's own: /255, plus its l2 GCN for some CIFAR-10
        classes); ``x_train`` and ``x_test`` are the same set (anomalies at the tail), ``y_test`` and
        ``train_is_anomaly`` its labels, and ``train_index`` indexes the concatenation
        [``ds.x_train``; ``ds.x_test``].

    Returns:
      :class:`OneClassSplit` with float32 arrays.
    """
    if protocol not in PROTOCOLS:
        raise DatasetError(f"protocol={protocol!r}; expected one of {PROTOCOLS}")
    if protocol == "keras_compat":
        return _keras_compat_split(ds, normal_class, contamination, key_or_seed, preprocessing)
    _check_rho(contamination)
    c = ds.class_index(normal_class)
    mode, base = _resolve_mode(ds, preprocessing)
    rows, anom = _entry_rows(ds, c, float(contamination), _seed_sequence(key_or_seed))
    x_tr, lo, hi = base_transform(ds.x_train, base, rows=rows)
    aff = _fit(mode, base, x_tr, lo, hi, ~anom)
    _apply_inplace(x_tr, aff)
    x_te, _, _ = base_transform(ds.x_test, base)
    _apply_inplace(x_te, aff)
    y_te = (ds.y_test != c).astype(np.int32)
    return OneClassSplit(x_tr, x_te, y_te, aff, rows, anom, c)


def _keras_compat_split(ds: Dataset, normal_class: int | str, contamination: float, seed: Any,
                        preprocessing: str) -> OneClassSplit:
    if contamination != 0:
        raise DatasetError(f"contamination={contamination!r} with protocol='keras_compat'; expected 0 (the "
                           "repository's set already holds about 1 % anomalies)")
    if preprocessing != "auto":
        raise DatasetError(f"preprocessing={preprocessing!r} with protocol='keras_compat'; expected 'auto' "
                           "(the repository's own preprocessing)")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise DatasetError(f"key_or_seed={seed!r} with protocol='keras_compat'; expected the repository's int data seed")
    s = keras_compat_set(ds, normal_class, int(seed))
    r = s.rows
    index = np.where(r.split == 1, r.index + ds.x_train.shape[0], r.index).astype(np.int64)
    return OneClassSplit(s.x, s.x, s.y.copy(), fit_identity("none"), index, s.y.astype(bool), s.normal_class)


def one_class_stack(
    ds: Dataset,
    normal_classes: Sequence[int | str] | None = None,
    *,
    contamination: float = 0.0,
    key_or_seed: Any = 0,
    preprocessing: str = "auto",
    pad_multiple: int = 1,
) -> OneClassStack:
    """Per-run training sets of several normal classes in one padded array, and the test set once.

    Entry k equals ``one_class_split(ds, normal_classes[k], key_or_seed=seeds[k], ...)`` (same rows,
    same constants; its test set is ``stack.test_x(k)``), where ``seeds`` are the per-entry seeds:
    ``key_or_seed`` itself when it is a sequence (or a key array) with one seed/key per entry,
    otherwise ``SeedSequence(key_or_seed).spawn(K)``.

    Args:
      ds: the data set.
      normal_classes: class indices or names, one per entry (default: every class once).
      contamination, preprocessing: as in :func:`one_class_split`.
      key_or_seed: a seed or key, or one per entry.
      pad_multiple: round n_max up to a multiple of this (e.g. the engine's inference chunk).

    Returns:
      :class:`OneClassStack`. Memory: one float32 copy of the training rows used (each row once per
      entry that uses it) plus one float32 copy of the test set.
    """
    _check_rho(contamination)
    classes = list(range(ds.num_classes)) if normal_classes is None else [ds.class_index(c) for c in normal_classes]
    if not classes:
        raise DatasetError("normal_classes is empty; expected at least one class")
    mode, base = _resolve_mode(ds, preprocessing)
    seeds = _per_entry_seeds(key_or_seed, len(classes))
    plans = [_entry_rows(ds, c, float(contamination), s) for c, s in zip(classes, seeds)]
    n = np.array([len(r) for r, _ in plans], np.int32)
    n_max = int(n.max())
    if pad_multiple > 1:
        n_max = -(-n_max // pad_multiple) * pad_multiple
    sample_shape = ds.x_train.shape[1:]
    k = len(classes)
    x = np.zeros((k, n_max) + sample_shape, np.float32)
    train_index = np.full((k, n_max), -1, np.int64)
    is_anom = np.zeros((k, n_max), bool)
    affines = []
    for i, (rows, anom) in enumerate(plans):
        slot = x[i, : rows.size]
        _, lo, hi = base_transform(ds.x_train, base, rows=rows, out=slot)
        aff = _fit(mode, base, slot, lo, hi, ~anom)
        _apply_inplace(slot, aff)
        affines.append(aff)
        train_index[i, : rows.size] = rows
        is_anom[i, : rows.size] = anom
    x_te, _, _ = base_transform(ds.x_test, base)
    shift = np.stack([np.asarray(a.shift, np.float32) for a in affines])
    inv = np.stack([np.asarray(a.inv_scale, np.float32) for a in affines])
    cls = np.array(classes, np.int32)
    y_test = (ds.y_test[None, :] != cls[:, None]).astype(np.int32)
    return OneClassStack(x, n, cls, shift, inv, base, x_te, y_test, ds.y_test.copy(), train_index, is_anom)


def minmax_table(ds: Dataset, classes: Sequence[int | str] | None = None, *, gcn: bool = True) -> np.ndarray:
    """Per-class min-max constants (m_c, M_c) of the (GCN'd) training rows of each class (§7.2 table).

    Args:
      ds: the data set (images).
      classes: which classes (default all).
      gcn: apply the l1 GCN first (the §7.2 constants) or use the [0, 1] pixels.

    Returns:
      (len(classes), 2) float64 array of (m_c, M_c). Each class is converted chunk by chunk; nothing
      larger than one chunk is held.
    """
    classes = list(range(ds.num_classes)) if classes is None else [ds.class_index(c) for c in classes]
    base = "gcn_l1" if gcn else "none"
    out = np.empty((len(classes), 2))
    for i, c in enumerate(classes):
        rows = np.flatnonzero(ds.y_train == c)
        if rows.size == 0:
            raise DatasetError(f"{ds.name}: class {c} has no training rows")
        m, mx = np.inf, -np.inf
        for s in range(0, rows.size, _CHUNK):
            _, lo, hi = base_transform(ds.x_train, base, rows=rows[s : s + _CHUNK])
            m, mx = min(m, float(lo.min())), max(mx, float(hi.max()))
        out[i] = m, mx
    return out
