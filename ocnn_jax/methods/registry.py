"""The one table of methods: every method name that ``fit``, ``sweep``, the demo, model files and the
CLI accept is looked up here, and nowhere else.

A deep method is trained as one compiled ``Program`` over all its runs; a shallow baseline fits one
scikit-learn estimator per run on the host. Each row says which config class the method uses, its
paper defaults per backbone family, and either the pieces of its program (deep) or its ``Estimator``
(shallow).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.program import Program
from ..datasets.preprocess import DEFAULT_PREPROCESSING
from ..nn import Backbone
from .deep_svdd import DeepSVDDConfig, SVDDState, deep_svdd_scores, make_deep_svdd, svdd_defaults
from .ocnn import CIFAR_NU, OCNNConfig, OCNNState, degenerate_runs, make_ocnn, ocnn_defaults, ocnn_scores
from .rcae import DCAEConfig, RCAEConfig, RCAEState, dcae_defaults, make_dcae, make_rcae, rcae_defaults, reconstruction_scores
from .shallow import ISOFOREST, KDE, OCSVM, Estimator, ShallowConfig

__all__ = [
    "Method",
    "METHOD_TABLE",
    "METHODS",
    "DEEP_METHODS",
    "SHALLOW_METHODS",
    "BACKBONE_FAMILIES",
    "get_method",
    "default_config",
    "config_types",
    "SHALLOW_PREPROCESSING",
    "CIFAR_KDE_PCA",
    "shallow_defaults",
]

#: Backbone families with paper defaults (the MLP follows the MNIST rows; "custom" too).
BACKBONE_FAMILIES: tuple[str, ...] = ("mnist_lenet", "cifar_lenet", "mlp", "custom")


class Method(NamedTuple):
    """Everything the library knows about one method.

    Attributes:
      name: the method name of ``fit(method=...)``.
      kind: "deep" (one compiled program over every run) or "shallow" (host estimators, one per run).
      config_type: the frozen config class.
      defaults: backbone family -> the default config. The shallow baselines take the data family
        (``nn.auto_family`` of the sample shape; None: feature vectors of unknown kind).
      quick: ``sweep(quick=True)`` overrides: CPU-sized epochs (the LR milestone inside the shortened run).
      make_program: deep: (backbone, config, n_max, n_chunks) -> Program.
      export: deep: final training state (leaves with a leading run axis) -> the variables a Model keeps
        (no optimiser state or keys).
      scorer: deep: (backbone, config, variables of ONE run, x (B, *network_shape)) -> (B,) scores,
        higher = more anomalous.
      threshold: deep: (valid training scores of one run, config) -> the run's ``predict`` threshold.
      estimator: shallow: the method's ``Estimator``.
      stores_noise: the run keeps an (n_max, *input) noise matrix on device (memory estimate).
      preprocessing: what ``preprocessing="auto"`` means for this method: (images, feature vectors).
        The deep methods use Ruff's l1 GCN + per-class min-max on images and standardising on vectors
        (OC-NN: floored standardising, ``OCNN_PREPROCESSING``); each shallow baseline the input
        measured to serve it best (``SHALLOW_PREPROCESSING``).
      degenerate: deep, optional: fit's train metrics ("<phase>/<name>" -> (M, epochs)) -> indices of
        runs that trained into a degenerate solution, judged without labels (OC-NN: no separation
        from the origin, ``ocnn.degenerate_runs``).
    """

    name: str
    kind: str
    config_type: type
    defaults: Callable[[str | None], Any]
    quick: dict[str, Any]
    make_program: Callable[[Backbone, Any, int, int], Program] | None = None
    export: Callable[[Any], Any] | None = None
    scorer: Callable[[Backbone, Any, Any, jax.Array], jax.Array] | None = None
    threshold: Callable[[np.ndarray, Any], float] | None = None
    estimator: Estimator | None = None
    stores_noise: bool = False
    preprocessing: tuple[str, str] = DEFAULT_PREPROCESSING
    degenerate: Callable[[dict[str, np.ndarray]], list[int]] | None = None

    @property
    def has_pretrain(self) -> bool:
        """Whether the method's config has an AE pretraining phase."""
        return "pretrain" in {f.name for f in dataclasses.fields(self.config_type)}


def _export_svdd(state: SVDDState) -> dict[str, Any]:
    return {"params": state.params, "batch_stats": state.batch_stats, "center": state.center, "radius": state.radius}


def _svdd_vars_as_state(v: dict[str, Any]) -> SVDDState:
    return SVDDState(v["params"], v["batch_stats"], None, None, v["center"], v["radius"])


