"""Probe: do the network details of Ruff's Theano code move paper-length Deep SVDD on MNIST?

Ruff et al.'s Table 1 came from their Theano code (``lukasruff/Deep-SVDD``), whose MNIST LeNet differs from
the PyTorch one ocnn_jax follows in two details this probe can switch on (docs/algorithms.md §6):

* ``--bn-affine``: BatchNorm with a learnable scale and shift (Lasagne's ``BatchNormLayer``, trainable in
  both the autoencoder and the Deep SVDD network), where ocnn_jax (as PyTorch) has none;
* ``--glorot``: Glorot-uniform initialisation, with the leaky-ReLU gain ``sqrt(2 / (1 + 0.01²))`` for every
  conv and gain 1 for the code layer, where ocnn_jax (as PyTorch) draws U(±1/sqrt(fan_in));
* ``--dict-init``: the autoencoder's first conv initialised from an 8-atom dictionary learned on 5×5 patches
  of 500 training images of the run's normal class (:func:`learn_dictionary`, as the Theano code's
  ``weight_dict_init``). The dictionary depends on the run, so each (digit, seed) is its own one-run sweep
  in ``OUT/digit{c}_seed{s}``.

They are not library options: the probe swaps them into ``ocnn_jax.nn.lenet`` for the duration of each
``ocnn_jax.sweep`` (MNIST LeNet only) and checks that the swap reached the network. Every other setting is
``reproduce.py --full``'s published one (``ocnn_jax.experiments.published_settings``), so a probe run
pairs with the committed run of the same digit and seed (``benchmarks/paired_runs.py``)::

    OCNN_JAX_DATA_DIR=DATA python benchmarks/theano_network_probe.py --classes 3,4,5,9 --seeds 0 \\
        --bn-affine --glorot --out benchmarks/results/issue19_theano_network/both_seed0
    OCNN_JAX_DATA_DIR=DATA python benchmarks/theano_network_probe.py --classes 0-9 --seeds 0 \\
        --dict-init --out benchmarks/results/issue19_theano_network/dict_seed0
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
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import parse_int_list  # noqa: E402

import ocnn_jax  # noqa: E402
from ocnn_jax.datasets import Dataset, load  # noqa: E402
from ocnn_jax.datasets.protocol import one_class_split  # noqa: E402
from ocnn_jax.experiments import published_settings  # noqa: E402
from ocnn_jax.nn import lenet  # noqa: E402
from ocnn_jax.nn.layers import BN_EPSILON, BN_MOMENTUM, xavier_leaky_init  # noqa: E402

#: Lasagne's default dense init (GlorotUniform, gain 1), the Theano code layer's.
glorot_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


def affine_batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    """The project's BatchNorm (eps 1e-4, momentum 0.9) with a learnable scale (init 1) and shift (init 0)."""
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                        use_bias=True, use_scale=True, name=name)


#: The MNIST encoder's first conv kernel (HWIO); no other MNIST LeNet parameter has this shape.
FIRST_CONV_SHAPE = (5, 5, 1, 8)


def learn_dictionary(x_train: np.ndarray, seed: int, *, n_images: int = 500, n_iter: int = 1000,
                     batch_size: int = 10) -> np.ndarray:
    """The Theano code's first-layer dictionary: 8 atoms of 5×5, as a first-conv kernel.

    All 5×5 patches of ``n_images`` random images of ``x_train`` ((n, 28, 28, 1), preprocessed), each
    patch position standardised over the patches; sparse coding with α = 1, ``n_iter`` mini-batch steps of
    ``batch_size`` patches from an SVD start (scikit-learn's ``MiniBatchDictionaryLearning``, as the
    Theano code called it in scikit-learn 0.19 with ``n_iter=1000``). Atoms have unit L2 norm.

    Returns: (5, 5, 1, 8) float32, each atom flipped in both spatial axes: Lasagne's conv layer convolves
    (``flip_filters=True``), ocnn_jax's cross-correlates, so this kernel applies the atom as Lasagne did.
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import PatchExtractor
    from sklearn.utils.extmath import randomized_svd

    k, c = FIRST_CONV_SHAPE[0], FIRST_CONV_SHAPE[-1]
    rng = np.random.default_rng(seed)
    images = x_train[rng.choice(len(x_train), n_images, replace=False), ..., 0]
    patches = PatchExtractor(patch_size=(k, k)).transform(images).reshape(-1, k * k).astype(np.float64)
    patches -= patches.mean(axis=0)
    patches /= patches.std(axis=0)
    _, s, vt = randomized_svd(patches, c, random_state=seed)
    dico = MiniBatchDictionaryLearning(n_components=c, alpha=1.0, batch_size=batch_size,
                                       dict_init=s[:, None] * vt, random_state=seed)
    order = rng.permutation(len(patches))
    for i in range(n_iter):
        dico.partial_fit(patches[order[i * batch_size:(i + 1) * batch_size]])
    atoms = dico.components_.reshape(c, k, k)[:, ::-1, ::-1]
    return np.ascontiguousarray(atoms.transpose(1, 2, 0)[:, :, None, :], dtype=np.float32)


def with_first_conv(kernel: np.ndarray, base):
    """An initializer that returns ``kernel`` for the first conv's shape and defers to ``base`` otherwise."""
    def init(key, shape, dtype=jnp.float32):
        if tuple(shape) == kernel.shape:
            return jnp.asarray(kernel, dtype)
        return base(key, shape, dtype)
    return init


