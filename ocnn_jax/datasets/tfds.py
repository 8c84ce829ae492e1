"""Optional TensorFlow Datasets back end (``pip install 'ocnn_jax[tfds]'``), imported lazily.

Used when ``source="tfds"``, or when ``source="auto"`` finds no local files and tensorflow-datasets
is importable. It first tries ``tfds.data_source`` (reads already prepared ArrayRecord data and does
not need TensorFlow), then ``tfds.load(..., batch_size=-1)`` (needs TensorFlow; prepares the data,
downloading it when ``download=True``). Every failure is reported as :class:`TFDSUnavailableError`
naming the builder, the split and the likely cause (not installed, offline, not prepared).
Images come back uint8 NHWC as TFDS stores them.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from .base import Dataset
from .errors import TFDSUnavailableError

__all__ = ["TFDS_NAMES", "tfds_available", "load_tfds"]

#: registry name -> TFDS builder name
TFDS_NAMES = {
    "mnist": "mnist",
    "fashion_mnist": "fashion_mnist",
    "kmnist": "kmnist",
    "emnist_digits": "emnist/digits",
    "cifar10": "cifar10",
}

INSTALL_HINT = "pip install 'ocnn_jax[tfds]' (tensorflow-datasets; tfds.load also needs tensorflow)"


def tfds_available() -> bool:
    """Whether ``tensorflow_datasets`` can be imported (checked without importing it)."""
    return importlib.util.find_spec("tensorflow_datasets") is not None


def _import_tfds():
    try:
        import tensorflow_datasets as tfds  # type: ignore[import-not-found]
    except ImportError as e:
        raise TFDSUnavailableError(f"source='tfds' needs tensorflow-datasets, which is not installed ({e}); {INSTALL_HINT}") from e
    return tfds


def _split_via_data_source(tfds, builder: str, split: str, data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    src = tfds.data_source(builder, split=split, data_dir=data_dir, download=download)
    n = len(src)
    first = src[0]
    img0 = np.asarray(first["image"])
    x = np.empty((n,) + img0.shape, np.uint8)
    y = np.empty((n,), np.int32)
    for i in range(n):
        rec = first if i == 0 else src[i]
        x[i] = np.asarray(rec["image"])
        y[i] = int(rec["label"])
    return x, y


def _split_via_load(tfds, builder: str, split: str, data_dir, download: bool) -> tuple[np.ndarray, np.ndarray]:
    ds = tfds.load(builder, split=split, data_dir=data_dir, download=download, as_supervised=True, batch_size=-1)
    x, y = tfds.as_numpy(ds)
    return np.asarray(x, np.uint8), np.asarray(y, np.int32)


def load_tfds(
    name: str,
    classes: tuple[str, ...],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> Dataset:
    """Load the official train and test splits of ``name`` through TFDS.

    Args:
      name: registry name (a key of :data:`TFDS_NAMES`).
      classes: class names for the labels.
      data_dir: TFDS data directory (TFDS's default when ``None``).
      download: allow TFDS to download and prepare the data (needs network and TensorFlow).

    Raises:
      TFDSUnavailableError: tensorflow-datasets is missing, or could not provide the data.
    """
    if name not in TFDS_NAMES:
        raise TFDSUnavailableError(f"no TFDS builder is known for {name!r}; TFDS serves {sorted(TFDS_NAMES)}")
    tfds = _import_tfds()
    builder = TFDS_NAMES[name]
    out = {}
    for split in ("train", "test"):
        errors = []
        for reader in (_split_via_data_source, _split_via_load):
            try:
                out[split] = reader(tfds, builder, split, None if data_dir is None else str(data_dir), download)
                break
            except Exception as e:  # noqa: BLE001 - reported below, with the other reader's failure
                errors.append(f"{reader.__name__.removeprefix('_split_via_')}: {type(e).__name__}: {e}")
        else:
            raise TFDSUnavailableError(
                f"TFDS could not provide {builder!r} split {split!r} (data_dir={data_dir}, download={download}): "
                + " | ".join(errors)
                + ". If offline, prepare it once with download=True where there is network, or place the "
                "official files in a data directory and use source='local'"
            )
    (x_tr, y_tr), (x_te, y_te) = out["train"], out["test"]
    return Dataset(name, x_tr, y_tr, x_te, y_te, classes, tuple(x_tr.shape[1:]), source=f"tfds:{builder}")  # type: ignore[arg-type]
