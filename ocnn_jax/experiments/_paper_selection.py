"""Shallow baselines with hyperparameters selected as Ruff et al. (ICML 2018) describe (``selection="paper"``).

Our default baselines select without labels (``ocnn_jax.methods.shallow``). The paper instead:

* OC-SVM: γ ∈ {2^-10, …, 2^-1}, ν = 0.1, the γ with the best AUROC on a small labelled hold-out of 10 % of
  the test set, drawn at random per run (redrawn until the hold-out and the rest both hold normal and
  anomalous rows); the AUROC reported is that of the other 90 %. The paper notes that this gives the
  baselines a slight advantage; it uses test labels, so it is an evaluation protocol, not a detector a
  user can deploy.
* KDE: Gaussian bandwidth h ∈ logspace(-4.5, 5, 20, base 2) by 5-fold cross-validated log-likelihood of the
  training rows (label-free).
* Isolation Forest: 100 trees, 256-row subsamples (scikit-learn's defaults), nothing selected.
* All three on GCN (l1) + min-max scaled images (the deep methods' preprocessing; ``sweep`` uses it for
  ``preprocessing="auto"``), after a PCA keeping 95 % of the training rows' variance.

KDE and Isolation Forest are scored on the same 90 % as the OC-SVM, so that the three compare on equal
rows. See docs/algorithms.md §10.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..datasets.errors import DatasetError
from ..datasets.base import Dataset
from ..frontend._fit import fit
from ..frontend._metrics import METRICS

__all__ = ["SELECTIONS", "PAPER_GAMMAS", "PAPER_BANDWIDTHS", "PAPER_PCA", "PAPER_HOLDOUT_FRACTION",
           "paper_config", "draw_test_holdout", "paper_selection_runs"]

#: ``sweep(selection=...)``: "default" (our label-free rules) or "paper" (Ruff et al.'s, for shallow methods).
SELECTIONS: tuple[str, ...] = ("default", "paper")
PAPER_GAMMAS: tuple[float, ...] = tuple(float(2.0 ** k) for k in range(-10, 0))
PAPER_BANDWIDTHS: tuple[float, ...] = tuple(float(h) for h in np.logspace(-4.5, 5, 20, base=2))
PAPER_PCA = 0.95
PAPER_HOLDOUT_FRACTION = 0.1


def paper_config(method: str) -> dict[str, Any]:
    """The ``ShallowConfig`` overrides of ``selection="paper"`` for one shallow method (the OC-SVM's γ
    grid is searched by :func:`paper_selection_runs`, one fit per γ)."""
    if method == "ocsvm":
        return {"nu": 0.1, "gamma_rule": "heldout", "pca": PAPER_PCA}
    if method == "kde":
        return {"bandwidths": PAPER_BANDWIDTHS, "cv_folds": 5, "pca": PAPER_PCA}
    if method == "isoforest":
        return {"n_estimators": 100, "pca": PAPER_PCA}
    raise ValueError(f"selection='paper' applies to the shallow baselines ('ocsvm', 'kde', 'isoforest'), got method {method!r}")


def draw_test_holdout(anomalous: np.ndarray, seed: int, fraction: float = PAPER_HOLDOUT_FRACTION,
                 max_draws: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(hold-out rows, evaluation rows) of the test set, sorted: a seeded random ``fraction`` of the rows
    (at least one), redrawn until both parts hold normal and anomalous rows.

    Args:
      anomalous: (n,) bool, True for the test rows that are not of the normal class.
      seed: the run's seed.

    Raises:
      DatasetError: no draw in ``max_draws`` has both kinds on both sides (too few rows of one kind).
    """
    anomalous = np.asarray(anomalous, bool)
    n = anomalous.shape[0]
    k = min(max(1, int(fraction * n)), n - 1)
    rng = np.random.default_rng(seed)
    for _ in range(max_draws):
        perm = rng.permutation(n)
        held, rest = perm[:k], perm[k:]
        if all(0 < anomalous[part].sum() < len(part) for part in (held, rest)):
            return np.sort(held), np.sort(rest)
    raise DatasetError(f"no hold-out of {k} of the {n} test rows holds both normal and anomalous rows on both "
                       f"sides ({int(anomalous.sum())} anomalous); selection='paper' needs more of each")


def _metric_rows(scores: np.ndarray, anomalous: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    return {name: float(METRICS[name](anomalous[rows], scores[rows])) for name in ("auroc", "aupr")}


def paper_selection_runs(ds: Dataset, method: str, classes: Sequence[int], seeds: Sequence[int], *,
                         preprocessing: str = "auto", contamination: float = 0.0, progress: bool = False,
                         **config: Any) -> tuple[list[dict[str, Any]], np.ndarray, float, str]:
    """Fit and evaluate the runs (class-major: each class × each seed) of one shallow method the paper's way.

    Args:
      ds: the data set (train split to fit, test split to select on and evaluate).
      method: "ocsvm", "kde" or "isoforest".
      classes, seeds: the runs' normal classes (indices) and seeds.
      preprocessing, contamination: as in ``ocnn_jax.fit``.
      **config: further ``ShallowConfig`` overrides (they win over the paper's).

    Returns:
      (rows, scores, fit seconds, preprocessing mode): per run a dict with ``normal_class``, ``seed``,
      ``auroc`` / ``aupr`` on its evaluation rows, ``holdout_rows`` / ``evaluation_rows`` (counts), the
      selected hyperparameter (``gamma``, ``bandwidth`` or none) and, for the OC-SVM, ``holdout_auroc``;
      scores (M, n_test) float32 of the selected setting on the whole test set.
    """
    cfg = {**paper_config(method), **config}
    gammas = [None]
    if method == "ocsvm":
        gammas = list(cfg.pop("gammas", PAPER_GAMMAS))
    per_gamma, wall, mode, runs = [], 0.0, None, None
    for gamma in gammas:
        extra = {} if gamma is None else {"gammas": (gamma,)}
        model = fit(ds.x_train, ds.y_train, method=method, normal_classes=list(classes), seeds=list(seeds),
                    preprocessing=preprocessing, contamination=contamination, progress=progress, **cfg, **extra)
        per_gamma.append(model.score(ds.x_test))
        wall += model.wall_time
        mode, runs, variables = model.preprocessing.mode, model.runs, model.variables
    stacked = np.stack(per_gamma)  # (G, M, n_test)
    rows, chosen = [], []
    for j, run in enumerate(runs):
        c, seed = int(run["normal_class"]), int(run["seed"])
        anomalous = np.asarray(ds.y_test) != c
        held, rest = draw_test_holdout(anomalous, seed)
        row: dict[str, Any] = {"normal_class": c, "seed": seed, "holdout_rows": int(len(held)),
                               "evaluation_rows": int(len(rest))}
        g = 0
        if method == "ocsvm":
            held_auroc = [_metric_rows(stacked[i, j], anomalous, held)["auroc"] for i in range(len(gammas))]
            g = int(np.argmax(held_auroc))  # first maximum: ties keep the smaller γ (the grid ascends)
            row.update(gamma=float(gammas[g]), holdout_auroc=float(held_auroc[g]))
        elif method == "kde":
            row["bandwidth"] = float(variables["bandwidth"][j])
        row.update(_metric_rows(stacked[g, j], anomalous, rest))
        rows.append(row)
        chosen.append(stacked[g, j])
    return rows, np.asarray(chosen, np.float32), wall, mode
