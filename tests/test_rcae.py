"""RCAE / DCAE (docs/algorithms.md §4): the proximal N-step against NumPy oracles (hypothesis), λ = ∞ RCAE
== DCAE bit for bit, the N-step inside the compiled run, the λ grid on the model axis, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ocnn_jax
from ocnn_jax.methods.ae_training import apply_eval
from ocnn_jax.core.batching import eval_chunking, stack_classes
from ocnn_jax.core.config import OptimConfig, with_overrides
from ocnn_jax.methods import DCAEConfig, RCAEConfig, default_config
from ocnn_jax.nn import make_backbone
from ocnn_jax.core.program import RunSpec, run_program
from ocnn_jax.core.prox import group_soft_threshold, rcae_noise, soft_threshold
from ocnn_jax.methods.rcae import (MLP_AE_WEIGHT_DECAY, PAPER_AE, paper_ae, make_dcae, make_rcae, noise_nonzero_per_iteration,
                                   reconstruction_autoencoder, resolve_output_bias)

floats = st.floats(-10, 10, allow_nan=False, width=32)
taus = st.floats(0, 5, allow_nan=False, width=32)
PROX = jax.jit(soft_threshold)
GROUP = jax.jit(group_soft_threshold)


def _l1_objective(n, b, tau):
    return 0.5 * np.sum((n - b) ** 2) + tau * np.sum(np.abs(n))


def _l21_objective(n, b, tau):
    return 0.5 * np.sum((n - b) ** 2) + tau * np.sum(np.linalg.norm(n.reshape(n.shape[0], -1), axis=1))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 12), elements=floats), taus)
def test_soft_threshold_is_the_l1_prox(b, tau):
    n = np.asarray(PROX(jnp.asarray(b), tau), np.float64)
    b64, tau = b.astype(np.float64), float(tau)
    np.testing.assert_allclose(n, np.sign(b64) * np.maximum(np.abs(b64) - tau, 0), atol=1e-5)
    # Brute force, elementwise (the problem separates): no point of a fine grid does better.
    grid = np.linspace(-12, 12, 4801)  # step 0.005
    for ni, bi in zip(n, b64):
        f = 0.5 * (grid - bi) ** 2 + tau * np.abs(grid)
        assert 0.5 * (ni - bi) ** 2 + tau * abs(ni) <= f.min() + 1e-5
        assert abs(ni - grid[np.argmin(f)]) <= 0.005 + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5).flatmap(lambda n: arrays(np.float32, (n, 3, 2), elements=floats)),
    taus,
    st.integers(0, 2**31 - 1),
)
def test_group_soft_threshold_is_the_l21_prox(b, tau, seed):
    n = np.asarray(GROUP(jnp.asarray(b), tau), np.float64)
    b64, tau = b.astype(np.float64), float(tau)
    norms = np.linalg.norm(b64.reshape(len(b64), -1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norms > 0, np.maximum(0, 1 - tau / norms), 0)
    np.testing.assert_allclose(n, b64 * scale[:, None, None], atol=1e-5)
    # Convex objective: N is the minimiser iff no perturbation does better.
    f = _l21_objective(n, b64, tau)
    rng = np.random.default_rng(seed)
    for _ in range(50):
        step = rng.normal(size=n.shape) * rng.choice([1e-3, 1e-1, 1.0])
        mask = rng.random(len(n)) < 0.5  # also try moving zero rows only, or single rows
        assert f <= _l21_objective(n + step * mask[:, None, None], b64, tau) + 1e-6


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (6,), elements=floats), st.floats(0, 8, width=32))
def test_rcae_noise_step_thresholds_at_half_lambda(delta, lam):
    """argmin_N ‖Δ − N‖² + λ‖N‖₁ (no ½): soft-threshold at λ/2, not λ (docs/algorithms.md §10.11)."""
    n = np.asarray(rcae_noise(jnp.asarray(delta), lam, "l1"), np.float64)
    d = delta.astype(np.float64)
    grid = np.linspace(-12, 12, 4801)
    for ni, di in zip(n, d):
        f = (grid - di) ** 2 + lam * np.abs(grid)
        assert abs(ni - grid[np.argmin(f)]) <= 0.005 + 1e-6
    np.testing.assert_allclose(
        np.asarray(rcae_noise(jnp.asarray(delta)[:, None], lam, "l21")),
        np.asarray(group_soft_threshold(jnp.asarray(delta)[:, None], lam / 2)),
    )


def test_infinite_lambda_gives_exact_zeros_and_lambda_vmaps():
    b = jnp.asarray(np.random.default_rng(0).normal(size=(7, 5)), jnp.float32).at[3].set(0.0)
    for penalty in ("l1", "l21"):
        n = rcae_noise(b, jnp.inf, penalty)
        assert not np.any(np.asarray(n)) and np.all(np.isfinite(np.asarray(n)))
        grid = jax.jit(jax.vmap(lambda lam: rcae_noise(b, lam, penalty)))(jnp.asarray([0.0, 0.5, jnp.inf]))
        np.testing.assert_array_equal(grid[0], b)  # λ = 0: N is the whole residual
        np.testing.assert_array_equal(grid[1], rcae_noise(b, 0.5, penalty))
    with pytest.raises(ValueError, match="penalty must be one of"):
        rcae_noise(b, 0.1, "l2")


# --------------------------------------------------------------------------------------------------
D = 12
BACKBONE = make_backbone("mlp", (D,), rep_dim=4, hidden=(16,))
OPT = OptimConfig(lr=1e-3, lr_milestone=3, weight_decay=1e-4, batch_size=8, epochs=6)


def _data():
    r = np.random.default_rng(0)
    return stack_classes([r.random((40, D)).astype(np.float32), r.random((27, D)).astype(np.float32)], 16)


def _single(program, key, run, data):
    return jax.jit(lambda k, r, d: run_program(program, k, r, d))(key, run, data)


def test_infinite_lambda_rcae_equals_dcae_exactly():
    data = _data()
    n_chunks, _ = eval_chunking(data.n_max, 16)
    rcae = make_rcae(BACKBONE, RCAEConfig(lam=float("inf"), outer_iterations=3, epochs_per_iteration=2, train=OPT,
                                          score_batch_size=16), data.n_max, n_chunks)
    dcae = make_dcae(BACKBONE, DCAEConfig(train=OPT, score_batch_size=16), data.n_max, n_chunks)
    run = RunSpec(jnp.int32(1), jnp.float32(0.1), jnp.float32(jnp.inf))  # the padded class
    a, ma = _single(rcae, jax.random.key(3), run, data)
    b, mb = _single(dcae, jax.random.key(3), run, data)
    jax.tree.map(lambda u, v: np.testing.assert_array_equal(np.asarray(u), np.asarray(v)),
                 (a.ae.params, a.ae.batch_stats), (b.params, b.batch_stats))
    np.testing.assert_array_equal(ma["train/loss"], mb["train/loss"])
    assert not np.any(np.asarray(a.noise)) and not np.any(np.asarray(ma["train/noise_nonzero"]))


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_output_bias_starts_at_the_class_mean_and_the_paper_decoder_has_none(output):
    """Default DCAE/RCAE: one decoder bias per output channel (here per feature), initialised at the
    mean of the run's valid rows (padding excluded), its logit under a sigmoid; PAPER_AE: no bias."""
    r = np.random.default_rng(2)
    cls0 = r.random((40, D)).astype(np.float32) * np.linspace(0.05, 0.9, D, dtype=np.float32)
    cls1 = r.random((27, D)).astype(np.float32) * 0.1 + 0.4
    data = stack_classes([cls0, cls1], 16)
    n_chunks, _ = eval_chunking(data.n_max, 16)
    backbone = make_backbone("mlp", (D,), rep_dim=4, hidden=(16,), output=output)
    run = RunSpec(jnp.int32(1), jnp.float32(0.1), jnp.float32(0.2))
    for cfg, params_of in [(DCAEConfig(train=OPT), lambda s: s.params),
                           (RCAEConfig(outer_iterations=3, epochs_per_iteration=2, train=OPT), lambda s: s.ae.params)]:
        state = make_dcae(backbone, cfg, data.n_max, n_chunks).init(jax.random.key(0), run, data) \
            if isinstance(cfg, DCAEConfig) else make_rcae(backbone, cfg, data.n_max, n_chunks).init(jax.random.key(0), run, data)
        mean = cls1.astype(np.float64).mean(0)
        expected = np.log(mean / (1 - mean)) if output == "sigmoid" else mean
        np.testing.assert_allclose(params_of(state)["decoder"]["output_bias"], expected, rtol=1e-5, atol=1e-6)
        paper = with_overrides(cfg, **PAPER_AE)
        prog = (make_dcae if isinstance(cfg, DCAEConfig) else make_rcae)(backbone, paper, data.n_max, n_chunks)
        assert "output_bias" not in params_of(prog.init(jax.random.key(0), run, data))["decoder"]


