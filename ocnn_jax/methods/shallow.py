"""Shallow baselines (OC-SVM, Isolation Forest, KDE from scikit-learn) behind the same ``fit`` API.

They run on the host, one estimator per (normal class, seed), on exactly the inputs the deep methods
see: ``ocnn_jax.fit`` fits the per-class preprocessing with the same code, and ``ShallowModel`` is a
``Model`` whose scores come from the estimators instead of a compiled scorer (``score`` /
``predict`` / ``evaluate`` / ``preprocess`` / ``save`` are inherited).

Hyperparameter selection (Ruff et al. 2018's grids; selection without test data or anomaly labels):
every run holds out ``cfg.holdout_fraction`` of its normal training rows (a split drawn with the
run's seed), picks the hyperparameter on that slice, then refits on all of its training rows.

* **ocsvm** — RBF ``OneClassSVM(nu=ν, gamma=γ)``, γ ∈ ``cfg.gammas`` (2^-10 … 2^-1): the γ whose
  held-out acceptance rate (share of held-out normals with decision value ≥ 0) is closest to 1 − ν,
  ties to the smaller γ. Score −decision_function; ``predict`` threshold 0 (the SVM's own boundary).
* **kde** — Gaussian kernel density with bandwidth h, h ∈ ``cfg.bandwidths`` (2^{0.5k}, k = −10 … 10):
  the h with the largest mean held-out log-likelihood. Score −log p(x); threshold the
  (1−ν)-quantile of the held-out scores under the selection fit (training points' own scores are
  dominated by their own kernel at small h, so their quantile would flag almost nothing).
* **isoforest** — ``IsolationForest(n_estimators=100, contamination="auto", random_state=seed)``,
  nothing to select. Score −score_samples; threshold −offset_ (sklearn's own outlier rule).

The KDE is :class:`GaussianKDE`, an exact Gaussian kernel density with scikit-learn's
``KernelDensity`` interface and normalisation (it is the oracle in the tests), computed with blocked
matrix products, the distances computed once for all candidate bandwidths: with scikit-learn's
tree-based ``score_samples`` (minutes per call on 784-d MNIST rows) the quick MNIST table had not
finished the first of its 30 runs after about 16 minutes.

Saving stores each class's preprocessed training rows and the selected hyperparameters (no pickles);
loading refits the estimators with them, which is deterministic, so the scores are reproduced.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from scipy.special import logsumexp
from sklearn.svm import OneClassSVM
from tqdm.auto import tqdm

from ..core.config import SHALLOW_METHODS, ShallowConfig
from ..frontend._model import Model

__all__ = ["ShallowModel", "GaussianKDE", "gaussian_kde_log_density", "fit_shallow", "fit_estimator", "estimator_scores", "holdout_split",
           "HYPERPARAMETER"]

#: The selected hyperparameter of each method (stored per run in ``variables``), None if none.
HYPERPARAMETER: dict[str, str | None] = {"ocsvm": "gamma", "kde": "bandwidth", "isoforest": None}


def gaussian_kde_log_density(train: np.ndarray, query: np.ndarray, bandwidths: Sequence[float],
                             block_rows: int = 1024) -> np.ndarray:
    """(H, m) Gaussian-KDE log-density of the query rows (m, d) under the training rows (n, d), one row per
    bandwidth: log p_h(x) = logsumexp_i(−‖x − x_i‖² / 2h²) − log n − (d/2)·log(2πh²), as
    ``sklearn.neighbors.KernelDensity(kernel="gaussian", bandwidth=h)`` defines it (tested against it).

    The squared distances come from float64 matrix products in blocks of ``block_rows`` query rows
    (memory: block_rows × n values) and are computed once for all bandwidths.
    """
    x = np.asarray(train, np.float64).reshape(len(train), -1)
    q = np.asarray(query, np.float64).reshape(len(query), -1)
    n, d = x.shape
    h2 = np.asarray(bandwidths, np.float64) ** 2
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty((len(h2), len(q)))
    for start in range(0, len(q), block_rows):
        block = q[start : start + block_rows]
        dist = np.maximum(np.einsum("ij,ij->i", block, block)[:, None] + sq[None, :] - 2.0 * block @ x.T, 0.0)
        for k, h2k in enumerate(h2):
            out[k, start : start + len(block)] = logsumexp(-dist / (2.0 * h2k), axis=1)
    return out - np.log(n) - 0.5 * d * np.log(2.0 * np.pi * h2)[:, None]


class GaussianKDE:
    """Exact Gaussian kernel density estimate with scikit-learn's ``KernelDensity`` interface
    (``fit`` / ``score_samples``), computed by :func:`gaussian_kde_log_density`.

    Args:
      bandwidth: h > 0, in the units of the data.
      block_rows: query rows per block (memory: block_rows × n_train float64 values).
    """

    def __init__(self, bandwidth: float, block_rows: int = 1024) -> None:
        if not bandwidth > 0:
            raise ValueError(f"GaussianKDE: bandwidth must be > 0, got {bandwidth!r}")
        self.bandwidth = float(bandwidth)
        self.block_rows = int(block_rows)

    def fit(self, x: np.ndarray) -> GaussianKDE:
        """Keep the training rows x (n, d)."""
        self.x_ = np.asarray(x)
        return self

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """(m,) log-density of the query rows x (m, d)."""
        return gaussian_kde_log_density(self.x_, x, [self.bandwidth], self.block_rows)[0]


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows) of a seeded random split of range(n); at least one row on each side."""
    perm = np.random.default_rng(seed).permutation(n)
    k = min(max(1, round(fraction * n)), n - 1)
    return np.sort(perm[k:]), np.sort(perm[:k])


