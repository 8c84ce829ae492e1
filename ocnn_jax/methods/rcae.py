"""RCAE and DCAE (Chalapathy, Menon & Chawla 2017; docs/algorithms.md §4) as ``Program``s.

RCAE minimises ``‖X − N − AE_θ(X)‖² + (μ/2)‖θ‖² + λ·Ω(N)`` by T alternations of
* the θ-step: E epochs of minibatch Adam on the per-sample SSE with target x − n (input x, or x − n in
  the robust-deep-AE form), θ and the Adam state carried over, the LR milestone counted over all T·E
  epochs; and
* the N-step: N ← prox_{(λ/2)Ω}(Δ) with Δ = X − AE_θ(X) over the run's whole training set in inference
  mode (``ocnn_jax.prox.rcae_noise``), jitted, with N (n_max × input per run) living on device.

Both live in one phase of T·E epochs whose epoch function runs the N-step after every E-th epoch
(``lax.cond`` on the shared epoch counter, so it stays a branch under ``vmap``). λ comes from
``RunSpec.lam``, so a λ grid is just more runs on the run axis. Padded rows of N are kept at 0.

DCAE is the plain AE (N ≡ 0): the AE pretraining epoch function, one phase.
Both score s(x) = Σ_pixels (x − AE(x))² in inference mode.

**Deviation from the paper settings (defaults of both):** the decoder gets one learnable bias per
output channel before its output activation, initialised at the normal class's mean (its logit under
the sigmoid), and Adam runs at lr 1e-3 instead of 1e-4 (``output_bias="auto"``, which is "data_mean"
for the built-in decoders). Reason: after GCN + min-max most pixels of a digit sit near 0, and Ruff's
decoder (bias-free convs, BatchNorm without affine parameters) can only produce that level through the
kernels that also draw the digit. At short training budgets it does not get there, and the
reconstruction error is then dominated by a seed-dependent background offset (docs/algorithms.md §4;
the measurements are in ``benchmarks/results/ae_stability.md``). The paper settings are
``output_bias="none", lr=1e-4`` (:data:`PAPER_AE`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .ae_training import (
    TrainState,
    ae_row,
    apply_eval,
    autoencoder_of,
    init_ae_state,
    make_ae_epoch,
    with_first_conv,
)
from ..nn import AutoEncoder
from ..core.batching import StackedData, chunked_apply
from ..core.config import OptimConfig, check_first_conv_init, check_int, validate_lam, validate_nu
from ..core.losses import per_sample_sse
from ..nn import Backbone
from ..core.program import Phase, Program, RunSpec
from ..core.prox import PENALTIES, rcae_noise

__all__ = ["RCAEConfig", "DCAEConfig", "RCAE_INPUTS", "OUTPUT_BIAS", "PAPER_AE", "rcae_defaults", "dcae_defaults",
           "RCAEState", "make_rcae", "make_dcae", "reconstruction_scores", "noise_nonzero_per_iteration",
           "reconstruction_autoencoder", "resolve_output_bias", "output_level", "paper_ae", "MLP_AE_WEIGHT_DECAY"]

#: How DCAE/RCAE set the decoder's output level: "data_mean" (a project deviation): a learnable bias per
#: output channel before the output activation, initialised at the normal class's mean (its logit under a
#: sigmoid output); "none": Ruff's bias-free decoder (the paper network); "auto" (default): "data_mean"
#: when the decoder has an ``output_bias`` field (every built-in decoder), else "none" (a custom decoder
#: keeps the output layer its author wrote).
OUTPUT_BIAS: tuple[str, ...] = ("auto", "data_mean", "none")

#: The defaults' learning rate (the paper's is 1e-4; see the module docstring).
STABLE_AE_LR = 1e-3

#: The built-in MLP's weight decay in the DCAE/RCAE defaults (the paper row: 5e-4). On a few dozen
#: feature vectors the over-complete MLP AE fits its training rows almost exactly (loss ≈ 1e-7), and the
#: ranking of test points is then set by how the randomly initialised network extrapolates: seed-to-seed
#: swings of 3–4 AUROC points per class on iris and wine, at lr 1e-4 as at 1e-3. The stronger coupled
#: decay pulls every seed towards the same small-weight solution (``benchmarks/results/ae_stability.md``,
#: docs/algorithms.md §4). The LeNet families keep the paper's decay.
MLP_AE_WEIGHT_DECAY = 0.05


def _ae_optim(family: str) -> OptimConfig:
    """The family's AE row (docs/algorithms.md §6) at the defaults' learning rate (and, for the MLP, the
    defaults' weight decay)."""
    row = ae_row(family)
    wd = MLP_AE_WEIGHT_DECAY if family == "mlp" else row.weight_decay
    return dataclasses.replace(row, lr=STABLE_AE_LR, weight_decay=wd)


def paper_ae(family: str) -> dict[str, Any]:
    """The paper settings of DCAE and RCAE for a backbone family as ``fit`` overrides (docs/algorithms.md
    §4, §6): the bias-free decoder, Adam at lr 1e-4 and the family's AE weight decay (5e-4; CIFAR-10 5e-7)."""
    return {"output_bias": "none", "lr": 1e-4, "weight_decay": ae_row(family).weight_decay}


#: The paper settings of DCAE and RCAE on MNIST and the MLP as ``fit`` overrides (the bias-free decoder,
#: lr 1e-4, weight decay 5e-4), e.g. ``ocnn_jax.fit(x, method="dcae", **PAPER_AE)``; for CIFAR-10 use
#: ``paper_ae("cifar_lenet")``.
PAPER_AE: dict[str, Any] = paper_ae("mnist_lenet")


def _check_output_bias(value: Any) -> None:
    if value not in OUTPUT_BIAS:
        raise ValueError(f"output_bias must be one of {OUTPUT_BIAS} ('none' = the paper's bias-free decoder), got {value!r}")


def _has_output_bias_field(decoder: Any) -> bool:
    return dataclasses.is_dataclass(decoder) and "output_bias" in {f.name for f in dataclasses.fields(decoder)}


def resolve_output_bias(backbone: Backbone, cfg: Any) -> str:
    """``cfg.output_bias`` with "auto" resolved for this backbone's decoder: "data_mean" or "none"."""
    if cfg.output_bias != "auto":
        return cfg.output_bias
    return "data_mean" if backbone.decoder is not None and _has_output_bias_field(backbone.decoder) else "none"


#: RCAE θ-step input: "x" (the paper: input x, target x − n) or "x_minus_n" (robust deep AE: both x − n).
RCAE_INPUTS: tuple[str, ...] = ("x", "x_minus_n")


@dataclass(frozen=True)
class RCAEConfig:
    """RCAE (docs/algorithms.md §4): T alternations of an E-epoch θ-step and the proximal N-step.

    Attributes:
      lam: λ ≥ 0 of the noise penalty (``inf`` gives N ≡ 0, i.e. DCAE), or a tuple of λ values: a grid
        trained side by side on the run axis (runs ordered class, then λ, then seed).
      penalty: "l1" (elementwise soft-threshold at λ/2) or "l21" (per-sample shrinkage).
      theta_input: "x" (paper: input x, target x − n) or "x_minus_n" (robust deep AE: input x − n).
      outer_iterations: T.
      epochs_per_iteration: E; the θ-steps add up to ``train.epochs = T·E`` (derived; the LR
        milestone counts over all T·E epochs).
      nu: ν ∈ (0, 1], the ``predict`` threshold level: the (1−ν)-quantile of the training scores.
      output_bias: "auto" (default: "data_mean" for the built-in decoders), "data_mean" or "none" (the
        paper's bias-free decoder); see :data:`OUTPUT_BIAS`.
      train: the AE optimiser: the docs/algorithms.md §6 AE row at lr 1e-3 (the paper: 1e-4); its
        ``epochs`` must equal T·E.
      score_batch_size: samples per chunk in inference passes (N-step residual, scores); memory only.
      first_conv_init: "default" or "dictionary" (the AE's first conv from a patch dictionary of the run's
        normal class, ``ocnn_jax.methods.dictionary``); LeNet backbones only.
    """

    #: flat ``with_overrides`` keys of ``train`` that are derived here and cannot be set directly.
    DERIVED_TRAIN_KEYS: ClassVar[frozenset[str]] = frozenset({"epochs"})
    DERIVED_HINT: ClassVar[str] = "RCAE epochs = outer_iterations × epochs_per_iteration"

    lam: float | tuple[float, ...] = 0.1
    penalty: str = "l1"
    theta_input: str = "x"
    outer_iterations: int = 5
    epochs_per_iteration: int = 30
    nu: float = 0.1
    output_bias: str = "auto"
    train: OptimConfig = field(default_factory=lambda: _ae_optim("mnist_lenet"))
    score_batch_size: int = 2048
    first_conv_init: str = "default"

    def __post_init__(self) -> None:
        _check_output_bias(self.output_bias)
        check_first_conv_init(self.first_conv_init)
        if isinstance(self.lam, (list, tuple)):
            if not self.lam:
                raise ValueError("lam grid is empty; give a number >= 0 or a non-empty sequence of them")
            object.__setattr__(self, "lam", tuple(validate_lam(v) for v in self.lam))
        else:
            object.__setattr__(self, "lam", validate_lam(self.lam))
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}")
        if self.theta_input not in RCAE_INPUTS:
            raise ValueError(f"theta_input must be one of {RCAE_INPUTS}, got {self.theta_input!r}")
        check_int("outer_iterations", self.outer_iterations, minimum=1)
        check_int("epochs_per_iteration", self.epochs_per_iteration, minimum=1)
        validate_nu(self.nu)
        if self.train.epochs != self.outer_iterations * self.epochs_per_iteration:
            raise ValueError(
                f"train.epochs must equal outer_iterations × epochs_per_iteration = "
                f"{self.outer_iterations * self.epochs_per_iteration}, got {self.train.epochs}"
            )
        check_int("score_batch_size", self.score_batch_size, minimum=1)

    def derive_train(self, **top: Any) -> dict[str, Any]:
        """The ``train`` fields derived from the (overridden) top-level fields: epochs = T·E."""
        t = top.get("outer_iterations", self.outer_iterations)
        e = top.get("epochs_per_iteration", self.epochs_per_iteration)
        check_int("outer_iterations", t, minimum=1)
        check_int("epochs_per_iteration", e, minimum=1)
        return {"epochs": t * e}

    @property
    def lams(self) -> tuple[float, ...]:
        """The λ values as a tuple (one entry unless ``lam`` is a grid)."""
        return self.lam if isinstance(self.lam, tuple) else (self.lam,)


