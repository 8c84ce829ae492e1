"""Image folders (PNG/JPEG/BMP/PPM/PGM via Pillow), resized to a fixed shape.

Layouts, tried in this order under ``root``:

* ``root/train/<class>/*.png`` and optionally ``root/test/<class>/*.png``: class subfolders
  (e.g. MVTec AD: ``train/good``, ``test/good``, ``test/crack``...). Classes are the sorted union of
  the subfolder names.
* ``root/train/*.png`` (images directly in train/): all training images are of class ``normal_name``;
  ``root/test/<class>/`` as above when present.
* ``root/*.png``: a normal-only folder, all of class ``normal_name``, with an empty test split.

Images are converted to grey ("L") for C = 1 or RGB for C = 3, resized with bilinear filtering to
(H, W) when their size differs, and stored as uint8 NHWC. Files are read in sorted order, so the
result is deterministic.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Dataset
from .errors import DataFormatError, DatasetError, DatasetNotFoundError

__all__ = ["IMAGE_SUFFIXES", "load_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm")


def _images_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path: Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    h, w, c = image_shape
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataFormatError(f"{path}: cannot decode image ({type(e).__name__}: {e}); expected a PNG/JPEG/BMP/PPM file") from e
    return a.reshape(h, w, c)


def _read_split(entries: list[tuple[Path, int]], image_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    x = np.empty((len(entries),) + image_shape, np.uint8)
    y = np.empty((len(entries),), np.int32)
    for i, (p, k) in enumerate(entries):
        x[i] = _read_image(p, image_shape)
        y[i] = k
    return x, y


def _class_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_image_folder(
    root: str | os.PathLike[str],
    image_shape: tuple[int, int, int] | tuple[int, int],
    *,
    normal_name: str = "normal",
    name: str | None = None,
) -> Dataset:
    """Load an image folder as a :class:`Dataset` of uint8 (n, H, W, C) images.

    Args:
      root: the folder (see the module docstring for the layouts).
      image_shape: (H, W, C) with C in {1, 3}, or (H, W) meaning C = 3.
      normal_name: class name for images that are not in a class subfolder.
      name: name recorded in the Dataset (default: the folder's name).

    Raises:
      DatasetNotFoundError: ``root`` is not a directory.
      DatasetError: no images found, or a bad ``image_shape``.
      DataFormatError: a file cannot be decoded (names the file).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"image folder '{root}' does not exist; expected a directory with train/<class>/ images or "
            f"images ({', '.join(IMAGE_SUFFIXES)}) directly inside"
        )
    if len(image_shape) == 2:
        image_shape = (int(image_shape[0]), int(image_shape[1]), 3)
    image_shape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]
    if len(image_shape) != 3 or image_shape[2] not in (1, 3) or min(image_shape[:2]) < 1:
        raise DatasetError(f"image_shape={image_shape}; expected (H, W, C) with H, W >= 1 and C in (1, 3)")

    def collect(d: Path) -> dict[str, list[Path]]:
        out = {}
        for cd in _class_dirs(d):
            imgs = _images_in(cd)
            if imgs:
                out[cd.name] = imgs
        flat = _images_in(d)
        if flat:
            out.setdefault(normal_name, [])
            out[normal_name] = sorted(out[normal_name] + flat)
        return out

    train_dir, test_dir = root / "train", root / "test"
    if train_dir.is_dir():
        train = collect(train_dir)
        test = collect(test_dir) if test_dir.is_dir() else {}
    else:
        train = {normal_name: _images_in(root)} if _images_in(root) else {}
        test = {}
    if not any(train.values()):
        where = train_dir if train_dir.is_dir() else root
        raise DatasetError(
            f"image folder '{where}': no images found; expected files ending in {', '.join(IMAGE_SUFFIXES)} "
            f"in class subfolders or directly inside"
        )
    classes = tuple(sorted(set(train) | set(test)))
    index = {c: i for i, c in enumerate(classes)}
    tr_entries = [(p, index[c]) for c in classes for p in train.get(c, [])]
    te_entries = [(p, index[c]) for c in classes for p in test.get(c, [])]
    x_tr, y_tr = _read_split(tr_entries, image_shape)  # type: ignore[arg-type]
    x_te, y_te = _read_split(te_entries, image_shape)  # type: ignore[arg-type]
    return Dataset(
        name=name or root.name,
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        classes=classes,
        image_shape=image_shape,  # type: ignore[arg-type]
        source=str(root),
    )
