"""OC-NN's head on CIFAR-10's frozen encoder body, one variant at a time (issue 13, CIFAR-10 target).

    OCNN_JAX_DATA_DIR=$DATA python benchmarks/ocnn_cifar_heads.py --classes 0,1,2 \
        --variants dist,kde1,kde0.5,kde0.35,w0.35,w1,fixed0.5,fixed0.35,scaled0.35,nu0.5 \
        --cache CACHE_DIR --out benchmarks/results/issue13_ocnn_cifar_heads

Stage 1 (once per class, cached in ``--cache``): the default deep OC-NN's AE pretraining at quick length
(``sweep(quick=True)``'s 30 epochs, milestone 24, seed 0) through ``ocnn_jax.fit``, then the frozen
encoder body's output z (2048 features, inference mode) of the class's training rows and of the whole
test split, with the run's own preprocessing. This is the representation the default head sees.

Stage 2 (seconds to minutes per variant): a head, or a plain detector, on those cached z. The OC-NN
variants go through ``ocnn_jax.fit(z, method="ocnn", features="input", preprocessing="none")`` with the
LeNet family's head settings (K = 1024 landmarks, isotropic, h = 128, lr 1e-4, the step-guaranteed
epochs), so only the named setting changes:

  dist          ‖z − mean z‖² (no training): the representation's plain centre distance
  kde<f>        a Gaussian kernel density of the training z with exp(−‖·‖² / (f² · median)), the kernel of
                an RBF unit at width f: the kernel mean that the head's weights replace
  w<f>          the default head with ``rbf_width`` f (per-run widening on, as the default)
  fixed<f>      the width f × the median heuristic as a fixed ``rbf_gamma`` (no widening)
  scaled<f>     width f without widening; instead the features are scaled up until their ν-tail value T
                reaches 1 (the alternative to widening rejected on MNIST, ``core.rbf``)
  nu<v>         the default head (width 0.35, widening on) with ν = v

AUROC on continuous scores (test split, the class normal, the other nine anomalous); OUT.json, OUT.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import ocnn_jax  # noqa: E402
import ocnn_jax.methods.ocnn as ocnn_module  # noqa: E402
from ocnn_jax.core import rbf  # noqa: E402
from ocnn_jax.datasets import load  # noqa: E402
from ocnn_jax.methods.ocnn import ocnn_features  # noqa: E402
from ocnn_jax.methods.shallow import GaussianKDE  # noqa: E402

#: The LeNet family's head settings (``methods.ocnn.LENET_KERNEL`` and the CIFAR-10 h), on cached z.
HEAD = dict(method="ocnn", features="input", preprocessing="none", landmarks=1024, rbf_scale="none",
            rbf_width=0.35, hidden_units=128, lr=1e-4, seeds=[0], progress=False, check_collapse=False)
#: ``sweep(quick=True)``'s OC-NN pretraining.
QUICK_PRETRAIN = dict(pretrain_epochs=30, pretrain_lr_milestone=24)


def body_features(classes: list[int], data_dir: str | None, cache: Path, pretrain: dict[str, Any]) -> None:
    """Stage 1: pretrain (one program for every class not cached yet) and cache z per class."""
    todo = [c for c in classes if not (cache / f"cifar10_body_c{c}.npz").exists()]
    if not todo:
        return
    ds = load("cifar10", data_dir)
    t = time.perf_counter()
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method="ocnn", normal_classes=todo, seeds=[0], epochs=1,
                         check_collapse=False, progress=False, **pretrain)
    print(f"pretraining {todo}: {time.perf_counter() - t:.0f} s", flush=True)
    # One compiled encoder for every class: the weights are arguments, not constants baked into a
    # program per class.
    encode = jax.jit(lambda enc, stats, xb: ocnn_features(model.backbone, model.config, enc, stats, xb))
    for i, c in enumerate(todo):
        v = jax.tree_util.tree_map(lambda a: a[i], model.variables)
        enc, stats = v["params"]["encoder"], v.get("batch_stats", {})

        def z_of(x: np.ndarray) -> np.ndarray:
            x = model.preprocess(x, normal_class=c)  # the run's own input transform (uint8 / 255, GCN, min-max)
            return np.concatenate([np.asarray(encode(enc, stats, jnp.asarray(x[j:j + 1000])))
                                   for j in range(0, len(x), 1000)])

        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / f"cifar10_body_c{c}.npz", z_train=z_of(ds.x_train[ds.y_train == c]),
                 z_test=z_of(ds.x_test), y_test=ds.y_test, pretrain=json.dumps(pretrain))


def scaled_layer_fit(scale_to: float):
    """``core.rbf.fit_rbf_layer`` without widening whose features are scaled up until T = ``scale_to``."""
    original = rbf.fit_rbf_layer

    def fit(key, z, n_valid, n_landmarks, gamma=None, width=1.0, scale=True, nu=None, tail_floor=rbf.TAIL_FLOOR):
        layer = original(key, z, n_valid, n_landmarks, gamma, width, scale, nu=None)
        t = rbf.tail_value(rbf.rbf_features(layer, z), n_valid, nu)
        return layer._replace(norm=layer.norm * jnp.minimum(t / scale_to, 1.0))

    return fit


def median_sq_dist(z: np.ndarray, k: int = 1024) -> float:
    """The median squared distance between k random training rows (the median heuristic's scale)."""
    rows = z[np.random.default_rng(0).choice(len(z), min(k, len(z)), replace=False)].astype(np.float64)
    sq = (rows * rows).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * rows @ rows.T
    return float(np.median(d[np.triu_indices(len(rows), 1)]))


def run_variant(name: str, z_train: np.ndarray, z_test: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Scores (higher = more anomalous) of one variant on z_test, and what the run reports."""
    if name == "dist":
        return ((z_test - z_train.mean(0)) ** 2).sum(1), {}
    if name.startswith("kde"):
        f = float(name[3:])
        h = f * np.sqrt(median_sq_dist(z_train) / 2.0)  # exp(-d²/2h²) = exp(-d²/(f² · median))
        return -GaussianKDE(h).fit(z_train).score_samples(z_test), {"bandwidth": h}
    kw = dict(HEAD)
    fit_layer = rbf.fit_rbf_layer
    if name.startswith("w"):
        kw["rbf_width"] = float(name[1:])
    elif name.startswith("fixed"):
        kw["rbf_gamma"] = 1.0 / (float(name[5:]) ** 2 * median_sq_dist(z_train))
    elif name.startswith("scaled"):
        kw["rbf_width"] = float(name[6:])
        fit_layer = scaled_layer_fit(1.0)
    elif name.startswith("nu"):
        kw["nu"] = float(name[2:])
    else:
        raise ValueError(f"unknown variant {name!r}")
    ocnn_module.fit_rbf_layer = fit_layer
    try:
        model = ocnn_jax.fit(z_train, **kw)
    finally:
        ocnn_module.fit_rbf_layer = rbf.fit_rbf_layer
    info = {"objective": float(model.train_metrics["train/objective"][0, -1]),
            "gamma": float(np.asarray(model.variables["kernel"]["gamma"]).ravel()[0])}
    return np.asarray(model.score(z_test))[0], info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", default="0,1,2")
    p.add_argument("--variants", default="dist,kde1,kde0.5,kde0.35,w0.35,w1,fixed0.5,fixed0.35")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", required=True, help="folder for the cached body features (large; keep it out of the repo)")
    p.add_argument("--pretrain-epochs", type=int, default=None, help="smoke runs only (default: quick, 30)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "issue13_ocnn_cifar_heads"))
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    classes = [int(c) for c in args.classes.split(",")]
    pretrain = dict(QUICK_PRETRAIN)
    if args.pretrain_epochs is not None:
        pretrain = {"pretrain_epochs": args.pretrain_epochs, "pretrain_lr_milestone": None}
    cache = Path(args.cache)
    body_features(classes, args.data_dir, cache, pretrain)
    rows = []
    for c in classes:
        d = np.load(cache / f"cifar10_body_c{c}.npz")
        truth = (d["y_test"] != c).astype(int)
        for v in args.variants.split(","):
            t = time.perf_counter()
            scores, info = run_variant(v, d["z_train"], d["z_test"])
            rows.append({"class": c, "variant": v, "auroc": float(roc_auc_score(truth, scores)),
                         "seconds": time.perf_counter() - t, **info})
            print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = [f"--classes {args.classes}", f"--variants {args.variants}", "--cache CACHE"]
    if args.pretrain_epochs is not None:
        shown.append(f"--pretrain-epochs {args.pretrain_epochs}")
    meta = {"command": "python benchmarks/ocnn_cifar_heads.py " + " ".join(shown),
            "pretrain": pretrain, "jax": jax.__version__, "machine": platform.machine()}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    lines = ["# OC-NN heads on CIFAR-10's frozen encoder body (AUROC %, seed 0)", "",
             f"`{meta['command']}`", "", "| variant | " + " | ".join(f"class {c}" for c in classes) + " | mean |",
             "|---|" + "---|" * (len(classes) + 1)]
    for v in variants:
        a = [next(r["auroc"] for r in rows if r["variant"] == v and r["class"] == c) for c in classes]
        lines.append(f"| {v} | " + " | ".join(f"{100 * x:.2f}" for x in a) + f" | {100 * np.mean(a):.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
