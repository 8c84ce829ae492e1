"""Bias-free MLP encoder/decoder for tabular or flat data (docs/algorithms.md §5, "MLP").

Encoder: flatten -> [dense h -> BN -> lrelu] for h in ``hidden`` -> dense ``rep_dim``.
Decoder: [dense h -> BN -> lrelu] for h in reversed(``hidden``) -> dense prod(input_shape)
-> sigmoid (inputs in [0, 1]) or identity (standardised features) -> reshape.
Dense layers use PyTorch's default init U(+-1/sqrt(fan_in)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax

from .layers import batch_norm, leaky_relu, torch_default_init

__all__ = ["MLPEncoder", "MLPDecoder", "OUTPUTS"]

#: Allowed decoder output activations.
OUTPUTS: tuple[str, ...] = ("sigmoid", "linear")


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
    """

    hidden: Sequence[int] = (64,)
    input_shape: tuple[int, ...] = ()
    output: str = "sigmoid"

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
        x = _dense(math.prod(self.input_shape), "out")(x)
        if self.output == "sigmoid":
            x = jax.nn.sigmoid(x)
        return x.reshape(x.shape[0], *self.input_shape)
