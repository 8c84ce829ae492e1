"""Sweeps: results schema, chunking, 8 simulated devices == 1 device, kill -9 + resume == uninterrupted;
a directory holds one sweep only (fingerprint, lock), Ctrl-C stops cleanly, the CLI fails cleanly;
2 processes on JAX's distributed runtime (CPU devices, gloo) == 1 process, kill -9 of one process stops
the other within 60 s with a clear message and --resume completes to the uninterrupted results."""

import json
import os
import signal
import subprocess
import sys
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from ocnn_jax.core.errors import DirectoryLockedError, SweepDirectoryError
from ocnn_jax.engine._distributed import distributed_env, free_port
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
                "train_time_s": float, "preprocessing": str, "preprocessing_requested": str, "method_config": dict,
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


def test_shallow_sweep_on_the_cifar_family_records_its_defaults(tmp_path):
    """32×32×3 images: OC-SVM's ν 0.5 is in the resolved config of the fingerprint (what a resume must
    match) and of results.json, and KDE's default input there is GCN + min-max with a PCA to 95 %."""
    from ocnn_jax.datasets.base import Dataset

    r = np.random.default_rng(0)
    ds = Dataset("cifar_like", r.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), np.arange(40) % 2,
                 r.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20) % 2, ("a", "b"), (32, 32, 3))
    res = sweep(ds, method="ocsvm", normal_classes=[0], seeds=1, out_dir=str(tmp_path / "svm"), progress=False,
                figures=False)
    assert res["preprocessing"] == "none"
    fingerprint = json.loads((tmp_path / "svm" / "fingerprint.json").read_text())["fingerprint"]
    assert fingerprint["config"]["default"]["nu"] == 0.5  # the resolved config, which a resume must match
    assert json.loads((tmp_path / "svm" / "results.json").read_text())["method_config"] == fingerprint["config"]
    assert res["config"] == {} and res["method_config"]["default"]["pca"] is None
    kde = sweep(ds, method="kde", normal_classes=[0], seeds=1, progress=False)
    assert kde["preprocessing"] == "gcn_minmax" and kde["method_config"]["default"]["pca"] == 0.95


def test_plan_chunks():
    assert plan_chunks([0, 1, 2], [0, 1], 1, 4, 1) == [([0, 1], [0, 1]), ([2], [0, 1])]
    assert plan_chunks([0, 1], [0, 1, 2, 3], 1, 3, 1) == [([0], [0, 1, 2]), ([0], [3]), ([1], [0, 1, 2]), ([1], [3])]
    assert plan_chunks([0], [0, 1], 3, 2, 1) == [([0], [0]), ([0], [1])]


