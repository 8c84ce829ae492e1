"""Shallow baselines through ``fit``: each method's default preprocessing (recorded in the model), the
documented label-free hyperparameter rules, seeds, thresholds, save/load, bad input."""

import numpy as np
import pytest
from sklearn.neighbors import KernelDensity
from sklearn.svm import OneClassSVM

import ocnn_jax
from ocnn_jax.frontend import ShallowModel
from ocnn_jax.datasets.preprocess import fit_standardize_floor
from ocnn_jax.methods.ocnn import CIFAR_NU
from ocnn_jax.methods.registry import CIFAR_KDE_PCA, SHALLOW_PREPROCESSING, default_config
from ocnn_jax.methods.shallow import holdout_split, scale_gamma


def _images(seed=0):
    """Two 'classes' of 6×6 images (a bright block top-left / bottom-right) plus noise."""
    r = np.random.default_rng(seed)
    x = r.random((120, 6, 6)).astype(np.float32) * 0.3
    x[:60, :3, :3] += 0.7
    x[60:, 3:, 3:] += 0.7
    return x, np.repeat([0, 1], 60)


@pytest.fixture(scope="module", params=["ocsvm", "isoforest", "kde"])
def fitted(request):
    x, y = _images()
    return request.param, ocnn_jax.fit(x, y, method=request.param, normal_classes=[0, 1], seeds=[3, 4], progress=False), x, y


def test_fit_score_evaluate_predict_and_round_trip(fitted, tmp_path):
    method, model, x, y = fitted
    assert isinstance(model, ShallowModel) and model.method == method and model.n_runs == 4
    assert model.runs == [{"normal_class": c, "seed": s} for c in (0, 1) for s in (3, 4)]
    scores = model.score(x)
    assert scores.shape == (4, 120) and scores.dtype == np.float32
    assert np.all(model.evaluate(x, y=y) > 0.99)
    fresh, y_fresh = _images(seed=1)
    flags = model.predict(fresh[y_fresh == 0])[:2]  # unseen normals (a small-h KDE memorises its own)
    if method == "isoforest":  # sklearn's own "auto" outlier rule (on these uniform-noise pixels it flags most)
        for i in range(2):
            xp = model.preprocess(fresh[y_fresh == 0], 0).reshape(int((y_fresh == 0).sum()), -1)
            np.testing.assert_array_equal(flags[i], model.estimators[i].predict(xp) == -1)
    else:
        assert 0.0 < flags.mean() < 0.3  # ≈ ν
    np.testing.assert_array_equal(model.predict(x), scores > model.thresholds[:, None])
    loaded = ocnn_jax.load(model.save(tmp_path / method))  # refits from the stored rows + hyperparameters
    np.testing.assert_allclose(loaded.score(x), scores, rtol=1e-5, atol=1e-6)
    assert loaded.config == model.config and loaded.runs == model.runs
    np.testing.assert_array_equal(loaded.thresholds, model.thresholds)


