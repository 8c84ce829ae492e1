"""Bias-free MLP encoder/decoder for tabular or flat data (docs/algorithms.md §5, "MLP").

Encoder: flatten -> [dense h -> BN -> lrelu] for h in ``hidden`` -> dense ``rep_dim``.
Decoder: [dense h -> BN -> lrelu] for h in reversed(``hidden``) -> dense prod(input_shape)
-> reshape [-> + output bias] -> sigmoid (inputs in [0, 1]) or identity (standardised features).
Dense layers use PyTorch's default init U(+-1/sqrt(fan_in)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from .layers import batch_norm, leaky_relu, torch_default_init

__all__ = ["MLPEncoder", "MLPDecoder", "OUTPUTS", "add_output_bias"]

#: Allowed decoder output activations.
OUTPUTS: tuple[str, ...] = ("sigmoid", "linear")


def add_output_bias(module: nn.Module, x: jax.Array, enabled: bool) -> jax.Array:
    """``x + b`` with a learnable ``"output_bias"`` b of shape (C,), C = x's last axis (the output
    channels; the features of a flat output), zero-initialised; ``x`` unchanged when not ``enabled``.

    Called inside a decoder's compact ``__call__`` right before the output activation. DCAE/RCAE set b
    to the normal class's mean (its logit under a sigmoid) at initialisation, so the bias-free layers
    before it only model the deviations from that level (``ocnn_jax.methods.rcae``)."""
    if not enabled:
        return x
    bias = module.param("output_bias", nn.initializers.zeros, (x.shape[-1],), jnp.float32)
    return x + bias.reshape((1,) * (x.ndim - 1) + bias.shape)


def _dense(features: int, name: str) -> nn.Dense:
    return nn.Dense(features, use_bias=False, kernel_init=torch_default_init, name=name)


class MLPEncoder(nn.Module):
    """MLP encoder ``(B, *sample_shape) -> (B, rep_dim)``; trailing dims are flattened.

    Attributes:
      hidden: widths of the hidden dense -> BN -> lrelu blocks (default ``(64,)``).
      rep_dim: size of the representation (last, linear, bias-free dense layer).
    """

    hidden: Sequence[int] = (64,)
    rep_dim: int = 32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        for i, h in enumerate(self.hidden):
            x = _dense(h, f"dense{i}")(x)
            x = batch_norm(train, f"bn{i}")(x)
            x = leaky_relu(x)
        return _dense(self.rep_dim, "code")(x)


class MLPDecoder(nn.Module):
    """MLP decoder ``(B, rep_dim) -> (B, *input_shape)``, the mirror of :class:`MLPEncoder`.

    Attributes:
      hidden: the *encoder's* hidden widths; applied here in reverse order.
      input_shape: one sample's shape to reconstruct (required, all sizes positive).
      output: ``"sigmoid"`` for data scaled to [0, 1], ``"linear"`` for standardised data.
      output_bias: a learnable bias over the output's last axis before the activation
        (:func:`add_output_bias`); False (default, Ruff's bias-free network) adds none.
    """

    hidden: Sequence[int] = (64,)
    input_shape: tuple[int, ...] = ()
    output: str = "sigmoid"
    output_bias: bool = False

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        if not self.input_shape or any(int(d) <= 0 for d in self.input_shape):
            raise ValueError(
                f"MLPDecoder: input_shape must be a non-empty tuple of positive ints, "
                f"got {self.input_shape!r}"
            )
        if self.output not in OUTPUTS:
            raise ValueError(f"MLPDecoder: output must be one of {OUTPUTS}, got {self.output!r}")
        x = z
        for i, h in enumerate(reversed(tuple(self.hidden))):
            x = _dense(h, f"dense{i}")(x)
            x = batch_norm(train, f"bn{i}")(x)
            x = leaky_relu(x)
        x = _dense(math.prod(self.input_shape), "out")(x).reshape(x.shape[0], *self.input_shape)
        x = add_output_bias(self, x, self.output_bias)
        return jax.nn.sigmoid(x) if self.output == "sigmoid" else x
