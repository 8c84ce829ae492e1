"""Deep SVDD, one-class and soft-boundary (Ruff et al. 2018; docs/algorithms.md §3), as a ``Program``.

One run: (optional) AE pretraining → encoder weights AND BatchNorm running statistics copied into the
Deep SVDD network → centre c from one inference-mode pass over the run's whole training set with the
±ε rule → minibatch training of the encoder with coupled weight decay and the LR milestone. For the
soft-boundary objective R = 0 during the warm-up epochs, then after every optimiser step
R ← q_{1−ν}(√d) over that step's batch (training-mode forward pass, weights before the update).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .ae_training import ae_row, apply_eval, apply_train, encoder_program
from ..core.batching import StackedData, chunked_apply, minibatch_epoch
from ..core.config import FIXED, OptimConfig, check_first_conv_init, check_int, check_positive, validate_nu
from ..core.losses import center_from_mean, masked_mean, one_class_loss, quantile_linear, soft_boundary_loss, squared_distance
from ..nn import Backbone
from ..core.optim import init_opt_state, lr_at_epoch, make_optimizer
from ..core.program import Phase, Program, RunSpec, run_value

__all__ = ["DeepSVDDConfig", "svdd_defaults", "SVDDState", "make_deep_svdd", "deep_svdd_scores"]

Objective = Literal["one-class", "soft-boundary"]


@dataclass(frozen=True)
class DeepSVDDConfig:
    """Deep SVDD with AE pretraining (docs/algorithms.md §3, §6).

    Attributes:
      objective: "one-class" or "soft-boundary".
      nu: ν ∈ (0, 1]; the soft-boundary outlier fraction, and for one-class the ``predict`` threshold
        level (the (1−ν)-quantile of training scores).
      train: the Deep SVDD phase.
      pretrain: the autoencoder phase whose encoder weights and BN statistics initialise the network;
        None skips pretraining (the encoder starts from its random init).
      warmup_epochs: soft-boundary epochs with R = 0 before the per-step R update starts.
      center_eps: ε of the centre rule.
      score_batch_size: samples per chunk in inference passes (centre, scores); memory only.
      first_conv_init: "default" (the backbone's random init) or "dictionary": the autoencoder's (or, without
        pretraining, the encoder's) first conv starts from a patch dictionary of the run's normal class
        (``ocnn_jax.methods.dictionary``, as Ruff's Theano code); LeNet backbones only.
    """

    objective: Objective = field(default="one-class", metadata=FIXED)  # set by the method name
    nu: float = 0.1
    train: OptimConfig = field(default_factory=OptimConfig)
    pretrain: OptimConfig | None = field(default_factory=lambda: ae_row("mnist_lenet"))
    warmup_epochs: int = 10
    center_eps: float = 0.1
    score_batch_size: int = 2048
    first_conv_init: str = "default"

    def __post_init__(self) -> None:
        check_first_conv_init(self.first_conv_init)
        if self.objective not in ("one-class", "soft-boundary"):
            raise ValueError(f"objective must be 'one-class' or 'soft-boundary', got {self.objective!r}")
        validate_nu(self.nu)
        check_int("warmup_epochs", self.warmup_epochs, minimum=0)
        check_positive("center_eps", self.center_eps)
        check_int("score_batch_size", self.score_batch_size, minimum=1)


def svdd_defaults(family: str, objective: Objective = "one-class") -> DeepSVDDConfig:
    """Paper defaults for a backbone family: the Deep SVDD row of docs/algorithms.md §6 (``OptimConfig``'s own
    defaults) after AE pretraining with the family's AE row (``ae_row``)."""
    return DeepSVDDConfig(objective=objective, pretrain=ae_row(family))




class SVDDState(NamedTuple):
    """State of a Deep SVDD run.

    Attributes:
      params, batch_stats: the encoder's variables.
      opt_state: Adam state of the Deep SVDD phase.
      key: PRNG key.
      center: (p,) hypersphere centre c (a constant, never trained).
      radius: scalar R (soft-boundary; 0 for one-class).
    """

    params: Any
    batch_stats: Any
    opt_state: Any
    key: jax.Array
    center: jax.Array
    radius: jax.Array


def deep_svdd_scores(backbone: Backbone, state: SVDDState, x: jax.Array, soft_boundary: bool) -> jax.Array:
    """Inference-mode anomaly scores of one run on x (B, *input_shape) → (B,).

    One-class: ‖φ(x) − c‖². Soft-boundary: ‖φ(x) − c‖² − R². Higher = more anomalous.
    """
    z = apply_eval(backbone.encoder, state.params, state.batch_stats, x)
    d = squared_distance(z, state.center)
    return d - jnp.square(state.radius) if soft_boundary else d


def make_deep_svdd(backbone: Backbone, cfg: DeepSVDDConfig, n_max: int, n_chunks: int) -> Program:
    """Build the Deep SVDD ``Program`` for data padded to ``n_max`` rows in ``n_chunks`` inference chunks.

    Args:
      backbone: encoder (and decoder, needed when ``cfg.pretrain`` is set).
      cfg: the method's configuration (static: epochs, batch sizes, schedule).
      n_max: padded rows per class of the ``StackedData`` it will run on.
      n_chunks: number of equal inference chunks n_max splits into (``batching.eval_chunking``).
    """
    encoder = backbone.encoder
    soft = cfg.objective == "soft-boundary"
    train = cfg.train

    def centre_of(params, stats, run: RunSpec, data: StackedData) -> jax.Array:
        z = chunked_apply(lambda xb: apply_eval(encoder, params, stats, xb), data.x, run.cls, n_chunks)
        return center_from_mean(masked_mean(z, data.n[run.cls]), cfg.center_eps)

    def start_svdd(params, stats, key, run: RunSpec, data: StackedData) -> SVDDState:
        return SVDDState(
            params=params,
            batch_stats=stats,
            opt_state=init_opt_state(params),
            key=key,
            center=centre_of(params, stats, run, data),
            radius=jnp.zeros((), jnp.float32),
        )

    def svdd_epoch(state: SVDDState, run: RunSpec, epoch: jax.Array, data: StackedData):
        key, perm_key = jax.random.split(state.key)
        tx = make_optimizer(lr_at_epoch(run_value(run.lr, train.lr), train.lr_milestone, epoch),
                            run_value(run.weight_decay, train.weight_decay))
        update_radius = soft & (epoch >= cfg.warmup_epochs)

        def step(st: SVDDState, idx: jax.Array):
            xb = data.x[run.cls, idx]

            def loss_fn(params):
                z, stats = apply_train(encoder, params, st.batch_stats, xb)
                d = squared_distance(z, st.center)
                loss = soft_boundary_loss(d, st.radius, run.nu) if soft else one_class_loss(d)
                return loss, (stats, d)

            (loss, (stats, d)), grads = jax.value_and_grad(loss_fn, has_aux=True)(st.params)
            updates, opt_state = tx.update(grads, st.opt_state, st.params)
            radius = st.radius
            if soft:
                new_r = quantile_linear(jnp.sqrt(jax.lax.stop_gradient(d)), 1.0 - run.nu)
                radius = jnp.where(update_radius, new_r, st.radius)
            new = SVDDState(optax.apply_updates(st.params, updates), stats, opt_state, st.key, st.center, radius)
            return new, loss

        state, loss = minibatch_epoch(step, state, perm_key, data.n[run.cls], n_max, train.batch_size)
        return state._replace(key=key), {"loss": loss, "radius": state.radius}

    svdd_phase = Phase("train", train.epochs, svdd_epoch)
    return encoder_program(backbone, cfg.pretrain, n_max, start_svdd, (svdd_phase,))
