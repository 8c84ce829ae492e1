"""Every method with its DEFAULT settings on the default-settings suite (issues 13 and 20), beside
scikit-learn's estimators with *their* defaults on the raw inputs.

    python benchmarks/default_settings_suite.py --quick                     # the small sets: minutes on a CPU
    python benchmarks/default_settings_suite.py --data-dir DATA             # + MNIST quick and CIFAR-10 quick (hours)
    python benchmarks/default_settings_suite.py --datasets mnist_quick --methods dcae,rcae --data-dir DATA/mnist
    python benchmarks/default_settings_suite.py --quick --methods dcae,rcae,dcae_paper,rcae_paper   # AE before/after

Data sets (inductive one-vs-rest: train on one class's training rows, test on the whole test split, the
other classes are the anomalies; AUROC on continuous scores):

  digits_flat     scikit-learn digits as flat 64-feature vectors through ``fit``, one random 900/897 split
                  (``--split-seed``), each digit normal in turn, seeds 0 1 2
  digits_images   the same digits as 8×8 images, the demo's data (``datasets.load_digits``: fixed stratified
                  50/50 split) through ``sweep`` (its per-dataset defaults), seeds 0 1 2
  wine_std, wine_raw, iris_std, iris_raw
                  scikit-learn wine / iris, each class normal in turn, one stratified 50/50 split
                  (``--split-seed``); ``_raw`` as loaded, ``_std`` standardised with the training split's mean
                  and std before ``fit`` (what a user with a StandardScaler hands over); seeds 0 1 2

  On these ``fit`` sets the seeds vary the initialisation on one split, so every class and seed of a method is
  one ``fit`` call (one compiled program; the split's own variance is not measured).
  mnist_quick     MNIST, the digits of ``--mnist-classes`` (default all 10), 3 seeds, ``sweep(quick=True)`` (the
                  method table's quick epochs)
  cifar10_quick   CIFAR-10, 1 seed, ``sweep(quick=True)``: the deep methods on 3 classes (``--cifar-classes``,
                  default 0 1 2; about 20-50 min per method on 2 CPU cores), the shallow baselines and the
                  scikit-learn columns on all ten (``--cifar-shallow-classes``; minutes per class)

Methods: ours (deep_svdd, soft_boundary, ocnn, dcae, rcae, ocsvm, isoforest, kde) with no overrides —
each with its own default preprocessing, recorded per cell — and scikit-learn's estimators with their
defaults on the raw inputs ([0, 1] pixels for images, the features as handed to ``fit``): sk_ocsvm
(``OneClassSVM()``: RBF, γ="scale", ν=0.5), sk_isoforest (``IsolationForest(random_state=seed)``) and
sk_kde (``KernelDensity()``: Gaussian, bandwidth 1.0, computed exactly as ``methods.shallow.GaussianKDE(1.0)``,
the density ``KernelDensity()`` defines and tested against it; on digits_flat scikit-learn's own tree-based
evaluation departs from it and ranks lower, see issue20_ae_stability_findings.md §13). OC-SVM and KDE are deterministic: on MNIST/CIFAR their
scikit-learn columns are fitted once per class and repeated for every seed.

DCAE/RCAE before and after the output-bias fix (issue 20): ``dcae_paper`` / ``rcae_paper`` (not run unless named)
are ``experiments.VARIANTS``' paper settings (``methods.rcae.PAPER_AE``: the bias-free decoder at lr 1e-4, decay 5e-4, the
defaults before the fix). When the JSON holds a before/after pair, ``ae_stability.md`` is written beside OUT.json
(per data set and class: mean ± std over seeds, worst run, and the issue's targets: seed std <= 3 points per
class, no run below 50 %). For MNIST quick without a ``*_paper`` cell, "before" is read from the committed
``benchmarks/results/reproduce_mnist_quick/results.json`` (the same sweep, quick, seeds 0 1 2, with the
defaults of that day = the paper settings).

Resumable per (data set, method) cell: OUT.json is rewritten after every cell and a cell already in it
is skipped (``--redo`` recomputes the selected cells); the MNIST/CIFAR cells also keep their sweep
directories under ``--work-dir`` (resumed inside a cell). OUT.md is rebuilt from OUT.json every time
(``--report-only`` rebuilds it without training).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jax  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import ocnn_jax  # noqa: E402
from ocnn_jax.experiments import format_table, sweep  # noqa: E402
from ocnn_jax.methods import SHALLOW_METHODS  # noqa: E402  (with SKLEARN: run on --cifar-shallow-classes)

OURS = ("deep_svdd", "soft_boundary", "ocnn", "dcae", "rcae", "ocsvm", "isoforest", "kde")
SKLEARN = ("sk_ocsvm", "sk_isoforest", "sk_kde")
#: The paper-setting AEs (experiments.VARIANTS), the "before" of issue 20's fix; run only when named.
PAPER = ("dcae_paper", "rcae_paper")
#: After (default) -> before (paper settings).
BEFORE = {"dcae": "dcae_paper", "rcae": "rcae_paper"}
#: The committed MNIST quick sweep with the pre-fix defaults (= the paper settings for DCAE/RCAE).
MNIST_BEFORE = REPO / "benchmarks" / "results" / "reproduce_mnist_quick" / "results.json"
#: Our baseline -> the scikit-learn column printed beside it.
BESIDE = {"ocsvm": "sk_ocsvm", "isoforest": "sk_isoforest", "kde": "sk_kde"}
SMALL = ("digits_flat", "digits_images", "wine_std", "wine_raw", "iris_std", "iris_raw")
LARGE = ("mnist_quick", "cifar10_quick")
DATASETS = SMALL + LARGE
SEEDS = (0, 1, 2)
SCHEMA = 1


# --------------------------------------------------------------------------------------------------
# Data: (x_train, y_train, x_test, y_test) as a user hands them over, per seed


def _digits_flat(seed: int):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(x))
    tr, te = perm[:900], perm[900:]
    return x[tr].astype(np.float32), y[tr], x[te].astype(np.float32), y[te]


def _tabular(name: str, standardised: bool) -> Callable[[int], tuple]:
    def load(seed: int):
        from sklearn import datasets
        from sklearn.model_selection import train_test_split

        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
        if standardised:
            mean, std = xtr.mean(0), xtr.std(0)
            xtr, xte = (xtr - mean) / std, (xte - mean) / std
        return xtr.astype(np.float32), ytr, xte.astype(np.float32), yte

    return load


#: Data sets fitted through ``fit`` on per-seed splits.
FIT_DATA: dict[str, Callable[[int], tuple]] = {
    "digits_flat": _digits_flat,
    "wine_std": _tabular("wine", True),
    "wine_raw": _tabular("wine", False),
    "iris_std": _tabular("iris", True),
    "iris_raw": _tabular("iris", False),
}


def _raw_rows(x: np.ndarray) -> np.ndarray:
    """The raw inputs as scikit-learn gets them: uint8 pixels / 255, flattened; floats unchanged."""
    x = np.asarray(x)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x.reshape(len(x), -1)


def _sklearn_scores(method: str, x_normal: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """Anomaly scores (higher = more anomalous) of a scikit-learn estimator with its defaults."""
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    from ocnn_jax.methods.shallow import GaussianKDE

    if method == "sk_ocsvm":
        return -OneClassSVM().fit(x_normal).decision_function(x_test)
    if method == "sk_isoforest":
        return -IsolationForest(random_state=seed).fit(x_normal).score_samples(x_test)
    if method == "sk_kde":
        return -GaussianKDE(1.0).fit(x_normal).score_samples(x_test)  # == KernelDensity() (bandwidth 1.0)
    raise ValueError(method)


def _method_and_overrides(method: str, dataset: str = "") -> tuple[str, dict[str, Any]]:
    """Ours and the paper variants as (``fit`` method, config overrides); CIFAR-10 gets its family's paper row."""
    from ocnn_jax.experiments import VARIANTS
    from ocnn_jax.methods.rcae import paper_ae

    if method in PAPER and dataset == "cifar10_quick":
        return VARIANTS[method][0], paper_ae("cifar_lenet")
    return VARIANTS[method] if method in PAPER else (method, {})


