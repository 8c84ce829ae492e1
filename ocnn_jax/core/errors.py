"""Named errors for training failures that must be reported rather than silently scored."""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingDivergedError", "HypersphereCollapseError"]


def _describe(model_indices: list[int], runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"model {i} (normal class {r['normal_class']!r}, seed {r['seed']})" for i, r in zip(model_indices, runs))


class TrainingDivergedError(FloatingPointError):
    """A run's loss became NaN or infinite.

    Attributes:
      model_indices: positions on the run axis whose loss was not finite.
      runs: for each, a dict with its normal class and seed.
      phase: the phase name ("pretrain", "train", ...).
      epoch: the first 0-based epoch of that phase at which a non-finite loss was seen.
    """

    def __init__(self, model_indices: list[int], runs: list[dict[str, Any]], phase: str, epoch: int):
        self.model_indices = model_indices
        self.runs = runs
        self.phase = phase
        self.epoch = epoch
        super().__init__(
            f"non-finite loss in phase {phase!r} at epoch {epoch}: {_describe(model_indices, runs)}. "
            "Lower the learning rate (lr / pretrain_lr) or check the input scaling."
        )


class HypersphereCollapseError(RuntimeError):
    """Training scores of one or more runs are (numerically) constant: the network mapped every
    training sample to the same point, so its scores carry no information.

    Attributes:
      model_indices, runs: the collapsed runs (as in ``TrainingDivergedError``).
      model: the fitted model with all runs, so nothing is lost; inspect or drop the collapsed ones.
    """

    def __init__(self, model_indices: list[int], runs: list[dict[str, Any]], model: Any = None):
        self.model_indices = model_indices
        self.runs = runs
        self.model = model
        super().__init__(
            f"hypersphere collapse: the training scores of {_describe(model_indices, runs)} are constant "
            "(all representations at the centre, or all scores equal). The fitted model is attached "
            "as .model; try pretraining, a smaller weight decay or a different backbone."
        )