def test_cli_sweep_and_report(tmp_path, capsys):
    from ocnn_jax.cli import main

    out = tmp_path / "cli"
    args = ["sweep", "--dataset", "digits", "--classes", "0,1", "--seeds", "1", "--out", str(out), "--no-progress",
            "--set", "epochs=2", "--set", "pretrain_epochs=2", "--grid", "nu=0.05,0.1"]
    old_umask = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(old_umask)
    for name in ("results.json", "results.md", "fingerprint.json", "chunks/default_000.json", "chunks/default_000.npz"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name  # was 0o600 whatever the umask
    assert not (out / ".lock").exists()
    results = json.loads((out / "results.json").read_text())
    _check_schema(results)
    # ν is traced: one group ("default"), one setting per grid point, and a label-free best point
    assert [(s["group"], s["point"]) for s in results["settings"]] == [("default", {"nu": 0.05}), ("default", {"nu": 0.1})]
    assert results["best"]["point"] in ({"nu": 0.05}, {"nu": 0.1})
    assert results["config"]["batch_size"] == 32  # digits default
    assert "mean AUROC" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    report = capsys.readouterr().out
    assert "## default, ν = 0.05" in report and "Best grid point" in report
    with pytest.raises(SystemExit):
        main(["sweep", "--dataset", "digits", "--out", str(out), "--grid", "lam"])

    # Library errors: one message, exit status 2, nothing created for a command that fails its checks.
    capsys.readouterr()
    before = _snapshot(out)
    assert main([*args, "--resume", "--seeds", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ocnn-jax sweep: error: out_dir") and "seeds: [0] in the directory, [0, 1] in this call" in err
    assert "Traceback" not in err and _snapshot(out) == before
    fresh = tmp_path / "never"
    assert main(["sweep", "--dataset", "digits", "--out", str(fresh), "--set", "epochs=-1", "--no-progress"]) == 2
    assert "epochs must be an int >= 0" in capsys.readouterr().err
    for bad in (["--max-runs", "0"], ["--data-dir", str(tmp_path / "nodata")], ["--resume", "--overwrite"]):
        with pytest.raises(SystemExit) as info:
            main(["sweep", "--dataset", "digits", "--out", str(fresh), *bad])
        assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["demo", "--json", str(tmp_path / "cli")])  # a directory: refused before training
    assert not fresh.exists()


def _snapshot(d: Path) -> dict[str, bytes]:
    """Every file under d with its bytes (to show that a refused call changed nothing)."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "change, differs",
    [
        (dict(method="ocnn"), "method"),
        (dict(epochs=1), "config.default.train.epochs: 6 in the directory, 1 in this call"),
        (dict(seeds=3), "seeds: [0, 1] in the directory, [0, 1, 2] in this call"),
        (dict(normal_classes=[0]), "classes"),
        (dict(normal_classes=[5, 6]), "classes"),
    ],
    ids=["method", "config", "seeds", "classes", "other-classes"],
)
def test_resume_of_another_sweep_is_refused_and_changes_nothing(reference, change, differs):
    _, out = reference
    before = _snapshot(out)
    kwargs = {**FAST, "normal_classes": [0, 1, 2, 3], "seeds": 2, "method": "deep_svdd", **change}
    method = kwargs.pop("method")
    with pytest.raises(SweepDirectoryError, match="holds a different sweep") as info:
        sweep("digits", method, out_dir=str(out), resume=True, max_runs_per_chunk=4, progress=False, figures=False,
              **kwargs)
    assert any(d.startswith(differs) for d in info.value.differences), info.value.differences
    assert _snapshot(out) == before  # results.json, chunks and figures untouched


def test_leftover_checkpoint_under_a_fresh_run_is_refused(tmp_path):
    out = tmp_path / "left"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "default_000.npz").write_bytes(b"state of some earlier sweep")
    before = _snapshot(out)
    with pytest.raises(SweepDirectoryError, match=r"already holds a sweep \(checkpoints/default_000.npz\)"):
        sweep("digits", "deep_svdd", normal_classes=[0], seeds=1, out_dir=str(out), progress=False, **FAST)
    with pytest.raises(SweepDirectoryError, match="no fingerprint.json"):  # nor resumed blindly
        sweep("digits", "deep_svdd", normal_classes=[0], seeds=1, out_dir=str(out), resume=True, progress=False, **FAST)
    with pytest.raises(ValueError, match="max_runs_per_chunk must be None or an int >= 1"):
        sweep("digits", "deep_svdd", out_dir=str(out), max_runs_per_chunk=0, progress=False, **FAST)
    assert _snapshot(out) == before


CLI_SWEEP = ["sweep", "--dataset", "digits", "--classes", "0,1,2,3", "--seeds", "2", "--max-runs", "4",
             "--no-figures", "--no-progress", "--checkpoint-every", "0"] + [
    a for k, v in FAST.items() for a in ("--set", f"{k}={v}")]


def test_sigint_stops_the_sweep_cleanly_a_second_writer_is_refused_and_resume_is_bit_identical(reference, tmp_path):
    """Ctrl-C (SIGINT) to a running CLI sweep: exit status 130 with the checkpoint written; meanwhile a
    second sweep on the same directory is refused by the lock; --resume then gives the uninterrupted
    results bit for bit."""
    from ocnn_jax.cli import main

    ref, _ = reference
    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "ocnn_jax.cli", *CLI_SWEEP, "--out", str(out)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = out / "checkpoints" / "default_001.npz"
    deadline = time.time() + 600

    def wait_for(done) -> None:
        while time.time() < deadline and not done() and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be interrupted; make it longer"

    wait_for(lambda: (out / ".lock").exists())  # taken before the first chunk compiles
    with pytest.raises(DirectoryLockedError, match=rf"is locked by PID {proc.pid} "):
        sweep("digits", "deep_svdd", normal_classes=[0, 1, 2, 3], seeds=2, out_dir=str(out), resume=True,
              max_runs_per_chunk=4, progress=False, figures=False, **FAST)
    # Interrupt the second chunk once it has a checkpoint (its train phase still has to compile).
    wait_for(lambda: ckpt.exists() and (out / "chunks" / "default_000.json").exists())
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert f"ocnn-jax sweep: interrupted; checkpoint {ckpt} saved; continue with the same command and --resume" in err
    assert "Traceback" not in err and ckpt.exists() and not (out / "results.json").exists()
    assert not (out / ".lock").exists()  # released on the way out
    assert main([*CLI_SWEEP, "--out", str(out), "--resume"]) == 0
    resumed = json.loads((out / "results.json").read_text())
    assert [r["auroc"] for r in resumed["runs"]] == ref["aurocs"]  # bit-identical, not just close
    assert not ckpt.exists()


# -- several processes ----------------------------------------------------------------------------
#: a small digits sweep (MLP, 4 classes x 1 seed, chunks of 2 runs: 2 chunks) as an ocnn-jax command line
SWEEP = ["sweep", "--dataset", "digits", "--method", "deep_svdd", "--classes", "0,1,2,3", "--seeds", "1",
         "--set", "encoder=mlp", "--set", "epochs=6", "--set", "pretrain_epochs=4", "--max-runs", "2",
         "--no-progress", "--no-figures", "--checkpoint-every", "0"]


def _mp_env() -> dict:
    return {**_env(), "OCNN_JAX_HEARTBEAT_TIMEOUT": "20"}


def _cli(*args) -> list:
    return [sys.executable, "-m", "ocnn_jax.cli", *SWEEP, *args]


def _aurocs(out: Path) -> list:
    return [r["auroc"] for r in json.loads((out / "results.json").read_text())["runs"]]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The sweep of SWEEP in this process (one process, one device)."""
    from ocnn_jax.cli import main

    out = tmp_path_factory.mktemp("one") / "out"
    assert main([*SWEEP, "--out", str(out)]) == 0
    return out


def test_two_processes_give_the_one_process_results(one_process, tmp_path):
    out = tmp_path / "two"
    proc = subprocess.run(_cli("--out", str(out), "--num-processes", "2"), env=_mp_env(), capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two, one = json.loads((out / "results.json").read_text()), json.loads((one_process / "results.json").read_text())
    assert two["device"]["processes"] == 2 and two["device"]["count"] == 2
    assert [(r["normal_class"], r["seed"]) for r in two["runs"]] == [(r["normal_class"], r["seed"]) for r in one["runs"]]
    assert max(abs(a - b) for a, b in zip(_aurocs(out), _aurocs(one_process))) < 1e-6
    assert proc.stdout.count("mean AUROC") == 1  # only process 0 reports
    assert not list((out / "checkpoints").rglob("*.npz"))  # every process removed its shards


def test_kill_9_of_one_process_stops_the_other_then_resume_completes(one_process, tmp_path):
    out = tmp_path / "killed"
    coordinator = f"127.0.0.1:{free_port()}"
    logs = [open(tmp_path / f"p{i}.err", "w+") for i in range(2)]
    procs = [subprocess.Popen(_cli("--out", str(out), "--process-id", str(i), "--num-processes", "2",
                                   "--coordinator", coordinator),
                              env=_mp_env(), stdout=subprocess.DEVNULL, stderr=logs[i], stdin=subprocess.DEVNULL)
             for i in range(2)]
    try:
        # Wait until the first chunk is finished and both processes checkpointed the second, then kill -9 one.
        shards = out / "checkpoints" / "default_001.npz.shards"
        deadline = time.time() + 400
        while time.time() < deadline and not ((out / "chunks" / "default_000.json").exists()
                                              and len(list(shards.glob("*.npz"))) >= 2):
            assert all(p.poll() is None for p in procs), "a process ended before it could be killed"
            time.sleep(0.02)
        assert procs[1].poll() is None, "the sweep finished before it could be killed; make it longer"
        os.kill(procs[1].pid, signal.SIGKILL)
        killed = time.time()
        code = procs[0].wait(timeout=60)  # the survivor stops within 60 s instead of hanging in a collective
        assert time.time() - killed < 60 and code != 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    logs[0].seek(0)
    message = logs[0].read()
    assert "process 0 of 2 stops" in message and "--resume" in message, message[-2000:]
    assert not (out / "results.json").exists()
    resumed = subprocess.run(_cli("--out", str(out), "--resume", "--num-processes", "2"), env=_mp_env(),
                             capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert max(abs(a - b) for a, b in zip(_aurocs(out), _aurocs(one_process))) < 1e-6  # the uninterrupted results


def test_launcher_stops_everything_when_a_process_fails(tmp_path):
    """A bad option in every worker: the launcher says which process failed and returns its status."""
    proc = subprocess.run(_cli("--out", str(tmp_path / "x"), "--num-processes", "2", "--set", "no_such_option=1"),
                          env=_mp_env(), capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "of 2" in proc.stderr and "no_such_option" in proc.stderr


def test_distributed_env_reads_jax_and_torchrun_variables():
    assert distributed_env({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}) == \
        {"coordinator_address": "h:1", "num_processes": 4, "process_id": 3}
    assert distributed_env({"MASTER_ADDR": "node0", "MASTER_PORT": "1234", "WORLD_SIZE": "2", "RANK": "1"}) == \
        {"coordinator_address": "node0:1234", "num_processes": 2, "process_id": 1}
    assert distributed_env({}) == {"coordinator_address": None, "num_processes": None, "process_id": None}


def test_a_sweep_stopped_by_the_degeneracy_check_resumes_with_check_collapse_false(tmp_path, monkeypatch):
    """A sweep stops with OCNNDegenerateError naming the run (here every run counts as degenerate: the
    threshold is raised); the same directory then resumes with check_collapse=False (the option is not
    part of the fingerprint) and reports the runs instead of raising."""
    import warnings

    import ocnn_jax.methods.ocnn as ocnn_module
    from ocnn_jax import OCNNDegenerateError

    monkeypatch.setattr(ocnn_module, "DEGENERATE_OBJECTIVE", -1e9)  # every final objective counts as degenerate
    kw = dict(normal_classes=[0], seeds=1, out_dir=str(tmp_path / "s"), progress=False, figures=False, epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(OCNNDegenerateError, match=r"normal class 0, seed 0"):
            sweep("digits", "ocnn", **kw)
        fingerprint = (tmp_path / "s" / "fingerprint.json").read_text()
        results = sweep("digits", "ocnn", resume=True, check_collapse=False, **kw)
    assert (tmp_path / "s" / "fingerprint.json").read_text() == fingerprint
    (setting,) = results["settings"]
    assert [p["normal_class"] for p in setting["per_class"]] == [0] and len(setting["per_class"][0]["aurocs"]) == 1