def test_default_preprocessing_per_method_is_recorded_and_used(fitted):
    """"auto" is the method's own default: raw [0, 1] pixels for OC-SVM and Isolation Forest on images,
    GCN + min-max for KDE (as the deep methods); the mode is recorded in the model, and the estimators
    are fitted on exactly the rows that mode gives (= fit(..., preprocessing=mode) of a deep method)."""
    method, model, x, y = fitted
    expected = {"ocsvm": "none", "isoforest": "none", "kde": "gcn_minmax"}[method]
    assert model.preprocessing.mode == expected == SHALLOW_PREPROCESSING[method][0]
    deep = ocnn_jax.fit(x, y, method="dcae", normal_classes=[0, 1], seeds=1, epochs=1, batch_size=30, progress=False,
                        preprocessing=expected)
    assert deep.preprocessing.mode == expected
    assert ocnn_jax.fit(x, y, method="dcae", normal_classes=[0], seeds=1, epochs=0, progress=False,
                        batch_size=30).preprocessing.mode == "gcn_minmax"  # deep methods keep Ruff's preprocessing
    for c in (0, 1):
        np.testing.assert_array_equal(model.preprocess(x, c), deep.preprocess(x, c))
        np.testing.assert_array_equal(model.train_data[c], deep.preprocess(x[y == c], c).reshape(60, -1))
    if expected == "none":
        np.testing.assert_array_equal(model.train_data[0], x[y == 0].reshape(60, -1))  # the raw pixels
    # Feature vectors: floored standardising for OC-SVM and KDE; the raw features for Isolation Forest.
    v = np.random.default_rng(0).normal(size=(50, 5)) * [1.0, 10.0, 1e-3, 100.0, 1.0]
    vec = ocnn_jax.fit(v, method=method, seeds=1, progress=False)
    assert vec.preprocessing.mode == SHALLOW_PREPROCESSING[method][1]
    want = fit_standardize_floor(v.astype(np.float32))(v) if method != "isoforest" else v.astype(np.float32)
    np.testing.assert_allclose(vec.train_data[0], want, rtol=1e-5, atol=1e-6)
    # An explicit mode wins over the default.
    assert ocnn_jax.fit(x, y, method=method, normal_classes=[0], seeds=1, progress=False,
                        preprocessing="standardize").preprocessing.mode == "standardize"


@pytest.mark.parametrize("method", ["ocsvm", "isoforest", "kde"])
def test_cifar_family_defaults_differ_only_where_documented(method, tmp_path):
    """On 32×32×3 images (the CIFAR-10 family) OC-SVM takes ν = 0.5 (OC-NN's CIFAR_NU) and KDE a PCA
    keeping 95 % of the variance; on 28×28 grey images every baseline keeps its default. Both are recorded
    in the model, and an explicit value still wins."""
    r = np.random.default_rng(0)
    colour = r.random((24, 32, 32, 3)).astype(np.float32)
    grey = r.random((24, 28, 28)).astype(np.float32)
    c = ocnn_jax.fit(colour, method=method, seeds=1, progress=False)
    g = ocnn_jax.fit(grey, method=method, seeds=1, progress=False)
    assert c.config.nu == (CIFAR_NU if method == "ocsvm" else 0.1) and CIFAR_NU == 0.5
    assert g.config.nu == 0.1 and g.config == default_config("mnist_lenet", method) == default_config(None, method)
    assert c.config == default_config("cifar_lenet", method)
    assert c.config.pca == (CIFAR_KDE_PCA if method == "kde" else None) and CIFAR_KDE_PCA == 0.95
    assert g.config.pca is None
    assert c.preprocessing.mode == g.preprocessing.mode == SHALLOW_PREPROCESSING[method][0]
    if method == "ocsvm":
        np.testing.assert_allclose(c.estimators[0].nu, 0.5)
        assert ocnn_jax.fit(colour, method=method, seeds=1, progress=False, nu=0.1).config.nu == 0.1
    if method == "kde":
        # the density lives on the components that keep 95 % of the GCN + min-max rows' variance
        pca = c.estimators[0].pca
        assert 1 <= pca.n_components_ < 24 and pca.explained_variance_ratio_.sum() >= 0.95
        assert c.train_data[0].shape == (24, 32 * 32 * 3)  # kept before the projection: refit after load redoes it
        c.save(str(tmp_path / "kde"))
        loaded = ocnn_jax.load(str(tmp_path / "kde"))
        assert loaded.config.pca == 0.95
        np.testing.assert_array_equal(loaded.score(colour[:5]), c.score(colour[:5]))
        assert ocnn_jax.fit(colour, method=method, seeds=1, progress=False, pca=None).config.pca is None


