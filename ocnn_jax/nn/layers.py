"""Low-level layers shared by the backbones (docs/algorithms.md §5), written for speed on CPU.

Layout conventions: images are NHWC ``(B, H, W, C)``, conv kernels are HWIO
``(k, k, C_in, C_out)``; every layer is bias-free.

* :func:`conv2d` -- stride-1 conv with a hand-written VJP whose weight gradient is a
  canonical NHWC/HWIO convolution (the one autodiff emits stays in a non-canonical
  layout inside ``lax.scan``/``lax.map`` bodies and runs ~4x slower on XLA:CPU) or, on
  CPU, an FFT correlation (2-6x faster there again). On CPU, layers with few channels
  (forward and input gradient) run as a fused sum of shifted products instead of a conv.
* :func:`max_pool_2x2` -- 2x2, stride-2, 'VALID' max-pool as a reshape + max, with a
  hand-written first-maximum gradient.
* :func:`upsample_nearest_2x` -- nearest-neighbour x2 upsampling of H and W.
* :func:`upsample_conv2d` -- upsampling followed by a conv, computed on the small map (sub-pixel
  identity: four phase kernels as one conv, then depth-to-space); the decoders' up-convs use it.
* :class:`Conv` -- Flax Linen module around :func:`conv2d`.
* :func:`batch_norm` -- the project's BatchNorm settings (PyTorch ``affine=False``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
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
    "upsample_conv2d",
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


def _conv_shift_add(x: jax.Array, w: jax.Array, pad: int) -> jax.Array:
    """The same convolution as :func:`_conv`, written as a sum of ``k·k·C_in`` shifted, scaled copies.

    ``y[b, h, w, :] = Σ_{i, j, c} xp[b, h+i, w+j, c] · w[i, j, c, :]`` for the zero-padded input ``xp``:
    XLA fuses the sum into one elementwise loop over the output, vectorised along ``C_out``. Used on
    CPU for layers with few input channels (see :func:`_conv_fast`); only the float summation order
    differs from the convolution.
    """
    dtype = jnp.result_type(x, w)
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        # Sum half-precision inputs in float32 and round once (k·k·C_in roundings would lose precision).
        return _conv_shift_add(x.astype(jnp.float32), w.astype(jnp.float32), pad).astype(dtype)
    k = w.shape[0]
    xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    y = None
    for i in range(k):
        for j in range(k):
            for c in range(x.shape[3]):
                term = xp[:, i : i + ho, j : j + wo, c : c + 1] * w[i, j, c].reshape(1, 1, 1, -1)
                y = term if y is None else y + term
    return y


#: On CPU a convolution with at most ``SHIFT_ADD_MAX_CIN`` input and at most ``SHIFT_ADD_MAX_COUT``
#: output channels runs as :func:`_conv_shift_add`: XLA:CPU's convolution is 2-14x slower for these
#: shapes (the MNIST LeNet's first conv, its input gradients and the decoder's first up-conv), and the
#: shifted sum is slower for wider layers (per-shape timings: ``benchmarks/conv_forms.py``).
SHIFT_ADD_MAX_CIN: int = 4
SHIFT_ADD_MAX_COUT: int = 16


def _conv_fast(x: jax.Array, w: jax.Array, pad: int) -> jax.Array:
    """:func:`_conv`, or on CPU :func:`_conv_shift_add` for layers with few channels (picked when the
    program is lowered, so GPUs and TPUs always run the convolution)."""
    if w.shape[2] <= SHIFT_ADD_MAX_CIN and w.shape[3] <= SHIFT_ADD_MAX_COUT:
        return lax.platform_dependent(
            x, w, cpu=partial(_conv_shift_add, pad=pad), default=partial(_conv, pad=pad)
        )
    return _conv(x, w, pad)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d(x: jax.Array, w: jax.Array, padding: int) -> jax.Array:
    return _conv_fast(x, w, padding)


def _conv2d_fwd(x: jax.Array, w: jax.Array, padding: int):
    return _conv_fast(x, w, padding), (x, w)


def _weight_grad_conv(xp: jax.Array, g: jax.Array) -> jax.Array:
    """Kernel gradient as a canonical convolution (any backend).

    ``dw[i, j, c, o] = Σ_{b,h,w} xp[b, h+i, w+j, c] · g[b, h, w, o]`` for the padded input
    ``xp`` (B, Hp, Wp, Cin) and the output cotangent ``g`` (B, Ho, Wo, Cout); returns (k, k, Cin, Cout)
    with ``k = Hp - Ho + 1``.
    """
    k = xp.shape[1] - g.shape[1] + 1
    if g.shape[3] == 1:
        # One output channel (e.g. the MNIST decoder's last layer): the canonical form below would be a
        # conv with a single output feature, which XLA:CPU runs ~2.5x slower than this one, where the
        # cotangent is the input (Cout as batch, data batch as features) and the padded input the kernel
        # (Cin as output features); it yields the kernel gradient spatially flipped.
        lhs = g.transpose(3, 1, 2, 0)  # (Cout, Ho, Wo, B)       as N, H, W, C
        rhs = xp.transpose(1, 2, 0, 3)  # (Hp, Wp, B, Cin)       as H, W, I, O
        return jnp.flip(_conv(lhs, rhs, k - 1), (1, 2)).transpose(1, 2, 3, 0)  # (k, k, Cin, Cout)
    # Channels as batch, data batch as features.
    lhs = xp.transpose(3, 1, 2, 0)  # (Cin, Hp, Wp, B)   as N, H, W, C
    rhs = g.transpose(1, 2, 0, 3)  # (Ho, Wo, B, Cout)   as H, W, I, O
    return _conv(lhs, rhs, 0).transpose(1, 2, 0, 3)  # (Cin, k, k, Cout) -> (k, k, Cin, Cout)


def _weight_grad_fft(xp: jax.Array, g: jax.Array) -> jax.Array:
    """The same kernel gradient by the correlation theorem (used on CPU; see :func:`_weight_grad`).

    The cotangent is zero-padded to the padded input's size (Hp, Wp); then
    ``dw[i, j] = irfft2(Σ_b rfft2(xp_b) · conj(rfft2(g_b)))[i, j]`` for i, j < k. The circular
    correlation equals the linear one there: h + i ≤ Ho - 1 + k - 1 = Hp - 1, so nothing wraps.
    The transforms run channels-first (XLA's FFT works on the minor dimensions; this saves a transposed
    copy of each spectrum against transforming NHWC over axes (1, 2)).
    Computed in float32 (float64 for float64 inputs); returns (k, k, Cin, Cout) in ``xp.dtype``.
    """
    hp, wp = xp.shape[1], xp.shape[2]
    k = hp - g.shape[1] + 1
    real = jnp.float64 if xp.dtype == jnp.float64 else jnp.float32
    x_hat = jnp.fft.rfft2(xp.astype(real).transpose(0, 3, 1, 2))  # (B, Cin, Hp, Wp//2+1)
    g_hat = jnp.conj(jnp.fft.rfft2(g.astype(real).transpose(0, 3, 1, 2), s=(hp, wp)))  # (B, Cout, Hp, Wp//2+1)
    if x_hat.shape[1] == 1 or g_hat.shape[1] == 1:
        # One input or output channel: a product summed over the leading batch axis, which XLA:CPU
        # streams without the transposed copies (batch as the contracted minor dimension) its batched
        # matrix product needs. (On CPU, one-input-channel layers take _weight_grad_taps instead.)
        cross = (x_hat[:, :, None] * g_hat[:, None, :]).sum(0)
    else:
        cross = jnp.einsum("bchw,bohw->cohw", x_hat, g_hat)
    dw = jnp.fft.irfft2(cross, s=(hp, wp))[..., :k, :k]  # (Cin, Cout, k, k)
    return dw.transpose(2, 3, 0, 1).astype(xp.dtype)


def _weight_grad_taps(xp: jax.Array, g: jax.Array) -> jax.Array:
    """The same kernel gradient for ONE input channel as a single matrix product (used on CPU).

    The k² shifted views of the padded input are stacked into a (k², B·Ho·Wo) matrix ``P`` (one row per
    kernel tap); then ``dw = P · g`` with ``g`` as a (B·Ho·Wo, Cout) matrix: one tall-skinny GEMM that
    reads the cotangent once, where the FFT form transforms, pads and transposes it (4-10x slower
    for these layers on XLA:CPU; ``benchmarks/conv_forms.py``). Computed in float32 (float64 for
    float64 inputs); returns (k, k, 1, Cout) in ``xp.dtype``.
    """
    if xp.shape[3] != 1:
        raise ValueError(f"_weight_grad_taps: expects one input channel, got xp.shape={xp.shape}")
    ho, wo = g.shape[1], g.shape[2]
    k = xp.shape[1] - ho + 1
    real = jnp.float64 if xp.dtype == jnp.float64 else jnp.float32
    x = xp[..., 0].astype(real)
    taps = jnp.stack([x[:, i : i + ho, j : j + wo] for i in range(k) for j in range(k)])  # (k², B, Ho, Wo)
    dw = jnp.dot(taps.reshape(k * k, -1), g.astype(real).reshape(-1, g.shape[3]))  # (k², Cout)
    return dw.reshape(k, k, 1, g.shape[3]).astype(xp.dtype)


#: On CPU the FFT weight gradient is used when the padded input has at least this many rows and columns;
#: below it (the 4x4 and 8x8 code-side layers) the conv is as fast or faster (timings:
#: ``benchmarks/results/profile_cpu.md``).
FFT_WGRAD_MIN_SIZE: int = 12


def _weight_grad(xp: jax.Array, g: jax.Array) -> jax.Array:
    """Kernel gradient (k, k, Cin, Cout) of a stride-1 conv from the padded input and the cotangent.

    XLA:CPU runs the weight-gradient convolution (a conv whose "kernel" is the whole cotangent image)
    on a slow generic path, so on CPU layers of at least ``FFT_WGRAD_MIN_SIZE`` take the FFT form;
    GPUs and TPUs keep the convolution (``lax.platform_dependent`` picks the branch when the program
    is lowered). Layers with one input channel (the MNIST encoders' first conv) take the tap-matrix
    product :func:`_weight_grad_taps` on CPU instead.
    """
    if xp.shape[3] == 1:
        return lax.platform_dependent(xp, g, cpu=_weight_grad_taps, default=_weight_grad_conv)
    if min(xp.shape[1], xp.shape[2]) >= FFT_WGRAD_MIN_SIZE:
        return lax.platform_dependent(xp, g, cpu=_weight_grad_fft, default=_weight_grad_conv)
    return _weight_grad_conv(xp, g)


def _conv2d_bwd(padding: int, res, g: jax.Array):
    x, w = res
    k = w.shape[0]
    h, wd = x.shape[1], x.shape[2]
    # Input gradient: "full" correlation of g with the flipped, in/out-swapped kernel.
    w_t = jnp.flip(w, axis=(0, 1)).swapaxes(2, 3)  # (k, k, Cout, Cin)
    back_pad = k - 1 - padding
    if back_pad >= 0:
        dx = _conv_fast(g, w_t, back_pad)
    else:  # padding > k - 1: gradient w.r.t. the padded input, then crop the border.
        dx = _conv_fast(g, w_t, k - 1)[:, padding : padding + h, padding : padding + wd, :]
    xp = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    dw = _weight_grad(xp, g)
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

    The forward is ``lax.conv_general_dilated`` (on CPU, for at most ``SHIFT_ADD_MAX_CIN`` input and
    ``SHIFT_ADD_MAX_COUT`` output channels, the same sum written as shifted products); the VJP is
    hand-written (see module doc) and equals autodiff of the plain conv. Works under ``vmap`` (over x, w
    or both) and in ``scan``.
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


def _pool_windows(x: jax.Array) -> jax.Array:
    """``(..., 2·h2, 2·w2, C) -> (..., h2, 2, w2, 2, C)``: the 2x2 windows of an even-sized map."""
    *lead, h, w, c = x.shape
    return x.reshape(*lead, h // 2, 2, w // 2, 2, c)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2, stride-2, 'VALID' max-pool over the H and W axes of ``(..., H, W, C)``.

    Odd sizes are floored (the last row/column is dropped): ``(..., H, W, C) ->
    (..., H // 2, W // 2, C)``. Forward: a reshape + max. Gradient (hand-written): each window's
    cotangent goes to its first maximal element in row-major order, PyTorch's and TensorFlow's
    choice; the forward keeps that element's position (int8) so the backward is one select and never
    revisits the input. Autodiff of ``max`` would split the cotangent evenly among exact ties and, fused
    on XLA:CPU, recompute the producer of ``x`` for every comparison. Without ties both agree exactly.
    """
    *_, h, w, _ = x.shape
    return _max_pool_even(x[..., : 2 * (h // 2), : 2 * (w // 2), :])


@jax.custom_vjp
def _max_pool_even(x: jax.Array) -> jax.Array:
    return _pool_windows(x).max(axis=(-4, -2))


#: Codes of the window positions (row, column) = (0, 0), (0, 1), (1, 0), (1, 1) in row-major order.
_WINDOW_CODE = ((0, 1), (2, 3))


def _window_codes(dtype: Any, lead: int) -> jax.Array:
    """``_WINDOW_CODE`` shaped to broadcast against windows ``(*lead, h2, 2, w2, 2, C)`` with ``lead`` axes."""
    return jnp.asarray(_WINDOW_CODE, dtype).reshape((1,) * (lead + 1) + (2, 1, 2, 1))


def _max_pool_even_fwd(x: jax.Array):
    win = _pool_windows(x)
    y = win.max(axis=(-4, -2))
    # First maximal position as a second max-reduction over the window of (3 - code) where the element
    # equals the maximum (-1 elsewhere, so a NaN window marks no position). Being a reduction's output,
    # XLA:CPU materialises it; an elementwise where-chain on the four window slices was instead fused
    # into the backward, which then recomputed BN and leaky ReLU for every slice (benchmarks/results).
    rank = 3.0 - _window_codes(x.dtype, win.ndim - 5)
    hit = win == y[..., :, None, :, None, :]
    first = 3.0 - jnp.where(hit, rank, jnp.asarray(-1.0, x.dtype)).max(axis=(-4, -2))
    return y, first.astype(jnp.int8)


def _computed_once(g: jax.Array) -> jax.Array:
    """``g`` unchanged, but on CPU computed once into a buffer before a consumer that reads each element
    several times (the max-pool backward reads each cotangent element for all four window positions).

    XLA:CPU fuses elementwise producers into such consumers and recomputes them per output element. For
    the LeNets' first pool that producer is conv2's input gradient, a sum of 100 shifted products
    (:func:`_conv_shift_add`), which was then computed four times (the largest fused loop of the
    MNIST training step). A product with the identity matrix over the channel axis is never fused
    into its consumer, so its operand is materialised once. The values are exact (x·1 plus zeros),
    except that an infinite entry turns the other channels of its pixel into NaN (inf·0), where the
    step's gradient is unusable anyway. GPUs and TPUs get ``g`` as is.
    """

    def once(a: jax.Array) -> jax.Array:
        eye = jnp.eye(a.shape[-1], dtype=a.dtype)
        return lax.dot_general(a, eye, (((a.ndim - 1,), (0,)), ((), ())))

    return lax.platform_dependent(g, cpu=once, default=lambda a: a)


def _max_pool_even_bwd(first: jax.Array, g: jax.Array):
    if g.shape[-1] <= SHIFT_ADD_MAX_COUT:
        # Few channels: g may be a shifted sum (an input gradient with at most SHIFT_ADD_MAX_COUT outputs)
        # that XLA:CPU would recompute per window position. Wider cotangents come from convolutions,
        # already in a buffer; the identity product would only add work.
        g = _computed_once(g)
    hit = first[..., :, None, :, None, :] == _window_codes(jnp.int8, first.ndim - 3)
    dwin = jnp.where(hit, g[..., :, None, :, None, :], jnp.zeros((), g.dtype))
    *lead, h2, _, w2, _, c = dwin.shape
    return (dwin.reshape(*lead, 2 * h2, 2 * w2, c),)


_max_pool_even.defvjp(_max_pool_even_fwd, _max_pool_even_bwd)


def upsample_nearest_2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2 upsampling: ``(..., H, W, C) -> (..., 2H, 2W, C)``."""
    *lead, h, w, c = x.shape
    x = jnp.broadcast_to(x[..., :, None, :, None, :], (*lead, h, 2, w, 2, c))
    return x.reshape(*lead, 2 * h, 2 * w, c)


def _subpixel_taps(k: int, padding: int) -> tuple[np.ndarray, int]:
    """Kernel-tap map of "x2 nearest upsampling, then a k x k conv with ``padding``" per output phase.

    Output row ``y = 2m + a`` (phase a in {0, 1}) reads the upsampled row ``y + i - padding`` for tap i,
    i.e. the source row ``m + (a + i - padding) // 2``. Returns ``(S, lo)`` with ``S[a, u, i] = 1`` when
    tap i of phase a reads source offset ``u - lo`` (S has shape (2, kd, k)): every phase is a
    ``kd x kd`` conv of the source map with ``lo`` zeros before it. Whether the zeros after it match
    (one symmetric padding for :func:`conv2d`) is for the caller to check.
    """
    offsets = np.array([[(a + i - padding) // 2 for i in range(k)] for a in (0, 1)])
    lo, kd = -int(offsets.min()), int(offsets.max() - offsets.min()) + 1
    taps = np.zeros((2, kd, k), np.float32)
    for a in (0, 1):
        taps[a, offsets[a] + lo, np.arange(k)] = 1.0
    return taps, lo


def upsample_conv2d(x: jax.Array, w: jax.Array, padding: int) -> jax.Array:
    """``conv2d(upsample_nearest_2x(x), w, padding)`` without building the upsampled map.

    Sub-pixel identity: the four output phases (row parity a, column parity b) of a conv applied to a
    nearest-upsampled map are ``kd x kd`` convs of the small map whose kernels sum the taps that land on
    the same source pixel (kd = 3 for k = 5). They run as ONE conv with ``4 * C_out`` output channels
    (kernel ``S_a w S_b^T``, built from ``w`` so gradients reach ``w``), followed by a depth-to-space
    interleave. Same function as the two-step form (only the float summation order differs), with
    ~k²/kd² fewer multiply-adds and a 4x smaller conv input.

    Args:
      x: ``(B, H, W, C_in)`` map to be upsampled to ``(B, 2H, 2W, C_in)``.
      w: ``(k, k, C_in, C_out)`` kernel.
      padding: zeros on each side of the *upsampled* map (static).

    Returns:
      ``(B, 2H + 2p - k + 1, 2W + 2p - k + 1, C_out)``, as the two-step form. Falls back to the
      two-step form when an output side is odd or the phases would need unequal padding.
    """
    padding = int(padding)
    k = w.shape[0]
    b, h, wd, _ = x.shape
    ho, wo = 2 * h + 2 * padding - k + 1, 2 * wd + 2 * padding - k + 1
    taps, lo = _subpixel_taps(k, padding)
    kd = taps.shape[1]
    # Each phase yields ho // 2 rows from h source rows padded by lo before and after.
    fits = ho % 2 == 0 and wo % 2 == 0 and ho // 2 == h + 2 * lo - kd + 1 and wo // 2 == wd + 2 * lo - kd + 1
    if not fits:
        return conv2d(upsample_nearest_2x(x), w, padding)
    s = jnp.asarray(taps, w.dtype)
    cout = w.shape[3]
    kernel = jnp.einsum("aui,bvj,ijco->uvcabo", s, s, w).reshape(kd, kd, w.shape[2], 4 * cout)
    y = conv2d(x, kernel, lo)  # (B, ho/2, wo/2, 4 * C_out), channels ordered (a, b, o)
    y = y.reshape(b, ho // 2, wo // 2, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, ho, wo, cout)


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
      upsample: the input is first nearest-upsampled x2 (:func:`upsample_nearest_2x`); computed as
        :func:`upsample_conv2d`, the same function without materialising the upsampled map. The
        parameter is the same ``(k, k, C_in, C_out)`` kernel either way.

    Input ``(B, H, W, C_in)`` -> output ``(B, H' + 2p - k + 1, W' + 2p - k + 1, features)`` with
    ``H' = 2H`` when ``upsample`` else ``H`` (likewise W).
    """

    features: int
    kernel_size: int = 5
    padding: int = 2
    kernel_init: Initializer = torch_default_init
    upsample: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
        if self.upsample:
            return upsample_conv2d(x, kernel, self.padding)
        return conv2d(x, kernel, self.padding)
