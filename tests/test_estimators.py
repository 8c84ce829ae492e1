"""The PyOD-style estimators: parameters (get/set_params, clone, Pipeline), fit → scores / labels /
probabilities / confidences with PyOD's definitions, and the optional PyOD registration."""

import importlib.util
import pickle
import sys

import numpy as np
import pytest
from scipy.special import erf
from scipy.stats import binom
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import ocnn_jax
from ocnn_jax.frontend import ESTIMATORS, BaseDetector
from ocnn_jax.frontend._outlier_math import contamination_threshold, outlier_confidence, outlier_proba

CLASSES = [ocnn_jax.DeepSVDD, ocnn_jax.OCNN, ocnn_jax.RCAE, ocnn_jax.DCAE, ocnn_jax.OCSVM, ocnn_jax.IForest, ocnn_jax.KDE]
SHALLOW = [ocnn_jax.OCSVM, ocnn_jax.IForest, ocnn_jax.KDE]


def _data(seed=0):
    r = np.random.default_rng(seed)
    train = r.normal(0.0, 1.0, (120, 5)).astype(np.float32)
    test = np.concatenate([r.normal(0.0, 1.0, (40, 5)), r.normal(5.0, 1.0, (20, 5))]).astype(np.float32)
    return train, test, np.array([0] * 40 + [1] * 20)


# ---------------------------------------------------------------------------------------------------
# PyOD's formulas, transcribed (per-sample loops as in pyod.models.base), on fixed scores.
def _pyod_linear(train, test):
    p = MinMaxScaler().fit(train.reshape(-1, 1)).transform(test.reshape(-1, 1)).ravel().clip(0, 1)
    return np.stack([1 - p, p], axis=1)


def _pyod_unify(train, test):
    p = erf((test - np.mean(train)) / (np.std(train) * np.sqrt(2))).clip(0, 1)
    return np.stack([1 - p, p], axis=1)


def _pyod_confidence(train, test, contamination):
    n = len(train)
    threshold = np.percentile(train, 100 * (1 - contamination))
    counts = np.array([np.count_nonzero(train <= s) for s in test])
    posterior = (1 + counts) / (2 + n)
    conf = np.array([1 - binom.cdf(n - int(n * contamination), n, p) for p in posterior])
    pred = (test > threshold).astype(int)
    conf[pred == 0] = 1 - conf[pred == 0]
    return conf


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.3])
def test_probability_and_confidence_match_pyod_formulas(contamination):
    r = np.random.default_rng(1)
    train = r.gamma(2.0, 1.0, 200)
    test = np.concatenate([r.gamma(2.0, 1.0, 50), [train.min() - 1, train.max() + 1, np.median(train)], train[:5]])
    np.testing.assert_allclose(outlier_proba(train, test, "linear"), _pyod_linear(train, test), atol=1e-12)
    np.testing.assert_allclose(outlier_proba(train, test, "unify"), _pyod_unify(train, test), atol=1e-12)
    threshold = contamination_threshold(train, contamination)
    assert threshold == pytest.approx(np.percentile(train, 100 * (1 - contamination)))
    np.testing.assert_allclose(outlier_confidence(train, test, threshold, contamination),
                               _pyod_confidence(train, test, contamination), atol=1e-12)
    with pytest.raises(ValueError, match="method must be one of"):
        outlier_proba(train, test, "softmax")


# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES)
def test_params_clone_and_set_params_round_trip(cls):
    est = cls(contamination=0.05, n_seeds=2, random_state=7, verbose=False)
    params = est.get_params()
    assert params["contamination"] == 0.05 and params["n_seeds"] == 2 and params["random_state"] == 7
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    twin.set_params(contamination=0.2)
    assert twin.contamination == 0.2 and est.contamination == 0.05
    assert "contamination=0.05" in repr(est)
    with pytest.raises(TypeError, match="unexpected parameter"):
        cls(not_a_parameter=1)
    pipe = make_pipeline(StandardScaler(), cls(verbose=False))
    assert clone(pipe).get_params()[f"{cls.__name__.lower()}__contamination"] == 0.1


