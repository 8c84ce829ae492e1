"""Plain arrays and CSV files (tabular or image data that is already in memory).

Labels may be any hashable values (ints, strings); they are mapped to indices 0..K-1 in sorted order
and the sorted values become ``Dataset.classes``. When no test set is given, a stratified split fixed
by ``seed`` is drawn (``sklearn.model_selection.train_test_split(stratify=y, random_state=seed)``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import Dataset
from .errors import DataFormatError, DatasetError, DatasetNotFoundError

__all__ = ["from_arrays", "load_csv"]


def _encode_labels(y_all: np.ndarray, classes: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if classes is not None:
        classes = tuple(str(c) for c in classes)
        if np.issubdtype(y_all.dtype, np.integer):
            return y_all.astype(np.int32), classes
        lookup = {c: i for i, c in enumerate(classes)}
        try:
            return np.array([lookup[str(v)] for v in y_all], np.int32), classes
        except KeyError as e:
            raise DatasetError(f"label {e.args[0]!r} is not in classes={classes}") from None
    uniq, inv = np.unique(y_all, return_inverse=True)
    return inv.astype(np.int32).reshape(-1), tuple(str(u) for u in uniq)


def from_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    *,
    name: str = "arrays",
    classes: Sequence[str] | None = None,
    test_size: float = 0.5,
    seed: int = 0,
) -> Dataset:
    """Wrap arrays as a :class:`Dataset`.

    Args:
      x_train: (n, d) tabular features (any real dtype; stored as float32), or images (n, H, W) /
        (n, H, W, C) as uint8 0..255 or floats in [0, 1] (stored as float32).
      y_train: (n,) labels (any hashable values).
      x_test, y_test: the test split; when both are ``None`` a stratified split of the training
        arrays is drawn with ``test_size`` and ``seed``.
      name: name recorded in the Dataset.
      classes: class names for integer labels 0..K-1 (or the allowed label values); default: the
        sorted distinct labels.

    Raises:
      DatasetError: mismatched counts, only one of x_test / y_test, images outside [0, 1], non-finite
        features, unsupported shapes.
    """
    x_train = np.asarray(x_train)
    y_train = np.asarray(y_train)
    if y_train.ndim == 2 and y_train.shape[1] == 1:
        y_train = y_train[:, 0]
    if (x_test is None) != (y_test is None):
        raise DatasetError(f"{name}: got {'x_test' if y_test is None else 'y_test'} without the other; pass both or neither")
    if x_train.shape[0] != y_train.shape[0]:
        raise DatasetError(f"{name}: x_train holds {x_train.shape[0]} samples but y_train {y_train.shape[0]} labels; expected equal counts")
    split_note = ""
    if x_test is None:
        from sklearn.model_selection import train_test_split

        try:
            x_train, x_test, y_train, y_test = train_test_split(
                x_train, y_train, test_size=test_size, stratify=y_train, random_state=seed
            )
        except ValueError as e:
            raise DatasetError(f"{name}: cannot draw a stratified split (test_size={test_size}): {e}") from e
        split_note = f"stratified train_test_split(test_size={test_size}, random_state={seed})"
    x_test = np.asarray(x_test)
    y_test = np.asarray(y_test)
    if y_test.ndim == 2 and y_test.shape[1] == 1:
        y_test = y_test[:, 0]
    if x_test.shape[0] != y_test.shape[0]:
        raise DatasetError(f"{name}: x_test holds {x_test.shape[0]} samples but y_test {y_test.shape[0]} labels; expected equal counts")
    y_all, classes_t = _encode_labels(np.concatenate([y_train, y_test]), classes)
    y_tr, y_te = y_all[: len(y_train)], y_all[len(y_train) :]

    if x_train.ndim == 2:
        image_shape = None
        xs = []
        for split, x in (("x_train", x_train), ("x_test", x_test)):
            x = np.asarray(x, dtype=np.float32)
            if not np.all(np.isfinite(x)):
                raise DatasetError(f"{name}: {split} has non-finite values; expected finite features")
            xs.append(x)
    elif x_train.ndim in (3, 4):
        xs = []
        for split, x in (("x_train", x_train), ("x_test", x_test)):
            x = x[..., None] if x.ndim == 3 else x
            if x.dtype != np.uint8:
                x = np.asarray(x, dtype=np.float32)
                if x.size and not (np.all(np.isfinite(x)) and x.min() >= 0.0 and x.max() <= 1.0):
                    raise DatasetError(
                        f"{name}: {split} floats span [{x.min()}, {x.max()}]; expected uint8 0..255 or floats in [0, 1]"
                    )
            xs.append(x)
        image_shape = tuple(xs[0].shape[1:])
    else:
        raise DatasetError(f"{name}: x_train has shape {x_train.shape}; expected (n, d), (n, H, W) or (n, H, W, C)")
    return Dataset(name, xs[0], y_tr, xs[1], y_te, classes_t, image_shape, source="arrays", split_note=split_note)


def _read_csv_rows(path: Path, delimiter: str) -> list[list[str]]:
    if not path.is_file():
        raise DatasetNotFoundError(f"CSV file '{path}' does not exist")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataFormatError(f"{path}: no rows; expected a CSV with features and a label column")
    return rows


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _parse_csv(path: Path, delimiter: str, label_column: int | str, header: bool | str) -> tuple[np.ndarray, np.ndarray]:
    rows = _read_csv_rows(path, delimiter)
    width = len(rows[0])
    if width < 2:
        raise DataFormatError(f"{path}: rows have {width} column(s); expected at least one feature and a label")
    names: list[str] | None = None
    if header == "auto":
        lab = label_column if isinstance(label_column, int) else 0
        has_header = isinstance(label_column, str) or not all(
            _is_number(c) for i, c in enumerate(rows[0]) if i != lab % width
        )
    else:
        has_header = bool(header)
    if has_header:
        names = [c.strip() for c in rows[0]]
        rows = rows[1:]
    if isinstance(label_column, str):
        if names is None or label_column not in names:
            raise DataFormatError(f"{path}: no column named {label_column!r}; header is {names}")
        li = names.index(label_column)
    else:
        li = label_column % width
    feats = np.empty((len(rows), width - 1), np.float32)
    labels = []
    first = 2 if has_header else 1
    for n, r in enumerate(rows):
        if len(r) != width:
            raise DataFormatError(f"{path}: line {n + first} has {len(r)} columns; expected {width}")
        vals = r[:li] + r[li + 1 :]
        try:
            feats[n] = [float(v) for v in vals]
        except ValueError:
            bad = next(v for v in vals if not _is_number(v))
            raise DataFormatError(f"{path}: line {n + first} has non-numeric feature {bad!r}; expected numbers") from None
        labels.append(r[li].strip())
    if not rows:
        raise DataFormatError(f"{path}: a header but no data rows")
    lab = np.array(labels)
    if all(_is_number(v) and float(v).is_integer() for v in labels):
        lab = np.array([int(float(v)) for v in labels])
    return feats, lab


def load_csv(
    path: str | os.PathLike[str],
    *,
    label_column: int | str = -1,
    test_path: str | os.PathLike[str] | None = None,
    delimiter: str = ",",
    header: bool | str = "auto",
    test_size: float = 0.5,
    seed: int = 0,
    name: str | None = None,
) -> Dataset:
    """Tabular data from a CSV file: numeric features and one label column.

    Args:
      path: the training CSV (or the only CSV, split with ``test_size``/``seed``).
      label_column: index (negative counts from the end) or header name of the label column.
      test_path: optional CSV with the same columns for the test split.
      delimiter: field separator.
      header: ``True``/``False``, or "auto" (a header exists if the first row has a non-numeric feature).

    Returns:
      Dataset with float32 (n, d) features and labels mapped to sorted class names.

    Raises:
      DatasetNotFoundError: a file is missing.
      DataFormatError: ragged rows or non-numeric features (names the file and line).
    """
    path = Path(path)
    x_tr, y_tr = _parse_csv(path, delimiter, label_column, header)
    x_te = y_te = None
    if test_path is not None:
        x_te, y_te = _parse_csv(Path(test_path), delimiter, label_column, header)
        if x_te.shape[1] != x_tr.shape[1]:
            raise DataFormatError(f"{test_path}: {x_te.shape[1]} features; expected {x_tr.shape[1]} as in '{path}'")
        if y_tr.dtype.kind != y_te.dtype.kind:
            y_tr, y_te = y_tr.astype(str), y_te.astype(str)
    ds = from_arrays(x_tr, y_tr, x_te, y_te, name=name or path.stem, test_size=test_size, seed=seed)
    return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.classes, None,
                   source=str(path), split_note=ds.split_note)
