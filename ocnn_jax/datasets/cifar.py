"""CIFAR-10 from its standard files, with no TensorFlow (docs/algorithms.md §7.4).

Accepted forms, probed in this order inside each searched directory:

1. ``train.npz`` + ``test.npz``, each with ``x`` (N, 32, 32, 3) uint8 RGB (NHWC) and ``y`` (N,) or
   (N, 1) labels 0..9 (the layout of ``keras.datasets.cifar10``);
2. ``cifar-10-batches-py/`` (the extracted python version: pickled ``data_batch_1..5`` and ``test_batch``);
3. ``cifar-10-python.tar.gz`` (the official python archive; md5 c58f30108f718f92721af3b95e74349a);
4. ``cifar-10-batches-bin/`` (the extracted binary version: ``data_batch_1..5.bin``, ``test_batch.bin``);
5. ``cifar-10-binary.tar.gz`` (the official binary archive; sha256 c4a38c50...).

Verification (``verify=True``, README "Data"): every form is decoded to the canonical arrays (x uint8
NHWC, train in data_batch_1..5 order, y labels), whose sha256 (:func:`cifar10_content_digest`) must
match :data:`CIFAR10_CONTENT` -- so a re-packed or converted genuine copy loads and a corrupt one is
refused -- or, failing that, the file's bytes must match its published digest (the two archives, the
extracted python batches).

The python batches are unpickled with an allow-list that admits only NumPy array reconstruction, so a
tampered archive cannot run code. Output is always uint8 NHWC, train in data_batch_1..5 order.
Memory: each batch is decoded straight into one preallocated (N, 32, 32, 3) uint8 array.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .base import (
    Dataset,
    candidate_dirs,
    describe_roots,
    digest_mismatches,
    file_digest,
    search_roots,
    verify_digests,
)
from .errors import DataFormatError, DatasetNotFoundError

__all__ = ["CIFAR10_CLASSES", "CIFAR10_CHECKSUMS", "CIFAR10_CONTENT", "cifar10_content_digest", "find_cifar10",
           "load_cifar10_files", "read_cifar_npz"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: File check: ``{file name: {algo: hexdigest}}`` of the official files' bytes (the archives as published on
#: the CIFAR page; the extracted python batches as listed by torchvision). The extracted binary batches have
#: no published digests, so they are checked by content only.
CIFAR10_CHECKSUMS = {
    "cifar-10-python.tar.gz": {"md5": "c58f30108f718f92721af3b95e74349a"},
    "cifar-10-binary.tar.gz": {"sha256": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"},
    "data_batch_1": {"md5": "c99cafc152244af753f735de768cd75f"},
    "data_batch_2": {"md5": "d4bba439e000b95fd0a9bffe97cbabec"},
    "data_batch_3": {"md5": "54ebc095f3ab1f0389bbae665268c751"},
    "data_batch_4": {"md5": "634d18415352ddfa80567beed471001a"},
    "data_batch_5": {"md5": "482c414d41f54cd18b22e5b47cb7c3cb"},
    "test_batch": {"md5": "40351d587109b95175f43aff81a1287e"},
}
#: Content check: ``{split: {"sha256": cifar10_content_digest(x, y)}}`` of the canonical decoded arrays
#: (50000 train images in data_batch_1..5 order, 10000 test images), computed from a copy whose labels,
#: order and per-channel statistics match the published ones.
CIFAR10_CONTENT = {
    "train": {"sha256": "f912919bdea371136f1aa4feed6beeca728015a5f08b1899a29c932a7e30be2b"},
    "test": {"sha256": "8193b3fbce55bec361cd1b8fd4880cb1649832dc4d6de6da1e7a21847a4843aa"},
}
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
SUBDIRS = ("cifar10", "cifar-10", "CIFAR10", "cifar_10")
EXPECTED = (
    "train.npz + test.npz (keys x, y), or cifar-10-batches-py/, cifar-10-python.tar.gz, "
    "cifar-10-batches-bin/ or cifar-10-binary.tar.gz"
)
_ROW = 32 * 32 * 3

# ---------------------------------------------------------------------------------------------------------------
# Safe unpickling of the python batches

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numeric", "_frombuffer"),
    ("numpy", "ndarray"): None,
    ("numpy", "dtype"): None,
    ("_codecs", "encode"): None,
}


def _np_core(sub: str):
    for base in ("numpy._core", "numpy.core"):
        try:
            return importlib.import_module(f"{base}.{sub}")
        except ImportError:
            continue
    raise ImportError(f"numpy core module {sub!r} not found")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        key = (module, name)
        if key not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        target = _ALLOWED[key]
        if target is not None:
            return getattr(_np_core(target[0]), target[1])
        return super().find_class(module, name)


def _unpickle_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32, 32, 3) uint8 and (n,) int32 from one pickled python-version batch."""
    try:
        d = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a format error here
        raise DataFormatError(f"{where}: cannot unpickle ({type(e).__name__}: {e}); expected a CIFAR-10 "
                              f"python-version batch (a dict with b'data' and b'labels')") from e
    if not isinstance(d, dict):
        raise DataFormatError(f"{where}: unpickled a {type(d).__name__}; expected a dict with b'data' and b'labels'")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
    if "data" not in d or "labels" not in d:
        raise DataFormatError(f"{where}: keys {sorted(d)}; expected 'data' and 'labels'")
    data = np.asarray(d["data"])
    labels = np.asarray(d["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        raise DataFormatError(f"{where}: data is {data.shape} {data.dtype}; expected (n, {_ROW}) uint8")
    if labels.shape != (data.shape[0],):
        raise DataFormatError(
            f"{where}: {data.shape[0]} images but {labels.size} labels; expected one label per image"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int32)


def _parse_bin_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32, 32, 3) uint8 and (n,) int32 from one binary-version batch (records of 1 + 3072 bytes)."""
    if len(raw) % (_ROW + 1):
        raise DataFormatError(
            f"{where}: {len(raw)} bytes is not a multiple of {_ROW + 1}; expected records of one label byte "
            f"and {_ROW} pixel bytes"
        )
    rec = np.frombuffer(raw, np.uint8).reshape(-1, _ROW + 1)
    return rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0].astype(np.int32)


def _assemble(parts: dict[str, tuple[np.ndarray, np.ndarray]], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    n = sum(parts[k][0].shape[0] for k in names)
    x = np.empty((n, 32, 32, 3), np.uint8)
    y = np.empty((n,), np.int32)
    i = 0
    for k in names:
        xb, yb = parts[k]
        x[i : i + len(xb)] = xb
        y[i : i + len(yb)] = yb
        i += len(xb)
    return x, y


def cifar10_content_digest(x: np.ndarray, y: np.ndarray, algo: str = "sha256") -> str:
    """Digest of one decoded split: the bytes of ``x`` ((n, 32, 32, 3) uint8, C order, NHWC) followed by
    the labels ``y`` ((n,) or (n, 1), values 0..9) as uint8 bytes.

    Every supported form of the same images decodes to the same ``x`` and ``y``, so this digest does not
    depend on how the files were packed.
    """
    h = hashlib.new(algo)
    h.update(memoryview(np.ascontiguousarray(x, dtype=np.uint8)).cast("B"))
    h.update(np.asarray(y).reshape(-1).astype(np.uint8).tobytes())
    return h.hexdigest()


def _file_check_digests(form: str, path: Path) -> tuple[Path, dict[str, str] | None]:
    """The file and published digests that the file check of ``form`` compares (None when unpublished).

    For an extracted python folder this is the first batch whose digest differs from the published one
    (the folder is official only if all six are), or the first batch when all match.
    """
    if form == "npz":
        return path, None
    if form.endswith("tar"):
        return path, CIFAR10_CHECKSUMS.get(path.name)
    if form == "py_dir":
        for name in TRAIN_BATCHES + TEST_BATCHES:
            want = CIFAR10_CHECKSUMS[name]
            if any(file_digest(path / name, a) != w for a, w in want.items()):
                return path / name, want
        return path / TRAIN_BATCHES[0], CIFAR10_CHECKSUMS[TRAIN_BATCHES[0]]
    return path, None


def _verify(form: str, path: Path, arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Content check of the decoded ``arrays``, then (only if it fails) the file check of ``form``."""
    problems: list[str] = []
    for split, (x, y) in arrays.items():
        want = CIFAR10_CONTENT.get(split, {})
        got = {a: cifar10_content_digest(x, y, a) for a in want}
        problems += digest_mismatches(got, want, f"the decoded {split} arrays")
    if CIFAR10_CONTENT and not problems:
        return
    file_path, file_expected = _file_check_digests(form, path)
    verify_digests(
        file_path,
        "the official CIFAR-10 images and labels",
        content=(lambda: problems) if CIFAR10_CONTENT else None,
        file_expected=file_expected,
    )


# ---------------------------------------------------------------------------------------------------------------
# Readers for each form


def read_cifar_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (N, 32, 32, 3) uint8 and ``y`` (N,) int32 from an npz with keys x and y."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if not {"x", "y"} <= keys:
                raise DataFormatError(f"{path}: keys {sorted(keys)}; expected 'x' and 'y'")
            x = z["x"]
            y = z["y"]
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError) as e:
        if isinstance(e, DataFormatError):
            raise
        raise DataFormatError(f"{path}: cannot read as npz ({type(e).__name__}: {e}); expected an intact .npz "
                              f"with keys x and y") from e
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        hint = " (NCHW? expected NHWC)" if x.ndim == 4 and x.shape[1] == 3 else ""
        raise DataFormatError(f"{path}: x is {x.shape} {x.dtype}{hint}; expected (N, 32, 32, 3) uint8")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        raise DataFormatError(f"{path}: x holds {x.shape[0]} images but y has shape {y.shape}; expected ({x.shape[0]},)")
    return x, y.astype(np.int32)


