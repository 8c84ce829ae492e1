"""GTSRB stop signs with adversarial examples (the set of the Deep SVDD and OC-NN papers).

No public copy of this set exists, so it loads only from files the
user provides, in a directory ``<dir>`` (``data_dir`` itself, or its ``gtsrb/``, ``GTSRB/`` or
``data_gtsrb/`` subfolder):

* ``Images_150.npy`` and ``Labels_150.npy``: the 150 candidate adversarial stop signs, (150, 3, 32, 32)
  or (150, 32, 32, 3), and their labels; those with label 1 are the adversarial test anomalies
  (20 in the papers' file);
* the normal stop signs (GTSRB class 14), either as ``stop_signs.npy`` ((n, 32, 32, 3) or
  (n, 3, 32, 32)), or as the official training folder ``Final_Training/Images/00014/`` (``GT-00014.csv``
  and its ``.ppm`` files), each cropped to its ROI and resized to 32x32 (bilinear).

Split (as in Ruff et al.'s loader): ``np.random.RandomState(seed).permutation(n)`` of the normal
stop signs; the first ``n_test_normal`` (default 100) go to the test set with the adversarial
examples, the rest are the training set. Arrays are float32 in [0, 1] (the adversarial examples are
real-valued); inputs with values above 1 are taken to be on the 0..255 scale and divided by 255.
Classes: 0 "stop_sign", 1 "adversarial" (the training split holds class 0 only).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .base import Dataset, candidate_dirs, describe_roots, search_roots
from .errors import DataFormatError, DatasetNotFoundError

__all__ = ["GTSRB_EXPECTED", "load_gtsrb"]

SUBDIRS = ("gtsrb", "GTSRB", "data_gtsrb")
ADV_IMAGES, ADV_LABELS, STOP_NPY = "Images_150.npy", "Labels_150.npy", "stop_signs.npy"
OFFICIAL_STOP_DIR = Path("Final_Training") / "Images" / "00014"
GTSRB_EXPECTED = (
    f"{ADV_IMAGES} and {ADV_LABELS} (adversarial stop signs) plus the normal stop signs as "
    f"{STOP_NPY} or the official {OFFICIAL_STOP_DIR.as_posix()}/GT-00014.csv with its .ppm images"
)


def _to_unit_nhwc(a: np.ndarray, where: str, size: int) -> np.ndarray:
    if a.ndim != 4:
        raise DataFormatError(f"{where}: array of shape {a.shape}; expected (n, {size}, {size}, 3) or (n, 3, {size}, {size})")
    if a.shape[1] == 3 and a.shape[3] != 3:
        a = a.transpose(0, 2, 3, 1)
    if a.shape[1:] != (size, size, 3):
        raise DataFormatError(f"{where}: images of shape {a.shape[1:]}; expected ({size}, {size}, 3) or (3, {size}, {size})")
    if a.dtype == np.uint8:
        return (a.astype(np.float32) / 255.0).astype(np.float32)
    if not np.issubdtype(a.dtype, np.number):
        raise DataFormatError(f"{where}: dtype {a.dtype}; expected uint8 or floats")
    a = a.astype(np.float32)
    if a.size and not np.all(np.isfinite(a)):
        raise DataFormatError(f"{where}: non-finite pixel values; expected 0..255 or [0, 1]")
    if a.size and a.max() > 1.0:
        a = a / np.float32(255.0)
    if a.size and (a.min() < 0.0 or a.max() > 1.0 + 1e-6):
        raise DataFormatError(f"{where}: pixels span [{a.min()}, {a.max()}] after scaling; expected 0..255 or [0, 1]")
    return np.clip(a, 0.0, 1.0)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataFormatError(f"{path}: cannot read as .npy ({type(e).__name__}: {e}); expected a NumPy array file") from e


def _read_official_stop_signs(d: Path, size: int) -> np.ndarray:
    from PIL import Image

    gt = d / "GT-00014.csv"
    with open(gt, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if not rows or rows[0][:1] != ["Filename"]:
        raise DataFormatError(f"{gt}: header {rows[:1]}; expected 'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId'")
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) < 8:
            raise DataFormatError(f"{gt}: line {n} has {len(r)} fields; expected 8")
        x1, y1, x2, y2 = (int(v) for v in r[3:7])
        p = d / r[0]
        try:
            with Image.open(p) as im:
                im = im.convert("RGB").crop((x1, y1, x2, y2)).resize((size, size), Image.Resampling.BILINEAR)
                out.append(np.asarray(im, np.uint8))
        except OSError as e:
            raise DataFormatError(f"{p}: cannot decode ({e}); expected a PPM image listed in {gt}") from e
    if not out:
        raise DataFormatError(f"{gt}: lists no images; expected the stop-sign training images")
    return np.stack(out)


def _find_dir(data_dir) -> Path | None:
    roots = search_roots(data_dir, GTSRB_EXPECTED)
    for d in candidate_dirs(roots, SUBDIRS):
        if (d / ADV_IMAGES).is_file() or (d / ADV_LABELS).is_file() or (d / STOP_NPY).is_file():
            return d
    return None


def load_gtsrb(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    n_test_normal: int = 100,
    seed: int = 0,
    image_size: int = 32,
) -> Dataset:
    """GTSRB stop signs (normal) with adversarial stop signs (anomalies, test only).

    Args:
      data_dir: directory with the files (default search: ``$OCNN_JAX_DATA_DIR``, the cache directory).
      n_test_normal: normal stop signs held out for the test set.
      seed: seed of the held-out permutation (``np.random.RandomState``).
      image_size: image side in pixels (32 in the papers).

    Returns:
      Dataset with float32 (n, 32, 32, 3) images in [0, 1]; classes ("stop_sign", "adversarial").

    Raises:
      DatasetNotFoundError: the files are absent (the message lists the files expected).
      DataFormatError: a file has the wrong shape, length or contents.
    """
    d = _find_dir(data_dir)
    if d is None:
        roots = search_roots(data_dir, GTSRB_EXPECTED)
        raise DatasetNotFoundError(
            f"gtsrb: no public copy exists; provide {GTSRB_EXPECTED}. {describe_roots(roots, SUBDIRS)}"
        )
    missing = [f for f in (ADV_IMAGES, ADV_LABELS) if not (d / f).is_file()]
    stop_npy, stop_dir = d / STOP_NPY, d / OFFICIAL_STOP_DIR
    if not stop_npy.is_file() and not (stop_dir / "GT-00014.csv").is_file():
        missing.append(f"{STOP_NPY} (or {OFFICIAL_STOP_DIR.as_posix()}/GT-00014.csv)")
    if missing:
        raise DatasetNotFoundError(f"gtsrb: '{d}' lacks {', '.join(missing)}; expected {GTSRB_EXPECTED}")
    adv = _to_unit_nhwc(_load_npy(d / ADV_IMAGES), str(d / ADV_IMAGES), image_size)
    lab = _load_npy(d / ADV_LABELS).reshape(-1)
    if lab.shape[0] != adv.shape[0]:
        raise DataFormatError(
            f"gtsrb: '{d / ADV_IMAGES}' holds {adv.shape[0]} images but '{d / ADV_LABELS}' {lab.shape[0]} labels; "
            f"expected equal counts"
        )
    if stop_npy.is_file():
        normal = _to_unit_nhwc(_load_npy(stop_npy), str(stop_npy), image_size)
        source = str(stop_npy)
    else:
        normal = _to_unit_nhwc(_read_official_stop_signs(stop_dir, image_size), str(stop_dir), image_size)
        source = str(stop_dir)
    if not 0 <= n_test_normal < normal.shape[0]:
        raise DataFormatError(
            f"gtsrb: n_test_normal={n_test_normal} but only {normal.shape[0]} normal stop signs in '{source}'; "
            f"expected 0 <= n_test_normal < {normal.shape[0]}"
        )
    perm = np.random.RandomState(seed).permutation(normal.shape[0])
    adv_sel = adv[lab == 1]
    x_test = np.concatenate([normal[perm[:n_test_normal]], adv_sel])
    y_test = np.concatenate([np.zeros(n_test_normal, np.int32), np.ones(len(adv_sel), np.int32)])
    x_train = normal[perm[n_test_normal:]]
    return Dataset(
        name="gtsrb",
        x_train=x_train,
        y_train=np.zeros(len(x_train), np.int32),
        x_test=x_test,
        y_test=y_test,
        classes=("stop_sign", "adversarial"),
        image_shape=(image_size, image_size, 3),
        source=str(d),
        split_note=f"{n_test_normal} normal stop signs held out by RandomState({seed}).permutation; "
        f"adversarial = {ADV_LABELS} == 1",
    )
