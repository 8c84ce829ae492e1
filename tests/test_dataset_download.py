"""``load(..., download=True)`` against a local HTTP server on 127.0.0.1 serving small fixture files.

Nothing here reaches beyond 127.0.0.1: every test passes the local server as the mirror (or sets
``$OCNN_JAX_MIRROR`` to it), and the official mirror table is replaced by an unroutable local address
so that a bug that ignored the mirror would fail instead of going online. The fixtures' digests are
injected into the loaders' digest tables, where the official ones sit.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

import ocnn_jax.datasets as ds
from ocnn_jax.datasets import ChecksumError, DataFormatError, DatasetNotFoundError, DownloadError, cifar, download
from ocnn_jax.datasets import file_digest, load

from data_fixtures import MNIST_NAMES, http_server, isolate_data_env, write_cifar_tar, write_idx_set


@pytest.fixture
def server(tmp_path):
    """(served folder, base URL, list of requested paths) of a server on 127.0.0.1, ephemeral port."""
    root = tmp_path / "served"
    root.mkdir()
    with http_server(root) as (url, requests):
        yield root, url, requests


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    isolate_data_env(monkeypatch, tmp_path_factory.mktemp("xdg_cache"))
    monkeypatch.delenv(download.ENV_MIRROR, raising=False)
    # never the real mirrors: port 9 (discard) on 127.0.0.1 refuses the connection
    monkeypatch.setattr(download, "MIRRORS", {k: ("http://127.0.0.1:9/",) for k in download.MIRRORS})


def _serve_idx(monkeypatch, served: Path, name: str = "mnist", seed: int = 0) -> dict[str, np.ndarray]:
    """Write a fixture IDX set under ``served/<name>/`` and make it the official one (file + content digests)."""
    d = served / name
    a = write_idx_set(d, seed=seed)
    make_official(monkeypatch, name, d)
    return a


def make_official(monkeypatch, name: str, d: Path) -> None:
    """Inject the digests of the IDX .gz files in ``d`` as ``name``'s file and content digests."""
    spec = ds.IDX_SPECS[name]
    monkeypatch.setitem(ds.IDX_SPECS, name, dataclasses.replace(
        spec,
        checksums={n + ".gz": {"sha256": file_digest(d / (n + ".gz"))} for n in spec.files.values()},
        content={r: ds.idx_content_digests(d / (n + ".gz")) for r, n in spec.files.items()},
    ))


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


def test_download_mnist_into_the_cache_dir(server, monkeypatch):
    served, url, requests = server
    a = _serve_idx(monkeypatch, served)
    with pytest.raises(DatasetNotFoundError, match=r"download=True \(CLI --download\)"):
        load("mnist")
    got = load("mnist", download=True, mirror=url + "{name}/")
    np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"])
    np.testing.assert_array_equal(got.y_test, a["test_labels"])
    cache = ds.default_cache_dir() / "mnist"
    assert got.source == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in MNIST_NAMES.values())
    assert sorted(requests) == sorted(f"/mnist/{n}.gz" for n in MNIST_NAMES.values())
    # the next load finds the files: no request, with or without download=True
    load("mnist")
    load("mnist", download=True, mirror=url + "{name}/")
    assert len(requests) == 4


def test_download_into_data_dir_via_env_mirror(server, monkeypatch, tmp_path):
    served, url, requests = server
    a = _serve_idx(monkeypatch, served, "fashion_mnist", seed=3)
    monkeypatch.setenv(download.ENV_MIRROR, url + "{name}")  # no trailing slash: one is added
    root = tmp_path / "new" / "data"  # created on demand
    got = load("fashion_mnist", data_dir=root, download=True)
    assert (root / "fashion_mnist" / "train-images-idx3-ubyte.gz").is_file()
    np.testing.assert_array_equal(got.x_test[..., 0], a["test_images"])
    assert not (ds.default_cache_dir() / "fashion_mnist").exists()


def test_corrupt_download_is_rejected_and_deleted(server, monkeypatch):
    served, url, requests = server
    a = _serve_idx(monkeypatch, served)
    p = served / "mnist" / "train-labels-idx1-ubyte.gz"
    good = p.read_bytes()
    raw = bytearray(gzip.decompress(good))
    raw[8 + 3] = (raw[8 + 3] + 1) % 10  # one label changed, validly compressed
    p.write_bytes(gzip.compress(bytes(raw)))
    cache = ds.default_cache_dir() / "mnist"
    with pytest.raises(ChecksumError) as e:
        load("mnist", download=True, mirror=url + "mnist/")
    msg = str(e.value)
    assert "train-labels-idx1-ubyte.gz failed its check and was deleted" in msg
    assert url + "mnist/train-labels-idx1-ubyte.gz" in msg and "content check failed" in msg
    assert not (cache / "train-labels-idx1-ubyte.gz").exists() and _leftovers(cache) == []
    assert (cache / "train-images-idx3-ubyte.gz").is_file()  # fetched and checked before the bad one
    # a truncated download (not even valid gzip) is rejected and deleted too
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataFormatError, match="failed its check and was deleted"):
        load("mnist", download=True, mirror=url + "mnist/")
    assert not (cache / "train-labels-idx1-ubyte.gz").exists() and _leftovers(cache) == []
    # once the server is fixed, download=True finishes the interrupted download
    p.write_bytes(good)
    n = len(requests)
    got = load("mnist", download=True, mirror=url + "mnist/")
    np.testing.assert_array_equal(got.y_train, a["train_labels"])
    assert len(requests) == n + 3  # train labels + the two test files; train images kept
    # verify=False keeps an unchecked download
    bad_served = served / "bad"
    bad_served.mkdir()
    for f in (served / "mnist").iterdir():
        bad_served.joinpath(f.name).write_bytes(f.read_bytes())
    bad_served.joinpath(p.name).write_bytes(gzip.compress(bytes(raw)))
    got = load("mnist", data_dir=served.parent / "unchecked", download=True, mirror=url + "bad/", verify=False)
    assert got.y_train[3] == (a["train_labels"][3] + 1) % 10


