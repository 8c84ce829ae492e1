"""The one table of per-dataset and per-size defaults on top of each method's paper defaults.

* Per size (every deep method, every ``fit``): each training phase runs at least ``MIN_STEPS`` Adam
  steps on the smallest normal class. The paper settings were sized for MNIST (≈ 6000 images per class,
  30 steps per epoch at b = 200: 3000–4500 steps per phase); on a few hundred samples the same epochs
  are a few hundred steps, which leaves a network near its initialisation. So when a phase's epochs
  come from the defaults, they (and the LR milestone, Deep SVDD's warm-up and RCAE's epochs per
  alternation, all counted in epochs) are multiplied by the smallest integer that reaches
  ``MIN_STEPS``, keeping the schedule's shape; when the caller set them, ``fit`` warns
  (``TooFewStepsWarning``) instead of changing them.
* Per dataset (``dataset_defaults``, used by the demo, ``compare`` and ``sweep``): settings of named
  data sets, e.g. the ≈ 90 training images per scikit-learn digit use batches of 32.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Collection
from typing import Any

from ..core.config import active_pretrain
from ..core.errors import TooFewStepsWarning
from .registry import get_method

__all__ = ["MIN_STEPS", "DATASET_DEFAULTS", "dataset_defaults", "steps_per_epoch", "schedule_for_size"]

#: Minimum Adam steps per training phase (the OC-NN paper's 100 epochs × 30 steps on MNIST).
MIN_STEPS = 3000

#: dataset name -> method name (or "deep": every deep method) -> fit overrides. Method rows win over
#: "deep"; keys a method's config does not have are dropped.
DATASET_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    # ≈ 90 training images per digit: batches of 32 (3 steps per epoch instead of 1 clamped batch).
    # RCAE and DCAE: lr 1e-3 (their AE at 1e-4 was far from converged: DCAE 86.5 -> 99.0 mean AUROC,
    # benchmarks/results/issue3_digits.md).
    "digits": {
        "deep": {"batch_size": 32, "pretrain_batch_size": 32},
        "rcae": {"batch_size": 32, "lr": 1e-3},
        "dcae": {"batch_size": 32, "lr": 1e-3},
    },
}

# Flat override keys that fix a phase's length (the caller chose it: warn, do not extend).
_LENGTH_KEYS = {
    "train": {"epochs", "train", "outer_iterations", "epochs_per_iteration"},
    "pretrain": {"pretrain_epochs", "pretrain"},
}


def dataset_defaults(dataset: str, method: str) -> dict[str, Any]:
    """Fit overrides of ``method`` on the named ``dataset`` ({} when the table has none)."""
    spec = get_method(method)
    rows = DATASET_DEFAULTS.get(dataset, {})
    if spec.kind != "deep":
        return dict(rows.get(method, {}))
    out = dict(rows.get(method, rows.get("deep", {})))
    if not spec.has_pretrain:
        out = {k: v for k, v in out.items() if not k.startswith("pretrain_")}
    return out


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Adam steps per epoch on n samples: full batches only (the last partial batch is dropped)."""
    return n // batch_size


def schedule_for_size(method: str, cfg: Any, n_min: int, explicit: Collection[str] = ()) -> Any:
    """``cfg`` with every default-length phase stretched to at least ``MIN_STEPS`` steps on ``n_min``
    samples (the smallest normal class; batch sizes already at most ``n_min``).

    Args:
      method: the method name (for the warning).
      cfg: the resolved config.
      n_min: samples of the smallest normal class.
      explicit: the flat override keys the caller passed; a phase whose length they fix is left as is,
        with a ``TooFewStepsWarning`` when it has fewer than ``MIN_STEPS`` steps.
    """
    explicit = set(explicit)
    updates: dict[str, Any] = {}
    for name, phase in (("train", getattr(cfg, "train", None)), ("pretrain", active_pretrain(cfg))):
        if phase is None or phase.epochs == 0:
            continue
        spe = max(steps_per_epoch(n_min, phase.batch_size), 1)
        steps = phase.epochs * spe
        if steps >= MIN_STEPS:
            continue
        if explicit & _LENGTH_KEYS[name]:
            warnings.warn(
                f"{method}: the {name} phase runs {phase.epochs} epochs x {spe} steps = {steps} optimizer steps on "
                f"the smallest normal class ({n_min} samples, batch {phase.batch_size}), fewer than {MIN_STEPS}: the "
                f"network may be left near its initialisation. Leave the epochs unset (they are then stretched to "
                f">= {MIN_STEPS} steps), or set more epochs or a smaller batch size.",
                TooFewStepsWarning,
                stacklevel=3,
            )
            continue
        k = math.ceil(MIN_STEPS / steps)
        milestone = None if phase.lr_milestone is None else phase.lr_milestone * k
        updates[name] = dataclasses.replace(phase, epochs=phase.epochs * k, lr_milestone=milestone)
        if name == "train" and hasattr(cfg, "epochs_per_iteration"):  # RCAE: epochs = T·E
            updates["epochs_per_iteration"] = cfg.epochs_per_iteration * k
        if name == "train" and hasattr(cfg, "warmup_epochs"):  # soft-boundary warm-up, in epochs
            updates["warmup_epochs"] = cfg.warmup_epochs * k
    return dataclasses.replace(cfg, **updates) if updates else cfg
