"""Reproduce the one-class tables (docs/algorithms.md §12.1) for every method, ours beside the published ones.

    python benchmarks/reproduce.py --dataset mnist --quick --data-dir $MNIST_DIR \\
        --out benchmarks/results/reproduce_mnist_quick
    python benchmarks/reproduce.py --dataset cifar10 --full --data-dir DIR --out DIR   # GPU/TPU

Each method is one ``ocnn_jax.sweep`` (all 10 classes × seeds under the inductive protocol) written to
``OUT/<method>/`` (resumable: rerun the same command after an interruption; a directory holding
another sweep, or one written before sweeps had fingerprints, is refused: pass --overwrite to redo it). Then ``OUT/results.md``
puts every method's per-class AUROC (mean ± population std) beside the reference, with the difference
and whether our mean lies within one reference std; ``OUT/results.json`` holds the numbers.

``--table-only`` trains nothing: it rebuilds ``OUT/results.{json,md}`` from the ``OUT/<method>/results.json``
files already there (for methods run by separate invocations, or on another machine, whose training
state is gone). The overview's device line is then each method's own.

Modes:
  --full   the paper settings (docs/algorithms.md §6: 150 + 150 epochs for Deep SVDD, OC-NN head 100 epochs,
           RCAE T×E = 5×30 (MNIST) / 10×35 (CIFAR-10)), 10 seeds. Meant for a GPU/TPU. With
           ``--settings published`` (the default) a method runs the settings of the code behind its
           published table where they differ from the library defaults
           (``ocnn_jax.experiments.PUBLISHED_SETTINGS``: on MNIST, Deep SVDD's AE pretraining at a constant
           learning rate, as in Ruff's Theano script); ``--settings dictionary`` adds the Theano code's
           dictionary-initialised first autoencoder conv (``ocnn_jax.experiments.DICTIONARY_SETTINGS``: MNIST
           Deep SVDD, both objectives); ``--settings defaults`` runs the library defaults
           (Ruff's PyTorch schedule), as the committed full MNIST runs before 2026-12-04 did.
  --quick  the method table's ``quick`` settings (``ocnn_jax.methods.get_method(m).quick``): a few epochs per method (e.g. 5 + 5 for Deep SVDD, DCAE 20, RCAE 2 × 10), and
           3 seeds by default: sized for a 2-core CPU. Quick numbers are expected below the references.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jax  # noqa: E402
from common import REPRODUCE_SETTINGS  # noqa: E402

from ocnn_jax.core.inputs import resolve_seeds  # noqa: E402
from ocnn_jax.experiments import REFERENCE_SOURCE, published_settings, reference_for  # noqa: E402
from ocnn_jax.experiments import format_table  # noqa: E402
from ocnn_jax.experiments import per_class_table, sweep, within_reference  # noqa: E402
from ocnn_jax.methods import get_method  # noqa: E402

PROTOCOL = "inductive one-vs-rest (docs/algorithms.md §7)"
METHODS = ("deep_svdd", "soft_boundary", "ocnn", "dcae", "rcae", "ocsvm", "isoforest", "kde")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10", "digits"])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="CPU-sized epochs (see module doc)")
    mode.add_argument("--full", action="store_true", help="paper settings, 10 seeds (GPU/TPU)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list, default all: {','.join(METHODS)}")
    seeds_arg = p.add_mutually_exclusive_group()
    seeds_arg.add_argument("--seeds", type=int, default=None, help="seeds per class, 0..N-1 (default 3 quick, 10 full)")
    seeds_arg.add_argument("--seed-list", default=None,
                           help="explicit comma list of seeds instead (e.g. '1,2': more seeds for classes already run "
                                "with seed 0, into a new --out)")
    p.add_argument("--classes", default="all", help="'all' or a comma list of class indices")
    p.add_argument("--data-dir", default=None, help="dataset directory (default: ocnn_jax.datasets search order)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true",
                   help="delete each method's earlier sweep in OUT/<method>/ and run it again (default: resume it)")
    p.add_argument("--settings", choices=REPRODUCE_SETTINGS, default="published",
                   help="--full only: 'published' runs each method with the settings of the code behind its "
                        "published table where they differ from the library defaults (MNIST Deep SVDD: the "
                        "AE at a constant LR); 'dictionary' adds the Theano code's dictionary-initialised first "
                        "AE conv (MNIST Deep SVDD); 'defaults' runs the library defaults")
    p.add_argument("--table-only", action="store_true",
                   help="train nothing: rebuild OUT/results.{json,md} from the OUT/<method>/results.json files there")
    args = p.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"--methods: unknown {unknown}; choose from {METHODS}")
    try:  # the library's own check: distinct seeds in 0 … 2**32 − 1
        if args.seed_list is not None:
            seeds = resolve_seeds([int(v) for v in args.seed_list.split(",") if v.strip()])
        else:
            seeds = resolve_seeds(args.seeds or (3 if args.quick else 10))
    except ValueError as e:
        p.error(f"--seeds / --seed-list: {e}")
    classes = "all" if args.classes == "all" else [int(c) for c in args.classes.split(",")]
    if args.table_only:
        try:
            summary = table_from_folders(args.out, args.dataset, methods, quick=args.quick)
        except ValueError as e:
            p.error(f"--table-only: {e}")
        _write(args.out, summary)
        return 0
    os.makedirs(args.out, exist_ok=True)
    combined = {}
    for method in methods:
        t = time.perf_counter()
        print(f"== {method} ==", flush=True)
        combined[method] = sweep(
            args.dataset, method, normal_classes=classes, seeds=seeds, data_dir=args.data_dir,
            out_dir=os.path.join(args.out, method), resume=not args.overwrite, overwrite=args.overwrite,
            quick=args.quick, progress=True, **_overrides(args, method),
        )
        print(f"{method}: mean AUROC {100 * combined[method]['overall_mean']:.2f} in {time.perf_counter() - t:.0f} s",
              flush=True)
    summary = {
        "dataset": args.dataset,
        "mode": "quick" if args.quick else "full",
        "protocol": PROTOCOL,
        "seeds": seeds,
        "reference": REFERENCE_SOURCE,
        "device": f"{jax.default_backend()}: {jax.devices()[0].device_kind} x {jax.device_count()}",
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "methods": {m: _method_summary(args.dataset, r) for m, r in combined.items()},
    }
    _write(args.out, summary)
    return 0


def _overrides(args: argparse.Namespace, method: str) -> dict:
    """The sweep's overrides of ``method``: none in quick mode or with ``--settings defaults``, otherwise the
    published settings of (dataset, method), with ``--settings dictionary`` also the dictionary start."""
    if args.quick or args.settings == "defaults":
        return {}
    return published_settings(args.dataset, method, dictionary=args.settings == "dictionary")


def _write(out: str, summary: dict) -> None:
    Path(out, "results.json").write_text(json.dumps(summary, indent=2))
    Path(out, "results.md").write_text(_markdown(summary))
    print(_markdown(summary))


def table_from_folders(out: str, dataset: str, methods: list[str], *, quick: bool) -> dict:
    """The overview of every method in ``methods`` whose sweep left ``out/<method>/results.json``, in
    ``METHODS`` order, as ``main`` writes it after training. Methods without a folder are skipped;
    ValueError when none has one, when the folders disagree on the data set or the seeds, or (full mode) when a
    deep method's sweep ran overrides other than the paper settings (the defaults, or the method's published
    settings with or without the dictionary start)."""
    found = {}
    for m in [m for m in METHODS if m in methods]:
        f = Path(out, m, "results.json")
        if f.is_file():
            found[m] = json.loads(f.read_text())
    if not found:
        raise ValueError(f"no <method>/results.json under {out} for methods {methods}")
    for m, r in found.items():
        if r["dataset"] != dataset:
            raise ValueError(f"{m}/results.json is a {r['dataset']!r} sweep, not {dataset!r}")
    for m, r in found.items():  # a shortened sweep must not pass for the paper settings
        full = [published_settings(dataset, m), published_settings(dataset, m, dictionary=True)]
        if not quick and get_method(m).quick and r["config"] and r["config"] not in full:
            raise ValueError(f"{m}/results.json ran config {r['config']}, not a full sweep (the defaults or "
                             f"the published settings, {' or '.join(map(str, full))})")
    seeds = {m: list(r["seeds"]) for m, r in found.items()}
    if len({tuple(v) for v in seeds.values()}) > 1:
        raise ValueError(f"the method folders ran different seeds: {seeds}")
    devices = sorted({_device_line(r["device"]) for r in found.values()})
    return {
        "dataset": dataset,
        "mode": "quick" if quick else "full",
        "protocol": PROTOCOL,
        "seeds": next(iter(seeds.values())),
        "reference": REFERENCE_SOURCE,
        "device": "; ".join(devices),
        "machine": "; ".join(sorted({r["machine"] for r in found.values()})),
        "cpu_count": None,  # not recorded per method
        "date": max(r["date"] for r in found.values())[:10],
        "methods": {m: _method_summary(dataset, r) for m, r in found.items()},
    }


def _device_line(device: dict) -> str:
    """A sweep's ``device`` record ({"backend", "kind", "count", ...}) as the overview writes it."""
    return f"{device['backend']}: {device['kind']} x {device['count']}"


