"""ocnn_jax.methods.keras_compat without Keras: NumPy oracles for its optimiser and losses, and the
networks' shapes (``jax.eval_shape``, nothing compiled). The Keras comparison itself is
tests/test_keras_original_equivalence.py (skipped without TensorFlow)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ocnn_jax.methods.keras_compat import (KerasCompatConfig, centre_eps, keras_adam, keras_bce, ocnn_repo_loss,
                                           soft_threshold, svdd_repo_loss)
from ocnn_jax.nn.keras_compat import (CAE_DECODER, CAE_ENCODER, OCNN_HEAD, RCAE_AE, SVDD_HEAD, KerasAE, KerasHeadNet,
                                      KerasStack, keras_layer_order, variables_from_keras_weights)

from data_fixtures import tiny_rcae_sweep


def test_keras_adam_two_steps_match_numpy():
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    rng = np.random.default_rng(0)
    p = rng.normal(size=5).astype(np.float32)
    grads = rng.normal(size=(2, 5)).astype(np.float32) * 1e-3
    opt = keras_adam(lr, b1, b2, eps)
    state, q = opt.init(jnp.asarray(p)), jnp.asarray(p)
    m = v = np.zeros(5)
    want = p.astype(np.float64)
    for t, g in enumerate(grads, 1):
        upd, state = opt.update(jnp.asarray(g), state)
        q = q + upd
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        want = want - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(np.asarray(q), want, rtol=1e-6, atol=1e-9)


def test_losses_match_numpy():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(6, 4)).astype(np.float32)
    c = rng.normal(size=4).astype(np.float32)
    want = np.mean(0.01 + np.maximum(0.0, (y - c) ** 2 - 0.01).sum(1)) / 0.2
    np.testing.assert_allclose(float(ocnn_repo_loss(jnp.asarray(y), jnp.asarray(c), 0.1, 0.2)), want, rtol=1e-6)
    np.testing.assert_allclose(float(svdd_repo_loss(jnp.asarray(y), jnp.asarray(c))), ((y - c) ** 2).sum(1).mean(), rtol=1e-6)
    p = np.array([0.0, 0.3, 1.0], np.float32)
    t = np.array([0.0, 1.0, 1.0], np.float32)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(float(keras_bce(jnp.asarray(p), jnp.asarray(t))),
                               -np.mean(t * np.log(pc) + (1 - t) * np.log(1 - pc)), rtol=1e-6)
    np.testing.assert_array_equal(centre_eps(np.array([0.05, -0.02, 0.0, 0.3, -0.5])), np.float32([0.1, -0.1, 0.0, 0.3, -0.5]))
    np.testing.assert_allclose(soft_threshold(np.array([-1.0, 0.2, 0.7]), 1.0), [-0.5, 0.0, 0.2])
    np.testing.assert_array_equal(soft_threshold(np.array([-1.0, 0.2]), 0.0), [-1.0, 0.2])


@pytest.mark.parametrize("ds,shape,code", [("mnist", (28, 28, 1), (2, 2, 8)), ("cifar10", (32, 32, 3), (2, 2, 32))])
def test_network_shapes(ds, shape, code):
    x = jax.ShapeDtypeStruct((2,) + shape, jnp.float32)
    key = jax.random.key(0)
    ae = KerasAE(CAE_ENCODER[ds], CAE_DECODER[ds])
    v = jax.eval_shape(lambda: ae.init(key, jnp.zeros((2,) + shape), False))
    assert jax.eval_shape(lambda vv, xx: ae.apply(vv, xx, False), v, x).shape == (2,) + shape
    assert jax.eval_shape(lambda vv, xx: ae.apply(vv, xx, False, method=ae.encode), v, x).shape == (2,) + code
    h = 32 if ds == "mnist" else 128
    for head, width in ((OCNN_HEAD, 32), (SVDD_HEAD[ds], h)):
        net = KerasHeadNet(CAE_ENCODER[ds], head)
        nv = jax.eval_shape(lambda: net.init(key, jnp.zeros((2,) + shape), False))
        assert jax.eval_shape(lambda vv, xx: net.apply(vv, xx, False), nv, x).shape == (2, width)
    rc = KerasStack(RCAE_AE[ds])
    rv = jax.eval_shape(lambda: rc.init(key, jnp.zeros((2,) + shape), False))
    assert jax.eval_shape(lambda vv, xx: rc.apply(vv, xx, False), rv, x).shape == (2,) + shape
    # the Keras weight lists map one to one onto the Flax variables
    order = keras_layer_order(RCAE_AE[ds])
    def arrays(n, k):
        p = rv["params"][n]
        if k == "bn":
            s = rv["batch_stats"][n]
            return [np.zeros(a.shape, np.float32) for a in (p["scale"], p["bias"], s["mean"], s["var"])]
        return [np.zeros(p["kernel"].shape, np.float32)] + ([np.zeros(p["bias"].shape, np.float32)] if "bias" in p else [])

    weights = [arrays(n, k) for n, k in order]
    params, stats = variables_from_keras_weights(RCAE_AE[ds], weights)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(lambda a: a.shape, rv["params"])
    assert jax.tree.map(jnp.shape, stats) == jax.tree.map(lambda a: a.shape, rv["batch_stats"])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="ae_epochs"):
        KerasCompatConfig(ae_epochs=-1)
    with pytest.raises(ValueError, match="rcae_lambdas"):
        KerasCompatConfig(rcae_lambdas=())


def test_keras_pool_and_conv_equal_flax_ops_under_jit():
    """The fast layers compute what flax's nn.max_pool / nn.Conv compute, gradients included, under jit and
    after a BatchNorm-like producer: the case where a −∞-padded fast pool once lost window gradients."""
    import flax.linen as nn

    from ocnn_jax.nn.keras_compat import KerasConv, keras_max_pool

    x = jax.random.normal(jax.random.key(0), (16, 7, 7, 3))
    w = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))

    def producer(w, x):
        z = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return (z - z.mean(axis=(0, 1, 2), keepdims=True)) / jnp.sqrt(z.var(axis=(0, 1, 2), keepdims=True) + 1e-3)

    for size, padding in ((7, "same"), (6, "same"), (7, "valid"), (6, "valid")):
        xs = x[:, :size, :size]
        ours = lambda w: jnp.sum(jnp.sin(keras_max_pool(producer(w, xs), padding)))  # noqa: E731
        ref = lambda w: jnp.sum(jnp.sin(nn.max_pool(producer(w, xs), (2, 2), strides=(2, 2),  # noqa: E731
                                                    padding=padding.upper())))
        np.testing.assert_allclose(float(jax.jit(ours)(w)), float(ref(w)), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(ours))(w)), np.asarray(jax.grad(ref)(w)),
                                   rtol=1e-4, atol=1e-5)
    for k, padding, bias in ((3, "same", False), (5, "same", True), (3, "valid", True)):
        ours, ref = KerasConv(4, k, padding, bias), nn.Conv(4, (k, k), padding=padding.upper(), use_bias=bias,
                                                           kernel_init=nn.initializers.glorot_uniform())
        v, v_ref = ours.init(jax.random.key(2), x), ref.init(jax.random.key(2), x)
        assert jax.tree.map(jnp.shape, v) == jax.tree.map(jnp.shape, v_ref)
        np.testing.assert_array_equal(np.asarray(v["params"]["kernel"]), np.asarray(v_ref["params"]["kernel"]))
        f = lambda m: (lambda v: jnp.sum(jnp.sin(m.apply(v, x))))  # noqa: E731
        np.testing.assert_allclose(float(jax.jit(f(ours))(v)), float(f(ref)(v)), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(jax.jit(jax.grad(f(ours)))(v)), jax.tree.leaves(jax.grad(f(ref))(v))):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ds", ["mnist", "cifar10"])
def test_fused_upsample_conv_equals_the_two_step_decoder(ds):
    """KerasStack runs "up, conv" as one sub-pixel conv on the small map: same parameters, same outputs and
    gradients as upsampling then convolving (the Keras layer order), for the CAE and the RCAE networks."""
    for spec, shape in ((CAE_DECODER[ds], (4, 2, 2, 8 if ds == "mnist" else 32)),
                        (RCAE_AE[ds], (4, 28, 28, 1) if ds == "mnist" else (4, 32, 32, 3))):
        x = jax.random.uniform(jax.random.key(0), shape)
        fused, plain = KerasStack(spec), KerasStack(spec, fuse_upsample=False)
        v = fused.init(jax.random.key(1), x, False)
        assert jax.tree.map(jnp.shape, v) == jax.tree.map(jnp.shape, plain.init(jax.random.key(1), x, False))

        def loss(m):
            def f(params):
                out, _ = m.apply({"params": params, "batch_stats": v["batch_stats"]}, x, True, mutable=["batch_stats"])
                return jnp.sum(jnp.sin(3 * out)), out
            return jax.jit(jax.value_and_grad(f, has_aux=True))

        (l_f, out_f), g_f = loss(fused)(v["params"])
        (l_p, out_p), g_p = loss(plain)(v["params"])
        np.testing.assert_allclose(np.asarray(out_f), np.asarray(out_p), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(float(l_f), float(l_p), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(g_f), jax.tree.leaves(g_p)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4 * float(np.abs(b).max()))
    if ds != "mnist":
        return
    # The MNIST CAE's last stage (14x14x16 -> up -> 28x28 conv to 1 channel) never builds the 28x28x16 map.
    spec, x = CAE_DECODER["mnist"], jnp.zeros((4, 2, 2, 8))
    v = KerasStack(spec).init(jax.random.key(1), x, False)
    hlo = {fuse: jax.jit(lambda p, m=KerasStack(spec, fuse_upsample=fuse): m.apply(
        {"params": p, "batch_stats": v["batch_stats"]}, x, False)).lower(v["params"]).as_text() for fuse in (True, False)}
    assert "4x28x28x16" in hlo[False] and "4x28x28x16" not in hlo[True]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("bad", [0, 3, -1, True, 1.0, "1"])
def test_stage_count_refuses_what_is_not_a_number_of_stages_of_the_sweep(bad):
    from ocnn_jax.methods.keras_compat import stage_count

    with pytest.raises(ValueError, match=r"stages=.*expected None .* from 1 to 2"):
        stage_count(bad, (0.0, 1.0))


def test_stage_count_is_every_stage_by_default_else_the_number_asked():
    from ocnn_jax.methods.keras_compat import stage_count

    assert stage_count(None, (0.0, 0.5, 1.0, 100.0)) == 4
    assert [stage_count(k, (0.0, 0.5, 1.0, 100.0)) for k in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_rcae_sweep_resumed_after_a_stage_equals_the_uninterrupted_sweep():
    """A λ sweep stopped after its first stage and resumed from the stage record gives the same scores,
    losses and N counts as the sweep run in one go (the record is what a checkpoint file holds)."""
    from ocnn_jax.methods.keras_compat import rcae_repo

    s, cfg = tiny_rcae_sweep(0)
    key = jax.random.key(3)
    whole = rcae_repo(s, key, cfg)

    records = []

    def stop_after_first(record):
        records.append(jax.tree.map(np.asarray, record))
        raise _Stop

    with pytest.raises(_Stop):
        rcae_repo(s, key, cfg, on_stage=stop_after_first)
    assert records[0]["stages_done"] == 1 and tuple(records[0]["lambdas"]) == (0.0,)
    seen = []
    resumed = rcae_repo(s, key, cfg, resume=records[0], on_stage=lambda r: seen.append(r["stages_done"]))
    assert seen == [2]  # the first stage was not trained again
    for lam in cfg.rcae_lambdas:
        np.testing.assert_allclose(resumed["scores"][lam], whole["scores"][lam], rtol=1e-6)
        np.testing.assert_allclose(resumed["losses"][lam], whole["losses"][lam], rtol=1e-6)
        assert resumed["n_nonzero"][lam] == whole["n_nonzero"][lam]
    with pytest.raises(ValueError, match="not a prefix"):
        rcae_repo(s, key, KerasCompatConfig(rcae_epochs=1, rcae_batch=9, rcae_lambdas=(0.5, 1.0)),
                  resume=records[0])


def test_rcae_sweep_stopped_after_its_first_stage_is_the_dcae_of_the_whole_sweep():
    """``stages=1`` (the repository's "DCAE" alone) trains the whole sweep's λ = 0 stage and nothing else,
    and its last record resumes into the whole sweep with the uninterrupted result."""
    from ocnn_jax.methods.keras_compat import rcae_repo

    s, cfg = tiny_rcae_sweep(1)
    key = jax.random.key(5)
    whole = rcae_repo(s, key, cfg)
    records = []
    first = rcae_repo(s, key, cfg, stages=1, on_stage=lambda r: records.append(jax.tree.map(np.asarray, r)))
    assert list(first["scores"]) == [0.0] and [r["stages_done"] for r in records] == [1]
    np.testing.assert_allclose(first["scores"][0.0], whole["scores"][0.0], rtol=1e-6)
    assert first["n_nonzero"][0.0] == whole["n_nonzero"][0.0]
    rest = rcae_repo(s, key, cfg, resume=records[0])
    np.testing.assert_allclose(rest["scores"][1.0], whole["scores"][1.0], rtol=1e-6)
    for bad in (0, 3, True, 1.0):
        with pytest.raises(ValueError, match="stages="):
            rcae_repo(s, key, cfg, stages=bad)


def test_verbose_sweep_shows_each_stage_and_its_loss_and_computes_the_same(capsys):
    """``verbose=True`` prints each λ stage's epochs and last loss on stderr (plain lines under pytest,
    which is not a terminal) and changes nothing computed."""
    from ocnn_jax.methods.keras_compat import rcae_repo, stage_desc

    s, cfg = tiny_rcae_sweep(2)
    key = jax.random.key(1)
    quiet = rcae_repo(s, key, cfg)
    assert capsys.readouterr().err == ""
    shown = rcae_repo(s, key, cfg, verbose=True)
    err = capsys.readouterr().err.splitlines()
    for i, lam in enumerate(cfg.rcae_lambdas):
        label = stage_desc("keras_compat", i, cfg.rcae_lambdas)
        assert label == f'keras_compat "RCAE" λ={lam:g} (stage {i + 1}/2)'
        assert f"{label}: 1/1 epoch [loss={shown['losses'][lam][0]:.4g}]" in err
        np.testing.assert_array_equal(shown["scores"][lam], quiet["scores"][lam])
        assert shown["losses"][lam] == quiet["losses"][lam]
