"""AUROC of each normal class against each anomaly class, from the test scores a sweep kept.

A one-vs-rest AUROC averages over the anomaly classes. When it is under 50 %, this table says which
anomaly classes the detector ranks as *more* normal than the normal class itself, and whether that is
one class's problem or a column that is low for every normal class (a property of the anomaly images,
e.g. images that any model of natural images finds easy). Issue 20 uses it for CIFAR-10 bird.

    OCNN_JAX_DATA_DIR=DATA python benchmarks/anomaly_class_auroc.py SWEEP_DIR [SWEEP_DIR ...] \\
        --md TABLE.md --json TABLE.json

``--contrast`` adds, per sweep, how much of each run's score is the test image's own contrast (the
divisor of the l1 global contrast normalisation, mean absolute deviation of its raw pixels): the
Spearman correlation of the score with 1 / contrast, and, per class, the AUROC of 1 / contrast alone
as a score (no training).

``SWEEP_DIR`` is a finished ``ocnn_jax.sweep`` / ``reproduce.py`` method folder (``results.json`` and
``chunks/*.npz`` with the full test set's scores). The test labels come from the data set named in its
``results.json``; runs of one class with several seeds are averaged (AUROC % mean over the seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import write_outputs  # noqa: E402  (benchmarks/ is on the path when run as a script)

from ocnn_jax.datasets import load  # noqa: E402

#: What every table of the report shows.
HEADER = ("AUROC % of each normal class (rows) against each anomaly class alone (columns), on the test rows "
          "of those two classes, mean over the seeds run; bold: under 50 (the anomaly class ranks as more "
          "normal than the normal class). The last column is the usual one-vs-rest AUROC.\n")

__all__ = ["sweep_scores", "pair_aurocs", "class_matrix", "image_contrast", "contrast_table", "markdown", "main"]


def sweep_scores(sweep_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]], np.ndarray]:
    """(results.json, runs, (M, n_test) scores) of a finished sweep folder, the runs in chunk order.

    Raises:
      SystemExit: the folder has no results.json or no chunk with scores (not a finished sweep).
    """
    folder = Path(sweep_dir)
    if not (folder / "results.json").is_file():
        raise SystemExit(f"{folder}: no results.json; expected a finished sweep folder (e.g. OUT/dcae)")
    results = json.loads((folder / "results.json").read_text())
    runs: list[dict[str, Any]] = []
    blocks: list[np.ndarray] = []
    for meta in sorted((folder / "chunks").glob("*.json")):
        npz = meta.with_suffix(".npz")
        if not npz.is_file():
            raise SystemExit(f"{meta}: its scores {npz.name} are missing")
        chunk = json.loads(meta.read_text())
        scores = np.load(npz)["scores"]
        if scores.shape[0] != len(chunk["runs"]):
            raise SystemExit(f"{npz}: {scores.shape[0]} score rows for {len(chunk['runs'])} runs")
        runs.extend(chunk["runs"])
        blocks.append(scores)
    if not blocks:
        raise SystemExit(f"{folder}/chunks: no chunk scores; the sweep did not finish a chunk")
    return results, runs, np.concatenate(blocks, axis=0)


def pair_aurocs(scores: np.ndarray, y: np.ndarray, normal: Any, classes: Sequence[Any]) -> dict[Any, float]:
    """AUROC (in [0, 1]) of one run's test ``scores`` (n,) (higher = more anomalous) for the normal class
    ``normal`` against each other class of ``classes`` alone, on the test rows of those two classes."""
    out = {}
    for a in classes:
        if a == normal:
            continue
        rows = (y == normal) | (y == a)
        if not (y[rows] == a).any() or not (y[rows] == normal).any():
            raise SystemExit(f"class {a!r} or {normal!r} has no test rows; cannot compute its AUROC")
        out[a] = float(roc_auc_score((y[rows] == a).astype(int), scores[rows]))
    return out


def class_matrix(runs: Sequence[dict[str, Any]], scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Per normal class (seeds averaged): its one-vs-rest AUROC % and its AUROC % against each class."""
    classes = np.unique(y).tolist()  # sorted
    if scores.shape[1] != len(y):
        raise SystemExit(f"scores cover {scores.shape[1]} test rows, the data set's test split has {len(y)}")
    per: dict[int, dict[str, list]] = {}
    names: dict[int, str] = {}
    for run, s in zip(runs, scores):
        c = int(run["normal_class"])
        names[c] = str(run.get("class_name", c))
        entry = per.setdefault(c, {"all": [], "pairs": []})
        entry["all"].append(roc_auc_score((y != c).astype(int), s))
        entry["pairs"].append(pair_aurocs(s, y, c, classes))
    rows = []
    for c in sorted(per):
        pairs = per[c]["pairs"]
        rows.append({"normal_class": c, "class_name": names[c], "seeds": len(pairs),
                     "all": 100 * float(np.mean(per[c]["all"])),
                     "against": {str(a): 100 * float(np.mean([p[a] for p in pairs])) for a in classes if a != c}})
    return {"classes": [int(a) for a in classes], "rows": rows}


