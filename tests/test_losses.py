"""Pure losses, centre rule, quantiles, AUROC and the optimiser against NumPy / scikit-learn oracles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import roc_auc_score

from ocnn_jax.core import losses
from ocnn_jax.core.batching import minibatch_epoch, padded_permutation
from ocnn_jax.core.optim import init_opt_state, lr_at_epoch, make_optimizer

rng = np.random.default_rng(0)
finite = st.floats(-1e3, 1e3, allow_nan=False, width=32, allow_subnormal=False)


def test_autoencoder_loss_is_per_sample_sse_mean():
    x = rng.random((5, 4, 4, 1)).astype(np.float32)
    r = rng.random((5, 4, 4, 1)).astype(np.float32)
    oracle = np.mean(np.sum((x - r) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(losses.autoencoder_loss(jnp.asarray(r), jnp.asarray(x)), oracle, rtol=1e-6)
    np.testing.assert_allclose(losses.per_sample_sse(jnp.asarray(r), jnp.asarray(x)), np.sum((x - r) ** 2, axis=(1, 2, 3)), rtol=1e-6)


def test_one_class_and_soft_boundary_losses():
    z = rng.normal(size=(7, 3)).astype(np.float32)
    c = rng.normal(size=3).astype(np.float32)
    d = np.sum((z - c) ** 2, axis=1)
    dj = losses.squared_distance(jnp.asarray(z), jnp.asarray(c))
    np.testing.assert_allclose(dj, d, rtol=1e-6)
    np.testing.assert_allclose(losses.one_class_loss(dj), d.mean(), rtol=1e-6)
    R, nu = np.float32(1.3), np.float32(0.2)
    oracle = R**2 + np.mean(np.maximum(d - R**2, 0)) / nu
    np.testing.assert_allclose(losses.soft_boundary_loss(dj, R, nu), oracle, rtol=1e-6)


def test_soft_boundary_radius_gets_no_gradient_and_warmup_is_mean_over_nu():
    d = jnp.asarray([0.5, 2.0, 3.0], jnp.float32)
    g = jax.grad(lambda r: losses.soft_boundary_loss(d, r, jnp.float32(0.1)))(jnp.float32(1.0))
    assert g == 0.0
    np.testing.assert_allclose(losses.soft_boundary_loss(d, jnp.float32(0.0), jnp.float32(0.1)), np.mean(d) / 0.1, rtol=1e-6)


_center = jax.jit(losses.center_from_mean)


@given(arrays(np.float32, 32, elements=st.floats(-0.5, 0.5, width=32, allow_subnormal=False)))
@settings(max_examples=60, deadline=None)
def test_center_eps_rule(mean):
    eps = 0.1
    c = np.asarray(_center(jnp.asarray(mean), eps))
    expected = mean.copy()
    expected[(mean > -eps) & (mean < 0)] = -eps
    expected[(mean < eps) & (mean > 0)] = eps
    np.testing.assert_array_equal(c, expected.astype(np.float32))
    assert np.all(c[mean == 0] == 0)


_masked_quantile = jax.jit(losses.masked_quantile)


@given(arrays(np.float32, st.integers(1, 64), elements=finite), st.floats(0.0, 1.0))
@settings(max_examples=100, deadline=None)
def test_masked_quantile_matches_numpy_and_ignores_padding(values, q):
    padded = np.concatenate([values, np.full(64 - len(values), -7e3, np.float32)])  # padding below every value
    got = _masked_quantile(jnp.asarray(padded), jnp.int32(len(values)), jnp.float32(q))
    np.testing.assert_allclose(got, np.quantile(values.astype(np.float64), q), rtol=1e-5, atol=1e-3)


def test_quantile_linear_batched_axis():
    x = rng.normal(size=(4, 33)).astype(np.float32)
    np.testing.assert_allclose(losses.quantile_linear(jnp.asarray(x), 0.9), np.quantile(x, 0.9, axis=-1), rtol=1e-5)


_rank_auroc = jax.jit(losses.rank_auroc)


@given(st.integers(0, 10_000), st.booleans())
@settings(max_examples=50, deadline=None)
def test_rank_auroc_equals_sklearn_with_ties(seed, ties):
    n = 48
    r = np.random.default_rng(seed)
    labels = r.integers(0, 2, n)
    labels[0], labels[1] = 0, 1
    scores = r.integers(0, 5, n).astype(np.float32) if ties else r.normal(size=n).astype(np.float32)
    np.testing.assert_allclose(_rank_auroc(jnp.asarray(scores), jnp.asarray(labels)), roc_auc_score(labels, scores), rtol=1e-5)


def test_masked_mean():
    x = jnp.asarray(rng.normal(size=(10, 3)).astype(np.float32))
    np.testing.assert_allclose(losses.masked_mean(x, jnp.int32(6)), np.asarray(x)[:6].mean(0), rtol=1e-6)


@pytest.mark.parametrize("milestone", [1, 2, 50])
def test_lr_milestone_boundary_is_epoch_m_minus_1(milestone):
    lrs = np.asarray([lr_at_epoch(1e-4, milestone, jnp.int32(e)) for e in range(milestone + 2)])
    np.testing.assert_allclose(lrs[: milestone - 1], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(lrs[milestone - 1 :], 1e-5, rtol=1e-6)
    assert float(lr_at_epoch(1e-4, None, jnp.int32(500))) == pytest.approx(1e-4)


def test_optimizer_is_coupled_decay_adam():
    """One step equals PyTorch Adam(weight_decay): moments of g + wd·θ, not AdamW's decoupled decay."""
    theta = {"w": jnp.asarray([1.0, -2.0, 0.5])}
    g = {"w": jnp.asarray([0.1, 0.3, -0.2])}
    lr, wd = 1e-2, 0.5
    tx = make_optimizer(lr, wd)
    updates, _ = tx.update(g, init_opt_state(theta), theta)
    gt = np.asarray(g["w"]) + wd * np.asarray(theta["w"])
    m, v = 0.1 * gt, 0.001 * gt**2
    m_hat, v_hat = m / 0.1, v / 0.001
    np.testing.assert_allclose(updates["w"], -lr * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-5)
    with jax.numpy_dtype_promotion("standard"):  # optax's adamw mixes int counts and floats
        adamw, _ = optax.adamw(lr, weight_decay=wd).update(g, optax.adamw(lr, weight_decay=wd).init(theta), theta)
    assert not np.allclose(updates["w"], adamw["w"])