def test_every_method_has_an_estimator():
    assert set(ESTIMATORS) == set(ocnn_jax.METHODS)
    assert all(issubclass(c, BaseDetector) for c in ESTIMATORS.values())


def test_parameters_become_fit_overrides():
    svdd = ocnn_jax.DeepSVDD(objective="soft-boundary", batch_size=16, lr=1e-3, epochs=3, contamination=0.2)
    assert svdd._method_name() == "soft_boundary"
    kw = svdd._fit_kwargs()
    assert kw["nu"] == 0.2 and kw["epochs"] == 3 and "pretrain_epochs" not in kw
    assert kw["batch_size"] == kw["pretrain_batch_size"] == 16 and kw["lr"] == kw["pretrain_lr"] == 1e-3
    rcae = ocnn_jax.RCAE(lam=0.5, outer_iterations=2, epochs_per_iteration=3, config={"penalty": "l21", "nu": 0.05})
    kw = rcae._fit_kwargs()
    assert (kw["lam"], kw["outer_iterations"], kw["epochs_per_iteration"], kw["nu"], kw["penalty"]) == (0.5, 2, 3, 0.05, "l21")
    assert ocnn_jax.OCSVM(gamma=0.25)._fit_kwargs()["gammas"] == (0.25,)
    assert ocnn_jax.KDE(bandwidth=2.0)._fit_kwargs()["bandwidths"] == (2.0,)
    assert ocnn_jax.OCNN(batch_size=8, config={"batch_size": 4})._fit_kwargs()["batch_size"] == 4  # config wins
    with pytest.raises(ValueError, match="objective"):
        ocnn_jax.DeepSVDD(objective="hard")._method_name()


@pytest.mark.parametrize("cls", SHALLOW)
def test_shallow_estimators_fit_in_a_pipeline(cls):
    train, test, truth = _data()
    pipe = make_pipeline(StandardScaler(), cls(contamination=0.1, verbose=False)).fit(train)
    det = pipe[-1]
    assert det.decision_scores_.shape == (120,) and det.labels_.shape == (120,)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))
    assert abs(det.labels_.mean() - 0.1) <= 0.02
    scores = pipe.decision_function(test)
    assert roc_auc_score(truth, scores) > 0.95
    np.testing.assert_array_equal(pipe.predict(test), (scores > det.threshold_).astype(int))
    for method in ("linear", "unify"):
        np.testing.assert_allclose(pipe.predict_proba(test, method=method),
                                   outlier_proba(det.decision_scores_, scores, method))
    conf = pipe[-1].predict_confidence(StandardScaler().fit(train).transform(test))
    np.testing.assert_allclose(conf, _pyod_confidence(det.decision_scores_, scores, 0.1), atol=1e-12)
    labels, conf2 = det.predict(pipe[0].transform(test), return_confidence=True)
    np.testing.assert_allclose(conf2, conf)


def test_a_deep_estimator_in_a_pipeline_and_cloned():
    train, test, truth = _data()
    est = ocnn_jax.OCNN(contamination=0.1, n_seeds=2, epochs=20, batch_size=30, lr=1e-2, verbose=False)
    pipe = make_pipeline(StandardScaler(), est).fit(train)
    assert pipe[-1].model_.n_runs == 2 and [r["seed"] for r in pipe[-1].model_.runs] == [0, 1]
    scores = pipe.decision_function(test)
    np.testing.assert_allclose(scores, pipe[-1].model_.score(pipe[0].transform(test)).mean(axis=0), rtol=1e-6)
    assert roc_auc_score(truth, scores) > 0.9
    assert set(np.unique(pipe.predict(test))) <= {0, 1}
    proba = pipe.predict_proba(test, method="unify")
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1)
    assert not hasattr(clone(pipe)[-1], "model_")
    twin = pickle.loads(pickle.dumps(pipe))  # joblib / pickle: the compiled scorer is rebuilt on use
    np.testing.assert_array_equal(twin.decision_function(test), scores)