@dataclass(frozen=True)
class DCAEConfig:
    """DCAE (docs/algorithms.md §4): the plain autoencoder (N ≡ 0) scored by reconstruction error.

    Attributes:
      nu: ν ∈ (0, 1], the ``predict`` threshold level: the (1−ν)-quantile of the training scores.
      output_bias: "auto" (default: "data_mean" for the built-in decoders), "data_mean" or "none" (the
        paper's bias-free decoder); see :data:`OUTPUT_BIAS`.
      train: the AE optimiser: the docs/algorithms.md §6 AE row (that of AE pretraining) at lr 1e-3
        (the paper: 1e-4).
      score_batch_size: samples per chunk in inference passes; memory only.
      first_conv_init: "default" or "dictionary", as ``RCAEConfig``'s.
    """

    nu: float = 0.1
    output_bias: str = "auto"
    train: OptimConfig = field(default_factory=lambda: _ae_optim("mnist_lenet"))
    score_batch_size: int = 2048
    first_conv_init: str = "default"

    def __post_init__(self) -> None:
        _check_output_bias(self.output_bias)
        check_first_conv_init(self.first_conv_init)
        validate_nu(self.nu)
        check_int("score_batch_size", self.score_batch_size, minimum=1)


def rcae_defaults(family: str) -> RCAEConfig:
    """Defaults for a backbone family: T = 10, E = 35 for CIFAR-10 (the class defaults T = 5, E = 30
    otherwise), the family's AE row at lr 1e-3 as the optimiser, its epochs T·E; the data-mean output
    bias (``**PAPER_AE`` gives the paper's lr and decoder)."""
    t, e = (10, 35) if family == "cifar_lenet" else (RCAEConfig.outer_iterations, RCAEConfig.epochs_per_iteration)
    return RCAEConfig(outer_iterations=t, epochs_per_iteration=e, train=dataclasses.replace(_ae_optim(family), epochs=t * e))


