"""OC-NN, the paper objective (docs/algorithms.md §2): loss and gradients against NumPy oracles (the w and V
penalties have gradients), the RBF layer against a NumPy oracle, r after every epoch == np.quantile(ŷ_train, ν)
of the same network read out of the compiled run (with and without the RBF layer), frozen vs fine-tuned
encoder, the paper-exact configuration against NumPy, the default representation's geometry (anomalies
further out along the normal mean; centred tabular data), the label-free degeneracy check, vmapped runs
== runs one by one, the API, digits, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ocnn_jax
from ocnn_jax.methods.ae_training import ae_row, apply_eval
from ocnn_jax.core.batching import eval_chunking, stack_classes
from ocnn_jax.core.config import OptimConfig, active_pretrain, with_overrides
from ocnn_jax.methods import MIN_STEPS, PAPER_OCNN, OCNNConfig, dataset_defaults, default_config
from ocnn_jax.datasets import load_digits
from ocnn_jax.core.losses import ocnn_loss, ocnn_output
from ocnn_jax.nn import make_backbone
from ocnn_jax.methods.ocnn import make_ocnn, ocnn_features, unit_norm
from ocnn_jax.core.program import RunSpec, run_phase_epochs, run_program
from ocnn_jax.experiments import per_class_summary


def _np_act(h, g):
    return {"sigmoid": lambda: 1 / (1 + np.exp(-h)), "tanh": lambda: np.tanh(h), "linear": lambda: h}[g]()


def _np_output(head, z, g):
    return _np_act(z @ head["V"].T, g) @ head["w"]


def _np_rbf(kernel, z):
    """NumPy oracle of the RBF layer's features: exp(−γ‖s ⊙ z − l_k‖²) / m."""
    k = {n: np.asarray(v, np.float64) for n, v in kernel.items()}
    zs = (np.asarray(z, np.float64) - k["shift"]) * k["inv_scale"]
    d = ((zs[:, None, :] - k["landmarks"][None]) ** 2).sum(-1)
    return np.exp(-k["gamma"] * d) / k["norm"]


def _np_loss_and_grads(head, z, r, nu, g):
    """NumPy oracle: loss ½‖w‖² + ½‖V‖² + (1/ν)·mean relu(r − ŷ) and its gradients in (w, V)."""
    w, v = head["w"].astype(np.float64), head["V"].astype(np.float64)
    z = z.astype(np.float64)
    pre = z @ v.T
    hid = _np_act(pre, g)
    y = hid @ w
    active = (r - y > 0).astype(np.float64)  # hinge slope 1 where r > ŷ
    loss = 0.5 * (w @ w + np.sum(v * v)) + np.mean(np.maximum(r - y, 0)) / nu
    coef = -active / (nu * len(y))  # d loss / d ŷ_i
    dhid = {"sigmoid": hid * (1 - hid), "tanh": 1 - hid**2, "linear": np.ones_like(hid)}[g]
    gw = w + hid.T @ coef
    gv = v + ((coef[:, None] * w[None, :]) * dhid).T @ z
    return loss, gw, gv


@pytest.mark.parametrize("g", ["linear", "sigmoid", "tanh"])
def test_loss_and_gradients_match_the_numpy_oracle(g):
    r_ = np.random.default_rng(0)
    head = {"V": r_.normal(size=(5, 3)).astype(np.float32), "w": r_.normal(size=5).astype(np.float32)}
    z = r_.normal(size=(16, 3)).astype(np.float32)
    y = _np_output(head, z, g)
    r, nu = float(np.quantile(y, 0.3)), 0.3
    loss, grads = jax.jit(jax.value_and_grad(ocnn_loss), static_argnums=4)(head, jnp.asarray(z), r, nu, g)
    np.testing.assert_allclose(ocnn_output(head, jnp.asarray(z), g), y, rtol=1e-5, atol=1e-5)
    ref_loss, gw, gv = _np_loss_and_grads(head, z, r, nu, g)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
    np.testing.assert_allclose(grads["w"], gw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["V"], gv, rtol=1e-4, atol=1e-5)
    # With the hinge inactive everywhere the gradient is exactly the penalties' (w, V): non-zero,
    # unlike the Keras code, whose penalties were computed from host copies of the weights.
    pen = jax.jit(jax.grad(ocnn_loss), static_argnums=4)(head, jnp.asarray(z), -1e9, nu, g)
    np.testing.assert_allclose(pen["w"], head["w"], rtol=1e-6)
    np.testing.assert_allclose(pen["V"], head["V"], rtol=1e-6)
    assert np.all(np.abs(pen["w"]) > 0)
    # r gets no gradient (it is set by the quantile update, never by the optimiser).
    assert jax.grad(lambda rr: ocnn_loss(head, jnp.asarray(z), rr, nu, g))(r) == 0.0


D = 10
BACKBONE = make_backbone("mlp", (D,), rep_dim=4, hidden=(16,))


