"""Offline tests of ocnn_jax.datasets on synthetic fixtures written to tmp_path (no network, no TFDS)."""

from __future__ import annotations

import gzip
import pickle
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ocnn_jax.datasets as ds
from ocnn_jax.datasets import (
    ChecksumError,
    DataFormatError,
    DatasetError,
    DatasetNotFoundError,
    TFDSUnavailableError,
    from_arrays,
    load,
    read_idx,
    to_unit,
    write_idx,
)
from ocnn_jax.datasets import registry

from data_fixtures import (
    isolate_data_env,
    MNIST_NAMES,
    write_cifar_bin_dir,
    write_cifar_npz,
    write_cifar_py_dir,
    write_cifar_tar,
    write_idx_set,
    write_image_folder,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    isolate_data_env(monkeypatch, tmp_path_factory.mktemp("xdg_cache"))


# ----------------------------------------------------------------------------------------------------------------
# IDX


def test_idx_roundtrip_gz_and_plain(tmp_path):
    for gz in (True, False):
        d = tmp_path / ("gz" if gz else "raw")
        a = write_idx_set(d, gz=gz, seed=int(gz))
        got = load("idx", data_dir=d)
        np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"])
        np.testing.assert_array_equal(got.y_train, a["train_labels"])
        np.testing.assert_array_equal(got.x_test[..., 0], a["test_images"])
        np.testing.assert_array_equal(got.y_test, a["test_labels"])
        assert got.x_train.dtype == np.uint8 and got.x_train.shape == (30, 28, 28, 1)
        assert got.y_train.dtype == np.int32 and got.image_shape == (28, 28, 1)
        assert got.classes == tuple(str(k) for k in range(10))


def test_fashion_and_kmnist_names_and_verify_off(tmp_path):
    a = write_idx_set(tmp_path / "fashion_mnist")
    got = load("Fashion-MNIST", data_dir=tmp_path, verify=False)
    assert got.name == "fashion_mnist" and got.classes[0] == "T-shirt/top"
    np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"])
    write_idx_set(tmp_path / "kmnist")
    assert load("kmnist", data_dir=tmp_path, verify=False).classes[-1] == "wo"


def test_emnist_digits_are_transposed(tmp_path):
    names = {r: ds.IDX_SPECS["emnist_digits"].files[r] for r in MNIST_NAMES}
    a = write_idx_set(tmp_path, names=names, size=6)
    got = load("emnist_digits", data_dir=tmp_path)
    np.testing.assert_array_equal(got.x_train[..., 0], a["train_images"].transpose(0, 2, 1))


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
    gz=st.booleans(),
)
def test_write_read_idx_roundtrip_property(tmp_path_factory, shape, dtype, gz):
    rng = np.random.default_rng(len(shape))
    x = (rng.normal(size=shape) * 50).astype(dtype)
    p = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(p, x)
    y = read_idx(p)
    assert y.dtype == x.dtype and y.shape == x.shape and y.dtype.byteorder in "=|"
    np.testing.assert_array_equal(y, x)


def test_mnist_checksum_mismatch_names_file(tmp_path):
    write_idx_set(tmp_path)
    with pytest.raises(ChecksumError) as e:
        load("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "expected f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg
    assert "content check failed (md5 of the decompressed data is" in msg and "file check failed" in msg
    assert "verify=False" in msg and "--no-verify" in msg
    assert load("mnist", data_dir=tmp_path, verify=False).x_train.shape == (30, 28, 28, 1)


def test_uncompressed_mnist_checked_against_uncompressed_md5(tmp_path):
    write_idx_set(tmp_path, gz=False)
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte: content check failed "
                                            r"\(md5 .* expected 6bbc9ace898e44ae57da46a324031adb"):
        load("mnist", data_dir=tmp_path)


