"""Flax Linen backbones for one-class anomaly detection (docs/algorithms.md §5).

Bias-free LeNet-type encoders/decoders for MNIST (28x28x1) and CIFAR-10 (32x32x3), an MLP
for flat/tabular data, an :class:`AutoEncoder` wrapper, and :func:`make_backbone`. Images
are NHWC; every module's ``__call__`` takes ``(x, train: bool)``; BatchNorm statistics live
in the ``'batch_stats'`` collection (``apply(..., mutable=['batch_stats'])`` when training).
"""

from .autoencoder import AutoEncoder
from .backbone import BACKBONE_NAMES, Backbone, auto_family, make_backbone
from .layers import Conv, conv2d, max_pool_2x2, upsample_conv2d, upsample_nearest_2x
from .lenet import CifarLeNetDecoder, CifarLeNetEncoder, MnistLeNetDecoder, MnistLeNetEncoder
from .mlp import MLPDecoder, MLPEncoder

__all__ = [
    "conv2d",
    "max_pool_2x2",
    "upsample_nearest_2x",
    "upsample_conv2d",
    "Conv",
    "MnistLeNetEncoder",
    "MnistLeNetDecoder",
    "CifarLeNetEncoder",
    "CifarLeNetDecoder",
    "MLPEncoder",
    "MLPDecoder",
    "AutoEncoder",
    "Backbone",
    "make_backbone",
    "auto_family",
    "BACKBONE_NAMES",
]
