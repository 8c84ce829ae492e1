"""The :class:`Dataset` record returned by every loader, and small helpers shared by the loaders.

Array conventions (all loaders):

* images are NHWC: ``x`` has shape (n, H, W, C) (MNIST is (n, 28, 28, 1), CIFAR-10 (n, 32, 32, 3));
  dtype is either **uint8** with pixels in 0..255 (files that store bytes: IDX, CIFAR, PNG/JPEG) or
  **float32 in [0, 1]** (sources that are not bytes: scikit-learn digits, GTSRB's adversarial
  examples). :func:`to_unit` maps both to float32 in [0, 1];
* tabular data has shape (n, d) and dtype float32, in the file's own units;
* labels are int32 class indices into ``Dataset.classes``;
* the arrays are read-only views, so that nothing downstream preprocesses them in place by accident.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import ChecksumError, DatasetError, DatasetNotFoundError

__all__ = [
    "Dataset",
    "to_unit",
    "readonly",
    "ENV_DATA_DIR",
    "ENV_DATA_DIR_ALIASES",
    "default_cache_dir",
    "search_roots",
    "file_digest",
    "digest_mismatches",
    "verify_digests",
    "VERIFY_HINT",
]

#: Environment variable naming a directory of data files. ``OCNN_DATA_DIR`` is
#: accepted as well; when both are set, ``OCNN_JAX_DATA_DIR`` is searched first.
ENV_DATA_DIR = "OCNN_JAX_DATA_DIR"
ENV_DATA_DIR_ALIASES = ("OCNN_JAX_DATA_DIR", "OCNN_DATA_DIR")


def readonly(x: np.ndarray) -> np.ndarray:
    """A read-only view of ``x`` (no copy; the caller's own array keeps its flags)."""
    v = x.view()
    v.flags.writeable = False
    return v


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays of one data set, with class names.

    Attributes:
      name: registry name, e.g. ``"mnist"``.
      x_train: (n_train, H, W, C) uint8 in 0..255 or float32 in [0, 1] for images; (n_train, d)
        float32 for tabular data. Read-only.
      y_train: (n_train,) int32 class indices into ``classes``. Read-only.
      x_test: (n_test, ...) like ``x_train`` (n_test may be 0 for a train-only image folder).
      y_test: (n_test,) int32.
      classes: class names; label ``k`` is ``classes[k]``.
      image_shape: (H, W, C) for images, ``None`` for tabular data.
      source: where the data came from (a path, ``"tfds:<name>"`` or ``"sklearn"``), for reports.
      split_note: how train and test were formed when the data has no official split ("" otherwise).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int] | None
    source: str = ""
    split_note: str = ""

    def __post_init__(self) -> None:
        classes = tuple(str(c) for c in self.classes)
        object.__setattr__(self, "classes", classes)
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        for split in ("train", "test"):
            x = np.asarray(getattr(self, f"x_{split}"))
            y = np.asarray(getattr(self, f"y_{split}"))
            where = f"Dataset {self.name!r} x_{split}/y_{split}"
            if y.ndim != 1:
                raise DatasetError(f"{where}: labels have shape {y.shape}; expected (n,)")
            if x.shape[0] != y.shape[0]:
                raise DatasetError(
                    f"{where}: {x.shape[0]} samples but {y.shape[0]} labels; expected equal counts"
                )
            if self.image_shape is not None:
                if x.shape[1:] != self.image_shape:
                    raise DatasetError(
                        f"{where}: images have shape {x.shape[1:]}; expected image_shape {self.image_shape} (NHWC)"
                    )
                if x.dtype not in (np.uint8, np.float32):
                    raise DatasetError(f"{where}: image dtype {x.dtype}; expected uint8 (0..255) or float32 in [0, 1]")
            else:
                if x.ndim != 2:
                    raise DatasetError(f"{where}: tabular data has shape {x.shape}; expected (n, d)")
                if x.dtype != np.float32:
                    raise DatasetError(f"{where}: tabular dtype {x.dtype}; expected float32")
            if y.size and not np.issubdtype(y.dtype, np.integer):
                raise DatasetError(f"{where}: label dtype {y.dtype}; expected integer class indices")
            if y.size and (y.min() < 0 or y.max() >= len(classes)):
                raise DatasetError(
                    f"{where}: labels span {int(y.min())}..{int(y.max())}; expected 0..{len(classes) - 1} "
                    f"({len(classes)} classes)"
                )
            object.__setattr__(self, f"x_{split}", readonly(x))
            object.__setattr__(self, f"y_{split}", readonly(y.astype(np.int32, copy=False)))
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(
                f"Dataset {self.name!r}: train samples have shape {self.x_train.shape[1:]} but test "
                f"samples {self.x_test.shape[1:]}; expected the same"
            )

    @property
    def kind(self) -> str:
        """``"image"`` or ``"tabular"``."""
        return "tabular" if self.image_shape is None else "image"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_index(self, cls: int | str) -> int:
        """Index of ``cls`` (an index or a class name)."""
        if isinstance(cls, (str, np.str_)):
            if str(cls) in self.classes:
                return self.classes.index(str(cls))
            raise DatasetError(f"class {cls!r} is not one of {self.name!r}'s classes {self.classes}")
        k = int(cls)
        if not 0 <= k < len(self.classes):
            raise DatasetError(f"class index {k} is out of range; {self.name!r} has classes 0..{len(self.classes) - 1}")
        return k

    def class_counts(self, split: str = "train") -> np.ndarray:
        """(num_classes,) int64 number of samples per class in ``split`` ("train" or "test")."""
        y = self.y_train if split == "train" else self.y_test
        return np.bincount(y, minlength=len(self.classes))

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, x_train={self.x_train.shape} {self.x_train.dtype}, "
            f"x_test={self.x_test.shape} {self.x_test.dtype}, classes={len(self.classes)}, "
            f"image_shape={self.image_shape}, source={self.source!r})"
        )