def _ocnn_program(finetune, data, features="encoder", kernel="none", g="linear"):
    cfg = OCNNConfig(nu=0.2, hidden_units=6, features=features, finetune_encoder=finetune, score_batch_size=16,
                     kernel=kernel, g=g, landmarks=12,
                     train=OptimConfig(lr=1e-2, lr_milestone=None, weight_decay=1e-3, batch_size=8, epochs=4),
                     pretrain=OptimConfig(lr=1e-3, lr_milestone=None, weight_decay=1e-4, batch_size=8, epochs=2))
    n_chunks, _ = eval_chunking(data.n_max, cfg.score_batch_size)
    return make_ocnn(BACKBONE, cfg, data.n_max, n_chunks)


@pytest.mark.parametrize("finetune, features, kernel, g", [
    (False, "encoder", "none", "linear"), (True, "encoder_l2", "none", "linear"),  # the paper's head
    (False, "encoder", "rbf", "tanh"), (True, "encoder", "rbf", "tanh"),  # the default RBF layer
])
def test_r_after_every_epoch_is_the_nu_quantile_of_the_same_network(finetune, features, kernel, g):
    """r read from the compiled whole run equals np.quantile(ŷ over the unpadded training set, ν) of
    the weights after that epoch (and initially of the initial head); padding never counts. With
    "encoder_l2" the head sees the codes divided by their norms, with the RBF layer (the default) the
    layer's features of the codes (NumPy oracles); kernel="none", g="linear" is the paper's head."""
    r_ = np.random.default_rng(0)
    data = stack_classes([r_.random((45, D)).astype(np.float32), r_.random((29, D)).astype(np.float32)], 16)
    prog = _ocnn_program(finetune, data, features, kernel, g)
    run = RunSpec(jnp.int32(1), jnp.float32(0.2))  # class 1 is padded from 29 to 48 rows
    key = jax.random.key(5)
    _, metrics = jax.jit(lambda k, ru, d: run_program(prog, k, ru, d))(key, run, data)
    # The same run, one compiled epoch at a time, to see the weights behind each r.
    state = prog.init(key, run, data)
    state, _ = jax.jit(lambda s: run_phase_epochs(prog.phases[0], s, run, data, 0, 2))(state)
    state = prog.transitions[0](state, run, data)
    one_epoch = jax.jit(lambda s, e: run_phase_epochs(prog.phases[1], s, run, data, e, 1))
    x = np.asarray(data.x[1, :29])
    pretrained = state.params["encoder"]

    def np_quantile_of(s):
        z = np.asarray(apply_eval(BACKBONE.encoder, s.params["encoder"], s.batch_stats, jnp.asarray(x)), np.float64)
        if features == "encoder_l2":
            z = z / np.linalg.norm(z, axis=1, keepdims=True)
        if kernel == "rbf":
            z = _np_rbf(s.kernel._asdict(), z)
        return np.quantile(_np_output(jax.device_get(s.params["head"]), z, g), 0.2)

    np.testing.assert_allclose(state.r, np_quantile_of(state), rtol=1e-5, atol=1e-6)
    rs = []
    for e in range(4):
        state, m = one_epoch(state, e)
        rs.append(float(m["r"][0]))
        np.testing.assert_allclose(rs[-1], np_quantile_of(state), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["train/r"], rs, rtol=1e-4, atol=1e-6)
    assert len(set(rs)) == 4  # r moves every epoch
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: bool(np.any(a != b)), state.params["encoder"], pretrained))
    assert any(moved) == finetune  # frozen by default; trained (with its decay) when fine-tuned


@pytest.fixture(scope="module")
def digits_ocnn():
    ds = load_digits()
    # The default OC-NN (the MLP family: the input through the RBF layer, g = tanh), digits settings
    # (batches of 32, ocnn_jax.methods.DATASET_DEFAULTS), epochs stretched to >= MIN_STEPS steps.
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method="ocnn", normal_classes="all", seeds=3, progress=False,
                         **dataset_defaults("digits", "ocnn"))
    return model, ds


