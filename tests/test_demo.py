"""The embedded demo: the full default configuration (every digit × 3 seeds, one program)."""

import json
import subprocess
import sys

from ocnn_jax.cli import main


def test_demo_reaches_the_target_auroc_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert main(["demo", "--no-progress", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [row["normal_class"] for row in result["per_class"]] == list(range(10))
    assert all(len(row["aurocs"]) == 3 for row in result["per_class"])
    assert result["mean_auroc"] >= 0.93, result["mean_auroc"]
    assert len(result["ocsvm"]) == 10
    for token in ("digit", "OC-SVM", "mean", "wall time", "30 runs in one program"):
        assert token in printed


def test_cli_help_and_missing_command():
    run = subprocess.run([sys.executable, "-m", "ocnn_jax.cli", "demo", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--seeds" in run.stdout
    run = subprocess.run([sys.executable, "-m", "ocnn_jax.cli"], capture_output=True, text=True)
    assert run.returncode == 2 and "demo" in run.stdout