def test_corrupted_gzip_names_file(tmp_path):
    write_idx_set(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    good = p.read_bytes()
    # damage late in the stream (header decodes, CRC/deflate fails) and early (garbage header)
    for start in (len(good) - 400, 20):
        raw = bytearray(good)
        for i in range(start, len(raw) - 10, 7):
            raw[i] ^= 0xFF
        p.write_bytes(bytes(raw))
        with pytest.raises(DataFormatError) as e:
            load("idx", data_dir=tmp_path)
        assert str(p) in str(e.value) and "corrupt" in str(e.value)


def test_truncated_gzip_stream_names_file(tmp_path):
    write_idx_set(tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte.gz"):
        load("idx", data_dir=tmp_path)


def test_truncated_idx_header(tmp_path):
    write_idx_set(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 5, 0, 0]))
    with pytest.raises(DataFormatError) as e:
        load("idx", data_dir=tmp_path)
    assert str(p) in str(e.value) and "header truncated: 10 bytes, expected 16" in str(e.value)
    p.write_bytes(bytes([0, 0]))
    with pytest.raises(DataFormatError, match="header truncated: 2 bytes, expected at least 4"):
        read_idx(p)


def test_truncated_and_overlong_idx_data(tmp_path):
    p = tmp_path / "x.idx"
    write_idx(p, np.zeros((4, 3, 3), np.uint8))
    raw = p.read_bytes()
    p.write_bytes(raw[:-5])
    with pytest.raises(DataFormatError, match=r"x.idx: IDX header announces shape \(4, 3, 3\) \(36 data bytes\) but the file can hold at most 31"):
        read_idx(p)
    gz = tmp_path / "x.idx.gz"
    gz.write_bytes(gzip.compress(raw[:-5]))  # an intact gzip of a truncated IDX file
    with pytest.raises(DataFormatError, match=r"x.idx.gz: IDX data truncated: 31 bytes after the header, expected 36 for shape \(4, 3, 3\)"):
        read_idx(gz)
    p.write_bytes(raw + b"\x00")
    with pytest.raises(DataFormatError, match="trailing bytes"):
        read_idx(p)


def test_wrong_magic_number(tmp_path):
    write_idx_set(tmp_path)
    # a label file where an image file belongs
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DataFormatError) as e:
        load("idx", data_dir=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and "magic number 2049" in str(e.value)
    assert "expected 2051" in str(e.value)
    p = tmp_path / "junk"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(DataFormatError, match="bad IDX magic number"):
        read_idx(p)


def test_image_label_count_mismatch(tmp_path):
    write_idx_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DataFormatError) as e:
        load("idx", data_dir=tmp_path)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte.gz' holds 20 images" in msg and "t10k-labels-idx1-ubyte.gz' holds 19 labels" in msg