def _read_batches_dir(d: Path, binary: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    parts = {}
    for name in TRAIN_BATCHES + TEST_BATCHES:
        p = d / (name + (".bin" if binary else ""))
        if not p.is_file():
            want = ", ".join(n + (".bin" if binary else "") for n in TRAIN_BATCHES + TEST_BATCHES)
            raise DatasetNotFoundError(f"cifar10: '{p}' is missing; expected all of {want} in '{d}'")
        raw = p.read_bytes()
        parts[name] = _parse_bin_batch(raw, str(p)) if binary else _unpickle_batch(raw, str(p))
    return parts


def _read_tar(path: Path, binary: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = "cifar-10-batches-bin" if binary else "cifar-10-batches-py"
    wanted = {f"{folder}/{n}{'.bin' if binary else ''}": n for n in TRAIN_BATCHES + TEST_BATCHES}
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name in wanted and member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None
                    raw = f.read()
                    where = f"{path}:{name}"
                    parts[wanted[name]] = _parse_bin_batch(raw, where) if binary else _unpickle_batch(raw, where)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataFormatError(f"{path}: cannot read as tar.gz ({type(e).__name__}: {e}); expected the intact "
                              f"official archive") from e
    missing = [k for k, v in wanted.items() if v not in parts]
    if missing:
        raise DataFormatError(f"{path}: archive lacks {', '.join(missing)}; expected all six batches")
    return parts


def find_cifar10(data_dir: str | os.PathLike[str] | None) -> tuple[str, Path] | None:
    """``(form, path)`` of the first CIFAR-10 copy found, or ``None``.

    ``form`` is one of "npz", "py_dir", "py_tar", "bin_dir", "bin_tar"; for "npz" ``path`` is the
    directory holding train.npz/test.npz.

    Raises:
      DatasetNotFoundError: only one of train.npz / test.npz is present, or ``data_dir`` is not a directory.
    """
    roots = search_roots(data_dir, EXPECTED)
    for d in candidate_dirs(roots, SUBDIRS):
        tr, te = d / "train.npz", d / "test.npz"
        if tr.is_file() or te.is_file():
            if not (tr.is_file() and te.is_file()):
                missing = te if tr.is_file() else tr
                raise DatasetNotFoundError(f"cifar10: '{missing}' is missing; expected both train.npz and test.npz in '{d}'")
            return "npz", d
        if (d / "data_batch_1").is_file():  # data_dir points into the extracted folder itself
            return "py_dir", d
        if (d / "data_batch_1.bin").is_file():
            return "bin_dir", d
        for form, name in (("py_dir", "cifar-10-batches-py"), ("py_tar", "cifar-10-python.tar.gz"),
                           ("bin_dir", "cifar-10-batches-bin"), ("bin_tar", "cifar-10-binary.tar.gz")):
            p = d / name
            if (p.is_dir() if form.endswith("dir") else p.is_file()):
                return form, p
    return None


def not_found_message(data_dir) -> str:
    roots = search_roots(data_dir, EXPECTED)
    return f"cifar10: no directory holds {EXPECTED}; {describe_roots(roots, SUBDIRS)}"


def load_cifar10_files(form: str, path: Path, *, verify: bool = True) -> Dataset:
    """Read CIFAR-10 in the given ``form`` (see :func:`find_cifar10`) into a uint8 NHWC :class:`Dataset`.

    Raises:
      ChecksumError: when ``verify``, the decoded arrays do not match :data:`CIFAR10_CONTENT` and the
        files do not match their published digests either (the message says which checks failed).
      DataFormatError: a file is corrupt or has the wrong shape/keys; labels outside 0..9.
    """
    if form == "npz":
        x_tr, y_tr = read_cifar_npz(path / "train.npz")
        x_te, y_te = read_cifar_npz(path / "test.npz")
    else:
        binary = form.startswith("bin")
        parts = _read_tar(path, binary) if form.endswith("tar") else _read_batches_dir(path, binary)
        x_tr, y_tr = _assemble(parts, TRAIN_BATCHES)
        x_te, y_te = _assemble(parts, TEST_BATCHES)
        del parts
    if verify:
        _verify(form, path, {"train": (x_tr, y_tr), "test": (x_te, y_te)})
    for split, y in (("train", y_tr), ("test", y_te)):
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataFormatError(f"cifar10 ({path}, {split}): labels span {y.min()}..{y.max()}; expected 0..9")
    return Dataset(
        name="cifar10",
        x_train=x_tr,
        y_train=y_tr,
        x_test=x_te,
        y_test=y_te,
        classes=CIFAR10_CLASSES,
        image_shape=(32, 32, 3),
        source=str(path),
    )
