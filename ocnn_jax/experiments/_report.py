"""Summaries of per-run AUROCs: mean ± population std per normal class, and text tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["per_class_summary", "format_table"]


def per_class_summary(aucs: np.ndarray, run_classes: Sequence[Any]) -> list[dict[str, Any]]:
    """Group (M,) AUROCs by normal class: [{"normal_class", "aurocs", "mean", "std"}], in first-seen order.

    ``std`` is the population std (ddof = 0), as in the reference tables (docs/algorithms.md §8).
    """
    aucs = np.asarray(aucs, np.float64)
    order: list[Any] = []
    for c in run_classes:
        if c not in order:
            order.append(c)
    out = []
    for c in order:
        vals = aucs[[i for i, rc in enumerate(run_classes) if rc == c]]
        out.append({"normal_class": c, "aurocs": vals.tolist(), "mean": float(vals.mean()), "std": float(vals.std(ddof=0))})
    return out


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with right-aligned padded columns (also readable as plain text)."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(v.rjust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])
