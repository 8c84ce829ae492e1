"""The Keras oc-nn repository's networks in Flax, layer for layer (``keras_compat`` only; docs/algorithms.md §9).

Not the project's backbones (those are Ruff's bias-free LeNets, :mod:`ocnn_jax.nn.lenet`). These
reproduce the repository's Keras models with Keras's defaults, so that Keras weights can be copied
in one to one (:func:`keras_layer_order` lists the weighted layers in Keras order):

* 3x3 or 5x5 convs, glorot-uniform kernels, zero biases (when a layer has one);
* BatchNorm with learnable scale and offset, momentum 0.99, epsilon 1e-3 (Keras's);
* ``MaxPooling2D(padding='same')`` rounds sizes up (7 -> 4); nearest-neighbour x2 upsampling;
* images NHWC, flattening in NHWC order (as Keras's ``Flatten`` on channels-last data).

A network is a tuple of layer specs run in order by :class:`KerasStack`:
``("conv", filters, k, padding, bias)``, ``("dense", units, bias)``, ``("bn",)``, ``("lrelu", slope)``,
``("relu",)``, ``("sigmoid",)``, ``("pool", padding)`` (2x2 stride 2), ``("up",)``, ``("flatten",)``,
``("reshape", (H, W, C))``.

Specs (MNIST 28x28x1, CIFAR-10 32x32x3):

* ``CAE_ENCODER[ds]`` / ``CAE_DECODER[ds]``: the conv AE that OC-NN and Deep SVDD pretrain
  (MNIST code 2x2x8 = 32 values, CIFAR-10 2x2x32 = 128). The repository initialises MNIST's first
  conv from a dictionary learned on image patches; we use glorot-uniform (a documented difference).
* ``OCNN_HEAD``: Flatten + Dense(32, linear, no bias) on the encoder (the repository's "OC-NN").
* ``SVDD_HEAD[ds]``: Flatten + Dense(h, linear, **with** bias), h = 32 (MNIST) or 128 (CIFAR-10).
* ``RCAE_AE[ds]``: the RCAE/DCAE autoencoder (convs and dense layers with biases, ReLU *before* BN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from .layers import conv2d, max_pool_2x2, upsample_conv2d, upsample_nearest_2x

__all__ = [
    "KerasConv",
    "keras_max_pool",
    "KerasStack",
    "KerasAE",
    "KerasHeadNet",
    "CAE_ENCODER",
    "CAE_DECODER",
    "OCNN_HEAD",
    "SVDD_HEAD",
    "RCAE_AE",
    "keras_layer_order",
    "variables_from_keras_weights",
    "KERAS_BN_MOMENTUM",
    "KERAS_BN_EPSILON",
]

KERAS_BN_MOMENTUM = 0.99
KERAS_BN_EPSILON = 1e-3

Spec = tuple[tuple[Any, ...], ...]


def _enc(filters: Sequence[int]) -> Spec:
    out: list[tuple[Any, ...]] = []
    for f in filters:
        out += [("conv", f, 3, "same", False), ("bn",), ("lrelu", 0.1), ("pool", "same")]
    return tuple(out)


def _dec(filters: Sequence[int], valid_last: bool) -> Spec:
    out: list[tuple[Any, ...]] = []
    for i, f in enumerate(filters):
        pad = "valid" if valid_last and i == len(filters) - 1 else "same"
        out += [("conv", f, 3, pad, False), ("bn",), ("lrelu", 0.1), ("up",)]
    return tuple(out)


CAE_ENCODER: dict[str, Spec] = {"mnist": _enc([16, 8, 8, 8]), "cifar10": _enc([128, 64, 32, 32])}
CAE_DECODER: dict[str, Spec] = {
    # the 4th MNIST decoder conv is 'valid' (16 -> 14, then x2 = 28)
    "mnist": _dec([4, 8, 8, 16], valid_last=True) + (("conv", 1, 3, "same", False), ("sigmoid",)),
    "cifar10": _dec([32, 32, 64, 128], valid_last=False) + (("conv", 3, 3, "same", False), ("bn",), ("sigmoid",)),
}
OCNN_HEAD: Spec = (("flatten",), ("dense", 32, False))
SVDD_HEAD: dict[str, Spec] = {"mnist": (("flatten",), ("dense", 32, True)),
                              "cifar10": (("flatten",), ("dense", 128, True))}


def _rcae(convs: Sequence[int], k: int, dense: Sequence[int], grid: tuple[int, int, int], out_ch: int) -> Spec:
    out: list[tuple[Any, ...]] = []
    for f in convs:
        out += [("conv", f, k, "same", True), ("relu",), ("bn",), ("pool", "valid")]
    out.append(("flatten",))
    for u in dense:
        out += [("dense", u, True), ("relu",), ("bn",)]
    out.append(("reshape", grid))
    for f in reversed(convs):
        out += [("conv", f, k, "same", True), ("relu",), ("bn",), ("up",)]
    return tuple(out) + (("conv", out_ch, k, "same", True), ("sigmoid",))


RCAE_AE: dict[str, Spec] = {
    "mnist": _rcae([20, 50], 5, [2450, 32, 2450], (7, 7, 50), 1),
    "cifar10": _rcae([64, 32, 16], 3, [256, 128, 256], (4, 4, 16), 3),
}


def keras_layer_order(spec: Spec) -> list[tuple[str, str]]:
    """(Flax submodule name, kind) of every weighted layer of ``spec`` in Keras order ("conv",
    "dense" or "bn"); Keras's ``[l for l in model.layers if l.weights]`` lists the same layers in
    the same order."""
    return [(f"l{i}", s[0]) for i, s in enumerate(spec) if s[0] in ("conv", "dense", "bn")]


def keras_max_pool(x: jax.Array, padding: str) -> jax.Array:
    """Keras ``MaxPooling2D(2)`` (stride 2) on NHWC ``x``: "valid" drops an odd last row/column, "same"
    pads it with −∞ at the end (TensorFlow's placement: 7 -> 4). Even maps use
    :func:`ocnn_jax.nn.layers.max_pool_2x2`, whose hand-written gradient (to each window's first
    maximum, as TensorFlow) avoids XLA:CPU's slow generic max-pool gradient."""
    if padding not in ("same", "valid"):
        raise ValueError(f"keras_max_pool: padding must be 'same' or 'valid', got {padding!r}")
    h, w = x.shape[1], x.shape[2]
    if padding == "same" and (h % 2 or w % 2):
        # Small odd maps (7 -> 4) keep XLA's own pooling: padding them with −∞ for max_pool_2x2 lost the
        # gradient of some windows under jit after a BatchNorm (eager was right).
        return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")
    return max_pool_2x2(x)


class KerasConv(nn.Module):
    """Keras ``Conv2D`` with stride 1 and an odd square kernel: glorot-uniform kernel, zero bias when
    ``use_bias``, "same" or "valid" padding. Parameters as ``flax.linen.Conv`` ("kernel" (k, k, C_in,
    C_out), "bias" (C_out,)), drawn from the same keys; computed by :func:`ocnn_jax.nn.layers.conv2d`,
    whose hand-written kernel gradient keeps XLA:CPU off its slow generic path for that convolution.

    ``upsample``: the input is first nearest-upsampled x2 (Keras ``UpSampling2D`` before this layer),
    computed by :func:`ocnn_jax.nn.layers.upsample_conv2d` on the small map (the same function, without
    building the upsampled map; same parameter)."""

    features: int
    kernel_size: int
    padding: str
    use_bias: bool
    upsample: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        if k % 2 != 1 or self.padding not in ("same", "valid"):
            raise ValueError(f"KerasConv: expected an odd kernel_size and padding 'same' or 'valid', got "
                             f"kernel_size={k}, padding={self.padding!r}")
        kernel = self.param("kernel", nn.initializers.glorot_uniform(), (k, k, x.shape[-1], self.features))
        pad = (k - 1) // 2 if self.padding == "same" else 0
        y = upsample_conv2d(x, kernel, pad) if self.upsample else conv2d(x, kernel, pad)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros_init(), (self.features,))[None, None, None, :]
        return y