def estimator_scores(method: str, est: Any, x: np.ndarray) -> np.ndarray:
    """(n,) anomaly scores of a fitted estimator on x (n, d); higher = more anomalous."""
    if method == "ocsvm":
        return -est.decision_function(x)
    return -est.score_samples(x)  # kde: −log p(x); isoforest: −score_samples


def _make(method: str, cfg: ShallowConfig, seed: int, hyper: float | None) -> Any:
    if method == "ocsvm":
        return OneClassSVM(kernel="rbf", nu=cfg.nu, gamma=hyper)
    if method == "kde":
        return GaussianKDE(bandwidth=hyper)
    if method == "isoforest":
        return IsolationForest(n_estimators=cfg.n_estimators, contamination="auto", random_state=seed)
    raise ValueError(f"method must be one of {SHALLOW_METHODS}, got {method!r}")


def select_hyperparameter(method: str, x: np.ndarray, cfg: ShallowConfig, seed: int) -> float | None:
    """The rule of the module docstring on a seeded held-out slice of x (n, d); None for isoforest."""
    if HYPERPARAMETER[method] is None:
        return None
    fit_rows, held = holdout_split(x.shape[0], cfg.holdout_fraction, seed)
    best, best_value = None, None
    if method == "ocsvm":
        for gamma in sorted(cfg.gammas):
            accepted = np.mean(_make(method, cfg, seed, gamma).fit(x[fit_rows]).decision_function(x[held]) >= 0)
            value = -abs(accepted - (1.0 - cfg.nu))
            if best_value is None or value > best_value:  # strict: ties keep the smaller γ
                best, best_value = gamma, value
    else:  # kde: the held-out log-likelihood of every bandwidth from one set of distances
        bandwidths = sorted(cfg.bandwidths)
        means = gaussian_kde_log_density(x[fit_rows], x[held], bandwidths).mean(axis=1)
        for h, value in zip(bandwidths, means):
            if best_value is None or value > best_value:  # strict: ties keep the smaller h
                best, best_value = h, float(value)
    return float(best)


def fit_estimator(method: str, x: np.ndarray, cfg: ShallowConfig, seed: int, hyper: float | None = None):
    """Fit one run on its training rows x (n, d); selects the hyperparameter unless ``hyper`` is given.

    Returns:
      (fitted estimator, hyperparameter or None, ``predict`` threshold on the score).
    """
    if hyper is None:
        hyper = select_hyperparameter(method, x, cfg, seed)
    est = _make(method, cfg, seed, hyper).fit(x)
    if method == "ocsvm":
        threshold = 0.0
    elif method == "isoforest":
        threshold = float(-est.offset_)
    else:  # kde: scores of unseen normals, from the selection split
        fit_rows, held = holdout_split(x.shape[0], cfg.holdout_fraction, seed)
        held_scores = estimator_scores(method, _make(method, cfg, seed, hyper).fit(x[fit_rows]), x[held])
        threshold = float(np.quantile(held_scores, 1.0 - cfg.nu))
    return est, hyper, threshold


