"""Content and file checksums of the loaders (offline, on small fixtures written to tmp_path).

The fixtures are random images, so their digests are injected into the loaders' digest tables
(``IDX_SPECS[...]``, ``cifar.CIFAR10_CONTENT`` / ``CIFAR10_CHECKSUMS``) the way the real ones sit there.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib

import numpy as np
import pytest

import ocnn_jax.datasets as ds
from ocnn_jax.datasets import ChecksumError, cifar, file_digest, load

from data_fixtures import (
    isolate_data_env,
    MNIST_NAMES,
    regzip,
    write_cifar_bin_dir,
    write_cifar_py_dir,
    write_cifar_tar,
    write_idx_set,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    isolate_data_env(monkeypatch, tmp_path_factory.mktemp("xdg_cache"))


def _official(monkeypatch, name, d, *, content=True, files=True):
    """Make the fixture set in ``d`` the "official" release of ``name``: its .gz digests as file digests,
    its decompressed digests as content digests (either may be left out)."""
    spec = ds.IDX_SPECS[name]
    checksums = {spec.files[r] + ".gz": {"md5": file_digest(d / (spec.files[r] + ".gz"), "md5")} for r in spec.files}
    digests = {r: ds.idx_content_digests(d / (spec.files[r] + ".gz")) for r in spec.files}
    monkeypatch.setitem(ds.IDX_SPECS, name, dataclasses.replace(
        spec, checksums=checksums if files else {}, content=digests if content else {}))


def test_idx_content_digest_is_the_decompressed_bytes(tmp_path):
    write_idx_set(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    assert ds.idx_content_digests(p) == {"md5": hashlib.md5(raw).hexdigest(), "sha256": hashlib.sha256(raw).hexdigest()}
    plain = tmp_path / "plain"
    plain.write_bytes(raw)
    assert ds.idx_content_digests(plain, ("sha1",)) == {"sha1": hashlib.sha1(raw).hexdigest()}


def test_recompressed_idx_file_loads_and_one_byte_change_is_refused(tmp_path, monkeypatch):
    a = write_idx_set(tmp_path)
    _official(monkeypatch, "mnist", tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    before = p.read_bytes()
    raw = regzip(p)  # another gzip header (member name, mtime) and level, same content
    assert p.read_bytes()[:3] == before[:3] and p.read_bytes()[:10] != before[:10]  # gzip, another header
    assert file_digest(p, "md5") != ds.IDX_SPECS["mnist"].checksums[p.name]["md5"]  # the file check alone would refuse
    got = load("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"])
    # uncompressed is the same content too
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    np.testing.assert_array_equal(load("mnist", data_dir=tmp_path).y_test, a["test_labels"])

    # one pixel byte changed, validly re-compressed: refused by the content check (and the file check)
    bad = bytearray(raw)
    bad[16 + 100] ^= 0x01
    p.write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(ChecksumError) as e:
        load("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert str(p) in msg
    want_md5 = ds.IDX_SPECS["mnist"].content["train_images"]["md5"]
    assert f"content check failed (md5 of the decompressed data is {hashlib.md5(bad).hexdigest()}, expected {want_md5}" in msg
    assert "file check failed (md5 of the file is" in msg
    assert "verify=False" in msg and "--no-verify" in msg and "download=True" in msg
    assert load("mnist", data_dir=tmp_path, verify=False).x_train[0, 3, 16, 0] == a["train_images"][0, 3, 16] ^ 1


def test_official_file_accepted_by_the_file_check_alone(tmp_path, monkeypatch):
    """Byte-identical official files load even where the content digest is absent (or wrong)."""
    write_idx_set(tmp_path / "kmnist")
    _official(monkeypatch, "kmnist", tmp_path / "kmnist", content=False)
    load("kmnist", data_dir=tmp_path)
    spec = ds.IDX_SPECS["kmnist"]
    monkeypatch.setitem(ds.IDX_SPECS, "kmnist", dataclasses.replace(
        spec, content={r: {"md5": "0" * 32} for r in spec.files}))
    load("kmnist", data_dir=tmp_path)


def test_file_digest_only_refuses_a_recompressed_copy_and_says_why(tmp_path, monkeypatch):
    """Data sets with no known content digest (Fashion-MNIST, KMNIST) keep the file check."""
    assert ds.IDX_SPECS["fashion_mnist"].content == {} and ds.IDX_SPECS["fashion_mnist"].checksums
    d = tmp_path / "fashion_mnist"
    write_idx_set(d)
    _official(monkeypatch, "fashion_mnist", d, content=False)
    regzip(d / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ChecksumError) as e:
        load("fashion_mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte.gz: no content digest is known" in msg and "file check failed" in msg
    assert "--no-verify" in msg


def test_real_mnist_digests_are_consistent():
    """The MNIST content md5s are the published uncompressed ones; every role has md5 and sha256."""
    spec = ds.IDX_SPECS["mnist"]
    assert spec.content["train_images"]["md5"] == "6bbc9ace898e44ae57da46a324031adb"
    assert spec.content["test_labels"]["md5"] == "27ae3e4e09519cfbb04c329615203637"
    assert all(set(spec.content[r]) == {"md5", "sha256"} for r in MNIST_NAMES)
    assert set(spec.checksums) == {n + ".gz" for n in MNIST_NAMES.values()}


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10


def _all_forms(root):
    """The same six batches in every supported form; returns {form: dir} and the joined arrays."""
    a = write_cifar_py_dir(root / "py_dir", seed=7)
    assert all(np.array_equal(a[k], b[k]) for b in (write_cifar_tar(root / "py_tar", seed=7),
                                                    write_cifar_tar(root / "bin_tar", seed=7, binary=True),
                                                    write_cifar_bin_dir(root / "bin_dir", seed=7)) for k in a)
    root.joinpath("npz").mkdir()
    for split in ("train", "test"):
        np.savez_compressed(root / "npz" / f"{split}.npz", x=a[f"x_{split}"], y=a[f"y_{split}"][:, None])
    return {f: root / f for f in ("py_dir", "py_tar", "bin_tar", "bin_dir", "npz")}, a


def test_every_cifar_form_decodes_to_the_same_content(tmp_path, monkeypatch):
    dirs, a = _all_forms(tmp_path)
    want = {s: {"sha256": cifar.cifar10_content_digest(a[f"x_{s}"], a[f"y_{s}"])} for s in ("train", "test")}
    monkeypatch.setattr(cifar, "CIFAR10_CONTENT", want)
    for form, d in dirs.items():
        assert cifar.find_cifar10(d)[0] == form
        got = load("cifar10", data_dir=d)  # the content check accepts every packing of the same images
        assert cifar.cifar10_content_digest(got.x_train, got.y_train) == want["train"]["sha256"], form
        np.testing.assert_array_equal(got.x_test, a["x_test"])


def test_cifar_one_byte_change_is_refused_in_each_form(tmp_path, monkeypatch):
    dirs, a = _all_forms(tmp_path)
    monkeypatch.setattr(cifar, "CIFAR10_CONTENT", {
        s: {"sha256": cifar.cifar10_content_digest(a[f"x_{s}"], a[f"y_{s}"])} for s in ("train", "test")})
    x = a["x_test"].copy()
    x[2, 5, 7, 1] ^= 0x40
    np.savez_compressed(dirs["npz"] / "test.npz", x=x, y=a["y_test"])
    raw = bytearray((dirs["bin_dir"] / "cifar-10-batches-bin" / "data_batch_3.bin").read_bytes())
    raw[0] = (raw[0] + 1) % 10  # one label
    (dirs["bin_dir"] / "cifar-10-batches-bin" / "data_batch_3.bin").write_bytes(bytes(raw))
    for form in ("npz", "bin_dir"):
        split = "test" if form == "npz" else "train"
        with pytest.raises(ChecksumError, match=f"content check failed \\(sha256 of the decoded {split} arrays is"):
            load("cifar10", data_dir=dirs[form])
        load("cifar10", data_dir=dirs[form], verify=False)


def test_cifar_official_archive_accepted_by_file_check(tmp_path, monkeypatch):
    write_cifar_tar(tmp_path)
    p = tmp_path / "cifar-10-python.tar.gz"
    monkeypatch.setitem(cifar.CIFAR10_CHECKSUMS, p.name, {"md5": file_digest(p, "md5")})
    assert load("cifar10", data_dir=tmp_path).x_train.shape == (30, 32, 32, 3)  # content differs, file matches
