"""The one-class protocol (docs/algorithms.md §7): split, contamination, preprocessing, per-class stack.

Synthetic and offline except the last tests, which reproduce the published GCN + min-max table from
$OCNN_SHARED_DATA and skip when it is unset.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import ocnn_jax.datasets as ds
from ocnn_jax.datasets import DatasetError, from_arrays, to_unit
from ocnn_jax.datasets.preprocess import gcn_l1
from ocnn_jax.datasets.protocol import (
    contamination_count,
    minmax_table,
    one_class_split,
    one_class_stack,
    sample_contamination,
)

from data_fixtures import shared_data_dir

# docs/algorithms.md §7.2: (m_c, M_c) for classes 0..9
PUBLISHED_MNIST = [
    (-0.88266, 9.00155), (-0.66615, 20.10806), (-0.78205, 11.66510), (-0.76458, 12.89505), (-0.72539, 12.68324),
    (-0.76985, 13.10328), (-0.77842, 10.45784), (-0.71298, 12.05778), (-0.82804, 10.58154), (-0.73700, 10.69704),
]
PUBLISHED_CIFAR10 = [
    (-28.94083, 13.80296), (-6.68177, 9.15807), (-34.92446, 14.41930), (-10.59917, 11.09319), (-11.94502, 10.62805),
    (-9.69197, 8.94833), (-9.17494, 13.84701), (-6.87668, 12.28237), (-15.60351, 15.24649), (-6.13288, 8.04610),
]


@pytest.fixture(scope="module")
def images():
    """3 classes of 8x8x3 uint8 images, unequal sizes, official-style train/test."""
    rng = np.random.default_rng(0)
    y_tr = np.repeat([0, 1, 2], [40, 25, 35])
    rng.shuffle(y_tr)
    y_te = np.repeat([0, 1, 2], [10, 12, 8])
    x_tr = rng.integers(0, 256, (100, 8, 8, 3), dtype=np.uint8)
    x_te = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    return from_arrays(x_tr, y_tr, x_te, y_te, name="toy", classes=("a", "b", "c"))


def test_no_anomaly_in_training_without_contamination(images):
    for c in range(3):
        s = one_class_split(images, c)
        assert not s.train_is_anomaly.any()
        np.testing.assert_array_equal(images.y_train[s.train_index], c)
        np.testing.assert_array_equal(s.train_index, np.flatnonzero(images.y_train == c))  # official order
        np.testing.assert_array_equal(s.y_test, (images.y_test != c).astype(np.int32))
        assert s.x_test.shape == (30, 8, 8, 3) and s.x_train.dtype == s.x_test.dtype == np.float32


@pytest.mark.parametrize("rho", [0.01, 0.1, 0.25, 0.5])
def test_contamination_exact_fraction(images, rho):
    c = 0
    n_norm = 40
    s = one_class_split(images, c, contamination=rho, key_or_seed=7)
    m = int(np.floor(rho * n_norm / (1 - rho) + 0.5))
    assert s.train_is_anomaly.sum() == m == contamination_count(n_norm, rho)
    assert (~s.train_is_anomaly).sum() == n_norm and len(s.x_train) == n_norm + m
    if m:
        assert abs(m / (n_norm + m) - rho) <= 0.5 / (n_norm + m) + 1e-12
    extra = s.train_index[s.train_is_anomaly]
    assert np.all(images.y_train[extra] != c)
    assert len(np.unique(s.train_index)) == len(s.train_index)  # without replacement
    np.testing.assert_array_equal(images.y_train[s.train_index] != c, s.train_is_anomaly)
    np.testing.assert_array_equal(s.y_test, (images.y_test != c).astype(np.int32))  # test set unchanged
    clean = one_class_split(images, c)
    assert s.affine.shift == clean.affine.shift and s.affine.inv_scale == clean.affine.inv_scale


def test_contamination_seeded_and_jax_keys(images):
    a = sample_contamination(images.y_train, 1, 0.2, 3)
    np.testing.assert_array_equal(a, sample_contamination(images.y_train, 1, 0.2, 3))
    assert not np.array_equal(np.sort(a), np.sort(sample_contamination(images.y_train, 1, 0.2, 4)))
    k = jax.random.key(5)
    np.testing.assert_array_equal(
        one_class_split(images, 1, contamination=0.2, key_or_seed=k).train_index,
        one_class_split(images, 1, contamination=0.2, key_or_seed=jax.random.key_data(k)).train_index,
    )
    assert contamination_count(5923, 0.1) == 658 and contamination_count(5923, 0.01) == 60


def test_contamination_errors(images):
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(DatasetError, match="contamination=.*expected a fraction in \\[0, 1\\)"):
            one_class_split(images, 0, contamination=bad)
    with pytest.raises(DatasetError, match="needs 360 anomalies for 40 normal rows of class 0, but the training split has only 60"):
        one_class_split(images, 0, contamination=0.9)
    only_one = from_arrays(np.zeros((4, 2, 2, 1), np.uint8), [0] * 4, np.zeros((2, 2, 2, 1), np.uint8), [0, 1],
                           classes=("stop", "adv"))
    with pytest.raises(DatasetError, match="has only 0 rows of other classes"):
        one_class_split(only_one, "stop", contamination=0.2)
    with pytest.raises(DatasetError, match="class 'zzz' is not one of"):
        one_class_split(images, "zzz")
    with pytest.raises(DatasetError, match="preprocessing='fancy'"):
        one_class_split(images, 0, preprocessing="fancy")


def test_gcn_minmax_constants_from_normal_training_rows_only(images):
    s = one_class_split(images, "b", contamination=0.2, key_or_seed=1)
    normal = s.x_train[~s.train_is_anomaly]
    assert normal.min() == pytest.approx(0.0, abs=1e-6) and normal.max() == pytest.approx(1.0, abs=1e-6)
    g = gcn_l1(images.x_train[images.y_train == 1])
    assert float(s.affine.shift) == pytest.approx(float(g.min()), abs=1e-6)
    assert float(s.affine.inv_scale) == pytest.approx(1.0 / (float(g.max()) - float(g.min())), rel=1e-6)
    # the returned Affine maps [0, 1]-scaled raw data to the returned arrays (same GCN code path)
    np.testing.assert_allclose(s.affine(to_unit(images.x_test)), s.x_test, atol=2e-5)


def test_gcn_is_scale_invariant_mean_abs_one(images):
    x = to_unit(images.x_train)
    np.testing.assert_allclose(gcn_l1(x), gcn_l1(images.x_train), atol=1e-6)
    flat = gcn_l1(images.x_train).reshape(100, -1).astype(np.float64)
    np.testing.assert_allclose(flat.mean(1), 0, atol=1e-6)
    np.testing.assert_allclose(np.abs(flat).mean(1), 1, atol=1e-6)  # mean, not sum, of |x|
    assert not gcn_l1(np.full((2, 3, 3, 1), 7, np.uint8)).any()  # constant image -> zeros


def test_unit_minmax_and_standardize(images):
    u = one_class_split(images, 2, preprocessing="unit")
    np.testing.assert_array_equal(u.x_train, to_unit(images.x_train[images.y_train == 2]))
    np.testing.assert_array_equal(one_class_split(images, 2, preprocessing="none").x_test, u.x_test)
    m = one_class_split(images, 2, preprocessing="minmax")
    assert m.x_train.min() == 0.0 and m.x_train.max() == pytest.approx(1.0)
    st = one_class_split(images, 2, preprocessing="standardize")
    np.testing.assert_allclose(st.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(st.x_train.std(0), 1, atol=1e-4)
    rng = np.random.default_rng(1)
    tab = from_arrays(rng.normal(3, 2, (60, 4)), np.arange(60) % 2, rng.normal(3, 2, (10, 4)), np.arange(10) % 2)
    t = one_class_split(tab, 1)  # "auto" standardises tabular data
    assert t.affine.base == "none" and t.affine.shift.shape == (4,)
    np.testing.assert_allclose(t.x_train.mean(0), 0, atol=1e-5)


def test_stack_matches_per_class_splits(images):
    seeds = [11, 12, 13, 14]
    classes = [0, 1, 2, "b"]
    stk = one_class_stack(images, classes, contamination=0.1, key_or_seed=seeds, pad_multiple=8)
    assert stk.x.shape[0] == 4 and stk.x.shape[1] % 8 == 0 and stk.x.shape[2:] == (8, 8, 3)
    for k, (c, sd) in enumerate(zip(classes, seeds)):
        ref = one_class_split(images, c, contamination=0.1, key_or_seed=sd)
        n = int(stk.n[k])
        assert n == len(ref.x_train)
        np.testing.assert_array_equal(stk.x[k, :n], ref.x_train)
        assert not stk.x[k, n:].any() and (stk.train_index[k, n:] == -1).all()
        np.testing.assert_array_equal(stk.train_index[k, :n], ref.train_index)
        np.testing.assert_array_equal(stk.y_test[k], ref.y_test)
        np.testing.assert_allclose(stk.test_x(k), ref.x_test, rtol=1e-6, atol=1e-6)
        sp = stk.split(k)
        assert sp.affine.shift == ref.affine.shift and sp.normal_class == ref.normal_class
    np.testing.assert_array_equal(stk.y_test_class, images.y_test)


def test_stack_defaults_and_single_key(images):
    stk = one_class_stack(images)
    np.testing.assert_array_equal(stk.normal_class, [0, 1, 2])
    np.testing.assert_array_equal(stk.n, [40, 25, 35])
    assert stk.shift.shape == (3,) and stk.base == "gcn_l1"
    a = one_class_stack(images, [0, 0], contamination=0.3, key_or_seed=jax.random.key(0))
    assert not np.array_equal(a.train_index[0], a.train_index[1])  # one key, spawned per entry
    b = one_class_stack(images, [0, 0], contamination=0.3, key_or_seed=jax.random.split(jax.random.key(0), 2))
    assert b.x.shape == a.x.shape
    with pytest.raises(DatasetError, match="got 3 seeds/keys for 2 entries"):
        one_class_stack(images, [0, 1], key_or_seed=[1, 2, 3])


def test_digits_split_end_to_end():
    d = ds.load_digits()
    s = one_class_split(d, 3, contamination=0.1, key_or_seed=0)
    assert s.x_train.shape[1:] == (8, 8, 1) and len(s.x_test) == 899
    assert s.y_test.sum() == 899 - int((d.y_test == 3).sum())


# ------------------------------------------------------------------------------------------------------------------
# The published constants table, recomputed from the real data (skips without $OCNN_SHARED_DATA)


def _shared():
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data directory absent (set OCNN_SHARED_DATA to a folder holding mnist/ and cifar10/)")
    return root


def _check_table(got: np.ndarray, published: list[tuple[float, float]], name: str) -> None:
    pub = np.array(published)
    print(f"\n{name}: class, recomputed (m, M), published (m, M)")
    for c in range(10):
        print(f"  {c}  {got[c, 0]:+.5f} {got[c, 1]:.5f}   {pub[c, 0]:+.5f} {pub[c, 1]:.5f}")
    # 5 printed decimals (half a unit: 5e-6) plus float32 rounding of the stored result
    np.testing.assert_allclose(got, pub, atol=5e-6 + 4e-6, rtol=0)


def test_published_mnist_constants():
    m = ds.load("mnist", data_dir=_shared() / "mnist")
    _check_table(minmax_table(m), PUBLISHED_MNIST, "MNIST")


def test_published_cifar10_constants():
    c = ds.load("cifar10", data_dir=_shared() / "cifar10")
    _check_table(minmax_table(c), PUBLISHED_CIFAR10, "CIFAR-10")


# ---------------------------------------------------------------------------------------------------------------
# fit shares the protocol's preprocessing and contamination path


@pytest.mark.parametrize("rho, preprocessing", [(0.0, "none"), (0.25, "gcn_minmax"), (0.25, "standardize")])
def test_fit_uses_the_protocol_rows_and_transform(rho, preprocessing):
    """fit(contamination=ρ) trains each class on exactly the rows and preprocessed values of
    one_class_stack(contamination=ρ, key_or_seed=0) (float pixels, so both paths see the same input)."""
    import ocnn_jax

    r = np.random.default_rng(3)
    x = r.random((60, 6, 6, 1)).astype(np.float32)
    y = np.repeat(np.arange(3), 20)
    data = from_arrays(x, y, x[:9], y[:9], name="toy")
    stack = one_class_stack(data, [0, 2], contamination=rho, key_or_seed=0, preprocessing=preprocessing)
    model = ocnn_jax.fit(x, y, method="isoforest", normal_classes=[0, 2], seeds=1, contamination=rho,
                         preprocessing=preprocessing, progress=False)
    for k in range(2):
        n = int(stack.n[k])
        np.testing.assert_array_equal(model.train_data[k], stack.x[k, :n].reshape(n, -1))
        assert n == 20 + round(rho * 20 / (1 - rho))


def test_fit_contamination_needs_labels_and_a_fraction():
    import ocnn_jax

    x = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="contamination needs y"):
        ocnn_jax.fit(x, method="isoforest", contamination=0.1, progress=False)
    with pytest.raises(ValueError, match=r"contamination must be a fraction in \[0, 1\)"):
        ocnn_jax.fit(x, np.repeat([0, 1], 10), method="isoforest", contamination=1.0, progress=False)
