"""MNIST-format (IDX) data sets: MNIST, Fashion-MNIST, KMNIST, EMNIST digits, or any IDX quadruple.

IDX layout (big-endian): two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions
``k``, then ``k`` 4-byte sizes, then the data in row-major order. MNIST's image files therefore start
with magic 2051 (0x00000803: uint8, 3 dims) and its label files with 2049 (0x00000801: uint8, 1 dim).
Files may be gzip-compressed (detected from the gzip magic bytes, whatever the name) or plain.

Verification (``verify=True``, README "Data"): a file is accepted when the digests of its *content*
(the decompressed IDX bytes, header included) match the known ones, so a genuine file re-compressed
with another gzip header loads, or when the file's bytes match the published digests of the official
``.gz``. Content digests: MNIST (md5 published with the data set, sha256 computed from the official
files). Fashion-MNIST and KMNIST: only the published md5 of the ``.gz`` files is known here (their
content digests could not be computed from an official copy), so a re-compressed copy of those is
refused like a corrupt one. EMNIST publishes a checksum only for its whole zip archive, so its member
files are not verified.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .base import Dataset, candidate_dirs, describe_roots, digest_mismatches, search_roots, verify_digests
from .errors import DataFormatError, DatasetNotFoundError

__all__ = ["IdxSpec", "IDX_SPECS", "read_idx", "idx_content_digests", "write_idx", "find_idx_dir", "load_idx",
           "check_idx_file"]

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
      checksums: ``{file name as published: {algo: hexdigest}}``: digests of the official files' bytes
        (the file check).
      content: ``{role: {algo: hexdigest}}``: digests of each file's decompressed IDX bytes, header
        included (the content check; any compression, or none, is accepted).
      transpose: images are stored column-major (EMNIST) and must be transposed to row-major.
      tfds_name: the TFDS builder name, for ``source="tfds"``.
    """

    name: str
    files: dict[str, str]
    classes: tuple[str, ...] | None
    subdirs: tuple[str, ...]
    checksums: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    content: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
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


def _gz_digests(md5: tuple[str, str, str, str],
                sha: tuple[str, str, str, str] | None = None) -> dict[str, dict[str, str]]:
    """File digests of the four official ``.gz`` files, in role order."""
    out: dict[str, dict[str, str]] = {}
    for i, role in enumerate(_ROLES):
        out[_MNIST_NAMES[role] + ".gz"] = {"md5": md5[i]} | ({"sha256": sha[i]} if sha else {})
    return out


def _by_role(**digests: tuple[str, str, str, str]) -> dict[str, dict[str, str]]:
    """``{role: {algo: digest}}`` from one 4-tuple per algorithm, in role order."""
    return {role: {algo: d[i] for algo, d in digests.items()} for i, role in enumerate(_ROLES)}


IDX_SPECS: dict[str, IdxSpec] = {
    "mnist": IdxSpec(
        "mnist",
        dict(_MNIST_NAMES),
        tuple(str(d) for d in range(10)),
        ("mnist", "MNIST", "mnist/raw", "MNIST/raw"),
        _gz_digests(
            ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
            sha=("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                 "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                 "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ),
        # md5: published with MNIST for the uncompressed files; sha256: of the same bytes, computed from
        # the official files (whose .gz digests above match).
        _by_role(
            md5=("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                 "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"),
            sha256=("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ),
        tfds_name="mnist",
    ),
    "fashion_mnist": IdxSpec(
        "fashion_mnist",
        dict(_MNIST_NAMES),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("fashion_mnist", "fashion-mnist", "FashionMNIST", "FashionMNIST/raw", "fashion"),
        # File digests only: no official copy was at hand to compute content digests from.
        _gz_digests(("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                     "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
        tfds_name="fashion_mnist",
    ),
    "kmnist": IdxSpec(
        "kmnist",
        dict(_MNIST_NAMES),
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ("kmnist", "KMNIST", "KMNIST/raw"),
        # File digests only: no official copy was at hand to compute content digests from.
        _gz_digests(("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
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
        # EMNIST publishes one checksum for its whole zip archive only: no file or content check.
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
    return _read_idx(path, expected_magic, ())[0]


def idx_content_digests(path: str | os.PathLike[str], algos: tuple[str, ...] = ("md5", "sha256")) -> dict[str, str]:
    """``{algo: hexdigest}`` of an IDX file's content: its decompressed bytes, header included.

    The same for a ``.gz`` file, any re-compression of it and the uncompressed file, so these are the
    digests to put in :attr:`IdxSpec.content`.

    Raises:
      DataFormatError: the file is not a readable IDX file (see :func:`read_idx`).
    """
    return _read_idx(path, None, algos)[1]


def _read_idx(path: str | os.PathLike[str], expected_magic: int | None,
              algos) -> tuple[np.ndarray, dict[str, str]]:
    """Read one IDX file; returns the array (see :func:`read_idx`) and ``{algo: hexdigest}`` of the
    decompressed bytes for each of ``algos`` (hashed as they are read, no second pass)."""
    path = Path(path)
    hashers = {a: hashlib.new(a) for a in algos}
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
            for h in hashers.values():  # the file's bytes: header, then the data as stored (big-endian)
                h.update(head)
                h.update(dims_raw)
                h.update(memoryview(arr).cast("B"))
    except (OSError, EOFError, zlib.error) as e:
        raise DataFormatError(f"{path}: cannot read as gzip or IDX ({type(e).__name__}: {e}); the file is corrupt, "
                              f"expected an intact .gz or uncompressed IDX file") from e
    arr = arr.reshape(dims)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
    return arr, {a: h.hexdigest() for a, h in hashers.items()}


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


def check_idx_file(spec: IdxSpec, role: str, path: Path, *, verify: bool = True,
                   expected_magic: int | None = None) -> np.ndarray:
    """Read the ``role`` file of ``spec`` (e.g. "train_images") and, when ``verify``, check it.

    The file is accepted when its content (decompressed bytes) matches ``spec.content[role]`` or its
    bytes match the published digest of the file of that name (``spec.checksums[path.name]``).

    Returns:
      The array, as :func:`read_idx`.

    Raises:
      ChecksumError: neither check accepts it (the message names both checks and how to proceed).
      DataFormatError: the file is not a readable IDX file.
    """
    content = spec.content.get(role, {}) if verify else {}
    arr, got = _read_idx(path, expected_magic, tuple(content))
    if verify:
        verify_digests(
            path,
            f"the official {spec.name} file {spec.files[role]}",
            content=(lambda: digest_mismatches(got, content, "the decompressed data")) if content else None,
            file_expected=spec.checksums.get(path.name),
        )
    return arr


def load_idx(spec: IdxSpec, paths: dict[str, Path], *, verify: bool = True) -> Dataset:
    """Read the four IDX files of ``spec`` into a :class:`Dataset` (uint8 images, NHWC with C = 1).

    Raises:
      ChecksumError: ``verify`` and a file matches neither its content digest nor its published file
        digest (see :func:`check_idx_file`).
      DataFormatError: any file is malformed, images are not 3-d, or image and label counts differ.
    """
    arrays = {}
    for split in ("train", "test"):
        xi = check_idx_file(spec, f"{split}_images", paths[f"{split}_images"], verify=verify,
                            expected_magic=MAGIC_IMAGES)
        yi = check_idx_file(spec, f"{split}_labels", paths[f"{split}_labels"], verify=verify,
                            expected_magic=MAGIC_LABELS)
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