def test_label_out_of_range(tmp_path):
    write_idx_set(tmp_path / "kmnist")
    write_idx(tmp_path / "kmnist" / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    with pytest.raises(DataFormatError, match="holds label 12; expected labels 0..9"):
        load("kmnist", data_dir=tmp_path, verify=False)


def test_missing_directory_and_missing_files(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetNotFoundError) as e:
        load("mnist", data_dir=missing)
    assert str(missing) in str(e.value) and "does not exist" in str(e.value)
    assert "train-images-idx3-ubyte[.gz]" in str(e.value)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, ValueError)
    # an empty directory: names the files and where it looked, and mentions TFDS
    with pytest.raises(DatasetNotFoundError) as e:
        load("mnist", data_dir=tmp_path)
    assert "t10k-labels-idx1-ubyte[.gz]" in str(e.value) and str(tmp_path) in str(e.value) and "tfds" in str(e.value)
    # a partial set is never loaded partially
    write_idx_set(tmp_path / "part")
    (tmp_path / "part" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load("idx", data_dir=tmp_path / "part")


def test_search_order_explicit_env_cache(tmp_path, monkeypatch):
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    a_cache = write_idx_set(cache / "ocnn_jax" / "idx", seed=3)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    np.testing.assert_array_equal(load("idx").y_train, a_cache["train_labels"])
    a_env = write_idx_set(env / "idx", seed=2)
    monkeypatch.setenv("OCNN_JAX_DATA_DIR", str(env))
    np.testing.assert_array_equal(load("idx").y_train, a_env["train_labels"])
    a_exp = write_idx_set(explicit, seed=1)
    np.testing.assert_array_equal(load("idx", data_dir=explicit).y_train, a_exp["train_labels"])
    monkeypatch.delenv("OCNN_JAX_DATA_DIR")
    monkeypatch.setenv("OCNN_DATA_DIR", str(env))  # the alias works too
    np.testing.assert_array_equal(load("idx").y_train, a_env["train_labels"])
    monkeypatch.setenv("OCNN_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(DatasetNotFoundError, match=r"\$OCNN_DATA_DIR=.*gone' does not name a directory"):
        load("idx")


def test_env_root_does_not_leak_other_sets(tmp_path, monkeypatch):
    """MNIST files lying directly in an env root are not taken for Fashion-MNIST."""
    write_idx_set(tmp_path)
    monkeypatch.setenv("OCNN_JAX_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="fashion_mnist") as e:
        load("fashion_mnist")
    # the message lists only the sub-folders searched under an env root, not the root itself, and says how
    # to use a folder that holds the files directly
    assert f"'{tmp_path}'" not in str(e.value) and f"'{tmp_path}/{{" in str(e.value)
    assert "only through these sub-folders" in str(e.value) and "data_dir=" in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError) as e:  # an explicit data_dir is searched itself: no such advice
        load("fashion_mnist", data_dir=empty)
    assert f"searched '{empty}' and '{empty}/{{" in str(e.value) and "only through" not in str(e.value)


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10


@pytest.mark.parametrize("y_col", [False, True])
def test_cifar_npz_roundtrip(tmp_path, y_col):
    a = write_cifar_npz(tmp_path / "cifar10", y_col=y_col)
    got = load("CIFAR-10", data_dir=tmp_path, verify=False)  # random fixture images: not CIFAR-10's content
    for k in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(got, k), a[k])
    assert got.classes[0] == "airplane" and got.image_shape == (32, 32, 3)


def test_cifar_python_dir_tar_and_binary(tmp_path):
    cases = {
        "py_dir": write_cifar_py_dir(tmp_path / "a", seed=1),
        "py_tar": write_cifar_tar(tmp_path / "b", seed=2),
        "bin_tar": write_cifar_tar(tmp_path / "c", seed=3, binary=True),
        "bin_dir": write_cifar_bin_dir(tmp_path / "d", seed=4),
    }
    for sub, (form, a) in zip("abcd", cases.items()):
        got = load("cifar10", data_dir=tmp_path / sub, verify=False)
        for k in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(got, k), a[k], err_msg=f"{form} {k}")
        assert got.x_train.shape == (30, 32, 32, 3)
    # pointing data_dir at the extracted folder itself works too
    got = load("cifar10", data_dir=tmp_path / "a" / "cifar-10-batches-py", verify=False)
    np.testing.assert_array_equal(got.x_test, cases["py_dir"]["x_test"])


def test_cifar_archive_checksum(tmp_path):
    write_cifar_tar(tmp_path)
    with pytest.raises(ChecksumError, match=r"cifar-10-python.tar.gz: content check failed \(sha256 of the decoded "
                                            r"train arrays is .*file check failed \(md5 of the file is .*expected "
                                            r"c58f30108f718f92721af3b95e74349a"):
        load("cifar10", data_dir=tmp_path)
    write_cifar_tar(tmp_path / "bin", binary=True)
    with pytest.raises(ChecksumError, match="sha256 of the file is .*expected c4a38c50"):
        load("cifar10", data_dir=tmp_path / "bin")
    write_cifar_bin_dir(tmp_path / "bd")  # no published file digests: the content check alone
    with pytest.raises(ChecksumError, match=r"cifar-10-batches-bin: content check failed .*--no-verify") as e:
        load("cifar10", data_dir=tmp_path / "bd")
    assert "file check" not in str(e.value)
    write_cifar_py_dir(tmp_path / "pd")  # the first extracted batch that differs from its published md5
    with pytest.raises(ChecksumError, match=r"data_batch_1: content check .*expected c99cafc152244af753f735de768cd75f"):
        load("cifar10", data_dir=tmp_path / "pd")


def test_cifar_corrupt_tar_and_missing_member(tmp_path):
    write_cifar_tar(tmp_path)
    p = tmp_path / "cifar-10-python.tar.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="cifar-10-python.tar.gz: cannot read as tar.gz"):
        load("cifar10", data_dir=tmp_path, verify=False)
    write_cifar_py_dir(tmp_path / "x")
    (tmp_path / "x" / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError, match="data_batch_3' is missing"):
        load("cifar10", data_dir=tmp_path / "x")


