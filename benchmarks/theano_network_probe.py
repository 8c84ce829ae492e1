"""Probe: do the network details of Ruff's Theano code move paper-length Deep SVDD on MNIST?

Ruff et al.'s Table 1 came from their Theano code (``lukasruff/Deep-SVDD``), whose MNIST LeNet differs from
the PyTorch one ocnn_jax follows in two details this probe can switch on (docs/algorithms.md §6):

* ``--bn-affine``: BatchNorm with a learnable scale and shift (Lasagne's ``BatchNormLayer``, trainable in
  both the autoencoder and the Deep SVDD network), where ocnn_jax (as PyTorch) has none;
* ``--glorot``: Glorot-uniform initialisation, with the leaky-ReLU gain ``sqrt(2 / (1 + 0.01²))`` for every
  conv and gain 1 for the code layer, where ocnn_jax (as PyTorch) draws U(±1/sqrt(fan_in)).

They are not library options: the probe swaps them into ``ocnn_jax.nn.lenet`` for the duration of each
``ocnn_jax.sweep`` (MNIST LeNet only) and checks that the swap reached the network. A third detail, the
first AE conv initialised from a patch dictionary of the run's normal class, was probed here too
(``--dict-init``, one sweep per digit and seed: ``benchmarks/results/issue19_theano_network/dict_seed*``)
and has since become a library option, ``first_conv_init="dictionary"`` (``reproduce.py --full --settings
dictionary``), which learns the same kernels up to float rounding of the preprocessed images.

Every other setting is ``reproduce.py --full``'s published one (``ocnn_jax.experiments.published_settings``),
so a probe run pairs with the committed run of the same digit and seed (``benchmarks/paired_runs.py``)::

    OCNN_JAX_DATA_DIR=DATA python benchmarks/theano_network_probe.py --classes 3,4,5,9 --seeds 0 \\
        --bn-affine --glorot --out benchmarks/results/issue19_theano_network/both_seed0
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import parse_int_list  # noqa: E402

import ocnn_jax  # noqa: E402
from ocnn_jax.datasets import Dataset, load  # noqa: E402
from ocnn_jax.experiments import published_settings  # noqa: E402
from ocnn_jax.nn import lenet  # noqa: E402
from ocnn_jax.nn.layers import BN_EPSILON, BN_MOMENTUM, xavier_leaky_init  # noqa: E402

#: Lasagne's default dense init (GlorotUniform, gain 1), the Theano code layer's.
glorot_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


def affine_batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    """The project's BatchNorm (eps 1e-4, momentum 0.9) with a learnable scale (init 1) and shift (init 0)."""
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                        use_bias=True, use_scale=True, name=name)


@contextlib.contextmanager
def theano_network(bn_affine: bool, glorot: bool) -> Iterator[None]:
    """Within the block, ``ocnn_jax.nn.lenet``'s networks use the chosen Theano details; restored after."""
    names = ("batch_norm", "torch_default_init", "torch_deconv_init", "_code_dense")
    saved = {n: getattr(lenet, n) for n in names}
    try:
        if bn_affine:
            lenet.batch_norm = affine_batch_norm
        if glorot:
            lenet.torch_default_init = xavier_leaky_init
            lenet.torch_deconv_init = xavier_leaky_init
            lenet._code_dense = lambda f: nn.Dense(f, use_bias=False, kernel_init=glorot_init, name="code")
        yield
    finally:
        for n, v in saved.items():
            setattr(lenet, n, v)


def encoder_summary() -> dict[str, object]:
    """What the MNIST encoder built now holds: BN parameters or not, and the largest |weight| per layer."""
    v = lenet.MnistLeNetEncoder().init(jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 1)), train=False)["params"]
    summary: dict[str, object] = {
        "bn_params": "bn1" in v,
        **{f"max_abs_{k}": float(jnp.abs(v[k]["kernel"]).max()) for k in ("conv1", "conv2", "code")},
    }
    return summary


def probe_sweep(args: argparse.Namespace, ds: Dataset, classes: list[int], seeds: list[int], out: Path) -> dict:
    """One resumable sweep of MNIST ``ds`` (loaded once by the caller) with the chosen Theano details;
    writes ``probe.json`` beside it."""
    settings = published_settings("mnist", args.method)
    with theano_network(args.bn_affine, args.glorot):
        encoder = encoder_summary()
        print("encoder:", encoder, "settings:", settings, flush=True)
        t = time.perf_counter()
        result = ocnn_jax.sweep(
            ds, args.method, normal_classes=classes, seeds=seeds,
            out_dir=str(out), resume=True, progress=True, figures=False, **settings,
        )
    wall = time.perf_counter() - t
    probe = {"bn_affine": args.bn_affine, "glorot": args.glorot, "encoder": encoder, "settings": settings,
             "wall_s": round(wall, 1)}
    # the sweep's fingerprint records only the config: this file says the network was not the library's
    (out / "probe.json").write_text(json.dumps(probe, indent=1) + "\n")
    print(f"wall {wall:.0f} s")
    for run in result["runs"]:
        print(run["normal_class"], run["seed"], f"{100 * run['auroc']:.2f}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", required=True, type=parse_int_list, help="MNIST digits, e.g. '3,4,5' or '0-9'")
    p.add_argument("--seeds", required=True, type=parse_int_list, help="seeds, e.g. '0' or '0-2'")
    p.add_argument("--out", required=True, help="sweep folder (resumable)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--bn-affine", action="store_true", help="BatchNorm with learnable scale and shift")
    p.add_argument("--glorot", action="store_true", help="Glorot-uniform init (leaky gain on convs)")
    p.add_argument("--method", default="deep_svdd", choices=("deep_svdd", "soft_boundary"))
    args = p.parse_args(argv)
    if not (args.bn_affine or args.glorot):
        p.error("choose at least one of --bn-affine, --glorot (without them this is reproduce.py --full; "
                "the dictionary start is reproduce.py --full --settings dictionary)")
    ds = load("mnist", data_dir=args.data_dir)
    probe_sweep(args, ds, args.classes, args.seeds, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
