"""ocnn_jax: deep one-class anomaly detection as pure, compiled, vmapped JAX functions.

Public API (see README.md): ``fit`` → ``Model`` (``score`` / ``predict`` / ``evaluate`` / ``save``) for
every method in ``METHODS`` (Deep SVDD, OC-NN, RCAE, DCAE as compiled programs; OC-SVM, Isolation
Forest, KDE as ``ShallowModel``), ``load``, ``sweep``, the scikit-learn/PyOD-style estimators
(``DeepSVDD``, ``OCNN``, ``RCAE``, ``DCAE``, ``OCSVM``, ``IForest``, ``KDE``), the frozen configs, the
training loggers, and the layers underneath as subpackages: ``core`` (losses, prox, ``Program``),
``nn``, ``datasets`` (loaders, protocol, preprocessing), ``methods`` (the method table), ``engine``
(driver, devices, checkpoints, callbacks), ``frontend`` and ``experiments``.

Names are imported on first use (PEP 562), so ``import ocnn_jax`` and the command line's ``--help``
do not load JAX; ``ocnn_jax.fit`` (or any other name) does.
"""

from __future__ import annotations

import importlib
import importlib.metadata as _metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = _metadata.version("ocnn_jax")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "unknown"

#: Subpackages, imported on first attribute access.
_SUBPACKAGES = ("core", "nn", "datasets", "methods", "engine", "frontend", "experiments")

#: Public name -> the module (relative to this package) that defines it.
_NAMES: dict[str, str] = {
    **dict.fromkeys(["fit", "load", "Model", "ShallowModel", "DeepSVDD", "OCNN", "RCAE", "DCAE", "OCSVM", "IForest",
                     "KDE", "reconstruction_parts"], "frontend"),
    "sweep": "experiments",
    **dict.fromkeys(["METHODS", "DeepSVDDConfig", "OCNNConfig", "RCAEConfig", "DCAEConfig", "ShallowConfig",
                     "default_config", "make_train"], "methods"),
    **dict.fromkeys(["OptimConfig", "with_overrides"], "core.config"),
    **dict.fromkeys(["HypersphereCollapseError", "TrainingDivergedError", "ModelFileError", "SweepDirectoryError",
                     "DirectoryLockedError", "Interrupted", "OCNNDegenerateError", "TooFewStepsWarning"], "core.errors"),
    **dict.fromkeys(["RunSpec", "make_runs"], "core.program"),
    **dict.fromkeys(["OneClassSplit", "OneClassStack", "one_class_split", "one_class_stack"], "datasets.protocol"),
    **dict.fromkeys(["make_run_mesh", "set_cpu_devices", "CSVLogger", "TensorBoardLogger", "EpochMetrics"], "engine"),
}

__all__ = ["__version__", *_NAMES, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'ocnn_jax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see
    from . import core, datasets, engine, experiments, frontend, methods, nn  # noqa: F401
    from .core.config import OptimConfig, with_overrides  # noqa: F401
    from .core.errors import (  # noqa: F401
        DirectoryLockedError, HypersphereCollapseError, Interrupted, ModelFileError, OCNNDegenerateError,
        SweepDirectoryError, TooFewStepsWarning, TrainingDivergedError)
    from .core.program import RunSpec, make_runs  # noqa: F401
    from .datasets.protocol import OneClassSplit, OneClassStack, one_class_split, one_class_stack  # noqa: F401
    from .engine import CSVLogger, EpochMetrics, TensorBoardLogger, make_run_mesh, set_cpu_devices  # noqa: F401
    from .experiments import sweep  # noqa: F401
    from .frontend import (  # noqa: F401
        DCAE, KDE, OCNN, OCSVM, RCAE, DeepSVDD, IForest, Model, ShallowModel, fit, load, reconstruction_parts)
    from .methods import (  # noqa: F401
        METHODS, DCAEConfig, DeepSVDDConfig, OCNNConfig, RCAEConfig, ShallowConfig, default_config, make_train)
