"""The one entry point :func:`load` and the name registry.

Source resolution for the file-based sets (MNIST family, CIFAR-10): ``source="local"`` reads the
standard files found by the search order (explicit ``data_dir``, else ``$OCNN_JAX_DATA_DIR`` /
``$OCNN_DATA_DIR``, then the per-user cache directory); ``source="tfds"`` goes to TFDS;
``source="auto"`` (default) reads local files when found, otherwise downloads the official files when
``download=True`` (MNIST, Fashion-MNIST, KMNIST, CIFAR-10: :mod:`ocnn_jax.datasets.download`), otherwise
uses TFDS when it is installed, else raises an error that lists the expected files and the places
searched. Files that are found but broken always raise; nothing falls back silently past a bad file.
"""

from __future__ import annotations

import os
from typing import Any

from . import cifar, idx
from .download import FILES as DOWNLOADABLE
from .download import download_dir, fetch
from .base import Dataset
from .digits import load_digits
from .errors import DatasetError, DatasetNotFoundError
from .folder import load_image_folder
from .gtsrb import load_gtsrb
from .tabular import load_csv
from .tfds import TFDS_NAMES, load_tfds, tfds_available

__all__ = ["DATASETS", "canonical_name", "load"]

_ALIASES = {
    "fmnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "emnist": "emnist_digits",
    "emnistdigits": "emnist_digits",
    "cifar": "cifar10",
    "cifar_10": "cifar10",
    "sklearn_digits": "digits",
    "gtsrb_stop": "gtsrb",
    "gtsrb_stop_signs": "gtsrb",
    "folder": "image_folder",
    "images": "image_folder",
}

#: Names :func:`load` accepts (aliases aside), with a one-line description.
DATASETS = {
    "mnist": "MNIST, official IDX files (content or file digests verified)",
    "fashion_mnist": "Fashion-MNIST, official IDX files (file md5 verified)",
    "kmnist": "Kuzushiji-MNIST, official IDX files (file md5 verified)",
    "emnist_digits": "EMNIST digits, official emnist-digits-* IDX files (transposed to row-major)",
    "idx": "any four IDX files with MNIST's names (no checksum; classes from the labels)",
    "cifar10": "CIFAR-10: train/test.npz, python or binary batches or archives (content verified)",
    "gtsrb": "GTSRB stop signs + adversarial examples (user-provided .npy files)",
    "digits": "scikit-learn's bundled 8x8 digits (embedded; fixed stratified split)",
    "image_folder": "a folder of images (needs image_shape=(H, W, C))",
    "csv": "a CSV file of numeric features and a label column (needs path=...)",
}


def canonical_name(name: str) -> str:
    """Registry name for ``name`` (case-, dash- and slash-insensitive; aliases resolved)."""
    key = name.strip().lower().replace("-", "_").replace("/", "_").replace(" ", "_")
    key = _ALIASES.get(key, _ALIASES.get(key.replace("_", ""), key))
    if key not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}")
    return key


def _reject(options: dict[str, Any], name: str) -> None:
    if options:
        raise DatasetError(f"load({name!r}): unexpected options {sorted(options)}")