# --------------------------------------------------------------------------------------------------
# Cells: one (data set, method) -> {"classes": [...], "seeds": [...], "auroc": [[per seed] per class], ...}


def _fit_cell(dataset: str, method: str, seeds: Sequence[int], split_seed: int, progress: bool,
              check_collapse: bool = True) -> dict[str, Any]:
    """A small data set through ``fit``: one split, one call for every class (normal in turn) and seed.
    ``check_collapse``: as in ``fit`` (False: degenerate or collapsed runs are measured, not raised)."""
    auroc: dict[int, list[float]] = {}
    xtr, ytr, xte, yte = FIT_DATA[dataset](split_seed)
    if method in SKLEARN:
        xn_all, xt = _raw_rows(xtr), _raw_rows(xte)
        for c in sorted(np.unique(ytr).tolist()):
            for k, seed in enumerate(seeds):  # OC-SVM and KDE are deterministic: one fit, repeated per seed
                s = _sklearn_scores(method, xn_all[ytr == c], xt, seed) if method == "sk_isoforest" or not k else None
                auroc.setdefault(c, []).append(float(roc_auc_score((yte != c).astype(int), s)) if s is not None
                                               else auroc[c][0])
        preprocessing = "raw"
    else:
        fit_method, overrides = _method_and_overrides(method)
        model = ocnn_jax.fit(xtr, ytr, method=fit_method, normal_classes="all", seeds=list(seeds), progress=progress,
                             check_collapse=check_collapse, **overrides)
        aucs = model.evaluate(xte, y=yte)
        by_run: dict[tuple[int, int], float] = {}
        for run, a in zip(model.runs, aucs):
            by_run[int(run["normal_class"]), int(run["seed"])] = float(a)
        for (c, seed) in sorted(by_run, key=lambda k: (k[0], list(seeds).index(k[1]))):
            auroc.setdefault(c, []).append(by_run[c, seed])
        preprocessing = model.preprocessing.mode
    classes = sorted(auroc)
    return {"classes": [str(c) for c in classes], "seeds": list(seeds), "auroc": [auroc[c] for c in classes],
            "preprocessing": preprocessing, "config": _method_and_overrides(method)[1], "split_seed": split_seed}


