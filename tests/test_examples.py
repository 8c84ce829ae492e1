"""Every script in examples/ runs end to end at tiny settings (smoke tests; the numbers are checked
only for what tiny settings can promise)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _main(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_every_example_is_listed_and_smoke_tested():
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    readme = (EXAMPLES / "README.md").read_text()
    assert all(f"`{s}.py`" in readme for s in scripts)
    assert scripts == sorted(CASES + ["accelerators"])


CASES = ["tabular_pyod", "image_folder", "custom_encoder", "sweep_figures", "resume"]


def test_tabular_pyod():
    res = _main("tabular_pyod")(["--n-train", "150", "--n-test", "60", "--epochs", "2", "--seeds", "1",
                                 "--detectors", "OCSVM,IForest,KDE,DCAE"])
    assert set(res) == {"OCSVM", "IForest", "KDE", "DCAE"}
    assert all(res[k][0] > 0.9 for k in ("OCSVM", "IForest", "KDE"))  # ROC AUC of the shallow detectors


def test_image_folder(tmp_path):
    metrics = _main("image_folder")(["--size", "16", "--seeds", "1", "--epochs", "2", "--method", "dcae"])
    assert set(metrics) == {"auroc", "aupr"} and metrics["auroc"].shape == (1,)


def test_custom_encoder():
    res = _main("custom_encoder")(["--method", "dcae", "--classes", "0", "--seeds", "1", "--epochs", "1"])
    assert res["auroc"].shape == (1,) and np.all((res["aupr"] > 0) & (res["aupr"] <= 1))


def test_sweep_figures(tmp_path):
    out = tmp_path / "sweep"
    res = _main("sweep_figures")(["--method", "rcae", "--classes", "0,1", "--seeds", "1", "--epochs", "2",
                                  "--out", str(out)])
    assert {"auroc_rcae.png", "extremes_rcae.png", "noise_rcae_class0.png", "noise_rcae_class1.png"} <= set(
        os.listdir(out / "figures"))
    assert all("aupr_mean" in p for p in res["settings"][0]["per_class"])


def test_resume():
    res = _main("resume")(["--method", "dcae", "--classes", "0,1", "--seeds", "1", "--epochs", "4"])
    # interrupted half-way through chunk 2's training; the resumed call trains only what was left
    assert res["interrupted_after"] + res["resumed_epochs"] == res["total_epochs"]
    assert len(res["results"]["runs"]) == 2


def test_accelerators_with_two_cpu_devices():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(EXAMPLES / "accelerators.py"), "--cpu-devices", "2", "--method", "dcae",
                          "--seeds", "1", "--epochs", "2"], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "2 device(s)" in out.stdout and "10 runs" in out.stdout
