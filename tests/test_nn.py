"""Tests for ocnn_jax.nn: custom-VJP conv, pooling, LeNet/MLP backbones, AutoEncoder, make_backbone."""

from __future__ import annotations

import math
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.test_util import check_grads

from ocnn_jax.nn import (
    AutoEncoder,
    Backbone,
    CifarLeNetDecoder,
    CifarLeNetEncoder,
    Conv,
    MLPDecoder,
    MLPEncoder,
    MnistLeNetDecoder,
    MnistLeNetEncoder,
    conv2d,
    make_backbone,
    max_pool_2x2,
    upsample_nearest_2x,
)
from ocnn_jax.nn import layers as layers_mod
from ocnn_jax.nn.layers import batch_norm, upsample_conv2d

RTOL, ATOL = 1e-5, 1e-5
B = 3  # batch size of the backbone tests
DN = ("NHWC", "HWIO", "NHWC")


def _normal(rng: np.random.Generator, shape, dtype=jnp.float32, scale: float = 1.0) -> jax.Array:
    """Test data from NumPy (eager jax.random compiles a kernel per new shape, which is slow)."""
    return jnp.asarray(rng.normal(scale=scale, size=shape).astype(np.float32), dtype)


def ref_conv(x: jax.Array, w: jax.Array, p: int) -> jax.Array:
    return lax.conv_general_dilated(x, w, (1, 1), ((p, p), (p, p)), dimension_numbers=DN)


def _close(a, b, rtol: float = RTOL, atol: float = ATOL) -> None:
    np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------- conv2d

CONV_CASES = [  # (B, H, W, Cin, Cout, k, p): paddings 0..2, odd/even sizes, one p > k-1
    (2, 7, 7, 3, 4, 3, 0),
    (2, 6, 9, 2, 3, 3, 1),
    (3, 8, 8, 3, 2, 5, 2),
    (1, 9, 6, 1, 8, 5, 2),
    (2, 10, 11, 4, 4, 5, 1),
    (2, 5, 5, 2, 3, 3, 4),
    (2, 9, 9, 4, 1, 5, 2),  # single output channel: the weight gradient takes its own formulation
    (3, 6, 7, 3, 1, 3, 0),
    (2, 6, 6, 2, 1, 5, 4),
]


def _conv_inputs(case, dtype=jnp.float32):
    b, h, w, ci, co, k, p = case
    rng = np.random.default_rng(sum(case))
    x = _normal(rng, (b, h, w, ci), dtype)
    wt = _normal(rng, (k, k, ci, co), dtype, scale=1.0 / k)
    g = _normal(rng, (b, h + 2 * p - k + 1, w + 2 * p - k + 1, co), dtype)
    return x, wt, g, p


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_forward_matches_lax_and_flax(case):
    x, w, _, p = _conv_inputs(case)
    flax_conv = nn.Conv(w.shape[-1], (w.shape[0],) * 2, padding=((p, p), (p, p)), use_bias=False)
    ours = Conv(w.shape[-1], kernel_size=w.shape[0], padding=p)

    @jax.jit
    def all_ways(x, w):
        v = {"params": {"kernel": w}}
        return conv2d(x, w, p), ref_conv(x, w, p), flax_conv.apply(v, x), ours.apply(v, x)

    y, *refs = all_ways(x, w)
    assert y.shape == refs[0].shape
    for ref in refs:
        _close(y, ref)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_vjp_matches_autodiff(case):
    x, w, g, p = _conv_inputs(case)

    @jax.jit
    def both(x, w, g):
        vjps = [jax.vjp(lambda a, b, c=c: c(a, b, p), x, w)[1] for c in (conv2d, ref_conv)]
        return [f(g) for f in vjps]

    got_all, want_all = both(x, w, g)
    for got, want in zip(got_all, want_all, strict=True):
        assert got.shape == want.shape
        _close(got, want, rtol=1e-4, atol=1e-4)


def test_conv2d_check_grads():
    x, w, _, p = _conv_inputs((2, 6, 7, 2, 3, 3, 1))
    check_grads(lambda a, b: conv2d(a, b, p), (x, w), order=1, modes=("rev",), atol=2e-2, rtol=2e-2, eps=1e-2)


def _loss(conv, p):
    return lambda x, w: jnp.sum(jnp.sin(conv(x, w, p)))


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0)], ids=["vmap_x", "vmap_w", "vmap_both"])
def test_conv2d_grad_under_vmap(in_axes):
    x, w, _, p = _conv_inputs((2, 8, 7, 3, 4, 5, 2))
    xs = jnp.stack([x, 2.0 * x, -x])
    ws = jnp.stack([w, 0.5 * w, w[::-1]])
    args = (xs if in_axes[0] == 0 else x, ws if in_axes[1] == 0 else w)
    got = jax.jit(jax.vmap(jax.value_and_grad(_loss(conv2d, p), (0, 1)), in_axes))(*args)
    want = jax.vmap(jax.value_and_grad(_loss(ref_conv, p), (0, 1)), in_axes)(*args)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        _close(a, b, rtol=1e-4, atol=1e-4)