def _sweep_dataset(dataset: str) -> tuple[str, bool]:
    return {"digits_images": ("digits", False), "mnist_quick": ("mnist", True), "cifar10_quick": ("cifar10", True)}[dataset]


def _load(name: str, data_dir: str | None):
    from ocnn_jax.datasets import load, load_digits

    if name == "digits":
        return load_digits()
    return load(name, data_dir=data_dir)


def _sweep_cell(dataset: str, method: str, classes: Sequence[int], seeds: Sequence[int], data_dir: str | None,
                work_dir: str, progress: bool, check_collapse: bool = True, fresh: bool = False) -> dict[str, Any]:
    """digits images, MNIST and CIFAR-10 through ``sweep`` (its per-dataset defaults; ``quick`` for the
    large sets); the scikit-learn columns on the same classes and seeds. ``check_collapse``: as in ``fit``;
    ``fresh`` (``--redo``): delete the cell's old sweep directory instead of resuming it (it may hold
    runs of other code or settings)."""
    name, quick = _sweep_dataset(dataset)
    if method in SKLEARN:
        ds = _load(name, data_dir)
        xt = _raw_rows(ds.x_test)
        xtr = ds.x_train
        auroc = []
        deterministic = method != "sk_isoforest"
        for c in classes:
            truth = (np.asarray(ds.y_test) != c).astype(int)
            xn = _raw_rows(xtr[np.asarray(ds.y_train) == c])
            row = []
            for k, seed in enumerate(seeds):
                if deterministic and k:
                    row.append(row[0])  # same fit for every seed
                    continue
                row.append(float(roc_auc_score(truth, _sklearn_scores(method, xn, xt, seed))))
            auroc.append(row)
        return {"classes": [ds.classes[c] for c in classes], "seeds": list(seeds), "auroc": auroc,
                "preprocessing": "raw", "config": {}, "deterministic": deterministic}
    out = os.path.join(work_dir, dataset, method)
    fit_method, overrides = _method_and_overrides(method, dataset)
    results = sweep(name, method=fit_method, normal_classes=list(classes), seeds=list(seeds), data_dir=data_dir,
                    out_dir=out, resume=not fresh, overwrite=fresh, quick=quick, progress=progress, figures=False,
                    check_collapse=check_collapse, **overrides)
    (setting,) = results["settings"]  # defaults only: no grid
    by_class = {p["normal_class"]: p for p in setting["per_class"]}
    return {"classes": [by_class[c]["class_name"] for c in classes], "seeds": list(seeds),
            "auroc": [by_class[c]["aurocs"] for c in classes], "preprocessing": results["preprocessing"],
            "config": results["config"], "sweep_dir": os.path.relpath(out, REPO)}


