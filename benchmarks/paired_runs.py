"""Paired comparison of two settings from committed sweep results: the same (class, seed) runs, two configs.

    python benchmarks/paired_runs.py --dataset mnist --method deep_svdd \\
        --base 'benchmarks/results/reproduce_mnist_full*/deep_svdd' \\
        --new 'benchmarks/results/issue19_ae_schedule/*' \\
        --json OUT.json --md OUT.md

``--base`` and ``--new`` are glob patterns of sweep folders (each holding an ``ocnn_jax.sweep``
``results.json``; either may be given more than once, e.g. for classes that ran in separate sweeps);
every run found is keyed by (normal class, seed), and a key found twice on one side is an error. Two runs
of one key share the seed, hence the initial weights and the shuffles, so their difference is the
settings' effect on that run. Per class: each side's runs, the paired changes, each side's mean ±
population std over its seeds and, where Ruff et al. published the method, whether the mean lies within
one published std. Over all pairs: how many gain, the mean and median change. AUROC in %.
Both sides must be sweeps of the same data set and method (checked).
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import mean_std, write_outputs  # noqa: E402

from ocnn_jax.experiments import reference_for, within_reference  # noqa: E402


def load_runs(pattern: str | list[str], dataset: str, method: str) -> dict[tuple[int, int], float]:
    """(class, seed) -> AUROC % of every run in the sweep folders matching ``pattern`` (a glob, or a list of
    globs); ValueError when none matches, when a folder holds another data set or method, or when a
    (class, seed) appears twice."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    folders = sorted({f for pat in patterns for f in glob.glob(pat)})
    files = [Path(f, "results.json") for f in folders if Path(f, "results.json").is_file()]
    if not files:
        raise ValueError(f"no sweep results.json under {pattern!r}")
    runs: dict[tuple[int, int], float] = {}
    for f in files:
        r = json.loads(f.read_text())
        if (r["dataset"], r["method"]) != (dataset, method):
            raise ValueError(f"{f} is a {r['dataset']}/{r['method']} sweep, not {dataset}/{method}")
        for run in r["runs"]:
            if run.get("auroc") is None:
                continue
            key = (int(run["normal_class"]), int(run["seed"]))
            if key in runs:
                raise ValueError(f"class {key[0]} seed {key[1]} appears twice under {pattern!r} (again in {f})")
            runs[key] = 100.0 * float(run["auroc"])
    return runs


def compare(base: dict[tuple[int, int], float], new: dict[tuple[int, int], float],
            ref: list[tuple[float, float]] | None) -> dict[str, Any]:
    """Per-class rows and the overall paired summary (see the module docstring)."""
    classes = sorted({c for c, _ in base} | {c for c, _ in new})
    rows, changes = [], []
    for c in classes:
        b = {s: v for (k, s), v in sorted(base.items()) if k == c}
        n = {s: v for (k, s), v in sorted(new.items()) if k == c}
        pairs = {s: n[s] - b[s] for s in sorted(b.keys() & n.keys())}
        changes += list(pairs.values())
        row: dict[str, Any] = {"normal_class": c, "base": b, "new": n, "change": pairs}
        for side, vals in (("base", b), ("new", n)):
            row[f"{side}_mean"], row[f"{side}_std"] = mean_std(vals.values()) if vals else (None, None)
        if ref is not None:
            row["reference"] = list(ref[c])
            for side in ("base", "new"):
                m = row[f"{side}_mean"]
                # the tables' rule (AUROCs as fractions there)
                row[f"{side}_within_1_std"] = (None if m is None else
                                               within_reference([{"normal_class": c, "mean": m / 100}], ref)[0])
        rows.append(row)
    summary: dict[str, Any] = {
        "pairs": len(changes), "gains": sum(d > 0 for d in changes),
        "mean_change": statistics.mean(changes) if changes else None,
        "median_change": statistics.median(changes) if changes else None,
    }
    for side in ("base", "new"):
        means = [r[f"{side}_mean"] for r in rows if r[f"{side}_mean"] is not None]
        summary[f"{side}_mean_of_class_means"] = statistics.mean(means) if means else None
        if ref is not None:
            summary[f"{side}_classes_within_1_std"] = sum(bool(r.get(f"{side}_within_1_std")) for r in rows)
    if ref is not None:
        summary["reference_mean"] = statistics.mean(ref[r["normal_class"]][0] for r in rows)
    return {"rows": rows, "summary": summary}


def markdown(result: dict[str, Any], base_label: str, new_label: str) -> str:
    rows, s = result["rows"], result["summary"]
    seeds = sorted({int(k) for r in rows for k in (*r["base"], *r["new"])})
    has_ref = "reference_mean" in s
    head = (["class"] + [f"seed {k}: {base_label} → {new_label}" for k in seeds]
            + [f"{base_label}: mean ± std", f"{new_label}: mean ± std"]
            + (["published", "within 1 std"] if has_ref else []))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    for r in rows:
        cells = [str(r["normal_class"])]
        for k in seeds:
            b, n = r["base"].get(k), r["new"].get(k)
            cells.append(f"{fmt(b)} → {fmt(n)}" + (f" ({n - b:+.2f})" if b is not None and n is not None else ""))
        for side in ("base", "new"):
            cnt = len(r[side])
            cells.append("–" if not cnt else f"{r[side + '_mean']:.2f} ± {r[side + '_std']:.2f} (n={cnt})")
        if has_ref:
            yn = {True: "yes", False: "no", None: "–"}
            cells += [f"{r['reference'][0]} ± {r['reference'][1]}",
                      f"{yn[r['base_within_1_std']]} → {yn[r['new_within_1_std']]}"]
        lines.append("| " + " | ".join(cells) + " |")
    foot = ["**mean**"] + [""] * len(seeds) + [fmt(s["base_mean_of_class_means"]), fmt(s["new_mean_of_class_means"])]
    if has_ref:
        foot += [f"{s['reference_mean']:.2f}", f"{s['base_classes_within_1_std']} → {s['new_classes_within_1_std']}"]
    lines.append("| " + " | ".join(foot) + " |")
    if s["pairs"]:
        lines += ["", (f"Paired runs: {s['pairs']}; {s['gains']} gain; mean change {s['mean_change']:+.2f}, "
                       f"median {s['median_change']:+.2f} points.")]
    else:
        lines += ["", "Paired runs: none (no (class, seed) on both sides)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--base", required=True, action="append",
                   help="glob of the base setting's sweep folders (repeatable)")
    p.add_argument("--new", required=True, action="append",
                   help="glob of the new setting's sweep folders (repeatable)")
    p.add_argument("--base-label", default="base")
    p.add_argument("--new-label", default="new")
    p.add_argument("--json", default=None, help="write the comparison as JSON here")
    p.add_argument("--md", default=None, help="write the Markdown table here")
    args = p.parse_args(argv)
    try:
        base = load_runs(args.base, args.dataset, args.method)
        new = load_runs(args.new, args.dataset, args.method)
    except ValueError as e:
        p.error(str(e))
    result = compare(base, new, reference_for(args.dataset, args.method))
    text = markdown(result, args.base_label, args.new_label)

    def one(patterns: list[str]) -> str | list[str]:  # a single glob stays a string, as before
        return patterns[0] if len(patterns) == 1 else patterns

    payload = {"dataset": args.dataset, "method": args.method, "base": one(args.base), "new": one(args.new),
               "base_label": args.base_label, "new_label": args.new_label, **result}
    write_outputs(args.json, args.md, payload, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