def test_digits_ocnn_default_reaches_the_target_auroc(digits_ocnn):
    model, ds = digits_ocnn
    cfg = model.config
    assert model.n_runs == 30 and (cfg.features, cfg.kernel, cfg.g) == ("input", "rbf", "tanh")
    assert active_pretrain(cfg) is None and set(model.train_metrics) == {"train/loss", "train/r", "train/objective"}
    # ≈ 90 images per digit, batches of 32: 2 steps per epoch, so the 100 default epochs become 1500.
    assert cfg.train.epochs * (min(np.bincount(ds.y_train)) // 32) >= MIN_STEPS
    aucs = model.evaluate(ds.x_test, y=ds.y_test)
    per_class = [row["mean"] for row in per_class_summary(aucs, [r["normal_class"] for r in model.runs])]
    # OC-SVM 95.90, IsolationForest 93.77 on these splits (benchmarks/results/issue3_digits.md).
    assert np.mean(per_class) >= 0.95 and min(per_class) >= 0.9, per_class
    assert np.all(model.train_metrics["train/objective"][:, -1] < 0)  # every head separated from the origin


def test_ocnn_predict_flags_about_nu_of_training_data_and_round_trips(digits_ocnn, tmp_path):
    model, ds = digits_ocnn
    assert model.thresholds.tolist() == [0.0] * 30
    for i in (0, 14, 29):
        c = model.runs[i]["normal_class"]
        rate = model.predict(ds.x_train[ds.y_train == c])[i].mean()
        assert abs(rate - 0.1) < 0.03  # r is the ν-quantile of ŷ, score r − ŷ > 0 marks ≈ ν
    loaded = ocnn_jax.load(model.save(tmp_path / "ocnn"))
    np.testing.assert_array_equal(loaded.score(ds.x_test[:50]), model.score(ds.x_test[:50]))
    assert loaded.config == model.config


def test_ocnn_on_the_pretrained_encoder_through_the_api():
    r_ = np.random.default_rng(2)
    x = np.concatenate([r_.normal(0, 1, (50, D)), r_.normal(0, 1, (40, D)) * 3]).astype(np.float32)
    y = np.repeat([0, 1], [50, 40])
    model = ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=2, method="ocnn", features="encoder", g="sigmoid", epochs=3,
                         batch_size=16, pretrain_epochs=2, pretrain_batch_size=16, progress=False, check_collapse=False)
    assert model.config.pretrain.epochs == 2 and active_pretrain(model.config) == model.config.pretrain
    assert set(model.train_metrics) == {"pretrain/loss", "train/loss", "train/r", "train/objective"}
    assert model.train_metrics["train/r"].shape == (4, 3)
    s = model.score(x)
    assert s.shape == (4, 90) and np.all(np.isfinite(s))
    np.testing.assert_allclose(model.variables["r"], model.train_metrics["train/r"][:, -1])


def test_ocnn_defaults_and_bad_input():
    # Images through the LeNet families: the pretrained encoder body; a user's encoder: its code; the MLP
    # family (feature vectors, small images): the input. All through the RBF layer with g = tanh.
    cfg = default_config("mnist_lenet", "ocnn")
    assert (cfg.nu, cfg.g, cfg.hidden_units, cfg.finetune_encoder, cfg.features, cfg.kernel, cfg.landmarks,
            cfg.rbf_gamma, cfg.rbf_width, cfg.rbf_scale) == (0.1, "tanh", 32, False, "encoder_body", "rbf", 1024,
                                                             None, 0.35, "none")
    assert default_config("cifar_lenet", "ocnn").features == "encoder_body"
    custom, mlp = default_config("custom", "ocnn"), default_config("mlp", "ocnn")
    assert (custom.features, custom.landmarks, custom.rbf_width, custom.rbf_scale) == ("encoder", 256, 1.0, "std")
    assert (mlp.features, mlp.landmarks, mlp.rbf_width, mlp.rbf_scale, mlp.train.lr) == ("input", 256, 0.7, "none", 1e-3)
    assert active_pretrain(cfg) == ae_row("mnist_lenet")
    assert active_pretrain(default_config("mlp", "ocnn")) is None and OCNNConfig().features == "input"
    assert default_config("cifar_lenet", "ocnn").pretrain.epochs == 350
    assert (cfg.train.lr, cfg.train.lr_milestone, cfg.train.batch_size, cfg.train.epochs) == (1e-4, None, 200, 100)
    assert default_config("cifar_lenet", "ocnn").hidden_units == 128
    assert default_config("cifar_lenet", "ocnn").nu == 0.5 and default_config("mlp", "ocnn").nu == 0.1
    assert OCNNConfig(g="identity").g == "linear"
    paper = with_overrides(cfg, **PAPER_OCNN)  # the paper's exact configuration
    assert (paper.features, paper.kernel, paper.g, paper.finetune_encoder) == ("encoder", "none", "linear", False)
    x = np.random.default_rng(0).random((30, 4))
    for kwargs, exc, match in [
        ({"g": "relu"}, ValueError, r"g must be one of \('linear', 'sigmoid', 'tanh'\)"),
        ({"kernel": "poly"}, ValueError, r"kernel must be one of \('rbf', 'none'\)"),
        ({"landmarks": 1}, ValueError, r"landmarks must be an int >= 2"),
        ({"rbf_gamma": -1.0}, ValueError, r"rbf_gamma must be a finite number > 0"),
        ({"rbf_width": 0.0}, ValueError, r"rbf_width must be a finite number > 0"),
        ({"rbf_scale": "minmax"}, ValueError, r"rbf_scale must be one of \('std', 'none'\)"),
        ({"nu": 0.0}, ValueError, r"nu must lie in \(0, 1\]"),
        ({"nu": 1.01}, ValueError, r"nu must lie in \(0, 1\]"),
        ({"hidden_units": 0}, ValueError, r"hidden_units must be an int >= 1"),
        ({"features": "code"}, ValueError, r"features must be one of"),
        ({"features": "input", "finetune_encoder": True}, ValueError,
         r"finetune_encoder=True needs features='encoder' or 'encoder_l2'"),
        ({"finetune_encoder": True}, ValueError, r"finetune_encoder=True needs features='encoder' or 'encoder_l2'"),
        ({"lam": 0.1}, TypeError, r"unknown config option\(s\) \['lam'\] for OCNNConfig"),
        ({"method": "oc-nn"}, ValueError, r"method must be one of \[.*'ocnn'.*\]"),
    ]:
        with pytest.raises(exc, match=match):
            ocnn_jax.fit(x, **{"method": "ocnn", "progress": False, **kwargs})


