"""Frozen configuration dataclasses and the per-dataset defaults of ALGORITHMS.md §6 and §11.

Configs are immutable values passed explicitly; there is no global state. ``default_config`` returns
the paper settings for a backbone family; ``with_overrides`` applies the flat keyword overrides that
``ocnn_jax.fit(**config)`` accepts (e.g. ``epochs=20, pretrain_epochs=10, nu=0.05``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "OptimConfig",
    "DeepSVDDConfig",
    "METHODS",
    "default_config",
    "with_overrides",
    "validate_nu",
]

Objective = Literal["one-class", "soft-boundary"]

#: Public method names of ``ocnn_jax.fit`` and the Deep SVDD objective each one trains.
METHODS: dict[str, Objective] = {
    "deep_svdd": "one-class",
    "soft_boundary": "soft-boundary",
}


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


def validate_nu(nu: Any, name: str = "nu") -> float:
    """Return ν as a float, or raise ValueError unless it is a real number in (0, 1]."""
    try:
        value = float(nu)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in (0, 1], got {nu!r}") from None
    if not (0.0 < value <= 1.0):
        raise ValueError(f"{name} must lie in (0, 1], got {nu!r}")
    return value


def default_config(backbone: str, method: str = "deep_svdd") -> DeepSVDDConfig:
    """Paper defaults for a backbone family: "mnist_lenet", "cifar_lenet" or "mlp".

    MNIST and the MLP use the MNIST rows of ALGORITHMS §6; CIFAR-10 pretrains longer with a smaller
    decay. The MLP row is the project's choice for small tabular data (same optimiser settings).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    objective = METHODS[method]
    if backbone == "cifar_lenet":
        pretrain = OptimConfig(lr=1e-4, lr_milestone=250, weight_decay=5e-7, batch_size=200, epochs=350)
    elif backbone in ("mnist_lenet", "mlp", "custom"):
        pretrain = OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-4, batch_size=200, epochs=150)
    else:
        raise ValueError(f"backbone must be 'mnist_lenet', 'cifar_lenet', 'mlp' or 'custom', got {backbone!r}")
    train = OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-7, batch_size=200, epochs=150)
    return DeepSVDDConfig(objective=objective, train=train, pretrain=pretrain)


# Flat keyword -> (phase, field). ``lr`` etc. address the main phase; ``pretrain_*`` the AE phase.
_PHASE_KEYS = {f.name for f in dataclasses.fields(OptimConfig)}
_TOP_KEYS = {"nu", "warmup_epochs", "center_eps", "score_batch_size"}


def with_overrides(cfg: DeepSVDDConfig, **overrides: Any) -> DeepSVDDConfig:
    """Apply flat overrides: ``epochs``, ``lr``, ``lr_milestone``, ``weight_decay``, ``batch_size``
    (main phase), the same names prefixed ``pretrain_`` (AE phase), ``pretrain`` (False/None disables
    it, an OptimConfig replaces it), ``train`` (an OptimConfig), and ``nu``, ``warmup_epochs``,
    ``center_eps``, ``score_batch_size``. Unknown names raise TypeError naming them."""
    train_kw: dict[str, Any] = {}
    pre_kw: dict[str, Any] = {}
    top_kw: dict[str, Any] = {}
    unknown = []
    for key, value in overrides.items():
        if key in _PHASE_KEYS:
            train_kw[key] = value
        elif key.startswith("pretrain_") and key[len("pretrain_") :] in _PHASE_KEYS:
            pre_kw[key[len("pretrain_") :]] = value
        elif key in _TOP_KEYS:
            top_kw[key] = value
        elif key == "pretrain":
            if value is False or value is None:
                top_kw["pretrain"] = None
            elif value is True:
                pass
            elif isinstance(value, OptimConfig):
                top_kw["pretrain"] = value
            else:
                raise TypeError(f"pretrain must be True, False/None or an OptimConfig, got {value!r}")
        elif key == "train":
            if not isinstance(value, OptimConfig):
                raise TypeError(f"train must be an OptimConfig, got {value!r}")
            top_kw["train"] = value
        else:
            unknown.append(key)
    if unknown:
        allowed = sorted(_PHASE_KEYS | {f"pretrain_{k}" for k in _PHASE_KEYS} | _TOP_KEYS | {"pretrain", "train"})
        raise TypeError(f"unknown config option(s) {unknown}; allowed: {allowed}")
    if "nu" in top_kw:
        top_kw["nu"] = validate_nu(top_kw["nu"])
    train = dataclasses.replace(top_kw.pop("train", cfg.train), **train_kw)
    pretrain = top_kw.pop("pretrain", cfg.pretrain)
    if pre_kw:
        if pretrain is None:
            raise ValueError(f"pretraining is disabled, so {sorted('pretrain_' + k for k in pre_kw)} cannot be set")
        pretrain = dataclasses.replace(pretrain, **pre_kw)
    return dataclasses.replace(cfg, train=train, pretrain=pretrain, **top_kw)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
