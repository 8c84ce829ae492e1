"""Layer 1, pure JAX/NumPy building blocks: losses, prox operators, the optimiser, batching, the
``Program`` of a run, the shared config machinery, input validation and named errors. Imports
nothing else from ocnn_jax.

Reading order: ``program`` (a run as data), ``batching`` (padded per-class data, minibatch epochs,
the run axis map), ``losses`` and ``prox`` (the objectives), ``optim``, ``config``.
"""

from . import losses, prox
from .batching import StackedData, stack_classes
from .config import OptimConfig, active_pretrain, with_overrides
from .errors import (
    DirectoryLockedError,
    HypersphereCollapseError,
    Interrupted,
    ModelFileError,
    OCNNDegenerateError,
    SweepDirectoryError,
    TooFewStepsWarning,
    TrainingDivergedError,
)
from .program import Phase, Program, RunSpec, make_runs, run_program

__all__ = [
    "losses",
    "prox",
    "StackedData",
    "stack_classes",
    "Program",
    "Phase",
    "RunSpec",
    "run_program",
    "make_runs",
    "OptimConfig",
    "with_overrides",
    "active_pretrain",
    "TrainingDivergedError",
    "HypersphereCollapseError",
    "ModelFileError",
    "SweepDirectoryError",
    "DirectoryLockedError",
    "Interrupted",
    "OCNNDegenerateError",
    "TooFewStepsWarning",
]
