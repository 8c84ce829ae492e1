"""ocnn_jax: deep one-class anomaly detection as pure, compiled, vmapped JAX functions.

Public API (see README.md): ``fit`` → ``Model`` (``score`` / ``predict`` / ``evaluate`` / ``save``) for
every method in ``METHODS`` (Deep SVDD, OC-NN, RCAE, DCAE as compiled programs; OC-SVM, Isolation
Forest, KDE as ``ShallowModel``), ``load``, ``sweep``, the scikit-learn/PyOD-style ``DeepSVDD``
estimator, the frozen configs, and the layers underneath as subpackages: ``core`` (losses, prox,
``Program``), ``nn``, ``datasets`` (loaders, protocol, preprocessing), ``methods`` (the method table),
``engine`` (driver, devices, checkpoints), ``frontend`` and ``experiments``.
"""

import importlib.metadata as _metadata

from . import core, datasets, engine, experiments, frontend, methods, nn
from .core.config import OptimConfig, with_overrides
from .core.errors import HypersphereCollapseError, TrainingDivergedError
from .core.program import RunSpec, make_runs
from .datasets.protocol import OneClassSplit, OneClassStack, one_class_split, one_class_stack
from .engine import make_run_mesh, set_cpu_devices
from .experiments import sweep
from .frontend import DCAE, KDE, OCNN, OCSVM, RCAE, DeepSVDD, IForest, Model, ShallowModel, fit, load
from .methods import (
    METHODS,
    DCAEConfig,
    DeepSVDDConfig,
    OCNNConfig,
    RCAEConfig,
    ShallowConfig,
    default_config,
    make_train,
)

try:
    __version__ = _metadata.version("ocnn_jax")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "unknown"

__all__ = [
    "__version__",
    "fit",
    "sweep",
    "make_train",
    "make_runs",
    "RunSpec",
    "load",
    "Model",
    "ShallowModel",
    "METHODS",
    "DeepSVDD",
    "OCNN",
    "RCAE",
    "DCAE",
    "OCSVM",
    "IForest",
    "KDE",
    "DeepSVDDConfig",
    "OCNNConfig",
    "RCAEConfig",
    "DCAEConfig",
    "ShallowConfig",
    "OptimConfig",
    "default_config",
    "with_overrides",
    "TrainingDivergedError",
    "HypersphereCollapseError",
    "set_cpu_devices",
    "make_run_mesh",
    "one_class_split",
    "one_class_stack",
    "OneClassSplit",
    "OneClassStack",
    "core",
    "nn",
    "datasets",
    "methods",
    "engine",
    "frontend",
    "experiments",
]
