"""Public API: fit / score / predict / evaluate / save / load, the estimator, and every bad-input error."""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import ocnn_jax
from ocnn_jax.engine import resolve_run_axis
from ocnn_jax.frontend import collapsed

FAST_SVDD = dict(epochs=4, batch_size=16, lr=1e-3, progress=False)
FAST = dict(FAST_SVDD, pretrain_epochs=3, pretrain_batch_size=16, pretrain_lr=1e-3)


def _blobs(n=60, d=10, seed=0):
    """Two well separated 'classes' of tabular data plus far-away anomalies."""
    r = np.random.default_rng(seed)
    x0 = r.normal(0.0, 1.0, (n, d)).astype(np.float32)
    x1 = r.normal(4.0, 1.0, (n + 13, d)).astype(np.float32)
    return np.concatenate([x0, x1]), np.array([0] * n + [1] * (n + 13))


@pytest.fixture(scope="module")
def fitted():
    x, y = _blobs()
    return ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=2, **FAST), x, y


def test_fit_shapes_runs_and_one_vs_rest_auroc(fitted):
    model, x, y = fitted
    assert model.n_runs == 4
    assert [r["normal_class"] for r in model.runs] == [0, 0, 1, 1]
    assert [r["seed"] for r in model.runs] == [0, 1, 0, 1]
    scores = model.score(x)
    assert scores.shape == (4, len(x)) and scores.dtype == np.float32
    aucs = model.evaluate(x, y=y)
    # evaluate == sklearn on the continuous scores with anomaly = positive class
    truth = model.anomaly_labels(y)
    np.testing.assert_allclose(aucs, [roc_auc_score(truth[i], scores[i]) for i in range(4)])
    assert np.all(aucs > 0.95)
    np.testing.assert_allclose(model.evaluate(x, truth), aucs)


def test_predict_uses_the_learned_threshold(fitted):
    model, x, y = fitted
    flags = model.predict(x)
    assert flags.dtype == bool and flags.shape == (4, len(x))
    for i, run in enumerate(model.runs):
        train = x[y == run["normal_class"]]
        rate = model.predict(train)[i].mean()
        assert abs(rate - model.config.nu) < 0.06  # (1-ν)-quantile of training scores
    np.testing.assert_array_equal(flags, model.score(x) > model.thresholds[:, None])


def test_save_load_round_trip_gives_identical_scores(fitted, tmp_path):
    model, x, _ = fitted
    path = model.save(tmp_path / "detector")
    assert path.endswith(".npz")
    loaded = ocnn_jax.load(path)
    np.testing.assert_array_equal(loaded.score(x), model.score(x))
    np.testing.assert_array_equal(loaded.thresholds, model.thresholds)
    assert loaded.runs == model.runs and loaded.config == model.config
    for k, v in model.train_metrics.items():
        np.testing.assert_array_equal(loaded.train_metrics[k], v)


def test_load_rejects_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        ocnn_jax.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an ocnn_jax model file"):
        ocnn_jax.load(tmp_path / "other.npz")


def test_soft_boundary_predict_thresholds_at_the_radius():
    x, y = _blobs()
    model = ocnn_jax.fit(x[y == 0], method="soft_boundary", seeds=1, nu=0.1, warmup_epochs=1, **FAST)
    assert model.thresholds.tolist() == [0.0]
    r = float(model.variables["radius"][0])
    assert r > 0
    d = model.score(x[y == 0]) + r**2
    np.testing.assert_allclose(model.predict(x[y == 0]), d > r**2)


def test_images_get_gcn_minmax_and_uint8_is_scaled():
    r = np.random.default_rng(1)
    imgs = (r.random((40, 8, 8)) * 255).astype(np.uint8)
    model = ocnn_jax.fit(imgs, seeds=1, **FAST)
    assert model.preprocessing.mode == "gcn_minmax" and model.backbone.name == "mlp"
    z = model.preprocess(imgs)
    assert z.shape == (40, 8, 8, 1)
    assert z.min() == pytest.approx(0.0, abs=1e-6) and z.max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(model.score(imgs), model.score(imgs.astype(np.float32) / 255), rtol=1e-5, atol=1e-6)