# --------------------------------------------------------------------------------------------------
# Summaries and the report


def _commands(results: dict[str, Any], cells: Sequence[dict[str, Any]] | None = None) -> list[str]:
    """Markdown list of the distinct commands that computed ``cells`` (default: all), in order."""
    cells = list(results["cells"].values()) if cells is None else cells
    seen = dict.fromkeys(f"`{c['command']}`" if c.get("command") else
                         f"before: `{c['source']}`" if c.get("source") else "" for c in cells)
    return [f"- {c}" for c in seen if c]


def merged_command(command: str) -> str:
    """A merged cell's command as recorded: its own --out/--work-dir (local paths) shown as OTHER.json /
    OTHER_runs, and the merge noted; a command already noted is kept."""
    if not command or "# merged with" in command:
        return command
    words = command.split()
    for flag, name in (("--out", "OTHER.json"), ("--work-dir", "OTHER_runs")):
        if flag in words[:-1]:
            words[words.index(flag) + 1] = name
    return " ".join(words) + "  # merged with --merge OTHER.json"


def summarise(cell: dict[str, Any]) -> dict[str, float]:
    """mean: over classes of the per-class seed means; std: over seeds of the class-averaged AUROC (the
    seeds' spread of the data set's mean); worst class mean; worst single run; largest per-class seed std."""
    a = np.asarray(cell["auroc"], np.float64)  # (classes, seeds)
    per_seed = a.mean(axis=0)
    return {"mean": float(a.mean()), "std": float(per_seed.std()), "worst_class": float(a.mean(axis=1).min()),
            "worst_run": float(a.min()), "max_class_std": float(a.std(axis=1).max())}


def _pct(v: float) -> str:
    return f"{100 * v:.2f}"


def _pct_or_dash(summary: dict[str, float] | None, key: str) -> str:
    """``summary[key]`` in percent, or "—" when there is no summary (a cell that was not run)."""
    return "—" if summary is None else _pct(summary[key])


def restrict(cell: dict[str, Any], classes: Sequence[str]) -> dict[str, Any]:
    """``cell`` with only the rows of ``classes`` (those it holds), so that cells run on different class
    sets (CIFAR-10: the deep methods on three, the shallow baselines on ten) are compared on the same ones."""
    wanted = set(classes)
    keep = [i for i, c in enumerate(cell["classes"]) if c in wanted]
    return {**cell, "classes": [cell["classes"][i] for i in keep], "auroc": [cell["auroc"][i] for i in keep]}


def _ocnn_target_row(cells: dict[str, Any], d: str, methods: Sequence[str]) -> list[str]:
    """One row of the OC-NN target table for data set ``d`` (the baselines on OC-NN's classes)."""
    oc = cells.get(f"{d}/ocnn")
    on = (lambda c: restrict(c, oc["classes"])) if oc else (lambda c: c)
    base = [summarise(on(cells[f"{d}/{m}"]))["mean"] for m in ("ocsvm", "isoforest") if f"{d}/{m}" in cells]
    lows = [(summarise(cells[f"{d}/{m}"])["worst_class"], m) for m in methods
            if m in OURS and f"{d}/{m}" in cells]
    low = f"{_pct(min(lows)[0])} ({min(lows)[1]})" if lows else "—"
    if oc is None or not base:
        return [d, _pct(summarise(oc)["mean"]) if oc else "—", _pct(max(base) - 0.01) if base else "—", "—", low]
    m, bar = summarise(oc)["mean"], max(base) - 0.01
    return [d, _pct(m), _pct(bar), "yes" if m >= bar else f"no ({100 * (m - bar):+.2f})", low]


