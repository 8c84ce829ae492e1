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
    assert args.repro_methods[0] == "deep_svdd" and args.sections == list(device_check.DEFAULT_SECTIONS)
    assert device_check.parse_args(["--sections", "keras_original"]).sections == ["keras_original"]
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
    # side by side: the finished one keeps its own time, only the unfinished one is interrupted
    both = device_check._run_many([[sys.executable, "-c", "print('fast')"],
                                   [sys.executable, "-c", "import time; time.sleep(60)"]],
                                  3.0, [tmp_path / "a.txt", tmp_path / "b.txt"], ctx)
    assert both[0]["returncode"] == 0 and both[0]["stopped"] is None and both[0]["wall_seconds"] < 3.0
    assert both[1]["stopped"] == "interrupted at the deadline" and both[1]["wall_seconds"] >= 3.0
    assert "fast" in (tmp_path / "a.txt").read_text()
    monkeypatch.setattr(device_check, "SETTLE_SECONDS", 1.0)
    deaf = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)")
    stuck = device_check._run_until([sys.executable, "-c", deaf], 2.0, log, ctx)
    assert stuck["stopped"] == "killed at the deadline" and stuck["wall_seconds"] < 30


def test_run_until_interrupts_children_of_a_process_that_ignores_sigint(tmp_path):
    """A background job of a non-interactive shell (``nohup cmd &``, a CI script) runs with SIGINT ignored,
    and exec keeps it ignored: the children must still get the deadline's SIGINT (not a kill 40 s later).
    Run in a child interpreter that ignores SIGINT, as such a job does."""
    import subprocess

    script = f"""
import signal, sys
from pathlib import Path
sys.path.insert(0, {str(device_check.HERE)!r})
signal.signal(signal.SIGINT, signal.SIG_IGN)
import device_check
ctx = device_check.Context(device_check.parse_args(["--tiny", "--out", {str(tmp_path)!r}]), device_check.Budget(60))
row = device_check._run_until([sys.executable, "-c", "import time; time.sleep(60)"], 1.0,
                              Path({str(tmp_path / "log.txt")!r}), ctx)
assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # this process's own setting is left as it was
print(row["stopped"], round(row["wall_seconds"]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    stopped, wall = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert stopped == "interrupted at the deadline" and int(wall) < 30


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


def test_keras_original_plan_deals_seeds_round_robin_and_drops_keras_without_it():
    seeds = [42, 56, 81, 67, 33]
    jobs_text = "jax:rcae:2,jax:ocnn+deep_svdd:1,keras:rcae:3,keras:ocnn+deep_svdd:2"
    jobs = device_check.parse_args(["--ko-jobs", jobs_text]).ko_jobs
    plan = device_check.keras_original_plan(seeds, True, jobs)
    assert plan == [("jax", "rcae", [42, 81, 33]), ("jax", "rcae", [56, 67]), ("jax", "ocnn,deep_svdd", seeds),
                    ("keras", "rcae", [42, 67]), ("keras", "rcae", [56, 33]), ("keras", "rcae", [81]),
                    ("keras", "ocnn,deep_svdd", [42, 81, 33]), ("keras", "ocnn,deep_svdd", [56, 67])]
    assert [fw for fw, _, _ in device_check.keras_original_plan(seeds, False, jobs)] == ["jax", "jax", "jax"]
    # never more processes than seeds, and every seed runs each job exactly once
    one = device_check.keras_original_plan([7], True, jobs)
    assert one == [("jax", "rcae", [7]), ("jax", "ocnn,deep_svdd", [7]), ("keras", "rcae", [7]),
                   ("keras", "ocnn,deep_svdd", [7])]
    assert [n for _, _, n in device_check.KERAS_ORIGINAL_JOBS] == [1, 1, 1, 1]  # the default: one process each
    for bad in ("jax:rcae", "torch:rcae:1", "jax:rcea:1", "jax:rcae:0"):
        with pytest.raises(SystemExit):
            device_check.parse_args(["--ko-jobs", bad])
    assert device_check.parse_args(["--ko-steps-per-execution", "1"]).ko_steps_per_execution == 1
    for bad in ("0", "-2", "x"):
        with pytest.raises(SystemExit):
            device_check.parse_args(["--ko-steps-per-execution", bad])
    for job in ("rcae", "ocnn,deep_svdd"):
        for fw in ("jax", "keras"):
            dealt = sorted(s for f, m, part in plan if (f, m) == (fw, job) for s in part)
            assert dealt == sorted(seeds)


def test_keras_original_section_is_opt_in_and_merges_its_parts(tmp_path, monkeypatch):
    """The section runs keras_original_compare.py processes side by side (here stood in for: each writes the
    part file a finished run would) and merges the parts into one table; it is not a default section."""
    assert "keras_original" not in device_check.parse_args(["--tiny"]).sections
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    (mnist / "train-images-idx3-ubyte.gz").write_bytes(b"")
    args = device_check.parse_args(["--tiny", "--out", str(tmp_path / "out"), "--sections", "keras_original",
                                    "--ko-seeds", "42,56", "--data-dir", str(mnist)])
    ctx = device_check.Context(args, device_check.Budget(600))
    monkeypatch.setattr(device_check, "_keras_backend", lambda: None)  # as on a machine without Keras
    seen = []

    def fake_run_many(cmds, seconds, logs, ctx, env=None):
        rows = []
        for cmd in cmds:
            seen.append(cmd)
            opt = {k: cmd[i + 1] for i, k in enumerate(cmd) if k.startswith("--") and i + 1 < len(cmd)}
            seeds = [int(s) for s in opt["--seeds"].split(",")]
            auroc = ({"rcae": 0.9, "dcae": 0.8, "rcae_lam0": 0.8} if opt["--methods"] == "rcae"
                     else {"ocnn": 0.7, "deep_svdd": 0.6})
            payload = {"dataset": "mnist", "config": None, "runs": [
                {"framework": opt["--frameworks"], "class": 0, "seed": s, "seconds": {"rcae": 1.0, "ocnn": 1.0,
                 "deep_svdd": 1.0}, "auroc": auroc, "detail": {}} for s in seeds[:1]]}
            Path(opt["--out"]).write_text(json.dumps(payload))
            rows.append({"returncode": 0, "wall_seconds": 1.0, "stopped": None})
        return rows

    monkeypatch.setattr(device_check, "_run_many", fake_run_many)
    monkeypatch.setattr(device_check.subprocess, "run", lambda *a, **k: _merge_in_process(*a, **k))
    res = device_check.section_keras_original(ctx, 300.0)
    assert [c[c.index("--frameworks") + 1] for c in seen] == ["jax", "jax"]  # no Keras: its jobs left out
    assert [c[c.index("--methods") + 1] for c in seen] == ["rcae", "ocnn,deep_svdd"]
    assert all("--ae-epochs" in c and "--full" not in c for c in seen)  # --tiny: one epoch per phase
    # the Keras port's steps_per_execution (the same updates, fewer round-trips) reaches every process
    assert {c[c.index("--keras-steps-per-execution") + 1] for c in seen} == {str(device_check.KERAS_STEPS_PER_EXECUTION)}
    assert [r["seeds_done"] for r in res["rows"]] == [[42], [42]]  # the stand-in finishes each part's first seed
    assert res["notes"] == ["Keras is not importable here: the Keras port's runs are left out"]
    assert "| RCAE (one alternation, last λ) |" in res["table_markdown"]
    merged = json.loads((tmp_path / "out" / "keras_original" / "keras_original_mnist_full.json").read_text())
    assert sorted((r["seed"], tuple(sorted(r["auroc"]))) for r in merged["runs"]) == [
        (42, ("dcae", "rcae", "rcae_lam0")), (42, ("deep_svdd", "ocnn"))]  # both parts' runs, one table
    ocnn_row = "| OC-NN (repository's centre loss) | 97.61 ± 1.79 (n=10) | — | 70.00 ± 0.00 (n=1)"
    assert ocnn_row in res["table_markdown"]
    report = {"environment": {"versions": {}, "python": "3"}, "args": {"budget": 600, "tiny": True},
              "command": "x", "sections": {"keras_original": res}}
    assert "## 5. The original repository's procedure" in device_check.render(report)


def test_keras_original_epochs_per_stage_reach_the_processes():
    """--ko-rcae-epochs N adds --rcae-epochs N after --full (the notebooks' 250-epoch stage); without it the
    repository's counts; --tiny keeps one epoch per phase."""
    parse = device_check.parse_args
    assert device_check.keras_original_length(parse([])) == ["--full"]
    assert device_check.keras_original_length(parse(["--ko-rcae-epochs", "250"])) == ["--full", "--rcae-epochs", "250"]
    assert device_check.keras_original_length(parse(["--tiny"]))[-2:] == ["--rcae-epochs", "1"]
    with pytest.raises(SystemExit):
        parse(["--ko-rcae-epochs", "0"])


def _merge_in_process(cmd, **kwargs):
    """subprocess.run of ``keras_original_compare.py --table-only`` done in this process (the stand-in
    parts carry config None: the tiny settings' config is filled in here as the script would check it)."""
    import dataclasses
    import subprocess

    import keras_original_compare as koc

    opt = {k: cmd[i + 1] for i, k in enumerate(cmd) if k.startswith("--") and i + 1 < len(cmd)}
    cfg = dataclasses.asdict(koc.KerasCompatConfig(ae_epochs=1, ocnn_epochs=1, svdd_epochs=1, rcae_epochs=1))
    for part in opt["--merge"].split(","):
        d = json.loads(Path(part).read_text())
        d["config"] = cfg
        Path(part).write_text(json.dumps(d))
    rc = koc.main(cmd[2:])
    return subprocess.CompletedProcess(cmd, rc, "", "")