_perm = jax.jit(padded_permutation, static_argnums=2)


@given(st.integers(1, 50), st.integers(0, 2**31 - 1))
@settings(max_examples=50, deadline=None)
def test_padded_permutation_puts_a_permutation_of_the_valid_rows_first(n_valid, seed):
    perm = np.asarray(_perm(jax.random.key(seed), jnp.int32(n_valid), 50))
    assert sorted(perm[:n_valid].tolist()) == list(range(n_valid))
    assert sorted(perm[n_valid:].tolist()) == list(range(n_valid, 50))


def test_padded_permutation_does_not_depend_on_the_padding_length():
    key = jax.random.key(3)
    a = padded_permutation(key, jnp.int32(20), 20)
    b = padded_permutation(key, jnp.int32(20), 57)
    np.testing.assert_array_equal(a, np.asarray(b)[:20])


def test_minibatch_epoch_runs_the_full_batches_of_the_valid_rows_and_refuses_a_batch_over_the_padded_set():
    """⌊n_valid/b⌋ steps, each over b distinct valid rows; a batch larger than the padded set is a clear
    error (it used to fail deep inside the scan with an index error)."""
    seen = []

    def step(c, idx):
        seen.append(idx)  # traced once: record the shapes only
        return c + jnp.sum(idx >= 0), jnp.float32(1.0)

    carry, loss = jax.jit(lambda n: minibatch_epoch(step, jnp.int32(0), jax.random.key(0), n, 12, 4))(jnp.int32(9))
    assert int(carry) == 8 and float(loss) == 1.0  # 2 active steps of 4 rows (9 // 4), the third skipped
    assert seen[0].shape == (4,)
    with pytest.raises(ValueError, match="batch_size 16 exceeds the padded set's 12 rows"):
        minibatch_epoch(step, jnp.int32(0), jax.random.key(0), jnp.int32(9), 12, 16)