def markdown(results: dict[str, Any]) -> str:
    cells = results["cells"]
    lines = [
        "# Default-settings suite",
        "",
        "Every method with its **default settings** (no overrides; each method's own default preprocessing, "
        "shown per cell), beside scikit-learn's estimators with *their* defaults on the raw inputs "
        "(`OneClassSVM()`, `IsolationForest(random_state=seed)`, `KernelDensity()`; sk_kde is the density "
        "`KernelDensity()` defines, computed exactly: on digits_flat scikit-learn's own tree-based evaluation "
        "ranks lower, 90.21, `issue20_ae_stability_findings.md` §13). Inductive one-vs-rest, "
        "AUROC % on continuous scores. *mean*: over classes of the per-class seed means; *± std*: over seeds "
        "of the class-averaged AUROC; *worst class*: lowest per-class mean; *worst run*: lowest single "
        "(class, seed); *max class std*: largest per-class seed std. The data sets are described in "
        "`benchmarks/default_settings_suite.py`.",
        "",
        f"{results['environment']['platform']}; JAX {results['environment']['jax']} "
        f"({results['environment']['backend']}); {results['environment']['cpu_count']} CPUs shared with other jobs "
        "(wall times are not comparable). Commands (the cells were computed in these invocations, resumed per cell):",
        "",
        *_commands(results),
        "",
    ]
    datasets = [d for d in DATASETS if any(k.startswith(d + "/") for k in cells)]
    methods = [m for m in OURS + PAPER + SKLEARN if any(k.endswith("/" + m) for k in cells)]
    header = ["data set"] + [m for m in methods]
    rows = []
    mixed = []  # data sets whose cells cover different class sets
    for d in datasets:
        row = [d]
        counts = {len(c["classes"]) for k, c in cells.items() if k.startswith(d + "/")}
        if len(counts) > 1:
            mixed.append(d)
        for m in methods:
            c = cells.get(f"{d}/{m}")
            if c is None:
                row.append("—")
                continue
            s = summarise(c)
            row.append(f"{_pct(s['mean'])} ± {_pct(s['std'])}" + (f" ({len(c['classes'])} cl.)" if len(counts) > 1 else ""))
        rows.append(row)
    lines += ["## Mean AUROC ± std over seeds, per data set", "", format_table(header, rows), ""]
    if mixed:
        lines += [f"On {', '.join(mixed)} the cells cover different classes (*cl.*: how many; the classes are in the "
                  "per-data-set tables below): compare a row's means only between cells of the same count. The OC-NN "
                  "target table compares on OC-NN's classes.", ""]

    # our baselines beside scikit-learn's
    pairs = [(ours, sk) for ours, sk in BESIDE.items() if ours in methods or sk in methods]
    if pairs:
        header = ["data set"] + [h for ours, sk in pairs for h in (ours, sk, "diff")]
        rows = []
        for d in datasets:
            row = [d]
            for ours, sk in pairs:
                a, b = cells.get(f"{d}/{ours}"), cells.get(f"{d}/{sk}")
                ma = summarise(a)["mean"] if a else None
                mb = summarise(b)["mean"] if b else None
                row += [_pct(ma) if a else "—", _pct(mb) if b else "—",
                        f"{100 * (ma - mb):+.2f}" if a and b else "—"]
            rows.append(row)
        lines += ["## Our shallow baselines (defaults) beside scikit-learn's (defaults, raw inputs)", "",
                  format_table(header, rows), ""]

    if "ocnn" in methods:
        lines += ["## OC-NN against the issue-13 targets", "",
                  "OC-NN's mean must reach the better of our OC-SVM and Isolation Forest minus 1 point on every data "
                  "set; no method's class mean may fall below 60 % outside CIFAR-10 (*lowest class mean*: the lowest "
                  "per-class mean of any of our methods in the cell's row, with its method).", "",
                  format_table(["data set", "ocnn", "max(ocsvm, isoforest) − 1", "met", "lowest class mean"],
                               [_ocnn_target_row(cells, d, methods) for d in datasets]), ""]

    lines += ["## Per data set", ""]
    for d in datasets:
        present = [m for m in methods if f"{d}/{m}" in cells]
        first = cells[f"{d}/{present[0]}"]
        lines += [f"### {d}", ""]
        stab = [[m, cells[f"{d}/{m}"].get("preprocessing") or "", *(_pct(v) for v in summarise(cells[f"{d}/{m}"]).values()),
                 cells[f"{d}/{m}"].get("code", "")] for m in present]
        lines += [format_table(["method", "preprocessing", "mean", "± std", "worst class", "worst run", "max class std",
                                "code"], stab), ""]
        header = ["class"] + present
        rows = []
        names = list(dict.fromkeys(c for m in present for c in cells[f"{d}/{m}"]["classes"]))  # cells may hold fewer
        for cname in sorted(names, key=lambda c: (len(c), c)):
            row = [cname]
            for m in present:
                cell = cells[f"{d}/{m}"]
                if cname not in cell["classes"]:
                    row.append("—")
                    continue
                a = np.asarray(cell["auroc"][cell["classes"].index(cname)], np.float64)
                row.append(f"{_pct(a.mean())} ± {_pct(a.std())}")
            rows.append(row)
        lines += [format_table(header, rows), "",
                  f"Seeds {first['seeds']}; per class mean ± population std over seeds.", ""]
    return "\n".join(lines) + "\n"