def test_bad_input_and_unfitted_use():
    train, _, _ = _data()
    with pytest.raises(RuntimeError, match="not fitted"):
        ocnn_jax.KDE().predict(train)
    with pytest.raises(ValueError, match="contamination"):
        ocnn_jax.KDE(contamination=0.7).fit(train)
    with pytest.raises(ValueError, match="n_seeds"):
        ocnn_jax.IForest(n_seeds=0).fit(train)
    with pytest.raises(ValueError, match="verbose"):
        ocnn_jax.IForest(verbose="loud").fit(train)
    with pytest.raises(TypeError, match="config"):
        ocnn_jax.IForest(config=[1]).fit(train)


def test_verbose_auto_follows_the_terminal(monkeypatch):
    from ocnn_jax.frontend._estimator import _resolve_verbose

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stderr", Stream(True))
    assert _resolve_verbose("auto") is True
    monkeypatch.setattr(sys, "stderr", Stream(False))
    assert _resolve_verbose("auto") is False
    assert _resolve_verbose(True) is True and _resolve_verbose(False) is False
    monkeypatch.setitem(sys.modules, "ipykernel", object())  # a Jupyter kernel: interactive too
    assert _resolve_verbose("auto") is True


@pytest.mark.skipif(importlib.util.find_spec("pyod") is None, reason="PyOD not installed (extra 'pyod')")
def test_pyod_registration_and_pyod_own_formulas():
    from ocnn_jax.frontend.pyod_adapter import register

    base = register()
    assert issubclass(ocnn_jax.OCNN, base) and isinstance(ocnn_jax.KDE(), base)
    train, test, _ = _data()
    det = ocnn_jax.IForest(verbose=False).fit(train)

    class Fixed(base):  # PyOD's own BaseDetector methods on our detector's scores
        def __init__(self, contamination=0.1):
            super().__init__(contamination=contamination)

        def fit(self, X, y=None):
            self.decision_scores_ = det.decision_scores_
            self._process_decision_scores()
            self._set_n_classes(None)
            return self

        def decision_function(self, X):
            return det.decision_function(X)

    ref = Fixed().fit(train)
    assert ref.threshold_ == pytest.approx(det.threshold_)
    np.testing.assert_array_equal(ref.labels_, det.labels_)
    for method in ("linear", "unify"):
        np.testing.assert_allclose(det.predict_proba(test, method=method), ref.predict_proba(test, method=method))
    np.testing.assert_allclose(det.predict_confidence(test), ref.predict_confidence(test))


# ---------------------------------------------------------------------------------------------------
def test_evaluate_returns_auroc_by_default_and_aupr_on_request():
    from sklearn.metrics import average_precision_score

    train, test, truth = _data()
    y = np.r_[np.zeros(120, int), np.ones(5, int)]
    x = np.concatenate([train, test[-5:]])
    model = ocnn_jax.fit(x, y, method="kde", normal_classes=[0, 1], seeds=[0, 1], progress=False)
    scores = model.score(test)
    labels = np.r_[np.zeros(40, int), np.ones(20, int)]
    auroc = model.evaluate(test, y=labels)
    assert auroc.shape == (4,)
    gt = model.anomaly_labels(labels)
    np.testing.assert_allclose(auroc, [roc_auc_score(gt[i], scores[i]) for i in range(4)])
    aupr = model.evaluate(test, y=labels, metric="aupr")
    np.testing.assert_allclose(aupr, [average_precision_score(gt[i], scores[i]) for i in range(4)])
    both = model.evaluate_scores(scores, truth, metrics=("auroc", "aupr"))
    assert list(both) == ["auroc", "aupr"]
    np.testing.assert_allclose(both["aupr"], [average_precision_score(truth, s) for s in scores])
    with pytest.raises(ValueError, match="metric must be among"):
        model.evaluate(test, truth, metric="f1")
    with pytest.raises(ValueError, match="metrics must be among"):
        model.evaluate(test, truth, metrics=())