def _score_one_class(backbone: Backbone, cfg: Any, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=False)


def _score_soft(backbone: Backbone, cfg: Any, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=True)


def _export_ocnn(state: OCNNState) -> dict[str, Any]:
    out = {"params": state.params, "batch_stats": state.batch_stats, "r": state.r}
    if state.kernel is not None:  # the RBF layer (docs/algorithms.md §2) is part of the scorer
        out["kernel"] = state.kernel._asdict()
    return out


def _export_ae(state: Any) -> dict[str, Any]:
    return {"params": state.params, "batch_stats": state.batch_stats}


def _export_rcae(state: RCAEState) -> dict[str, Any]:
    # ‖N_i‖₂ per training row (padding rows 0) as a diagnostic; N itself stays behind.
    noise = state.noise
    norms = jnp.sqrt(jnp.sum(jnp.square(noise).reshape(noise.shape[:2] + (-1,)), axis=-1))
    return {**_export_ae(state.ae), "noise_norms": norms}


def _upper_quantile_threshold(train_scores: np.ndarray, cfg: Any) -> float:
    # No threshold in the objective: the project flags scores above the (1−ν)-quantile of training scores.
    return float(np.quantile(train_scores, 1.0 - cfg.nu))


def _zero_threshold(train_scores: np.ndarray, cfg: Any) -> float:
    return 0.0  # soft-boundary: d − R² > 0 outside the sphere; OC-NN: r − ŷ > 0 below the hyperplane


#: The shallow baselines' "auto" preprocessing, (images, feature vectors), chosen by measurement
#: (``benchmarks/results/default_settings_suite.md``; label-free rules):
#: * Isolation Forest splits each feature uniformly between its min and max, so per-feature affine maps
#:   do not change it: the raw inputs ([0, 1] pixels), exactly scikit-learn's defaults. Per-sample GCN
#:   does change it, for the worse (MNIST quick 85.8 raw vs 83.3 GCN + min-max).
#: * OC-SVM (γ = 1/(d·Var), scikit-learn's "scale" rule) on raw [0, 1] pixels, and on feature vectors
#:   standardised with each std floored at the median feature std (``fit_standardize_floor``).
#: * KDE on Ruff's GCN + min-max for images (MNIST quick 96.1 vs 95.4 on raw pixels; on the CIFAR-10
#:   family followed by a PCA, ``CIFAR_KDE_PCA``), floored standardising on feature vectors.
SHALLOW_PREPROCESSING: dict[str, tuple[str, str]] = {
    "ocsvm": ("none", "standardize_floor"),
    "isoforest": ("none", "none"),
    "kde": ("gcn_minmax", "standardize_floor"),
}

#: KDE on the CIFAR-10 family (32×32×3 images): the share of variance that a PCA fitted on each run's
#: GCN + min-max training rows keeps before the density (Ruff et al.'s input for their baselines). Over
#: the ten CIFAR-10 classes it ranks better than raw or GCN + min-max pixels without it (docs/algorithms.md §8).
CIFAR_KDE_PCA = 0.95


def shallow_defaults(method: str, family: str | None) -> ShallowConfig:
    """The shallow baselines' defaults on a data family: ``ShallowConfig()``, except on the CIFAR-10
    family: OC-SVM's ν is OC-NN's ``CIFAR_NU`` (0.5, scikit-learn's default; the kernel on raw CIFAR-10
    pixels ranks better with half the training data outside the boundary, as OC-NN's RBF head does on
    the encoder body), and KDE projects onto the PCA components that keep ``CIFAR_KDE_PCA`` of the
    variance."""
    if method == "ocsvm" and family == "cifar_lenet":
        return ShallowConfig(nu=CIFAR_NU)
    if method == "kde" and family == "cifar_lenet":
        return ShallowConfig(pca=CIFAR_KDE_PCA)
    return ShallowConfig()


#: OC-NN's "auto" preprocessing (images, feature vectors): Ruff's GCN + min-max on images like the other
#: deep methods; on feature vectors the floored standardising of our OC-SVM, whose kernel OC-NN's RBF
#: layer then shares (plain standardising blows up features that barely vary in the normal class;
#: benchmarks/results/issue13_ocnn_flat_findings.md).
OCNN_PREPROCESSING: tuple[str, str] = ("gcn_minmax", "standardize_floor")

_SVDD_QUICK = {"epochs": 5, "pretrain_epochs": 5, "lr_milestone": 4, "pretrain_lr_milestone": 4}

