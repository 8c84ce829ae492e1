"""Encoder + decoder composition whose variables nest under 'encoder' / 'decoder'."""

from __future__ import annotations

import flax.linen as nn
import jax

__all__ = ["AutoEncoder"]


class AutoEncoder(nn.Module):
    """Autoencoder ``x -> decoder(encoder(x))``, same shape out as in.

    The variable trees are ``{'params': {'encoder': ..., 'decoder': ...},
    'batch_stats': {'encoder': ..., 'decoder': ...}}``, so ``params['encoder']`` and
    ``batch_stats['encoder']`` can be passed directly to the standalone encoder's ``apply``
    (used to initialise Deep SVDD from a pretrained AE).

    Attributes:
      encoder: module with ``__call__(x, train) -> (B, rep_dim)``.
      decoder: module with ``__call__(z, train) -> (B, *input_shape)``.
    """

    encoder: nn.Module
    decoder: nn.Module

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        """Reconstruction of ``x``: ``(B, *input_shape) -> (B, *input_shape)``."""
        return self.decoder(self.encoder(x, train), train)

    def encode(self, x: jax.Array, train: bool) -> jax.Array:
        """Code ``(B, rep_dim)``; call via ``apply(..., method=AutoEncoder.encode)``."""
        return self.encoder(x, train)
