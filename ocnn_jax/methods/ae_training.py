"""Autoencoder training as pure epoch functions: the pretraining phase, DCAE and RCAE's θ-step
(docs/algorithms.md §4, §6), and the "pretrain the AE, then start a method from its encoder" program shape.

Flax Linen modules are applied functionally on plain pytrees: ``apply(..., mutable=['batch_stats'])``
returns the updated BatchNorm statistics, which travel in the state next to the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ..core.batching import StackedData, minibatch_epoch
from ..core.config import OptimConfig
from ..core.losses import autoencoder_loss
from ..core.optim import init_opt_state, lr_at_epoch, make_optimizer
from ..nn import AutoEncoder, Backbone
from ..core.program import Phase, Program, RunSpec, TransitionFn, run_value

__all__ = [
    "ae_row",
    "TrainState",
    "apply_train",
    "apply_eval",
    "init_variables",
    "make_ae_epoch",
    "init_ae_state",
    "autoencoder_of",
    "encoder_program",
    "with_first_conv",
]


def ae_row(family: str) -> OptimConfig:
    """AE pretraining / DCAE optimiser row of docs/algorithms.md §6 (the MLP follows MNIST)."""
    if family == "cifar_lenet":
        return OptimConfig(lr=1e-4, lr_milestone=250, weight_decay=5e-7, batch_size=200, epochs=350)
    return OptimConfig(lr=1e-4, lr_milestone=50, weight_decay=5e-4, batch_size=200, epochs=150)


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


def with_first_conv(params: Any, backbone: Backbone, run: RunSpec, under: str | None = None) -> Any:
    """``params`` with the encoder's first conv kernel replaced by the run's learned one (``run.first_conv``,
    (k, k, C_in, F)); unchanged when the run carries none.

    Args:
      params: encoder parameters, or (``under="encoder"``) an autoencoder's, whose encoder sits under that key.

    Raises:
      ValueError: the backbone names no first conv, or the kernel's shape is not the layer's.
    """
    if run.first_conv is None:
        return params
    if backbone.first_conv is None:
        raise ValueError(f"first_conv_init='dictionary' needs an encoder with a first convolution (a LeNet "
                         f"backbone); backbone {backbone.name!r} has none")
    tree = params if under is None else params[under]
    layer = tree[backbone.first_conv]
    if tuple(run.first_conv.shape) != tuple(layer["kernel"].shape):
        raise ValueError(f"run.first_conv has shape {tuple(run.first_conv.shape)}, but the encoder's "
                         f"{backbone.first_conv!r} kernel is {tuple(layer['kernel'].shape)}")
    kernel = run.first_conv.astype(layer["kernel"].dtype)
    tree = {**tree, backbone.first_conv: {**layer, "kernel": kernel}}
    return tree if under is None else {**params, under: tree}


def init_ae_state(ae: nn.Module, key: jax.Array, sample_shape: tuple[int, ...]) -> TrainState:
    """Fresh AE parameters (PyTorch-equivalent init), statistics and Adam state."""
    init_key, run_key = jax.random.split(key)
    params, stats = init_variables(ae, init_key, sample_shape)
    return TrainState(params, stats, init_opt_state(params), run_key)


def make_ae_epoch(ae: nn.Module, optim: OptimConfig, n_max: int, *, noise_as_input: bool = False,
                  main_phase: bool = False):
    """Epoch function of AE training on the run's normal class.

    Without noise (AE pretraining, DCAE): input x, target x. With ``noise`` (RCAE's θ-step, N fixed):
    target x − n, and input x (the paper form) or x − n (``noise_as_input=True``, the robust-deep-AE
    form). The loss is the per-sample SSE averaged over the batch, with coupled decay and the LR
    milestone counted on ``epoch``. ``main_phase``: the method's "train" phase (DCAE, RCAE), whose
    learning rate and weight decay a run may carry (``RunSpec.lr``, ``RunSpec.weight_decay``); AE
    pretraining always uses ``optim``'s.

    Returns:
      ``epoch_fn(state, run, epoch, data, noise=None) -> (state, {'loss': mean per-sample SSE})``;
      ``noise`` is None or (n_max, *sample_shape), indexed like the run's rows of ``data.x``.
    """

    def epoch_fn(state: TrainState, run: RunSpec, epoch: jax.Array, data: StackedData, noise: jax.Array | None = None):
        key, perm_key = jax.random.split(state.key)
        lr = run_value(run.lr, optim.lr) if main_phase else optim.lr
        wd = run_value(run.weight_decay, optim.weight_decay) if main_phase else optim.weight_decay
        tx = make_optimizer(lr_at_epoch(lr, optim.lr_milestone, epoch), wd)

        def step(st: TrainState, idx: jax.Array):
            xb = data.x[run.cls, idx]
            target = xb if noise is None else xb - noise[idx]
            inputs = target if noise_as_input else xb

            def loss_fn(params):
                recon, stats = apply_train(ae, params, st.batch_stats, inputs)
                return autoencoder_loss(recon, target), stats

            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.params)
            updates, opt_state = tx.update(grads, st.opt_state, st.params)
            return TrainState(optax.apply_updates(st.params, updates), stats, opt_state, st.key), loss

        state, loss = minibatch_epoch(step, state, perm_key, data.n[run.cls], n_max, optim.batch_size)
        return state._replace(key=key), {"loss": loss}

    return epoch_fn


def autoencoder_of(backbone: Backbone) -> AutoEncoder:
    """The backbone's AutoEncoder, or a ValueError saying how to do without one."""
    if backbone.decoder is None:
        raise ValueError("pretraining needs a decoder: pass decoder=..., or pretrain=False")
    return AutoEncoder(encoder=backbone.encoder, decoder=backbone.decoder)


#: ``start(encoder_params, encoder_batch_stats, key, run, data) -> state`` of a method's first phase.
StartFn = Callable[[Any, Any, jax.Array, RunSpec, StackedData], Any]


def encoder_program(
    backbone: Backbone,
    pretrain: OptimConfig | None,
    n_max: int,
    start: StartFn,
    phases: tuple[Phase, ...],
    transitions: tuple[TransitionFn | None, ...] = (),
) -> Program:
    """A method that starts from an encoder: [AE pretraining →] ``start`` → ``phases``.

    With ``pretrain`` the program first trains the AE (phase "pretrain") and hands its encoder
    weights **and** BN running statistics to ``start``; without it the encoder's random init is used.
    ``transitions[i]`` (optional) follows ``phases[i]`` as in ``Program``.
    """
    encoder = backbone.encoder
    if pretrain is None:

        def init(key, run, data):
            init_key, run_key = jax.random.split(key)
            params, stats = init_variables(encoder, init_key, backbone.input_shape)
            return start(with_first_conv(params, backbone, run), stats, run_key, run, data)

        return Program(init, phases, transitions)

    ae = autoencoder_of(backbone)

    def init_ae(key, run, data):
        state = init_ae_state(ae, key, backbone.input_shape)
        return state._replace(params=with_first_conv(state.params, backbone, run, under="encoder"))

    def from_pretrained(ae_state: TrainState, run, data):
        return start(ae_state.params["encoder"], ae_state.batch_stats.get("encoder", {}), ae_state.key, run, data)

    pretrain_phase = Phase("pretrain", pretrain.epochs, make_ae_epoch(ae, pretrain, n_max))
    return Program(init_ae, (pretrain_phase,) + tuple(phases), (from_pretrained,) + tuple(transitions))
