"""What chunking costs a sweep: the same digits sweep as one chunk and in chunks of ``--max-models``
runs, each in a fresh interpreter with JAX's persistent compilation cache off (so every program is
compiled in the timed call, as on a first run).

A sweep prepares each grid group's data once and pads its last chunk to the common size, so all
chunks share one compiled program; before that, every chunk was a ``fit`` of its own that preprocessed
and compiled again (49 s with ``--max-models 4`` against 8.6 s as one chunk, on the 2-core machine).
Prints a Markdown table (wall time of the ``sweep`` call, training time, compiled programs, ratio to
one chunk) and writes JSON.

    python benchmarks/sweep_chunks.py --json benchmarks/results/sweep_chunks.json \
        --md benchmarks/results/sweep_chunks.md [--max-models 4] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

#: One timed sweep; prints a JSON line. The compile counter counts traces of a phase's epoch chunk.
_CHILD = r"""
import glob, json, os, sys, time
from ocnn_jax.engine import _driver
from ocnn_jax.experiments import sweep
count = {"n": 0}
_orig = _driver.run_phase_epochs
def counting(*a, **k):
    count["n"] += 1
    return _orig(*a, **k)
_driver.run_phase_epochs = counting
max_models, out, quick = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
t = time.perf_counter()
r = sweep("digits", "deep_svdd", normal_classes="all", seeds=1, out_dir=out, max_runs_per_chunk=max_models,
          progress=False, figures=False, quick=quick)
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "train_s": r["train_time_s"], "compiled_phase_programs": count["n"],
                  "chunks": len(glob.glob(os.path.join(out, "chunks", "*.json"))),
                  "runs": len(r["runs"]), "aurocs": [x["auroc"] for x in r["runs"]]}))
"""


def _one(max_models: int, quick: bool) -> dict:
    env = {**os.environ, "OCNN_JAX_COMPILATION_CACHE": "off", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(max_models), os.path.join(tmp, "out"), str(int(quick))],
                              capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-models", type=int, default=4, help="runs per chunk of the chunked sweep (default 4)")
    p.add_argument("--repeats", type=int, default=1, help="timed repeats of each setting (the table shows the minimum)")
    p.add_argument("--full", action="store_true", help="the digits defaults instead of --quick epochs")
    p.add_argument("--json", default=None)
    p.add_argument("--md", default=None)
    a = p.parse_args(argv)
    rows = []
    for label, k in (("one chunk (10 runs)", 10), (f"chunks of {a.max_models}", a.max_models)):
        reps = [_one(k, quick=not a.full) for _ in range(a.repeats)]
        best = min(reps, key=lambda r: r["wall_s"])
        rows.append({"setting": label, "max_models": k, **best, "wall_all_s": [r["wall_s"] for r in reps]})
    same = max(abs(x - y) for x, y in zip(rows[0]["aurocs"], rows[1]["aurocs"]))
    lines = ["| sweep (digits, Deep SVDD, 10 classes x 1 seed) | wall s | train s | chunks | compiled phase programs | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['wall_s']:.1f} | {r['train_s']:.1f} | {r['chunks']} | {r['compiled_phase_programs']} | "
                     f"{r['wall_s'] / rows[0]['wall_s']:.2f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    lines.append("")
    lines.append(f"Largest AUROC difference between the two: {same:.2e}. Persistent compilation cache off; "
                 f"{'digits defaults' if a.full else '--quick epochs'}; {os.cpu_count()} CPUs, load average "
                 f"{load:.1f} at the end; {time.strftime('%Y-%m-%d')}.")
    table = "\n".join(lines)
    print(table)
    record = {"benchmark": "sweep_chunks", "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.platform(),
              "cpus": os.cpu_count(), "load_average_1min": load, "quick": not a.full, "rows": rows,
              "max_auroc_difference": same}
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(record, fh, indent=2)
    if a.md:
        with open(a.md, "w") as fh:
            fh.write("# Sweep chunking cost (benchmarks/sweep_chunks.py)\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
