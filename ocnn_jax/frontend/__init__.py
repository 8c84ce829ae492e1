"""Layer 6, the user-facing front end: ``fit``, the fitted ``Model`` (``ShallowModel`` for the
scikit-learn baselines), model files (``Model.save`` / ``load``) and the PyOD-style estimators
(``DeepSVDD``, ``OCNN``, ``RCAE``, ``DCAE``, ``OCSVM``, ``IForest``, ``KDE``)."""

from ._explain import reconstruction_parts
from ._estimator import DCAE, ESTIMATORS, KDE, OCNN, OCSVM, RCAE, BaseDetector, DeepSVDD, IForest
from ._fit import Prepared, RunTable, collapsed, fit, prepare
from ._load import load
from ._model import Model, Preprocessing, ShallowModel
from .pyod_adapter import register_if_imported as _register_pyod

_register_pyod()

__all__ = ["fit", "prepare", "Prepared", "RunTable", "Model", "ShallowModel", "Preprocessing", "load", "BaseDetector", "DeepSVDD", "OCNN", "RCAE",
           "DCAE", "OCSVM", "IForest", "KDE", "ESTIMATORS", "reconstruction_parts", "collapsed"]
