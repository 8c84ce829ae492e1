"""Shallow baselines (OC-SVM, Isolation Forest, KDE from scikit-learn) behind the same ``fit`` API.

They run on the host, one estimator per (normal class, seed): ``ocnn_jax.fit`` fits the per-class
preprocessing with the same code as for the deep methods — by default the input that serves each
baseline best (``ocnn_jax.methods.registry.SHALLOW_PREPROCESSING``: raw [0, 1] pixels for OC-SVM and
Isolation Forest on images, GCN + min-max for KDE, on CIFAR-10's colour images followed by a PCA
(``registry.shallow_defaults``); floored standardising on feature vectors) — and wraps
the fitted estimators in a ``ShallowModel`` (front end), whose scores come from them instead of a
compiled scorer.

Hyperparameter selection (without test data or anomaly labels): where a rule needs one, every run holds out ``cfg.holdout_fraction`` of its normal training rows (a split drawn with the
run's seed), picks the hyperparameter on that slice, then refits on all of its training rows.

* **ocsvm** — RBF ``OneClassSVM(nu=ν, gamma=γ)``. A one-value ``cfg.gammas`` fixes γ (``OCSVM(gamma=...)``).
  Default (``gamma_rule="scale"``): γ = 1/(d·Var(X)) of
  the run's d-feature training rows X (scikit-learn's ``gamma="scale"``; no hold-out needed). With
  ``gamma_rule="heldout"`` (Ruff et al.'s grid): γ ∈ ``cfg.gammas`` (2^-10 … 2^-1), the γ whose
  held-out acceptance rate (share of held-out normals with decision value ≥ 0) is closest to 1 − ν,
  ties to the smaller γ. That criterion is flat for small γ and the grid is in the units of the input,
  so it picks near-linear kernels (γ ≈ 0.004–0.03 × the "scale" value on small sets) and trails the
  "scale" rule (e.g. scikit-learn digits as images 96.4 vs 98.3). Score −decision_function;
  ``predict`` threshold 0 (the SVM's own boundary).
* **kde** — Gaussian kernel density with bandwidth h, h ∈ ``cfg.bandwidths`` (2^{0.5k}, k = −10 … 10):
  the h with the largest mean held-out log-likelihood. Score −log p(x); threshold the
  (1−ν)-quantile of the held-out scores under the selection fit (training points' own scores are
  dominated by their own kernel at small h, so their quantile would flag almost nothing).
* **isoforest** — ``IsolationForest(n_estimators=100, contamination="auto", random_state=seed)``,
  nothing to select. Score −score_samples; threshold −offset_ (sklearn's own outlier rule).

The KDE is :class:`GaussianKDE`, an exact Gaussian kernel density with scikit-learn's
``KernelDensity`` interface and normalisation (it is the oracle in the tests), computed with blocked
matrix products, the distances computed once for all candidate bandwidths (scikit-learn's tree-based
``score_samples`` is far slower on 784-d image rows).

Saving stores each class's preprocessed training rows and the selected hyperparameters (no pickles);
loading refits the estimators with them, which is deterministic, so the scores are reproduced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from scipy.special import logsumexp
from sklearn.svm import OneClassSVM

from ..core.config import check_int, check_positive, validate_nu
from ..core.progress import progress as progress_display

__all__ = ["ShallowConfig", "GAMMA_RULES", "scale_gamma", "Estimator", "OCSVM", "KDE", "ISOFOREST", "ShallowFit", "fit_shallow", "fit_estimator",
           "GaussianKDE", "gaussian_kde_log_density", "holdout_split", "Projected"]

#: OC-SVM γ rules: "scale" (1/(d·Var(X)) of the run's training rows) or "heldout" (Ruff's grid, selected
#: on held-out normals).
GAMMA_RULES: tuple[str, ...] = ("scale", "heldout")


def scale_gamma(x: np.ndarray) -> float:
    """scikit-learn's ``gamma="scale"``: 1 / (d · Var(X)) over every entry of x (n, d); 1.0 when X is constant."""
    x = np.asarray(x, np.float64)
    var = float(x.var())
    return 1.0 / (x.shape[1] * var) if var > 0 else 1.0


def _pow2_grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    return tuple(float(2.0 ** (step * k)) for k in range(round(lo / step), round(hi / step) + 1))


#: OC-SVM's default γ grid (2^-10 … 2^-1), the "heldout" rule's (Ruff et al.'s).
DEFAULT_GAMMAS: tuple[float, ...] = _pow2_grid(-10, -1, 1)