def test_conv2d_grad_inside_scan():
    x, w, _, p = _conv_inputs((2, 8, 8, 3, 3, 5, 2))
    xs = jnp.stack([x, x * 0.5, x[:, ::-1]])

    def run(conv):
        grad = jax.grad(_loss(conv, p), 1)

        def body(w, xb):
            return w - 0.01 * grad(xb, w), jnp.sum(conv(xb, w, p))

        return jax.jit(lambda w: lax.scan(body, w, xs))(w)

    for a, b in zip(jax.tree.leaves(run(conv2d)), jax.tree.leaves(run(ref_conv)), strict=True):
        _close(a, b, rtol=1e-4, atol=1e-4)


def test_conv2d_bfloat16():
    x, w, g, p = _conv_inputs((2, 8, 8, 3, 4, 5, 2), jnp.bfloat16)
    y, vjp = jax.vjp(lambda a, b: conv2d(a, b, p), x, w)
    dx, dw = vjp(g)
    assert y.dtype == dx.dtype == dw.dtype == jnp.bfloat16
    f32 = [a.astype(jnp.float32) for a in (x, w, g)]
    _, vjp32 = jax.vjp(lambda a, b: ref_conv(a, b, p), *f32[:2])
    _close(y, ref_conv(*f32[:2], p), rtol=5e-2, atol=5e-2)
    for got, want in zip((dx, dw), vjp32(f32[2]), strict=True):
        scale = float(jnp.abs(want).max())
        _close(got, want, rtol=5e-2, atol=3e-2 * scale)



@pytest.mark.parametrize("case", CONV_CASES + [(2, 12, 12, 1, 8, 5, 2), (2, 9, 9, 2, 16, 3, 1)])
def test_shift_add_conv_equals_the_convolution(case):
    # The CPU form of small-channel convs (forward and input gradient): the same function as the conv.
    x, w, _, p = _conv_inputs(case)
    _close(jax.jit(layers_mod._conv_shift_add, static_argnums=2)(x, w, p), ref_conv(x, w, p), rtol=1e-5, atol=1e-5)


def test_shift_add_conv_accumulates_half_precision_in_float32():
    x, w, _, p = _conv_inputs((2, 10, 10, 2, 8, 5, 2))
    with jax.enable_x64(True):
        x64, w64 = (jnp.asarray(np.asarray(a), jnp.float64) for a in (x, w))
        got64 = layers_mod._conv_shift_add(x64, w64, p)
        assert got64.dtype == jnp.float64
        np.testing.assert_allclose(got64, ref_conv(x64, w64, p), rtol=1e-12, atol=1e-12)
    xb, wb = x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
    got = layers_mod._conv_shift_add(xb, wb, p)
    assert got.dtype == jnp.bfloat16
    # Rounded once from a float32 sum: within bfloat16's half-ulp of the float32 result of the same inputs.
    want = ref_conv(xb.astype(jnp.float32), wb.astype(jnp.float32), p)
    _close(got, want, rtol=2 ** -8, atol=1e-6)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the shift-add form is the CPU branch")
@pytest.mark.parametrize(("cin", "cout", "shift_add"), [(1, 8, True), (4, 16, True), (8, 4, False), (3, 32, False)])
def test_cpu_conv_takes_the_shift_add_form_for_few_channels(cin, cout, shift_add):
    # Performance contract (issue 17): on CPU, layers with <= 4 input and <= 16 output channels compile to
    # no convolution in the forward pass; wider layers keep XLA's convolution.
    x = jnp.zeros((2, 12, 12, cin))
    w = jnp.zeros((5, 5, cin, cout))
    hlo = jax.jit(lambda a, b: conv2d(a, b, 2)).lower(x, w).compile().as_text()
    assert ("convolution(" not in hlo) == shift_add

# Layer shapes of the LeNet backbones (H, W, Cin, Cout, padding), at a small batch.
LENET_LAYERS = [
    (28, 28, 1, 8, 2),  # MNIST conv1
    (14, 14, 8, 4, 2),  # MNIST conv2
    (8, 8, 2, 4, 2),  # MNIST deconv1
    (16, 16, 4, 8, 1),  # MNIST deconv2 (p = 3 transposed conv)
    (28, 28, 8, 1, 2),  # MNIST deconv3
    (32, 32, 3, 32, 2),  # CIFAR-10 conv1
    (8, 8, 64, 16, 2),  # CIFAR-10 conv3, fewer output channels
    (9, 13, 3, 2, 2),  # non-square, odd
]