def _mnist_before(method: str, classes: Sequence[str]) -> dict[str, Any] | None:
    """The pre-fix MNIST quick cell of DCAE/RCAE from the committed sweep (the paper settings), restricted
    to ``classes``; None when the file or a class is missing."""
    if not MNIST_BEFORE.exists():
        return None
    per_class = {p["class_name"]: p for p in json.loads(MNIST_BEFORE.read_text())["methods"].get(method, {}).get("per_class", [])}
    if not classes or any(c not in per_class for c in classes):
        return None
    return {"classes": list(classes), "seeds": per_class[classes[0]]["seeds"],
            "auroc": [per_class[c]["aurocs"] for c in classes], "preprocessing": "gcn_minmax",
            "source": os.path.relpath(MNIST_BEFORE, REPO)}


def _targets_met(cell: dict[str, Any]) -> str:
    """The issue's targets: every class's seed std <= 3 points and no single run below 50 %."""
    s = summarise(cell)
    return "yes" if s["max_class_std"] <= 0.03 and s["worst_run"] >= 0.5 else "no"


def ae_stability_markdown(results: dict[str, Any]) -> str | None:
    """DCAE/RCAE before (paper settings) and after (defaults) per data set and class; None without a pair."""
    cells = results["cells"]
    pairs = []  # (data set, after method, after cell, before cell or None)
    for d in DATASETS:
        for after, before in BEFORE.items():
            a = cells.get(f"{d}/{after}")
            if a is None:
                continue
            b = cells.get(f"{d}/{before}")
            if b is None and d == "mnist_quick":
                b = _mnist_before(after, a["classes"])
            pairs.append((d, after, a, b if b is not None and b["classes"] == a["classes"] else None))
    if not any(b is not None for *_, b in pairs):
        return None
    lines = [
        "# DCAE and RCAE before and after the output-bias fix (issue 20)",
        "",
        "*Before*: the paper settings, the defaults until issue 20 (`output_bias=\"none\", lr=1e-4, weight_decay=5e-4`, "
        "`methods.rcae.PAPER_AE`, the `dcae_paper`/`rcae_paper` cells). *After*: the defaults (a learnable decoder "
        "output bias initialised at the normal class's mean, its logit under the sigmoid, and lr 1e-3; on the MLP "
        "(every data set here but MNIST and CIFAR-10) also weight decay 0.05 instead of 5e-4). Everything "
        "else equal (data set, split, seeds, epochs). AUROC %; *± std*: population std over seeds of the "
        "class-averaged AUROC; *max class std*: the largest per-class seed std; *targets*: every class's seed std "
        "<= 3 points and no run below 50 % (→: before → after). Produced by `benchmarks/default_settings_suite.py` "
        "with the commands:",
        "",
        *_commands(results, [c for pair in pairs for c in pair[2:] if c is not None]),
        "",
    ]
    header = ["data set", "method", "before", "after", "worst run", "max class std", "targets met"]
    rows = []
    for d, m, a, b in pairs:
        sa = summarise(a)
        sb = summarise(b) if b is not None else None  # no before cell: "—"
        one = len(a["seeds"]) == 1  # no spread to report from one seed
        rows.append([d, m, "—" if sb is None else f"{_pct(sb['mean'])} ± {_pct(sb['std'])}",
                     f"{_pct(sa['mean'])} (1 seed)" if one else f"{_pct(sa['mean'])} ± {_pct(sa['std'])}",
                     f"{_pct_or_dash(sb, 'worst_run')} → {_pct(sa['worst_run'])}",
                     f"{_pct_or_dash(sb, 'max_class_std')} → {'n/a' if one else _pct(sa['max_class_std'])}",
                     f"{'—' if b is None else _targets_met(b)} → {_targets_met(a)}"])
    cifar_miss = any(d == "cifar10_quick" and _targets_met(a) == "no" for d, _, a, _ in pairs)
    lines += ["## Summary", "", format_table(header, rows), "",
              "The cause (the bias-free sigmoid decoder learning the background level through the kernels that draw "
              "the digit; BatchNorm train/eval mode changes AUROC by < 1.2 points) and the candidate fixes one at a "
              "time, with MNIST quick digits 1, 4 and 7, are in `benchmarks/results/issue20_ae_stability_findings.md`; "
              "so is the cause on the small feature sets (the over-complete MLP AE fits its few training rows almost "
              "exactly and each seed extrapolates differently; three seeds hid it at the paper settings too) and the "
              "MLP's weight decay 0.05 that removes it (section 3). A data set without a *before* cell (—) was "
              "run with the defaults only."
              + (" On CIFAR-10 a run under 50 % is bird's, on every seed (three seeds: "
                 "`benchmarks/results/issue20_cifar_ae_seeds.json`, seed std <= 0.4 points): on the GCN input the "
                 "reconstruction error tracks each image's inverse contrast, and bird is a low-contrast class, "
                 "so ships and the other animals rank as more normal than birds (findings sections 8 and 12)."
                 if cifar_miss else ""),
              ""]
    for d, m, a, b in pairs:
        if b is None:
            continue
        lines += [f"## {d}, {m}", ""]
        if "source" in b:
            lines += [f"Before: from `{b['source']}` (the same sweep with the defaults of that day).", ""]
        rows = []
        for i, cname in enumerate(a["classes"]):
            ra, rb = np.asarray(a["auroc"][i], np.float64), np.asarray(b["auroc"][i], np.float64)
            rows.append([cname, " / ".join(_pct(v) for v in rb), f"{_pct(rb.mean())} ± {_pct(rb.std())}",
                         " / ".join(_pct(v) for v in ra), f"{_pct(ra.mean())} ± {_pct(ra.std())}"])
        lines += [format_table(["class", f"before, seeds {b['seeds']}", "before mean ± std",
                                f"after, seeds {a['seeds']}", "after mean ± std"], rows), ""]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------