@dataclass(frozen=True)
class ShallowConfig:
    """Shallow scikit-learn baselines (Ruff et al. 2018's selection rules, adapted to use no labels).

    Each (class, seed) run holds out ``holdout_fraction`` of its normal training data (a split drawn
    with the run's seed), selects the hyperparameter on that slice, then refits on all of its
    training data with the selected value. No test data and no anomaly labels are used.

    * ocsvm: RBF ``OneClassSVM(nu=nu, gamma=γ)``; γ = 1/(d·Var(X)) of the run's training rows
      (``gamma_rule="scale"``, default), or (``"heldout"``) the γ ∈ ``gammas`` whose held-out acceptance
      rate (fraction of held-out normals with decision value ≥ 0) is closest to 1 − ν, ties to the
      smaller γ. Score −decision_function; ``predict`` threshold 0 (the SVM's own boundary).
    * kde: Gaussian kernel density (``shallow.GaussianKDE``, equal to scikit-learn's
      ``KernelDensity(bandwidth=h)``), h ∈ ``bandwidths``; the h with the largest mean
      held-out log-likelihood is chosen. Score −log p(x); threshold the (1−ν)-quantile of the
      held-out scores.
    * isoforest: ``IsolationForest(n_estimators, contamination="auto", random_state=seed)``, nothing
      selected. Score −score_samples; threshold −offset_ (0.5, sklearn's own rule).

    Attributes:
      nu: ν ∈ (0, 1] (OC-SVM ν; KDE threshold level). 0.1; ``fit`` gives OC-SVM 0.5 on the CIFAR-10
        family (``registry.shallow_defaults``).
      gamma_rule: OC-SVM γ: "scale" (1/(d·Var(X)), default) or "heldout" (selection on ``gammas``).
      gammas: OC-SVM γ grid of the "heldout" rule, default 2^-10 … 2^-1; one value fixes γ under either
        rule (``OCSVM(gamma=...)``, a sweep over γ). Another grid of several values needs "heldout".
      bandwidths: KDE bandwidth grid, default 2^{0.5k}, k = −10 … 10.
      holdout_fraction: share of each run's normal training data held out for selection, in (0, 0.5].
      cv_folds: KDE bandwidth selection: 1 = one held-out split of ``holdout_fraction``; k >= 2 = the
        mean held-out log-likelihood over k folds of the training rows (Ruff et al.'s 5-fold search).
      pca: None, or the share of variance in (0, 1) that a PCA fitted on each run's training rows
        keeps before the estimator (Ruff et al. used 0.95 for all three baselines); scoring projects
        the same way.
      n_estimators: Isolation Forest trees.
      score_batch_size: samples per ``score`` chunk; memory only.
    """

    nu: float = 0.1
    gamma_rule: str = "scale"
    gammas: tuple[float, ...] = field(default_factory=lambda: DEFAULT_GAMMAS)
    bandwidths: tuple[float, ...] = field(default_factory=lambda: _pow2_grid(-5, 5, 0.5))
    holdout_fraction: float = 0.2
    cv_folds: int = 1
    pca: float | None = None
    n_estimators: int = 100
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        validate_nu(self.nu)
        if self.gamma_rule not in GAMMA_RULES:
            raise ValueError(f"gamma_rule must be one of {GAMMA_RULES}, got {self.gamma_rule!r}")
        for name in ("gammas", "bandwidths"):
            grid = getattr(self, name)
            if isinstance(grid, (int, float)) and not isinstance(grid, bool):
                grid = (grid,)
            grid = tuple(grid)
            if not grid:
                raise ValueError(f"{name} must be a non-empty sequence of numbers > 0")
            for v in grid:
                check_positive(name, v)
            object.__setattr__(self, name, tuple(float(v) for v in grid))
        if self.gamma_rule == "scale" and len(self.gammas) > 1 and self.gammas != DEFAULT_GAMMAS:
            raise ValueError(f"gammas {self.gammas} is a grid to select from, which gamma_rule='scale' (the "
                             f"default: γ = 1/(d·Var(X))) does not search; pass gamma_rule='heldout' to select on "
                             f"it, or one γ to fix it")
        h = self.holdout_fraction
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not (0 < h <= 0.5):
            raise ValueError(f"holdout_fraction must lie in (0, 0.5], got {h!r}")
        check_int("cv_folds", self.cv_folds, minimum=1)
        p = self.pca
        if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not (0 < p < 1)):
            raise ValueError(f"pca must be None or a share of variance in (0, 1), got {p!r}")
        check_int("n_estimators", self.n_estimators, minimum=1)
        check_int("score_batch_size", self.score_batch_size, minimum=1)


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


