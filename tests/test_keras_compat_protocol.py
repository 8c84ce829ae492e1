"""protocol="keras_compat": the Keras oc-nn repository's transductive sets (docs/algorithms.md §9).

Label arrays only (synthetic, with the official per-class MNIST and CIFAR-10 counts) plus tiny
pixel arrays; no real data is read.
"""

from __future__ import annotations

import numpy as np
import pytest

from ocnn_jax.datasets import DatasetError, from_arrays
from ocnn_jax.datasets.keras_compat import keras_compat_rows, keras_compat_set, keras_fit_rows
from ocnn_jax.datasets.protocol import one_class_split

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# "Train on A samples, validate on B samples" as printed by the repository's RCAE/DCAE MNIST
# notebooks (validation_split=0.1 on the transductive set), digits 0..9.
NOTEBOOK_RCAE_FIT = [(5377, 598), (6138, 683), (5450, 606), (5562, 619), (5318, 591),
                     (4917, 547), (5353, 595), (5679, 632), (5317, 591), (5423, 603)]


def _labels(counts, seed):
    y = np.repeat(np.arange(10), counts).astype(np.int32)
    np.random.default_rng(seed).shuffle(y)
    return y


@pytest.fixture(scope="module")
def mnist_labels():
    return _labels(MNIST_TRAIN, 0), _labels(MNIST_TEST, 1)


@pytest.mark.parametrize("digit", range(10))
def test_mnist_counts_match_the_notebooks(mnist_labels, digit):
    y_tr, y_te = mnist_labels
    r = keras_compat_rows("mnist", y_tr, y_te, digit, 42)
    n = r.y.size
    fit = keras_fit_rows(n, 0.1)
    assert (fit, n - fit) == NOTEBOOK_RCAE_FIT[digit]
    n_norm = (MNIST_TRAIN[digit] - MNIST_TRAIN[digit] // 6) + MNIST_TEST[digit]
    assert np.count_nonzero(r.y == 0) == n_norm and np.count_nonzero(r.y) == n_norm // 100
    # normals first, anomalies at the tail; labels agree with the source rows
    assert not r.y[:n_norm].any() and r.y[n_norm:].all()
    src = np.concatenate([y_tr, y_te])[np.where(r.split == 0, r.index, r.index + y_tr.size)]
    np.testing.assert_array_equal(src != digit, r.y.astype(bool))
    assert np.unique(np.stack([r.split, r.index]), axis=1).shape[1] == n  # no row twice


def test_mnist_digit0_composition(mnist_labels):
    y_tr, y_te = mnist_labels
    r = keras_compat_rows("mnist", y_tr, y_te, 0, 42)
    assert r.y.size == 5975
    # 4936 loader-train normals + all 980 test normals; 50 loader-train outliers + 9 test outliers
    assert np.count_nonzero((r.split == 0) & (r.y == 0)) == 4936
    assert np.count_nonzero((r.split == 1) & (r.y == 0)) == 980
    assert np.count_nonzero((r.split == 0) & (r.y == 1)) == 50
    assert np.count_nonzero((r.split == 1) & (r.y == 1)) == 9
    # the loader's training array (Deep SVDD and AE pretraining): 4936 normals + 50 outliers, shuffled
    assert r.loader_y.size == 4986 and r.loader_y.sum() == 50 and r.loader_y[-50:].sum() < 50
    assert set(r.index[(r.split == 0)]) == set(r.loader_index)
    # OC-NN's validation_split=0.01 holds out the last 60 rows: all 59 anomalies and one normal
    assert keras_fit_rows(5975, 0.01) == 5915 and r.y[:5915].sum() == 0
    # deterministic per seed, different across seeds
    again = keras_compat_rows("mnist", y_tr, y_te, 0, 42)
    np.testing.assert_array_equal(again.index, r.index)
    other = keras_compat_rows("mnist", y_tr, y_te, 0, 56)
    assert not np.array_equal(other.index, r.index)


def test_cifar_counts_and_gcn():
    y_tr = np.repeat(np.arange(10), 50).astype(np.int32)
    y_te = np.repeat(np.arange(10), 10).astype(np.int32)
    r = keras_compat_rows("cifar10", np.repeat(np.arange(10), 5000), np.repeat(np.arange(10), 1000), 3, 42)
    assert r.y.size == 6500 and r.y.sum() == 500 and not r.y[:6000].any()
    assert np.count_nonzero(r.split[:6000] == 1) == 1000  # train + test concatenated
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (500, 4, 4, 3), dtype=np.uint8)
    x_te = rng.integers(0, 256, (100, 4, 4, 3), dtype=np.uint8)
    ds = from_arrays(x_tr, y_tr, x_te, y_te, name="cifar10", classes=[str(i) for i in range(10)])
    plain = keras_compat_set(ds, 0, 42)  # class 0: raw /255 pixels
    assert plain.x.shape == (560, 4, 4, 3) and plain.y.sum() == 500
    first = plain.rows.index[0]
    np.testing.assert_allclose(plain.x[0], x_tr[first] / 255.0, rtol=1e-6)
    gcn = keras_compat_set(ds, 1, 42)  # class 1: l2 GCN per image
    flat = gcn.x.reshape(len(gcn.x), -1).astype(np.float64)
    np.testing.assert_allclose(flat.mean(1), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(flat, axis=1), 1.0, rtol=1e-5)


def test_one_class_split_protocol(mnist_labels):
    rng = np.random.default_rng(0)
    y_tr = np.repeat(np.arange(10), 30).astype(np.int32)
    y_te = np.repeat(np.arange(10), 20).astype(np.int32)
    x_tr = rng.integers(0, 256, (300, 28, 28, 1), dtype=np.uint8)
    x_te = rng.integers(0, 256, (200, 28, 28, 1), dtype=np.uint8)
    ds = from_arrays(x_tr, y_tr, x_te, y_te, name="mnist", classes=[str(i) for i in range(10)])
    s = one_class_split(ds, 2, key_or_seed=42, protocol="keras_compat")
    assert s.x_train is s.x_test and s.y_test.sum() == s.train_is_anomaly.sum() == 0  # 45 normals -> int(0.45) = 0
    x_all = np.concatenate([x_tr, x_te])
    np.testing.assert_allclose(s.x_train, x_all[s.train_index] / 255.0, rtol=1e-6)
    with pytest.raises(DatasetError, match="protocol"):
        one_class_split(ds, 2, protocol="transductive")
    with pytest.raises(DatasetError, match="contamination"):
        one_class_split(ds, 2, key_or_seed=42, protocol="keras_compat", contamination=0.1)
    with pytest.raises(DatasetError, match="seed"):
        one_class_split(ds, 2, key_or_seed=-1, protocol="keras_compat")
    toy = from_arrays(x_tr, y_tr, x_te, y_te, name="toy", classes=[str(i) for i in range(10)])
    with pytest.raises(DatasetError, match="supports datasets"):
        one_class_split(toy, 2, key_or_seed=42, protocol="keras_compat")
