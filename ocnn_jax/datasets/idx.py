"""MNIST-format (IDX) data sets: MNIST, Fashion-MNIST, KMNIST, EMNIST digits, or any IDX quadruple.

IDX layout (big-endian): two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions
``k``, then ``k`` 4-byte sizes, then the data in row-major order. MNIST's image files therefore start
with magic 2051 (0x00000803: uint8, 3 dims) and its label files with 2049 (0x00000801: uint8, 1 dim).
Files may be gzip-compressed (detected from the gzip magic bytes, whatever the name) or plain.

Published checksums are verified when the data set has them (MNIST: md5 and sha256 of the ``.gz``
files and md5 of the uncompressed files, /work/shared/data/README.md and ALGORITHMS.md §7.4;
Fashion-MNIST and KMNIST: md5 of the ``.gz`` files from their official READMEs). EMNIST publishes a
checksum only for its whole zip archive, so its member files are not verified.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .base import Dataset, candidate_dirs, describe_roots, search_roots, verify_checksum
from .errors import DataFormatError, DatasetNotFoundError

__all__ = ["IdxSpec", "IDX_SPECS", "read_idx", "write_idx", "find_idx_dir", "load_idx"]

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
              np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
MAGIC_IMAGES = 0x00000803  # 2051
MAGIC_LABELS = 0x00000801  # 2049
_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclasses.dataclass(frozen=True)
class IdxSpec:
    """Description of one IDX data set.

    Attributes:
      name: registry name.
      files: file names (without ``.gz``) for the roles train_images, train_labels, test_images,
        test_labels.
      classes: class names, or ``None`` to name them "0".."max label".
      subdirs: subdirectories of a search root that may hold the files.
      checksums: ``{file name as found: {algo: hexdigest}}`` of published digests.
      transpose: images are stored column-major (EMNIST) and must be transposed to row-major.
      tfds_name: the TFDS builder name, for ``source="tfds"``.
    """

    name: str
    files: dict[str, str]
    classes: tuple[str, ...] | None
    subdirs: tuple[str, ...]
    checksums: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    transpose: bool = False
    tfds_name: str | None = None

    def expected(self) -> str:
        return ", ".join(f"{f}[.gz]" for f in self.files.values())


_MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _md5s(gz: tuple[str, str, str, str], raw: tuple[str, str, str, str] | None = None,
          sha: tuple[str, str, str, str] | None = None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for i, role in enumerate(_ROLES):
        fn = _MNIST_NAMES[role]
        out[fn + ".gz"] = {"md5": gz[i]}
        if sha is not None:
            out[fn + ".gz"]["sha256"] = sha[i]
        if raw is not None:
            out[fn] = {"md5": raw[i]}
    return out


IDX_SPECS: dict[str, IdxSpec] = {
    "mnist": IdxSpec(
        "mnist",
        dict(_MNIST_NAMES),
        tuple(str(d) for d in range(10)),
        ("mnist", "MNIST", "mnist/raw", "MNIST/raw"),
        _md5s(
            ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
            raw=("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                 "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"),
            sha=("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                 "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                 "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ),
        tfds_name="mnist",
    ),
    "fashion_mnist": IdxSpec(
        "fashion_mnist",
        dict(_MNIST_NAMES),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("fashion_mnist", "fashion-mnist", "FashionMNIST", "FashionMNIST/raw", "fashion"),
        _md5s(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
               "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
        tfds_name="fashion_mnist",
    ),
    "kmnist": IdxSpec(
        "kmnist",
        dict(_MNIST_NAMES),
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ("kmnist", "KMNIST", "KMNIST/raw"),
        _md5s(("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
               "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")),
        tfds_name="kmnist",
    ),
    "emnist_digits": IdxSpec(
        "emnist_digits",
        {
            "train_images": "emnist-digits-train-images-idx3-ubyte",
            "train_labels": "emnist-digits-train-labels-idx1-ubyte",
            "test_images": "emnist-digits-test-images-idx3-ubyte",
            "test_labels": "emnist-digits-test-labels-idx1-ubyte",
        },
        tuple(str(d) for d in range(10)),
        ("emnist", "EMNIST", "EMNIST/raw", "emnist/gzip", "gzip"),
        transpose=True,
        tfds_name="emnist/digits",
    ),
    # Any four files with MNIST's names; no checksum, classes named after the labels found.
    "idx": IdxSpec("idx", dict(_MNIST_NAMES), None, ("idx",)),
}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_full(f, buf: memoryview) -> int:
    got = 0
    while got < len(buf):
        n = f.readinto(buf[got:])
        if not n:
            break
        got += n
    return got


def read_idx(path: str | os.PathLike[str], *, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or plain) into a native-endian array.

    Args:
      path: the file.
      expected_magic: if given, the 4-byte magic number it must carry (2051 MNIST images, 2049 labels).

    Returns:
      Array of the shape in the header (e.g. (60000, 28, 28) uint8), writable, native byte order.

    Raises:
      DatasetNotFoundError: no such file.
      DataFormatError: bad magic number, truncated header or data, trailing bytes, corrupt gzip; the
        message names the file, what was found and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"IDX file '{path}' does not exist")
    try:
        gz = _is_gzip(path)
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4:
                raise DataFormatError(
                    f"{path}: IDX header truncated: {len(head)} bytes, expected at least 4 (the magic number)"
                )
            magic = int.from_bytes(head, "big")
            if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or head[3] == 0:
                want = f"{expected_magic} (0x{expected_magic:08x})" if expected_magic else "0x0000TTNN (TT a type code, NN dims)"
                raise DataFormatError(
                    f"{path}: bad IDX magic number {magic} (0x{magic:08x}); expected {want}"
                )
            if expected_magic is not None and magic != expected_magic:
                kind = {MAGIC_IMAGES: "an image file", MAGIC_LABELS: "a label file"}.get(expected_magic, "this file")
                raise DataFormatError(
                    f"{path}: IDX magic number {magic} (0x{magic:08x}); expected {expected_magic} "
                    f"(0x{expected_magic:08x}) for {kind}"
                )
            ndim = head[3]
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataFormatError(
                    f"{path}: IDX header truncated: {4 + len(dims_raw)} bytes, expected {4 + 4 * ndim} "
                    f"(magic + {ndim} dimension sizes)"
                )
            dims = struct.unpack(f">{ndim}I", dims_raw)
            dtype = _IDX_TYPES[head[2]]
            count = math.prod(dims)
            nbytes = count * dtype.itemsize
            # Never trust a (possibly corrupt) header with a huge allocation: a plain file must hold the
            # bytes, and deflate cannot expand more than ~1032:1.
            size = path.stat().st_size
            limit = size - 4 - 4 * ndim if not gz else 1032 * size + 4096
            if nbytes > limit:
                raise DataFormatError(
                    f"{path}: IDX header announces shape {dims} ({nbytes} data bytes) but the file can hold at "
                    f"most {max(limit, 0)}; the file is truncated or its header is corrupt"
                )
            arr = np.empty(count, dtype=dtype)
            got = _read_full(f, memoryview(arr).cast("B")) if nbytes else 0
            if got < nbytes:
                raise DataFormatError(
                    f"{path}: IDX data truncated: {got} bytes after the header, expected {nbytes} for shape {dims}"
                )
            if f.read(1):
                raise DataFormatError(
                    f"{path}: IDX file has trailing bytes after the {nbytes} data bytes expected for shape {dims}"
                )
    except (OSError, EOFError, zlib.error) as e:
        raise DataFormatError(f"{path}: cannot read as gzip or IDX ({type(e).__name__}: {e}); the file is corrupt, "
                              f"expected an intact .gz or uncompressed IDX file") from e
    arr = arr.reshape(dims)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def write_idx(path: str | os.PathLike[str], x: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``x`` as an IDX file (gzip when ``compress`` or, by default, when the name ends in .gz).

    The inverse of :func:`read_idx`; used to build fixtures and to export arrays.
    """
    path = Path(path)
    x = np.asarray(x)
    code = _IDX_CODES.get(x.dtype.newbyteorder("="))
    if code is None:
        raise DataFormatError(f"write_idx: dtype {x.dtype} has no IDX type code; expected one of {list(_IDX_CODES)}")
    header = bytes([0, 0, code, x.ndim]) + struct.pack(f">{x.ndim}I", *x.shape)
    payload = header + np.ascontiguousarray(x).astype(x.dtype.newbyteorder(">"), copy=False).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def _locate(d: Path, stem: str) -> Path | None:
    for cand in (d / (stem + ".gz"), d / stem):
        if cand.is_file():
            return cand
    return None


