"""Layer 6, the user-facing front end: ``fit``, the fitted ``Model`` (``ShallowModel`` for the
scikit-learn baselines), model files (``Model.save`` / ``load``) and the ``DeepSVDD`` estimator."""

from ._estimator import DeepSVDD
from ._fit import collapsed, fit
from ._load import load
from ._model import Model, Preprocessing, ShallowModel

__all__ = ["fit", "Model", "ShallowModel", "Preprocessing", "load", "DeepSVDD", "collapsed"]
