"""How long the command line takes to answer before it does any work: ``ocnn-jax --help``,
``--version``, a subcommand's ``--help``, and, for comparison, ``import ocnn_jax`` and ``import jax``.

Each command runs ``--repeats`` times in a fresh interpreter (the first run also warms the OS file
cache and is reported separately); the table shows the median and minimum wall time of the others
and whether JAX was imported (checked in a separate run). Prints a Markdown table and writes JSON.

    python benchmarks/cli_startup.py --json benchmarks/results/cli_startup.json \
        --md benchmarks/results/cli_startup.md [--before /path/to/older/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "ocnn-jax --help": ["-m", "ocnn_jax.cli", "--help"],
    "ocnn-jax --version": ["-m", "ocnn_jax.cli", "--version"],
    "ocnn-jax sweep --help": ["-m", "ocnn_jax.cli", "sweep", "--help"],
    "import ocnn_jax": ["-c", "import ocnn_jax"],
    "import ocnn_jax; ocnn_jax.fit (loads JAX)": ["-c", "import ocnn_jax; ocnn_jax.fit"],
    "import jax (reference)": ["-c", "import jax"],
}

_JAX_CHECK = (
    "import runpy, sys; sys.argv = {argv!r}\n"
    "try:\n    runpy.run_module('ocnn_jax.cli', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print('JAX_LOADED=' + str('jax' in sys.modules), file=sys.stderr)"
)


def _time(args: list[str], pythonpath: str | None = None) -> float:
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
    t = time.perf_counter()
    # python -m puts the working directory first on sys.path: run an older tree from inside it
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=pythonpath)
    return time.perf_counter() - t


def _loads_jax(args: list[str]) -> bool | None:
    if args[:2] != ["-m", "ocnn_jax.cli"]:
        return None
    code = _JAX_CHECK.format(argv=["ocnn-jax", *args[2:]])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return "JAX_LOADED=True" in out.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="runs per command (the first is reported apart)")
    parser.add_argument("--json", default=None, help="write the results as JSON")
    parser.add_argument("--md", default=None, help="write the table as Markdown")
    parser.add_argument("--before", default=None, metavar="PATH",
                        help="also time `ocnn-jax --help` of another source tree (PYTHONPATH=PATH), e.g. a checkout "
                             "from before a change")
    parser.add_argument("--before-label", default=None, help="how to name --before in the table (default: PATH)")
    args = parser.parse_args(argv)

    commands = [(name, cmd, None) for name, cmd in COMMANDS.items()]
    if args.before:
        label = args.before_label or args.before
        commands.insert(0, (f"ocnn-jax --help, {label}", COMMANDS["ocnn-jax --help"], args.before))
    rows = []
    for name, cmd, path in commands:
        times = [_time(cmd, path) for _ in range(max(2, args.repeats))]
        rest = times[1:]
        rows.append({"command": name, "first_s": times[0], "median_s": statistics.median(rest), "min_s": min(rest),
                     "repeats": len(rest), "imports_jax": None if path else _loads_jax(cmd)})
    header = "| command | median s | min s | first run s | imports JAX |\n|---|---:|---:|---:|---|"
    lines = [header] + [
        f"| `{r['command']}` | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['first_s']:.3f} | "
        f"{'' if r['imports_jax'] is None else ('yes' if r['imports_jax'] else 'no')} |"
        for r in rows
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    note = (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"1-min load average {load:.1f} at the end; {rows[0]['repeats']} timed runs per command after one warm-up run.")
    text = "\n".join(lines) + "\n\n" + note
    print(text)
    payload = {"rows": rows, "python": sys.version, "machine": platform.platform(), "load_average_1min": load,
               "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
