"""Ruff et al.'s LeNet-type encoders/decoders for MNIST and CIFAR-10, NHWC (docs/algorithms.md §5).

All layers are bias-free 5x5 stride-1 convs (:class:`~ocnn_jax.nn.layers.Conv`) and dense
layers; BatchNorm has no scale/bias (eps 1e-4, momentum 0.9); leaky ReLU slope 0.01;
decoders end in a sigmoid (``output="linear"`` gives an identity output for standardised
inputs); ``output_bias=True`` adds one learnable bias per output channel before it (not Ruff's network;
DCAE and RCAE use it, see ``ocnn_jax.methods.rcae``). PyTorch's stride-1 ``ConvTranspose2d(k=5, padding=p)`` is written as a plain conv
with padding ``4 - p`` (p = 2 -> 2, size kept; p = 3 -> 1, size shrinks by 2).

Intermediate activations are ``sow``-n into the ``'intermediates'`` collection (a no-op
unless that collection is mutable), e.g. ``apply(..., mutable=['intermediates'])``.

Initialisation: MNIST convs use PyTorch's default U(+-1/sqrt(fan_in)), MNIST deconvs
PyTorch's transposed-conv default U(+-1/sqrt(k*k*C_out)); CIFAR convs and deconvs use Ruff's
xavier-uniform with leaky-ReLU gain; dense layers PyTorch's default.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from .layers import (
    Conv,
    batch_norm,
    leaky_relu,
    max_pool_2x2,
    torch_deconv_init,
    torch_default_init,
    upsample_nearest_2x,
    xavier_leaky_init,
)
from .mlp import OUTPUTS, add_output_bias

__all__ = [
    "MnistLeNetEncoder",
    "MnistLeNetDecoder",
    "CifarLeNetEncoder",
    "CifarLeNetDecoder",
    "MNIST_SHAPE",
    "CIFAR_SHAPE",
]

#: One MNIST / CIFAR-10 sample as the networks receive it (H, W, C).
MNIST_SHAPE: tuple[int, int, int] = (28, 28, 1)
CIFAR_SHAPE: tuple[int, int, int] = (32, 32, 3)


def _code_dense(features: int) -> nn.Dense:
    return nn.Dense(features, use_bias=False, kernel_init=torch_default_init, name="code")


def _output(x: jax.Array, output: str, who: str) -> jax.Array:
    """Decoder output activation: ``"sigmoid"`` (data in [0, 1]) or ``"linear"`` (identity)."""
    if output not in OUTPUTS:
        raise ValueError(f"{who}: output must be one of {OUTPUTS}, got {output!r}")
    return jax.nn.sigmoid(x) if output == "sigmoid" else x


def _check_code(rep_dim: int, who: str) -> int:
    """Channels of the 4x4 code map; ``rep_dim`` must be a positive multiple of 16."""
    if rep_dim <= 0 or rep_dim % 16:
        raise ValueError(f"{who}: rep_dim must be a positive multiple of 16 (4x4 map), got {rep_dim}")
    return rep_dim // 16


def _conv_stages(module: nn.Module, x: jax.Array, channels: tuple[int, ...], init, train: bool) -> jax.Array:
    """The LeNet encoders' body, called inside ``module``'s compact ``__call__``: per stage i a bias-free
    5x5 conv ``conv{i}`` -> BN ``bn{i}`` -> leaky ReLU -> 2x2 max-pool; then flatten (B, H·W·C)."""
    for i, c in enumerate(channels, start=1):
        x = Conv(c, padding=2, kernel_init=init, name=f"conv{i}")(x)
        x = leaky_relu(batch_norm(train, f"bn{i}")(x))
        x = max_pool_2x2(x)
        module.sow("intermediates", f"pool{i}", x)
    x = x.reshape(x.shape[0], -1)
    module.sow("intermediates", "flat", x)
    return x


class MnistLeNetEncoder(nn.Module):
    """MNIST LeNet encoder ``(B, 28, 28, 1) -> (B, rep_dim)``.

    conv 8 -> BN -> lrelu -> pool -> conv 4 -> BN -> lrelu -> pool -> flatten -> dense:
    28x28x1 -> 14x14x8 -> 7x7x4 -> 196 -> rep_dim (32).
    """

    rep_dim: int = 32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return _code_dense(self.rep_dim)(_conv_stages(self, x, (8, 4), torch_default_init, train))


class MnistLeNetDecoder(nn.Module):
    """MNIST LeNet decoder ``(B, rep_dim) -> (B, 28, 28, 1)``, in [0, 1] with the sigmoid output.

    reshape -> lrelu -> up -> deconv 4 (p2) -> BN -> lrelu -> up -> deconv 8 (p3) -> BN -> lrelu
    -> up -> deconv 1 (p2) -> sigmoid (or identity, ``output="linear"``):
    32 -> 4x4x2 -> 8x8x2 -> 8x8x4 -> 16x16x4 -> 14x14x8 -> 28x28x8 -> 28x28x1.
    """

    rep_dim: int = 32
    output: str = "sigmoid"
    output_bias: bool = False

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        c0 = _check_code(self.rep_dim, "MnistLeNetDecoder")
        x = leaky_relu(z.reshape(z.shape[0], 4, 4, c0))
        self.sow("intermediates", "up1", upsample_nearest_2x(x))
        x = Conv(4, padding=2, kernel_init=torch_deconv_init, upsample=True, name="deconv1")(x)
        x = leaky_relu(batch_norm(train, "bn1")(x))
        self.sow("intermediates", "up2", upsample_nearest_2x(x))
        x = Conv(8, padding=1, kernel_init=torch_deconv_init, upsample=True, name="deconv2")(x)  # 16 -> 14
        x = leaky_relu(batch_norm(train, "bn2")(x))
        self.sow("intermediates", "up3", upsample_nearest_2x(x))
        x = Conv(1, padding=2, kernel_init=torch_deconv_init, upsample=True, name="deconv3")(x)
        return _output(add_output_bias(self, x, self.output_bias), self.output, "MnistLeNetDecoder")


class CifarLeNetEncoder(nn.Module):
    """CIFAR-10 LeNet encoder ``(B, 32, 32, 3) -> (B, rep_dim)``.

    [conv c -> BN -> lrelu -> pool] for c in (32, 64, 128) -> flatten -> dense:
    32x32x3 -> 16x16x32 -> 8x8x64 -> 4x4x128 -> 2048 -> rep_dim (128).
    """

    rep_dim: int = 128

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return _code_dense(self.rep_dim)(_conv_stages(self, x, (32, 64, 128), xavier_leaky_init, train))


class CifarLeNetDecoder(nn.Module):
    """CIFAR-10 LeNet decoder ``(B, rep_dim) -> (B, 32, 32, 3)``, in [0, 1] with the sigmoid output.

    BN1d on the code (exists only in the AE, hence here) -> reshape -> lrelu -> deconv 128 ->
    BN -> lrelu -> [up -> deconv c -> BN -> lrelu] for c in (64, 32) -> up -> deconv 3 -> sigmoid
    (all p2; sigmoid, or identity with ``output="linear"``): 128 -> 4x4x8 -> 4x4x128 -> 8x8x128
    -> 8x8x64 -> 16x16x64 -> 16x16x32 -> 32x32x32    -> 32x32x3.
    """

    rep_dim: int = 128
    output: str = "sigmoid"
    output_bias: bool = False

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        c0 = _check_code(self.rep_dim, "CifarLeNetDecoder")
        z = batch_norm(train, "bn_code")(z)
        x = leaky_relu(z.reshape(z.shape[0], 4, 4, c0))
        for i, c in enumerate((128, 64, 32), start=1):
            if i > 1:
                self.sow("intermediates", f"up{i - 1}", upsample_nearest_2x(x))
            x = Conv(c, padding=2, kernel_init=xavier_leaky_init, upsample=i > 1, name=f"deconv{i}")(x)
            x = leaky_relu(batch_norm(train, f"bn{i}")(x))
        self.sow("intermediates", "up3", upsample_nearest_2x(x))
        x = Conv(3, padding=2, kernel_init=xavier_leaky_init, upsample=True, name="deconv4")(x)
        return _output(add_output_bias(self, x, self.output_bias), self.output, "CifarLeNetDecoder")