def test_cifar_npz_errors(tmp_path):
    write_cifar_npz(tmp_path)
    (tmp_path / "test.npz").unlink()
    with pytest.raises(DatasetNotFoundError, match="test.npz' is missing"):
        load("cifar10", data_dir=tmp_path)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "test.npz", x=rng.integers(0, 255, (5, 3, 32, 32), dtype=np.uint8), y=np.zeros(5))
    with pytest.raises(DataFormatError, match=r"test.npz: x is \(5, 3, 32, 32\) uint8 \(NCHW\? expected NHWC\)"):
        load("cifar10", data_dir=tmp_path)
    np.savez(tmp_path / "test.npz", x=np.zeros((5, 32, 32, 3), np.uint8), y=np.zeros(4))
    with pytest.raises(DataFormatError, match=r"x holds 5 images but y has shape \(4,\)"):
        load("cifar10", data_dir=tmp_path)
    np.savez(tmp_path / "test.npz", images=np.zeros((5, 32, 32, 3), np.uint8))
    with pytest.raises(DataFormatError, match=r"keys \['images'\]; expected 'x' and 'y'"):
        load("cifar10", data_dir=tmp_path)
    (tmp_path / "test.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFormatError, match="test.npz: cannot read as npz"):
        load("cifar10", data_dir=tmp_path)


def test_cifar_pickle_allows_only_arrays(tmp_path):
    write_cifar_py_dir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DataFormatError, match=r"global (__builtin__|builtins).print is not allowed in a CIFAR batch"):
        load("cifar10", data_dir=tmp_path)


def test_cifar_batch_count_mismatch(tmp_path):
    write_cifar_py_dir(tmp_path)
    d = {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(pickle.dumps(d, protocol=2))
    with pytest.raises(DataFormatError, match="data_batch_2: 3 images but 2 labels"):
        load("cifar10", data_dir=tmp_path)


# ----------------------------------------------------------------------------------------------------------------
# Image folders, arrays, CSV, digits, GTSRB


def test_image_folder_class_layout_exact(tmp_path):
    imgs = write_image_folder(tmp_path, {"train": {"good": 3}, "test": {"good": 2, "crack": 2}})
    got = load("image_folder", data_dir=tmp_path, image_shape=(8, 8, 3))
    assert got.classes == ("crack", "good")
    np.testing.assert_array_equal(got.x_train, np.stack(imgs["train"]["good"]))
    np.testing.assert_array_equal(got.y_train, [1, 1, 1])
    np.testing.assert_array_equal(got.x_test, np.stack(imgs["test"]["crack"] + imgs["test"]["good"]))
    np.testing.assert_array_equal(got.y_test, [0, 0, 1, 1])


def test_image_folder_flat_grey_and_resize(tmp_path):
    imgs = write_image_folder(tmp_path, {"": {"": 4}}, mode="L", size=(6, 5))
    got = load("folder", data_dir=tmp_path, image_shape=(6, 5, 1))
    np.testing.assert_array_equal(got.x_train[..., 0], np.stack(imgs[""][""]))
    assert got.classes == ("normal",) and got.x_test.shape == (0, 6, 5, 1)
    small = ds.load_image_folder(tmp_path, (3, 4, 3))
    assert small.x_train.shape == (4, 3, 4, 3) and small.x_train.dtype == np.uint8


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="image folder .*nope' does not exist"):
        ds.load_image_folder(tmp_path / "nope", (8, 8, 3))
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        ds.load_image_folder(tmp_path, (8, 8, 3))
    (tmp_path / "train" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataFormatError, match="bad.png: cannot decode image"):
        ds.load_image_folder(tmp_path, (8, 8, 3))
    with pytest.raises(DatasetError, match="image_shape"):
        load("image_folder", data_dir=tmp_path)


def test_from_arrays_tabular_and_images():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = np.array(["a", "b"] * 20)
    d = from_arrays(x, y)
    assert d.kind == "tabular" and d.classes == ("a", "b") and d.x_train.dtype == np.float32
    assert d.x_train.shape[0] + d.x_test.shape[0] == 40 and np.all(d.class_counts() == 10)
    assert "stratified" in d.split_note
    imgs = rng.integers(0, 256, (6, 4, 4), dtype=np.uint8)
    d2 = from_arrays(imgs, [0, 1, 0, 1, 0, 1], imgs[:2], [1, 0])
    assert d2.image_shape == (4, 4, 1) and d2.x_train.dtype == np.uint8
    with pytest.raises(DatasetError, match="x_train holds 6 samples but y_train 5 labels"):
        from_arrays(imgs, [0, 1, 0, 1, 0])
    with pytest.raises(DatasetError, match=r"floats span .*expected uint8 0..255 or floats in \[0, 1\]"):
        from_arrays(imgs.astype(np.float32), [0, 1] * 3, imgs[:2].astype(np.float32), [0, 1])
    with pytest.raises(DatasetError, match="without the other"):
        from_arrays(x, y, x_test=x)


