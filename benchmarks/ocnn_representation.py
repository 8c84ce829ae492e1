"""OC-NN's default representation against the configurations it replaced (issue 13), with default settings.

    python benchmarks/ocnn_representation.py --datasets digits_flat,wine_std,wine_raw,iris_std,iris_raw
    python benchmarks/ocnn_representation.py --datasets mnist --mnist-classes 2,5,8 --seeds 0 --data-dir $MNIST_DIR
    OCNN_JAX_DATA_DIR=$DATA python benchmarks/ocnn_representation.py --datasets mnist --variants ocnn_raw \
        --mnist-classes 0,1,2,3,4,5,6,7,8,9 --out benchmarks/results/issue13_ocnn_deep

Variants (``ocnn_jax.fit(x, method="ocnn", **overrides)``, nothing else set):

  ocnn          the default: the RBF landmark layer (mean-1 features) before a tanh head. Feature vectors
                (MLP family): z = the input after floored standardising, K <= 256, γ for 0.7 x the
                median-heuristic width, no scaling. MNIST images ("deep" OC-NN): z = the frozen
                pretrained LeNet encoder's body (the 196 features before its code layer), K <= 1024,
                γ for 0.35 x the median-heuristic width, no scaling. Each run widens its kernel where
                needed until w = 0 is not the head's optimum (``ocnn_jax.core.rbf``)
  ocnn_raw      MNIST only: the same RBF layer + tanh head on the preprocessed pixels (features="input"):
                OC-NN on raw inputs
  ocnn_codes    MNIST only: the same RBF layer + tanh head on the encoder's 32-d codes (features="encoder")
  ocnn_prev     MNIST only: the default before the encoder body: the codes, K <= 256, the
                median-heuristic width, 1/std scaling, quick pretraining 5 epochs
  ocnn_pre3     MNIST only: the previous default with the AE pretraining at lr 1e-3
  ocnn_w05, ocnn_w035   the default with a kernel 0.5 / 0.35 times the median-heuristic width
  ocnn_old      the default before issue 13: the paper's head (g linear, no layer) on the input
  ocnn_paper    the paper's exact configuration (``methods.PAPER_OCNN``): the head with g linear on the
                frozen pretrained codes
  ocsvm, isoforest   our shallow baselines, their defaults

Data (inductive one-vs-rest: each class normal in turn, trained on that class's training rows, tested on
the whole test split; AUROC on continuous scores):
  digits_flat   scikit-learn digits as 64-feature vectors, a random 900/897 split drawn with each seed
  wine_*, iris_*   a stratified 50/50 split drawn with each seed; ``_raw`` as loaded, ``_std``
                standardised with the training split's mean and std before ``fit``
  mnist         the official split, ``--mnist-classes``; quick length (the method table's ``quick``:
                AE pretraining 30 epochs, LR milestone 24; the head's 100 epochs = 3000 steps)

Degenerate runs (``OCNNDegenerateError``) are counted, not hidden: the AUROCs of such a fit are still
reported (``check_collapse=False``) and the number of runs whose final objective is not below the trivial
head's 0 is a column of its own. Writes OUT.json and OUT.md (per class: mean over seeds; the mean over
classes and the worst class).
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

import ocnn_jax  # noqa: E402
from ocnn_jax.methods import PAPER_OCNN, get_method  # noqa: E402
from ocnn_jax.methods.ocnn import degenerate_runs  # noqa: E402

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ocnn": ("ocnn", {}),
    "ocnn_raw": ("ocnn", {"features": "input"}),
    "ocnn_codes": ("ocnn", {"features": "encoder"}),
    "ocnn_w07": ("ocnn", {"rbf_width": 0.7}),
    "ocnn_w05": ("ocnn", {"rbf_width": 0.5}),
    "ocnn_w035": ("ocnn", {"rbf_width": 0.35}),
    "ocnn_prev": ("ocnn", {"features": "encoder", "landmarks": 256, "rbf_width": 1.0, "rbf_scale": "std",
                           "pretrain_epochs": 5, "pretrain_lr_milestone": 4}),
    "ocnn_pre3": ("ocnn", {"features": "encoder", "landmarks": 256, "rbf_width": 1.0, "rbf_scale": "std",
                           "pretrain_epochs": 5, "pretrain_lr_milestone": 4, "pretrain_lr": 1e-3}),
    "ocnn_old": ("ocnn", {"features": "input", "kernel": "none", "g": "linear"}),
    "ocnn_paper": ("ocnn", dict(PAPER_OCNN)),
    "ocsvm": ("ocsvm", {}),
    "isoforest": ("isoforest", {}),
}


def tabular(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of a small scikit-learn set, split with ``seed``."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "digits_flat":
        x, y = datasets.load_digits(return_X_y=True)
        perm = np.random.default_rng(seed).permutation(len(x))
        tr, te = perm[:900], perm[900:]
        return x[tr].astype(np.float32), y[tr], x[te].astype(np.float32), y[te]
    base, kind = name.split("_")
    x, y = getattr(datasets, f"load_{base}")(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    if kind == "std":
        mu, sd = xtr.mean(0), xtr.std(0)
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    return xtr.astype(np.float32), ytr, xte.astype(np.float32), yte


def run_cell(dataset: str, variant: str, seeds: list[int], classes: list[int] | None, data_dir: str | None) -> dict:
    method, overrides = VARIANTS[variant]
    per: dict[int, list[float]] = {}
    degenerate, n_runs, t0 = 0, 0, time.time()
    for seed in seeds:
        if dataset == "mnist":
            ds = ocnn_jax.datasets.load("mnist", data_dir=data_dir)
            xtr, ytr, xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
            cfg = {**get_method(method).quick, **overrides} if get_method(method).kind == "deep" else dict(overrides)
            normal = classes
        else:
            xtr, ytr, xte, yte = tabular(dataset, seed)
            cfg, normal = dict(overrides), "all"
        if get_method(method).kind == "deep":
            cfg["check_collapse"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ocnn_jax.fit(xtr, ytr, method=method, normal_classes=normal, seeds=[seed], progress=False, **cfg)
        auc = model.evaluate(xte, y=yte)
        if method == "ocnn":
            bad = degenerate_runs(model.train_metrics)
            degenerate += len(bad)
        n_runs += model.n_runs
        for i, r in enumerate(model.runs):
            per.setdefault(int(r["normal_class"]), []).append(float(auc[i]))
    means = {c: float(np.mean(v)) for c, v in sorted(per.items())}
    out = {"per_class": means, "per_class_runs": per, "mean": float(np.mean(list(means.values()))),
           "min": float(min(means.values())), "runs": n_runs, "seconds": round(time.time() - t0, 1)}
    if method == "ocnn":
        out["degenerate_runs"] = degenerate
    return out


def write_md(results: dict, path: Path) -> None:
    lines = ["# OC-NN representation: the default vs the configurations it replaced (issue 13)", "",
             "Commands (each adds its cells to the JSON beside this file):", "",
             *[f"    {c}" for c in results.get("commands", [])], "",
             f"Machine: {platform.machine()}, {jax.device_count()} {jax.default_backend()} device(s), JAX {jax.__version__}; "
             "shared 2-core CPU (wall times not comparable).", "",
             "AUROC (continuous scores), each class normal in turn, mean over seeds per class; `mean` over classes, "
             "`min` = worst class. `degenerate` = OC-NN runs whose final objective is not below the trivial "
             "head's 0 (`OCNNDegenerateError` with default settings; their AUROCs are included here).", "",
             "| data | variant | mean | min | degenerate / runs | per class |", "|---|---|---|---|---|---|"]
    for ds, cells in results["cells"].items():
        for variant, c in cells.items():
            deg = f"{c['degenerate_runs']} / {c['runs']}" if "degenerate_runs" in c else f"— / {c['runs']}"
            per = " ".join(f"{k}:{v:.3f}" for k, v in c["per_class"].items())
            lines.append(f"| {ds} | {variant} | {c['mean']:.3f} | {c['min']:.3f} | {deg} | {per} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits_flat,wine_std,wine_raw,iris_std,iris_raw")
    p.add_argument("--variants", default=None, help="default: ocnn,ocnn_old,ocsvm,isoforest (tabular); "
                                                    "ocnn,ocnn_raw,ocnn_paper (mnist)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--mnist-classes", default="2,5,8")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "issue13_ocnn_default"))
    args = p.parse_args(argv)
    out = Path(args.out)
    results: dict[str, Any] = {"cells": {}}
    if out.with_suffix(".json").exists():
        results = json.loads(out.with_suffix(".json").read_text())
    seeds = [int(s) for s in args.seeds.split(",")]
    command = "python benchmarks/ocnn_representation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if command not in results.setdefault("commands", []):
        results["commands"].append(command)
    for ds in args.datasets.split(","):
        variants = args.variants.split(",") if args.variants else (
            ["ocnn", "ocnn_raw", "ocnn_paper"] if ds == "mnist" else ["ocnn", "ocnn_old", "ocsvm", "isoforest"])
        classes = [int(c) for c in args.mnist_classes.split(",")] if ds == "mnist" else None
        for v in variants:
            cell = run_cell(ds, v, seeds, classes, args.data_dir)
            cell["seeds"] = seeds
            results["cells"].setdefault(ds, {})[v] = cell
            print(f"{ds:12s} {v:12s} mean {cell['mean']:.3f} min {cell['min']:.3f} "
                  f"degenerate {cell.get('degenerate_runs', '-')} ({cell['seconds']} s)", flush=True)
            out.with_suffix(".json").write_text(json.dumps(results, indent=1))
            write_md(results, out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