def test_unequal_class_sizes_match_single_class_fits():
    """A class trained next to a larger one (padded) gives the same model as when fit alone."""
    x, y = _blobs()
    both = ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=[3], **FAST)
    alone = ocnn_jax.fit(x[y == 0], seeds=[3], **FAST)
    np.testing.assert_allclose(both.score(x)[0], alone.score(x)[0], rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize(
    "method, extra",
    [
        ("ocnn", dict(features="encoder", pretrain_epochs=2, pretrain_batch_size=16, pretrain_lr=1e-3,
                      check_collapse=False)),  # 3 epochs: the head has not separated yet
        ("rcae", dict(outer_iterations=2, epochs_per_iteration=2, lam=0.5, preprocessing="minmax")),
        ("dcae", dict(preprocessing="minmax")),
    ],
)
def test_new_methods_unequal_class_sizes_match_single_class_fits(method, extra):
    """OC-NN's full-set r and RCAE's N-step over a padded class equal those of the class alone."""
    x, y = _blobs()
    kw = {**FAST_SVDD, "epochs": 3, **extra}
    if method == "rcae":
        del kw["epochs"]  # T·E
    both = ocnn_jax.fit(x, y, method=method, normal_classes=[0, 1], seeds=[3], **kw)
    alone = ocnn_jax.fit(x[y == 0], method=method, seeds=[3], **kw)
    assert [r["normal_class"] for r in both.runs] == [0, 1]
    np.testing.assert_allclose(both.score(x)[0], alone.score(x)[0], rtol=2e-4, atol=1e-5)
    for k, v in alone.train_metrics.items():
        np.testing.assert_allclose(both.train_metrics[k][0], v[0], rtol=2e-4, atol=1e-5)


def test_estimator_pyod_style():
    x, y = _blobs()
    est = ocnn_jax.DeepSVDD(contamination=0.1, n_seeds=2, epochs=4, pretrain_epochs=3, batch_size=16,
                            lr=1e-3, config={"pretrain_batch_size": 16, "pretrain_lr": 1e-3})
    est.fit(x[y == 0])
    assert est.decision_scores_.shape == (60,)
    assert abs(est.labels_.mean() - 0.1) < 0.05
    pred = est.predict(x)
    assert set(np.unique(pred)) <= {0, 1}
    assert roc_auc_score(y == 1, est.decision_function(x)) > 0.95
    assert est.get_params()["contamination"] == 0.1
    with pytest.raises(RuntimeError, match="not fitted"):
        ocnn_jax.DeepSVDD().predict(x)
    with pytest.raises(ValueError, match="contamination"):
        ocnn_jax.DeepSVDD(contamination=0.7).fit(x)


# --------------------------------------------------------------------------------------------------
# Bad input: every error names the argument and says what was expected.
@pytest.mark.parametrize(
    "x, kwargs, exc, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), {}, ValueError, "x contains NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), {}, ValueError, "x contains inf"),
        (np.zeros(10), {}, ValueError, "x must have rank >= 2"),
        (np.zeros((0, 4)), {}, ValueError, "x is empty"),
        (np.zeros((1, 4)), {}, ValueError, "x has 1 sample"),
        (np.zeros((5, 2, 2, 2, 2, 2)), {}, ValueError, "rank 2, 3 or 4"),
        (np.array([["a", "b"], ["c", "d"]]), {}, TypeError, "x must hold numbers"),
        (np.zeros((10, 8, 8)), {"encoder": "mnist_lenet"}, ValueError, "input_shape"),
        (np.ones((10, 4)), {"nu": 0.0}, ValueError, r"nu must lie in \(0, 1\]"),
        (np.ones((10, 4)), {"nu": 1.5}, ValueError, r"nu must lie in \(0, 1\]"),
        (np.ones((10, 4)), {"method": "svm"}, ValueError, "method must be one of"),
        (np.ones((10, 4)), {"preprocessing": "zscore"}, ValueError, "preprocess must be one of"),
        (np.ones((10, 4)), {"seeds": 0}, ValueError, "seeds must be >= 1"),
        (np.ones((10, 4)), {"seeds": [1, 1]}, ValueError, "seeds contains duplicates"),
        (np.ones((10, 4)), {"epochs": -1}, ValueError, "epochs must be an int >= 0"),
        (np.ones((10, 4)), {"learning_rate": 1e-3}, TypeError, "unknown config option"),
        (np.ones((10, 4)), {"model_axis": "pmap"}, ValueError, "model_axis must be"),
        (np.ones((10, 4)), {"encoder": 3}, TypeError, "encoder must be"),
    ],
)
def test_bad_fit_input_raises_naming_the_argument(x, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ocnn_jax.fit(x, **{**FAST, **kwargs})


def test_bad_labels_and_classes():
    x, y = _blobs()
    with pytest.raises(ValueError, match=r"normal class 7 has 0 training sample\(s\)"):
        ocnn_jax.fit(x, y, normal_classes=[0, 7], **FAST)
    with pytest.raises(ValueError, match="y must have shape"):
        ocnn_jax.fit(x, y[:-1], **FAST)
    with pytest.raises(ValueError, match="normal_classes needs y"):
        ocnn_jax.fit(x, normal_classes=[0], **FAST)
    with pytest.raises(ValueError, match="normal_classes contains duplicates"):
        ocnn_jax.fit(x, y, normal_classes=[0, 0], **FAST)


def test_score_and_evaluate_input_errors(fitted):
    model, x, y = fitted
    with pytest.raises(ValueError, match=r"x has feature shape \(11,\) but the model was trained on \(10,\)"):
        model.score(np.zeros((3, 11)))
    with pytest.raises(ValueError, match="x contains NaN"):
        model.score(np.full((3, 10), np.nan))
    with pytest.raises(ValueError, match="only normals"):
        model.evaluate(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="y_is_anomaly must hold 0/1"):
        model.evaluate(x, np.full(len(x), 2))
    with pytest.raises(TypeError, match="exactly one of"):
        model.evaluate(x)
    with pytest.raises(ValueError, match=r"scores must have shape \(n_models="):
        model.evaluate_scores(np.zeros(len(x)), y=y)


def test_evaluate_scores_equals_evaluate(fitted):
    model, x, y = fitted
    np.testing.assert_array_equal(model.evaluate_scores(model.score(x), y=y), model.evaluate(x, y=y))


def test_batch_size_larger_than_smallest_class_is_clamped_with_warning():
    x, y = _blobs(n=12)
    with pytest.warns(UserWarning, match="exceeds the smallest normal class"):
        model = ocnn_jax.fit(x, y, normal_classes=[0, 1], seeds=1, **{**FAST, "batch_size": 200})
    assert model.config.train.batch_size == 12


def test_nan_loss_stops_with_an_error_naming_model_and_seed():
    x, _ = _blobs()
    with pytest.raises(ocnn_jax.TrainingDivergedError, match=r"model 0 \(normal class None, seed 5\)") as info:
        ocnn_jax.fit(x, seeds=[5, 6], **{**FAST, "lr": 1e30})
    assert info.value.model_indices == [0, 1]
    assert info.value.phase == "train" and info.value.epoch == 0
    assert info.value.runs[1] == {"normal_class": None, "seed": 6}


class ConstantEncoder(nn.Module):
    """Maps every input to the same point: a collapsed hypersphere by construction."""

    @nn.compact
    def __call__(self, x, train: bool):
        w = self.param("w", nn.initializers.zeros, (1, 4))
        return jnp.zeros((x.shape[0], 1)) @ w + 1.0


def test_collapsed_hypersphere_is_reported_with_the_model_attached():
    x, _ = _blobs()
    with pytest.raises(ocnn_jax.HypersphereCollapseError, match="hypersphere collapse") as info:
        ocnn_jax.fit(x, seeds=2, encoder=ConstantEncoder(), pretrain=False, **FAST_SVDD)
    assert info.value.model_indices == [0, 1]
    assert info.value.model.n_runs == 2
    model = ocnn_jax.fit(x, seeds=1, encoder=ConstantEncoder(), pretrain=False, check_collapse=False, **FAST_SVDD)
    assert np.ptp(model.score(x)) == 0.0


def test_custom_encoder_without_decoder_needs_pretrain_false():
    x, _ = _blobs()
    with pytest.raises(ValueError, match="pretrain=False"):
        ocnn_jax.fit(x, seeds=1, encoder=ConstantEncoder(), **FAST)
    with pytest.raises(ValueError, match="pretraining is disabled"):
        ocnn_jax.fit(x, seeds=1, encoder=ConstantEncoder(), pretrain=False, **FAST)


def test_collapse_rule():
    assert collapsed(np.zeros(10))
    assert collapsed(np.full(10, 3.0))
    assert collapsed(np.array([1.0, np.nan]))
    assert not collapsed(np.array([1.0, 1.001]))
    assert not collapsed(np.array([1e-9, 2e-9]))


def test_model_axis_resolution():
    assert resolve_run_axis("vmap", "mnist_lenet", 10) is None
    assert resolve_run_axis("map", "mlp", 10) == 1
    assert resolve_run_axis(4, "mlp", 10) == 4
    assert resolve_run_axis(40, "mlp", 10) is None
    assert resolve_run_axis("auto", "mlp", 10) is None
    with pytest.raises(ValueError, match="width must be >= 1"):
        resolve_run_axis(0, "mlp", 3)