def image_contrast(x: np.ndarray) -> np.ndarray:
    """(n,) contrast of each image of ``x`` (n, ...): the mean absolute deviation from its own mean, the
    per-image divisor of the l1 GCN (``ocnn_jax.datasets.preprocess.gcn_l1``); in ``x``'s units."""
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return np.abs(flat - flat.mean(axis=1, keepdims=True)).mean(axis=1)


def contrast_table(runs: Sequence[dict[str, Any]], scores: np.ndarray, y: np.ndarray,
                   contrast: np.ndarray) -> list[dict[str, Any]]:
    """Per normal class (seeds averaged): the Spearman correlation of the runs' scores with 1 / contrast,
    and the AUROC % of 1 / contrast alone as the anomaly score."""
    from scipy.stats import spearmanr

    per: dict[int, list[float]] = {}
    for run, s in zip(runs, scores):
        per.setdefault(int(run["normal_class"]), []).append(float(spearmanr(s, -contrast).statistic))
    return [{"normal_class": c, "spearman_inverse_contrast": float(np.mean(v)),
             "contrast_alone_auroc": 100 * float(roc_auc_score((y != c).astype(int), -contrast))}
            for c, v in sorted(per.items())]


def markdown(title: str, matrix: dict[str, Any], class_names: dict[int, str]) -> str:
    """One Markdown table: normal classes as rows, anomaly classes as columns, AUROC %; under 50 in bold."""
    cols = matrix["classes"]
    head = "| normal \\ anomaly | " + " | ".join(class_names.get(a, str(a)) for a in cols) + " | one-vs-rest |"
    lines = [f"### {title}", "", head, "|---" * (len(cols) + 2) + "|"]
    for r in matrix["rows"]:
        cells = []
        for a in cols:
            v = r["against"].get(str(a))
            cells.append("—" if v is None else (f"**{v:.1f}**" if v < 50 else f"{v:.1f}"))
        lines.append(f"| {r['class_name']} | " + " | ".join(cells) + f" | {r['all']:.2f} |")
    below = {a: sum(1 for r in matrix["rows"] if r["against"].get(str(a), 100) < 50) for a in cols}
    lines.append("")
    lines.append("Normal classes under 50 % against each anomaly class: "
                 + ", ".join(f"{class_names.get(a, a)} {n}" for a, n in below.items()) + ".")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sweeps", nargs="+", help="finished sweep folders (results.json + chunks/)")
    p.add_argument("--data-dir", default=None, help="data set folder (default: ocnn_jax.datasets search order)")
    p.add_argument("--md", default=None, help="write the tables here (Markdown)")
    p.add_argument("--json", default=None, help="write the matrices here (JSON)")
    p.add_argument("--contrast", action="store_true",
                   help="also the scores' rank correlation with 1 / image contrast, and contrast alone as a score")
    args = p.parse_args(argv)
    labels: dict[str, tuple[np.ndarray, dict[int, str], np.ndarray | None]] = {}
    payload: dict[str, Any] = {"sweeps": []}
    text = []
    for folder in args.sweeps:
        results, runs, scores = sweep_scores(folder)
        name = results["dataset"]
        if name not in labels:
            ds = load(name, data_dir=args.data_dir)
            names = dict(enumerate(ds.classes))
            labels[name] = (np.asarray(ds.y_test).ravel(), names, image_contrast(ds.x_test) if args.contrast else None)
        y, names, contrast = labels[name]
        matrix = class_matrix(runs, scores, y)
        title = f"{results['method']} on {name} ({results.get('preprocessing', '?')} input)"
        text.append(markdown(title, matrix, names))
        entry = {"folder": Path(folder).name, "dataset": name, "method": results["method"],
                 "preprocessing": results.get("preprocessing"), **matrix}
        if contrast is not None:
            entry["contrast"] = contrast_table(runs, scores, y, contrast)
            text.append("Spearman correlation of the score with 1 / image contrast, and AUROC % of 1 / contrast "
                        "alone, per normal class: "
                        + "; ".join(f"{names.get(r['normal_class'], r['normal_class'])} "
                                    f"{r['spearman_inverse_contrast']:.2f} / {r['contrast_alone_auroc']:.1f}"
                                    for r in entry["contrast"]) + ".\n")
        payload["sweeps"].append(entry)
    out = "\n".join([HEADER, *text])
    print(out)
    write_outputs(args.json, args.md, payload, out)


if __name__ == "__main__":
    main()