def test_unit_norm_projects_rows_and_guards_zero_codes():
    z = jnp.asarray([[3.0, 4.0], [0.0, 0.0], [1e-30, 0.0]], jnp.float32)
    out = np.asarray(unit_norm(z))
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-6)
    assert np.all(np.isfinite(out)) and np.all(np.abs(out[1:]) < 1e-6)  # an all-zero code stays ~zero
    grad = jax.grad(lambda a: jnp.sum(unit_norm(a)))(z)
    assert np.all(np.isfinite(np.asarray(grad)))  # finite gradients (fine-tuning) even at ‖z‖ = 0


def _blob_classes():
    r_ = np.random.default_rng(3)
    x = np.concatenate([r_.normal(0, 1, (40, D)), r_.normal(2, 1, (30, D))]).astype(np.float32)
    return x, np.repeat([0, 1], [40, 30])


@pytest.mark.parametrize("finetune", [False, True])
def test_encoder_l2_features_are_unit_norm_and_round_trip(finetune, tmp_path):
    x, y = _blob_classes()
    model = ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=2, method="ocnn", features="encoder_l2", kernel="none",
                         g="linear", finetune_encoder=finetune, epochs=3, batch_size=16, pretrain_epochs=2,
                         pretrain_batch_size=16, progress=False, check_collapse=False)
    assert model.config.features == "encoder_l2" and "pretrain/loss" in model.train_metrics
    for i in range(model.n_runs):
        v = jax.tree.map(lambda a: a[i], model.variables)
        xi = model.preprocess(x, model.runs[i]["normal_class"])
        z = np.asarray(ocnn_features(model.backbone, model.config, v["params"]["encoder"], v["batch_stats"], xi))
        assert z.shape == (70, model.backbone.rep_dim)
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
        # r is the ν-quantile of ŷ on the unit-norm codes of the run's own training class.
        zc = z[y == model.runs[i]["normal_class"]]
        y_hat = _np_output(jax.device_get(v["params"]["head"]), zc, "linear")
        np.testing.assert_allclose(v["r"], np.quantile(y_hat, 0.1), rtol=1e-4, atol=1e-6)
    loaded = ocnn_jax.load(model.save(tmp_path / "l2"))
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.score(x), model.score(x))


def test_paper_comparable_sign_auroc_is_the_auroc_of_the_hard_predictions(digits_ocnn):
    from sklearn.metrics import roc_auc_score

    model, ds = digits_ocnn
    sign = model.sign_auroc(ds.x_test, y=ds.y_test)
    flags, truth = model.predict(ds.x_test), model.anomaly_labels(ds.y_test)
    expected = [roc_auc_score(truth[i], flags[i].astype(int)) for i in range(model.n_runs)]
    np.testing.assert_allclose(sign, expected, rtol=1e-12)
    tpr = (flags & (truth == 1)).sum(1) / (truth == 1).sum(1)
    tnr = (~flags & (truth == 0)).sum(1) / (truth == 0).sum(1)
    np.testing.assert_allclose(sign, (tpr + tnr) / 2, rtol=1e-12)  # one operating point: balanced accuracy
    assert not np.allclose(sign, model.evaluate(ds.x_test, y=ds.y_test))  # never the continuous AUROC
    np.testing.assert_allclose(model.sign_auroc(ds.x_test, y_is_anomaly=truth), sign)
    # the same from scores already computed (what `ocnn-jax compare` uses, scoring the test set once)
    np.testing.assert_array_equal(model.sign_auroc_scores(model.score(ds.x_test), y=ds.y_test), sign)
    with pytest.raises(TypeError, match="exactly one of y_is_anomaly"):
        model.sign_auroc(ds.x_test)
    with pytest.raises(ValueError, match="scores must have shape"):
        model.sign_auroc_scores(np.zeros(len(ds.x_test)), y=ds.y_test)


