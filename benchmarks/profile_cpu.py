"""Where the time of ocnn_jax's MNIST Deep SVDD training goes on XLA:CPU, op by op (issue 7).

Compiles the same M-run program as ``benchmarks/throughput.py`` (AE pretraining + Deep SVDD, the
benchmark's arrays), runs it once to warm up, runs it again under ``jax.profiler.trace`` and reads the
Perfetto trace: every XLA op's run time is summed over the trace and mapped to the optimised HLO
(shape and source ``op_name``), then grouped by phase (AE step, Deep SVDD step, the rest: centre pass,
Adam, loop bookkeeping), layer and direction (forward / backward). Op times are per model, summed
over the devices' threads, so with several devices they add up to more than the wall time.

    python benchmarks/profile_cpu.py --data-dir $MNIST_DIR --md benchmarks/results/profile_cpu.md

Needs only ocnn_jax (no Keras, no PyTorch).
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from common import add_common_args, environment, hyper_from_args, markdown_table, prepare_classes, write_outputs

LAYER = re.compile(r"/(conv\d|deconv\d|bn_code|bn\d|code)/")


def classify(op_name: str) -> tuple[str, str, str]:
    """(phase, layer, direction) of an HLO op from its ``op_name`` metadata."""
    if "jvp(AutoEncoder)" in op_name:
        phase = "AE step"
    elif "jvp(" in op_name:
        phase = "Deep SVDD step"
    else:
        phase = "other (centre pass, updates, loops)"
    m = LAYER.search(op_name)
    if m:
        layer = m.group(1)
    elif "reduce_max" in op_name or "/eq" in op_name or "/or" in op_name:
        layer = "max-pool"
    elif "leaky_relu" in op_name:
        layer = "leaky ReLU"
    elif "fft" in op_name:
        layer = "fft"
    else:
        layer = "rest"
    direction = "backward" if "transpose(" in op_name else "forward"
    return phase, layer, direction


#: Control-flow instructions: their trace events enclose (part of) the ops of their bodies, which are
#: timed on their own, so :func:`hlo_index` leaves them out (by opcode: a conditional may be named
#: after its source, e.g. ``cond.106``).
CONTROL_FLOW = ("while", "conditional", "call")
CONTROL_FLOW_OP = re.compile(r"(?<![\w.\-])(?:" + "|".join(CONTROL_FLOW) + r")\(")


def hlo_index(hlo: str) -> dict[str, tuple[str, str]]:
    """Instruction name → (result shape, op_name metadata) for every instruction of the optimised HLO
    except control flow (``while``, ``conditional``, ``call``: their trace events enclose the ops of their
    bodies, which are timed on their own; a conditional may be named after its source, e.g. ``cond.106``)."""
    index = {}
    for line in hlo.splitlines():
        m = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ", line)
        if m and not CONTROL_FLOW_OP.search(line.split(" = ", 1)[1].split(", metadata=")[0]):
            op = re.search(r'op_name="([^"]*)"', line)
            index[m.group(1)] = (m.group(2), op.group(1) if op else "")
    return index


def op_times(trace_dir: str, index: dict[str, tuple[str, str]]) -> tuple[collections.Counter, float]:
    """(op name → summed µs, µs during which at least one op ran) from the Perfetto trace.

    Counts the events of the compiled program's instructions (names in ``index``, from
    :func:`hlo_index`) except control flow (``CONTROL_FLOW``); host-side events (dispatch, Python)
    and thread-pool bookkeeping are not ops.
    """
    path = glob.glob(f"{trace_dir}/**/*.trace.json.gz", recursive=True)[0]
    events = [e for e in json.load(gzip.open(path))["traceEvents"] if e.get("ph") == "X" and "dur" in e]
    times: collections.Counter = collections.Counter()
    intervals = []
    for e in events:
        name = e["name"]
        if name in index:
            times[e["name"]] += e["dur"]
            intervals.append((e["ts"], e["ts"] + e["dur"]))
    busy, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            busy, end = busy + (b - a), b
        elif b > end:
            busy, end = busy + (b - end), b
    return times, busy


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser, epochs=1, pretrain_epochs=1, n_train=1000, n_test=2000, seeds=False)
    parser.set_defaults(classes=list(range(10)))
    parser.add_argument("--models", type=int, default=10, help="runs M in the program (default 10)")
    parser.add_argument("--cpu-devices", default="auto", help="CPU devices for JAX: N or auto (one per core)")
    parser.add_argument("--top", type=int, default=25, help="rows of the per-op table (default 25)")
    parser.add_argument("--md", default=None, help="also write the tables as Markdown to this path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import jax

    from ocnn_jax.engine import parse_cpu_devices, set_cpu_devices

    set_cpu_devices(parse_cpu_devices(args.cpu_devices))
    from throughput import JaxDeepSVDD, run_plan

    m = args.models
    prepared = prepare_classes(sorted({c for c, _ in run_plan(args.classes, m)}), args.data_dir,
                               n_train=args.n_train, n_test=args.n_test)
    jb = JaxDeepSVDD(prepared, hyper_from_args(args), "auto")
    compiled, _ = jb.compile(m)
    runs = run_plan(args.classes, m)
    jb.train(compiled, runs)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            t0 = time.perf_counter()
            jb.train(compiled, runs)
            wall = time.perf_counter() - t0
        index = hlo_index(compiled.as_text())
        times, busy_us = op_times(tmp, index)
    total = sum(times.values())
    top = []
    for name, us in times.most_common(args.top):
        shape, op_name = index.get(name, ("", ""))
        phase, layer, direction = classify(op_name)
        top.append({"op": name, "ms": us / m / 1e3, "share": 100 * us / total, "shape": shape.split("{")[0],
                    "phase": phase, "layer": layer, "direction": direction})
    groups: collections.Counter = collections.Counter()
    for name, us in times.items():
        groups[classify(index.get(name, ("", ""))[1])] += us
    grouped = [{"phase": k[0], "layer": k[1], "direction": k[2], "ms": us / m / 1e3, "share": 100 * us / total}
               for k, us in groups.most_common()]
    phases: collections.Counter = collections.Counter()
    for row in grouped:
        phases[row["phase"]] += row["ms"]
    by_phase = [{"phase": k, "ms": v, "share": 100 * v * m * 1e3 / total} for k, v in phases.most_common()]
    n_dev = jax.device_count()
    head = (f"M = {m} runs on {n_dev} {jax.default_backend()} device(s); wall {wall:.2f} s = "
            f"{wall / m:.3f} s per model; summed op time {total / m / 1e3:.0f} ms per model; some op "
            f"running during {100 * busy_us / 1e6 / wall:.0f} % of the wall time.")
    text = "\n".join([
        "## Profile: MNIST Deep SVDD training on XLA:CPU", "", head, "",
        "### By phase (ms per model)", "",
        markdown_table(by_phase, [("phase", "phase", "{}"), ("ms / model", "ms", "{:.1f}"),
                                  ("% of op time", "share", "{:.1f}")]), "",
        f"### By phase, layer and direction (ms per model; the {args.top} largest)", "",
        markdown_table(grouped[: args.top], [("phase", "phase", "{}"), ("layer", "layer", "{}"),
                                             ("direction", "direction", "{}"), ("ms / model", "ms", "{:.1f}"),
                                             ("% of op time", "share", "{:.1f}")]), "",
        f"### Top {args.top} ops", "",
        markdown_table(top, [("op", "op", "{}"), ("result", "shape", "{}"), ("phase", "phase", "{}"),
                             ("layer", "layer", "{}"), ("direction", "direction", "{}"),
                             ("ms / model", "ms", "{:.1f}"), ("%", "share", "{:.1f}")]),
    ])
    print(text)
    payload: dict[str, Any] = {"script": "profile_cpu", "args": vars(args), "environment": environment(),
                               "wall_s": wall, "models": m, "devices": n_dev, "top": top, "grouped": grouped,
                               "by_phase": by_phase}
    write_outputs(args.out, args.md, payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
