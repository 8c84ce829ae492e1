"""Download the official files of MNIST, Fashion-MNIST, KMNIST and CIFAR-10 (``load(..., download=True)``).

Where: ``<root>/<name>/`` with ``root`` the ``data_dir`` passed to :func:`~ocnn_jax.datasets.load`, or the
per-user cache directory (:func:`~ocnn_jax.datasets.default_cache_dir`, ``~/.cache/ocnn_jax``) when none
is given -- the directories the loaders search, so the next ``load`` finds the files without the network.

From where: the official locations in :data:`MIRRORS`, tried in order. A base URL given as
``load(..., mirror=...)`` or in ``$OCNN_JAX_MIRROR`` replaces them (for a local mirror, or a test
server); a ``{name}`` in it is replaced by the data set's name, and the file name is appended.

How: each missing file is streamed (with a tqdm progress bar on a terminal, one plain line per file
otherwise) into a temporary folder beside its destination, checked like a local file (content or file
digests, see :mod:`ocnn_jax.datasets.idx` and :mod:`~ocnn_jax.datasets.cifar`; skipped with
``verify=False``) and only then renamed into place, so an interrupted or corrupt download never
leaves a file the loaders would take for the data set. A download that fails its check is deleted and
raises; a mirror that fails makes the next one be tried. Files already present are not fetched again
(the loader checks them when it reads them).
"""

from __future__ import annotations

import http.client
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from . import cifar, idx
from .base import default_cache_dir
from .errors import ChecksumError, DataFormatError, DatasetError, DownloadError

__all__ = ["ENV_MIRROR", "MIRRORS", "FILES", "download_dir", "mirror_urls", "fetch"]

#: Environment variable with a base URL that replaces :data:`MIRRORS` (``{name}`` is expanded).
ENV_MIRROR = "OCNN_JAX_MIRROR"

_IDX_GZ = tuple(n + ".gz" for n in idx.IDX_SPECS["mnist"].files.values())

#: Files fetched per data set (the official names; the loaders read them as they are).
FILES: dict[str, tuple[str, ...]] = {
    "mnist": _IDX_GZ,
    "fashion_mnist": _IDX_GZ,
    "kmnist": _IDX_GZ,
    "cifar10": ("cifar-10-python.tar.gz",),
}

#: Official base URLs per data set, tried in order (the file name is appended).
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "kmnist": ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

#: Subfolder of the root that receives each data set (one the loaders search).
_SUBDIR = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "kmnist": "kmnist", "cifar10": "cifar10"}
_CHUNK = 1 << 16


def download_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder that receives ``name``'s files: ``<data_dir or default_cache_dir()>/<name>``."""
    _check_name(name)
    root = Path(data_dir).expanduser() if data_dir is not None else default_cache_dir()
    return root / _SUBDIR[name]


def mirror_urls(name: str, mirror: str | None = None) -> list[str]:
    """Base URLs to try for ``name``: ``mirror``, else ``$OCNN_JAX_MIRROR``, else :data:`MIRRORS`."""
    _check_name(name)
    base = mirror or os.environ.get(ENV_MIRROR)
    bases = [base.replace("{name}", name)] if base else list(MIRRORS[name])
    return [b if b.endswith("/") else b + "/" for b in bases]