def test_compare_shows_the_sign_auroc_as_a_separate_ocnn_column(tmp_path):
    from ocnn_jax.experiments import SIGN_AUROC_LABEL, run_comparison

    res = run_comparison(["ocnn", "ocsvm"], classes=[0, 1], seeds=1, overrides={"ocnn": {"epochs": 5, "check_collapse": False}},
                         progress=False, json_path=str(tmp_path / "cmp.json"))
    header = res["table"].splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == ["AUROC % / class", "ocnn", f"ocnn: {SIGN_AUROC_LABEL}",
                                                                 "OC-SVM (RBF)"]
    # AUPR: its own table, no sign column; every printed line fits 120 characters
    assert [c.strip() for c in res["aupr_table"].splitlines()[0].strip("|").split("|")] == ["AUPR % / class", "ocnn",
                                                                                           "OC-SVM (RBF)"]
    assert 0 < res["methods"]["ocsvm"]["aupr"]["mean"] <= 1 and len(res["methods"]["ocnn"]["aupr"]["per_class"]) == 2
    assert max(len(line) for t in (res["table"], res["aupr_table"]) for line in t.splitlines()) <= 120
    assert f"ocnn: {SIGN_AUROC_LABEL}" in header and header.count(SIGN_AUROC_LABEL) == 1  # not for ocsvm
    sign = res["methods"]["ocnn"]["sign_auroc"]
    assert len(sign["per_class"]) == 2 and 0 <= sign["mean"] <= 1
    assert "sign_auroc" not in res["methods"]["ocsvm"]
    assert any(SIGN_AUROC_LABEL in note for note in res["notes"])


# ---------------------------------------------------------------------------------------------------
# The default representation (RBF layer + tanh) and the paper's exact configuration


def test_rbf_layer_matches_the_numpy_oracle():
    """fit_rbf_layer on padded rows: per-feature std scale (1 for constant features), K distinct valid
    landmarks, γ = 1 / median squared distance between distinct landmarks, features with mean 1 over
    the valid rows; rbf_features equals exp(−γ‖s ⊙ z − l_k‖²) / m."""
    from ocnn_jax.core.rbf import fit_rbf_layer, rbf_features

    r_ = np.random.default_rng(4)
    n, n_max, p, k = 23, 32, 5, 7
    z = np.zeros((n_max, p), np.float32)
    z[:n] = r_.normal(size=(n, p)) * [1.0, 10.0, 0.1, 3.0, 1.0] + 5.0
    z[:n, 4] = 2.0  # a constant feature keeps scale 1
    z[n:] = 1e6  # padding must never count
    layer = fit_rbf_layer(jax.random.key(0), jnp.asarray(z), jnp.int32(n), k)
    zv = z[:n].astype(np.float64)
    std = zv.std(0)
    np.testing.assert_allclose(layer.shift, zv.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.inv_scale, 1 / np.where(std > 1e-6, std, 1.0), rtol=1e-5)
    lm = np.asarray(layer.landmarks, np.float64) / np.asarray(layer.inv_scale, np.float64) + zv.mean(0)
    rows = [int(np.argmin(np.abs(zv - mark).sum(1))) for mark in lm]
    assert len(set(rows)) == k and all(np.allclose(zv[i], mark, rtol=1e-5) for i, mark in zip(rows, lm))
    ls = np.asarray(layer.landmarks, np.float64)
    d = ((ls[:, None] - ls[None]) ** 2).sum(-1)
    np.testing.assert_allclose(layer.gamma, 1 / np.median(d[~np.eye(k, dtype=bool)]), rtol=1e-4)
    raw = _np_rbf({**layer._asdict(), "norm": 1.0}, zv)
    np.testing.assert_allclose(layer.norm, raw.mean(), rtol=1e-4)
    np.testing.assert_allclose(rbf_features(layer, jnp.asarray(zv, jnp.float32)), _np_rbf(layer._asdict(), zv),
                               rtol=1e-4, atol=1e-6)
    assert float(jnp.max(rbf_features(layer, jnp.full((1, p), 1e3)))) < 1e-12  # far from the data: the origin
    fixed = fit_rbf_layer(jax.random.key(0), jnp.asarray(z), jnp.int32(n), k, gamma=0.5)
    assert float(fixed.gamma) == 0.5
    # A narrower kernel: γ = 1 / (w² · median); isotropic: no per-feature scaling (s = 1).
    narrow = fit_rbf_layer(jax.random.key(0), jnp.asarray(z), jnp.int32(n), k, width=0.5)
    np.testing.assert_allclose(narrow.gamma, 4 * layer.gamma, rtol=1e-5)
    iso = fit_rbf_layer(jax.random.key(0), jnp.asarray(z), jnp.int32(n), k, scale=False)
    np.testing.assert_array_equal(iso.inv_scale, np.ones(p))
    li = np.asarray(iso.landmarks, np.float64)
    di = ((li[:, None] - li[None]) ** 2).sum(-1)
    np.testing.assert_allclose(iso.gamma, 1 / np.median(di[~np.eye(k, dtype=bool)]), rtol=1e-4)
    np.testing.assert_allclose(rbf_features(iso, jnp.asarray(zv, jnp.float32)), _np_rbf(iso._asdict(), zv),
                               rtol=1e-4, atol=1e-6)