class KerasStack(nn.Module):
    """Layers of ``spec`` in order (see the module docstring). Call with ``(x, train)``; BatchNorm uses
    batch statistics and updates ``batch_stats`` when ``train`` is true.

    ``fuse_upsample`` (default true): an ``("up",)`` directly followed by a conv runs as one
    :func:`ocnn_jax.nn.layers.upsample_conv2d` (the conv on the small map; the same function and
    parameters, about 2x faster for the decoders on CPU). False keeps the two steps (tests compare them)."""

    spec: Spec
    fuse_upsample: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        glorot = nn.initializers.glorot_uniform()
        pending_up = False
        for i, s in enumerate(self.spec):
            kind, name = s[0], f"l{i}"
            if kind == "up" and self.fuse_upsample and i + 1 < len(self.spec) and self.spec[i + 1][0] == "conv":
                pending_up = True  # done by the next conv, on the small map
                continue
            if kind == "conv":
                _, f, k, pad, bias = s
                x = KerasConv(f, k, pad, bias, upsample=pending_up, name=name)(x)
                pending_up = False
            elif kind == "dense":
                x = nn.Dense(s[1], use_bias=s[2], kernel_init=glorot, name=name)(x)
            elif kind == "bn":
                x = nn.BatchNorm(use_running_average=not train, momentum=KERAS_BN_MOMENTUM,
                                 epsilon=KERAS_BN_EPSILON, name=name)(x)
            elif kind == "lrelu":
                x = jnp.where(x >= 0, x, s[1] * x)
            elif kind == "relu":
                x = jax.nn.relu(x)
            elif kind == "sigmoid":
                x = jax.nn.sigmoid(x)
            elif kind == "pool":
                x = keras_max_pool(x, s[1])
            elif kind == "up":
                x = upsample_nearest_2x(x)
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "reshape":
                x = x.reshape((x.shape[0],) + tuple(s[1]))
            else:
                raise ValueError(f"KerasStack: unknown layer kind {kind!r} in spec entry {i}")
        return x


