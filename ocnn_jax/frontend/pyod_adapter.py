"""Optional PyOD integration: register the estimators as ``pyod.models.base.BaseDetector`` subclasses.

PyOD's ``BaseDetector`` is an abstract base class, so registration makes ``isinstance(det,
BaseDetector)`` and ``issubclass(OCNN, BaseDetector)`` true for our estimators without inheriting PyOD's
code: tools that accept "any PyOD detector" (score combination, model selection, ...) take them, and
they keep their own ``fit`` / ``decision_function`` / ``predict_proba`` / ``predict_confidence`` (the
same definitions as PyOD's). Install with ``pip install "ocnn_jax[pyod]"``.

``register()`` is called automatically when ``ocnn_jax`` estimators are imported after PyOD; call it
yourself when PyOD is imported later.
"""

from __future__ import annotations

import sys

from ._estimator import BaseDetector, DCAE, KDE, OCNN, OCSVM, RCAE, DeepSVDD, IForest

__all__ = ["register", "REGISTERED"]

#: The estimator classes that ``register`` registers.
REGISTERED: tuple[type[BaseDetector], ...] = (BaseDetector, DeepSVDD, OCNN, RCAE, DCAE, OCSVM, IForest, KDE)


def register() -> type:
    """Register every estimator class with ``pyod.models.base.BaseDetector`` and return that class.

    Raises:
      ImportError: PyOD is not installed (``pip install "ocnn_jax[pyod]"``).
    """
    try:
        from pyod.models.base import BaseDetector as PyODBaseDetector
    except ImportError as err:
        raise ImportError('the PyOD adapter needs PyOD: pip install "ocnn_jax[pyod]" (or pip install pyod)') from err
    for cls in REGISTERED:
        PyODBaseDetector.register(cls)
    return PyODBaseDetector


def register_if_imported() -> bool:
    """Register when PyOD's base module is already imported (no import cost otherwise); True if done."""
    if "pyod.models.base" in sys.modules:
        register()
        return True
    return False