def test_dataset_is_read_only_and_validated():
    d = ds.load_digits()
    with pytest.raises(ValueError):
        d.x_train[0, 0, 0, 0] = 1.0
    with pytest.raises(DatasetError, match=r"labels span 0..3; expected 0..1"):
        ds.Dataset("t", np.zeros((2, 3), np.float32), np.array([0, 3]), np.zeros((1, 3), np.float32), np.array([0]), ("a", "b"), None)


def test_csv_with_header_string_labels_and_test_file(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text("f1,f2,label\n1,2,ok\n3,4,bad\n5,6,ok\n")
    q = tmp_path / "test.csv"
    q.write_text("f1,f2,label\n7,8,bad\n")
    d = load("csv", path=p, test_path=q)
    np.testing.assert_array_equal(d.x_train, [[1, 2], [3, 4], [5, 6]])
    assert d.classes == ("bad", "ok") and list(d.y_train) == [1, 0, 1] and list(d.y_test) == [0]
    d2 = ds.load_csv(p, label_column="label", test_path=q)
    np.testing.assert_array_equal(d2.x_test, [[7, 8]])
    p.write_text("1,2,0\n3,x,1\n")
    with pytest.raises(DataFormatError, match=r"train.csv: line 2 has non-numeric feature 'x'"):
        ds.load_csv(p, test_path=q)
    p.write_text("1,2,0\n3,1\n")
    with pytest.raises(DataFormatError, match="line 2 has 2 columns; expected 3"):
        ds.load_csv(p)
    with pytest.raises(DatasetNotFoundError, match="missing.csv' does not exist"):
        ds.load_csv(tmp_path / "missing.csv")


def test_digits_fixed_stratified_split():
    d = load("digits")
    assert d.x_train.shape == (898, 8, 8, 1) and d.x_test.shape == (899, 8, 8, 1)
    assert d.x_train.dtype == np.float32 and 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert np.abs(d.class_counts() - d.class_counts("test")).max() <= 1
    np.testing.assert_array_equal(load("digits").y_train, d.y_train)  # deterministic
    assert set(np.unique(d.x_train * 16)) <= set(range(17))


def test_gtsrb_from_npy_files(tmp_path):
    rng = np.random.default_rng(0)
    stop = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    adv = rng.uniform(0, 255, (8, 3, 32, 32)).astype(np.float32)  # NCHW on the 0..255 scale, as published
    lab = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    d = tmp_path / "gtsrb"
    d.mkdir()
    with pytest.raises(DatasetNotFoundError) as e:
        load("gtsrb", data_dir=tmp_path)
    assert "Images_150.npy" in str(e.value) and "Labels_150.npy" in str(e.value) and "stop_signs.npy" in str(e.value)
    np.save(d / "Images_150.npy", adv)
    with pytest.raises(DatasetNotFoundError, match="lacks Labels_150.npy, stop_signs.npy"):
        load("gtsrb", data_dir=tmp_path)
    np.save(d / "Labels_150.npy", lab)
    np.save(d / "stop_signs.npy", stop)
    g = load("gtsrb", data_dir=tmp_path, n_test_normal=10)
    assert g.x_train.shape == (20, 32, 32, 3) and g.x_test.shape == (14, 32, 32, 3)
    assert list(g.class_counts()) == [20, 0] and list(g.class_counts("test")) == [10, 4]
    perm = np.random.RandomState(0).permutation(30)
    np.testing.assert_allclose(g.x_train, stop[perm[10:]] / 255.0, atol=1e-7)
    np.testing.assert_allclose(g.x_test[10:], adv[lab == 1].transpose(0, 2, 3, 1) / 255.0, rtol=1e-6)
    np.save(d / "Labels_150.npy", lab[:5])
    with pytest.raises(DataFormatError, match="holds 8 images but .*Labels_150.npy' 5 labels"):
        load("gtsrb", data_dir=tmp_path)


# ----------------------------------------------------------------------------------------------------------------
# Registry and TFDS


def test_registry_names_and_bad_arguments(tmp_path):
    assert registry.canonical_name("Fashion-MNIST") == "fashion_mnist"
    assert registry.canonical_name("emnist/digits") == "emnist_digits"
    with pytest.raises(DatasetError, match="unknown data set 'svhn'"):
        load("svhn")
    with pytest.raises(DatasetError, match="source='ftp'"):
        load("mnist", source="ftp")
    with pytest.raises(DatasetError, match="source='tfds' is not available for 'digits'"):
        load("digits", source="tfds")


def test_to_unit():
    x = np.array([0, 128, 255], np.uint8)
    np.testing.assert_allclose(to_unit(x), [0, 128 / 255, 1], rtol=1e-7)
    assert to_unit(x).dtype == np.float32


def test_tfds_not_installed_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails as if not installed
    with pytest.raises(TFDSUnavailableError) as e:
        load("mnist", source="tfds")
    assert "tensorflow-datasets" in str(e.value) and "ocnn_jax[tfds]" in str(e.value)
    assert isinstance(e.value, ImportError)


def _fake_tfds(n_train=12, n_test=5, fail=False):
    mod = types.ModuleType("tensorflow_datasets")
    rng = np.random.default_rng(0)
    data = {s: [{"image": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), "label": i % 10} for i in range(n)]
            for s, n in (("train", n_train), ("test", n_test))}

    def data_source(name, split, data_dir=None, download=False):
        if fail:
            raise ConnectionError("no network")
        assert name == "mnist"
        return data[split]

    def load(*a, **k):
        raise ImportError("tensorflow is not installed")

    mod.data_source, mod.load, mod.as_numpy = data_source, load, lambda x: x
    return mod, data