class KerasAE(nn.Module):
    """Encoder then decoder (the pretraining AE); ``encode`` gives the code map."""

    encoder: Spec
    decoder: Spec

    def setup(self) -> None:
        self.enc = KerasStack(self.encoder)
        self.dec = KerasStack(self.decoder)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return self.dec(self.enc(x, train), train)

    def encode(self, x: jax.Array, train: bool) -> jax.Array:
        return self.enc(x, train)


class KerasHeadNet(nn.Module):
    """The pretrained encoder (shared weights, fine-tuned) followed by a dense head: the repository's
    OC-NN and Deep SVDD networks. Its ``enc`` parameters and statistics are those of :class:`KerasAE`."""

    encoder: Spec
    head: Spec

    def setup(self) -> None:
        self.enc = KerasStack(self.encoder)
        self.head_ = KerasStack(self.head)

    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        return self.head_(self.enc(x, train), train)

    def encode(self, x: jax.Array, train: bool) -> jax.Array:
        return self.enc(x, train)


def variables_from_keras_weights(spec: Spec, weights: Sequence[Sequence[Any]]) -> tuple[dict, dict]:
    """Flax ``(params, batch_stats)`` of ``KerasStack(spec)`` from Keras weights.

    Args:
      spec: the layer specs.
      weights: one entry per weighted layer of ``spec`` in :func:`keras_layer_order` (Keras's
        ``[l.get_weights() for l in model.layers if l.weights]``): conv/dense ``[kernel]`` or
        ``[kernel, bias]`` (kernels HWIO / (in, out), as in Flax); BN ``[gamma, beta, moving_mean,
        moving_variance]``.

    Returns:
      (params, batch_stats) as nested dicts of float32 arrays.
    """
    order = keras_layer_order(spec)
    if len(order) != len(weights):
        raise ValueError(f"variables_from_keras_weights: spec has {len(order)} weighted layers, got {len(weights)} weight lists")
    params: dict[str, dict] = {}
    stats: dict[str, dict] = {}
    for (name, kind), w in zip(order, weights):
        w = [jnp.asarray(a, jnp.float32) for a in w]
        if kind == "bn":
            if len(w) != 4:
                raise ValueError(f"{name}: BatchNormalization needs 4 arrays, got {len(w)}")
            params[name] = {"scale": w[0], "bias": w[1]}
            stats[name] = {"mean": w[2], "var": w[3]}
        else:
            params[name] = {"kernel": w[0], **({"bias": w[1]} if len(w) > 1 else {})}
    return params, stats
