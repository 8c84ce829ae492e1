"""The model axis sharded over 8 simulated CPU devices gives the runs of a single device."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"


def _run(script: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, str(SCRIPTS / script)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sharded_driver_equals_single_device():
    out = _run("sharded_driver.py")
    assert out["devices"] == 8
    for name in ("vmap", "map"):
        assert out[name] < 1e-4, out
        assert out[name + "_loss"] < 1e-4, out
        assert "runs" in out[name + "_sharding"], out


def test_fit_uses_every_device_by_default_with_the_results_of_one_device():
    out = _run("fit_auto_mesh.py")
    assert out["devices"] == 8 and out["n_runs"] == 6 and out["mesh_sizes"] == [8, 0]
    assert out["score_diff"] < 1e-4 and out["loss_diff"] < 1e-4, out
    assert out["auroc_diff"] < 1e-3, out