@pytest.mark.parametrize("layer", LENET_LAYERS)
def test_fft_weight_grad_equals_conv_weight_grad(layer):
    h, w, ci, co, p = layer
    rng = np.random.default_rng(h * w + ci + co)
    x = _normal(rng, (3, h, w, ci))
    g = _normal(rng, (3, h + 2 * p - 4, w + 2 * p - 4, co))
    xp = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    got = jax.jit(layers_mod._weight_grad_fft)(xp, g)
    want = jax.jit(layers_mod._weight_grad_conv)(xp, g)
    assert got.shape == want.shape == (5, 5, ci, co)
    scale = float(jnp.abs(want).max())
    _close(got, want, rtol=1e-4, atol=1e-5 * scale)


def test_fft_weight_grad_keeps_float64():
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        xp = jnp.asarray(rng.normal(size=(2, 14, 14, 2)))
        g = jnp.asarray(rng.normal(size=(2, 10, 10, 3)))
        got = layers_mod._weight_grad_fft(xp, g)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, layers_mod._weight_grad_conv(xp, g), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("h", "k", "co"), [(28, 5, 8), (28, 3, 16), (9, 3, 1), (6, 5, 3)])
def test_tap_weight_grad_equals_conv_weight_grad(h, k, co):
    # One input channel: the (k², B·Ho·Wo) tap matrix times the cotangent is the kernel gradient.
    rng = np.random.default_rng(h + k + co)
    p = (k - 1) // 2
    xp = jnp.pad(_normal(rng, (3, h, h + 1, 1)), ((0, 0), (p, p), (p, p), (0, 0)))
    g = _normal(rng, (3, h, h + 1, co))
    got = jax.jit(layers_mod._weight_grad_taps)(xp, g)
    want = jax.jit(layers_mod._weight_grad_conv)(xp, g)
    assert got.shape == want.shape == (k, k, 1, co)
    _close(got, want, rtol=1e-4, atol=1e-5 * float(jnp.abs(want).max()))


def test_tap_weight_grad_dtypes_and_shape_check():
    with jax.enable_x64(True):
        rng = np.random.default_rng(4)
        xp, g = jnp.asarray(rng.normal(size=(2, 12, 12, 1))), jnp.asarray(rng.normal(size=(2, 8, 8, 3)))
        got = layers_mod._weight_grad_taps(xp, g)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, layers_mod._weight_grad_conv(xp, g), rtol=1e-10, atol=1e-10)
    xb, gb = xp.astype(jnp.bfloat16), g.astype(jnp.bfloat16)
    got = layers_mod._weight_grad_taps(xb, gb)
    assert got.dtype == jnp.bfloat16
    # Accumulated in float32 and rounded once: within bfloat16's rounding of the float32 result.
    want = layers_mod._weight_grad_conv(xb.astype(jnp.float32), gb.astype(jnp.float32))
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want), rtol=2**-8, atol=1e-6)
    with pytest.raises(ValueError, match="one input channel"):
        layers_mod._weight_grad_taps(jnp.zeros((1, 6, 6, 2)), jnp.zeros((1, 4, 4, 3)))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the tap-matrix weight gradient is the CPU branch")
@pytest.mark.parametrize(("cin", "uses_taps"), [(1, True), (2, False)])
def test_cpu_weight_grad_takes_the_tap_product_for_one_input_channel(cin, uses_taps):
    x = jnp.zeros((2, 28, 28, cin))
    w = jnp.zeros((5, 5, cin, 8))
    hlo = jax.jit(jax.grad(lambda w: jnp.sum(conv2d(x, w, 2)))).lower(w).compile().as_text()
    assert ("fft" not in hlo) == uses_taps  # two channels keep the FFT form
    assert "convolution(" not in hlo  # neither runs XLA's weight-gradient convolution


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the FFT weight gradient is the CPU branch")
@pytest.mark.parametrize(("h", "uses_fft"), [(28, True), (6, False)])  # padded 32x32 vs 10x10
def test_cpu_weight_grad_takes_the_fft_branch_for_large_layers(h, uses_fft):
    # The fast path is a performance contract (issue 7): check it is the one compiled, not only correct.
    x = jnp.zeros((2, h, h, 4))
    w = jnp.zeros((5, 5, 4, 4))
    hlo = jax.jit(jax.grad(lambda w: jnp.sum(conv2d(x, w, 2)))).lower(w).compile().as_text()
    assert (" fft(" in hlo or "fft." in hlo) == uses_fft


def test_conv2d_rejects_bad_padding():
    x, w, _, _ = _conv_inputs((1, 5, 5, 1, 1, 3, 0))
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, w, -1)


