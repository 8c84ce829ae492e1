"""Files that sweeps and model files rely on (issue 14): atomic writes that honour the umask, the
output-directory lock, sweep fingerprints, and SIGINT deferred to the driver's next check."""

import json
import os
import signal
import socket
import stat
import subprocess

import numpy as np
import pytest

from ocnn_jax.core.errors import DirectoryLockedError, SweepDirectoryError
from ocnn_jax.engine._checkpoint import _atomic, atomic_savez, atomic_write_bytes
from ocnn_jax.engine._dirlock import LOCK_NAME, DirectoryLock, _process_start, read_lock
from ocnn_jax.engine._interrupt import deferred_sigint, interrupt_requested
from ocnn_jax.experiments._fingerprint import (
    compatibility_version,
    dataset_digest,
    differences,
    fingerprint_digest,
    make_fingerprint,
)
from ocnn_jax.experiments._outdir import SweepDirectory, check_new_file_path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask_022):
    atomic_write_bytes(str(tmp_path / "a.json"), b"{}")
    atomic_savez(str(tmp_path / "b.npz"), {"x": np.zeros(2)})
    assert _mode(tmp_path / "a.json") == 0o644 and _mode(tmp_path / "b.npz") == 0o644  # was 0o600
    os.umask(0o077)
    atomic_write_bytes(str(tmp_path / "a.json"), b"[]")  # replacing a file: the new one's mode
    assert _mode(tmp_path / "a.json") == 0o600 and (tmp_path / "a.json").read_bytes() == b"[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]  # no temporary files left


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "r.npz"
    atomic_savez(str(path), {"x": np.arange(3)})
    def fail_half_way(fh):
        fh.write(b"PK partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _atomic(str(path), fail_half_way)
    np.testing.assert_array_equal(np.load(path)["x"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]


# --------------------------------------------------------------------------------------------------
def test_lock_is_exclusive_and_released(tmp_path, umask_022):
    with DirectoryLock(str(tmp_path)) as lock:
        holder = read_lock(lock.path)
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        assert _mode(lock.path) == 0o644
        with pytest.raises(DirectoryLockedError, match=rf"locked by PID {os.getpid()} on host") as info:
            DirectoryLock(str(tmp_path)).acquire()
        assert info.value.holder["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_held_by_a_live_process_is_refused_and_a_dead_ones_taken_over(tmp_path):
    proc = subprocess.Popen(["sleep", "60"])
    record = {"pid": proc.pid, "host": socket.gethostname(), "start": _process_start(proc.pid), "token": "t"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(record))
    try:
        with pytest.raises(DirectoryLockedError, match=rf"PID {proc.pid} .*wait for it to finish"):
            DirectoryLock(str(tmp_path)).acquire()
    finally:
        proc.kill()  # dies holding the lock: the file stays behind
        proc.wait()
    with DirectoryLock(str(tmp_path)) as lock:  # stale: taken over
        assert read_lock(lock.path)["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


def test_lock_of_another_host_is_refused_naming_it(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "node-17", "created": "2024-01-01 00:00:00"}))
    with pytest.raises(DirectoryLockedError, match=r"PID 1 on host 'node-17'.*delete") as info:
        DirectoryLock(str(tmp_path)).acquire()
    assert info.value.holder["host"] == "node-17"


def test_lock_of_a_reused_pid_is_stale(tmp_path):
    # Our own PID, but a different process start time: the PID was reused, the holder is gone.
    record = {"pid": os.getpid(), "host": socket.gethostname(), "start": "1"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(record))
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("no /proc: start times are not compared")
    with DirectoryLock(str(tmp_path)):
        pass


def test_release_never_removes_another_processes_lock(tmp_path):
    lock = DirectoryLock(str(tmp_path)).acquire()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "token": "theirs"}))
    lock.release()
    assert read_lock(str(tmp_path / LOCK_NAME))["token"] == "theirs"


# --------------------------------------------------------------------------------------------------
def _fp(**changes):
    base = dict(dataset="digits", dataset_digest="abc", method="deep_svdd",
                config={"default": {"epochs": 150, "train": {"lr": 1e-4}}}, classes=["0", "1"], seeds=[0, 1],
                grid={}, library="0.1")
    base.update(changes)
    return make_fingerprint(**base)


def test_fingerprint_differences_list_what_differs():
    assert differences(_fp(), _fp()) == []
    assert fingerprint_digest(_fp()) == fingerprint_digest(json.loads(json.dumps(_fp())))
    assert fingerprint_digest(_fp()) != fingerprint_digest(_fp(seeds=[0, 1, 2]))
    diff = differences(_fp(), _fp(method="ocnn", seeds=(0, 1, 2), config={"default": {"epochs": 1, "train": {"lr": 1e-4}}}))
    assert diff == [
        "config.default.epochs: 150 in the directory, 1 in this call",
        'method: "deep_svdd" in the directory, "ocnn" in this call',
        "seeds: [0, 1] in the directory, [0, 1, 2] in this call",
    ]
    assert differences({"a": 1}, {"b": 2}) == ["a: 1 in the directory, absent in this call",
                                             "b: absent in the directory, 2 in this call"]


