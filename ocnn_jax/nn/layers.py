"""Low-level layers shared by the backbones (ALGORITHMS.md §5, STYLE.md §5 "CPU speed").

Layout conventions: images are NHWC ``(B, H, W, C)``, conv kernels are HWIO
``(k, k, C_in, C_out)``; every layer is bias-free.

* :func:`conv2d` -- stride-1 conv with a hand-written VJP whose weight gradient is a
  canonical NHWC/HWIO convolution (the one autodiff emits stays in a non-canonical
  layout inside ``lax.scan``/``lax.map`` bodies and runs ~4x slower on XLA:CPU).
* :func:`max_pool_2x2` -- 2x2, stride-2, 'VALID' max-pool as a reshape + max.
* :func:`upsample_nearest_2x` -- nearest-neighbour x2 upsampling of H and W.
* :class:`Conv` -- Flax Linen module around :func:`conv2d`.
* :func:`batch_norm` -- the project's BatchNorm settings (PyTorch ``affine=False``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "LEAKY_SLOPE",
    "BN_MOMENTUM",
    "BN_EPSILON",
    "torch_default_init",
    "torch_deconv_init",
    "xavier_leaky_init",
    "conv2d",
    "max_pool_2x2",
    "upsample_nearest_2x",
    "Conv",
    "batch_norm",
    "leaky_relu",
]

Initializer = Any  # flax/jax initializer: (key, shape, dtype) -> array

#: Leaky-ReLU negative slope (the ``jax.nn.leaky_relu`` default; Keras used 0.1).
LEAKY_SLOPE: float = 0.01
#: Flax BatchNorm momentum = keep fraction of the running statistics (PyTorch 0.1).
BN_MOMENTUM: float = 0.9
#: BatchNorm epsilon added to the batch variance (Ruff's value).
BN_EPSILON: float = 1e-4

#: PyTorch's default conv/linear init, kaiming-uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)).
torch_default_init: Initializer = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
#: PyTorch's ConvTranspose2d default init in Flax's (k, k, in, out) layout:
#: PyTorch takes fan_in from the output-channel dim, i.e. U(+-1/sqrt(k*k*C_out)).
torch_deconv_init: Initializer = nn.initializers.variance_scaling(1.0 / 3.0, "fan_out", "uniform")
#: Ruff's CIFAR-10 AE init: xavier-uniform with gain sqrt(2 / (1 + 0.01^2)).
_LEAKY_GAIN_SQ: float = 2.0 / (1.0 + LEAKY_SLOPE**2)
xavier_leaky_init: Initializer = nn.initializers.variance_scaling(_LEAKY_GAIN_SQ, "fan_avg", "uniform")

_DN = ("NHWC", "HWIO", "NHWC")


def _conv(x: jax.Array, w: jax.Array, pad: int) -> jax.Array:
    """Plain stride-1 NHWC/HWIO convolution with ``pad`` zeros on every spatial side."""
    return lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding=((pad, pad), (pad, pad)), dimension_numbers=_DN
    )


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d(x: jax.Array, w: jax.Array, padding: int) -> jax.Array:
    return _conv(x, w, padding)


def _conv2d_fwd(x: jax.Array, w: jax.Array, padding: int):
    return _conv(x, w, padding), (x, w)


def _conv2d_bwd(padding: int, res, g: jax.Array):
    x, w = res
    k = w.shape[0]
    h, wd = x.shape[1], x.shape[2]
    # Input gradient: "full" correlation of g with the flipped, in/out-swapped kernel.
    w_t = jnp.flip(w, axis=(0, 1)).swapaxes(2, 3)  # (k, k, Cout, Cin)
    back_pad = k - 1 - padding
    if back_pad >= 0:
        dx = _conv(g, w_t, back_pad)
    else:  # padding > k - 1: gradient w.r.t. the padded input, then crop the border.
        dx = _conv(g, w_t, k - 1)[:, padding : padding + h, padding : padding + wd, :]
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    if w.shape[3] == 1:
        # One output channel (e.g. the MNIST decoder's last layer): the canonical form below would be a
        # conv with a single output feature, which XLA:CPU runs ~2.5x slower than this one, where the
        # cotangent is the input (Cout as batch, data batch as features) and the padded input the kernel
        # (Cin as output features); it yields the kernel gradient spatially flipped.
        lhs = g.transpose(3, 1, 2, 0)  # (Cout, Ho, Wo, B)       as N, H, W, C
        rhs = xp.transpose(1, 2, 0, 3)  # (H+2p, W+2p, B, Cin)   as H, W, I, O
        dw = jnp.flip(_conv(lhs, rhs, k - 1), (1, 2)).transpose(1, 2, 3, 0)  # (k, k, Cin, Cout)
    else:
        # Weight gradient as a canonical conv: channels as batch, data batch as features.
        lhs = xp.transpose(3, 1, 2, 0)  # (Cin, H+2p, W+2p, B)   as N, H, W, C
        rhs = g.transpose(1, 2, 0, 3)  # (Ho, Wo, B, Cout)       as H, W, I, O
        dw = _conv(lhs, rhs, 0).transpose(1, 2, 0, 3)  # (Cin, k, k, Cout) -> (k, k, Cin, Cout)
    return dx.astype(x.dtype), dw.astype(w.dtype)


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d(x: jax.Array, w: jax.Array, padding: int) -> jax.Array:
    """Stride-1 2-D convolution (cross-correlation, no bias) with a layout-friendly VJP.

    Args:
      x: input, shape ``(B, H, W, C_in)`` (NHWC).
      w: kernel, shape ``(k, k, C_in, C_out)`` (HWIO), square.
      padding: zeros added on each side of H and W (non-negative int, static).

    Returns:
      ``(B, H + 2p - k + 1, W + 2p - k + 1, C_out)``, dtype ``result_type(x, w)``.

    The forward is ``lax.conv_general_dilated``; the VJP is hand-written (see module doc) and
    equals autodiff of the plain conv. Works under ``vmap`` (over x, w or both) and in ``scan``.
    """
    padding = int(padding)
    if padding < 0:
        raise ValueError(f"conv2d: padding must be >= 0, got {padding}")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"conv2d: expected x of rank 4 (B,H,W,C) and w of rank 4 (k,k,Cin,Cout), "
            f"got x.shape={x.shape}, w.shape={w.shape}"
        )
    dtype = jnp.result_type(x, w)
    return _conv2d(x.astype(dtype), w.astype(dtype), padding)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2, stride-2, 'VALID' max-pool over the H and W axes of ``(..., H, W, C)``.

    Odd sizes are floored (the last row/column is dropped): ``(..., H, W, C) ->
    (..., H // 2, W // 2, C)``. Written as a reshape + max, whose gradient is cheaper
    on XLA:CPU than ``nn.max_pool``'s reduce-window.
    """
    *lead, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    x = x[..., : 2 * h2, : 2 * w2, :]
    x = x.reshape(*lead, h2, 2, w2, 2, c)
    return x.max(axis=(-4, -2))


