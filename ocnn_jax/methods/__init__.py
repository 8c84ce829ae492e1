"""Layer 4, the methods: one module per method (its config, paper defaults, state, program and
scorer) and ``registry``, the one table where a method name is looked up.

Reading order: ``registry`` (what every method provides), then ``deep_svdd`` (the simplest program),
``ae_training`` (the AE pretraining phase the deep methods share), ``ocnn``, ``rcae``, ``shallow``.
"""

from .ae_training import ae_row
from .deep_svdd import DeepSVDDConfig, SVDDState, deep_svdd_scores, make_deep_svdd, svdd_defaults
from .defaults import DATASET_DEFAULTS, MIN_STEPS, dataset_defaults, schedule_for_size
from .ocnn import OCNN_FEATURES, OCNN_KERNELS, PAPER_OCNN, OCNNConfig, OCNNState, degenerate_runs, make_ocnn, ocnn_defaults, ocnn_scores
from .rcae import (
    RCAE_INPUTS,
    DCAEConfig,
    RCAEConfig,
    RCAEState,
    dcae_defaults,
    make_dcae,
    make_rcae,
    noise_nonzero_per_iteration,
    rcae_defaults,
    reconstruction_scores,
)
from .registry import DEEP_METHODS, METHOD_TABLE, METHODS, SHALLOW_METHODS, Method, default_config, get_method
from .train import Train, make_train
from .shallow import ISOFOREST, KDE, OCSVM, Estimator, GaussianKDE, ShallowConfig, fit_estimator, fit_shallow

__all__ = [
    # the method table
    "Method", "METHOD_TABLE", "METHODS", "DEEP_METHODS", "SHALLOW_METHODS", "get_method", "default_config",
    # per-dataset and per-size defaults on top of the paper defaults
    "DATASET_DEFAULTS", "MIN_STEPS", "dataset_defaults", "schedule_for_size",
    # one run as one pure function
    "make_train", "Train",
    # per method: config, defaults, state, program, scorer
    "ae_row",
    "DeepSVDDConfig", "svdd_defaults", "SVDDState", "make_deep_svdd", "deep_svdd_scores",
    "OCNNConfig", "OCNN_FEATURES", "OCNN_KERNELS", "PAPER_OCNN", "ocnn_defaults", "OCNNState", "make_ocnn", "ocnn_scores",
    "degenerate_runs",
    "RCAEConfig", "DCAEConfig", "RCAE_INPUTS", "rcae_defaults", "dcae_defaults", "RCAEState", "make_rcae",
    "make_dcae", "reconstruction_scores", "noise_nonzero_per_iteration",
    "ShallowConfig", "Estimator", "OCSVM", "KDE", "ISOFOREST", "GaussianKDE", "fit_estimator", "fit_shallow",
]