def test_http_error_and_next_mirror(server, monkeypatch):
    served, url, requests = server
    a = _serve_idx(monkeypatch, served, "kmnist")
    cache = ds.default_cache_dir() / "kmnist"
    with pytest.raises(DownloadError) as e:
        load("kmnist", download=True, mirror=url + "nowhere/")
    assert url + "nowhere/train-images-idx3-ubyte.gz" in str(e.value) and "404" in str(e.value)
    assert isinstance(e.value, OSError) and _leftovers(cache) == [] and list(cache.iterdir()) == []
    # the first official mirror is down (connection refused), the second serves the files
    monkeypatch.setitem(download.MIRRORS, "kmnist", ("http://127.0.0.1:9/", url + "kmnist/"))
    got = load("kmnist", download=True)
    np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"])


def test_download_cifar10_archive(server, monkeypatch):
    served, url, requests = server
    a = write_cifar_tar(served / "cifar10")
    p = served / "cifar10" / "cifar-10-python.tar.gz"
    monkeypatch.setitem(cifar.CIFAR10_CHECKSUMS, p.name, {"md5": file_digest(p, "md5")})
    monkeypatch.setattr(cifar, "CIFAR10_CONTENT", {
        s: {"sha256": cifar.cifar10_content_digest(a[f"x_{s}"], a[f"y_{s}"])} for s in ("train", "test")})
    got = load("cifar10", download=True, mirror=url + "{name}/")
    np.testing.assert_array_equal(got.x_train, a["x_train"])
    assert got.source == str(ds.default_cache_dir() / "cifar10" / "cifar-10-python.tar.gz")
    assert requests == ["/cifar10/cifar-10-python.tar.gz"]


def test_cifar_corrupt_download_deleted(server, monkeypatch):
    served, url, _ = server
    write_cifar_tar(served / "cifar10")  # digests are the official ones: this archive matches neither
    with pytest.raises(ChecksumError, match="cifar-10-python.tar.gz failed its check and was deleted"):
        load("cifar10", download=True, mirror=url + "cifar10/")
    cache = ds.default_cache_dir() / "cifar10"
    assert list(cache.iterdir()) == []


def test_no_download_for_emnist_and_plain_progress_lines(server, monkeypatch, capsys):
    with pytest.raises(ds.DatasetError, match="no download is available for 'emnist_digits'.*zip"):
        ds.fetch("emnist_digits")
    served, url, _ = server
    _serve_idx(monkeypatch, served)
    ds.fetch("mnist", mirror=url + "mnist/", progress=None)  # pytest's stderr is not a terminal
    err = capsys.readouterr().err
    assert f"ocnn_jax: downloading {url}mnist/train-images-idx3-ubyte.gz" in err and "\r" not in err


def test_cli_download_and_no_verify(server, monkeypatch, tmp_path, capsys):
    """compare/sweep --download fetch from the mirror; a bad file is a clean error naming --no-verify,
    and --no-verify loads it."""
    from ocnn_jax.cli import main

    served, url, requests = server
    write_idx_set(served / "mnist", n_train=60, n_test=40, size=8, seed=5)
    make_official(monkeypatch, "mnist", served / "mnist")
    monkeypatch.setenv(download.ENV_MIRROR, url + "{name}/")
    compare = ["compare", "--dataset", "mnist", "--methods", "ocsvm", "--classes", "0", "--seeds", "1", "--no-progress"]
    assert main(compare) == 2
    err = capsys.readouterr().err
    assert "ocnn-jax compare: error: mnist: no directory holds" in err and "--download" in err
    assert "Traceback" not in err and requests == []
    assert main(compare + ["--download"]) == 0
    assert "OC-SVM" in capsys.readouterr().out and len(requests) == 4
    cached = ds.default_cache_dir() / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(cached.read_bytes()))
    raw[-1] ^= 0xFF  # one pixel of the last test image
    cached.write_bytes(gzip.compress(bytes(raw)))
    sweep = ["sweep", "--dataset", "mnist", "--method", "ocsvm", "--classes", "0", "--seeds", "1", "--no-progress",
             "--no-figures", "--out", str(tmp_path / "sweep")]
    for cmd in (compare, sweep):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert f"ocnn-jax {cmd[0]}: error: {cached}: content check failed" in err and "--no-verify" in err
    assert main(compare + ["--no-verify"]) == 0
    assert main(sweep + ["--no-verify"]) == 0
    assert "mean AUROC" in capsys.readouterr().out and len(requests) == 4  # nothing fetched again