METHOD_TABLE: dict[str, Method] = {
    m.name: m
    for m in (
        Method("deep_svdd", "deep", DeepSVDDConfig, lambda family: svdd_defaults(family, "one-class"), _SVDD_QUICK,
               make_deep_svdd, _export_svdd, _score_one_class, _upper_quantile_threshold),
        Method("soft_boundary", "deep", DeepSVDDConfig, lambda family: svdd_defaults(family, "soft-boundary"),
               {**_SVDD_QUICK, "warmup_epochs": 2},
               make_deep_svdd, _export_svdd, _score_soft, _zero_threshold),
        # OC-NN's quick AE pretraining is longer than Deep SVDD's 5 epochs: the RBF layer reads the encoder
        # body, whose features beat the pixels only once the AE is trained
        # (benchmarks/results/issue13_ocnn_deep_findings.md).
        Method("ocnn", "deep", OCNNConfig, ocnn_defaults, {"pretrain_epochs": 30, "pretrain_lr_milestone": 24},
               make_ocnn, _export_ocnn, ocnn_scores, _zero_threshold, degenerate=degenerate_runs,
               preprocessing=OCNN_PREPROCESSING),
        # DCAE's quick length is 20 epochs (≈ 540 Adam steps on an MNIST class) and RCAE's T × E = 2 × 10,
        # the same number of AE epochs: at 10, runs stopped before they converged and the seed std reached
        # 3.3 (DCAE) and 4.2 (RCAE) points on MNIST digits 4 and 5
        # (benchmarks/results/issue20_ae_stability_findings.md §4).
        Method("rcae", "deep", RCAEConfig, rcae_defaults,
               {"outer_iterations": 2, "epochs_per_iteration": 10, "lr_milestone": 16},
               make_rcae, _export_rcae, reconstruction_scores, _upper_quantile_threshold, stores_noise=True),
        Method("dcae", "deep", DCAEConfig, dcae_defaults, {"epochs": 20, "lr_milestone": 16},
               make_dcae, _export_ae, reconstruction_scores, _upper_quantile_threshold),
        Method("ocsvm", "shallow", ShallowConfig, lambda family: shallow_defaults("ocsvm", family), {}, estimator=OCSVM,
               preprocessing=SHALLOW_PREPROCESSING["ocsvm"]),
        Method("isoforest", "shallow", ShallowConfig, lambda family: shallow_defaults("isoforest", family), {}, estimator=ISOFOREST,
               preprocessing=SHALLOW_PREPROCESSING["isoforest"]),
        Method("kde", "shallow", ShallowConfig, lambda family: shallow_defaults("kde", family), {}, estimator=KDE,
               preprocessing=SHALLOW_PREPROCESSING["kde"]),
    )
}

#: Every method name of ``ocnn_jax.fit``.
METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
#: Methods trained as one compiled JAX program per fit (every (class, seed[, λ]) run on the run axis).
DEEP_METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE.values() if m.kind == "deep")
#: scikit-learn baselines fitted on the host, one estimator per (class, seed), same preprocessing.
SHALLOW_METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE.values() if m.kind == "shallow")


def get_method(method: Any) -> Method:
    """The table row of ``method``, or a ValueError listing the known methods."""
    if not isinstance(method, str) or method not in METHOD_TABLE:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHOD_TABLE[method]


def default_config(backbone: str | None, method: str = "deep_svdd") -> Any:
    """Paper defaults of ``method`` for a backbone family: "mnist_lenet", "cifar_lenet", "mlp" or "custom".

    MNIST and the MLP use the MNIST rows of docs/algorithms.md §6 and §4 (RCAE T = 5, E = 30); CIFAR-10
    pretrains longer with a smaller decay (RCAE T = 10, E = 35) and gives OC-NN h = 128. The MLP row is
    the project's choice for small tabular data (same optimiser settings). The shallow baselines take
    the data family the same way (None is accepted: ``ShallowConfig()``); only OC-SVM's ν depends on it
    (``shallow_defaults``).
    """
    spec = get_method(method)
    if spec.kind == "deep" and backbone not in BACKBONE_FAMILIES:
        raise ValueError(f"backbone must be 'mnist_lenet', 'cifar_lenet', 'mlp' or 'custom', got {backbone!r}")
    return spec.defaults(backbone)


def config_types() -> dict[str, type]:
    """Config class name -> class, for every method (model files store the name)."""
    return {m.config_type.__name__: m.config_type for m in METHOD_TABLE.values()}