def test_rbf_median_uses_the_first_landmarks_only():
    """With K > MEDIAN_LANDMARKS the median heuristic reads the pairs of the first MEDIAN_LANDMARKS drawn."""
    from ocnn_jax.core.rbf import MEDIAN_LANDMARKS, fit_rbf_layer

    r_ = np.random.default_rng(5)
    n, k = MEDIAN_LANDMARKS + 40, MEDIAN_LANDMARKS + 20
    z = jnp.asarray(r_.normal(size=(n, 3)), jnp.float32)
    layer = fit_rbf_layer(jax.random.key(1), z, jnp.int32(n), k)
    ls = np.asarray(layer.landmarks, np.float64)[:MEDIAN_LANDMARKS]
    d = ((ls[:, None] - ls[None]) ** 2).sum(-1)
    np.testing.assert_allclose(layer.gamma, 1 / np.median(d[~np.eye(MEDIAN_LANDMARKS, dtype=bool)]), rtol=1e-4)


def _np_tail_value(phi, nu):
    """NumPy oracle of rbf.tail_value: the lower-ν-tail value of phi (n, K) along its mean direction."""
    u = phi.mean(0) / np.linalg.norm(phi.mean(0))
    p = phi @ u
    q = np.quantile(p, nu)
    return q - np.maximum(q - p, 0).mean() / nu


@pytest.mark.parametrize("width, widened", [(0.05, True), (0.5, True), (1.0, False)])
def test_rbf_layer_widens_a_kernel_whose_tail_is_too_small_to_leave_the_origin(width, widened):
    """With ν the median-heuristic kernel is widened in steps of WIDEN until the features' ν-tail value along
    their mean direction reaches TAIL_FLOOR (a narrow kernel on spread-out rows needs it: the least
    covered rows' features are near 0); a layer already above it keeps its width; with a fixed γ
    nothing changes. tail_value and the chosen width equal a NumPy oracle; padding rows never count."""
    from ocnn_jax.core.rbf import MAX_WIDEN_STEPS, TAIL_FLOOR, WIDEN, fit_rbf_layer, rbf_features, tail_value

    r_ = np.random.default_rng(6)
    n, n_max, k = 60, 64, 30
    z = np.zeros((n_max, 4), np.float32)
    z[:n] = r_.standard_t(2, size=(n, 4))  # heavy tails: some rows far from every landmark
    z[n:] = 1e6
    zj, nj = jnp.asarray(z), jnp.int32(n)
    plain = fit_rbf_layer(jax.random.key(0), zj, nj, k, width=width)
    adapted = fit_rbf_layer(jax.random.key(0), zj, nj, k, width=width, nu=0.1)
    phi0 = np.asarray(rbf_features(plain, zj[:n]), np.float64)
    np.testing.assert_allclose(tail_value(rbf_features(plain, zj), nj, 0.1), _np_tail_value(phi0, 0.1), rtol=1e-4)
    # Oracle: the first of γ, γ/WIDEN², γ/WIDEN⁴, ... whose mean-1 features reach the floor, else the last.
    ls = np.asarray(plain.landmarks, np.float64)
    zs = (z[:n] - np.asarray(plain.shift)) * np.asarray(plain.inv_scale)
    d = ((zs[:, None] - ls[None]) ** 2).sum(-1)
    tails = []
    for step in range(MAX_WIDEN_STEPS + 1):
        raw = np.exp(-float(plain.gamma) / WIDEN ** (2 * step) * d)
        tails.append(_np_tail_value(raw / raw.mean(), 0.1))
    chosen = next((i for i, t in enumerate(tails) if t >= TAIL_FLOOR), MAX_WIDEN_STEPS)
    assert (chosen > 0) == widened
    np.testing.assert_allclose(adapted.gamma, float(plain.gamma) / WIDEN ** (2 * chosen), rtol=1e-5)
    t_adapted = _np_tail_value(np.asarray(rbf_features(adapted, zj[:n]), np.float64), 0.1)
    if max(tails) >= TAIL_FLOOR:
        assert t_adapted >= TAIL_FLOOR - 1e-4
    else:  # no step reaches the floor: the widest is kept
        assert chosen == MAX_WIDEN_STEPS and width == 0.05
    assert tails == sorted(tails)  # widening raises the tail value here
    for field in ("landmarks", "shift", "inv_scale"):
        np.testing.assert_array_equal(getattr(adapted, field), getattr(plain, field))
    fixed = fit_rbf_layer(jax.random.key(0), zj, nj, k, gamma=float(plain.gamma), nu=0.1)
    np.testing.assert_allclose(fixed.gamma, plain.gamma) and np.testing.assert_allclose(fixed.norm, plain.norm)
    if width == 0.5:
        assert 0 < chosen < MAX_WIDEN_STEPS and tails[0] < TAIL_FLOOR == 1.0  # the case it is for: w = 0 a possible minimum at the given width