def test_output_bias_needs_a_decoder_field_and_auto_leaves_custom_decoders_alone():
    import flax.linen as nn

    class Enc(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            return nn.Dense(2, use_bias=False)(x)

    class Dec(nn.Module):
        @nn.compact
        def __call__(self, z, train):
            return nn.Dense(D, use_bias=False)(z)

    x = np.random.default_rng(0).random((30, D)).astype(np.float32)
    with pytest.raises(ValueError, match=r"output_bias='data_mean' needs a decoder with a boolean field `output_bias`.*"
                                         r"pass output_bias='none'"):
        ocnn_jax.fit(x, method="dcae", encoder=Enc(), decoder=Dec(), epochs=1, batch_size=10, output_bias="data_mean",
                     progress=False)
    model = ocnn_jax.fit(x, method="dcae", encoder=Enc(), decoder=Dec(), epochs=1, batch_size=10, progress=False)
    assert model.config.output_bias == "auto" and "output_bias" not in model.variables["params"]["decoder"]
    assert resolve_output_bias(model.backbone, model.config) == "none"
    assert model.score(x).shape == (3, 30)
    builtin = make_backbone("mlp", (D,))
    assert resolve_output_bias(builtin, DCAEConfig()) == "data_mean"
    assert resolve_output_bias(builtin, DCAEConfig(output_bias="none")) == "none"


@pytest.mark.parametrize("penalty, theta_input", [("l1", "x"), ("l21", "x_minus_n")])
def test_noise_step_is_the_prox_of_the_residual_and_padding_stays_zero(penalty, theta_input):
    """After each outer iteration the N in the compiled run equals prox_{λ/2}(X − AE(input)) of that
    θ, computed outside; padded rows stay 0; the θ-step between N-steps leaves N unchanged."""
    data = _data()
    n_chunks, _ = eval_chunking(data.n_max, 16)
    cfg = RCAEConfig(lam=0.2, penalty=penalty, theta_input=theta_input, outer_iterations=3, epochs_per_iteration=2,
                     train=OPT, score_batch_size=16)
    prog = make_rcae(BACKBONE, cfg, data.n_max, n_chunks)
    run = RunSpec(jnp.int32(1), jnp.float32(0.1), jnp.float32(0.2))
    epoch = jax.jit(prog.phases[0].epoch_fn)
    state = prog.init(jax.random.key(0), run, data)
    ae = reconstruction_autoencoder(BACKBONE, cfg)
    n = 27
    x = np.asarray(data.x[1, :n])
    for e in range(6):
        before = state.noise
        state, m = epoch(state, run, jnp.int32(e), data)
        if e % 2 == 0:  # θ-step only
            np.testing.assert_array_equal(state.noise, before)
            continue
        inputs = x - np.asarray(before[:n]) if theta_input == "x_minus_n" else x
        resid = x - np.asarray(apply_eval(ae, state.ae.params, state.ae.batch_stats, inputs))
        np.testing.assert_allclose(state.noise[:n], rcae_noise(jnp.asarray(resid), 0.2, penalty), atol=1e-6)
        assert not np.any(np.asarray(state.noise[n:]))
        frac = np.count_nonzero(np.asarray(state.noise[:n])) / (n * D)
        np.testing.assert_allclose(m["noise_nonzero"], frac, rtol=1e-6)
        assert 0 < frac < 1 if penalty == "l1" else frac > 0  # ℓ2,1: row norms ≈ 1 ≫ λ/2, rows survive


@pytest.fixture(scope="module")
def lam_grid_fit():
    r = np.random.default_rng(1)
    x = r.random((90, D)).astype(np.float32)
    x[:, :4] *= 0.2  # some low-variance columns: small residuals there
    x[45:, :4] += 0.8  # class 1 differs from class 0 there
    y = np.repeat([0, 1], 45)
    lams = [0.02, 0.2, 1.0, float("inf")]
    model = ocnn_jax.fit(x, y, method="rcae", normal_classes=[0, 1], seeds=2, preprocessing="minmax", lam=lams,
                         outer_iterations=3, epochs_per_iteration=2, batch_size=16, lr=1e-3, progress=False)
    return model, x, y, lams


def test_lambda_grid_is_a_model_axis_and_nonzero_fraction_falls_with_lambda(lam_grid_fit):
    model, x, _, lams = lam_grid_fit
    assert model.n_runs == 2 * 4 * 2
    assert [(r["normal_class"], r["lam"], r["seed"]) for r in model.runs[:4]] == [
        (0, pytest.approx(0.02), 0), (0, pytest.approx(0.02), 1), (0, pytest.approx(0.2), 0), (0, pytest.approx(0.2), 1)]
    frac = np.asarray(noise_nonzero_per_iteration(model.train_metrics, model.config))
    assert frac.shape == (16, 3)
    per_lam = frac.reshape(2, 4, 2, 3)  # class, λ, seed, iteration
    assert np.all(np.diff(per_lam, axis=1) <= 0), per_lam  # falls as λ grows, every iteration
    assert np.all(per_lam[:, 0] > 0.5) and np.all(per_lam[:, 2] < per_lam[:, 0]) and np.all(per_lam[:, 3] == 0)
    assert model.variables["noise_norms"].shape[:1] == (16,)
    # The grid runs equal the same runs fitted alone (λ is just another run on the model axis).
    alone = ocnn_jax.fit(x[:45], method="rcae", seeds=[1], preprocessing="minmax", lam=0.2, outer_iterations=3,
                         epochs_per_iteration=2, batch_size=16, lr=1e-3, progress=False)
    np.testing.assert_allclose(alone.score(x)[0], model.score(x)[3], rtol=1e-4, atol=1e-5)


def test_rcae_scores_are_reconstruction_errors_and_round_trip(lam_grid_fit, tmp_path):
    model, x, _, _ = lam_grid_fit
    loaded = ocnn_jax.load(model.save(tmp_path / "rcae"))
    np.testing.assert_array_equal(loaded.score(x), model.score(x))
    assert loaded.runs == model.runs and loaded.config == model.config
    v = jax.tree.map(lambda a: a[5], model.variables)
    xp = model.preprocess(x, 0)
    recon = np.asarray(apply_eval(reconstruction_autoencoder(model.backbone, model.config), v["params"], v["batch_stats"], xp))
    np.testing.assert_allclose(model.score(x)[5], ((xp - recon) ** 2).sum(1), rtol=1e-5)


def test_rcae_config_defaults_and_bad_input():
    cfg = default_config("mnist_lenet", "rcae")
    assert (cfg.outer_iterations, cfg.epochs_per_iteration, cfg.train.epochs, cfg.lam) == (5, 30, 150, 0.1)
    assert cfg.train.lr_milestone == 50 and cfg.train.weight_decay == 5e-4 and cfg.penalty == "l1"
    assert (cfg.train.lr, cfg.output_bias) == (1e-3, "auto")  # the stable defaults (not the paper's)
    cifar = default_config("cifar_lenet", "rcae")
    assert (cifar.outer_iterations, cifar.epochs_per_iteration, cifar.train.epochs) == (10, 35, 350)
    # DCAE trains the AE-pretraining row of the family, at lr 1e-3; PAPER_AE restores the paper's lr.
    dcae = default_config("mlp", "dcae")
    assert dcae.output_bias == "auto"
    assert with_overrides(dcae, **PAPER_AE).train == default_config("mlp", "deep_svdd").pretrain
    assert with_overrides(dcae, **PAPER_AE).output_bias == "none"
    # The MLP's DCAE/RCAE defaults use a stronger weight decay; the LeNets keep the paper's; paper_ae(family)
    # restores each family's paper row (CIFAR-10: 5e-7).
    for method in ("dcae", "rcae"):
        assert default_config("mlp", method).train.weight_decay == MLP_AE_WEIGHT_DECAY > 5e-4
        assert default_config("custom", method).train.weight_decay == 5e-4
        for family, wd in (("mnist_lenet", 5e-4), ("cifar_lenet", 5e-7), ("mlp", 5e-4)):
            assert default_config(family, method).train.weight_decay == (MLP_AE_WEIGHT_DECAY if family == "mlp" else wd)
            paper = with_overrides(default_config(family, method), **paper_ae(family))
            assert (paper.train.weight_decay, paper.train.lr, paper.output_bias) == (wd, 1e-4, "none")
    assert PAPER_AE == paper_ae("mlp") == paper_ae("mnist_lenet")
    assert with_overrides(cfg, outer_iterations=2, epochs_per_iteration=3).train.epochs == 6
    assert with_overrides(cfg, lam=[1, float("inf")]).lams == (1.0, float("inf"))
    x = np.random.default_rng(0).random((30, 4))
    for kwargs, exc, match in [
        ({"lam": -0.1}, ValueError, r"lam must be >= 0"),
        ({"lam": [0.1, -1]}, ValueError, r"lam must be >= 0"),
        ({"lam": float("nan")}, ValueError, r"lam must be >= 0"),
        ({"lam": "big"}, TypeError, r"lam must be a number"),
        ({"lam": []}, ValueError, r"lam grid is empty"),
        ({"penalty": "l2"}, ValueError, r"penalty must be one of \('l1', 'l21'\)"),
        ({"theta_input": "noise"}, ValueError, r"theta_input must be one of"),
        ({"epochs": 10}, TypeError, r"outer_iterations × epochs_per_iteration"),
        ({"outer_iterations": 0}, ValueError, r"outer_iterations must be an int >= 1"),
        ({"nu": 0}, ValueError, r"nu must lie in \(0, 1\]"),
        ({"output_bias": "zero"}, ValueError, r"output_bias must be one of \('auto', 'data_mean', 'none'\)"),
    ]:
        with pytest.raises(exc, match=match):
            ocnn_jax.fit(x, method="rcae", progress=False, **kwargs)
    with pytest.raises(ValueError, match="train.epochs must equal"):
        RCAEConfig(outer_iterations=2, epochs_per_iteration=2)


def test_model_files_without_the_output_bias_field_load_as_the_bias_free_decoder():
    """Files written before ``output_bias`` existed hold bias-free AEs: they load with output_bias="none"."""
    import dataclasses

    from ocnn_jax.frontend._files import config_from_dict

    for cfg in (DCAEConfig(), RCAEConfig()):
        stored = {"type": type(cfg).__name__, **dataclasses.asdict(cfg)}
        assert config_from_dict(stored) == cfg  # a current file: as written
        del stored["output_bias"]
        assert config_from_dict(stored).output_bias == "none"
