"""Sweeps: results schema, chunking, 8 simulated devices == 1 device, kill -9 + resume == uninterrupted."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocnn_jax.experiments import plan_chunks, sweep, write_report

SCRIPT = Path(__file__).parent / "scripts" / "sweep_digits.py"
FAST = dict(epochs=6, pretrain_epochs=4, batch_size=32, pretrain_batch_size=32, lr=1e-3, pretrain_lr=1e-3)


def _env(devices: int = 1) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _script(out, *args, devices=1):
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out), *args], capture_output=True, text=True,
                          env=_env(devices), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return _script(out, "--max-models", "4"), out


def _check_schema(results: dict) -> None:
    expected = {"schema_version": int, "dataset": str, "protocol": str, "method": str, "config": dict, "grid": dict,
                "seeds": list, "classes": list, "settings": list, "overall_mean": float, "wall_time_s": float,
                "train_time_s": float, "preprocessing": str, "preprocessing_requested": str,
                "device": dict, "machine": str, "date": str, "runs": list}
    for key, typ in expected.items():
        assert isinstance(results[key], typ), (key, type(results[key]))
    for s in results["settings"]:
        assert set(s) >= {"group", "static", "lam", "per_class", "mean"}
        for p in s["per_class"]:
            assert set(p) >= {"normal_class", "class_name", "seeds", "aurocs", "mean", "std"}
            assert len(p["aurocs"]) == len(p["seeds"]) == len(results["seeds"])
            assert abs(p["mean"] - sum(p["aurocs"]) / len(p["aurocs"])) < 1e-12
    for r in results["runs"]:
        assert set(r) >= {"group", "normal_class", "class_name", "seed", "auroc", "preprocessing"}
        assert r["preprocessing"] == results["preprocessing"]


def test_results_files_schema_and_report_rebuild(reference):
    ref, out = reference
    results = json.loads((out / "results.json").read_text())
    _check_schema(results)
    assert results["seeds"] == [0, 1] and results["classes"] == ["0", "1", "2", "3"]
    assert len(results["runs"]) == 8 and len(list((out / "chunks").glob("*.json"))) == 2  # 4 runs per chunk
    assert (out / "results.csv").read_text().count("\n") == 9
    assert results["preprocessing"] == "gcn_minmax" and results["preprocessing_requested"] == "auto"  # deep: Ruff's
    md = (out / "results.md").read_text()
    assert "Preprocessing: `gcn_minmax` (the method's default)." in md
    assert "± " in md and "inductive" in md
    assert f"training {results['train_time_s']:.0f} s over all calls" in md  # not only the last call's wall time
    (out / "results.md").unlink()
    write_report(str(out), figures=True)
    assert (out / "results.md").read_text() == md
    assert (out / "figures" / "auroc_deep_svdd.png").stat().st_size > 1000
    assert (out / "figures" / "extremes_deep_svdd.png").stat().st_size > 1000


def test_existing_results_need_resume(reference):
    _, out = reference
    with pytest.raises(ValueError, match="resume"):
        sweep("digits", "deep_svdd", normal_classes=[0], seeds=1, out_dir=str(out), progress=False, **FAST)


def test_eight_devices_give_the_same_aurocs(reference):
    ref, _ = reference
    out = _script(Path(os.environ.get("TMPDIR", "/tmp")) / f"sweep8-{os.getpid()}", "--max-models", "8", devices=8)
    assert out["devices"] == 8
    assert max(abs(a - b) for a, b in zip(out["aurocs"], ref["aurocs"])) < 1e-3


def test_kill_9_mid_sweep_then_resume_gives_the_uninterrupted_results(reference, tmp_path):
    ref, _ = reference
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(out), "--max-models", "4"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait until the first chunk is finished and the second has written a checkpoint, then kill -9.
    deadline = time.time() + 600
    ckpt = out / "checkpoints" / "default_001.npz"
    while time.time() < deadline and not (ckpt.exists() and (out / "chunks" / "default_000.json").exists()):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    resumed = _script(out, "--resume", "--max-models", "4")
    assert resumed["aurocs"] == ref["aurocs"]  # bit-identical, not just close
    assert not ckpt.exists()


@pytest.mark.parametrize("method, mode", [("isoforest", "none"), ("kde", "gcn_minmax")])
def test_shallow_sweep_records_the_method_default_preprocessing(tmp_path, method, mode):
    results = sweep("digits", method=method, normal_classes=[0, 1], seeds=1, out_dir=str(tmp_path), progress=False,
                    figures=False)
    _check_schema(results)
    assert results["preprocessing"] == mode and [r["preprocessing"] for r in results["runs"]] == [mode, mode]
    assert json.loads((tmp_path / "results.json").read_text())["preprocessing"] == mode
    assert f"Preprocessing: `{mode}` (the method's default)." in (tmp_path / "results.md").read_text()
    explicit = sweep("digits", method=method, normal_classes=[0], seeds=1, progress=False, preprocessing="standardize")
    assert explicit["preprocessing"] == "standardize" and explicit["preprocessing_requested"] == "standardize"


def test_plan_chunks():
    assert plan_chunks([0, 1, 2], [0, 1], 1, 4, 1) == [([0, 1], [0, 1]), ([2], [0, 1])]
    assert plan_chunks([0, 1], [0, 1, 2, 3], 1, 3, 1) == [([0], [0, 1, 2]), ([0], [3]), ([1], [0, 1, 2]), ([1], [3])]
    assert plan_chunks([0], [0, 1], 3, 2, 1) == [([0], [0]), ([0], [1])]


def test_cli_sweep_and_report(tmp_path, capsys):
    from ocnn_jax.cli import main

    out = tmp_path / "cli"
    args = ["sweep", "--dataset", "digits", "--classes", "0,1", "--seeds", "1", "--out", str(out), "--no-progress",
            "--set", "epochs=2", "--set", "pretrain_epochs=2", "--grid", "nu=0.05,0.1"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    _check_schema(results)
    assert [s["static"] for s in results["settings"]] == [{"nu": 0.05}, {"nu": 0.1}]
    assert results["config"]["batch_size"] == 32  # digits default
    assert "mean AUROC" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    assert "## nu-0.05" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sweep", "--dataset", "digits", "--out", str(out), "--grid", "lam"])
