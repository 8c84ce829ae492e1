"""``make_train``: one whole training run of a deep method as one pure function.

In the sense of purejaxrl's ``make_train(config) -> train(rng)``::

    train = make_train("deep_svdd", backbone, data, epochs=20)
    keys, runs = make_runs(run_class, run_seeds, train.config.nu)
    state, metrics = jax.jit(jax.vmap(train, in_axes=(0, 0, None)))(keys, runs, data)   # a whole sweep

``ocnn_jax.fit`` runs the very same phase functions through the chunked driver (progress, NaN checks,
checkpoints), so both paths compute the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from ..core.batching import StackedData, eval_chunking
from ..core.config import with_overrides
from ..core.program import Program, RunSpec, run_program
from ..nn import Backbone
from .registry import default_config, get_method

__all__ = ["Train", "make_train"]


@dataclasses.dataclass(frozen=True, eq=False)
class Train:
    """``train(key, run, data) -> (final state, metrics)``: one run of ``method`` as a pure function.

    Attributes:
      method: the method name.
      config: its resolved config (static: epochs, batch sizes, schedule).
      backbone: the network.
      program: the run as data (init, phases, transitions), which the chunked driver executes.
    """

    method: str
    config: Any
    backbone: Backbone
    program: Program

    def __call__(self, key: jax.Array, run: RunSpec, data: StackedData) -> tuple[Any, dict[str, jax.Array]]:
        """The whole run: metrics map "<phase>/<name>" to (epochs,) arrays."""
        return run_program(self.program, key, run, data)

    def variables(self, state: Any) -> Any:
        """What a fitted model keeps of a final state (no optimiser state or keys); works on one run
        or on states with a leading run axis."""
        return get_method(self.method).export(state)

    def score(self, variables: Any, x: jax.Array) -> jax.Array:
        """Inference-mode anomaly scores of ONE run's variables on x (B, *network_shape) -> (B,),
        higher = more anomalous."""
        return get_method(self.method).scorer(self.backbone, self.config, variables, x)


def make_train(method: str, backbone: Backbone, data: StackedData | int, config: Any = None, **overrides: Any) -> Train:
    """Build the pure training function of a deep ``method`` on ``backbone``.

    Args:
      method: a deep method name ("deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae").
      backbone: the network (``ocnn_jax.nn.make_backbone``).
      data: the ``StackedData`` it will run on (or just its padded length n_max).
      config: the method's config; default: its paper defaults for the backbone family.
      **overrides: flat config overrides (``ocnn_jax.with_overrides``), e.g. ``epochs=20``.

    Returns:
      A ``Train``: call it as ``train(key, run, data)``; ``jax.vmap`` it over (keys, runs) for a sweep.
    """
    spec = get_method(method)
    if spec.kind != "deep":
        raise ValueError(f"make_train builds compiled programs of the deep methods; {method!r} is a shallow baseline")
    cfg = with_overrides(default_config(backbone.name, method) if config is None else config, **overrides)
    n_max = data if isinstance(data, int) else data.n_max
    n_chunks, _ = eval_chunking(n_max, cfg.score_batch_size)
    return Train(method, cfg, backbone, spec.make_program(backbone, cfg, n_max, n_chunks))