@pytest.mark.parametrize("p_torch", [2, 3])
def test_deconv_as_conv_matches_pytorch_transposed_conv(p_torch):
    """Stride-1 ConvTranspose2d(padding p) == conv with the flipped kernel and padding k-1-p."""
    rng = np.random.default_rng(p_torch)
    k, ci, co, h = 5, 2, 3, 8
    x = rng.normal(size=(1, h, h, ci)).astype(np.float32)
    wt = rng.normal(size=(k, k, ci, co)).astype(np.float32)  # transposed-conv weight, (k, k, in, out)
    full = np.zeros((1, h + k - 1, h + k - 1, co), np.float32)  # scatter definition of conv-transpose
    for i in range(h):
        for j in range(h):
            full[0, i : i + k, j : j + k] += np.einsum("c,abco->abo", x[0, i, j], wt)
    want = full[:, p_torch : full.shape[1] - p_torch, p_torch : full.shape[2] - p_torch]
    got = conv2d(jnp.asarray(x), jnp.asarray(wt[::-1, ::-1]), k - 1 - p_torch)
    assert got.shape == (1, h + k - 1 - 2 * p_torch, h + k - 1 - 2 * p_torch, co)
    _close(got, want, rtol=1e-4, atol=1e-4)


# -------------------------------------------------------------------------- pooling / upsampling


