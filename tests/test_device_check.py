"""benchmarks/device_check.py's CPU path at tiny settings (so its first accelerator run cannot fail for a
reason a CPU run shows), and the FLOP counter it reports TFLOP/s with."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import device_check  # noqa: E402
import jaxbench  # noqa: E402


def test_flops_count_scan_bodies_times_their_length_and_convs():
    def f(x):
        def body(c, _):
            return jnp.tanh(c @ c), None

        return lax.scan(body, x, None, length=7)[0]

    assert jaxbench.program_flops(f, jnp.ones((8, 8))) == 7 * 2 * 8**3  # XLA's cost_analysis says 1 × that

    def conv(x, w):  # NHWC, HWIO, 'SAME': every output element is a 3·3·4 dot product
        return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    x, w = jnp.ones((2, 5, 5, 4)), jnp.ones((3, 3, 4, 6))
    assert jaxbench.program_flops(conv, x, w) == 2 * (2 * 5 * 5 * 6) * (3 * 3 * 4)
    # the backward pass counts too (input and weight gradients: the same multiply-adds again, twice)
    grad = jax.grad(lambda x, w: conv(x, w).sum(), argnums=(0, 1))
    assert jaxbench.program_flops(grad, x, w) >= 3 * jaxbench.program_flops(conv, x, w) - 1


def test_peak_table_and_argument_errors():
    assert device_check.peak_tflops("NVIDIA H200", "bfloat16") == pytest.approx(989.4)
    assert device_check.peak_tflops("cpu", "float32") is None
    with pytest.raises(SystemExit):
        device_check.parse_args(["--methods", "nope"])
    with pytest.raises(SystemExit):
        device_check.parse_args(["--precisions", "fp8"])
    args = device_check.parse_args(["--out", "x"])
    assert args.models == [1, 10, 100, 1000] and args.methods == ["deep_svdd", "ocnn", "rcae"]
    assert args.backbone == "mnist_lenet" and args.seeds == 10
    assert args.repro_methods[0] == "deep_svdd" and args.sections == list(device_check.SECTION_NAMES)
    with pytest.raises(SystemExit):
        device_check.parse_args(["--sections", "throughput,nope"])


def test_reproduction_plan_cuts_to_the_classes_that_fit():
    # paper-length images per run (published settings): Deep SVDD 150 + 150 epochs, DCAE and RCAE 150,
    # OC-NN 150 AE + 100 head epochs
    n = 6000  # 30 full batches of 200
    assert {m: device_check._paper_images(m, n) // n for m in ("deep_svdd", "soft_boundary", "dcae", "rcae", "ocnn")} \
        == {"deep_svdd": 300, "soft_boundary": 300, "dcae": 150, "rcae": 150, "ocnn": 250}
    ten = list(range(10))
    assert device_check.plan_classes(ten, None, 5.0) == (ten, None, None)  # unknown rate: all, deadline decides
    assert device_check.plan_classes(ten, 20.0, 260.0, overhead=60.0) == (ten, 260.0, None)
    classes, projected, note = device_check.plan_classes(ten, 20.0, 259.0, overhead=60.0)
    assert classes == list(range(9)) and projected == 240.0 and "only" in note and "260" in note
    classes, projected, note = device_check.plan_classes(ten, 20.0, 79.0, overhead=60.0)
    assert classes == [] and projected is None and note.startswith("not run")


def test_run_until_interrupts_at_the_deadline_and_kills_what_ignores_it(tmp_path, monkeypatch):
    ctx = device_check.Context(device_check.parse_args(["--tiny", "--out", str(tmp_path)]), device_check.Budget(60))
    log = tmp_path / "log.txt"
    done = device_check._run_until([sys.executable, "-c", "print('ok')"], 30.0, log, ctx)
    assert done["returncode"] == 0 and done["stopped"] is None and "ok" in log.read_text()
    slow = device_check._run_until([sys.executable, "-c", "import time; time.sleep(60)"], 1.0, log, ctx)
    assert slow["stopped"] == "interrupted at the deadline" and slow["returncode"] != 0 and slow["wall_seconds"] < 30
    monkeypatch.setattr(device_check, "SETTLE_SECONDS", 1.0)
    deaf = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)")
    stuck = device_check._run_until([sys.executable, "-c", deaf], 2.0, log, ctx)
    assert stuck["stopped"] == "killed at the deadline" and stuck["wall_seconds"] < 30


def test_tiny_cpu_run_writes_every_section(tmp_path):
    rc = device_check.main(["--tiny", "--budget", "3600", "--out", str(tmp_path), "--no-figures"])
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["errors"] == {} and rc == 0
    sec = report["sections"]
    eq = sec["equivalence"]["rows"]
    assert [r["method"] for r in eq] == ["ocnn"] and eq[0]["pass"] and eq[0]["max_abs_diff"] < 1e-5
    tp = {r["models"]: r for r in sec["throughput"]["rows"]}
    assert set(tp) == {1, 2}
    for r in tp.values():
        assert r["steady_seconds"] > 0 and r["flops"] > 0 and r["images"] > 0
        assert r["xla_memory"]["total_bytes"] > 0 and np.isfinite(r["auroc_mean"])
    assert tp[2]["images"] == 2 * tp[1]["images"] and tp[2]["flops"] == pytest.approx(2 * tp[1]["flops"], rel=0.01)
    prec = sec["precision"]["rows"]
    assert [r["precision"] for r in prec] == ["default", "bfloat16"]
    # the reproduction runs reproduce.py's sweep (tiny: the embedded digits, quick) and its table
    rp = sec["reproduction"]
    assert [r["method"] for r in rp["rows"]] == ["ocnn"]
    row = rp["rows"][0]
    assert row["returncode"] == 0 and row["stopped"] is None and row["classes"] == [0] and row["seeds"] == 2
    assert 0 <= row["auroc_mean"] <= 100 and [p["class"] for p in row["per_class"]] == [0]
    assert (tmp_path / "reproduce" / "ocnn" / "results.json").is_file() and "ocnn" in rp["table_markdown"]
    md = (tmp_path / "device_check.md").read_text()
    for heading in ("## 1.", "## 2.", "## 3.", "## 4."):
        assert heading in md