def _code_version() -> str:
    """The repository's commit (short hash, "+dirty" with uncommitted changes under ocnn_jax/ or this script)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ocnn_jax", "benchmarks/default_settings_suite.py"],
                               cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _environment() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(), "jax": jax.__version__,
            "backend": jax.default_backend(), "devices": [d.device_kind for d in jax.devices()],
            "cpu_count": os.cpu_count()}


def _write(path_json: Path, results: dict[str, Any]) -> None:
    path_json.parent.mkdir(parents=True, exist_ok=True)
    tmp = path_json.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, path_json)
    path_json.with_suffix(".md").write_text(markdown(results))
    stability = ae_stability_markdown(results)
    if stability is not None:
        (path_json.parent / "ae_stability.md").write_text(stability)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=None, help=f"comma list (default: all, or the small ones with --quick): {','.join(DATASETS)}")
    p.add_argument("--methods", default=",".join(OURS + SKLEARN),
                   help=f"comma list of ours, sk_* and {','.join(PAPER)} (default: ours and sk_*)")
    p.add_argument("--seeds", type=int, default=len(SEEDS), help=f"seeds 0 .. k-1 (default {len(SEEDS)})")
    p.add_argument("--split-seed", type=int, default=0, help="the train/test split of the fit sets (default 0)")
    p.add_argument("--mnist-classes", default="0,1,2,3,4,5,6,7,8,9", help="the MNIST digits (default all 10)")
    p.add_argument("--quick", action="store_true", help=f"only the small data sets ({','.join(SMALL)})")
    p.add_argument("--data-dir", default=None,
                   help="folder holding mnist/ and cifar10/ (or a data set's own folder when only one large set is run); "
                        "default: ocnn_jax.datasets' search order")
    p.add_argument("--cifar-classes", default="0,1,2", help="the deep methods' CIFAR-10 classes (default 0,1,2)")
    p.add_argument("--cifar-shallow-classes", default=",".join(map(str, range(10))),
                   help="the shallow baselines' and scikit-learn's CIFAR-10 classes (default all ten)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "default_settings_suite.json"),
                   help="results JSON (the Markdown goes beside it, .md)")
    p.add_argument("--work-dir", default=None, help="sweep folders of the large cells (default: OUT without .json + '_runs')")
    p.add_argument("--redo", action="store_true",
                   help="recompute the selected cells even if OUT.json has them (their old sweep folders are deleted)")
    p.add_argument("--report-only", action="store_true", help="rebuild OUT.md from OUT.json, train nothing")
    p.add_argument("--merge", default=None, metavar="OTHER_JSON",
                   help="copy the cells of another run's JSON (e.g. one run in parallel with its own --out) that OUT.json "
                        "lacks, then rebuild the reports; trains nothing")
    p.add_argument("--replace", action="store_true",
                   help="with --merge: OTHER_JSON's cells also replace OUT.json's cells of the same key (e.g. "
                        "cells recomputed elsewhere after a default changed)")
    p.add_argument("--progress", action="store_true", help="progress bars")
    p.add_argument("--no-collapse-check", action="store_true",
                   help="measure cells even when a run is degenerate (OC-NN) or collapsed (Deep SVDD) instead of "
                        "stopping; such cells record collapse_check: off")
    args = p.parse_args(argv)
    check = not args.no_collapse_check

    out = Path(args.out)
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    results.setdefault("schema_version", SCHEMA)
    results.setdefault("cells", {})
    if args.replace and not args.merge:
        p.error("--replace needs --merge OTHER_JSON")
    if args.merge:
        other = json.loads(Path(args.merge).read_text())["cells"]
        added = sorted(set(other) if args.replace else set(other) - set(results["cells"]))
        results["cells"].update({k: {**other[k], "command": merged_command(other[k].get("command", ""))}
                                 for k in added})
        print(f"merged {len(added)} cells from {args.merge}: {', '.join(added) or 'none'}")
    if args.report_only or args.merge:
        if not results["cells"]:
            p.error(f"--report-only: no cells in {out}")
        _write(out, results)
        print(markdown(results))
        return 0

    datasets = [d.strip() for d in (args.datasets or ",".join(SMALL if args.quick else DATASETS)).split(",") if d.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name, given, allowed in (("--datasets", datasets, DATASETS), ("--methods", methods, OURS + PAPER + SKLEARN)):
        bad = sorted(set(given) - set(allowed))
        if bad:
            p.error(f"{name}: unknown {bad}; choose from {list(allowed)}")
    cifar_classes = [int(c) for c in args.cifar_classes.split(",")]
    cifar_shallow_classes = [int(c) for c in args.cifar_shallow_classes.split(",")]
    mnist_classes = [int(c) for c in args.mnist_classes.split(",")]
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    seeds = tuple(range(args.seeds))
    work_dir = args.work_dir or str(out.with_suffix("")) + "_runs"

    def data_dir_for(name: str) -> str | None:
        if args.data_dir is None:
            return None
        sub = os.path.join(args.data_dir, name)
        return sub if os.path.isdir(sub) else args.data_dir

    results["environment"] = _environment()
    results["command"] = "python benchmarks/default_settings_suite.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for d in datasets:
        for m in methods:
            key = f"{d}/{m}"
            if key in results["cells"] and not args.redo:
                print(f"{key}: done (in {out.name}); --redo recomputes it", flush=True)
                continue
            t0 = time.perf_counter()
            if d in FIT_DATA:
                cell = _fit_cell(d, m, seeds, args.split_seed, args.progress, check)
            elif d == "digits_images":
                cell = _sweep_cell(d, m, list(range(10)), seeds, None, work_dir, args.progress, check, args.redo)
            elif d == "mnist_quick":
                cell = _sweep_cell(d, m, mnist_classes, seeds, data_dir_for("mnist"), work_dir, args.progress, check,
                                   args.redo)
            else:
                classes = cifar_shallow_classes if m in SHALLOW_METHODS + SKLEARN else cifar_classes
                cell = _sweep_cell(d, m, classes, (0,), data_dir_for("cifar10"), work_dir, args.progress, check,
                                   args.redo)
            cell.update(dataset=d, method=m, wall_s=time.perf_counter() - t0, date=time.strftime("%Y-%m-%d %H:%M:%S"),
                        command=results["command"], code=_code_version())
            if not check:
                cell["collapse_check"] = "off"
            results["cells"][key] = cell
            _write(out, results)  # after every cell: an interrupted run resumes from here
            s = summarise(cell)
            print(f"{key}: {_pct(s['mean'])} ± {_pct(s['std'])} (worst class {_pct(s['worst_class'])}, "
                  f"worst run {_pct(s['worst_run'])}; preprocessing {cell['preprocessing']}; {cell['wall_s']:.0f} s)",
                  flush=True)
    _write(out, results)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