class Estimator(NamedTuple):
    """How one shallow method builds, selects, scores and thresholds its scikit-learn estimator.

    Attributes:
      hyperparameter: name of the selected hyperparameter (stored per run in ``variables``), or None.
      make: (cfg, seed, hyperparameter value) -> an unfitted estimator.
      score: (fitted estimator, x (n, d)) -> (n,) anomaly scores, higher = more anomalous.
      select: (x (n, d), cfg, seed) -> the selected hyperparameter value (None without one).
      threshold: (fitted estimator, x, cfg, seed, hyperparameter) -> the ``predict`` threshold.
    """

    hyperparameter: str | None
    make: Callable[[ShallowConfig, int, float | None], Any]
    score: Callable[[Any, np.ndarray], np.ndarray]
    select: Callable[[np.ndarray, ShallowConfig, int], float | None]
    threshold: Callable[[Any, np.ndarray, ShallowConfig, int, float | None], float]


def _select_gamma(x: np.ndarray, cfg: ShallowConfig, seed: int) -> float:
    """OC-SVM: the one γ of a one-value ``gammas`` (either rule), else 1/(d·Var(X)) ("scale"), or the γ
    whose held-out acceptance rate is closest to 1 − ν (ties: the smaller γ; "heldout")."""
    if len(cfg.gammas) == 1:  # fixed by the caller (OCSVM(gamma=...), one grid point of a sweep over γ)
        return float(cfg.gammas[0])
    if cfg.gamma_rule == "scale":
        return scale_gamma(x)
    fit_rows, held = holdout_split(x.shape[0], cfg.holdout_fraction, seed)
    best, best_value = None, None
    for gamma in sorted(cfg.gammas):
        accepted = np.mean(OCSVM.make(cfg, seed, gamma).fit(x[fit_rows]).decision_function(x[held]) >= 0)
        value = -abs(accepted - (1.0 - cfg.nu))
        if best_value is None or value > best_value:  # strict: ties keep the smaller γ
            best, best_value = gamma, value
    return float(best)


def _select_bandwidth(x: np.ndarray, cfg: ShallowConfig, seed: int) -> float:
    """KDE: the mean held-out log-likelihood of every bandwidth (one set of distances per split), over one
    held-out split (``cv_folds`` = 1) or ``cv_folds`` seeded folds; the largest wins (ties: the smaller h)."""
    bandwidths = sorted(cfg.bandwidths)
    if len(bandwidths) == 1:
        return float(bandwidths[0])
    if cfg.cv_folds == 1:
        splits = [holdout_split(x.shape[0], cfg.holdout_fraction, seed)]
    else:
        if x.shape[0] < cfg.cv_folds:
            raise ValueError(f"cv_folds={cfg.cv_folds} needs at least that many training rows, got {x.shape[0]}")
        folds = np.array_split(np.random.default_rng(seed).permutation(x.shape[0]), cfg.cv_folds)
        splits = [(np.sort(np.concatenate(folds[:k] + folds[k + 1 :])), np.sort(f)) for k, f in enumerate(folds)]
    means = np.mean([gaussian_kde_log_density(x[fit_rows], x[held], bandwidths).mean(axis=1)
                     for fit_rows, held in splits], axis=0)
    best, best_value = None, None
    for h, value in zip(bandwidths, means):
        if best_value is None or value > best_value:  # strict: ties keep the smaller h
            best, best_value = h, float(value)
    return float(best)


def _kde_threshold(est: Any, x: np.ndarray, cfg: ShallowConfig, seed: int, hyper: float | None) -> float:
    """KDE: the (1−ν)-quantile of the scores of unseen normals, from the selection split."""
    fit_rows, held = holdout_split(x.shape[0], cfg.holdout_fraction, seed)
    held_scores = KDE.score(KDE.make(cfg, seed, hyper).fit(x[fit_rows]), x[held])
    return float(np.quantile(held_scores, 1.0 - cfg.nu))


