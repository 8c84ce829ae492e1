"""Named errors: training failures that must be reported rather than silently scored, and files or
output directories that must not be used silently (model files, sweep directories, locks)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "TrainingDivergedError",
    "HypersphereCollapseError",
    "ModelFileError",
    "SweepDirectoryError",
    "DirectoryLockedError",
    "Interrupted",
    "OCNNDegenerateError",
    "TooFewStepsWarning",
]


def _describe(model_indices: list[int], runs: list[dict[str, Any]]) -> str:
    def grid(r: dict[str, Any]) -> str:
        return "".join(f", {k} {v}" for k, v in r.items() if k not in ("normal_class", "seed"))

    return ", ".join(f"model {i} (normal class {r['normal_class']!r}, seed {r['seed']}{grid(r)})"
                     for i, r in zip(model_indices, runs))


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


class ModelFileError(ValueError):
    """A model file cannot be loaded: not an archive, truncated, another format version, a missing or
    misshapen array, non-finite weights, ...

    Attributes:
      path: the file.
      problem: what is wrong with it.
    """

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"model file {path!r}: {problem}")


class SweepDirectoryError(ValueError):
    """A sweep output directory holds results that this call must not reuse or overwrite silently:
    results of another configuration (``differences`` lists what differs), or results without
    ``resume``/``overwrite``.

    Attributes:
      directory: the output directory.
      differences: one line per differing fingerprint entry (empty when none was compared).
    """

    def __init__(self, directory: str, message: str, differences: list[str] | None = None):
        self.directory = directory
        self.differences = list(differences or [])
        super().__init__(message)


class DirectoryLockedError(RuntimeError):
    """Another live process (or a process on another host) holds the lock of an output directory.

    Attributes:
      lock_path: the lock file.
      holder: what the lock file says about its holder ("pid", "host", "created", "argv"), or {}.
    """

    def __init__(self, lock_path: str, holder: dict[str, Any], message: str):
        self.lock_path = lock_path
        self.holder = dict(holder)
        super().__init__(message)


class Interrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) between two compiled calls, after writing its checkpoint.

    A ``KeyboardInterrupt``, so ``except Exception`` does not swallow it.

    Attributes:
      checkpoint: the checkpoint file written before stopping (None when there was none to write).
    """

    def __init__(self, checkpoint: str | None = None):
        self.checkpoint = checkpoint
        where = f"; the checkpoint {checkpoint!r} is saved" if checkpoint else ""
        super().__init__(f"interrupted (SIGINT){where}")


class OCNNDegenerateError(RuntimeError):
    """An OC-NN head found no separation of the normal data from the origin: its final objective is
    not below that of the trivial head w = 0 (ŷ ≡ 0, r = 0, objective 0), e.g. because ‖w‖ collapsed.
    Its scores are then what is left of the random init, not a detector (docs/algorithms.md §2).

    Attributes:
      model_indices, runs: the degenerate runs (as in ``TrainingDivergedError``).
      objectives: their final objectives.
      model: the fitted model with all runs, so nothing is lost; inspect or drop the degenerate ones.
    """

    def __init__(self, model_indices: list[int], runs: list[dict[str, Any]], objectives: list[float],
                 model: Any = None):
        self.model_indices = model_indices
        self.runs = runs
        self.objectives = objectives
        self.model = model
        values = ", ".join(f"{o:.4g}" for o in objectives)
        super().__init__(
            f"OC-NN found no separation from the origin: the final objective of {_describe(model_indices, runs)} "
            f"is {values}, not below the trivial head's 0 (w = 0). The fitted model is attached as .model; "
            "use the default representation (kernel='rbf'), more steps (epochs) or a larger lr."
        )


class TooFewStepsWarning(UserWarning):
    """Explicit settings give a training phase fewer optimizer steps than the per-size minimum
    (``ocnn_jax.methods.defaults.MIN_STEPS``): the network may be left near its initialisation."""
