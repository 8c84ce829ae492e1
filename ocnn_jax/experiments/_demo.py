"""The embedded demo and the method comparison: each digit as the normal class × seeds, one program per
deep method, each shallow baseline on its own default input (``methods.registry.SHALLOW_PREPROCESSING``).

Protocol: inductive one-vs-rest (docs/algorithms.md §7). scikit-learn digits: the fixed stratified 50/50 split
of ``ocnn_jax.datasets.load_digits`` (random_state 0); MNIST: the official splits (train on one digit's
training images, test on the whole test split, anomaly = any other digit). l1 GCN + min-max with the
normal digit's constants; MLP backbone (64 → 32) on digits, LeNet on MNIST.
"""

from __future__ import annotations

import json
import platform
import textwrap
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from ..frontend._fit import fit
from ..datasets import Dataset, load, load_digits
from ..engine._checkpoint import atomic_write_bytes
from ..frontend._model import Model
from ..methods.rcae import PAPER_AE, noise_nonzero_per_iteration, paper_ae
from ..methods.defaults import dataset_defaults
from ..methods.ocnn import PAPER_OCNN
from ..methods.registry import METHODS, get_method
from ._outdir import check_new_file_path
from ._report import TABLE_WIDTH, format_table, per_class_summary

__all__ = ["run_demo", "run_comparison", "method_settings", "VARIANTS", "ALL_METHODS"]

#: Named variants for tables: name -> (method, overrides). OC-NN's default puts an RBF layer between z and
#: the head (docs/algorithms.md §2); "ocnn_paper" is the paper's exact configuration (``PAPER_OCNN``: the
#: head with g linear on the frozen pretrained codes), "ocnn_encoder" / "ocnn_input" the default layer on
#: the pretrained codes / the preprocessed input, "ocnn_encoder_l2" the paper's head on unit-norm codes.
#: "dcae_paper"/"rcae_paper" are the paper's bias-free AE at lr 1e-4 and weight decay 5e-4
#: (``methods.rcae.PAPER_AE``; on CIFAR-10 ``method_settings`` gives the family's 5e-7; the defaults add a
#: data-mean output bias, and the MLP a stronger decay).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dcae_paper": ("dcae", PAPER_AE),
    "rcae_paper": ("rcae", PAPER_AE),
    "ocnn_paper": ("ocnn", dict(PAPER_OCNN)),
    "ocnn_input": ("ocnn", {"features": "input"}),
    "ocnn_encoder": ("ocnn", {"features": "encoder"}),
    "ocnn_encoder_l2": ("ocnn", {"features": "encoder_l2", "kernel": "none", "g": "linear"}),
}

#: What ``--methods all`` compares: every method of the method table. Variants (e.g. "ocnn_paper", the paper's
#: exact OC-NN) are compared only when named.
ALL_METHODS: tuple[str, ...] = METHODS

#: Methods whose comparison columns are followed by the paper-comparable sign AUROC (docs/algorithms.md §8).
SIGN_AUROC_METHODS: tuple[str, ...] = ("ocnn",)
SIGN_AUROC_LABEL = "paper-comparable sign AUROC"

_LABELS = {"ocsvm": "OC-SVM (RBF)", "isoforest": "IsolationForest", "kde": "KDE", "ocnn_input": "ocnn (features=input)",
           "ocnn_paper": "ocnn (paper, §2)", "ocnn_encoder": "ocnn (features=encoder)",
           "ocnn_encoder_l2": "ocnn (features=encoder_l2, paper head)"}


def method_settings(name: str, dataset: str = "digits") -> tuple[str, dict[str, Any]]:
    """(method, fit overrides) of a method or variant name for ``dataset``: the variant's overrides on top
    of the data set's row of ``ocnn_jax.methods.defaults.DATASET_DEFAULTS`` (digits: small-data batches)."""
    method, extra = VARIANTS.get(name, (name, {}))
    if method not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {sorted(METHODS) + sorted(VARIANTS)}")
    if name in ("dcae_paper", "rcae_paper") and dataset == "cifar10":
        extra = paper_ae("cifar_lenet")
    base = dataset_defaults(dataset, method)
    return method, {**base, **extra}