def upsample_nearest_2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2 upsampling: ``(..., H, W, C) -> (..., 2H, 2W, C)``."""
    *lead, h, w, c = x.shape
    x = jnp.broadcast_to(x[..., :, None, :, None, :], (*lead, h, 2, w, 2, c))
    return x.reshape(*lead, 2 * h, 2 * w, c)


def leaky_relu(x: jax.Array) -> jax.Array:
    """Leaky ReLU with slope :data:`LEAKY_SLOPE` (0.01)."""
    return jax.nn.leaky_relu(x, LEAKY_SLOPE)


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    """BatchNorm without scale/bias (PyTorch ``affine=False``), eps 1e-4, Flax momentum 0.9.

    Normalises over all axes but the last; in training mode it uses batch statistics and
    updates ``batch_stats`` (running <- 0.9 * running + 0.1 * batch, biased batch variance).
    """
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        use_bias=False,
        use_scale=False,
        name=name,
    )


class Conv(nn.Module):
    """Bias-free stride-1 square convolution on NHWC input, built on :func:`conv2d`.

    Attributes:
      features: output channels ``C_out``.
      kernel_size: spatial kernel size ``k`` (5 in all backbones).
      padding: zeros on each spatial side; 2 keeps the size for k = 5 ('SAME'). A PyTorch
        stride-1 ``ConvTranspose2d`` with padding p is this conv with padding ``k - 1 - p``.
      kernel_init: initializer of the ``(k, k, C_in, C_out)`` parameter ``kernel``.

    Input ``(B, H, W, C_in)`` -> output ``(B, H + 2p - k + 1, W + 2p - k + 1, features)``.
    """

    features: int
    kernel_size: int = 5
    padding: int = 2
    kernel_init: Initializer = torch_default_init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        return conv2d(x, kernel, self.padding)