def _along_the_mean(seed=0, d=8):
    """Normal rows around a positive mean μ; anomalies 2.5 μ further out along it (plus the same noise)."""
    r_ = np.random.default_rng(seed)
    mu = np.full(d, 3.0)
    normal = mu + r_.normal(size=(150, d))
    test = np.concatenate([mu + r_.normal(size=(100, d)), 2.5 * mu + r_.normal(size=(100, d))]).astype(np.float32)
    return normal.astype(np.float32), test, np.repeat([0, 1], 100)


def test_default_ranks_anomalies_further_out_along_the_normal_mean_as_anomalies():
    """The case that inverts a head that separates from the origin on raw features: a ŷ close to
    linear in z rates points further out along the normal mean as *more* normal. The RBF layer maps
    them near its origin (far from every landmark), so the default ranks them as anomalies."""
    from sklearn.metrics import roc_auc_score

    normal, test, is_anomaly = _along_the_mean()
    kw = dict(method="ocnn", seeds=[0], preprocessing="none", progress=False)
    default = ocnn_jax.fit(normal, **kw)
    assert roc_auc_score(is_anomaly, default.score(test)[0]) > 0.99
    # The paper's head (g linear, no kernel layer) on the same features inverts it.
    paper_head = ocnn_jax.fit(normal, features="input", kernel="none", g="linear", **kw)
    assert roc_auc_score(is_anomaly, paper_head.score(test)[0]) < 0.2


def test_default_detects_anomalies_around_centred_tabular_data():
    """Standardised (centred) features: the normal class sits at the origin and anomalies lie all
    around it, which no hyperplane through the origin separates. The default still detects them."""
    from sklearn.metrics import roc_auc_score

    r_ = np.random.default_rng(1)
    x = np.concatenate([r_.normal(size=(150, 6)), 3.0 * r_.normal(size=(80, 6))]).astype(np.float32)
    y = np.repeat([0, 1], [150, 80])
    model = ocnn_jax.fit(x[:100], method="ocnn", seeds=[0, 1], progress=False)  # floored standardising
    assert model.preprocessing.mode == "standardize_floor"
    for s in model.score(x[100:]):
        assert roc_auc_score(y[100:], s) > 0.9


def test_degeneracy_check_fires_on_a_degenerate_head_and_stays_quiet_on_a_good_one():
    """Unit-norm features with the paper's linear head: the objective's only minimiser is w = 0
    (docs/algorithms.md §2), so the head shrinks and the check raises, naming run, class and seed.
    The default representation on the same rows separates them from the origin and passes."""
    from ocnn_jax import OCNNDegenerateError

    r_ = np.random.default_rng(2)
    x = np.abs(r_.normal(size=(80, 6))) + 0.1
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    y = np.repeat([0, 1], 40)
    kw = dict(method="ocnn", normal_classes=[0, 1], seeds=[0, 3], preprocessing="none", progress=False)
    with pytest.warns(ocnn_jax.TooFewStepsWarning):
        with pytest.raises(OCNNDegenerateError, match=r"model 3 \(normal class 1, seed 3\)") as err:
            ocnn_jax.fit(x, y, features="input", kernel="none", g="linear", epochs=600, lr=1e-2, **kw)
    assert err.value.model_indices == [0, 1, 2, 3] and err.value.model.n_runs == 4
    assert all(o >= -1e-3 for o in err.value.objectives)
    good = ocnn_jax.fit(x, y, **kw)  # default: RBF layer, g = tanh, >= MIN_STEPS steps
    assert np.all(good.train_metrics["train/objective"][:, -1] < -0.1)


