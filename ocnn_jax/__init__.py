"""ocnn_jax: deep one-class anomaly detection as pure, compiled, vmapped JAX functions.

Public API (see README.md): ``fit`` → ``Model`` (``score`` / ``predict`` / ``evaluate`` / ``save``) for
every method in ``METHODS`` (Deep SVDD, OC-NN, RCAE, DCAE as compiled programs; OC-SVM, Isolation
Forest, KDE as ``ShallowModel``), ``load``, the scikit-learn/PyOD-style ``DeepSVDD`` estimator, the
frozen configs, and the pure building blocks in ``ocnn_jax.losses``, ``ocnn_jax.prox``,
``ocnn_jax.program`` and ``ocnn_jax.nn``.
"""

__version__ = "0.1.0"

from . import datasets  # noqa: E402
from .frontend._fit import fit  # noqa: E402
from .engine._devices import set_cpu_devices  # noqa: E402
from .core.config import (  # noqa: E402
    METHODS,
    DCAEConfig,
    DeepSVDDConfig,
    OCNNConfig,
    OptimConfig,
    RCAEConfig,
    ShallowConfig,
    default_config,
    with_overrides,
)
from .core.errors import HypersphereCollapseError, TrainingDivergedError  # noqa: E402
from .frontend._estimator import DeepSVDD  # noqa: E402
from .frontend._files import load  # noqa: E402
from .frontend._model import Model  # noqa: E402
from .methods.shallow import ShallowModel  # noqa: E402
from .datasets.protocol import OneClassSplit, OneClassStack, one_class_split, one_class_stack  # noqa: E402
from .experiments._sweep import sweep  # noqa: E402

__all__ = [
    "__version__",
    "fit",
    "sweep",
    "set_cpu_devices",
    "load",
    "Model",
    "ShallowModel",
    "METHODS",
    "DeepSVDD",
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
    "datasets",
    "one_class_split",
    "one_class_stack",
    "OneClassSplit",
    "OneClassStack",
]
