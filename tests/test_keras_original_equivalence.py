"""The Keras port of the original oc-nn procedure (benchmarks/keras_original.py) and ocnn_jax's
``keras_compat`` take the same training step from identical weights.

Needs Keras: on TensorFlow's backend where TensorFlow is installed (the optional ``keras`` extra), else on
Keras's JAX backend (Keras is in the ``test`` extra, so CI runs these); skipped without Keras. One batch of
16 random MNIST-shaped images, and one of CIFAR-10-shaped images for the repository's CIFAR-10 networks;
Keras weights are copied into the Flax networks, then each framework takes one step of the repository's
loss with its optimiser: the conv AE (MSE on MNIST, binary cross-entropy on CIFAR-10; Adam 1e-3), the "OC-NN"
head (constant r, Adam 1e-4), the Deep SVDD head (with bias, Adam 1e-4) and the RCAE AE (Adam 1e-3,
ε 1e-8). Compared: the loss, every updated weight and the BN moving statistics. Also: the port's λ
sweep resumed through its stage file, and Keras's ``steps_per_execution`` (a speed setting) leaving the
port's trainings unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from data_fixtures import import_keras_port, tiny_rcae_sweep  # noqa: E402

keras = import_keras_port()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras_original as ko  # noqa: E402

from ocnn_jax.methods.keras_compat import (KerasState, centre_eps, keras_adam, keras_bce, keras_mse,  # noqa: E402
                                           make_step, ocnn_repo_loss, predict, svdd_repo_loss)
from ocnn_jax.nn.keras_compat import (CAE_DECODER, CAE_ENCODER, OCNN_HEAD, RCAE_AE, SVDD_HEAD, KerasAE,  # noqa: E402
                                      KerasHeadNet, KerasStack, keras_layer_order, variables_from_keras_weights)


@pytest.fixture(autouse=True)
def _keras_broadcasts():
    """On its JAX backend Keras's own layers broadcast implicitly (a Dense bias against a batch), which
    the suite's rank-promotion guard (conftest) refuses; allowed inside these tests only."""
    with jax.numpy_rank_promotion("allow"):
        yield


SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


@pytest.fixture(scope="module", params=["mnist", "cifar10"])
def data(request):
    """(dataset, a batch of 16 random images of its shape in [0, 1))."""
    ds = request.param
    return ds, np.random.default_rng(0).random((16, *SHAPES[ds])).astype(np.float32)


def _vars(specs, weights):
    """Flax variables of consecutive stacks ``specs`` = [(name, spec)] from Keras's weight lists."""
    params, stats, i = {}, {}, 0
    for name, spec in specs:
        k = len(keras_layer_order(spec))
        p, s = variables_from_keras_weights(spec, weights[i:i + k])
        params[name], i = p, i + k
        if s:
            stats[name] = s
    assert i == len(weights)
    return params, stats


def _flat(params, stats, specs):
    """Flax variables back to Keras's weight-list order."""
    out = []
    for name, spec in specs:
        for lname, kind in keras_layer_order(spec):
            p = params[name][lname]
            if kind == "bn":
                s = stats[name][lname]
                out.append([p["scale"], p["bias"], s["mean"], s["var"]])
            else:
                out.append([p["kernel"]] + ([p["bias"]] if "bias" in p else []))
    return out


def _compare(keras_model, params, stats, specs, lr):
    got = _flat(params, stats, specs)
    want = ko.weighted_layers(keras_model)
    assert len(got) == len(want)
    for g_layer, w_layer in zip(got, want):
        for g, w in zip(g_layer, w_layer):
            # An Adam step moves a weight by about lr·g/|g|. Where |g| is near ε, float rounding of the
            # gradient changes that ratio, so a few isolated weights may differ by a fraction of lr.
            g = np.asarray(g)
            close = np.isclose(g, w, rtol=1e-4, atol=0.02 * lr)
            assert close.mean() >= 0.999, f"{(~close).sum()} of {close.size} weights differ by > 0.02·lr"
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=0.25 * lr)


def _step(module, loss, lr, eps, params, stats, x, target):
    opt = keras_adam(lr, eps=eps)
    state, val = jax.jit(make_step(module, loss, opt))(KerasState(params, stats, opt.init(params)), x, target)
    return state, float(val)


