"""Plain progress lines off a terminal, and the training callbacks (CSV, TensorBoard) on their own."""

import csv
import importlib.util
import io
import struct

import numpy as np
import pytest

from ocnn_jax.core import progress as progress_mod
from ocnn_jax.core.progress import PlainProgress, interactive
from ocnn_jax.engine._callbacks import CSVLogger, TensorBoardLogger, report_chunk, run_label


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_plain_progress_writes_whole_lines_without_carriage_returns():
    out = _Stream(False)
    bar = PlainProgress(total=10, desc="train", unit="epoch", interval=3600, stream=out)
    bar.update(2)
    bar.set_postfix(loss="0.5")
    bar.update(8)  # within the interval: no line
    bar.close()
    text = out.getvalue()
    assert "\r" not in text
    assert text.splitlines() == ["train: 2/10 epoch", "train: 10/10 epoch [loss=0.5]"]


def test_progress_picks_plain_lines_off_a_terminal(monkeypatch):
    monkeypatch.setattr(progress_mod.sys, "stderr", _Stream(False))
    monkeypatch.delitem(progress_mod.sys.modules, "ipykernel", raising=False)
    assert not interactive()
    assert isinstance(progress_mod.progress(total=3, desc="x"), PlainProgress)
    assert list(progress_mod.progress(range(3), desc="y", enabled=False)) == [0, 1, 2]
    monkeypatch.setattr(progress_mod.sys, "stderr", _Stream(True))
    assert interactive()
    assert not isinstance(progress_mod.progress(total=3, desc="x"), PlainProgress)


RUNS = [{"normal_class": 0, "seed": 0}, {"normal_class": 0, "seed": 1, "lam": 0.5}]


def test_csv_logger_long_format_appends(tmp_path):
    path = tmp_path / "logs" / "metrics.csv"
    log = CSVLogger(path)
    metrics = {"loss": np.array([[1.0, 0.5], [2.0, 1.5]])}  # (M=2, k=2 epochs)
    report_chunk([log], "train", 4, 10, 14, metrics, RUNS)
    report_chunk([log], "train", 6, 10, 16, {"loss": np.array([[0.25], [1.0]])}, RUNS)
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 6 and list(rows[0]) == list(CSVLogger.COLUMNS)
    assert [(r["epoch"], r["step"], r["run"], r["value"]) for r in rows[:4]] == [
        ("4", "14", "0", "1.0"), ("4", "14", "1", "2.0"), ("5", "15", "0", "0.5"), ("5", "15", "1", "1.5")]
    assert rows[1]["lam"] == "0.5" and rows[0]["lam"] == ""
    assert run_label(RUNS[1]) == "class_0_lam_0.5_seed_1"


def _read_events(path, event_type):
    """Records of a TFRecord event file: u64 length, u32 CRC, payload, u32 CRC."""
    data, events, pos = path.read_bytes(), [], 0
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos : pos + 8])
        events.append(event_type.FromString(data[pos + 12 : pos + 12 + n]))
        pos += 12 + n + 4
    return events


@pytest.mark.skipif(importlib.util.find_spec("tensorboardX") is None, reason="tensorboardX not installed (extra 'tensorboard')")
def test_tensorboard_logger_writes_one_run_folder_per_training_run(tmp_path):
    from tensorboardX.proto.event_pb2 import Event

    with TensorBoardLogger(tmp_path) as log:
        report_chunk([log], "pretrain", 0, 3, 0, {"loss": np.array([[3.0, 2.0, 1.0], [4.0, 3.0, 2.0]])}, RUNS)
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["class_0_lam_0.5_seed_1", "class_0_seed_0"]
    events = _read_events(next((tmp_path / "class_0_seed_0").iterdir()), Event)
    values = [(e.step, v.simple_value) for e in events for v in e.summary.value if v.tag == "pretrain/loss"]
    assert values == [(0, 3.0), (1, 2.0), (2, 1.0)]