def test_tfds_adapter_with_fake_module(monkeypatch):
    mod, data = _fake_tfds()
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", mod)
    got = load("mnist", source="tfds")
    assert got.source == "tfds:mnist" and got.x_train.shape == (12, 28, 28, 1)
    np.testing.assert_array_equal(got.x_test[3], data["test"][3]["image"])
    np.testing.assert_array_equal(got.y_train, [r["label"] for r in data["train"]])
    # "auto" with no local files falls back to TFDS when it is installed
    monkeypatch.setattr(registry, "tfds_available", lambda: True)
    assert load("mnist").source == "tfds:mnist"


def test_tfds_offline_message(monkeypatch):
    mod, _ = _fake_tfds(fail=True)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", mod)
    with pytest.raises(TFDSUnavailableError) as e:
        load("mnist", source="tfds")
    msg = str(e.value)
    assert "'mnist' split 'train'" in msg and "ConnectionError: no network" in msg and "offline" in msg


def test_tfds_mock_data_if_installed():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=7):
        got = ds.load_tfds("mnist", tuple(str(k) for k in range(10)))
    assert got.x_train.shape[1:] == (28, 28, 1) and len(got.x_train) == 7


def test_gzip_member_names_irrelevant(tmp_path):
    """A gzip file without .gz in its name is still recognised by its magic bytes."""
    raw = tmp_path / "plain"
    write_idx(raw, np.arange(6, dtype=np.uint8).reshape(2, 3), compress=False)
    gz = tmp_path / "compressed-no-suffix"
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    np.testing.assert_array_equal(read_idx(gz), read_idx(raw))


def test_gtsrb_official_training_folder(tmp_path):
    from PIL import Image

    d = tmp_path / "Final_Training" / "Images" / "00014"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i in range(5):
        a = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
        Image.fromarray(a).save(d / f"00000_{i:05d}.ppm")
        lines.append(f"00000_{i:05d}.ppm;44;40;4;3;40;37;14")
    (d / "GT-00014.csv").write_text("\n".join(lines) + "\n")
    np.save(tmp_path / "Images_150.npy", rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    np.save(tmp_path / "Labels_150.npy", np.array([1, 1, 0, 1]))
    g = load("gtsrb", data_dir=tmp_path, n_test_normal=2)
    assert g.x_train.shape == (3, 32, 32, 3) and g.x_test.shape == (5, 32, 32, 3)
    assert g.x_train.dtype == np.float32 and g.x_train.max() <= 1.0
    (d / "GT-00014.csv").write_text("Name;W\n")
    with pytest.raises(DataFormatError, match="GT-00014.csv: header"):
        load("gtsrb", data_dir=tmp_path)
