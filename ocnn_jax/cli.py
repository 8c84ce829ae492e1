"""Command line: ``ocnn-jax demo`` (more subcommands join as they are built)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    demo.add_argument("--method", default="deep_svdd", choices=["deep_svdd", "soft_boundary"])
    demo.add_argument("--seeds", type=int, default=3, help="seeds per digit (default 3)")
    demo.add_argument("--epochs", type=int, default=None, help="Deep SVDD epochs (default 150)")
    demo.add_argument("--pretrain-epochs", type=int, default=None, help="AE pretraining epochs (default 150)")
    demo.add_argument("--no-baseline", action="store_true", help="skip the OC-SVM column")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    return parser


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
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
