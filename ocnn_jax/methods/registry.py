"""Registry of training methods: how each builds its Program, keeps its variables and sets thresholds.

Deep methods only; the shallow scikit-learn baselines (``ocnn_jax.shallow``) are not Programs and take
their own path in ``ocnn_jax.fit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.config import DEEP_METHODS, METHODS
from .deep_svdd import SVDDState, deep_svdd_scores, make_deep_svdd
from ..frontend._model import register_scorer
from ..nn import Backbone
from .ocnn import OCNNState, make_ocnn, ocnn_scores
from ..core.program import Program
from .rcae import RCAEState, make_dcae, make_rcae, reconstruction_scores

__all__ = ["MethodSpec", "METHOD_SPECS", "get_method"]


class MethodSpec(NamedTuple):
    """What ``fit`` needs to know about a method.

    Attributes:
      make_program: (backbone, config, n_max, n_chunks) -> Program.
      export: final training state (leaves with a leading model axis) -> the variables a Model keeps
        (no optimiser state or keys).
      threshold: (valid training scores of one run, config) -> the run's ``predict`` threshold.
    """

    make_program: Callable[[Backbone, Any, int, int], Program]
    export: Callable[[Any], Any]
    threshold: Callable[[np.ndarray, Any], float]


def _export_svdd(state: SVDDState) -> dict[str, Any]:
    return {"params": state.params, "batch_stats": state.batch_stats, "center": state.center, "radius": state.radius}


def _svdd_vars_as_state(v: dict[str, Any]) -> SVDDState:
    return SVDDState(v["params"], v["batch_stats"], None, None, v["center"], v["radius"])


@register_scorer("deep_svdd")
def _score_one_class(backbone: Backbone, cfg: Any, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=False)


@register_scorer("soft_boundary")
def _score_soft(backbone: Backbone, cfg: Any, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=True)


register_scorer("ocnn")(ocnn_scores)
register_scorer("rcae")(reconstruction_scores)
register_scorer("dcae")(reconstruction_scores)


def _export_ocnn(state: OCNNState) -> dict[str, Any]:
    return {"params": state.params, "batch_stats": state.batch_stats, "r": state.r}


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


METHOD_SPECS: dict[str, MethodSpec] = {
    "deep_svdd": MethodSpec(make_deep_svdd, _export_svdd, _upper_quantile_threshold),
    "soft_boundary": MethodSpec(make_deep_svdd, _export_svdd, _zero_threshold),
    "ocnn": MethodSpec(make_ocnn, _export_ocnn, _zero_threshold),
    "rcae": MethodSpec(make_rcae, _export_rcae, _upper_quantile_threshold),
    "dcae": MethodSpec(make_dcae, _export_ae, _upper_quantile_threshold),
}
assert set(METHOD_SPECS) == set(DEEP_METHODS)


def get_method(method: Any) -> MethodSpec:
    """The spec of a deep ``method``, or a ValueError listing the known methods."""
    if not isinstance(method, str) or method not in METHOD_SPECS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHOD_SPECS[method]