def find_idx_dir(spec: IdxSpec, data_dir: str | os.PathLike[str] | None) -> dict[str, Path] | None:
    """Paths of the four files of ``spec``, or ``None`` when no searched directory holds any of them.

    Raises:
      DatasetNotFoundError: a directory holds some but not all four files (names the missing ones),
        or ``data_dir`` / the environment variable names no directory.
    """
    roots = search_roots(data_dir, spec.expected())
    for d in candidate_dirs(roots, spec.subdirs):
        found = {role: _locate(d, stem) for role, stem in spec.files.items()}
        if any(found.values()):
            missing = [spec.files[r] + "[.gz]" for r, p in found.items() if p is None]
            if missing:
                raise DatasetNotFoundError(
                    f"{spec.name}: directory '{d}' holds only part of the data set; missing {', '.join(missing)} "
                    f"(expected all of {spec.expected()})"
                )
            return found  # type: ignore[return-value]
    return None


def not_found_message(spec: IdxSpec, data_dir) -> str:
    roots = search_roots(data_dir, spec.expected())
    return f"{spec.name}: no directory holds {spec.expected()}; {describe_roots(roots, spec.subdirs)}"


def load_idx(spec: IdxSpec, paths: dict[str, Path], *, verify: bool = True) -> Dataset:
    """Read the four IDX files of ``spec`` into a :class:`Dataset` (uint8 images, NHWC with C = 1).

    Raises:
      ChecksumError: ``verify`` and a file with a published digest does not match it.
      DataFormatError: any file is malformed, images are not 3-d, or image and label counts differ.
    """
    if verify:
        for p in paths.values():
            if p.name in spec.checksums:
                verify_checksum(p, spec.checksums[p.name], f"the official {spec.name} file {p.name}")
    arrays = {}
    for split in ("train", "test"):
        xi = read_idx(paths[f"{split}_images"], expected_magic=MAGIC_IMAGES)
        yi = read_idx(paths[f"{split}_labels"], expected_magic=MAGIC_LABELS)
        if xi.shape[0] != yi.shape[0]:
            raise DataFormatError(
                f"{spec.name}: '{paths[f'{split}_images']}' holds {xi.shape[0]} images but "
                f"'{paths[f'{split}_labels']}' holds {yi.shape[0]} labels; expected equal counts"
            )
        if spec.transpose:
            xi = np.ascontiguousarray(xi.transpose(0, 2, 1))
        arrays[split] = (xi[..., None], yi)
    if arrays["train"][0].shape[1:] != arrays["test"][0].shape[1:]:
        raise DataFormatError(
            f"{spec.name}: train images are {arrays['train'][0].shape[1:3]} but test images "
            f"{arrays['test'][0].shape[1:3]} ('{paths['test_images']}'); expected the same size"
        )
    classes = spec.classes
    top = max(int(arrays[s][1].max(initial=0)) for s in arrays)
    if classes is None:
        classes = tuple(str(k) for k in range(top + 1))
    elif top >= len(classes):
        bad = "train_labels" if int(arrays["train"][1].max(initial=0)) >= len(classes) else "test_labels"
        raise DataFormatError(
            f"{spec.name}: '{paths[bad]}' holds label {top}; expected labels 0..{len(classes) - 1}"
        )
    (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
    return Dataset(
        name=spec.name,
        x_train=xtr,
        y_train=ytr.astype(np.int32),
        x_test=xte,
        y_test=yte.astype(np.int32),
        classes=classes,
        image_shape=tuple(xtr.shape[1:]),  # type: ignore[arg-type]
        source=str(paths["train_images"].parent),
    )
