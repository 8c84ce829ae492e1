"""Command line: ``ocnn-jax demo`` (one method on the embedded digits), ``ocnn-jax compare`` (several
methods side by side), ``ocnn-jax sweep`` (a dataset's classes × seeds × grid, resumable, with tables
and figures) and ``ocnn-jax report`` (rebuild a sweep's tables and figures).

Only the standard library is imported until a command runs, so ``--help`` and ``--version`` answer
without loading JAX (``benchmarks/cli_startup.py`` measures it).

Failing cleanly: every argument and path is checked before training, and nothing is created on disk
for a command that fails its checks. A library error (bad input, a missing or corrupt data file, a
directory holding another sweep, a locked directory, a diverged run, ...) prints one
``ocnn-jax COMMAND: error: ...`` message and exits with status 2 (``--verbose`` shows the traceback).
Ctrl-C stops a sweep between two compiled calls with its checkpoint written (exit status 130);
``--resume`` then continues bit for bit.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "METHOD_NAMES"]

#: The method names of ``ocnn_jax.METHODS``, spelled out so that ``--help`` needs no JAX import (a test
#: checks that the two agree).
METHOD_NAMES: tuple[str, ...] = ("deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae", "ocsvm", "isoforest", "kde")
METHODS = METHOD_NAMES


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ocnn_jax")
    except PackageNotFoundError:
        return "unknown (source tree, not installed)"


def _add_loggers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-csv", default=None, metavar="PATH",
                   help="append every epoch's per-run training metrics to a CSV file (long format)")
    p.add_argument("--log-tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard scalars, one run folder per training run (needs tensorboardX: "
                        "pip install 'ocnn_jax[tensorboard]')")


def _loggers(args: argparse.Namespace) -> list[Any]:
    from .engine import CSVLogger, TensorBoardLogger

    out: list[Any] = []
    if args.log_csv:
        out.append(CSVLogger(args.log_csv))
    if args.log_tensorboard:
        out.append(TensorBoardLogger(args.log_tensorboard))
    return out


def _close(loggers: list[Any]) -> None:
    for log in loggers:
        if hasattr(log, "close"):
            log.close()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show the full traceback of an error")
    parser = argparse.ArgumentParser(
        prog="ocnn-jax",
        description="Deep one-class anomaly detection in JAX (OC-NN, RCAE/DCAE, Deep SVDD).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", parents=[common],
        help="train every digit of scikit-learn's 8x8 digits as the normal class x seeds in one program",
        description=(
            "Embedded demo, no download needed: each of the 10 digits is the normal class in turn, "
            "x SEEDS seeds, all trained as one vmapped program; prints AUROC mean ± std per digit, "
            "the mean, the wall time, and the project's OC-SVM baseline with its defaults beside it."
        ),
    )
    demo.add_argument("--method", default="deep_svdd", choices=list(METHODS))
    demo.add_argument("--seeds", type=_positive_int, default=3, help="seeds per digit (default 3)")
    demo.add_argument("--epochs", type=int, default=None, help="epochs of the main phase (default 150)")
    demo.add_argument("--pretrain-epochs", type=int, default=None, help="AE pretraining epochs (default 150)")
    demo.add_argument("--no-baseline", action="store_true", help="skip the OC-SVM column")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    _add_loggers(demo)

    cmp = sub.add_parser(
        "compare", parents=[common],
        help="several methods side by side: AUROC mean ± std per normal class",
        description=(
            "Fit each method (one compiled program per deep method; the shallow baselines on the host) on "
            "every requested normal class x seed, evaluate on the test split (inductive one-vs-rest) and "
            "print one table. Methods: " + ", ".join(METHODS) + "; OC-NN variants: ocnn_paper (the paper's head on the frozen pretrained codes, "
            "docs/algorithms.md §2), ocnn_encoder (the default RBF layer on the pretrained codes), ocnn_input (the RBF "
            "layer on the preprocessed input), ocnn_encoder_l2 (the paper's head on unit-norm codes). "
            "OC-NN columns also show the paper-comparable sign AUROC (from predict's 0/1 flags)."
        ),
    )
    cmp.add_argument("--dataset", default="digits", help="digits (embedded, default) or a dataset name, e.g. mnist")
    cmp.add_argument("--data-dir", default=None, help="folder with the dataset's files (e.g. the MNIST IDX files)")
    _add_data_flags(cmp)
    cmp.add_argument("--methods", default="all",
                     help="comma-separated method or variant names, or 'all' (default): every method, "
                          "variants only when named")
    cmp.add_argument("--classes", default="all", help="comma-separated normal classes, or 'all' (default)")
    cmp.add_argument("--seeds", type=_positive_int, default=3, help="seeds per class (default 3)")
    cmp.add_argument(
        "--set", action="append", default=[], metavar="METHOD.KEY=VALUE",
        help="config override for one method, e.g. ocnn.epochs=20 or rcae.lam=0.5 (repeatable)",
    )
    cmp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    cmp.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    _add_loggers(cmp)

    sw = sub.add_parser(
        "sweep", parents=[common],
        help="every normal class x seed (x grid) of a dataset: resumable, sharded, tables and figures",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train and evaluate every (normal class, seed, grid point) under the inductive one-vs-rest protocol\n"
            "(train on the normal class of the training split, test on the whole test split) in as few compiled\n"
            "programs as the device memory allows, sharded over all local devices. Writes OUT/results.json,\n"
            "results.csv, results.md (published numbers beside ours where they exist) and OUT/figures/*.png.\n\n"
            "examples:\n"
            "  ocnn-jax sweep --dataset digits --method deep_svdd --seeds 3 --out runs/digits\n"
            "  ocnn-jax sweep --dataset mnist --method deep_svdd --classes all --seeds 10 \\\n"
            "      --data-dir ~/data/mnist --out runs/mnist_svdd --quick\n"
            "  ocnn-jax sweep --dataset mnist --method rcae --grid lam=0.05,0.1,0.5,1 --out runs/rcae --resume\n"
            "  ocnn-jax sweep --dataset digits --quick --out runs/d2 --num-processes 2   # 2 processes on this machine\n"
            "  srun ocnn-jax sweep --dataset mnist --out /shared/runs/m --distributed   # one process per SLURM task\n"
            "  ocnn-jax report runs/mnist_svdd        # rebuild tables and figures from results.json"
        ),
    )
    sw.add_argument("--dataset", required=True, help="digits (embedded), mnist, fashion_mnist, cifar10, ...")
    sw.add_argument("--method", default="deep_svdd", choices=list(METHODS))
    sw.add_argument("--classes", default="all", help="'all' (default) or comma-separated class indices/names")
    sw.add_argument("--seeds", type=_positive_int, default=3, help="seeds per class (default 3; the paper tables use 10)")
    sw.add_argument("--data-dir", default=None, help="folder with the dataset's files (default: $OCNN_JAX_DATA_DIR, ~/.cache/ocnn_jax)")
    _add_data_flags(sw)
    sw.add_argument("--out", required=True, help="output folder (tables, figures, checkpoints)")
    again = sw.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the interrupted sweep in --out (only the same sweep: same data, method, "
                            "config, classes, seeds and grid)")
    again.add_argument("--overwrite", action="store_true",
                       help="delete the sweep already in --out (results, chunks, checkpoints, figures) and start fresh")
    sw.add_argument("--quick", action="store_true", help="a few epochs per method, sized for a CPU")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                    help="hyperparameter grid (repeatable): nu, lr, weight_decay, lam are traced (one program), "
                         "e.g. nu=0.01,0.1; other keys (epochs=10,20, contamination=0,0.1) compile one program per value")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every run, e.g. epochs=20 (repeatable)")
    sw.add_argument("--max-runs", "--max-models", dest="max_runs", type=_positive_int, default=None,
                    help="runs per compiled program, >= 1 (default: memory estimate; on --resume, the first call's)")
    sw.add_argument("--checkpoint-every", type=_seconds, default=60.0, metavar="SECONDS",
                    help="seconds between checkpoints of the chunk in training (default 60; Ctrl-C always writes one)")
    sw.add_argument("--contamination", type=float, default=0.0, metavar="RHO",
                    help="fraction of each training set drawn from the other classes (default 0)")
    sw.add_argument("--preprocessing", default="auto",
                    help="auto (default), gcn_minmax, minmax, standardize or none")
    sw.add_argument("--selection", choices=("default", "paper"), default="default",
                    help="shallow baselines only: 'paper' selects hyperparameters as Ruff et al. (2018) did "
                         "(OC-SVM γ on a labelled 10%% hold-out of the test set, AUROC on the rest; PCA 95%%)")
    sw.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    sw.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sw.add_argument("--cpu-devices", default=None, metavar="N|auto",
                    help="on a CPU, expose N host devices ('auto': one per core) so the sweep trains N runs "
                         "at once, one per device (ocnn_jax.set_cpu_devices); default: JAX's own setting")
    mp = sw.add_argument_group(
        "several processes (jax.distributed; README 'Several hosts')",
        "Every process runs the same sweep on its share of the runs; only process 0 writes results.")
    mp.add_argument("--num-processes", type=int, default=None, metavar="N",
                    help="without --process-id: start N processes on this machine (CPU devices, gloo collectives, "
                         "a coordinator on 127.0.0.1) and stop them all if one fails; with --process-id: the size "
                         "of the run this process joins")
    mp.add_argument("--process-id", type=int, default=None, metavar="I",
                    help="join a distributed run as process I of --num-processes (needs --coordinator)")
    mp.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                    help="address of process 0's coordination service")
    mp.add_argument("--distributed", action="store_true",
                    help="join a distributed run described by the environment: JAX_COORDINATOR_ADDRESS/"
                         "JAX_NUM_PROCESSES/JAX_PROCESS_ID, torchrun's MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK, "
                         "or JAX's detection of SLURM, Open MPI and Cloud TPU")
    _add_loggers(sw)

    rep = sub.add_parser("report", parents=[common], help="rebuild results.md/.csv and figures of a sweep from its results.json")
    rep.add_argument("out", help="the sweep's output folder")
    rep.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    return parser


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    """--download and --no-verify for a command that loads a data set (``ocnn_jax.datasets.load``)."""
    p.add_argument("--download", action="store_true",
                   help="fetch the official files (mnist, fashion_mnist, kmnist, cifar10) when none are found, into "
                        "--data-dir/<name> or ~/.cache/ocnn_jax/<name>; $OCNN_JAX_MIRROR replaces the official URLs")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the checksum checks (content and file digests) of the data set's files")


def _literal(raw: str) -> Any:
    """A Python literal (``inf`` allowed), else the string itself."""
    try:
        return ast.literal_eval(re.sub(r"(?<![\w'\"])inf(?![\w'\"])", "1e999", raw))
    except (ValueError, SyntaxError):
        return raw


def _parse_pairs(items: Sequence[str], flag: str, lists: bool) -> dict[str, Any]:
    """["epochs=20"] -> {"epochs": 20}; with ``lists``, ["lam=0.1,1"] -> {"lam": [0.1, 1]}."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = [_literal(v) for v in raw.split(",")] if lists else _literal(raw)
    return out