def dcae_defaults(family: str) -> DCAEConfig:
    """Defaults for a backbone family: the family's AE row (that of AE pretraining) at lr 1e-3 and the
    data-mean output bias (``**PAPER_AE`` gives the paper's lr and decoder)."""
    return DCAEConfig(train=_ae_optim(family))


class RCAEState(NamedTuple):
    """State of an RCAE run: the AE's ``TrainState`` and N, (n_max, *input_shape) (padding rows 0)."""

    ae: TrainState
    noise: jax.Array


def reconstruction_autoencoder(backbone: Backbone, cfg: Any) -> AutoEncoder:
    """The AE that DCAE/RCAE train and score: the backbone's, with the decoder's output bias switched
    on when ``cfg.output_bias`` resolves to "data_mean" (:func:`resolve_output_bias`).

    Raises:
      ValueError: an explicit "data_mean" with a decoder that has no ``output_bias`` field (a custom
        decoder), saying how to proceed.
    """
    ae = autoencoder_of(backbone)
    if resolve_output_bias(backbone, cfg) == "none":
        return ae
    if not _has_output_bias_field(ae.decoder):
        raise ValueError(
            f"output_bias='data_mean' needs a decoder with a boolean field `output_bias` that adds a learnable "
            f"parameter 'output_bias' of shape (channels,) before its output activation (the built-in decoders "
            f"have one, see ocnn_jax.nn.mlp.add_output_bias); {type(ae.decoder).__name__} has none. Add it, or "
            f"pass output_bias='none' (the paper's bias-free decoder)"
        )
    return AutoEncoder(encoder=ae.encoder, decoder=ae.decoder.clone(output_bias=True))