@contextlib.contextmanager
def theano_network(bn_affine: bool, glorot: bool, first_conv: np.ndarray | None = None) -> Iterator[None]:
    """Within the block, ``ocnn_jax.nn.lenet``'s networks use the chosen Theano details; restored after.

    ``first_conv``: a (5, 5, 1, 8) kernel (:func:`learn_dictionary`) that initialises the MNIST encoder's
    first conv, in the autoencoder and in the Deep SVDD network alike (the latter starts from the
    pretrained autoencoder's encoder anyway).
    """
    names = ("batch_norm", "torch_default_init", "torch_deconv_init", "_code_dense")
    saved = {n: getattr(lenet, n) for n in names}
    if first_conv is not None and first_conv.shape != FIRST_CONV_SHAPE:
        raise ValueError(f"first_conv: expected shape {FIRST_CONV_SHAPE}, got {first_conv.shape}")
    try:
        if bn_affine:
            lenet.batch_norm = affine_batch_norm
        if glorot:
            lenet.torch_default_init = xavier_leaky_init
            lenet.torch_deconv_init = xavier_leaky_init
            lenet._code_dense = lambda f: nn.Dense(f, use_bias=False, kernel_init=glorot_init, name="code")
        if first_conv is not None:
            lenet.torch_default_init = with_first_conv(first_conv, lenet.torch_default_init)
        yield
    finally:
        for n, v in saved.items():
            setattr(lenet, n, v)


def encoder_summary(first_conv: np.ndarray | None = None) -> dict[str, object]:
    """What the MNIST encoder built now holds: BN parameters or not, the largest |weight| per layer, and
    whether its first conv is ``first_conv`` (given one)."""
    v = lenet.MnistLeNetEncoder().init(jax.random.PRNGKey(0), jnp.zeros((2, 28, 28, 1)), train=False)["params"]
    summary: dict[str, object] = {
        "bn_params": "bn1" in v,
        **{f"max_abs_{k}": float(jnp.abs(v[k]["kernel"]).max()) for k in ("conv1", "conv2", "code")},
    }
    if first_conv is not None:
        summary["conv1_is_dictionary"] = bool(np.array_equal(np.asarray(v["conv1"]["kernel"]), first_conv))
    return summary


def probe_sweep(args: argparse.Namespace, ds: Dataset, classes: list[int], seeds: list[int], out: Path,
                first_conv: np.ndarray | None = None) -> dict:
    """One resumable sweep of MNIST ``ds`` (loaded once by the caller) with the chosen Theano details;
    writes ``probe.json`` beside it."""
    settings = published_settings("mnist", args.method)
    with theano_network(args.bn_affine, args.glorot, first_conv):
        encoder = encoder_summary(first_conv)
        print("encoder:", encoder, "settings:", settings, flush=True)
        t = time.perf_counter()
        result = ocnn_jax.sweep(
            ds, args.method, normal_classes=classes, seeds=seeds,
            out_dir=str(out), resume=True, progress=True, figures=False, **settings,
        )
    wall = time.perf_counter() - t
    probe = {"bn_affine": args.bn_affine, "glorot": args.glorot, "dict_init": first_conv is not None,
             "encoder": encoder, "settings": settings, "wall_s": round(wall, 1)}
    if first_conv is not None:
        probe["first_conv_hwio"] = np.round(first_conv, 6).tolist()
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
    p.add_argument("--dict-init", action="store_true",
                   help="first AE conv from a patch dictionary of the normal class (one sweep per digit and seed)")
    p.add_argument("--method", default="deep_svdd", choices=("deep_svdd", "soft_boundary"))
    args = p.parse_args(argv)
    if not (args.bn_affine or args.glorot or args.dict_init):
        p.error("choose at least one of --bn-affine, --glorot, --dict-init "
                "(without them this is reproduce.py --full)")
    out = Path(args.out)
    ds = load("mnist", data_dir=args.data_dir)
    if not args.dict_init:
        probe_sweep(args, ds, args.classes, args.seeds, out)
        return 0
    for c in args.classes:
        x_train = one_class_split(ds, c).x_train
        for seed in args.seeds:
            probe_sweep(args, ds, [c], [seed], out / f"digit{c}_seed{seed}", learn_dictionary(x_train, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
