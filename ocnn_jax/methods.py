"""Registry of training methods: how each builds its Program, keeps its variables and sets thresholds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from .config import METHODS, DeepSVDDConfig
from .deep_svdd import SVDDState, deep_svdd_scores, make_deep_svdd
from .model import register_scorer
from .nn import Backbone
from .program import Program

__all__ = ["MethodSpec", "METHOD_SPECS", "get_method"]


class MethodSpec(NamedTuple):
    """What ``fit`` needs to know about a method.

    Attributes:
      make_program: (backbone, config, n_max, n_chunks) -> Program.
      export: final training state -> the variables a Model keeps (no optimiser state or keys).
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
def _score_one_class(backbone: Backbone, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=False)


@register_scorer("soft_boundary")
def _score_soft(backbone: Backbone, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    return deep_svdd_scores(backbone, _svdd_vars_as_state(variables), x, soft_boundary=True)


def _one_class_threshold(train_scores: np.ndarray, cfg: DeepSVDDConfig) -> float:
    # The paper defines no threshold; the project flags scores above the (1−ν)-quantile of training scores.
    return float(np.quantile(train_scores, 1.0 - cfg.nu))


def _soft_threshold(train_scores: np.ndarray, cfg: DeepSVDDConfig) -> float:
    return 0.0  # score = d − R², outside the sphere ⇔ score > 0


METHOD_SPECS: dict[str, MethodSpec] = {
    "deep_svdd": MethodSpec(make_deep_svdd, _export_svdd, _one_class_threshold),
    "soft_boundary": MethodSpec(make_deep_svdd, _export_svdd, _soft_threshold),
}
assert set(METHOD_SPECS) == set(METHODS)


def get_method(method: Any) -> MethodSpec:
    """The spec of ``method``, or a ValueError listing the known ones."""
    if not isinstance(method, str) or method not in METHOD_SPECS:
        raise ValueError(f"method must be one of {sorted(METHOD_SPECS)}, got {method!r}")
    return METHOD_SPECS[method]
