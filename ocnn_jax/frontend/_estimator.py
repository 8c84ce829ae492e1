"""scikit-learn / PyOD-style estimators around ``ocnn_jax.fit``, one per method, for users coming from PyOD.

Conventions follow PyOD's ``BaseDetector``: ``decision_function`` returns anomaly scores (higher = more
anomalous); ``threshold_`` is the (1 − contamination)-quantile of the training scores
``decision_scores_``; ``predict`` returns 0 (inlier) / 1 (outlier), ``labels_`` those of the training
data; ``predict_proba`` (``method="linear"`` or ``"unify"``) and ``predict_confidence`` use PyOD's
definitions (``ocnn_jax.frontend._outlier_math``). ``get_params`` / ``set_params`` / ``clone`` and
``Pipeline`` work as for any scikit-learn estimator.

Every estimator is the shared ``BaseDetector`` plus a table of its own parameters: the constructor is
generated from that table (keyword arguments only), so ``help(OCNN)`` and scikit-learn both see the
full signature. A parameter left at None takes the method's paper default (``ocnn_jax.default_config``);
``config`` passes any other ``ocnn_jax.fit`` override. With ``n_seeds`` > 1 the runs train side by side
in one program and their scores are averaged (an ensemble over seeds).

The deep estimators' threshold is PyOD's contamination quantile, not the method's own rule that
``Model.predict`` applies (e.g. OC-NN's r − ŷ > 0); ``model_`` is the fitted ``ocnn_jax.Model``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from ..core.config import validate_nu
from ..core.progress import interactive
from ._fit import fit as _fit
from ._model import Model
from ._outlier_math import contamination_threshold, outlier_confidence, outlier_proba

__all__ = ["BaseDetector", "DeepSVDD", "OCNN", "RCAE", "DCAE", "OCSVM", "IForest", "KDE", "ESTIMATORS"]

_UNSET = inspect.Parameter.empty

#: Parameters of every estimator: name -> default.
_COMMON: dict[str, Any] = {
    "contamination": 0.1,
    "n_seeds": 1,
    "random_state": 0,
    "preprocessing": "auto",
    "config": None,
    "verbose": "auto",
}
#: Parameters of every deep estimator besides its training-length ones.
_DEEP: dict[str, Any] = {"encoder": "auto", "decoder": None, "batch_size": None, "lr": None}
#: Deep SVDD and OC-NN: ``batch_size`` and ``lr`` set the AE pretraining phase too.
_BOTH_PHASES: dict[str, tuple[str, ...]] = {"batch_size": ("batch_size", "pretrain_batch_size"),
                                            "lr": ("lr", "pretrain_lr")}


def _resolve_verbose(verbose: Any) -> bool:
    """verbose "auto": progress in interactive use (stderr is a terminal, or a Jupyter kernel); else
    its truth value."""
    if isinstance(verbose, str):
        if verbose != "auto":
            raise ValueError(f"verbose must be 'auto', True or False, got {verbose!r}")
        return interactive()
    return bool(verbose)


class BaseDetector(BaseEstimator):
    """The shared PyOD-style estimator; subclasses name their ``method`` and their own parameters.

    Parameters of every estimator:
      contamination: expected share of outliers in the training data, in (0, 0.5]; sets
        ``threshold_`` (and ν, unless ``nu`` is given).
      n_seeds: runs (seeds random_state … random_state + n_seeds − 1) whose scores are averaged.
      random_state: the first seed (an int).
      preprocessing: as in ``ocnn_jax.fit`` ("auto": standardise feature vectors; GCN + min-max images).
      config: any other ``ocnn_jax.fit`` config overrides, as a dict.
      verbose: show training progress: "auto" (default) when stderr is a terminal or in a notebook,
        or True / False.

    Attributes after ``fit``:
      model_: the fitted ``ocnn_jax.Model`` (n_seeds runs).
      decision_scores_: (n,) scores of the training data; threshold_: float; labels_: (n,) 0/1.
      n_features_in_: features per sample (the product of a sample's dimensions).
    """

    #: ``ocnn_jax.fit`` method name.
    method: ClassVar[str] = ""
    #: This estimator's parameters beyond ``_COMMON``: name -> default.
    _params: ClassVar[dict[str, Any]] = {}
    #: Parameters passed to ``fit`` as config overrides when not None: name -> the override keys it sets.
    _overrides: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = {**_COMMON, **cls._params}
        signature = inspect.Signature(
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in params.items()]
        )

        def __init__(self, **kw: Any) -> None:
            unknown = sorted(set(kw) - set(params))
            if unknown:
                raise TypeError(f"{cls.__name__} got unexpected parameter(s) {unknown}; allowed: {sorted(params)}")
            for name, default in params.items():
                setattr(self, name, kw.get(name, default))

        __init__.__signature__ = signature  # what scikit-learn's get_params and help() read
        __init__.__qualname__ = f"{cls.__name__}.__init__"
        __init__.__doc__ = f"{cls.__name__}(*, {', '.join(f'{k}={v!r}' for k, v in params.items())})"
        cls.__init__ = __init__

    # ------------------------------------------------------------------------------------------------
    def _method_name(self) -> str:
        return self.method

    def _fit_kwargs(self) -> dict[str, Any]:
        """Arguments of ``ocnn_jax.fit`` besides x, method, seeds and progress; ``config`` keys win."""
        kw: dict[str, Any] = {"preprocessing": self.preprocessing}
        for name in ("encoder", "decoder"):
            if name in type(self)._params:
                kw[name] = getattr(self, name)
        nu = getattr(self, "nu", None)  # ν = contamination unless the estimator has and sets its own
        kw["nu"] = validate_nu(self.contamination if nu is None else nu)
        for param, keys in self._overrides.items():
            value = getattr(self, param)
            if value is not None:
                kw.update(dict.fromkeys(keys, value))
        return {**kw, **(self.config or {})}

    def _check_params(self) -> None:
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c <= 0.5:
            raise ValueError(f"contamination must lie in (0, 0.5], got {c!r}")
        if isinstance(self.n_seeds, bool) or not isinstance(self.n_seeds, (int, np.integer)) or self.n_seeds < 1:
            raise ValueError(f"n_seeds must be an int >= 1, got {self.n_seeds!r}")
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, (int, np.integer)):
            raise ValueError(f"random_state must be an int (the first seed), got {self.random_state!r}")
        if self.config is not None and not isinstance(self.config, dict):
            raise TypeError(f"config must be a dict of ocnn_jax.fit overrides or None, got {type(self.config).__name__}")

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit on X, (n, *sample_shape): all of it is training data; ``y`` is ignored, as in PyOD."""
        self._check_params()
        self.model_: Model = _fit(
            X,
            method=self._method_name(),
            seeds=[int(self.random_state) + i for i in range(int(self.n_seeds))],
            progress=_resolve_verbose(self.verbose),
            **self._fit_kwargs(),
        )
        self.n_features_in_ = int(np.prod(self.model_.sample_shape))
        self.decision_scores_ = self.decision_function(X)
        self.threshold_ = contamination_threshold(self.decision_scores_, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        # PyOD's own helpers read these (mean / population std of the training scores; two classes).
        self._mu, self._sigma, self._classes = float(np.mean(self.decision_scores_)), float(np.std(self.decision_scores_)), 2
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """(n,) anomaly scores of X, the mean over the seed runs; higher = more anomalous."""
        self._check_fitted()
        return self.model_.score(X).mean(axis=0).astype(np.float64)

    def predict(self, X: Any, return_confidence: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """(n,) labels, 0 = inlier, 1 = outlier (score > ``threshold_``); with ``return_confidence``
        also ``predict_confidence``'s (n,) values."""
        scores = self.decision_function(X)
        labels = (scores > self.threshold_).astype(int)
        return (labels, self._confidence(scores)) if return_confidence else labels

    def predict_proba(self, X: Any, method: str = "linear",
                      return_confidence: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """(n, 2) [inlier, outlier] probabilities: ``method`` "linear" (min-max of the training scores) or
        "unify" (erf of the standardised score); with ``return_confidence`` also the (n,) confidences."""
        scores = self.decision_function(X)
        proba = outlier_proba(self.decision_scores_, scores, method)
        return (proba, self._confidence(scores)) if return_confidence else proba

    def predict_confidence(self, X: Any) -> np.ndarray:
        """(n,) confidence in [0, 1] that each label stays the same under a perturbed training set."""
        return self._confidence(self.decision_function(X))

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the training labels ``labels_``."""
        return self.fit(X, y).labels_

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        return outlier_confidence(self.decision_scores_, scores, self.threshold_, self.contamination)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"this {type(self).__name__} instance is not fitted yet; call fit(X) first")


class DeepSVDD(BaseDetector):
    """Deep SVDD (Ruff et al. 2018): ``objective`` "one-class" (default) or "soft-boundary"; ``nu``
    (default: contamination); ``epochs`` / ``pretrain_epochs``; ``batch_size`` / ``lr`` of both phases
    (None: paper defaults); ``encoder`` / ``decoder`` as in ``ocnn_jax.fit``. See ``BaseDetector``."""

    method = "deep_svdd"
    _params = {"objective": "one-class", "nu": None, **_DEEP, "epochs": None, "pretrain_epochs": None}
    _overrides = {"epochs": ("epochs",), "pretrain_epochs": ("pretrain_epochs",), **_BOTH_PHASES}
    _OBJECTIVES: ClassVar[dict[str, str]] = {"one-class": "deep_svdd", "soft-boundary": "soft_boundary"}

    def _method_name(self) -> str:
        if self.objective not in self._OBJECTIVES:
            raise ValueError(f"objective must be 'one-class' or 'soft-boundary', got {self.objective!r}")
        return self._OBJECTIVES[self.objective]


class OCNN(BaseDetector):
    """OC-NN (Chalapathy et al. 2018): ``nu`` (default: contamination), ``features`` ("input" for feature
    vectors, "encoder_body" for images through the LeNet encoders; "encoder", "encoder_l2"), ``kernel`` ("rbf" default: the
    RBF landmark layer before the head, "none": the paper's head on z), ``hidden_units``, ``epochs``,
    ``batch_size`` / ``lr`` (of the AE pretraining too, which runs only with the encoder features). See
    ``BaseDetector``."""

    method = "ocnn"
    _params = {"nu": None, "features": None, "kernel": None, "hidden_units": None, **_DEEP, "epochs": None}
    _overrides = {"features": ("features",), "kernel": ("kernel",), "hidden_units": ("hidden_units",),
                  "epochs": ("epochs",), **_BOTH_PHASES}


class RCAE(BaseDetector):
    """RCAE (Chalapathy et al. 2017): ``lam`` (λ of the noise penalty), ``penalty`` ("l1" / "l21"),
    ``outer_iterations`` T and ``epochs_per_iteration`` E, ``batch_size`` / ``lr``. See ``BaseDetector``."""

    method = "rcae"
    _params = {"lam": None, "penalty": None, **_DEEP, "outer_iterations": None, "epochs_per_iteration": None}
    _overrides = {k: (k,) for k in ("lam", "penalty", "outer_iterations", "epochs_per_iteration", "batch_size", "lr")}


class DCAE(BaseDetector):
    """DCAE: the plain convolutional (or MLP) autoencoder scored by reconstruction error;
    ``epochs`` / ``batch_size`` / ``lr``. See ``BaseDetector``."""

    method = "dcae"
    _params = {**_DEEP, "epochs": None}
    _overrides = {k: (k,) for k in ("epochs", "batch_size", "lr")}


class OCSVM(BaseDetector):
    """RBF one-class SVM: ``nu`` (default: contamination); ``gamma`` None takes γ = 1/(d·Var(X)) of the
    training rows (scikit-learn's "scale" rule, ``ocnn_jax.methods.shallow``), a number fixes it. See
    ``BaseDetector``."""

    method = "ocsvm"
    _params = {"nu": None, "gamma": None}

    def _fit_kwargs(self) -> dict[str, Any]:
        fixed = {} if self.gamma is None else {"gammas": (self.gamma,)}
        return {**fixed, **super()._fit_kwargs()}


class IForest(BaseDetector):
    """Isolation Forest (scikit-learn's, ``random_state`` = the seed): ``n_estimators`` trees. Named as
    in PyOD, so it does not shadow ``sklearn.ensemble.IsolationForest``. See ``BaseDetector``."""

    method = "isoforest"
    _params = {"n_estimators": 100}
    _overrides = {"n_estimators": ("n_estimators",)}


class KDE(BaseDetector):
    """Gaussian kernel density, score −log p(x): ``bandwidth`` None selects h by held-out
    log-likelihood, a number fixes it. See ``BaseDetector``."""

    method = "kde"
    _params = {"bandwidth": None}

    def _fit_kwargs(self) -> dict[str, Any]:
        fixed = {} if self.bandwidth is None else {"bandwidths": (self.bandwidth,)}
        return {**fixed, **super()._fit_kwargs()}


#: Estimator class per ``ocnn_jax.fit`` method name (soft-boundary is ``DeepSVDD(objective="soft-boundary")``).
ESTIMATORS: dict[str, type[BaseDetector]] = {
    "deep_svdd": DeepSVDD, "soft_boundary": DeepSVDD, "ocnn": OCNN, "rcae": RCAE, "dcae": DCAE,
    "ocsvm": OCSVM, "isoforest": IForest, "kde": KDE,
}