def _np_pool(x: np.ndarray) -> np.ndarray:
    *lead, h, w, c = x.shape
    out = np.full((*lead, h // 2, w // 2, c), -np.inf, x.dtype)
    for i in range(h // 2):
        for j in range(w // 2):
            out[..., i, j, :] = x[..., 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :].max(axis=(-3, -2))
    return out


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (2, 7, 7, 1), (1, 7, 6, 2), (3, 2, 5, 4, 2)])
def test_max_pool_2x2_matches_numpy(shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    y = max_pool_2x2(jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(y), _np_pool(x))
    if len(shape) == 4:
        np.testing.assert_array_equal(np.asarray(y), np.asarray(nn.max_pool(x, (2, 2), (2, 2), "VALID")))
        g_ref = jax.grad(lambda a: jnp.sum(jnp.cos(nn.max_pool(a, (2, 2), (2, 2), "VALID"))))(x)
        g = jax.grad(lambda a: jnp.sum(jnp.cos(max_pool_2x2(a))))(x)
        _close(g, g_ref)


def test_computed_once_is_exact_and_materialises_the_pool_cotangent_on_cpu():
    rng = np.random.default_rng(11)
    g = jnp.asarray(rng.normal(size=(2, 3, 4, 5)).astype(np.float32) * 1e30)  # big values stay exact
    np.testing.assert_array_equal(np.asarray(layers_mod._computed_once(g)), np.asarray(g))
    gb = g.astype(jnp.bfloat16) / jnp.bfloat16(1e30)
    np.testing.assert_array_equal(np.asarray(layers_mod._computed_once(gb), np.float32), np.asarray(gb, np.float32))
    np.testing.assert_array_equal(np.asarray(jax.vmap(layers_mod._computed_once)(g)), np.asarray(g))
    if jax.default_backend() != "cpu":
        return
    # conv2's input gradient (a sum of shifted products on CPU) feeds the first pool's backward: it must be
    # computed once into a buffer (the identity product), not fused into the 4x larger pool-backward loop.
    x, w = jnp.zeros((2, 28, 28, 8)), jnp.zeros((5, 5, 8, 4))
    hlo = jax.jit(jax.grad(lambda x: jnp.sum(conv2d(max_pool_2x2(x), w, 2) ** 2))).lower(x).compile().as_text()
    assert "f32[392,8]{1,0} dot(" in hlo  # the (2·14·14, 8) cotangent times the 8x8 identity


def _np_pool_grad_first_max(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Oracle: each window's cotangent to its first maximal element in row-major order (PyTorch's rule)."""
    dx = np.zeros_like(x)
    *lead, h, w, c = x.shape
    for idx in np.ndindex(*lead):
        for i in range(h // 2):
            for j in range(w // 2):
                for ch in range(c):
                    win = x[idx][2 * i : 2 * i + 2, 2 * j : 2 * j + 2, ch].reshape(-1)
                    k = int(np.argmax(win))  # first occurrence of the maximum
                    dx[idx][2 * i + k // 2, 2 * j + k % 2, ch] = g[idx][i, j, ch]
    return dx


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (2, 7, 7, 1), (1, 7, 6, 2), (3, 2, 5, 4, 2)])
def test_max_pool_gradient_goes_to_the_first_maximum_on_ties(shape):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=shape).astype(np.float32)  # many exact ties inside windows
    g = rng.normal(size=_np_pool(x).shape).astype(np.float32)
    _, vjp = jax.vjp(max_pool_2x2, jnp.asarray(x))
    (dx,) = vjp(jnp.asarray(g))
    np.testing.assert_array_equal(np.asarray(dx), _np_pool_grad_first_max(x, g))


def test_max_pool_gradient_under_vmap_and_jit():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 2, size=(3, 2, 6, 6, 2)).astype(np.float32)
    g = rng.normal(size=(3, 2, 3, 3, 2)).astype(np.float32)
    dx = jax.jit(jax.vmap(lambda a, b: jax.vjp(max_pool_2x2, a)[1](b)[0]))(x, g)
    np.testing.assert_array_equal(np.asarray(dx), _np_pool_grad_first_max(x, g))


def test_max_pool_odd_7_to_3():
    assert max_pool_2x2(jnp.zeros((1, 7, 7, 4))).shape == (1, 3, 3, 4)


@pytest.mark.parametrize("shape", [(2, 3, 3, 2), (1, 4, 7, 1), (2, 2, 1, 1, 3)])
def test_upsample_nearest_2x_matches_numpy(shape):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    want = np.repeat(np.repeat(x, 2, axis=-3), 2, axis=-2)
    np.testing.assert_array_equal(np.asarray(upsample_nearest_2x(jnp.asarray(x))), want)


# (H, W, Cin, Cout, padding) of the decoders' upsample-then-conv layers, plus shapes that take the
# fallback (odd output sides, unequal phase padding) and non-square maps.
UPSAMPLE_CONV_LAYERS = [
    (4, 4, 2, 4, 2),  # MNIST deconv1: 8x8 after upsampling
    (8, 8, 4, 8, 1),  # MNIST deconv2: 16 -> 14
    (14, 14, 8, 1, 2),  # MNIST deconv3: 28x28, one output channel
    (8, 8, 16, 8, 2),  # CIFAR-10 deconv3, fewer channels
    (5, 6, 3, 2, 2),  # non-square
    (7, 6, 2, 3, 0),  # padding 0: 14 -> 10, 12 -> 8
    (6, 6, 2, 2, 3),  # padding 3: 12 -> 14
    (4, 4, 1, 1, 1),  # odd output side (7): fallback to the two-step form
]


@pytest.mark.parametrize("layer", UPSAMPLE_CONV_LAYERS)
def test_upsample_conv2d_equals_upsample_then_conv(layer):
    h, w, ci, co, p = layer
    with jax.enable_x64(True):
        rng = np.random.default_rng(h * w + ci * co + p)
        x = jnp.asarray(rng.normal(size=(3, h, w, ci)))
        k = jnp.asarray(rng.normal(size=(5, 5, ci, co)))
        fused = lambda a, b: upsample_conv2d(a, b, p)  # noqa: E731
        two_step = lambda a, b: conv2d(upsample_nearest_2x(a), b, p)  # noqa: E731
        y = fused(x, k)
        assert y.dtype == jnp.float64
        np.testing.assert_allclose(y, two_step(x, k), rtol=1e-12, atol=1e-12)
        g = jnp.asarray(rng.normal(size=y.shape))
        got = jax.vjp(fused, x, k)[1](g)
        want = jax.vjp(two_step, x, k)[1](g)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_upsample_conv2d_never_builds_the_upsampled_map():
    # The speed contract (issue 7): forward and backward run on the small map only.
    x, k = jnp.zeros((2, 14, 14, 8)), jnp.zeros((5, 5, 8, 1))
    loss = lambda a, b: jnp.sum(upsample_conv2d(a, b, 2) ** 2)  # noqa: E731
    text = str(jax.make_jaxpr(jax.grad(loss, (0, 1)))(x, k))
    assert "28,28,8]" not in text and "32,32,8]" not in text
    assert "f32[2,14,14,4]" in text  # the four phases as one conv's output channels


def test_subpixel_taps_assign_every_tap_once_per_phase():
    for k, p in [(5, 2), (5, 1), (3, 1), (5, 0), (4, 2)]:
        taps, lo = layers_mod._subpixel_taps(k, p)
        assert taps.shape[0] == 2 and taps.shape[2] == k
        np.testing.assert_array_equal(taps.sum(axis=1), np.ones((2, k)))  # each tap read exactly once
        for a in (0, 1):  # tap i of phase a reads source offset (a + i - p) // 2
            for i in range(k):
                assert taps[a, (a + i - p) // 2 + lo, i] == 1


def test_upsample_conv2d_under_vmap_over_models():
    rng = np.random.default_rng(11)
    x = _normal(rng, (3, 2, 7, 7, 4))
    k = _normal(rng, (3, 5, 5, 4, 8))
    got = jax.jit(jax.vmap(lambda a, b: upsample_conv2d(a, b, 1)))(x, k)
    for m in range(3):
        _close(got[m], conv2d(upsample_nearest_2x(x[m]), k[m], 1), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------ backbones


def _init(module, shape, seed=0):
    x = jnp.asarray(np.random.default_rng(seed).uniform(size=(B, *shape)).astype(np.float32))
    return jax.jit(partial(module.init, train=False))(jax.random.key(seed), x), x


def _intermediate_shapes(module, variables, x) -> dict[str, tuple[int, ...]]:
    """Shapes of sown intermediates and of every submodule's output, keyed by name (no compute)."""
    apply = partial(module.apply, train=False, capture_intermediates=True, mutable=["intermediates"])
    _, state = jax.eval_shape(apply, variables, x)
    flat = jax.tree_util.tree_flatten_with_path(state["intermediates"])[0]
    out = {}
    for path, leaf in flat:
        names = [p.key for p in path if isinstance(p, jax.tree_util.DictKey)]
        out["/".join(n for n in names if n != "__call__")] = tuple(leaf.shape)
    return out


NETS = {
    "mnist_enc": (MnistLeNetEncoder(), (28, 28, 1), (32,)),
    "mnist_dec": (MnistLeNetDecoder(), (32,), (28, 28, 1)),
    "cifar_enc": (CifarLeNetEncoder(), (32, 32, 3), (128,)),
    "cifar_dec": (CifarLeNetDecoder(), (128,), (32, 32, 3)),
    "mlp_enc": (MLPEncoder(), (8, 8), (32,)),
    "mlp_dec": (MLPDecoder(input_shape=(8, 8)), (32,), (8, 8)),
}

EXPECTED_INTERMEDIATES = {
    "mnist_enc": {"pool1": (B, 14, 14, 8), "pool2": (B, 7, 7, 4), "flat": (B, 196), "code": (B, 32)},
    "mnist_dec": {
        "up1": (B, 8, 8, 2),
        "deconv1": (B, 8, 8, 4),
        "up2": (B, 16, 16, 4),
        "deconv2": (B, 14, 14, 8),  # PyTorch padding 3: 16 -> 14
        "up3": (B, 28, 28, 8),
        "deconv3": (B, 28, 28, 1),
    },
    "cifar_enc": {
        "pool1": (B, 16, 16, 32),
        "pool2": (B, 8, 8, 64),
        "pool3": (B, 4, 4, 128),
        "flat": (B, 2048),
        "code": (B, 128),
    },
    "cifar_dec": {
        "bn_code": (B, 128),
        "deconv1": (B, 4, 4, 128),
        "up1": (B, 8, 8, 128),
        "deconv2": (B, 8, 8, 64),
        "up2": (B, 16, 16, 64),
        "deconv3": (B, 16, 16, 32),
        "up3": (B, 32, 32, 32),
        "deconv4": (B, 32, 32, 3),
    },
    "mlp_enc": {"dense0": (B, 64), "code": (B, 32)},
    "mlp_dec": {"dense0": (B, 64), "out": (B, 64)},
}


@pytest.mark.parametrize("net", list(NETS))
def test_backbone_shapes_and_intermediates(net):
    module, in_shape, out_shape = NETS[net]
    variables, x = _init(module, in_shape)
    y = jax.jit(partial(module.apply, train=False))(variables, x)
    assert y.shape == (B, *out_shape)
    shapes = _intermediate_shapes(module, variables, x)
    for name, shape in EXPECTED_INTERMEDIATES[net].items():
        assert shapes[name] == shape, (name, shapes)
    if net.endswith("dec") and not net.startswith("mlp"):
        assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0  # sigmoid output


@pytest.mark.parametrize("net", list(NETS))
def test_no_bias_and_bn_without_affine(net):
    module, in_shape, _ = NETS[net]
    x = jnp.zeros((B, *in_shape))
    variables = jax.eval_shape(partial(module.init, train=False), jax.random.key(0), x)
    assert set(variables) == {"params", "batch_stats"}
    for path, _ in jax.tree_util.tree_flatten_with_path(variables["params"])[0]:
        assert path[-1].key == "kernel", path  # no bias, no BN scale/bias anywhere
    for path, _ in jax.tree_util.tree_flatten_with_path(variables["batch_stats"])[0]:
        assert path[-1].key in ("mean", "var"), path
    # a training call mutates only batch_stats
    _, upd = jax.eval_shape(partial(module.apply, train=True, mutable=["batch_stats"]), variables, x)
    assert set(upd) == {"batch_stats"}


def test_batch_norm_momentum_and_epsilon():
    x = _normal(np.random.default_rng(3), (16, 5), scale=3.0) + 1.0
    bn_train, bn_eval = batch_norm(train=True), batch_norm(train=False)
    v = bn_eval.init(jax.random.key(0), x)
    assert jax.tree.map(jnp.shape, v) == {"batch_stats": {"mean": (5,), "var": (5,)}}
    y, upd = bn_train.apply(v, x, mutable=["batch_stats"])
    mu, var = x.mean(0, keepdims=True), x.var(0, keepdims=True)  # Flax: biased batch variance
    _close(upd["batch_stats"]["mean"], 0.9 * 0.0 + 0.1 * mu[0])
    _close(upd["batch_stats"]["var"], 0.9 * 1.0 + 0.1 * var[0])
    _close(y, (x - mu) / jnp.sqrt(var + 1e-4), rtol=1e-4, atol=1e-4)
    stats = {"batch_stats": {"mean": jnp.full(5, 0.5), "var": jnp.full(5, 1e-4)}}
    _close(bn_eval.apply(stats, x), (x - 0.5) / jnp.sqrt(2e-4), rtol=1e-4, atol=1e-3)


def test_encoder_bn_running_mean_update():
    enc = MLPEncoder(hidden=(6,), rep_dim=2)
    variables, x = _init(enc, (4,))
    _, upd = enc.apply(variables, x, train=True, mutable=["batch_stats"])
    h = x @ variables["params"]["dense0"]["kernel"]
    _close(upd["batch_stats"]["bn0"]["mean"], 0.1 * h.mean(0))
    _close(upd["batch_stats"]["bn0"]["var"], 0.9 + 0.1 * h.var(0))


def _check_uniform(w: jax.Array, bound: float) -> None:
    w = np.asarray(w).ravel()
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() >= 0.9 * bound
    np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.15)
    assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size)


def test_init_distributions():
    gain_sq = 2.0 / (1 + 0.01**2)
    mnist_dec, _ = _init(MnistLeNetDecoder(), (32,), seed=1)
    k = mnist_dec["params"]["deconv2"]["kernel"]  # (5, 5, 4, 8): PyTorch transposed fan_in = 5*5*8
    assert k.shape == (5, 5, 4, 8)
    _check_uniform(k, 1 / math.sqrt(25 * 8))
    mnist_enc, _ = _init(MnistLeNetEncoder(), (28, 28, 1), seed=2)
    _check_uniform(mnist_enc["params"]["conv2"]["kernel"], 1 / math.sqrt(25 * 8))  # conv fan_in
    _check_uniform(mnist_enc["params"]["code"]["kernel"], 1 / math.sqrt(196))  # dense fan_in
    cifar_dec, _ = _init(CifarLeNetDecoder(), (128,), seed=3)
    fan_in, fan_out = 25 * 128, 25 * 64  # deconv2 (5, 5, 128, 64); xavier is symmetric in in/out
    _check_uniform(cifar_dec["params"]["deconv2"]["kernel"], math.sqrt(6 * gain_sq / (fan_in + fan_out)))
    mlp, _ = _init(MLPEncoder(), (64,), seed=4)
    _check_uniform(mlp["params"]["dense0"]["kernel"], 1 / 8)


def test_mlp_variants():
    enc = MLPEncoder(hidden=(16, 8), rep_dim=4)
    dec = MLPDecoder(hidden=(16, 8), input_shape=(3, 5), output="linear")
    variables, x = _init(AutoEncoder(enc, dec), (3, 5))
    y = AutoEncoder(enc, dec).apply(variables, x * 100, train=False)
    assert y.shape == (B, 3, 5)
    assert float(jnp.abs(y).max()) > 1.0  # identity output is not squashed
    shapes = jax.tree.map(jnp.shape, variables["params"])
    enc_shapes = {"dense0": (15, 16), "dense1": (16, 8), "code": (8, 4)}
    dec_shapes = {"dense0": (4, 8), "dense1": (8, 16), "out": (16, 15)}
    assert shapes["encoder"] == {k: {"kernel": v} for k, v in enc_shapes.items()}
    assert shapes["decoder"] == {k: {"kernel": v} for k, v in dec_shapes.items()}
    with pytest.raises(ValueError, match="output"):
        MLPDecoder(input_shape=(3,), output="tanh").init(jax.random.key(0), jnp.zeros((2, 4)), train=False)
    with pytest.raises(ValueError, match="input_shape"):
        MLPDecoder().init(jax.random.key(0), jnp.zeros((2, 4)), train=False)


# ---------------------------------------------------------------------------- AutoEncoder


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (10,)])
def test_autoencoder_tree_and_encoder_transfer(shape):
    bb = make_backbone("auto", shape)
    ae = AutoEncoder(encoder=bb.encoder, decoder=bb.decoder)
    variables, x = _init(ae, shape)
    assert set(variables) == {"params", "batch_stats"}
    assert set(variables["params"]) == {"encoder", "decoder"}
    assert set(variables["batch_stats"]) == {"encoder", "decoder"}
    enc_apply = partial(bb.encoder.apply, mutable=["batch_stats"])
    ae_encode = partial(ae.apply, method=AutoEncoder.encode, mutable=["batch_stats"])

    @jax.jit
    def run(variables, x):
        # one training step first, so the running statistics are non-trivial
        recon, upd = ae.apply(variables, x, train=True, mutable=["batch_stats"])
        variables = {"params": variables["params"], "batch_stats": upd["batch_stats"]}
        enc_vars = {"params": variables["params"]["encoder"], "batch_stats": variables["batch_stats"]["encoder"]}
        pairs = [(enc_apply(enc_vars, x, train=t)[0], ae_encode(variables, x, train=t)[0]) for t in (False, True)]
        _, inter = ae.apply(variables, x, train=False, capture_intermediates=True, mutable=["intermediates"])
        pairs.append((enc_apply(enc_vars, x, train=False)[0], inter["intermediates"]["encoder"]["__call__"][0]))
        return recon, pairs

    recon, pairs = run(variables, x)
    assert recon.shape == x.shape
    for z_enc, z_ae in pairs:  # eval, train, and the code the decoder actually receives
        assert z_enc.shape == (B, bb.rep_dim)
        _close(z_enc, z_ae, rtol=0, atol=0)