def test_cae_step(data):
    """The pretraining AE: MSE on MNIST, binary cross-entropy on CIFAR-10 (as the repository compiles it)."""
    ds, batch = data
    keras.utils.set_random_seed(1)
    ae, _ = ko.build_cae(ds)
    specs = [("enc", CAE_ENCODER[ds]), ("dec", CAE_DECODER[ds])]
    params, stats = _vars(specs, ko.weighted_layers(ae))
    module = KerasAE(CAE_ENCODER[ds], CAE_DECODER[ds])
    np.testing.assert_allclose(predict(module, params, stats, batch), ae.predict(batch, verbose=0), atol=1e-5)
    k_name, j_loss_fn = ("mean_squared_error", keras_mse) if ds == "mnist" else ("binary_crossentropy", keras_bce)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-7), loss=k_name)
    k_loss = float(np.asarray(ae.train_on_batch(batch, batch)))
    state, j_loss = _step(module, j_loss_fn, 1e-3, 1e-7, params, stats, jnp.asarray(batch), jnp.asarray(batch))
    assert j_loss == pytest.approx(k_loss, rel=1e-5)
    _compare(ae, state.params, state.batch_stats, specs, 1e-3)


@pytest.mark.parametrize("head", ["ocnn", "deep_svdd"])
def test_head_step(data, head):
    ds, batch = data
    keras.utils.set_random_seed(2)
    _, encoder = ko.build_cae(ds)
    net = ko.build_ocnn_net(encoder) if head == "ocnn" else ko.build_svdd_net(encoder, ds)
    head_spec = OCNN_HEAD if head == "ocnn" else SVDD_HEAD[ds]
    specs = [("enc", CAE_ENCODER[ds]), ("head_", head_spec)]
    params, stats = _vars(specs, ko.weighted_layers(net))
    module = KerasHeadNet(CAE_ENCODER[ds], head_spec)
    y0 = net.predict(batch, verbose=0)
    np.testing.assert_allclose(predict(module, params, stats, batch), y0, atol=1e-5)
    c = centre_eps(y0.mean(0) + 0.05)
    if head == "ocnn":
        k_loss_fn, j_loss_fn = ko.ocnn_loss(c, 0.1, 0.2), (lambda y, _: ocnn_repo_loss(y, jnp.asarray(c), 0.1, 0.2))
    else:
        k_loss_fn, j_loss_fn = ko.svdd_loss(c), (lambda y, _: svdd_repo_loss(y, jnp.asarray(c)))
    net.compile(optimizer=keras.optimizers.Adam(1e-4, epsilon=1e-7), loss=k_loss_fn)
    dummy = np.zeros((len(batch), y0.shape[1]), np.float32)  # the heads ignore their targets
    k_loss = float(np.asarray(net.train_on_batch(batch, dummy)))
    state, j_loss = _step(module, j_loss_fn, 1e-4, 1e-7, params, stats, jnp.asarray(batch), jnp.asarray(dummy))
    assert j_loss == pytest.approx(k_loss, rel=1e-5)
    _compare(net, state.params, state.batch_stats, specs, 1e-4)


def test_rcae_step(data):
    """The "RCAE" AE, MSE on both datasets (as the repository's RCAE compiles it)."""
    ds, batch = data
    keras.utils.set_random_seed(3)
    ae = ko.build_rcae(ds)
    specs = [("s", RCAE_AE[ds])]
    params, stats = _vars(specs, ko.weighted_layers(ae))
    module = KerasStack(RCAE_AE[ds])
    np.testing.assert_allclose(predict(module, params["s"], stats["s"], batch), ae.predict(batch, verbose=0), atol=1e-5)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8), loss="mean_squared_error")
    k_loss = float(np.asarray(ae.train_on_batch(batch, batch)))
    state, j_loss = _step(module, keras_mse, 1e-3, 1e-8, params["s"], stats["s"], jnp.asarray(batch), jnp.asarray(batch))
    assert j_loss == pytest.approx(k_loss, rel=1e-5)
    _compare(ae, {"s": state.params}, {"s": state.batch_stats}, specs, 1e-3)


class _Stop(Exception):
    pass


def test_keras_rcae_sweep_resumed_through_the_stage_file_equals_the_uninterrupted_sweep(tmp_path):
    """The Keras port's λ sweep, stopped after its first stage and resumed from the file that
    keras_original_compare writes, gives the scores of the uninterrupted sweep."""
    import keras_original_compare as koc

    s, cfg = tiny_rcae_sweep(0, set_seed=7)
    whole = ko.rcae_original(s, cfg, 7)
    path = koc.rcae_checkpoint_path(tmp_path / "o.json", "keras", "mnist", 0, 7)
    fingerprint = koc._fingerprint("keras", s, 7, cfg)

    def save_then_stop(record):
        koc.save_rcae_stages(path, fingerprint, record, 1.0)
        raise _Stop

    with pytest.raises(_Stop):
        ko.rcae_original(s, cfg, 7, on_stage=save_then_stop)
    resumed, seconds = koc.staged_rcae(lambda **kw: ko.rcae_original(s, cfg, 7, **kw), path, fingerprint, "test")
    assert seconds >= 1.0  # the first invocation's second is counted
    for lam in cfg.rcae_lambdas:
        np.testing.assert_allclose(resumed["scores"][lam], whole["scores"][lam], rtol=1e-5)
        assert resumed["n_nonzero"][lam] == whole["n_nonzero"][lam]


