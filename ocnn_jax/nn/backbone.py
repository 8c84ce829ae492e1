"""Backbone selection: name + sample shape -> (encoder, decoder) Linen modules."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import NamedTuple

import flax.linen as nn

from .autoencoder import AutoEncoder
from .lenet import (
    CIFAR_SHAPE,
    MNIST_SHAPE,
    CifarLeNetDecoder,
    CifarLeNetEncoder,
    MnistLeNetDecoder,
    MnistLeNetEncoder,
)
from .mlp import OUTPUTS, MLPDecoder, MLPEncoder

__all__ = ["Backbone", "make_backbone", "auto_family", "BACKBONE_NAMES"]

#: Names accepted by :func:`make_backbone`.
BACKBONE_NAMES: tuple[str, ...] = ("auto", "mnist_lenet", "cifar_lenet", "mlp")
_LENET_SHAPES: dict[str, tuple[int, ...]] = {"mnist_lenet": MNIST_SHAPE, "cifar_lenet": CIFAR_SHAPE}
_DEFAULT_REP_DIM: dict[str, int] = {"mnist_lenet": 32, "cifar_lenet": 128, "mlp": 32}
_DEFAULT_HIDDEN: tuple[int, ...] = (64,)


class Backbone(NamedTuple):
    """A resolved backbone.

    Attributes:
      name: concrete name (``"mnist_lenet"``, ``"cifar_lenet"`` or ``"mlp"``; never ``"auto"``).
      encoder: ``__call__(x, train) -> (B, rep_dim)`` Linen module.
      decoder: ``__call__(z, train) -> (B, *input_shape)`` Linen module, or None.
      input_shape: one sample's shape as the network receives it.
      rep_dim: representation size.
      first_conv: name of the encoder's first convolution (its parameters ``params[first_conv]["kernel"]``,
        (k, k, C_in, F)), which a data-learned initial kernel may replace (``first_conv_init="dictionary"``);
        None for an encoder without one (MLP, a custom module).
    """

    name: str
    encoder: nn.Module
    decoder: nn.Module | None
    input_shape: tuple[int, ...]
    rep_dim: int
    first_conv: str | None = None

    def autoencoder(self) -> AutoEncoder:
        """The :class:`AutoEncoder` of this encoder and decoder (ValueError if no decoder)."""
        if self.decoder is None:
            raise ValueError(f"backbone {self.name!r} has no decoder, expected one for an AutoEncoder")
        return AutoEncoder(encoder=self.encoder, decoder=self.decoder)


def _is_pos_int(value: object) -> bool:
    """True for a positive Python/NumPy integer (bools excluded)."""
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) > 0


def _positive_int(value: object, arg: str) -> int:
    if not _is_pos_int(value):
        raise ValueError(f"make_backbone: {arg} must be a positive int, got {value!r}")
    return int(value)


def _check_shape(input_shape: object) -> tuple[int, ...]:
    if input_shape is None or isinstance(input_shape, str | bytes) or not isinstance(input_shape, Sequence):
        raise ValueError(
            f"make_backbone: input_shape must be a non-empty tuple of positive ints "
            f"(one sample's shape, e.g. (28, 28, 1)), got {input_shape!r}"
        )
    shape = tuple(input_shape)
    if not shape or not all(_is_pos_int(d) for d in shape):
        raise ValueError(
            f"make_backbone: input_shape must be a non-empty tuple of positive ints "
            f"(one sample's shape, e.g. (28, 28, 1)), got {input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def auto_family(input_shape: tuple[int, ...]) -> str:
    """The backbone ``make_backbone("auto", input_shape)`` builds: "mnist_lenet" for (28, 28, 1),
    "cifar_lenet" for (32, 32, 3), else "mlp". Also the data family whose defaults the shallow
    baselines take (they have no backbone)."""
    shape = _check_shape(input_shape)
    return next((n for n, s in _LENET_SHAPES.items() if s == shape), "mlp")


def make_backbone(
    name: str = "auto",
    input_shape: tuple[int, ...] | None = None,
    *,
    rep_dim: int | None = None,
    hidden: Sequence[int] | None = None,
    output: str = "sigmoid",
) -> Backbone:
    """Build the encoder/decoder pair for a dataset's sample shape.

    Args:
      name: ``"mnist_lenet"`` (input_shape must be (28, 28, 1)), ``"cifar_lenet"`` ((32, 32, 3)),
        ``"mlp"`` (any shape; flattened), or ``"auto"``: mnist_lenet for (28, 28, 1), cifar_lenet
        for (32, 32, 3), else mlp.
      input_shape: one sample's shape as the network receives it (required).
      rep_dim: representation size; default 32 (mnist_lenet, mlp) or 128 (cifar_lenet).
        LeNets need a multiple of 16 (the decoder reshapes the code to a 4x4 map).
      hidden: MLP hidden widths (default ``(64,)``); only valid for the mlp backbone.
      output: decoder output activation, ``"sigmoid"`` (inputs scaled to [0, 1]; Ruff's choice)
        or ``"linear"`` (identity, for standardised inputs); applies to every decoder.

    Raises:
      ValueError: naming the argument, the value given and what was expected.
    """
    if not isinstance(name, str) or name not in BACKBONE_NAMES:
        raise ValueError(f"make_backbone: name must be one of {BACKBONE_NAMES}, got {name!r}")
    shape = _check_shape(input_shape)
    if output not in OUTPUTS:
        raise ValueError(f"make_backbone: output must be one of {OUTPUTS}, got {output!r}")
    if name == "auto":
        name = auto_family(shape)
    rep = _DEFAULT_REP_DIM[name] if rep_dim is None else _positive_int(rep_dim, "rep_dim")

    if name == "mlp":
        hid = _DEFAULT_HIDDEN if hidden is None else hidden
        if isinstance(hid, str | bytes) or not isinstance(hid, Sequence) or not all(map(_is_pos_int, hid)):
            raise ValueError(f"make_backbone: hidden must be a sequence of positive ints, got {hidden!r}")
        hid = tuple(int(h) for h in hid)
        return Backbone(
            name="mlp",
            encoder=MLPEncoder(hidden=hid, rep_dim=rep),
            decoder=MLPDecoder(hidden=hid, input_shape=shape, output=output),
            input_shape=shape,
            rep_dim=rep,
        )

    expected = _LENET_SHAPES[name]
    if shape != expected:
        raise ValueError(f"make_backbone: input_shape for {name!r} must be {expected}, got {shape}")
    if hidden is not None:
        raise ValueError(f"make_backbone: hidden applies only to 'mlp', got hidden={hidden!r} for {name!r}")
    if rep % 16:
        raise ValueError(f"make_backbone: rep_dim for {name!r} must be a multiple of 16, got {rep}")
    enc_cls, dec_cls = (
        (MnistLeNetEncoder, MnistLeNetDecoder) if name == "mnist_lenet" else (CifarLeNetEncoder, CifarLeNetDecoder)
    )
    return Backbone(
        name=name,
        encoder=enc_cls(rep_dim=rep),
        decoder=dec_cls(rep_dim=rep, output=output),
        input_shape=shape,
        rep_dim=rep,
        first_conv="conv1",
    )
