"""Your own Flax encoder (and decoder) for Deep SVDD and the autoencoder methods.

Any Flax Linen module ``__call__(x, train) -> (B, rep_dim)`` works as the encoder; a decoder
``__call__(z, train) -> (B, *input_shape)`` is needed for AE pretraining, RCAE and DCAE. Deep SVDD
wants an encoder without bias terms (a bias lets the network map everything onto the centre: the
"hypersphere collapse" of Ruff et al. 2018), hence ``use_bias=False`` below.

Here: a small convolutional encoder (and a dense decoder) for scikit-learn's 8 × 8 digits, every digit as the normal class
in turn × seeds, all runs trained side by side in one compiled program.

    python examples/custom_encoder.py
    python examples/custom_encoder.py --method dcae --epochs 50
"""

import argparse

import flax.linen as nn
import numpy as np

import ocnn_jax
from ocnn_jax.datasets import load_digits


class SmallConvEncoder(nn.Module):
    """(B, 8, 8, 1) -> (B, rep_dim): one strided 3 × 3 convolution and a dense layer, no biases."""

    rep_dim: int = 16

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.leaky_relu(nn.Conv(8, (3, 3), strides=(2, 2), use_bias=False)(x), 0.1)  # 4 × 4 × 8
        return nn.Dense(self.rep_dim, use_bias=False)(x.reshape(x.shape[0], -1))


class SmallDecoder(nn.Module):
    """(B, rep_dim) -> (B, 8, 8, 1) in [0, 1] (the inputs are min-max scaled): two dense layers."""

    @nn.compact
    def __call__(self, z, train: bool = False):
        h = nn.leaky_relu(nn.Dense(32, use_bias=False)(z), 0.1)
        return nn.sigmoid(nn.Dense(8 * 8)(h)).reshape(z.shape[0], 8, 8, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="deep_svdd", choices=["deep_svdd", "soft_boundary", "dcae", "rcae"])
    p.add_argument("--classes", default="all", help="'all' or comma-separated digits")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=40)
    args = p.parse_args(argv)

    ds = load_digits()
    classes = "all" if args.classes == "all" else [int(c) for c in args.classes.split(",")]
    overrides = {"batch_size": 32, "lr": 1e-3}
    if args.method == "rcae":
        overrides.update(outer_iterations=2, epochs_per_iteration=max(1, args.epochs // 2))
    else:
        overrides["epochs"] = args.epochs
    if args.method in ("deep_svdd", "soft_boundary"):
        overrides.update(pretrain_epochs=args.epochs, pretrain_batch_size=32, pretrain_lr=1e-3)
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method=args.method, normal_classes=classes, seeds=args.seeds,
                         encoder=SmallConvEncoder(), decoder=SmallDecoder(), **overrides)
    result = model.evaluate(ds.x_test, y=ds.y_test, metrics=("auroc", "aupr"))
    print(f"{args.method} with a custom encoder: {model.n_models} runs, trained in {model.wall_time:.1f} s")
    for c in model.classes:
        rows = [i for i, r in enumerate(model.runs) if r["normal_class"] == c]
        print(f"digit {c}: AUROC {100 * np.mean(result['auroc'][rows]):.2f} %, AUPR {100 * np.mean(result['aupr'][rows]):.2f} %")
    return result


if __name__ == "__main__":
    main()