# ----------------------------------------------------------------------------- make_backbone


@pytest.mark.parametrize(
    ("shape", "name", "rep_dim", "enc", "dec"),
    [
        ((28, 28, 1), "mnist_lenet", 32, MnistLeNetEncoder, MnistLeNetDecoder),
        ((32, 32, 3), "cifar_lenet", 128, CifarLeNetEncoder, CifarLeNetDecoder),
        ((64,), "mlp", 32, MLPEncoder, MLPDecoder),
        ((8, 8), "mlp", 32, MLPEncoder, MLPDecoder),
        ((28, 28, 3), "mlp", 32, MLPEncoder, MLPDecoder),
    ],
)
def test_make_backbone_auto(shape, name, rep_dim, enc, dec):
    bb = make_backbone("auto", shape)
    assert isinstance(bb, Backbone)
    assert (bb.name, bb.input_shape, bb.rep_dim) == (name, shape, rep_dim)
    assert isinstance(bb.encoder, enc) and isinstance(bb.decoder, dec)
    assert make_backbone(input_shape=shape) == bb


def test_make_backbone_explicit_options():
    bb = make_backbone("mlp", (28, 28, 1), rep_dim=8, hidden=(32, 16), output="linear")
    assert bb.name == "mlp" and bb.rep_dim == 8
    assert bb.encoder == MLPEncoder(hidden=(32, 16), rep_dim=8)
    assert bb.decoder == MLPDecoder(hidden=(32, 16), input_shape=(28, 28, 1), output="linear")
    bb = make_backbone("cifar_lenet", [32, 32, 3], rep_dim=64)
    assert bb.input_shape == (32, 32, 3) and bb.encoder.rep_dim == bb.decoder.rep_dim == 64
    assert make_backbone("mlp", (np.int64(5),)).input_shape == (5,)
    bb = make_backbone("auto", (28, 28, 1), output="linear")  # standardised images
    assert bb.decoder == MnistLeNetDecoder(rep_dim=32, output="linear")
    variables, x = _init(bb.decoder, (32,))
    y = jax.jit(partial(bb.decoder.apply, train=False))(variables, 50 * x)
    assert y.shape == (B, 28, 28, 1) and (float(y.min()) < 0 or float(y.max()) > 1)  # not squashed
    with pytest.raises(ValueError, match="output"):
        CifarLeNetDecoder(output="tanh").init(jax.random.key(0), jnp.zeros((2, 128)), train=False)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "resnet", "input_shape": (4,)}, ["name", "'resnet'", "mnist_lenet"]),
        ({"name": "mnist_lenet", "input_shape": (32, 32, 3)}, ["input_shape", "(28, 28, 1)", "(32, 32, 3)"]),
        ({"name": "cifar_lenet", "input_shape": (28, 28, 1)}, ["input_shape", "(32, 32, 3)", "(28, 28, 1)"]),
        ({"input_shape": None}, ["input_shape", "None"]),
        ({"input_shape": (0, 3)}, ["input_shape", "(0, 3)", "positive"]),
        ({"input_shape": ()}, ["input_shape", "()"]),
        ({"input_shape": (4,), "rep_dim": 0}, ["rep_dim", "0", "positive"]),
        ({"input_shape": (4,), "rep_dim": 2.5}, ["rep_dim", "2.5"]),
        ({"input_shape": (4,), "hidden": (8, -1)}, ["hidden", "(8, -1)", "positive"]),
        ({"input_shape": (4,), "output": "tanh"}, ["output", "'tanh'", "sigmoid"]),
        ({"input_shape": (28, 28, 1), "rep_dim": 20}, ["rep_dim", "20", "16"]),
        ({"input_shape": (28, 28, 1), "hidden": (8,)}, ["hidden", "mlp"]),
        ({"input_shape": (32, 32, 3), "output": "relu"}, ["output", "'relu'", "sigmoid", "linear"]),
    ],
)
def test_make_backbone_errors(kwargs, words):
    with pytest.raises(ValueError) as info:
        make_backbone(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_backbone_autoencoder_helper():
    bb = make_backbone("auto", (6,))
    assert bb.autoencoder() == AutoEncoder(encoder=bb.encoder, decoder=bb.decoder)
    with pytest.raises(ValueError, match="decoder"):
        bb._replace(decoder=None).autoencoder()