def test_standardize_floor_caps_the_weight_of_features_that_barely_vary():
    r = np.random.default_rng(1)
    x = np.column_stack([r.normal(0, 1, 200), r.normal(5, 100, 200), r.normal(0, 1e-3, 200), np.full(200, 7.0),
                         r.normal(0, 2, 200)])
    aff = fit_standardize_floor(x)
    std = x.std(0)
    floor = np.median(std[std > 1e-8])  # median over the varying features: 1.0-ish, 2, 100, 1e-3 -> between
    np.testing.assert_allclose(aff.shift, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(aff.inv_scale, 1.0 / np.maximum(std, floor), rtol=1e-6)
    assert aff.inv_scale[2] == aff.inv_scale[3] == pytest.approx(1.0 / floor)  # tiny and zero spread: floored
    assert aff.inv_scale[1] == pytest.approx(1.0 / std[1])  # wide features are still put on one scale


def test_ocsvm_and_kde_selection_follow_the_documented_rule(fitted):
    """γ: 1/(d·Var(X)) of the run's training rows (scikit-learn's "scale"); h: best held-out
    log-likelihood, only the run's own normal training rows used, split by the run's seed."""
    method, model, x, _ = fitted
    if method == "isoforest":
        est = model.estimators[1]
        assert est.n_estimators == 100 and est.random_state == 4 and est.contamination == "auto"
        np.testing.assert_allclose(model.thresholds, [-e.offset_ for e in model.estimators])
        assert not np.array_equal(*model.score(x[:5])[:2])  # seeds 3 and 4 grow different forests
        return
    cfg = model.config
    for i, (c, seed) in enumerate(zip(model.run_class_index, model.run_seeds)):
        data = model.train_data[c]
        fit_rows, held = holdout_split(len(data), cfg.holdout_fraction, int(seed))
        assert len(held) == 12 and not set(fit_rows) & set(held)
        if method == "ocsvm":
            assert model.variables["gamma"][i] == pytest.approx(1.0 / (data.shape[1] * data.astype(np.float64).var()))
            assert model.thresholds[i] == 0.0
            ref = OneClassSVM(nu=cfg.nu, gamma="scale").fit(data)  # scikit-learn's own rule, same γ
            assert ref._gamma == pytest.approx(model.variables["gamma"][i], rel=1e-5)
            np.testing.assert_allclose(model.score(x)[i], -ref.decision_function(model.preprocess(x, int(c)).reshape(len(x), -1)),
                                       rtol=1e-4, atol=1e-5)
        else:
            ll = [KernelDensity(bandwidth=h).fit(data[fit_rows]).score_samples(data[held]).mean() for h in cfg.bandwidths]
            assert model.variables["bandwidth"][i] == cfg.bandwidths[int(np.argmax(ll))]
    assert not np.array_equal(*(holdout_split(60, 0.2, s)[1] for s in (3, 4)))  # the seed drives the split


def test_ocsvm_heldout_gamma_rule_is_still_available():
    """gamma_rule="heldout" (Ruff's grid): the γ whose held-out acceptance is closest to 1 − ν."""
    x, y = _images()
    model = ocnn_jax.fit(x, y, method="ocsvm", normal_classes=[1], seeds=[5], gamma_rule="heldout", progress=False)
    cfg, data = model.config, model.train_data[0]
    fit_rows, held = holdout_split(len(data), cfg.holdout_fraction, 5)
    gaps = [abs(np.mean(OneClassSVM(nu=cfg.nu, gamma=g).fit(data[fit_rows]).decision_function(data[held]) >= 0)
                - (1 - cfg.nu)) for g in cfg.gammas]
    assert model.variables["gamma"][0] == cfg.gammas[int(np.argmin(gaps))]
    assert scale_gamma(np.ones((4, 3))) == 1.0  # constant data: no division by 0


def test_ocsvm_with_one_gamma_uses_it_under_either_rule():
    """A one-value ``gammas`` (what ``OCSVM(gamma=...)`` passes) is the γ of the fit, equal to scikit-learn's
    OneClassSVM at that γ on the same inputs; the default "scale" rule used to ignore it."""
    x, y = _images()
    for rule in ("scale", "heldout"):
        model = ocnn_jax.fit(x, y, method="ocsvm", normal_classes=[1], seeds=[0], gammas=(0.37,), gamma_rule=rule,
                             preprocessing="none", progress=False)
        assert model.variables["gamma"][0] == pytest.approx(0.37)
        data = model.train_data[0]
        ref = -OneClassSVM(nu=model.config.nu, gamma=0.37).fit(data).decision_function(data)
        np.testing.assert_allclose(np.asarray(model.score(x[y == 1]))[0], ref, rtol=1e-4, atol=1e-6)
    small, large = (ocnn_jax.OCSVM(gamma=g).fit(x[y == 1]).decision_function(x[:5]) for g in (1e-3, 5.0))
    assert not np.allclose(small, large)
    with pytest.raises(ValueError, match="gamma_rule='scale'.*does not search"):
        ocnn_jax.fit(x, method="ocsvm", gammas=(0.1, 1.0), progress=False)


def test_shallow_config_and_bad_input():
    cfg = ocnn_jax.default_config(None, "ocsvm")
    assert cfg.gamma_rule == "scale" and cfg.gammas == tuple(2.0**k for k in range(-10, 0))
    assert cfg.bandwidths[0] == 2.0**-5 and cfg.bandwidths[-1] == 2.0**5 and len(cfg.bandwidths) == 21
    x, _ = _images()
    for kwargs, exc, match in [
        ({"encoder": "mlp"}, ValueError, r"\['encoder'\] do not apply to the shallow method 'kde'"),
        ({"epochs": 3}, TypeError, r"unknown config option\(s\) \['epochs'\] for ShallowConfig"),
        ({"nu": 1.5}, ValueError, r"nu must lie in \(0, 1\]"),
        ({"gammas": []}, ValueError, r"gammas must be a non-empty sequence"),
        ({"bandwidths": [0.1, -1]}, ValueError, r"bandwidths must be a finite number > 0"),
        ({"holdout_fraction": 0.9}, ValueError, r"holdout_fraction must lie in \(0, 0.5\]"),
        ({"gamma_rule": "median"}, ValueError, r"gamma_rule must be one of \('scale', 'heldout'\)"),
    ]:
        with pytest.raises(exc, match=match):
            ocnn_jax.fit(x, method="kde", progress=False, **kwargs)


def test_compare_cli_prints_one_column_per_method(tmp_path, capsys):
    import json

    from ocnn_jax.cli import _parse_sets, main

    out = tmp_path / "cmp.json"
    assert main(["compare", "--methods", "ocsvm,kde", "--classes", "0,1", "--seeds", "2", "--no-progress",
                 "--set", "kde.holdout_fraction=0.25", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for token in ("OC-SVM (RBF)", "KDE", "mean", "seeds [0, 1]"):
        assert token in printed
    result = json.loads(out.read_text())
    assert result["classes"] == [0, 1] and set(result["methods"]) == {"ocsvm", "kde"}
    assert result["methods"]["kde"]["config"] == {"holdout_fraction": 0.25}
    assert _parse_sets(["rcae.lam=[0.1,inf]", "ocnn.g=sigmoid"]) == {"rcae": {"lam": [0.1, float("inf")]},
                                                                  "ocnn": {"g": "sigmoid"}}
    with pytest.raises(ValueError, match="METHOD.KEY=VALUE"):
        _parse_sets(["epochs=3"])


@pytest.mark.parametrize("bandwidth", [2.0**-5, 0.3, 1.0, 2.0**5])
def test_gaussian_kde_equals_sklearn_kernel_density(bandwidth):
    from ocnn_jax.methods.shallow import GaussianKDE

    rng = np.random.default_rng(11)
    train = rng.normal(size=(57, 9))
    query = np.concatenate([rng.normal(size=(40, 9)), train[:5], 4.0 + rng.normal(size=(3, 9))])
    want = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(train).score_samples(query)
    got = GaussianKDE(bandwidth, block_rows=7).fit(train).score_samples(query)  # several blocks
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())


def test_gaussian_kde_rejects_a_non_positive_bandwidth():
    from ocnn_jax.methods.shallow import GaussianKDE

    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        GaussianKDE(0.0)
