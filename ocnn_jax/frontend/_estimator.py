"""A scikit-learn / PyOD-style estimator around ``ocnn_jax.fit`` for users coming from PyOD.

Conventions follow PyOD: ``decision_function`` returns anomaly scores (higher = more anomalous),
``predict`` returns 0 (inlier) / 1 (outlier) using ``threshold_``, the (1 − contamination)-quantile of
the training scores, and ``decision_scores_`` / ``labels_`` describe the training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ._fit import fit as _fit
from ..core.config import validate_nu
from ._model import Model

__all__ = ["DeepSVDD"]


class DeepSVDD(BaseEstimator):
    """Deep SVDD detector with a PyOD-like interface.

    Args:
      objective: "one-class" or "soft-boundary".
      contamination: expected fraction of outliers in the training data, in (0, 0.5]; sets
        ``threshold_``.
      nu: ν of the objective (soft-boundary outlier fraction); default: ``contamination``.
      n_seeds: runs averaged into one score (an ensemble over seeds); 1 by default.
      random_state: first seed; runs use seeds random_state … random_state + n_seeds − 1.
      encoder, preprocessing: as in ``ocnn_jax.fit``.
      epochs, pretrain_epochs, batch_size, lr: common overrides (None = paper defaults).
      config: any other ``ocnn_jax.fit`` config overrides, as a dict.
      verbose: show the progress bar.
    """

    def __init__(
        self,
        objective: str = "one-class",
        contamination: float = 0.1,
        nu: float | None = None,
        n_seeds: int = 1,
        random_state: int = 0,
        encoder: Any = "auto",
        preprocessing: str = "auto",
        epochs: int | None = None,
        pretrain_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        config: dict[str, Any] | None = None,
        verbose: bool = False,
    ):
        self.objective = objective
        self.contamination = contamination
        self.nu = nu
        self.n_seeds = n_seeds
        self.random_state = random_state
        self.encoder = encoder
        self.preprocessing = preprocessing
        self.epochs = epochs
        self.pretrain_epochs = pretrain_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.config = config
        self.verbose = verbose

    def fit(self, X: Any, y: Any = None) -> DeepSVDD:
        """Fit on X (all treated as training data; ``y`` is ignored, as in PyOD)."""
        if not (isinstance(self.contamination, (int, float)) and 0 < self.contamination <= 0.5):
            raise ValueError(f"contamination must lie in (0, 0.5], got {self.contamination!r}")
        methods = {"one-class": "deep_svdd", "soft-boundary": "soft_boundary"}
        if self.objective not in methods:
            raise ValueError(f"objective must be 'one-class' or 'soft-boundary', got {self.objective!r}")
        if isinstance(self.n_seeds, bool) or not isinstance(self.n_seeds, int) or self.n_seeds < 1:
            raise ValueError(f"n_seeds must be an int >= 1, got {self.n_seeds!r}")
        overrides: dict[str, Any] = dict(self.config or {})
        overrides["nu"] = validate_nu(self.contamination if self.nu is None else self.nu)
        for name in ("epochs", "pretrain_epochs", "batch_size", "lr"):
            value = getattr(self, name)
            if value is not None:
                overrides[name] = value
        self.model_: Model = _fit(
            X,
            method=methods[self.objective],
            seeds=[int(self.random_state) + i for i in range(self.n_seeds)],
            encoder=self.encoder,
            preprocessing=self.preprocessing,
            progress=self.verbose,
            **overrides,
        )
        self.decision_scores_ = self.decision_function(X)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """(n,) anomaly scores, the mean over the seed runs; higher = more anomalous."""
        self._check_fitted()
        return self.model_.score(X).mean(axis=0)

    def predict(self, X: Any) -> np.ndarray:
        """(n,) 0 = inlier, 1 = outlier."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the training labels ``labels_``."""
        return self.fit(X, y).labels_

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this DeepSVDD instance is not fitted yet; call fit(X) first")
