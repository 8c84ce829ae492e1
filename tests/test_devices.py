"""ocnn_jax.set_cpu_devices: CPU cores as JAX devices (each check in a fresh Python process, since the
device count is fixed once JAX has started)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import ocnn_jax
from ocnn_jax.engine import usable_cores


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_set_cpu_devices_gives_that_many_devices_and_sweeps_shard_over_them():
    proc = _run("""
        import jax, ocnn_jax
        assert ocnn_jax.set_cpu_devices(3) == 3
        assert jax.device_count() == 3, jax.devices()
        from ocnn_jax.engine import make_run_mesh
        assert make_run_mesh().size == 3
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


def test_set_cpu_devices_after_jax_started_says_what_to_do():
    proc = _run("""
        import jax, jax.numpy as jnp, ocnn_jax
        jnp.zeros(1).block_until_ready()
        try:
            ocnn_jax.set_cpu_devices(2)
        except RuntimeError as err:
            print("ERR", err)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "ERR set_cpu_devices(2) must run before JAX starts" in proc.stdout
    assert "xla_force_host_platform_device_count=2" in proc.stdout


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_cpu_devices_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive int"):
        ocnn_jax.set_cpu_devices(bad)


def test_usable_cores_is_positive():
    assert usable_cores() >= 1


def test_sweep_cli_rejects_a_bad_cpu_device_count():
    proc = subprocess.run([sys.executable, "-m", "ocnn_jax.cli", "sweep", "--dataset", "digits", "--out", "unused",
                           "--cpu-devices", "two"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "--cpu-devices must be a positive integer or 'auto'" in proc.stderr


@pytest.mark.parametrize(("text", "want"), [("auto", None), ("1", 1), ("8", 8)])
def test_parse_cpu_devices(text, want):
    from ocnn_jax.engine import parse_cpu_devices

    assert parse_cpu_devices(text) == want


@pytest.mark.parametrize("bad", ["0", "-2", "two", "", "1.5"])
def test_parse_cpu_devices_rejects(bad):
    from ocnn_jax.engine import parse_cpu_devices

    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        parse_cpu_devices(bad)
