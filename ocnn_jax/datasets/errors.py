"""Exception hierarchy of :mod:`ocnn_jax.datasets`.

Every message names the file or argument concerned, what was found and what was expected, so that a
bad download is never mistaken for a partial load.

``DatasetError`` derives from ``ValueError``; ``DatasetNotFoundError`` is also a ``FileNotFoundError``,
``DownloadError`` an ``OSError``, and ``TFDSUnavailableError`` also an ``ImportError``, so ``except FileNotFoundError`` /
``except ImportError`` keep working in caller code.
"""

from __future__ import annotations

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "DataFormatError",
    "ChecksumError",
    "DownloadError",
    "TFDSUnavailableError",
]


class DatasetError(ValueError):
    """Base class: a data set could not be loaded or split as asked."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A directory or file that the loader needs is absent (the message lists where it looked)."""


class DataFormatError(DatasetError):
    """A file exists but its contents are not what the format promises (bad magic, truncation,
    corrupt compression, wrong shapes, image/label count mismatch)."""


class ChecksumError(DatasetError):
    """A file matches neither the known digests of its content nor the published digests of its bytes."""


class DownloadError(DatasetError, OSError):
    """``download=True`` could not fetch a file from any mirror (network, HTTP error, cut transfer)."""


class TFDSUnavailableError(DatasetError, ImportError):
    """``source='tfds'`` was asked for but tensorflow-datasets is missing or could not provide the data."""