def test_keras_rcae_sweep_stopped_after_its_first_stage_is_the_dcae_of_the_whole_sweep():
    """The Keras port's ``stages=1`` trains the whole sweep's λ = 0 stage alone (same shuffles, same scores)."""
    s, cfg = tiny_rcae_sweep(2, set_seed=7)
    whole = ko.rcae_original(s, cfg, 7)
    first = ko.rcae_original(s, cfg, 7, stages=1)
    assert list(first["scores"]) == [0.0]
    np.testing.assert_allclose(first["scores"][0.0], whole["scores"][0.0], rtol=1e-5)



def test_keras_verbose_sweep_shows_each_stage_and_its_loss(capsys):
    """The Keras port's ``verbose=True`` prints each λ stage's epochs and last loss as ``keras_compat``
    does, through a callback that leaves the training alone."""
    from ocnn_jax.methods.keras_compat import stage_desc

    s, cfg = tiny_rcae_sweep(2, set_seed=7)
    quiet = ko.rcae_original(s, cfg, 7)
    shown = ko.rcae_original(s, cfg, 7, verbose=True)
    err = capsys.readouterr().err.splitlines()
    for i, lam in enumerate(cfg.rcae_lambdas):
        loss = shown["losses"][lam][0]
        assert f"{stage_desc('Keras port', i, cfg.rcae_lambdas)}: 1/1 epoch [loss={loss:.4g}]" in err
        np.testing.assert_allclose(shown["scores"][lam], quiet["scores"][lam], rtol=1e-5)


def _record_compiles(monkeypatch) -> list[int]:
    """Makes every later ``keras.Model.compile`` of the test record its ``steps_per_execution``."""
    seen, real = [], keras.Model.compile

    def spy(self, *a, **kw):
        seen.append(kw.get("steps_per_execution", 1))
        return real(self, *a, **kw)

    monkeypatch.setattr(keras.Model, "compile", spy)
    return seen


@pytest.mark.parametrize("steps_per_execution", [2, 3])
def test_keras_steps_per_execution_gives_the_sweep_of_one_step_per_call(steps_per_execution, monkeypatch):
    """Keras's ``steps_per_execution`` (a speed setting of the port) changes neither the updates nor the
    shuffles: 5 steps an epoch (18 fit rows at batch 4), grouped 2 or 3 per call, the last group short."""
    import dataclasses

    s, cfg = tiny_rcae_sweep(3, set_seed=7)
    cfg = dataclasses.replace(cfg, rcae_epochs=2, rcae_batch=4)
    one = ko.rcae_original(s, cfg, 7)
    seen = _record_compiles(monkeypatch)
    grouped = ko.rcae_original(s, cfg, 7, steps_per_execution=steps_per_execution)
    assert seen == [steps_per_execution] * len(cfg.rcae_lambdas)  # every stage's compile got it
    for lam in cfg.rcae_lambdas:
        np.testing.assert_allclose(grouped["losses"][lam], one["losses"][lam], rtol=1e-5)
        np.testing.assert_allclose(grouped["scores"][lam], one["scores"][lam], rtol=1e-5)


def test_keras_steps_per_execution_gives_the_heads_of_one_step_per_call(monkeypatch):
    """The same for the conv AE pretraining and both heads of ``run_original`` (their scores compared)."""
    import dataclasses

    s, cfg = tiny_rcae_sweep(4, set_seed=7)
    cfg = dataclasses.replace(cfg, ae_epochs=2, ae_batch=6, ocnn_epochs=2, svdd_epochs=2, batch=6)
    scores = []
    monkeypatch.setattr(ko, "_auroc", lambda y, sc: scores.append(np.asarray(sc)) or 0.5)
    ko.run_original(s, cfg, 7)
    seen = _record_compiles(monkeypatch)
    ko.run_original(s, cfg, 7, steps_per_execution=3)
    assert seen == [3, 3, 3]  # the AE's, the "OC-NN" head's and the Deep SVDD head's compile
    assert len(scores) == 4
    for one, grouped in zip(scores[:2], scores[2:]):
        np.testing.assert_allclose(grouped, one, rtol=1e-5)


def test_keras_runs_record_their_steps_per_execution():
    """A Keras run's "device" names its backend, and its steps_per_execution where it is not Keras's 1."""
    import keras_original_compare as koc

    plain, grouped = koc.framework_device("keras"), koc.framework_device("keras", 32)
    assert plain.startswith(f"keras {keras.__version__}, ") and "steps per execution" not in plain
    assert grouped == plain + ", 32 steps per execution"
    assert "steps per execution" not in koc.framework_device("jax", 32)  # ocnn_jax has no such setting
    with pytest.raises(SystemExit):
        koc.main(["--keras-steps-per-execution", "0", "--table-only"])
