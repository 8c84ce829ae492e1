"""Optimiser construction: Adam with coupled L2 decay and the epoch-milestone LR (docs/algorithms.md §6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

__all__ = ["lr_at_epoch", "make_optimizer", "init_opt_state"]


def lr_at_epoch(lr: ArrayLike, milestone: int | None, epoch: ArrayLike) -> jax.Array:
    """Learning rate used during 0-based ``epoch``.

    The reference scheduler steps at the start of each epoch, so with milestone m the epochs
    0 … m−2 run at ``lr`` and epoch m−1 onwards at ``0.1·lr``. This is optax's piecewise-constant
    schedule evaluated on the epoch counter (one boundary at m−1); ``milestone=None`` is constant.
    """
    lr = jnp.asarray(lr, jnp.float32)
    if milestone is None:
        return lr
    schedule = optax.piecewise_constant_schedule(1.0, {milestone - 1: 0.1})
    return lr * jnp.asarray(schedule(jnp.asarray(epoch, jnp.float32)), jnp.float32)


def make_optimizer(lr: ArrayLike, weight_decay: ArrayLike) -> optax.GradientTransformation:
    """Coupled-decay Adam, PyTorch ``Adam(weight_decay=wd)``: ``g + wd·θ`` enters the moments.

    ``optax.chain(add_decayed_weights(wd), scale_by_adam(), scale_by_learning_rate(lr))``;
    β = (0.9, 0.999), ε = 1e-8. Not ``optax.adamw`` (decoupled). ``lr`` may be a traced scalar, so
    the epoch's learning rate is passed in per call; the state layout does not depend on lr or wd.
    """
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
        optax.scale_by_learning_rate(lr),
    )


def init_opt_state(params) -> optax.OptState:
    """Optimiser state for ``params`` (independent of lr and weight decay)."""
    return make_optimizer(0.0, 0.0).init(params)
