"""Summaries of per-run metrics: mean ± population std per normal class, and text tables that fit a
terminal (at most ``TABLE_WIDTH`` characters per line: wider tables are split into column blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["per_class_summary", "format_table", "class_label", "TABLE_WIDTH"]

#: Widest line of a printed table, in characters.
TABLE_WIDTH = 120


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


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int | None = TABLE_WIDTH) -> str:
    """A Markdown table with right-aligned padded columns (also readable as plain text).

    When a line would exceed ``max_width`` characters the columns after the first are split into
    blocks that fit, each printed as its own table with the first column repeated, separated by a
    blank line (None: never split). A column wider than ``max_width`` on its own gets a block alone.
    """
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    blocks: list[list[int]] = [[]]
    for i in range(1, len(header)):
        cols = [0] + blocks[-1] + [i]
        if max_width is not None and blocks[-1] and sum(widths[c] + 3 for c in cols) + 1 > max_width:
            blocks.append([i])
        else:
            blocks[-1].append(i)
    return "\n\n".join(_table([cells_row for cells_row in cells], widths, [0] + b) for b in blocks)


def _table(cells: list[list[str]], widths: list[int], cols: list[int]) -> str:
    line = lambda r: "| " + " | ".join(r[i].rjust(widths[i]) for i in cols) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (widths[i] + 2) for i in cols) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def class_label(index: Any, name: Any) -> str:
    """A class as a table cell: "3 (cat)", or just "3" when the name is the index itself (digits)."""
    return str(index) if str(name) == str(index) else f"{index} ({name})"