def to_unit(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Pixels to float32 in [0, 1]: uint8 is divided by 255, floating input is cast (assumed in [0, 1]).

    Args:
      x: array of any shape, uint8 (0..255) or floating.
      out: optional float32 buffer of ``x``'s shape.

    Returns:
      float32 array of ``x``'s shape.
    """
    x = np.asarray(x)
    if out is None:
        out = np.empty(x.shape, dtype=np.float32)
    if x.dtype == np.uint8:
        np.multiply(x, np.float32(1.0 / 255.0), out=out, dtype=np.float32)
    else:
        out[...] = x
    return out


# ---------------------------------------------------------------------------------------------------------------
# Where to look for files


def default_cache_dir() -> Path:
    """Per-user cache directory: ``$XDG_CACHE_HOME/ocnn_jax`` or ``~/.cache/ocnn_jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ocnn_jax"


def search_roots(data_dir: str | os.PathLike[str] | None, expected: str) -> list[tuple[Path, bool]]:
    """Directories to search, in order, as ``(root, explicit)`` pairs.

    Order: the explicit ``data_dir`` alone when given; otherwise ``$OCNN_JAX_DATA_DIR`` and
    ``$OCNN_DATA_DIR`` (when set), then :func:`default_cache_dir` (when it exists). An explicit
    ``data_dir`` or a set environment variable that names no directory is an error (``expected``
    describes the files wanted, for the message), never silently skipped.
    """
    if data_dir is not None:
        p = Path(data_dir).expanduser()
        if not p.is_dir():
            what = "is a file, not a directory" if p.exists() else "does not exist"
            raise DatasetNotFoundError(f"data_dir '{p}' {what}; expected a directory holding {expected}")
        return [(p, True)]
    roots: list[tuple[Path, bool]] = []
    for var in ENV_DATA_DIR_ALIASES:
        val = os.environ.get(var)
        if val:
            p = Path(val).expanduser()
            if not p.is_dir():
                raise DatasetNotFoundError(
                    f"${var}='{val}' does not name a directory; expected a directory holding {expected} "
                    f"(or unset ${var})"
                )
            roots.append((p, False))
    cache = default_cache_dir()
    if cache.is_dir():
        roots.append((cache, False))
    return roots


def candidate_dirs(roots: list[tuple[Path, bool]], subdirs: Sequence[str]) -> list[Path]:
    """Directories to probe: an explicit root itself and then its ``subdirs``; other roots only through
    ``subdirs`` (so that, say, Fashion-MNIST never picks up MNIST files lying in a shared root)."""
    out: list[Path] = []
    for root, explicit in roots:
        if explicit:
            out.append(root)
        out.extend(root / s for s in subdirs)
    seen: set[Path] = set()
    uniq = []
    for d in out:
        if d not in seen and d.is_dir():
            seen.add(d)
            uniq.append(d)
    return uniq


def describe_roots(roots: list[tuple[Path, bool]], subdirs: Sequence[str]) -> str:
    if not roots:
        return (
            f"no directory to search (pass data_dir=..., set ${ENV_DATA_DIR}, or use the cache "
            f"directory '{default_cache_dir()}')"
        )
    parts = []
    sub = "{" + ",".join(subdirs) + "}" if subdirs else ""
    for root, explicit in roots:
        if explicit:
            parts.append(f"'{root}'" + (f" and '{root}/{sub}'" if sub else ""))
        elif sub:
            parts.append(f"'{root}/{sub}'")
    text = "searched " + "; ".join(parts)
    if sub and not any(explicit for _, explicit in roots):
        text += (
            f" (${ENV_DATA_DIR} and the cache directory are searched only through these sub-folders; "
            "to use a folder that holds the files itself, pass data_dir=... or --data-dir)"
        )
    return text


# ---------------------------------------------------------------------------------------------------------------
# Checksums
#
# Two checks, either of which accepts a file (README, "Data"):
#
# * the *content* check compares digests of the decoded payload (the decompressed IDX bytes, the decoded
#   CIFAR-10 arrays) with known digests, so a genuine file that was re-compressed or re-packed (another
#   gzip header, another archive) is accepted and a corrupt or modified one is refused;
# * the *file* check compares the digests of the file's bytes with the published ones; it accepts the
#   official release byte for byte, and is the only check for data sets whose content digests are not
#   known.

#: What to tell the user when a check fails (the CLI commands that load data take ``--no-verify``).
VERIFY_HINT = (
    "Replace it with the official file (delete it and load with download=True, CLI --download), or pass "
    "verify=False (CLI --no-verify) to use it unchecked"
)


def file_digest(path: str | os.PathLike[str], algo: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algo``: any hashlib name, e.g. "md5", "sha256")."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def digest_mismatches(got: Mapping[str, str], expected: Mapping[str, str], of: str) -> list[str]:
    """One "<algo> of <of> is <got>, expected <want>" line per algorithm of ``expected`` that differs.

    ``got`` must hold every algorithm of ``expected``.
    """
    return [
        f"{algo} of {of} is {got[algo]}, expected {want}"
        for algo, want in expected.items()
        if got[algo] != want.lower()
    ]


def verify_digests(
    path: Path,
    what: str,
    *,
    content: Callable[[], list[str]] | None,
    file_expected: Mapping[str, str] | None,
) -> str:
    """Accept ``path`` when its content or its bytes match known digests; otherwise raise.

    Args:
      path: the file (for the message, and for the file check).
      what: what the file should be, e.g. "the official mnist file train-images-idx3-ubyte".
      content: ``None`` when no content digest is known; else a callable that returns the content
        mismatches (``[]`` when the content matches), e.g. from :func:`digest_mismatches`.
      file_expected: published ``{algo: hexdigest}`` of the file's bytes, or ``None``/empty.

    Returns:
      ``"content"`` or ``"file"`` (the check that accepted the file), or ``"unchecked"`` when no
      digest of either kind is known.

    Raises:
      ChecksumError: naming the file, each check that failed (content and/or file) with the digest
        found and the one expected, and how to proceed.
    """
    content_problems = content() if content is not None else None
    if content_problems == []:
        return "content"
    file_problems = None
    if file_expected:
        file_problems = digest_mismatches({a: file_digest(path, a) for a in file_expected}, file_expected, "the file")
        if not file_problems:
            return "file"
    if content_problems is None and file_problems is None:
        return "unchecked"
    parts = []
    if content_problems is not None:
        parts.append("content check failed (" + "; ".join(content_problems) + ")")
    else:
        parts.append("no content digest is known, so a re-compressed copy of the genuine data cannot be told "
                     "from a corrupt one")
    if file_problems is not None:
        parts.append("file check failed (" + "; ".join(file_problems) + ")")
    raise ChecksumError(
        f"{path}: {'; '.join(parts)}; expected {what}. The file is corrupt, truncated or not the official "
        f"data. {VERIFY_HINT}"
    )