def _method_summary(dataset: str, results: dict) -> dict:
    """The first setting of a method's sweep: per-class AUROCs (fractions, as in results.json), the mean
    and, where published numbers exist, their mean and how many classes lie within one reference std."""
    per_class = results["settings"][0]["per_class"]
    ref = reference_for(dataset, results["method"])
    out = {"config": results["config"], "train_time_s": results["train_time_s"], "per_class": per_class,
           "mean": 100 * float(np.mean([p["mean"] for p in per_class]))}
    if ref:
        out["ref_mean"] = float(np.mean([ref[p["normal_class"]][0] for p in per_class]))
        out["within_1_std"] = int(sum(within_reference(per_class, ref)))
    return out


def _markdown(s: dict) -> str:
    lines = [
        f"# Reproduction, {s['dataset']}, {s['mode']} mode",
        "",
        f"Protocol: {s['protocol']}. AUROC % on continuous scores, mean ± population std over seeds {s['seeds']}.",
        f"Reference: {s['reference']}. Device: {s['device']}; {s['machine']}"
        + ("" if s.get("cpu_count") is None else f", {s['cpu_count']} CPUs") + f"; {s['date']}.",
        "",
        "## Overview",
        "",
    ]
    over = []
    for m, r in s["methods"].items():
        ref = r.get("ref_mean")
        over.append([m, f"{r['mean']:.2f}", "—" if ref is None else f"{ref:.2f}",
                     "—" if ref is None else f"{r['mean'] - ref:+.2f}",
                     "—" if ref is None else f"{r['within_1_std']}/{len(r['per_class'])}", f"{r['train_time_s']:.0f}",
                     f"`{json.dumps(r['config'])}`"])
    lines += [format_table(["method", "ours", "reference", "difference", "classes within 1 ref. std", "train s",
                            "config"], over), ""]
    for m, r in s["methods"].items():
        lines += [f"## {m}", "", per_class_table(r["per_class"], reference_for(s["dataset"], m)), ""]
        if "ref_mean" not in r:
            lines += ["(No published number for this method under this protocol.)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