def output_level(x: jax.Array, n: jax.Array, output: str, eps: float = 1e-3) -> jax.Array:
    """Initial output bias (C,) of one run: the mean of each channel (last axis) over the run's first
    ``n`` rows of x (n_max, ..., C) and every other axis; for a sigmoid output its logit, the mean
    clipped to [eps, 1 − eps] first."""
    mask = (jnp.arange(x.shape[0]) < n).reshape((-1,) + (1,) * (x.ndim - 1))
    per_channel = jnp.sum(jnp.where(mask, x, 0), axis=tuple(range(x.ndim - 1)))
    mean = per_channel / (n * (x[0].size // x.shape[-1])).astype(x.dtype)
    if output == "sigmoid":
        p = jnp.clip(mean, eps, 1.0 - eps)
        return jnp.log(p) - jnp.log1p(-p)
    return mean


def reconstruction_scores(backbone: Backbone, cfg: Any, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    """Inference-mode reconstruction error Σ_pixels (x − AE(x))² of one run: x (B, ...) → (B,)."""
    ae = reconstruction_autoencoder(backbone, cfg)
    return per_sample_sse(apply_eval(ae, variables["params"], variables["batch_stats"], x), x)


def _init_ae(backbone: Backbone, cfg: Any):
    ae = reconstruction_autoencoder(backbone, cfg)
    output = getattr(ae.decoder, "output", "linear")

    with_bias = resolve_output_bias(backbone, cfg) == "data_mean"

    def init(key: jax.Array, run: RunSpec, data: StackedData) -> TrainState:
        state = init_ae_state(ae, key, backbone.input_shape)
        state = state._replace(params=with_first_conv(state.params, backbone, run, under="encoder"))
        if not with_bias:
            return state
        bias = output_level(data.x[run.cls], data.n[run.cls], output)
        decoder = {**state.params["decoder"], "output_bias": bias.astype(jnp.float32)}
        return state._replace(params={**state.params, "decoder": decoder})

    return ae, init


def make_dcae(backbone: Backbone, cfg: DCAEConfig, n_max: int, n_chunks: int) -> Program:
    """DCAE: one "train" phase of plain AE training (input x, target x), i.e. the AE pretraining."""
    ae, init = _init_ae(backbone, cfg)
    return Program(init, (Phase("train", cfg.train.epochs, make_ae_epoch(ae, cfg.train, n_max, main_phase=True)),))


def make_rcae(backbone: Backbone, cfg: RCAEConfig, n_max: int, n_chunks: int) -> Program:
    """RCAE: one "train" phase of T·E epochs, the N-step after every E-th.

    Metrics per epoch: ``loss`` (mean θ-step SSE against x − n), ``noise_nonzero`` (fraction of non-zero
    entries of N over the run's valid rows, after the epoch) and ``noise_norm`` (mean ‖N_i‖₂ over the
    valid rows). The values at epochs E−1, 2E−1, … are those of the outer iterations
    (:func:`noise_nonzero_per_iteration`).
    """
    ae, init_theta = _init_ae(backbone, cfg)
    e_per = cfg.epochs_per_iteration
    rda = cfg.theta_input == "x_minus_n"
    theta_epoch = make_ae_epoch(ae, cfg.train, n_max, noise_as_input=rda, main_phase=True)
    default_lam = cfg.lams[0]

    def valid_rows(run: RunSpec, data: StackedData) -> jax.Array:
        return jnp.arange(n_max) < data.n[run.cls]

    def noise_step(ae_state: TrainState, noise: jax.Array, run: RunSpec, data: StackedData) -> jax.Array:
        lam = default_lam if run.lam is None else run.lam
        x = data.x[run.cls]  # (n_max, ...), the run's padded class
        inputs = x - noise if rda else x
        recon = chunked_apply(lambda b: apply_eval(ae, ae_state.params, ae_state.batch_stats, b), inputs[None], 0, n_chunks)
        new = rcae_noise(x - recon, lam, cfg.penalty)
        mask = valid_rows(run, data).reshape((n_max,) + (1,) * (new.ndim - 1))
        return jnp.where(mask, new, 0)

    def init(key: jax.Array, run: RunSpec, data: StackedData) -> RCAEState:
        return RCAEState(init_theta(key, run, data), jnp.zeros((n_max,) + data.sample_shape, jnp.float32))

    def rcae_epoch(state: RCAEState, run: RunSpec, epoch: jax.Array, data: StackedData):
        ae_state, metrics = theta_epoch(state.ae, run, epoch, data, noise=state.noise)
        noise = lax.cond(
            (epoch + 1) % e_per == 0,
            lambda: noise_step(ae_state, state.noise, run, data),
            lambda: state.noise,
        )
        n = data.n[run.cls]
        flat = noise.reshape(n_max, -1)
        frac = jnp.sum(flat != 0) / (n * flat.shape[1]).astype(jnp.float32)
        norm = jnp.sum(jnp.sqrt(jnp.sum(jnp.square(flat), axis=1))) / n.astype(jnp.float32)
        return RCAEState(ae_state, noise), {**metrics, "noise_nonzero": frac, "noise_norm": norm}

    return Program(init, (Phase("train", cfg.train.epochs, rcae_epoch),))


def noise_nonzero_per_iteration(train_metrics: dict[str, Any], cfg: RCAEConfig) -> jax.Array:
    """(M, T) fraction of non-zero N entries after each outer iteration's N-step."""
    per_epoch = jnp.asarray(train_metrics["train/noise_nonzero"])
    return per_epoch[..., cfg.epochs_per_iteration - 1 :: cfg.epochs_per_iteration]