OCSVM = Estimator(
    hyperparameter="gamma",
    make=lambda cfg, seed, gamma: OneClassSVM(kernel="rbf", nu=cfg.nu, gamma=gamma),
    score=lambda est, x: -est.decision_function(x),
    select=_select_gamma,
    threshold=lambda est, x, cfg, seed, hyper: 0.0,  # the SVM's own boundary
)
KDE = Estimator(
    hyperparameter="bandwidth",
    make=lambda cfg, seed, h: GaussianKDE(bandwidth=h),
    score=lambda est, x: -est.score_samples(x),  # −log p(x)
    select=_select_bandwidth,
    threshold=_kde_threshold,
)
ISOFOREST = Estimator(
    hyperparameter=None,
    make=lambda cfg, seed, _: IsolationForest(n_estimators=cfg.n_estimators, contamination="auto", random_state=seed),
    score=lambda est, x: -est.score_samples(x),
    select=lambda x, cfg, seed: None,
    threshold=lambda est, x, cfg, seed, hyper: float(-est.offset_),  # sklearn's own outlier rule
)


class Projected:
    """A fitted estimator behind a fitted PCA: ``decision_function`` / ``score_samples`` of the projected rows."""

    def __init__(self, pca: PCA, estimator: Any) -> None:
        self.pca, self.estimator = pca, estimator

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.decision_function(self.pca.transform(x))

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.score_samples(self.pca.transform(x))


def fit_estimator(spec: Estimator, x: np.ndarray, cfg: ShallowConfig, seed: int, hyper: float | None = None):
    """Fit one run on its training rows x (n, d); selects the hyperparameter unless ``hyper`` is given.
    With ``cfg.pca`` the rows are first projected by a PCA fitted on them (deterministic: full SVD), and
    selection, fit and threshold all work on the projection.

    Returns:
      (fitted estimator, hyperparameter or None, ``predict`` threshold on the score).
    """
    pca = None
    if cfg.pca is not None:
        pca = PCA(n_components=cfg.pca, svd_solver="full").fit(x)
        x = pca.transform(x)
    if hyper is None:
        hyper = spec.select(x, cfg, seed)
    est = spec.make(cfg, seed, hyper).fit(x)
    threshold = spec.threshold(est, x, cfg, seed, hyper)
    return (est if pca is None else Projected(pca, est)), hyper, threshold


class ShallowFit(NamedTuple):
    """The fitted runs of a shallow baseline, class-major like the deep methods.

    Attributes:
      run_class_index, run_seeds: (M,) int arrays.
      variables: {hyperparameter name: (M,) float64 selected values}, or {} without a hyperparameter.
      thresholds: (M,) float32 ``predict`` thresholds.
      estimators: the M fitted estimators.
      train_data: per class, its preprocessed, flattened training rows (n_c, d) float32.
      wall_time: seconds spent fitting.
    """

    run_class_index: np.ndarray
    run_seeds: np.ndarray
    variables: dict[str, np.ndarray]
    thresholds: np.ndarray
    estimators: list[Any]
    train_data: list[np.ndarray]
    wall_time: float


def fit_shallow(
    spec: Estimator,
    cfg: ShallowConfig,
    class_data: Sequence[np.ndarray],
    seeds: Sequence[int],
    *,
    progress: bool = False,
    description: str = "",
) -> ShallowFit:
    """Fit every (class, seed) run of a shallow baseline, class-major like the deep methods.

    Args:
      spec: the method's ``Estimator`` (``OCSVM``, ``ISOFOREST`` or ``KDE``).
      cfg: the ``ShallowConfig``.
      class_data: per normal class, its preprocessed training rows (n_c, *network_shape).
      seeds: the run seeds; each drives its run's held-out split (and IsolationForest's random_state).
      progress: show a progress bar over the runs.
      description: the progress bar's label.
    """
    t0 = time.perf_counter()
    train = [np.ascontiguousarray(x.reshape(x.shape[0], -1), np.float32) for x in class_data]
    run_cls = np.repeat(np.arange(len(train)), len(seeds)).astype(np.int32)
    run_seeds = np.tile(np.asarray(seeds, np.int64), len(train))
    estimators, hypers, thresholds = [], [], []
    for c, seed in progress_display(list(zip(run_cls, run_seeds)), desc=description, unit="run", enabled=progress):
        est, hyper, threshold = fit_estimator(spec, train[c], cfg, int(seed))
        estimators.append(est)
        hypers.append(hyper)
        thresholds.append(threshold)
    key = spec.hyperparameter
    return ShallowFit(
        run_class_index=run_cls,
        run_seeds=run_seeds,
        variables={} if key is None else {key: np.asarray(hypers, np.float64)},
        thresholds=np.asarray(thresholds, np.float32),
        estimators=estimators,
        train_data=train,
        wall_time=time.perf_counter() - t0,
    )
