"""The training engine: one run = one pure function; vmapped sweep == runs one at a time; padding
never leaks; centre, BN statistics and the soft-boundary radius follow docs/algorithms.md §3."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ocnn_jax.methods.ae_training import apply_eval, apply_train
from ocnn_jax.core.batching import StackedData, eval_chunking, run_map, stack_classes
from ocnn_jax.core.config import OptimConfig
from ocnn_jax.methods import DeepSVDDConfig
from ocnn_jax.methods.deep_svdd import make_deep_svdd
from ocnn_jax.engine import chunk_size, execute
from ocnn_jax.core.losses import center_from_mean
from ocnn_jax.nn import make_backbone
from ocnn_jax.core.program import RunSpec, run_program

D = 12
BACKBONE = make_backbone("mlp", (D,), rep_dim=4, hidden=(16,))


def _cfg(objective="one-class", epochs=4, pretrain_epochs=3, batch=8, warmup=1):
    return DeepSVDDConfig(
        objective=objective,
        nu=0.2,
        train=OptimConfig(lr=1e-3, lr_milestone=3, weight_decay=1e-4, batch_size=batch, epochs=epochs),
        pretrain=None if pretrain_epochs is None else OptimConfig(1e-3, 2, 1e-4, batch, pretrain_epochs),
        warmup_epochs=warmup,
        score_batch_size=16,
    )


def _classes(sizes, seed=0):
    r = np.random.default_rng(seed)
    return [r.random((n, D)).astype(np.float32) * (0.5 + 0.1 * i) for i, n in enumerate(sizes)]


def _program(cfg, data):
    n_chunks, _ = eval_chunking(data.n_max, cfg.score_batch_size)
    return make_deep_svdd(BACKBONE, cfg, data.n_max, n_chunks)


def _runs(classes, nu=0.2):
    return RunSpec(jnp.asarray(classes, jnp.int32), jnp.full((len(classes),), nu, jnp.float32))


def _single(prog, key, run, data):
    return jax.jit(lambda k, r, d: run_program(prog, k, r, d))(key, run, data)


def _index(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def _assert_tree_close(a, b, rtol=2e-4, atol=2e-5):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol), a, b)


@pytest.mark.parametrize("objective", ["one-class", "soft-boundary"])
def test_vmapped_sweep_equals_runs_one_at_a_time(objective):
    data = stack_classes(_classes([40, 27, 33]), 16)
    cfg = _cfg(objective)
    prog = _program(cfg, data)
    cls = [0, 0, 1, 2, 2]
    keys = jax.vmap(jax.random.key)(jnp.arange(len(cls)))
    runs = _runs(cls)
    sweep = jax.jit(jax.vmap(lambda k, r, d: run_program(prog, k, r, d), in_axes=(0, 0, None)))
    state, metrics = sweep(keys, runs, data)
    for i in range(len(cls)):
        s_i, m_i = _single(prog, keys[i], _index(runs, i), data)
        _assert_tree_close(_index((state.params, state.batch_stats, state.center, state.radius), i),
                           (s_i.params, s_i.batch_stats, s_i.center, s_i.radius))
        _assert_tree_close(_index(metrics, i), m_i)
    if objective == "soft-boundary":
        assert np.all(np.asarray(state.radius) > 0)


def test_lax_map_model_axis_and_chunked_driver_match_the_pure_program():
    data = stack_classes(_classes([30, 21]), 16)
    cfg = _cfg("soft-boundary", epochs=4, pretrain_epochs=4)
    prog = _program(cfg, data)
    cls = [0, 1, 1]
    keys = jax.vmap(jax.random.key)(jnp.arange(3) + 10)
    runs = _runs(cls)
    ref_state, ref_metrics = jax.jit(jax.vmap(lambda k, r, d: run_program(prog, k, r, d), in_axes=(0, 0, None)))(keys, runs, data)
    mapped = jax.jit(run_map(lambda kr, d: run_program(prog, kr[0], kr[1], d), 1, 3))((keys, runs), data)
    _assert_tree_close(mapped[0].params, ref_state.params)
    info = [{"normal_class": c, "seed": s} for s, c in enumerate(cls)]
    for width in (None, 2):  # all runs at once, and 2 at a time (3 runs: a padded last slice); width 1 is `mapped`
        state, metrics, _ = execute(prog, keys, runs, data, width=width, run_info=info,
                                    images_per_epoch=[1, 1], progress=False, target_chunks=2)
        _assert_tree_close((state.params, state.center, state.radius), (ref_state.params, ref_state.center, ref_state.radius))
        for k, v in ref_metrics.items():
            np.testing.assert_allclose(metrics[k], np.asarray(v), rtol=2e-4, atol=2e-5)


def test_same_key_same_result_and_different_key_different_result():
    data = stack_classes(_classes([32]), 16)
    prog = _program(_cfg(), data)
    run = _index(_runs([0]), 0)
    a, _ = _single(prog, jax.random.key(1), run, data)
    b, _ = _single(prog, jax.random.key(1), run, data)
    c, _ = _single(prog, jax.random.key(2), run, data)
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a.params, b.params)
    assert not np.allclose(np.asarray(a.center), np.asarray(c.center))


@pytest.mark.parametrize("objective", ["one-class", "soft-boundary"])
def test_padding_never_leaks_into_losses_batchnorm_centre_or_quantiles(objective):
    """A small class padded next to a large one must train exactly as if it stood alone, even when the
    padding rows hold huge values: any leak into a loss, BatchNorm, the centre or R would show."""
    small, big = _classes([21, 50], seed=3)
    cfg = _cfg(objective, epochs=3, pretrain_epochs=2, batch=8, warmup=1)
    alone = stack_classes([small], 16)
    padded = stack_classes([small, big], 16)
    poisoned = StackedData(padded.x.at[0, 21:].set(1e6), padded.n)
    run = _index(_runs([0]), 0)
    key = jax.random.key(7)
    ref, ref_m = _single(_program(cfg, alone), key, run, alone)
    for data in (padded, poisoned):
        st, m = _single(_program(cfg, data), key, run, data)
        _assert_tree_close((st.params, st.batch_stats, st.center, st.radius), (ref.params, ref.batch_stats, ref.center, ref.radius))
        _assert_tree_close(m, ref_m)
        assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(st.params))


def test_centre_from_inference_pass_and_bn_statistics_copied_from_pretrained_encoder():
    data = stack_classes(_classes([37]), 16)
    cfg = _cfg(epochs=0, pretrain_epochs=3)
    prog = _program(cfg, data)
    run = _index(_runs([0]), 0)
    key = jax.random.key(0)
    ae_state = prog.init(key, run, data)
    ae_state, _ = jax.lax.scan(lambda s, e: prog.phases[0].epoch_fn(s, run, e, data), ae_state, jnp.arange(3))
    svdd = prog.transitions[0](ae_state, run, data)
    # BN running statistics come from the pretrained AE encoder (and moved away from their init).
    _assert_tree_close(svdd.batch_stats, ae_state.batch_stats["encoder"], rtol=0, atol=0)
    _assert_tree_close(svdd.params, ae_state.params["encoder"], rtol=0, atol=0)
    mean = jax.tree.leaves(svdd.batch_stats)[0]
    assert not np.allclose(np.asarray(mean), 0.0)
    # c = ±ε rule applied to the mean of the inference-mode (running-stats) representation.
    z = apply_eval(BACKBONE.encoder, svdd.params, svdd.batch_stats, data.x[0, :37])
    np.testing.assert_allclose(svdd.center, center_from_mean(z.mean(0), 0.1), rtol=1e-5, atol=1e-6)
    z_train, _ = apply_train(BACKBONE.encoder, svdd.params, svdd.batch_stats, data.x[0, :37])
    assert not np.allclose(np.asarray(z_train.mean(0)), np.asarray(z.mean(0)), atol=1e-4)  # modes differ


def test_soft_boundary_radius_is_batch_quantile_of_sqrt_distance_after_warmup():
    """With one full batch per epoch, R after the step equals q_{1-ν}(√d) of that step's forward pass
    (training-mode BN, weights before the update); during warm-up R stays 0."""
    n = 16
    data = stack_classes(_classes([n]), 16)
    cfg = _cfg("soft-boundary", epochs=3, pretrain_epochs=None, batch=n, warmup=2)
    prog = _program(cfg, data)
    run = _index(_runs([0], nu=0.25), 0)
    state = prog.init(jax.random.key(4), run, data)
    epoch = prog.phases[0].epoch_fn
    radii = []
    for e in range(3):
        before = state
        state, m = epoch(state, run, jnp.int32(e), data)
        radii.append(float(m["radius"]))
    assert radii[0] == 0.0 and radii[1] == 0.0
    z, _ = apply_train(BACKBONE.encoder, before.params, before.batch_stats, data.x[0, :n])  # batch = whole set
    d = np.sum((np.asarray(z) - np.asarray(before.center)) ** 2, axis=1)
    np.testing.assert_allclose(radii[2], np.quantile(np.sqrt(d), 1 - 0.25), rtol=1e-5)


def test_lr_milestone_applies_per_epoch_inside_the_program():
    """Adam steps in epochs ≥ m−1 are 10× smaller for the same gradients (coupled decay off)."""
    data = stack_classes(_classes([16]), 16)
    base = _cfg(epochs=3, pretrain_epochs=None, batch=16)
    cfg = dataclasses.replace(base, train=dataclasses.replace(base.train, lr_milestone=2, weight_decay=0.0))
    prog = _program(cfg, data)
    run = _index(_runs([0]), 0)
    s0 = prog.init(jax.random.key(0), run, data)
    s1, _ = prog.phases[0].epoch_fn(s0, run, jnp.int32(0), data)
    s1b, _ = prog.phases[0].epoch_fn(s0, run, jnp.int32(1), data)  # same state, epoch m-1 = 1
    d0 = jax.tree.leaves(jax.tree.map(lambda a, b: a - b, s1.params, s0.params))
    d1 = jax.tree.leaves(jax.tree.map(lambda a, b: a - b, s1b.params, s0.params))
    for a, b in zip(d0, d1):
        np.testing.assert_allclose(np.asarray(b), 0.1 * np.asarray(a), rtol=2e-3, atol=1e-9)


def test_chunk_size_divides_epochs():
    assert chunk_size(150) == 15
    assert chunk_size(7) == 1
    assert chunk_size(0 + 20, target_chunks=3) == 5
    for e in range(1, 60):
        assert e % chunk_size(e) == 0


def test_eval_chunking_covers_rows():
    for n in (1, 5, 2048, 2049, 6742):
        k, c = eval_chunking(n, 2048)
        assert k * c >= n and c <= 2048 and (k - 1) * c < n
