"""Frozen configuration dataclasses and the per-dataset defaults of ALGORITHMS.md §2, §4, §6 and §11.

Configs are immutable values passed explicitly; there is no global state. ``default_config`` returns
the paper settings of a method for a backbone family; ``with_overrides`` applies the flat keyword
overrides that ``ocnn_jax.fit(**config)`` accepts (e.g. ``epochs=20, pretrain_epochs=10, nu=0.05``,
``lam=0.5, penalty="l21"``, ``g="sigmoid", finetune_encoder=True``).

One config class per method family: ``DeepSVDDConfig`` (deep_svdd, soft_boundary), ``OCNNConfig``
(ocnn), ``RCAEConfig`` (rcae), ``DCAEConfig`` (dcae) and ``ShallowConfig`` (ocsvm, isoforest, kde).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .losses import OCNN_ACTIVATIONS
from .prox import PENALTIES

__all__ = [
    "OptimConfig",
    "DeepSVDDConfig",
    "OCNNConfig",
    "RCAEConfig",
    "DCAEConfig",
    "ShallowConfig",
    "METHODS",
    "DEEP_METHODS",
    "SHALLOW_METHODS",
    "RCAE_INPUTS",
    "OCNN_FEATURES",
    "default_config",
    "with_overrides",
    "active_pretrain",
    "validate_nu",
    "validate_lam",
]

Objective = Literal["one-class", "soft-boundary"]

#: Methods trained as one compiled JAX program per fit (every (class, seed[, λ]) run on the model axis).
DEEP_METHODS: tuple[str, ...] = ("deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae")
#: scikit-learn baselines fitted on the host, one estimator per (class, seed), same preprocessing.
SHALLOW_METHODS: tuple[str, ...] = ("ocsvm", "isoforest", "kde")
#: Every public method name of ``ocnn_jax.fit``.
METHODS: tuple[str, ...] = DEEP_METHODS + SHALLOW_METHODS
#: What OC-NN's z is: the flattened preprocessed input (default), the (pretrained) encoder's code
#: (ALGORITHMS §2), or that code on the unit sphere.
OCNN_FEATURES: tuple[str, ...] = ("input", "encoder", "encoder_l2")
#: RCAE θ-step input: "x" (the paper: input x, target x − n) or "x_minus_n" (robust deep AE: both x − n).
RCAE_INPUTS: tuple[str, ...] = ("x", "x_minus_n")

_SVDD_OBJECTIVES: dict[str, Objective] = {"deep_svdd": "one-class", "soft_boundary": "soft-boundary"}


@dataclass(frozen=True)
class OptimConfig:
    """One training phase: Adam with coupled L2 decay and a ×0.1 LR milestone (ALGORITHMS §6).

    Attributes:
      lr: Adam learning rate.
      lr_milestone: epoch m (1-based, as in the reference scheduler) after which the LR is ×0.1:
        epochs 0 … m−2 run at ``lr`` and epoch m−1 onwards at ``0.1·lr``. None: constant LR.
      weight_decay: coupled L2 decay λ, added to the gradient before the Adam moments.
      batch_size: minibatch size b; each epoch drops the last partial batch.
      epochs: number of epochs.
    """

    lr: float = 1e-4
    lr_milestone: int | None = 50
    weight_decay: float = 5e-7
    batch_size: int = 200
    epochs: int = 150

    def __post_init__(self) -> None:
        _check_positive("lr", self.lr)
        if self.lr_milestone is not None and (not isinstance(self.lr_milestone, int) or self.lr_milestone < 1):
            raise ValueError(f"lr_milestone must be a positive int or None, got {self.lr_milestone!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("epochs", self.epochs, minimum=0)


@dataclass(frozen=True)
class DeepSVDDConfig:
    """Deep SVDD with AE pretraining (ALGORITHMS §3, §6).

    Attributes:
      objective: "one-class" or "soft-boundary".
      nu: ν ∈ (0, 1]; the soft-boundary outlier fraction, and for one-class the ``predict`` threshold
        level (the (1−ν)-quantile of training scores).
      train: the Deep SVDD phase.
      pretrain: the autoencoder phase whose encoder weights and BN statistics initialise the network;
        None skips pretraining (the encoder starts from its random init).
      warmup_epochs: soft-boundary epochs with R = 0 before the per-step R update starts.
      center_eps: ε of the centre rule.
      score_batch_size: samples per chunk in inference passes (centre, scores); memory only.
    """

    objective: Objective = "one-class"
    nu: float = 0.1
    train: OptimConfig = field(default_factory=OptimConfig)
    pretrain: OptimConfig | None = field(
        default_factory=lambda: OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-4, batch_size=200, epochs=150)
    )
    warmup_epochs: int = 10
    center_eps: float = 0.1
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        if self.objective not in ("one-class", "soft-boundary"):
            raise ValueError(f"objective must be 'one-class' or 'soft-boundary', got {self.objective!r}")
        validate_nu(self.nu)
        _check_int("warmup_epochs", self.warmup_epochs, minimum=0)
        _check_positive("center_eps", self.center_eps)
        _check_int("score_batch_size", self.score_batch_size, minimum=1)


def _ae_row(family: str) -> OptimConfig:
    """AE pretraining / DCAE optimiser row of ALGORITHMS §6 (the MLP follows MNIST)."""
    if family == "cifar_lenet":
        return OptimConfig(lr=1e-4, lr_milestone=250, weight_decay=5e-7, batch_size=200, epochs=350)
    return OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-4, batch_size=200, epochs=150)


@dataclass(frozen=True)
class OCNNConfig:
    """OC-NN, the paper objective (ALGORITHMS §2): ŷ = ⟨w, g(V z)⟩, hinge on r = q_ν(ŷ), score r − ŷ.

    **Deviation from ALGORITHMS §2/§11:** the default z is the flattened preprocessed input
    (``features="input"``), not the frozen pretrained encoder's code; ``features="encoder"`` is the
    exact §2 configuration. Reason (measured, ``benchmarks/results/issue3_*.md``): on the frozen codes
    of the project's bias-free BN encoders OC-NN ranks anomalies as *more* normal (AUROC 18.1 % on
    scikit-learn digits, 48.0 % on MNIST digit 0), on the inputs it reaches 95.7 % and 98.9 %. The
    unit-sphere codes (``"encoder_l2"``) miss both targets (50.0 % and 85.3 %); see ``ocnn_jax.ocnn``.

    Attributes:
      nu: ν ∈ (0, 1]; r is the ν-quantile of ŷ over the whole training set, refreshed every epoch.
      g: hidden activation, "linear" (identity; "identity" is accepted as an alias) or "sigmoid".
      hidden_units: h, rows of V (32 for MNIST and the MLP, 128 for CIFAR-10).
      features: what z is, shape (p,) per sample:
        "input" (default, project deviation): the flattened preprocessed input (p = prod(input
        shape)); no encoder, no pretraining (``pretrain`` is kept but not used).
        "encoder" (ALGORITHMS §2): the pretrained AE encoder's code (p = rep_dim).
        "encoder_l2": that code projected to the unit sphere, z / max(‖z‖, 1e-12) (p = rep_dim).
      finetune_encoder: False (default): the pretrained encoder is frozen in inference mode and z is
        computed once per run; True: the encoder trains too (BN in training mode) with coupled decay
        ``train.weight_decay`` on the encoder only. Needs features "encoder" or "encoder_l2".
      train: the head phase. ``weight_decay`` is applied to the encoder parameters only, and only when
        fine-tuning; w and V are never decayed (their penalties ½‖w‖² + ½‖V‖² are in the loss).
      pretrain: the AE phase whose encoder (weights and BN statistics) provides z with features
        "encoder"/"encoder_l2"; None: the encoder keeps its random init. Not used with "input"
        (``active_pretrain`` gives the phase that actually runs).
      score_batch_size: samples per chunk in inference passes; memory only.
    """

    nu: float = 0.1
    g: str = "linear"
    hidden_units: int = 32
    features: str = "input"
    finetune_encoder: bool = False
    train: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-4, lr_milestone=None, weight_decay=1e-6, batch_size=200, epochs=100)
    )
    pretrain: OptimConfig | None = field(default_factory=lambda: _ae_row("mnist_lenet"))
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        validate_nu(self.nu)
        if self.g == "identity":
            object.__setattr__(self, "g", "linear")
        if self.g not in OCNN_ACTIVATIONS:
            raise ValueError(f"g must be one of {OCNN_ACTIVATIONS} (or 'identity'), got {self.g!r}")
        _check_int("hidden_units", self.hidden_units, minimum=1)
        if self.features not in OCNN_FEATURES:
            raise ValueError(f"features must be one of {OCNN_FEATURES}, got {self.features!r}")
        if not isinstance(self.finetune_encoder, bool):
            raise ValueError(f"finetune_encoder must be True or False, got {self.finetune_encoder!r}")
        if self.features == "input" and self.finetune_encoder:
            raise ValueError(
                "finetune_encoder=True needs features='encoder' or 'encoder_l2' (features='input' has no encoder)"
            )
        _check_int("score_batch_size", self.score_batch_size, minimum=1)


def active_pretrain(cfg: Any) -> OptimConfig | None:
    """The AE pretraining phase ``cfg`` actually runs: ``cfg.pretrain``, or None when it has none or
    when OC-NN uses ``features="input"`` (no encoder)."""
    if isinstance(cfg, OCNNConfig) and cfg.features == "input":
        return None
    return getattr(cfg, "pretrain", None)


@dataclass(frozen=True)
class RCAEConfig:
    """RCAE (ALGORITHMS §4): T alternations of an E-epoch θ-step and the proximal N-step.

    Attributes:
      lam: λ ≥ 0 of the noise penalty (``inf`` gives N ≡ 0, i.e. DCAE), or a tuple of λ values: a grid
        trained side by side on the model axis (runs ordered class, then λ, then seed).
      penalty: "l1" (elementwise soft-threshold at λ/2) or "l21" (per-sample shrinkage).
      theta_input: "x" (paper: input x, target x − n) or "x_minus_n" (robust deep AE: input x − n).
      outer_iterations: T.
      epochs_per_iteration: E; the θ-steps add up to ``train.epochs = T·E`` (derived; the LR
        milestone counts over all T·E epochs).
      nu: ν ∈ (0, 1], the ``predict`` threshold level: the (1−ν)-quantile of the training scores.
      train: the AE optimiser (ALGORITHMS §6 AE row); its ``epochs`` must equal T·E.
      score_batch_size: samples per chunk in inference passes (N-step residual, scores); memory only.
    """

    #: flat ``with_overrides`` keys of ``train`` that are derived here and cannot be set directly.
    DERIVED_TRAIN_KEYS: ClassVar[frozenset[str]] = frozenset({"epochs"})

    lam: float | tuple[float, ...] = 0.1
    penalty: str = "l1"
    theta_input: str = "x"
    outer_iterations: int = 5
    epochs_per_iteration: int = 30
    nu: float = 0.1
    train: OptimConfig = field(default_factory=lambda: _ae_row("mnist_lenet"))
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        if isinstance(self.lam, (list, tuple)):
            if not self.lam:
                raise ValueError("lam grid is empty; give a number >= 0 or a non-empty sequence of them")
            object.__setattr__(self, "lam", tuple(validate_lam(v) for v in self.lam))
        else:
            object.__setattr__(self, "lam", validate_lam(self.lam))
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}")
        if self.theta_input not in RCAE_INPUTS:
            raise ValueError(f"theta_input must be one of {RCAE_INPUTS}, got {self.theta_input!r}")
        _check_int("outer_iterations", self.outer_iterations, minimum=1)
        _check_int("epochs_per_iteration", self.epochs_per_iteration, minimum=1)
        validate_nu(self.nu)
        if self.train.epochs != self.outer_iterations * self.epochs_per_iteration:
            raise ValueError(
                f"train.epochs must equal outer_iterations × epochs_per_iteration = "
                f"{self.outer_iterations * self.epochs_per_iteration}, got {self.train.epochs}"
            )
        _check_int("score_batch_size", self.score_batch_size, minimum=1)

    @property
    def lams(self) -> tuple[float, ...]:
        """The λ values as a tuple (one entry unless ``lam`` is a grid)."""
        return self.lam if isinstance(self.lam, tuple) else (self.lam,)


@dataclass(frozen=True)
class DCAEConfig:
    """DCAE (ALGORITHMS §4): the plain autoencoder (N ≡ 0) scored by reconstruction error.

    Attributes:
      nu: ν ∈ (0, 1], the ``predict`` threshold level: the (1−ν)-quantile of the training scores.
      train: the AE optimiser (ALGORITHMS §6 AE row), identical to AE pretraining.
      score_batch_size: samples per chunk in inference passes; memory only.
    """

    nu: float = 0.1
    train: OptimConfig = field(default_factory=lambda: _ae_row("mnist_lenet"))
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        validate_nu(self.nu)
        _check_int("score_batch_size", self.score_batch_size, minimum=1)


def _pow2_grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    return tuple(float(2.0 ** (step * k)) for k in range(round(lo / step), round(hi / step) + 1))


@dataclass(frozen=True)
class ShallowConfig:
    """Shallow scikit-learn baselines (Ruff et al. 2018's selection rules, adapted to use no labels).

    Each (class, seed) run holds out ``holdout_fraction`` of its normal training data (a split drawn
    with the run's seed), selects the hyperparameter on that slice, then refits on all of its
    training data with the selected value. No test data and no anomaly labels are used.

    * ocsvm: RBF ``OneClassSVM(nu=nu, gamma=γ)``, γ ∈ ``gammas``; the γ whose held-out acceptance
      rate (fraction of held-out normals with decision value ≥ 0) is closest to 1 − ν is chosen, ties
      to the smaller γ. Score −decision_function; ``predict`` threshold 0 (the SVM's own boundary).
    * kde: Gaussian kernel density (``shallow.GaussianKDE``, equal to scikit-learn's
      ``KernelDensity(bandwidth=h)``), h ∈ ``bandwidths``; the h with the largest mean
      held-out log-likelihood is chosen. Score −log p(x); threshold the (1−ν)-quantile of the
      held-out scores.
    * isoforest: ``IsolationForest(n_estimators, contamination="auto", random_state=seed)``, nothing
      selected. Score −score_samples; threshold −offset_ (0.5, sklearn's own rule).

    Attributes:
      nu: ν ∈ (0, 1] (OC-SVM ν; KDE threshold level).
      gammas: OC-SVM γ grid, default 2^-10 … 2^-1.
      bandwidths: KDE bandwidth grid, default 2^{0.5k}, k = −10 … 10.
      holdout_fraction: share of each run's normal training data held out for selection, in (0, 0.5].
      n_estimators: Isolation Forest trees.
      score_batch_size: samples per ``score`` chunk; memory only.
    """

    nu: float = 0.1
    gammas: tuple[float, ...] = field(default_factory=lambda: _pow2_grid(-10, -1, 1))
    bandwidths: tuple[float, ...] = field(default_factory=lambda: _pow2_grid(-5, 5, 0.5))
    holdout_fraction: float = 0.2
    n_estimators: int = 100
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        validate_nu(self.nu)
        for name in ("gammas", "bandwidths"):
            grid = getattr(self, name)
            if isinstance(grid, (int, float)) and not isinstance(grid, bool):
                grid = (grid,)
            grid = tuple(grid)
            if not grid:
                raise ValueError(f"{name} must be a non-empty sequence of numbers > 0")
            for v in grid:
                _check_positive(name, v)
            object.__setattr__(self, name, tuple(float(v) for v in grid))
        h = self.holdout_fraction
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not (0 < h <= 0.5):
            raise ValueError(f"holdout_fraction must lie in (0, 0.5], got {h!r}")
        _check_int("n_estimators", self.n_estimators, minimum=1)
        _check_int("score_batch_size", self.score_batch_size, minimum=1)


AnyConfig = DeepSVDDConfig | OCNNConfig | RCAEConfig | DCAEConfig | ShallowConfig


def validate_nu(nu: Any, name: str = "nu") -> float:
    """Return ν as a float, or raise ValueError unless it is a real number in (0, 1]."""
    try:
        value = float(nu)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in (0, 1], got {nu!r}") from None
    if not (0.0 < value <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1], got {nu!r}")
    return value


def validate_lam(lam: Any, name: str = "lam") -> float:
    """Return λ as a float, or raise unless it is a number >= 0 (``inf`` allowed: N ≡ 0, DCAE)."""
    if isinstance(lam, bool):
        raise TypeError(f"{name} must be a number >= 0, got {lam!r}")
    try:
        value = float(lam)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number >= 0 (or a sequence of them), got {lam!r}") from None
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 (float('inf') gives DCAE), got {lam!r}")
    return value


_FAMILIES = ("mnist_lenet", "cifar_lenet", "mlp", "custom")


def default_config(backbone: str | None, method: str = "deep_svdd") -> AnyConfig:
    """Paper defaults of ``method`` for a backbone family: "mnist_lenet", "cifar_lenet", "mlp" or "custom".

    MNIST and the MLP use the MNIST rows of ALGORITHMS §6 and §4 (RCAE T = 5, E = 30); CIFAR-10
    pretrains longer with a smaller decay (RCAE T = 10, E = 35) and gives OC-NN h = 128. The MLP row is
    the project's choice for small tabular data (same optimiser settings). The shallow baselines
    ignore ``backbone`` (None is accepted).
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if method in SHALLOW_METHODS:
        return ShallowConfig()
    if backbone not in _FAMILIES:
        raise ValueError(f"backbone must be 'mnist_lenet', 'cifar_lenet', 'mlp' or 'custom', got {backbone!r}")
    cifar = backbone == "cifar_lenet"
    ae = _ae_row(backbone)
    if method in _SVDD_OBJECTIVES:
        train = OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-7, batch_size=200, epochs=150)
        return DeepSVDDConfig(objective=_SVDD_OBJECTIVES[method], train=train, pretrain=ae)
    if method == "ocnn":
        return OCNNConfig(hidden_units=128 if cifar else 32, pretrain=ae)
    if method == "dcae":
        return DCAEConfig(train=ae)
    t, e = (10, 35) if cifar else (5, 30)
    return RCAEConfig(outer_iterations=t, epochs_per_iteration=e, train=dataclasses.replace(ae, epochs=t * e))


# Flat keyword -> (phase, field). ``lr`` etc. address the main phase; ``pretrain_*`` the AE phase.
_PHASE_KEYS = {f.name for f in dataclasses.fields(OptimConfig)}
_FIXED_KEYS = {"objective"}  # set by the method name, not by an override


def with_overrides(cfg: AnyConfig, **overrides: Any) -> AnyConfig:
    """Apply flat overrides to any method config.

    Keys: every top-level field of ``cfg`` except ``objective`` (e.g. ``nu``, ``warmup_epochs``,
    ``g``, ``hidden_units``, ``finetune_encoder``, ``lam``, ``penalty``, ``theta_input``,
    ``outer_iterations``, ``epochs_per_iteration``, ``gammas``, ``score_batch_size``); where the
    config has a training phase, ``epochs``, ``lr``, ``lr_milestone``, ``weight_decay``,
    ``batch_size`` (main phase) and ``train`` (an OptimConfig); where it has pretraining, the same
    names prefixed ``pretrain_`` and ``pretrain`` (False/None disables it, an OptimConfig replaces
    it). For RCAE ``epochs`` is derived (T·E) and cannot be set. Unknown names raise TypeError
    naming them; invalid values raise the config's own error naming the field.
    """
    names = {f.name for f in dataclasses.fields(cfg)}
    has_train, has_pre = "train" in names, "pretrain" in names
    top_keys = names - {"train", "pretrain"} - _FIXED_KEYS
    derived = getattr(type(cfg), "DERIVED_TRAIN_KEYS", frozenset())
    train_kw: dict[str, Any] = {}
    pre_kw: dict[str, Any] = {}
    top_kw: dict[str, Any] = {}
    unknown = []
    for key, value in overrides.items():
        if has_train and key in _PHASE_KEYS and key not in derived:
            train_kw[key] = value
        elif has_pre and key.startswith("pretrain_") and key[len("pretrain_") :] in _PHASE_KEYS:
            pre_kw[key[len("pretrain_") :]] = value
        elif key in top_keys:
            top_kw[key] = value
        elif has_pre and key == "pretrain":
            if value is False or value is None:
                top_kw["pretrain"] = None
            elif value is True:
                pass
            elif isinstance(value, OptimConfig):
                top_kw["pretrain"] = value
            else:
                raise TypeError(f"pretrain must be True, False/None or an OptimConfig, got {value!r}")
        elif has_train and key == "train":
            if not isinstance(value, OptimConfig):
                raise TypeError(f"train must be an OptimConfig, got {value!r}")
            top_kw["train"] = value
        else:
            unknown.append(key)
    if unknown:
        allowed = set(top_keys)
        if has_train:
            allowed |= (_PHASE_KEYS - derived) | {"train"}
        if has_pre:
            allowed |= {f"pretrain_{k}" for k in _PHASE_KEYS} | {"pretrain"}
        hint = " (RCAE epochs = outer_iterations × epochs_per_iteration)" if derived & set(unknown) else ""
        raise TypeError(f"unknown config option(s) {unknown} for {type(cfg).__name__}{hint}; allowed: {sorted(allowed)}")
    if "nu" in top_kw:
        top_kw["nu"] = validate_nu(top_kw["nu"])
    if has_train:
        if "epochs" in derived:  # RCAE: the θ-steps add up to T·E epochs
            t = top_kw.get("outer_iterations", cfg.outer_iterations)
            e = top_kw.get("epochs_per_iteration", cfg.epochs_per_iteration)
            _check_int("outer_iterations", t, minimum=1)
            _check_int("epochs_per_iteration", e, minimum=1)
            train_kw["epochs"] = t * e
        top_kw["train"] = dataclasses.replace(top_kw.pop("train", cfg.train), **train_kw)
    if has_pre:
        pretrain = top_kw.pop("pretrain", cfg.pretrain)
        if pre_kw:
            if pretrain is None:
                raise ValueError(f"pretraining is disabled, so {sorted('pretrain_' + k for k in pre_kw)} cannot be set")
            pretrain = dataclasses.replace(pretrain, **pre_kw)
        top_kw["pretrain"] = pretrain
    return dataclasses.replace(cfg, **top_kw)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