def _check_name(name: str) -> None:
    if name not in FILES:
        raise DatasetError(
            f"no download is available for {name!r}; download=True fetches {sorted(FILES)}"
            + (" (EMNIST is published only as one zip archive of all its splits: extract the emnist-digits-* "
               "files from it into a data directory)" if name.startswith("emnist") else "")
        )


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    verify: bool = True,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the official files of ``name`` that are not yet in :func:`download_dir`.

    Args:
      name: registry name: "mnist", "fashion_mnist", "kmnist" or "cifar10".
      data_dir: root to download into (default: the per-user cache directory).
      mirror: base URL replacing the official ones (``{name}`` expanded); default ``$OCNN_JAX_MIRROR``.
      verify: check each download against the known digests before keeping it.
      progress: tqdm bar (True), nothing (False), or a bar on a terminal and plain lines otherwise (None).
      timeout: seconds without data before a connection is given up.

    Returns:
      The folder holding the files.

    Raises:
      ChecksumError, DataFormatError: a download failed its check on every mirror (it was deleted).
      DownloadError: no mirror could serve a file (the message lists each URL and its error).
    """
    dest_dir = download_dir(name, data_dir)
    urls = mirror_urls(name, mirror)
    dest_dir.mkdir(parents=True, exist_ok=True)
    for fn in FILES[name]:
        if not (dest_dir / fn).is_file():
            _fetch_one(name, fn, dest_dir, urls, verify=verify, progress=progress, timeout=timeout)
    return dest_dir


def _fetch_one(name: str, fn: str, dest_dir: Path, bases: list[str], *, verify: bool, progress: bool | None,
               timeout: float) -> None:
    failures: list[tuple[str, Exception]] = []
    for base in bases:
        url = base + fn
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{fn}.", suffix=".part", dir=dest_dir))
        tmp = tmp_dir / fn  # the official name, which the checks look digests up by
        try:
            _stream(url, tmp, progress=progress, timeout=timeout)
            if verify:
                _verify(name, tmp)
            os.replace(tmp, dest_dir / fn)
            return
        except (DatasetError, OSError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append((url, e))
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    bad = [(u, e) for u, e in failures if isinstance(e, (ChecksumError, DataFormatError))]
    lines = "; ".join(f"{u}: {type(e).__name__}: {e}" for u, e in failures)
    if bad:
        cls = ChecksumError if any(isinstance(e, ChecksumError) for _, e in bad) else DataFormatError
        raise cls(
            f"{name}: the download of {fn} failed its check and was deleted, nothing was kept in '{dest_dir}' "
            f"({lines}). Try again, or another mirror (mirror=... or ${ENV_MIRROR}); verify=False (CLI "
            f"--no-verify) keeps an unchecked download"
        ) from bad[-1][1]
    raise DownloadError(
        f"{name}: could not download {fn} into '{dest_dir}' ({lines}). Check the network, or set a mirror "
        f"(mirror=... or ${ENV_MIRROR}), or place the official files in that folder yourself"
    ) from failures[-1][1]


def _stream(url: str, path: Path, *, progress: bool | None, timeout: float) -> None:
    """Write the body of ``url`` to ``path``, with a progress bar; checks the announced length."""
    req = urllib.request.Request(url, headers={"User-Agent": "ocnn_jax"})
    with urllib.request.urlopen(req, timeout=timeout) as r, open(path, "wb") as f:
        length = r.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name, leave=False,
                   disable=None if progress is None else not progress, file=sys.stderr)
        plain = progress is None and bar.disable
        if plain:
            size = f" ({_size(total)})" if total else ""
            print(f"ocnn_jax: downloading {url}{size}", file=sys.stderr, flush=True)
        got = 0
        with bar:
            while chunk := r.read(_CHUNK):
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    if total is not None and got != total:
        raise DownloadError(f"{url}: received {got} bytes, expected {total} (Content-Length); the transfer was cut")
    if plain:
        print(f"ocnn_jax: downloaded {url} ({_size(got)})", file=sys.stderr, flush=True)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def _verify(name: str, path: Path) -> None:
    """Check one downloaded file like the loaders check it (raises ChecksumError / DataFormatError)."""
    if name == "cifar10":
        cifar.load_cifar10_files("py_tar", path, verify=True)
        return
    spec = idx.IDX_SPECS[name]
    role = next(r for r, stem in spec.files.items() if stem + ".gz" == path.name)
    magic = idx.MAGIC_IMAGES if role.endswith("images") else idx.MAGIC_LABELS
    idx.check_idx_file(spec, role, path, verify=True, expected_magic=magic)
