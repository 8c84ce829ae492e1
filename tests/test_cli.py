"""Command-line feel: --help / --version without JAX, every method in --methods all, loggers."""

import csv
import importlib.util
import subprocess
import sys

import pytest

import ocnn_jax
from ocnn_jax.cli import METHOD_NAMES, main

_NO_JAX = (
    "import runpy, sys\nsys.argv = {argv!r}\n"
    "try:\n    runpy.run_module('ocnn_jax.cli', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
    "print('JAX_LOADED', 'jax' in sys.modules)"
)


@pytest.mark.parametrize("argv", [["ocnn-jax", "--help"], ["ocnn-jax", "--version"], ["ocnn-jax", "sweep", "--help"]])
def test_help_and_version_do_not_import_jax(argv):
    out = subprocess.run([sys.executable, "-c", _NO_JAX.format(argv=argv)], capture_output=True, text=True, check=True)
    assert "JAX_LOADED False" in out.stdout, out.stdout + out.stderr
    if "--version" in argv:
        assert out.stdout.startswith(f"ocnn-jax {ocnn_jax.__version__}")
    else:
        assert "usage: ocnn-jax" in out.stdout


def test_cli_method_names_are_the_method_table():
    from ocnn_jax.experiments import ALL_METHODS

    assert METHOD_NAMES == ocnn_jax.METHODS
    assert ALL_METHODS == ocnn_jax.METHODS and "soft_boundary" in ALL_METHODS and "ocnn_encoder" not in ALL_METHODS


def test_compare_logs_training_metrics(tmp_path, capsys):
    csv_path = tmp_path / "train.csv"
    argv = ["compare", "--methods", "dcae,kde", "--classes", "0", "--seeds", "1", "--set", "dcae.epochs=3",
            "--no-progress", "--log-csv", str(csv_path)]
    tb = importlib.util.find_spec("tensorboardX") is not None
    if tb:
        argv += ["--log-tensorboard", str(tmp_path / "tb")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "AUROC % / class" in printed and "AUPR % / class" in printed
    assert max(len(line) for line in printed.splitlines()) <= 120
    rows = list(csv.DictReader(open(csv_path)))
    assert [(r["phase"], r["epoch"], r["normal_class"], r["metric"]) for r in rows] == [
        ("train", str(e), "0", "loss") for e in range(3)]  # the deep method only; KDE has no epochs
    if tb:
        assert [p.name for p in (tmp_path / "tb").iterdir()] == ["class_0_seed_0"]
