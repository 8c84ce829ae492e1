"""Autoencoder training as pure epoch functions: the pretraining phase (and DCAE, ALGORITHMS §4, §6).

Flax Linen modules are applied functionally on plain pytrees: ``apply(..., mutable=['batch_stats'])``
returns the updated BatchNorm statistics, which travel in the state next to the parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from .batching import StackedData, minibatch_epoch
from .config import OptimConfig
from .losses import autoencoder_loss
from .optim import init_opt_state, lr_at_epoch, make_optimizer
from .program import RunSpec

__all__ = ["TrainState", "apply_train", "apply_eval", "init_variables", "make_ae_epoch", "init_ae_state"]


class TrainState(NamedTuple):
    """Parameters, BatchNorm running statistics, optimiser state and the run's PRNG key."""

    params: Any
    batch_stats: Any
    opt_state: Any
    key: jax.Array


def init_variables(module: nn.Module, key: jax.Array, sample_shape: tuple[int, ...]) -> tuple[Any, Any]:
    """(params, batch_stats) of ``module`` for inputs of one-sample shape ``sample_shape``."""
    variables = module.init(key, jnp.zeros((2,) + tuple(sample_shape), jnp.float32), train=False)
    return variables["params"], variables.get("batch_stats", {})


def apply_train(module: nn.Module, params: Any, batch_stats: Any, x: jax.Array) -> tuple[jax.Array, Any]:
    """Training-mode forward pass: batch statistics are used and the running ones updated."""
    out, mutated = module.apply({"params": params, "batch_stats": batch_stats}, x, train=True, mutable=["batch_stats"])
    return out, mutated.get("batch_stats", batch_stats)


def apply_eval(module: nn.Module, params: Any, batch_stats: Any, x: jax.Array) -> jax.Array:
    """Inference-mode forward pass with the running BatchNorm statistics."""
    return module.apply({"params": params, "batch_stats": batch_stats}, x, train=False)


def init_ae_state(ae: nn.Module, key: jax.Array, sample_shape: tuple[int, ...]) -> TrainState:
    """Fresh AE parameters (PyTorch-equivalent init), statistics and Adam state."""
    init_key, run_key = jax.random.split(key)
    params, stats = init_variables(ae, init_key, sample_shape)
    return TrainState(params, stats, init_opt_state(params), run_key)


def make_ae_epoch(ae: nn.Module, optim: OptimConfig, n_max: int):
    """Epoch function of AE training on the run's normal class: input x, target x.

    Returns ``epoch_fn(state, run, epoch, data) -> (state, {'loss': mean per-sample SSE})``.
    """

    def epoch_fn(state: TrainState, run: RunSpec, epoch: jax.Array, data: StackedData):
        key, perm_key = jax.random.split(state.key)
        tx = make_optimizer(lr_at_epoch(optim.lr, optim.lr_milestone, epoch), optim.weight_decay)

        def step(st: TrainState, idx: jax.Array):
            xb = data.x[run.cls, idx]

            def loss_fn(params):
                recon, stats = apply_train(ae, params, st.batch_stats, xb)
                return autoencoder_loss(recon, xb), stats

            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.params)
            updates, opt_state = tx.update(grads, st.opt_state, st.params)
            return TrainState(optax.apply_updates(st.params, updates), stats, opt_state, st.key), loss

        state, loss = minibatch_epoch(step, state, perm_key, data.n[run.cls], n_max, optim.batch_size)
        return state._replace(key=key), {"loss": loss}

    return epoch_fn