def _parse_classes(text: str) -> Any:
    """--classes: "all", or comma-separated labels (integers where they look like integers, else names)."""
    if text == "all":
        return "all"
    return [int(c) if c.strip().lstrip("-").isdigit() else c.strip() for c in text.split(",")]


def _parse_sets(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """["ocnn.epochs=20", ...] -> {"ocnn": {"epochs": 20}}; values are Python literals (a bare ``inf``
    is infinity, e.g. ``rcae.lam=[0.1,inf]``), else strings."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        method, dot, key = target.partition(".")
        if not sep or not dot or not method or not key:
            raise ValueError(f"--set expects METHOD.KEY=VALUE, got {item!r}")
        out.setdefault(method, {})[key] = _literal(raw)
    return out


def _check_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every path argument, before anything runs (creates nothing)."""
    from .experiments._outdir import check_creatable_dir, check_new_file_path

    def check(fn, path, what):
        try:
            fn(path, what)
        except ValueError as err:
            parser.error(str(err))

    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        if getattr(args, "download", False):  # --download creates it
            check(check_creatable_dir, data_dir, "--data-dir")
        elif not os.path.isdir(data_dir):
            parser.error(f"--data-dir {data_dir!r} is not a directory")
    for attr, flag in (("json", "--json"), ("log_csv", "--log-csv")):
        if getattr(args, attr, None) is not None:
            check(check_new_file_path, getattr(args, attr), flag)
    if getattr(args, "log_tensorboard", None) is not None:
        check(check_creatable_dir, args.log_tensorboard, "--log-tensorboard")
    if args.command == "sweep":
        check(check_creatable_dir, args.out, "--out")
    if args.command == "report" and not os.path.isfile(os.path.join(args.out, "results.json")):
        parser.error(f"no results.json in {args.out!r}; run a sweep with --out {args.out} first")


def _library_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's to fix (a clear message, no traceback needed)."""
    from .core.errors import DirectoryLockedError, HypersphereCollapseError, TrainingDivergedError

    return (ValueError, TypeError, OSError, TrainingDivergedError, HypersphereCollapseError, DirectoryLockedError)


def _without_option(argv: Sequence[str], name: str) -> list[str]:
    """argv without ``name VALUE`` / ``name=VALUE``."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == name:
            skip = True
        elif not item.startswith(name + "="):
            out.append(item)
    return out


def _sweep_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``ocnn-jax sweep`` in this process: alone, or as one process of a distributed run."""
    from .engine._devices import parse_cpu_devices, set_cpu_devices
    from .experiments._sweep import sweep

    distributed = args.process_id is not None or args.distributed
    if args.process_id is not None and (args.num_processes is None or args.coordinator is None):
        parser.error("--process-id needs --num-processes and --coordinator (or use --distributed)")
    try:
        grid = _parse_pairs(args.grid, "--grid", lists=True)
        overrides = _parse_pairs(args.set, "--set", lists=False)
        n_devices = None if args.cpu_devices is None else parse_cpu_devices(args.cpu_devices)
    except ValueError as err:
        parser.error(str(err))
    if n_devices is not None:
        set_cpu_devices(n_devices)
    lead = True
    if distributed:
        import jax

        from .engine._distributed import init_distributed

        init_distributed(args.coordinator, args.num_processes, args.process_id)
        lead = jax.process_index() == 0
    classes = _parse_classes(args.classes)
    loggers = _loggers(args) if lead else []
    try:
        results = sweep(
            args.dataset, args.method, normal_classes=classes, seeds=args.seeds, grid=grid or None,
            data_dir=args.data_dir, verify=not args.no_verify, download=args.download,
            out_dir=args.out, resume=args.resume, overwrite=args.overwrite, quick=args.quick,
            max_runs_per_chunk=args.max_runs, progress=not args.no_progress and lead, figures=not args.no_figures,
            contamination=args.contamination, preprocessing=args.preprocessing, selection=args.selection,
            checkpoint_every_s=args.checkpoint_every, callbacks=loggers, **overrides,
        )
    except Exception as err:
        if distributed:  # a peer died (or this process failed): say so and stop now instead of hanging
            from .engine._distributed import stop_after_failure

            stop_after_failure(err)
        raise
    finally:
        _close(loggers)
    if not lead:  # process 0 writes and prints the results
        return 0
    with open(os.path.join(args.out, "results.md")) as fh:
        print(fh.read())
    print(f"mean AUROC {100 * results['overall_mean']:.2f}; wall time {results['wall_time_s']:.1f} s; "
          f"results in {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 error, 130 interrupted)."""
    parser = _build_parser()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    args.raw_argv = raw
    if args.command is None:
        parser.print_help()
        return 2
    _check_paths(parser, args)
    from .core.errors import Interrupted

    try:
        return _run(parser, args)
    except Interrupted as err:
        if args.verbose:
            traceback.print_exc()
        message = f"ocnn-jax {args.command}: interrupted"
        if err.checkpoint:
            message += f"; checkpoint {err.checkpoint} saved"
        if args.command == "sweep":
            message += "; continue with the same command and --resume"
        print(message, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        if args.verbose:
            traceback.print_exc()
        print(f"ocnn-jax {args.command}: interrupted", file=sys.stderr)
        return 130
    except _library_errors() as err:  # DatasetError is a ValueError: the message says what to do
        if args.verbose:
            traceback.print_exc()
        print(f"ocnn-jax {args.command}: error: {err}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .experiments._demo import run_demo

        overrides = {}
        if args.epochs is not None:
            overrides["epochs"] = args.epochs
        if args.pretrain_epochs is not None:
            overrides["pretrain_epochs"] = args.pretrain_epochs
        loggers = _loggers(args)
        try:
            run_demo(
                method=args.method,
                seeds=args.seeds,
                progress=not args.no_progress,
                baseline=not args.no_baseline,
                json_path=args.json,
                callbacks=loggers,
                **overrides,
            )
        finally:
            _close(loggers)
        return 0
    if args.command == "compare":
        from .experiments._demo import ALL_METHODS, run_comparison

        methods = list(ALL_METHODS) if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
        classes = _parse_classes(args.classes)
        try:
            overrides = _parse_sets(args.set)
        except ValueError as err:
            parser.error(str(err))
        loggers = _loggers(args)
        try:
            run_comparison(
                methods, dataset=args.dataset, classes=classes, seeds=args.seeds, data_dir=args.data_dir,
                verify=not args.no_verify, download=args.download,
                overrides=overrides, progress=not args.no_progress, json_path=args.json, callbacks=loggers,
            )
        finally:
            _close(loggers)
        return 0
    if args.command == "sweep":
        if args.num_processes is not None and args.process_id is None and not args.distributed:
            from .engine._distributed import launch_local

            if args.num_processes < 1:
                parser.error(f"--num-processes must be >= 1, got {args.num_processes}")
            if args.coordinator is not None:
                parser.error("--coordinator goes with --process-id (the launcher picks its own on 127.0.0.1)")
            worker = [sys.executable, "-m", "ocnn_jax.cli", *_without_option(args.raw_argv, "--num-processes")]
            return launch_local(worker, args.num_processes)
        return _sweep_command(parser, args)
    if args.command == "report":
        from .experiments._sweep import write_report

        write_report(args.out, figures=not args.no_figures)
        with open(os.path.join(args.out, "results.md")) as fh:
            print(fh.read())
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