def test_dataset_digest_and_compatibility_version():
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    d = dataset_digest({"x": x, "y": np.arange(3)}, ["a", "b"])
    assert d == dataset_digest({"y": np.arange(3), "x": x.copy()}, ("a", "b"))
    x2 = x.copy()
    x2[0, 0] = 1
    assert d != dataset_digest({"x": x2, "y": np.arange(3)}, ["a", "b"])
    assert d != dataset_digest({"x": x.astype(np.float32), "y": np.arange(3)}, ["a", "b"])
    assert d != dataset_digest({"x": x, "y": np.arange(3)}, ["a", "c"])
    assert compatibility_version("0.1.0") == "0.1" and compatibility_version("2.3.4") == "2"


# --------------------------------------------------------------------------------------------------
def test_sigint_is_deferred_to_a_flag_then_restored():
    before = signal.getsignal(signal.SIGINT)
    with deferred_sigint():
        assert not interrupt_requested()
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here
        assert interrupt_requested()
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert not interrupt_requested() and signal.getsignal(signal.SIGINT) is before


# --------------------------------------------------------------------------------------------------
def _snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_sweep_directory_fresh_resume_overwrite(tmp_path):
    out = tmp_path / "a" / "b"
    fresh = SweepDirectory(str(out), _fp())
    fresh.check()
    assert not (tmp_path / "a").exists()  # checking creates nothing
    with fresh.open({"limits": {"default": 4}}):
        assert (out / LOCK_NAME).exists()
        with pytest.raises(DirectoryLockedError, match="is locked by PID"):  # a second writer
            with SweepDirectory(str(out), _fp(), resume=True).open({}):
                pass
        (out / "chunks").mkdir()
        (out / "chunks" / "default_000.json").write_text("{}")
        (out / "results.json").write_text('{"mean": 0.9}')
    assert not (out / LOCK_NAME).exists()
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)

    with pytest.raises(SweepDirectoryError, match=r"already holds a sweep \(results.json, fingerprint.json, chunks/"):
        SweepDirectory(str(out), _fp()).check()
    with pytest.raises(SweepDirectoryError, match="holds a different sweep") as info:
        SweepDirectory(str(out), _fp(method="ocnn", seeds=[0]), resume=True).check()
    assert info.value.differences == ['method: "deep_svdd" in the directory, "ocnn" in this call',
                                      "seeds: [0, 1] in the directory, [0] in this call"]
    assert "--overwrite" in str(info.value)
    assert _snapshot(out) == before  # refused calls change nothing

    same = SweepDirectory(str(out), _fp(), resume=True)
    same.check()
    assert same.stored_chunking == {"limits": {"default": 4}}
    with SweepDirectory(str(out), _fp(seeds=[5]), overwrite=True).open({"limits": {"default": 2}}):
        pass
    assert sorted(_snapshot(out)) == ["fingerprint.json", "notes.txt"]  # the old sweep gone, other files kept
    assert json.loads((out / "fingerprint.json").read_text())["fingerprint"]["seeds"] == [5]


def test_sweep_directory_without_fingerprint_or_in_a_file_is_refused(tmp_path):
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks" / "default_000.json").write_text("{}")
    with pytest.raises(SweepDirectoryError, match="no fingerprint.json"):
        SweepDirectory(str(tmp_path), _fp(), resume=True).check()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SweepDirectoryError, match="exists and is not a directory"):
        SweepDirectory(str(tmp_path / "file"), _fp()).check()
    with pytest.raises(SweepDirectoryError, match="cannot be created: .* is not a directory"):
        SweepDirectory(str(tmp_path / "file" / "out"), _fp()).check()
    with pytest.raises(ValueError, match="--json .* is a directory"):
        check_new_file_path(str(tmp_path))
    with pytest.raises(ValueError, match="--json .* is a directory"):
        check_new_file_path(str(tmp_path / "new") + os.sep)
    with pytest.raises(ValueError, match="the folder of --json"):
        check_new_file_path(str(tmp_path / "file" / "r.json"))
    check_new_file_path(str(tmp_path / "new" / "r.json"))
    assert not (tmp_path / "new").exists()


def test_finished_chunks_must_be_this_sweeps_and_hold_the_planned_runs(tmp_path):
    d = SweepDirectory(str(tmp_path), _fp())
    rows = [{"group": "default", "normal_class": c, "seed": s} for c in (0, 1) for s in (0, 1)]
    d.verify_chunk("c.json", {"fingerprint": d.digest, "runs": rows}, "default_000", [0, 1], [0, 1], "default")
    with pytest.raises(SweepDirectoryError, match="written by another sweep"):
        d.verify_chunk("c.json", {"fingerprint": "x", "runs": rows}, "default_000", [0, 1], [0, 1], "default")
    with pytest.raises(SweepDirectoryError, match="a different chunking"):
        d.verify_chunk("c.json", {"fingerprint": d.digest, "runs": rows}, "default_000", [0], [0, 1], "default")


def test_sweep_fingerprint_changes_with_an_option_that_changes_training():
    """preprocessing changes what is trained, so it is part of the fingerprint (check_collapse is not an
    input of the fingerprint at all: tests/test_sweep.py resumes a stopped sweep with it off)."""
    from ocnn_jax.datasets import load_digits
    from ocnn_jax.experiments._sweep import _fingerprint

    ds = load_digits()
    fp = lambda **o: _fingerprint(ds, "ocnn", [0], [0], None, o, [({}, {})])  # noqa: E731
    assert fp(preprocessing="none") != fp() == fp()
