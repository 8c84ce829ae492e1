"""selection="paper": shallow baselines selected as Ruff et al. (2018) describe (OC-SVM γ on a labelled
10 % hold-out of the test set, evaluated on the rest; KDE bandwidth by k-fold CV; PCA 95 %), against
scikit-learn oracles."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

import ocnn_jax
from ocnn_jax.datasets import Dataset
from ocnn_jax.datasets.errors import DatasetError
from ocnn_jax.experiments._paper_selection import PAPER_GAMMAS, draw_test_holdout, paper_selection_runs
from ocnn_jax.methods.shallow import OCSVM, ShallowConfig, fit_estimator, gaussian_kde_log_density


def _vectors(n, seed):
    """Three 'classes' of 5-feature rows around different centres."""
    r = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (r.normal(size=(n, 5)) * 0.6 + np.eye(5)[y] * 2.0).astype(np.float32)
    return x, y


def _dataset():
    x, y = _vectors(150, 0)
    xt, yt = _vectors(120, 1)
    return Dataset(name="toy", x_train=x, y_train=y, x_test=xt, y_test=yt, classes=("a", "b", "c"), image_shape=None)


def test_test_holdout_is_seeded_and_holds_both_kinds_on_both_sides():
    anomalous = np.arange(200) % 10 != 0  # 20 normal rows
    held, rest = draw_test_holdout(anomalous, seed=3)
    assert len(held) == 20 and len(rest) == 180 and not set(held) & set(rest)
    for part in (held, rest):
        assert 0 < anomalous[part].sum() < len(part)
    np.testing.assert_array_equal(draw_test_holdout(anomalous, seed=3)[0], held)
    assert not np.array_equal(draw_test_holdout(anomalous, seed=4)[0], held)
    with pytest.raises(DatasetError, match="both normal and anomalous"):
        draw_test_holdout(np.r_[np.zeros(1, bool), np.ones(50, bool)], seed=0)


def test_ocsvm_paper_selection_equals_a_sklearn_oracle():
    """The γ with the best hold-out AUROC (first maximum over the ascending grid), then AUROC on the rest;
    the oracle fits scikit-learn's OneClassSVM on the same standardized, PCA-projected rows."""
    ds = _dataset()
    rows, scores, _, mode = paper_selection_runs(ds, "ocsvm", [1], [0, 5])
    assert mode == "standardize_floor" and scores.shape == (2, 120)
    m = ocnn_jax.fit(ds.x_train, ds.y_train, method="ocsvm", normal_classes=[1], seeds=[0], preprocessing=mode,
                     progress=False, gamma_rule="heldout", gammas=(1.0,))
    xtr = m.preprocess(ds.x_train[ds.y_train == 1], 1).reshape(50, -1)
    xte = m.preprocess(ds.x_test, 1).reshape(120, -1)
    pca = PCA(n_components=0.95, svd_solver="full").fit(xtr)
    anomalous = ds.y_test != 1
    for row, run_scores in zip(rows, scores):
        held, rest = draw_test_holdout(anomalous, row["seed"])
        oracle = [-OneClassSVM(nu=0.1, gamma=g).fit(pca.transform(xtr)).decision_function(pca.transform(xte))
                  for g in PAPER_GAMMAS]
        held_auc = [roc_auc_score(anomalous[held], o[held]) for o in oracle]
        g = int(np.argmax(held_auc))
        assert row["gamma"] == PAPER_GAMMAS[g] and row["holdout_auroc"] == pytest.approx(held_auc[g])
        assert row["auroc"] == pytest.approx(roc_auc_score(anomalous[rest], oracle[g][rest]), abs=1e-6)
        np.testing.assert_allclose(run_scores, oracle[g], rtol=1e-4, atol=1e-5)
        assert row["evaluation_rows"] == len(rest) == 108


def test_pca_projection_and_kfold_bandwidth_follow_their_definitions():
    x = np.random.default_rng(0).normal(size=(60, 6)) * np.array([3, 2, 1, 0.1, 0.1, 0.1])
    est, gamma, _ = fit_estimator(OCSVM, x, ShallowConfig(pca=0.9, gamma_rule="heldout", gammas=(0.5,)), seed=0)
    pca = PCA(n_components=0.9, svd_solver="full").fit(x)
    assert gamma == 0.5 and pca.n_components_ < 6
    ref = OneClassSVM(nu=0.1, gamma=0.5).fit(pca.transform(x)).decision_function(pca.transform(x))
    np.testing.assert_allclose(est.decision_function(x), ref, rtol=1e-6)
    cfg = ShallowConfig(bandwidths=(0.25, 1.0, 4.0), cv_folds=3)
    from ocnn_jax.methods.shallow import KDE
    chosen = KDE.select(x, cfg, 7)
    folds = np.array_split(np.random.default_rng(7).permutation(60), 3)
    means = np.mean([gaussian_kde_log_density(np.delete(x, f, 0), x[f], [0.25, 1.0, 4.0]).mean(axis=1) for f in folds], 0)
    assert chosen == [0.25, 1.0, 4.0][int(np.argmax(means))]
    with pytest.raises(ValueError, match="pca"):
        ShallowConfig(pca=1.0)
    with pytest.raises(ValueError, match="cv_folds"):
        ShallowConfig(cv_folds=0)


def test_sweep_records_the_paper_selection_and_refuses_it_for_deep_methods(tmp_path):
    ds = _dataset()
    res = ocnn_jax.sweep(ds, "kde", normal_classes=[0], seeds=1, selection="paper", progress=False, figures=False,
                         out_dir=str(tmp_path / "kde"))
    assert res["selection"] == "paper" and "selection='paper'" in res["protocol"]
    run = res["runs"][0]
    assert run["evaluation_rows"] == 108 and "bandwidth" in run and run["selection"] == "paper"
    assert res["config"]["cv_folds"] == 5 and res["config"]["pca"] == 0.95
    with pytest.raises(ValueError, match="shallow baselines"):
        ocnn_jax.sweep(ds, "deep_svdd", normal_classes=[0], seeds=1, selection="paper", progress=False)
    with pytest.raises(ValueError, match="selection must be one of"):
        ocnn_jax.sweep(ds, "kde", normal_classes=[0], seeds=1, selection="best", progress=False)


def test_a_pca_model_round_trips_through_its_file(tmp_path):
    ds = _dataset()
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method="isoforest", normal_classes=[2], seeds=[1], pca=0.9,
                         progress=False)
    loaded = ocnn_jax.load(model.save(tmp_path / "m"))
    assert loaded.config.pca == 0.9
    np.testing.assert_allclose(loaded.score(ds.x_test), model.score(ds.x_test), rtol=1e-6)
