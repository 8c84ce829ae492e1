"""Data sets for one-class anomaly detection: standard files first, TFDS when asked for.

Entry point: :func:`load` (``load("mnist", data_dir=...)``; ``download=True`` fetches the official
files of MNIST, Fashion-MNIST, KMNIST and CIFAR-10 into the cache directory when they are missing). Every loader returns a frozen
:class:`Dataset` with images NHWC, uint8 0..255 or float32 in [0, 1], and int32 labels. The one-class
split and preprocessing of docs/algorithms.md §7 live in :mod:`ocnn_jax.datasets.protocol`.
"""

from .base import ENV_DATA_DIR, Dataset, default_cache_dir, file_digest, to_unit
from .cifar import CIFAR10_CLASSES, cifar10_content_digest
from .digits import DIGITS_SPLIT_SEED, load_digits
from .download import ENV_MIRROR, MIRRORS, download_dir, fetch
from .errors import (
    ChecksumError,
    DataFormatError,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    TFDSUnavailableError,
)
from .folder import load_image_folder
from .gtsrb import load_gtsrb
from .idx import IDX_SPECS, idx_content_digests, read_idx, write_idx
from .registry import DATASETS, canonical_name, load
from .tabular import from_arrays, load_csv
from .tfds import load_tfds, tfds_available

__all__ = [
    "load",
    "Dataset",
    "DATASETS",
    "canonical_name",
    "to_unit",
    "from_arrays",
    "load_csv",
    "load_digits",
    "load_image_folder",
    "load_gtsrb",
    "load_tfds",
    "tfds_available",
    "read_idx",
    "write_idx",
    "file_digest",
    "idx_content_digests",
    "cifar10_content_digest",
    "default_cache_dir",
    "ENV_DATA_DIR",
    "IDX_SPECS",
    "CIFAR10_CLASSES",
    "DIGITS_SPLIT_SEED",
    "DatasetError",
    "DatasetNotFoundError",
    "DataFormatError",
    "ChecksumError",
    "DownloadError",
    "TFDSUnavailableError",
    "fetch",
    "download_dir",
    "MIRRORS",
    "ENV_MIRROR",
]
