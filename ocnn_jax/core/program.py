"""A training run as data: an init function, epoch phases and the transitions between them.

Every method (Deep SVDD, OC-NN, RCAE, DCAE) describes one run of itself as a ``Program`` of pure
functions. ``run_program`` composes them into the single pure function ``train(key, run, data)``
(nested ``lax.scan`` over epochs and minibatches) that ``jax.vmap`` turns into a sweep; the
progress-reporting driver in ``ocnn_jax.engine`` runs the very same epoch functions a chunk of
epochs at a time, so both paths compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .batching import StackedData

__all__ = ["RunSpec", "TRACED_KEYS", "Phase", "Program", "run_program", "run_phase_epochs", "make_runs", "run_value"]

#: Hyperparameters that may differ between the runs of one compiled program (``RunSpec`` fields):
#: a grid over them is more runs on the run axis, not more programs.
TRACED_KEYS: tuple[str, ...] = ("nu", "lr", "weight_decay", "lam")


class RunSpec(NamedTuple):
    """What varies between runs on the run axis (all traced scalars, so ``vmap`` maps them).

    Attributes:
      cls: int32 index of the run's normal class in ``StackedData``.
      nu: float32 ν of the run.
      lam: float32 λ of the run (RCAE's noise penalty). None where a method has no λ; RCAE then uses
        its config's λ.
      lr: float32 learning rate of the run's main ("train") phase, before the LR milestone's ×0.1
        (the milestone epoch stays static). None: the config's ``train.lr``.
      weight_decay: float32 coupled L2 decay of the run's main phase. None: the config's
        ``train.weight_decay``.
      first_conv: float32 (k, k, C_in, F) initial kernel of the encoder's first convolution, learned
        for this run on its own data (``first_conv_init="dictionary"``). None: the backbone's random init.

    A field left None is a compile-time constant of the program; a (M,) array makes it a per-run
    value, so a grid over ν, λ, the learning rate and the weight decay trains as one program.
    ``first_conv`` is (M, k, k, C_in, F) on the run axis.
    """

    cls: jax.Array
    nu: jax.Array
    lam: jax.Array | None = None
    lr: jax.Array | None = None
    weight_decay: jax.Array | None = None
    first_conv: jax.Array | None = None


def run_value(value: jax.Array | None, default: float) -> jax.Array | float:
    """A run's traced hyperparameter, or the config's static ``default`` where the RunSpec has None."""
    return default if value is None else value


EpochFn = Callable[[Any, RunSpec, jax.Array, StackedData], tuple[Any, dict[str, jax.Array]]]
TransitionFn = Callable[[Any, RunSpec, StackedData], Any]


class Phase(NamedTuple):
    """``epochs`` calls of ``epoch_fn(state, run, epoch, data) -> (state, metrics)``.

    ``metrics`` is a dict of scalars; ``metrics['loss']`` is checked for NaN by the driver.
    """

    name: str
    epochs: int
    epoch_fn: EpochFn


class Program(NamedTuple):
    """One run: ``init(key, run, data) -> state``, then each phase; phases[i] ends in
    ``transitions[i](state, run, data)`` where one is given (``transitions`` may be shorter than
    ``phases`` and hold None: no transition after that phase)."""

    init: Callable[[jax.Array, RunSpec, StackedData], Any]
    phases: tuple[Phase, ...]
    transitions: tuple[TransitionFn | None, ...] = ()

    def transition(self, i: int) -> TransitionFn | None:
        """The transition after phase ``i``, or None."""
        return self.transitions[i] if i < len(self.transitions) else None


def run_phase_epochs(phase: Phase, state: Any, run: RunSpec, data: StackedData, start: int | jax.Array, count: int):
    """Run epochs start … start+count−1 of ``phase`` as one ``lax.scan``; metrics stacked on axis 0."""

    def body(s, epoch):
        return phase.epoch_fn(s, run, epoch, data)

    epochs = jnp.asarray(start, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
    return lax.scan(body, state, epochs)


def run_program(program: Program, key: jax.Array, run: RunSpec, data: StackedData):
    """The whole run as one pure function of (key, run, data).

    Returns:
      (final_state, metrics) where metrics maps ``"<phase>/<name>"`` to (epochs,) arrays.
    """
    if len(program.transitions) > len(program.phases):
        raise ValueError(f"a Program has {len(program.phases)} phases but {len(program.transitions)} transitions")
    state = program.init(key, run, data)
    metrics: dict[str, jax.Array] = {}
    for i, phase in enumerate(program.phases):
        if phase.epochs > 0:
            state, m = run_phase_epochs(phase, state, run, data, 0, phase.epochs)
            metrics.update({f"{phase.name}/{k}": v for k, v in m.items()})
        transition = program.transition(i)
        if transition is not None:
            state = transition(state, run, data)
    return state, metrics


def make_runs(run_class: Any, run_seeds: Any, nu: Any, run_lams: Any = None, *, lr: Any = None,
              weight_decay: Any = None, first_conv: Any = None) -> tuple[jax.Array, RunSpec]:
    """(keys, RunSpec) of M runs, the inputs ``jax.vmap(train)`` maps over.

    Args:
      run_class: (M,) index of each run's normal class in the ``StackedData``.
      run_seeds: (M,) non-negative int seeds; run i's PRNG key is ``jax.random.key(run_seeds[i])``
        (it drives initialisation and shuffling).
      nu: ν of every run (a number) or per run ((M,)).
      run_lams: optional λ per run (RCAE), a number or (M,).
      lr, weight_decay: optional learning rate / weight decay of the main phase, a number or (M,);
        None keeps the config's value as a compile-time constant.
      first_conv: optional (M, k, k, C_in, F) initial first-conv kernel per run (``RunSpec.first_conv``).

    Returns:
      ((M,) PRNG keys, ``RunSpec`` with (M,) leaves).
    """
    cls = jnp.asarray(np.asarray(run_class), jnp.int32)
    keys = jax.vmap(jax.random.key)(jnp.asarray(np.asarray(run_seeds), jnp.uint32))

    def per_run(value: Any, name: str) -> jax.Array | None:
        if value is None:
            return None
        a = np.asarray(value, np.float32)
        if a.ndim == 0:
            return jnp.full(cls.shape, a, jnp.float32)
        if a.shape != cls.shape:
            raise ValueError(f"make_runs: {name} must be a number or have one value per run {cls.shape}, got shape {a.shape}")
        return jnp.asarray(a)

    kernels = None
    if first_conv is not None:
        kernels = np.asarray(first_conv, np.float32)
        if kernels.ndim != 5 or kernels.shape[0] != cls.shape[0]:
            raise ValueError(f"make_runs: first_conv must be (M, k, k, C_in, F) with M = {cls.shape[0]} runs, "
                             f"got shape {kernels.shape}")
        kernels = jnp.asarray(kernels)
    return keys, RunSpec(cls, per_run(nu, "nu"), per_run(run_lams, "run_lams"), per_run(lr, "lr"),
                         per_run(weight_decay, "weight_decay"), kernels)