def _load(dataset: str, data_dir: str | None, *, verify: bool = True, download: bool = False) -> Dataset:
    if dataset == "digits":
        return load_digits()
    return load(dataset, data_dir=data_dir, verify=verify, download=download)


def _evaluate(name: str, ds: Dataset, classes: Any, seeds: int | Sequence[int], progress: bool,
              overrides: dict[str, Any], callbacks: Sequence[Any] = ()
              ) -> tuple[Model, np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """Fit one method or variant on every requested class × seed; (model, (M, n_test) test scores,
    {"auroc", "aupr"}: (M,) test values, settings). The test set is scored once."""
    method, cfg = method_settings(name, ds.name)
    cfg = {**cfg, **overrides}
    extra = {"callbacks": callbacks} if callbacks and get_method(method).kind == "deep" else {}
    model = fit(ds.x_train, ds.y_train, method=method, normal_classes=classes, seeds=seeds, progress=progress,
                **extra, **cfg)
    scores = model.score(ds.x_test)
    return model, scores, model.evaluate_scores(scores, y=ds.y_test, metrics=("auroc", "aupr")), cfg


def _summary(model: Model, aucs: np.ndarray, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    rows = np.arange(model.n_runs) if rows is None else rows
    runs = model.runs
    return per_class_summary(aucs[rows], [runs[i]["normal_class"] for i in rows])


def run_demo(
    method: str = "deep_svdd",
    seeds: int = 3,
    progress: bool = True,
    baseline: bool = True,
    json_path: str | None = None,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """Train and evaluate every digit × seed of one method (one program); print and return the table.

    With ``baseline``, the ``ocsvm`` method with its defaults (its own input, label-free γ) is shown beside it.
    """
    if json_path:
        check_new_file_path(json_path, "json_path")  # before training, not after
    t0 = time.perf_counter()
    ds = load_digits()
    model, _, values, cfg = _evaluate(method, ds, "all", seeds, progress, overrides, callbacks)
    summary = _summary(model, values["auroc"])
    svm: dict[Any, float] = {}
    if baseline:
        svm_model, _, svm_values, _ = _evaluate("ocsvm", ds, "all", seeds, False, {})
        svm = {row["normal_class"]: row["mean"] for row in _summary(svm_model, svm_values["auroc"])}
    wall = time.perf_counter() - t0

    header = ["digit", f"{method} AUROC % (mean ± std, {len(model.runs) // len(summary)} seeds)"]
    if baseline:
        header.append("OC-SVM (RBF) AUROC %")
    rows = []
    for row in summary:
        cells = [row["normal_class"], f"{100 * row['mean']:.2f} ± {100 * row['std']:.2f}"]
        if baseline:
            cells.append(f"{100 * svm[row['normal_class']]:.2f}")
        rows.append(cells)
    mean = float(np.mean([r["mean"] for r in summary]))
    mean_row = ["mean", f"{100 * mean:.2f}"]
    if baseline:
        mean_row.append(f"{100 * float(np.mean(list(svm.values()))):.2f}")
    rows.append(mean_row)
    where = "runs in one program" if get_method(method).kind == "deep" else "runs (host, scikit-learn)"
    print()
    print(f"ocnn_jax demo: scikit-learn digits, inductive one-vs-rest, {model.n_runs} {where}")
    print(format_table(header, rows))
    print(
        f"wall time {wall:.1f} s (training incl. compilation {model.wall_time:.1f} s) on "
        f"{jax.default_backend()} ({jax.device_count()} device(s)), seeds {sorted(set(model.run_seeds.tolist()))}"
    )
    result = {
        "dataset": "digits",
        "protocol": "inductive one-vs-rest, " + ds.split_note,
        "method": method,
        "config": cfg,
        "per_class": summary,
        "mean_auroc": mean,
        "ocsvm": {str(k): v for k, v in svm.items()},
        "wall_time_s": wall,
        "train_time_s": model.wall_time,
        "device": f"{jax.default_backend()}: {jax.devices()[0].device_kind}",
        "machine": platform.platform(),
    }
    _write_json(json_path, result)
    return result


def run_comparison(
    methods: Sequence[str] = ALL_METHODS,
    *,
    dataset: str = "digits",
    classes: Any = "all",
    seeds: int | Sequence[int] = 3,
    data_dir: str | None = None,
    verify: bool = True,
    download: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
    json_path: str | None = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """AUROC % and AUPR % mean ± std (population, over seeds) per normal class for several methods side
    by side: one table per metric, split into column blocks that fit 120 characters.

    Args:
      methods: method names (``ocnn_jax.METHODS``; default all of them) or variants (``VARIANTS``, e.g.
        "ocnn_paper", compared only when named).
      dataset: "digits" (embedded) or a ``ocnn_jax.datasets.load`` name such as "mnist".
      classes: the normal classes ("all" or a list of labels).
      seeds: number of seeds or a list; every method uses the same seeds.
      data_dir: where the dataset's files are (file-based datasets).
      verify, download: as in ``ocnn_jax.datasets.load`` (checksum checks; fetch missing official files).
      overrides: per method/variant name, extra ``fit`` config overrides (e.g. reduced epochs).
      progress: show progress bars.
      json_path: also write the result as JSON.
      callbacks: training callbacks (``ocnn_jax.engine.CSVLogger`` ...) for the deep methods' fits.

    Returns:
      {"table": AUROC markdown, "aupr_table": AUPR markdown, "methods": {name: {"per_class", "mean",
      "aupr": {"per_class", "mean"}, "wall_time_s", "config", ...}}, ...};
      OC-NN entries also hold "sign_auroc": {"per_class", "mean"}, the paper-comparable sign AUROC
      (``Model.sign_auroc``), shown as its own column next to the method's.
    """
    if json_path:
        check_new_file_path(json_path, "json_path")  # before training, not after
    ds = _load(dataset, data_dir, verify=verify, download=download)
    overrides = overrides or {}
    unknown = set(overrides) - set(methods)
    if unknown:
        raise ValueError(f"overrides for {sorted(unknown)}, which are not among the methods {list(methods)}")
    results: dict[str, dict[str, Any]] = {}
    seed_list: list[int] = []
    for name in methods:
        t0 = time.perf_counter()
        model, scores, values, cfg = _evaluate(name, ds, classes, seeds, progress, overrides.get(name, {}), callbacks)
        wall = time.perf_counter() - t0
        seed_list = sorted(set(model.run_seeds.tolist()))
        frac = None
        if "train/noise_nonzero" in model.train_metrics:  # RCAE: fraction of non-zero N after each outer iteration
            frac = np.asarray(noise_nonzero_per_iteration(model.train_metrics, model.config))
        # OC-NN: also the paper-comparable sign AUROC (from predict's 0/1 flags) for the paper's v1 tables.
        sign = model.sign_auroc_scores(scores, y=ds.y_test) if model.method in SIGN_AUROC_METHODS else None
        lams = [None] if model.run_lams is None else sorted(set(model.run_lams.tolist()))
        for lam in lams:  # a λ grid becomes one column per λ
            idx = np.arange(model.n_runs) if lam is None else np.nonzero(model.run_lams == lam)[0]
            label = name if len(lams) == 1 else f"{name} λ={lam:g}"
            summary = _summary(model, values["auroc"], idx)
            aupr = _summary(model, values["aupr"], idx)
            entry: dict[str, Any] = {
                "per_class": summary,
                "mean": float(np.mean([r["mean"] for r in summary])),
                "aupr": {"per_class": aupr, "mean": float(np.mean([r["mean"] for r in aupr]))},
                "wall_time_s": wall,
                "config": {k: _jsonable(v) for k, v in cfg.items()},
            }
            if sign is not None:  # docs/algorithms.md §8: a separate column, never instead of the AUROC
                sign_summary = _summary(model, sign, idx)
                entry["sign_auroc"] = {"per_class": sign_summary,
                                       "mean": float(np.mean([r["mean"] for r in sign_summary]))}
            if frac is not None:
                entry["noise_nonzero_per_iteration"] = frac[idx].mean(axis=0).tolist()
            results[label] = entry
            if progress:
                print(f"{label}: mean AUROC {100 * entry['mean']:.2f} %, AUPR {100 * entry['aupr']['mean']:.2f} % "
                      f"({wall:.0f} s)", flush=True)

    labels = list(results)
    class_names = [row["normal_class"] for row in results[labels[0]]["per_class"]]
    table = _metric_table(results, class_names, "AUROC", lambda res: res)
    aupr_table = _metric_table(results, class_names, "AUPR", lambda res: res["aupr"])
    notes = [
        f"{dataset}, inductive one-vs-rest ({ds.split_note or 'official train/test split'}); "
        f"AUROC % and AUPR % (average precision; chance level = share of anomalies) mean ± population std "
        f"over seeds {seed_list}",
        f"{jax.default_backend()} ({jax.devices()[0].device_kind}), {platform.platform()}",
    ]
    if any("sign_auroc" in results[m] for m in labels):
        notes.append(f"{SIGN_AUROC_LABEL}: AUROC of predict's 0/1 flags (score > threshold), only to compare with "
                     "the OC-NN paper's v1 tables; the other columns are AUROC on continuous scores (docs/algorithms.md §8)")
    for m in labels:
        if "noise_nonzero_per_iteration" in results[m]:
            fr = ", ".join(f"{100 * f:.2f}" for f in results[m]["noise_nonzero_per_iteration"])
            notes.append(f"{m}: non-zero N entries after each outer iteration (% of training entries, mean over runs): {fr}")
    print()
    print(table)
    print()
    print(aupr_table)
    print("\n".join(textwrap.fill(note, TABLE_WIDTH, subsequent_indent="  ") for note in notes))
    result = {"dataset": dataset, "classes": class_names, "seeds": seed_list, "table": table, "aupr_table": aupr_table,
              "notes": notes, "methods": results}
    _write_json(json_path, result)
    return result


def _metric_table(results: dict[str, dict[str, Any]], class_names: list[Any], metric: str,
                  pick: Any) -> str:
    """One metric's table: a row per class (mean ± std %), then the mean and wall time; a column per
    method (AUROC: the OC-NN sign-AUROC column follows its method's)."""
    columns: list[tuple[str, list[dict[str, Any]], float, str]] = []
    for m, res in results.items():
        part = pick(res)
        columns.append((_LABELS.get(m, m), part["per_class"], part["mean"], f"{res['wall_time_s']:.0f}"))
        if metric == "AUROC" and "sign_auroc" in res:
            columns.append((f"{_LABELS.get(m, m)}: {SIGN_AUROC_LABEL}", res["sign_auroc"]["per_class"],
                            res["sign_auroc"]["mean"], ""))
    header = [f"{metric} % / class"] + [col[0] for col in columns]
    rows = [[c] + [f"{100 * col[1][i]['mean']:.2f} ± {100 * col[1][i]['std']:.2f}" for col in columns]
            for i, c in enumerate(class_names)]
    rows.append(["mean"] + [f"{100 * col[2]:.2f}" for col in columns])
    rows.append(["wall s"] + [col[3] for col in columns])
    return format_table(header, rows)


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _write_json(path: str | None, result: dict[str, Any]) -> None:
    """``result`` as JSON at ``path`` (its folder created), written atomically."""
    if path:
        atomic_write_bytes(path, json.dumps(result, indent=2, default=str).encode())
