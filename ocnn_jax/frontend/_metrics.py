"""Ranking metrics of anomaly scores against 0/1 ground truth (anomaly = positive class), per run.

* "auroc": area under the ROC curve (``sklearn.metrics.roc_auc_score``).
* "aupr": area under the precision-recall curve as average precision,
  AP = Σ_k (R_k − R_{k−1}) · P_k over the score thresholds (``sklearn.metrics.average_precision_score``);
  its chance level is the share of anomalies, not 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = ["METRICS", "check_metrics", "per_run_metric"]

#: Metric name -> scikit-learn function (truth (n,), values (n,)) -> float.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auroc": roc_auc_score,
    "aupr": average_precision_score,
}


def check_metrics(metrics: str | Sequence[str], name: str = "metrics") -> tuple[str, ...]:
    """The metric names as a tuple, or a ValueError naming the argument and the known metrics."""
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ValueError(f"{name} must be among {sorted(METRICS)} (a name or a sequence of names), got {metrics!r}")
    return names


def per_run_metric(metric: str, truth: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n_runs,) ``metric`` of each row of values (n_runs, n) against truth (n_runs, n) 0/1."""
    fn = METRICS[check_metrics(metric, "metric")[0]]
    out = np.empty(truth.shape[0])
    for i in range(truth.shape[0]):
        t = truth[i]
        if t.min() == t.max():
            raise ValueError(
                f"evaluate(): the ground truth of model {i} has only {'anomalies' if t[0] else 'normals'}; "
                f"{metric.upper()} needs both"
            )
        out[i] = fn(t, values[i])
    return out
