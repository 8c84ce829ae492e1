"""Command line: ``ocnn-jax demo`` (one method on the embedded digits) and ``ocnn-jax compare``
(several methods side by side on digits or MNIST)."""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Sequence
from typing import Any

from .config import METHODS

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocnn-jax",
        description="Deep one-class anomaly detection in JAX (OC-NN, RCAE/DCAE, Deep SVDD).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="train every digit of scikit-learn's 8x8 digits as the normal class x seeds in one program",
        description=(
            "Embedded demo, no download needed: each of the 10 digits is the normal class in turn, "
            "x SEEDS seeds, all trained as one vmapped program; prints AUROC mean ± std per digit, "
            "the mean, the wall time, and scikit-learn's OC-SVM on the same inputs."
        ),
    )
    demo.add_argument("--method", default="deep_svdd", choices=list(METHODS))
    demo.add_argument("--seeds", type=int, default=3, help="seeds per digit (default 3)")
    demo.add_argument("--epochs", type=int, default=None, help="epochs of the main phase (default 150)")
    demo.add_argument("--pretrain-epochs", type=int, default=None, help="AE pretraining epochs (default 150)")
    demo.add_argument("--no-baseline", action="store_true", help="skip the OC-SVM column")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")

    cmp = sub.add_parser(
        "compare",
        help="several methods side by side: AUROC mean ± std per normal class",
        description=(
            "Fit each method (one compiled program per deep method; the shallow baselines on the host) on "
            "every requested normal class x seed, evaluate on the test split (inductive one-vs-rest) and "
            "print one table. Methods: " + ", ".join(METHODS) + "; variant ocnn_input = ocnn with features='input'."
        ),
    )
    cmp.add_argument("--dataset", default="digits", help="digits (embedded, default) or a dataset name, e.g. mnist")
    cmp.add_argument("--data-dir", default=None, help="folder with the dataset's files (e.g. the MNIST IDX files)")
    cmp.add_argument("--methods", default="all", help="comma-separated method names, or 'all' (default)")
    cmp.add_argument("--classes", default="all", help="comma-separated normal classes, or 'all' (default)")
    cmp.add_argument("--seeds", type=int, default=3, help="seeds per class (default 3)")
    cmp.add_argument(
        "--set", action="append", default=[], metavar="METHOD.KEY=VALUE",
        help="config override for one method, e.g. ocnn.epochs=20 or rcae.lam=0.5 (repeatable)",
    )
    cmp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    cmp.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    return parser


def _parse_sets(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """["ocnn.epochs=20", ...] -> {"ocnn": {"epochs": 20}}; values are Python literals (a bare ``inf``
    is infinity, e.g. ``rcae.lam=[0.1,inf]``), else strings."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        method, dot, key = target.partition(".")
        if not sep or not dot or not method or not key:
            raise ValueError(f"--set expects METHOD.KEY=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(re.sub(r"(?<![\w'\"])inf(?![\w'\"])", "1e999", raw))
        except (ValueError, SyntaxError):
            value = raw
        out.setdefault(method, {})[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        from .demo import run_demo

        overrides = {}
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        if args.pretrain_epochs is not None:
            overrides["pretrain_epochs"] = args.pretrain_epochs
        run_demo(
            method=args.method,
            seeds=args.seeds,
            progress=not args.no_progress,
            baseline=not args.no_baseline,
            json_path=args.json,
            **overrides,
        )
        return 0
    if args.command == "compare":
        from .demo import ALL_METHODS, run_comparison

        methods = list(ALL_METHODS) if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
        classes: Any = "all"
        if args.classes != "all":
            classes = [int(c) if c.strip().lstrip("-").isdigit() else c.strip() for c in args.classes.split(",")]
        try:
            overrides = _parse_sets(args.set)
        except ValueError as err:
            parser.error(str(err))
        run_comparison(
            methods, dataset=args.dataset, classes=classes, seeds=args.seeds, data_dir=args.data_dir,
            overrides=overrides, progress=not args.no_progress, json_path=args.json,
        )
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