@dataclasses.dataclass(eq=False)
class ShallowModel(Model):
    """A ``Model`` of scikit-learn estimators, one per run (normal class × seed).

    ``backbone`` is None; ``variables`` holds the selected hyperparameter per run ({"gamma": (M,)} for
    ocsvm, {"bandwidth": (M,)} for kde, {} for isoforest); ``train_data[c]`` holds class c's
    preprocessed, flattened training rows (what the estimators were fitted on, and what ``save``
    stores so that ``load`` can refit them).
    """

    estimators: list[Any] = dataclasses.field(default_factory=list, repr=False)
    train_data: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)

    def _score_base(self, base: np.ndarray, batch_size: int | None) -> np.ndarray:
        n = base.shape[0]
        flat = base.reshape(n, -1)
        shift = self.preprocessing.shift.reshape(len(self.classes), -1)
        inv = self.preprocessing.inv_scale.reshape(len(self.classes), -1)
        b = max(1, min(int(batch_size or self.config.score_batch_size), n))
        out = np.empty((self.n_models, n), np.float32)
        for i, (est, c) in enumerate(zip(self.estimators, self.run_class_index)):
            for start in range(0, n, b):
                block = (flat[start : start + b] - shift[c]) * inv[c]
                out[i, start : start + b] = estimator_scores(self.method, est, block)
        return out

    def refit(self) -> ShallowModel:
        """Refit every run's estimator from ``train_data`` and the stored hyperparameters (after load)."""
        key = HYPERPARAMETER[self.method]
        self.estimators = [
            fit_estimator(
                self.method, self.train_data[int(c)], self.config, int(seed),
                None if key is None else float(self.variables[key][i]),
            )[0]
            for i, (c, seed) in enumerate(zip(self.run_class_index, self.run_seeds))
        ]
        return self


def fit_shallow(
    method: str,
    cfg: ShallowConfig,
    class_data: Sequence[np.ndarray],
    seeds: Sequence[int],
    *,
    progress: bool = False,
    **model_fields: Any,
) -> ShallowModel:
    """Fit every (class, seed) run of a shallow baseline, class-major like the deep methods.

    Args:
      method: "ocsvm", "isoforest" or "kde".
      cfg: the ``ShallowConfig``.
      class_data: per normal class, its preprocessed training rows (n_c, *network_shape).
      seeds: the run seeds; each drives its run's held-out split (and IsolationForest's random_state).
      progress: show a progress bar over the runs.
      **model_fields: the remaining ``Model`` fields (classes, preprocessing, sample_shape, ...).
    """
    t0 = time.perf_counter()
    train = [np.ascontiguousarray(x.reshape(x.shape[0], -1), np.float32) for x in class_data]
    run_cls = np.repeat(np.arange(len(train)), len(seeds)).astype(np.int32)
    run_seeds = np.tile(np.asarray(seeds, np.int64), len(train))
    estimators, hypers, thresholds = [], [], []
    for c, seed in tqdm(list(zip(run_cls, run_seeds)), desc=method, unit="run", disable=not progress):
        est, hyper, threshold = fit_estimator(method, train[c], cfg, int(seed))
        estimators.append(est)
        hypers.append(hyper)
        thresholds.append(threshold)
    key = HYPERPARAMETER[method]
    return ShallowModel(
        method=method,
        config=cfg,
        backbone=None,
        run_class_index=run_cls,
        run_seeds=run_seeds,
        variables={} if key is None else {key: np.asarray(hypers, np.float64)},
        thresholds=np.asarray(thresholds, np.float32),
        train_metrics={},
        wall_time=time.perf_counter() - t0,
        estimators=estimators,
        train_data=train,
        **model_fields,
    )
