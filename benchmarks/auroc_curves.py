"""Test AUROC per epoch of reference runs recorded with ``torch_reference.py --curve``: a table and a figure.

One paper-length run gives two curves: the autoencoder during pretraining (scored by reconstruction SSE,
i.e. DCAE) and one-class Deep SVDD during its own phase (distance to c). They show whether a final
AUROC is a plateau or a point on a rising or falling curve, which is what a gap to a published number
has to be explained with (issue 19).

    python benchmarks/torch_reference.py --classes 5 --seeds 0 --curve --out RUNS.json
    python benchmarks/auroc_curves.py RUNS.json [MORE.json ...] --md TABLE.md --figure CURVES.png

``--published DIGIT=MEAN:STD`` (repeatable) draws a published mean ± std band on that digit's panel.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common import markdown_table

__all__ = ["load_curves", "curve_rows", "markdown", "plot", "main"]

#: Epochs (1-based) at which the table reads each curve.
CHECKPOINTS = (1, 10, 25, 50, 100, 150)


def load_curves(paths: Sequence[str]) -> list[dict[str, Any]]:
    """The Deep SVDD runs with an ``auroc_curve`` from ``torch_reference.py --out`` files:
    [{"normal_class", "seed", "pretrain": [...], "train": [...], "lr_milestone"}] (AUROC in [0, 1])."""
    runs = []
    for path in paths:
        payload = json.loads(Path(path).read_text())
        milestone = payload.get("hyper", {}).get("svdd", {}).get("lr_milestone")
        for r in payload.get("runs", []):
            curve = (r.get("extra") or {}).get("auroc_curve")
            if r.get("method") != "deep_svdd" or not curve:
                continue
            runs.append({"normal_class": int(r["normal_class"]), "seed": int(r["seed"]),
                         "pretrain": [float(v) for v in curve["pretrain"]], "train": [float(v) for v in curve["train"]],
                         "lr_milestone": milestone})
    if not runs:
        raise SystemExit(f"no run with an AUROC curve in {list(paths)} (record them with torch_reference.py --curve)")
    return sorted(runs, key=lambda r: (r["normal_class"], r["seed"]))


def _at(curve: Sequence[float], epoch: int) -> float | None:
    return 100 * curve[epoch - 1] if 0 < epoch <= len(curve) else None


def curve_rows(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run and phase: AUROC % at ``CHECKPOINTS``, the best epoch and its AUROC, the last."""
    rows = []
    for r in runs:
        for phase, label in (("pretrain", "AE (DCAE score)"), ("train", "Deep SVDD")):
            c = r[phase]
            if not c:
                continue
            best = int(np.argmax(c))
            rows.append({"digit": r["normal_class"], "seed": r["seed"], "phase": label,
                         **{f"e{e}": _at(c, e) for e in CHECKPOINTS},
                         "best": 100 * c[best], "best_epoch": best + 1, "last": 100 * c[-1], "epochs": len(c)})
    return rows


def markdown(runs: Sequence[dict[str, Any]], command: str) -> str:
    rows = [{**row, "best_cell": f"{row['best']:.2f} ({row['best_epoch']})"} for row in curve_rows(runs)]
    columns = ([("digit", "digit", "{}"), ("seed", "seed", "{}"), ("phase", "phase", "{}")]
               + [(f"epoch {e}", f"e{e}", "{:.2f}") for e in CHECKPOINTS]
               + [("best (epoch)", "best_cell", "{}"), ("last", "last", "{:.2f}")])
    lines = ["## Test AUROC per epoch (PyTorch reference of Ruff et al.'s procedure)", "", f"`{command}`", "",
             markdown_table(rows, columns)]
    lines += ["", "AUROC % on the full MNIST test set after each epoch, inference mode; the AE phase is scored by "
              "reconstruction SSE, the Deep SVDD phase by the distance to c. The LR drops ×0.1 at the milestone "
              f"epoch ({runs[0]['lr_milestone']})."]
    return "\n".join(lines) + "\n"


def plot(runs: Sequence[dict[str, Any]], path: str, published: dict[int, tuple[float, float]] | None = None) -> None:
    """One panel per digit: both phases' curves of every seed on one epoch axis (pretraining, then Deep SVDD)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    published = published or {}
    digits = sorted({r["normal_class"] for r in runs})
    fig, axes = plt.subplots(1, len(digits), figsize=(4.2 * len(digits), 3.4), squeeze=False)
    for ax, d in zip(axes[0], digits):
        for r in (r for r in runs if r["normal_class"] == d):
            n_pre = len(r["pretrain"])
            ax.plot(np.arange(1, n_pre + 1), 100 * np.asarray(r["pretrain"]), lw=1, ls="--",
                    label=f"seed {r['seed']}: AE")
            ax.plot(n_pre + np.arange(1, len(r["train"]) + 1), 100 * np.asarray(r["train"]), lw=1.2,
                    label=f"seed {r['seed']}: Deep SVDD")
            ax.axvline(n_pre + 0.5, color="grey", lw=0.5)
        if d in published:
            m, s = published[d]
            ax.axhspan(m - s, m + s, color="tab:green", alpha=0.15, label=f"published {m} ± {s}")
        ax.set_title(f"digit {d}")
        ax.set_xlabel("epoch (pretraining, then Deep SVDD)")
        ax.set_ylabel("test AUROC %")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _published(items: Sequence[str]) -> dict[int, tuple[float, float]]:
    out = {}
    for item in items:
        try:
            digit, rest = item.split("=")
            mean, std = rest.split(":")
            out[int(digit)] = (float(mean), float(std))
        except ValueError:
            raise SystemExit(f"--published expects DIGIT=MEAN:STD, e.g. 5=88.5:0.9; got {item!r}") from None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="torch_reference.py --curve --out files")
    parser.add_argument("--md", default=None, help="write the table as Markdown here")
    parser.add_argument("--figure", default=None, help="write the curves as a PNG here")
    parser.add_argument("--published", action="append", default=[], metavar="DIGIT=MEAN:STD",
                        help="a published mean ± std to draw on a digit's panel (repeatable)")
    args = parser.parse_args(argv)
    runs = load_curves(args.runs)
    text = markdown(runs, "python benchmarks/auroc_curves.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(text)
    if args.md:
        with open(args.md, "w") as fh:
            fh.write(text)
    if args.figure:
        plot(runs, args.figure, _published(args.published))
    return 0


if __name__ == "__main__":
    sys.exit(main())