def test_paper_exact_configuration_equals_the_numpy_oracle():
    """PAPER_OCNN through fit: the head ŷ = ⟨w, V z⟩ on the frozen pretrained codes (no kernel layer);
    scores r − ŷ and r = np.quantile(ŷ_train, ν) recomputed in NumPy from the model's variables."""
    r_ = np.random.default_rng(5)
    x = r_.normal(size=(60, D)).astype(np.float32)
    model = ocnn_jax.fit(x, method="ocnn", seeds=[1], epochs=4, batch_size=16, pretrain_epochs=2,
                         pretrain_batch_size=16, progress=False, check_collapse=False, **PAPER_OCNN)
    v = jax.tree.map(lambda a: a[0], model.variables)
    assert "kernel" not in v and model.config.kernel == "none"
    xp = model.preprocess(x)
    z = np.asarray(apply_eval(model.backbone.encoder, v["params"]["encoder"], v["batch_stats"], jnp.asarray(xp)), np.float64)
    head = {k: np.asarray(a, np.float64) for k, a in v["params"]["head"].items()}
    y_hat = z @ head["V"].T @ head["w"]
    np.testing.assert_allclose(v["r"], np.quantile(y_hat, 0.1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.score(x)[0], v["r"] - y_hat, rtol=1e-4, atol=1e-4)


def test_default_runs_vmapped_over_classes_and_seeds_equal_runs_one_by_one(tmp_path):
    """classes × seeds in one vmapped program == each (class, seed) fitted alone (RBF layer included:
    each run draws its own landmarks from its own class); the fitted layer survives save/load."""
    r_ = np.random.default_rng(6)
    x = np.concatenate([r_.normal(size=(40, 5)), r_.normal(2.0, 1.0, size=(30, 5))]).astype(np.float32)
    y = np.repeat([0, 1], [40, 30])
    kw = dict(method="ocnn", epochs=20, batch_size=10, progress=False, check_collapse=False)
    both = ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=[0, 1], model_axis="vmap", **kw)
    assert both.config.landmarks == 30  # the default K = 256, lowered to the smallest class
    scores = both.score(x)
    for i in (0, 3):  # (class 0, seed 0) and (class 1, seed 1); K = 30 for the single fits too (same landmarks)
        run = both.runs[i]
        alone = ocnn_jax.fit(x[y == run["normal_class"]], seeds=[run["seed"]], landmarks=30, **kw)
        np.testing.assert_allclose(scores[i], alone.score(x)[0], rtol=2e-4, atol=2e-4)
        np.testing.assert_allclose(both.train_metrics["train/r"][i], alone.train_metrics["train/r"][0], rtol=2e-4,
                                   atol=1e-5)
    loaded = ocnn_jax.load(both.save(tmp_path / "rbf"))
    np.testing.assert_array_equal(loaded.score(x), scores)
    assert set(loaded.variables["kernel"]) == {"landmarks", "shift", "inv_scale", "gamma", "norm"}


def test_lenet_default_reads_the_encoder_body_and_scores_like_the_numpy_oracle(tmp_path):
    """MNIST-shaped images (the LeNet family): z is the encoder body's flattened output, exactly the input
    of the code layer (z @ W_code = the code); the score is r − ⟨w, tanh(V φ(z))⟩ with the stored RBF
    layer (NumPy oracle); the model round-trips; fine-tuning trains the encoder through the body."""
    r_ = np.random.default_rng(8)
    x = r_.random((70, 28, 28)).astype(np.float32)
    x[40:, 7:21, 7:21] += 1.0  # class 1: a bright square
    y = np.repeat([0, 1], [40, 30])
    kw = dict(method="ocnn", seeds=[0], epochs=2, batch_size=10, pretrain_epochs=1, pretrain_batch_size=10,
              progress=False, check_collapse=False)
    model = ocnn_jax.fit(x, y, normal_classes=[0, 1], **kw)
    cfg = model.config
    assert (cfg.features, cfg.landmarks, cfg.rbf_scale) == ("encoder_body", 30, "none")
    assert model.variables["kernel"]["landmarks"].shape == (2, 30, 196)  # 7 x 7 x 4 body of the MNIST LeNet
    v = jax.tree.map(lambda a: np.asarray(a[1]), model.variables)  # run 1: normal class 1
    xp = jnp.asarray(model.preprocess(x, normal_class=1))
    enc = v["params"]["encoder"]
    z = np.asarray(ocnn_features(model.backbone, cfg, enc, v["batch_stats"], xp), np.float64)
    codes = np.asarray(apply_eval(model.backbone.encoder, enc, v["batch_stats"], xp), np.float64)
    np.testing.assert_allclose(z @ np.asarray(enc["code"]["kernel"], np.float64), codes, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(v["kernel"]["inv_scale"], np.ones(196))
    oracle = float(v["r"]) - _np_output(v["params"]["head"], _np_rbf(v["kernel"], z), "tanh")
    np.testing.assert_allclose(model.score(x)[1], oracle, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(ocnn_jax.load(model.save(tmp_path / "body")).score(x), model.score(x))
    # Run 0 (class 0, seed 0) kept its pretrained encoder; the same run fine-tuned moves it.
    tuned = ocnn_jax.fit(x[y == 0], finetune_encoder=True, **kw)
    frozen = jax.tree.map(lambda a: np.asarray(a[0]), model.variables["params"]["encoder"])
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a[0]) - b))),
                                         tuned.variables["params"]["encoder"], frozen))
    assert max(moved) > 1e-4 and np.all(np.isfinite(tuned.score(x)))  # 8 Adam steps at lr 1e-4; float noise ~1e-6


def test_encoder_body_needs_an_encoder_that_exposes_its_body():
    import flax.linen as nn

    class Plain(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            return nn.Dense(4, use_bias=False)(x.reshape(x.shape[0], -1))

    x = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    with pytest.raises(ValueError, match=r"features='encoder_body' needs an encoder that sows its body output"):
        ocnn_jax.fit(x, method="ocnn", encoder=Plain(), features="encoder_body", pretrain=None, epochs=1,
                     batch_size=10, progress=False, check_collapse=False)
