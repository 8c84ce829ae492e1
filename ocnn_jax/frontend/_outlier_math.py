"""PyOD's conversions of anomaly scores into probabilities and confidences, as pure NumPy functions.

Definitions (those of ``pyod.models.base.BaseDetector``, written here in our own words so that the
estimators give the numbers PyOD users expect; the tests check them against a transcription of PyOD's
formulas and, when PyOD is installed, against PyOD itself):

* threshold: the (1 − contamination)-quantile of the training scores (linear interpolation); a sample
  is an outlier (label 1) when its score is strictly above it.
* ``predict_proba(method="linear")``: min-max scaling with the training scores' minimum and maximum,
  clipped to [0, 1]: p = clip((s − min) / (max − min), 0, 1) (a constant training score gives
  max − min := 1, as scikit-learn's ``MinMaxScaler`` does).
* ``predict_proba(method="unify")`` (Kriegel et al. 2011): p = clip(erf((s − μ) / (σ·√2)), 0, 1) with
  μ, σ the mean and population standard deviation of the training scores.
* ``predict_confidence`` (Perini et al. 2020): with n training scores and k of them ≤ s, the outlier
  probability p = (1 + k) / (2 + n), and the confidence that the label stays the same under a perturbed
  training set c = 1 − BinomCDF(n − ⌊n·contamination⌋; n, p) for samples labelled outliers, 1 − c for
  inliers.

Every function takes (n,) score arrays; shapes are stated per function.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf
from scipy.stats import binom

__all__ = ["PROBA_METHODS", "contamination_threshold", "outlier_proba", "outlier_confidence"]

#: ``predict_proba`` conversions.
PROBA_METHODS: tuple[str, ...] = ("linear", "unify")


def contamination_threshold(train_scores: np.ndarray, contamination: float) -> float:
    """The (1 − contamination)-quantile of the (n,) training scores (PyOD's ``threshold_``)."""
    return float(np.quantile(np.asarray(train_scores, np.float64), 1.0 - float(contamination)))


def outlier_proba(train_scores: np.ndarray, scores: np.ndarray, method: str = "linear") -> np.ndarray:
    """(m, 2) probabilities [inlier, outlier] of the (m,) ``scores`` given the (n,) training scores.

    Args:
      train_scores: the detector's scores of its training data (``decision_scores_``).
      scores: the scores to convert (``decision_function(X)``).
      method: "linear" (min-max scaling) or "unify" (Gaussian scaling through erf).
    """
    if method not in PROBA_METHODS:
        raise ValueError(f"method must be one of {PROBA_METHODS}, got {method!r}")
    train = np.asarray(train_scores, np.float64).ravel()
    s = np.asarray(scores, np.float64).ravel()
    if method == "linear":
        lo, span = train.min(), np.ptp(train)
        p = (s - lo) / (span if span > 0 else 1.0)
    else:
        p = erf((s - train.mean()) / (train.std() * np.sqrt(2.0)))
    p = np.clip(p, 0.0, 1.0)
    return np.stack([1.0 - p, p], axis=1)


def outlier_confidence(train_scores: np.ndarray, scores: np.ndarray, threshold: float,
                       contamination: float) -> np.ndarray:
    """(m,) confidence in [0, 1] that each of the (m,) ``scores`` keeps its 0/1 label (score > threshold)
    when the training set is perturbed, given the (n,) training scores (see the module docstring)."""
    train = np.sort(np.asarray(train_scores, np.float64).ravel())
    s = np.asarray(scores, np.float64).ravel()
    n = train.size
    at_or_below = np.searchsorted(train, s, side="right")  # k = #{training scores <= s}
    p_outlier = (1.0 + at_or_below) / (2.0 + n)
    conf = 1.0 - binom.cdf(n - int(n * contamination), n, p_outlier)
    return np.where(s > threshold, conf, 1.0 - conf)