def load(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    source: str = "auto",
    *,
    verify: bool = True,
    download: bool = False,
    mirror: str | None = None,
    **options: Any,
) -> Dataset:
    """Load a data set by name. See :data:`DATASETS` for the names.

    Args:
      name: data set name (e.g. "mnist", "cifar10", "digits", "gtsrb", "image_folder", "csv").
      data_dir: directory holding the files (for "image_folder": the folder itself; for "csv" the
        file may be given as ``path=``); default: ``$OCNN_JAX_DATA_DIR`` then the cache directory.
      source: "auto" (local files, else TFDS if installed), "local" or "tfds".
      verify: check the files against known digests: the decoded content (MNIST, CIFAR-10 in every
        form), else the official files' bytes (Fashion-MNIST, KMNIST, the CIFAR-10 archives); a file
        that matches neither raises :class:`ChecksumError`. ``False`` skips the checks.
      download: when no local copy is found, fetch the official files of MNIST, Fashion-MNIST, KMNIST or
        CIFAR-10 into ``<data_dir>/<name>/`` (default root: :func:`default_cache_dir`), checked before they
        are kept (see ``verify``), and finish an interrupted download there; with ``source="tfds"`` (or for
        other TFDS data sets under "auto"), let TFDS download and prepare. Without it nothing touches the
        network.
      mirror: base URL to download from instead of the official ones (default ``$OCNN_JAX_MIRROR``;
        ``{name}`` in it becomes the data set's name, the file name is appended).
      **options: per-loader options: ``image_shape``/``normal_name`` (image_folder); ``path``,
        ``label_column``, ``test_path``, ``delimiter``, ``header``, ``test_size``, ``seed`` (csv);
        ``n_test_normal``, ``seed`` (gtsrb); ``test_size``, ``seed`` (digits); ``tfds_data_dir``.

    Returns:
      A :class:`Dataset` (images uint8 0..255 or float32 in [0, 1], NHWC; labels int32).

    Raises:
      DatasetNotFoundError: no files found (names the files expected and the directories searched).
      DataFormatError, ChecksumError: a file (or a download, which is then deleted) is broken or not
        the official one.
      DownloadError: ``download=True`` and no mirror could serve a file.
      TFDSUnavailableError: TFDS was needed but is missing or could not provide the data.
    """
    key = canonical_name(name)
    if source not in ("auto", "local", "tfds"):
        raise DatasetError(f"source={source!r}; expected 'auto', 'local' or 'tfds'")
    tfds_data_dir = options.pop("tfds_data_dir", None)
    if source == "tfds" and key not in TFDS_NAMES:
        raise DatasetError(f"source='tfds' is not available for {key!r}; TFDS serves {sorted(TFDS_NAMES)}")

    if key == "digits":
        ds = load_digits(**options)
        return ds
    if key == "image_folder":
        if data_dir is None:
            raise DatasetError("load('image_folder') needs data_dir=<the folder>")
        if "image_shape" not in options:
            raise DatasetError("load('image_folder') needs image_shape=(H, W, C) to resize the images to")
        return load_image_folder(data_dir, **options)
    if key == "csv":
        path = options.pop("path", data_dir)
        if path is None:
            raise DatasetError("load('csv') needs path=<file.csv>")
        return load_csv(path, **options)
    if key == "gtsrb":
        return load_gtsrb(data_dir, **options)

    _reject(options, key)
    downloadable = download and source != "tfds" and key in DOWNLOADABLE

    def fetched():
        return fetch(key, data_dir, mirror=mirror, verify=verify)

    if downloadable:
        if data_dir is not None:
            os.makedirs(os.path.expanduser(data_dir), exist_ok=True)
        if any((download_dir(key, data_dir) / f).is_file() for f in DOWNLOADABLE[key]):
            fetched()  # finish an interrupted download before the search finds a partial set
    if key in idx.IDX_SPECS:
        spec = idx.IDX_SPECS[key]
        classes = spec.classes
        if source != "tfds":
            paths = idx.find_idx_dir(spec, data_dir)
            if paths is None and downloadable:
                paths = idx.find_idx_dir(spec, fetched())
            if paths is not None:
                return idx.load_idx(spec, paths, verify=verify)
            message = idx.not_found_message(spec, data_dir)
    else:  # cifar10
        classes = cifar.CIFAR10_CLASSES
        if source != "tfds":
            found = cifar.find_cifar10(data_dir)
            if found is None and downloadable:
                found = cifar.find_cifar10(fetched())
            if found is not None:
                return cifar.load_cifar10_files(*found, verify=verify)
            message = cifar.not_found_message(data_dir)

    if source == "tfds" or (source == "auto" and key in TFDS_NAMES and tfds_available()):
        assert classes is not None
        return load_tfds(key, classes, data_dir=tfds_data_dir, download=download)
    hint = " (or install tensorflow-datasets and use source='tfds')" if key in TFDS_NAMES else ""
    if key in DOWNLOADABLE and not download:
        hint += f"; pass download=True (CLI --download) to fetch the official files into '{download_dir(key, data_dir)}'"
    raise DatasetNotFoundError(message + hint)
