"""The configuration machinery shared by every method: ``OptimConfig`` (one training phase), value
checks, and ``with_overrides``, which applies the flat keyword overrides that ``ocnn_jax.fit(**config)``
accepts (e.g. ``epochs=20, pretrain_epochs=10, nu=0.05``, ``lam=0.5, penalty="l21"``).

Configs are frozen dataclasses passed explicitly; there is no global state. Each method's own config
class and its paper defaults live in its module under ``ocnn_jax.methods``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OptimConfig",
    "with_overrides",
    "active_pretrain",
    "validate_nu",
    "validate_lam",
    "check_int",
    "check_positive",
    "FIRST_CONV_INITS",
    "check_first_conv_init",
]

#: How an encoder's first convolution starts (``first_conv_init`` of the configs whose network has one):
#: "default" — the backbone's random initialisation; "dictionary" — a kernel learned per run on patches of
#: the run's normal class (``ocnn_jax.methods.dictionary``; docs/algorithms.md §6).
FIRST_CONV_INITS: tuple[str, ...] = ("default", "dictionary")

@dataclass(frozen=True)
class OptimConfig:
    """One training phase: Adam with coupled L2 decay and a ×0.1 LR milestone (docs/algorithms.md §6).

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
        check_positive("lr", self.lr)
        if self.lr_milestone is not None and (not isinstance(self.lr_milestone, int) or self.lr_milestone < 1):
            raise ValueError(f"lr_milestone must be a positive int or None, got {self.lr_milestone!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("epochs", self.epochs, minimum=0)


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


#: ``dataclasses.field(metadata=FIXED)``: a field set by the method name, never by a flat override.
FIXED = {"override": False}
_PHASE_KEYS = {f.name for f in dataclasses.fields(OptimConfig)}


def _phases(cfg: Any) -> dict[str, str]:
    """The config's training phases (fields holding an ``OptimConfig``) -> their flat-key prefix:
    "" for ``train`` (``lr``, ``epochs``, ...), "<name>_" for the others (``pretrain_lr``, ...)."""
    return {f.name: "" if f.name == "train" else f"{f.name}_" for f in dataclasses.fields(cfg) if "OptimConfig" in str(f.type)}


def with_overrides(cfg: Any, **overrides: Any) -> Any:
    """Apply flat overrides to any method config; the keys follow from the config's fields.

    Keys: every top-level field of ``cfg`` not marked ``FIXED`` (e.g. ``nu``, ``warmup_epochs``,
    ``g``, ``hidden_units``, ``lam``, ``outer_iterations``, ``gammas``, ``score_batch_size``); for every
    training phase (a field holding an ``OptimConfig``), its fields (``epochs``, ``lr``, ``lr_milestone``,
    ``weight_decay``, ``batch_size``), unprefixed for ``train`` and prefixed with the phase name
    otherwise (``pretrain_epochs``), and the phase itself (an OptimConfig; ``pretrain`` also takes
    False/None to disable it and True to keep it). Phase fields a config derives itself are named in its
    ``DERIVED_TRAIN_KEYS`` and cannot be set (RCAE's epochs = T·E). Unknown names raise TypeError naming
    them; invalid values raise the config's own error naming the field.
    """
    phases = _phases(cfg)
    top_keys = {f.name for f in dataclasses.fields(cfg) if f.metadata.get("override", True)} - set(phases)
    derived = getattr(type(cfg), "DERIVED_TRAIN_KEYS", frozenset())
    phase_kw: dict[str, dict[str, Any]] = {name: {} for name in phases}
    top_kw: dict[str, Any] = {}
    unknown = []
    for key, value in overrides.items():
        phase = next((p for p, pre in phases.items() if key.startswith(pre) and key[len(pre) :] in _PHASE_KEYS
                      and not (p == "train" and key in derived)), None)
        if phase is not None:
            phase_kw[phase][key[len(phases[phase]) :]] = value
        elif key in top_keys:
            top_kw[key] = value
        elif key in phases:
            top_kw[key] = _phase_value(key, value, getattr(cfg, key))
        else:
            unknown.append(key)
    if unknown:
        allowed = set(top_keys) | set(phases)
        for p, pre in phases.items():
            allowed |= {pre + k for k in _PHASE_KEYS if not (p == "train" and k in derived)}
        hint = f" ({type(cfg).DERIVED_HINT})" if derived & set(unknown) else ""
        raise TypeError(f"unknown config option(s) {unknown} for {type(cfg).__name__}{hint}; allowed: {sorted(allowed)}")
    if "nu" in top_kw:
        top_kw["nu"] = validate_nu(top_kw["nu"])
    if derived:  # e.g. RCAE: the θ-steps add up to T·E epochs
        phase_kw["train"].update(cfg.derive_train(**top_kw))
    for name, kw in phase_kw.items():
        phase = top_kw.pop(name, getattr(cfg, name))
        if kw:
            if phase is None:
                raise ValueError(f"pretraining is disabled, so {sorted(phases[name] + k for k in kw)} cannot be set")
            phase = dataclasses.replace(phase, **kw)
        top_kw[name] = phase
    return dataclasses.replace(cfg, **top_kw)


def _phase_value(name: str, value: Any, current: OptimConfig | None) -> OptimConfig | None:
    """A phase given as a whole: an OptimConfig; ``pretrain`` also False/None (disabled) or True (kept)."""
    if isinstance(value, OptimConfig):
        return value
    if name != "train":
        if value is False or value is None:
            return None
        if value is True:
            return current
        raise TypeError(f"{name} must be True, False/None or an OptimConfig, got {value!r}")
    raise TypeError(f"{name} must be an OptimConfig, got {value!r}")


def active_pretrain(cfg: Any) -> OptimConfig | None:
    """The AE pretraining phase ``cfg`` actually runs: ``cfg.pretrain``, or None when it has none or
    when its method does not use it (``cfg.uses_pretrain`` False, e.g. OC-NN with ``features="input"``)."""
    if not getattr(cfg, "uses_pretrain", True):
        return None
    return getattr(cfg, "pretrain", None)


def check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_first_conv_init(value: Any) -> None:
    if value not in FIRST_CONV_INITS:
        raise ValueError(f"first_conv_init must be one of {FIRST_CONV_INITS}, got {value!r}")
