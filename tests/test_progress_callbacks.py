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


def test_fit_reports_every_epoch_of_every_run_to_the_callbacks(tmp_path, capsys):
    import ocnn_jax
    from ocnn_jax.engine import EpochMetrics

    r = np.random.default_rng(0)
    x = np.concatenate([r.normal(0, 1, (40, 6)), r.normal(3, 1, (40, 6))]).astype(np.float32)
    y = np.r_[np.zeros(40, int), np.ones(40, int)]
    events: list[EpochMetrics] = []
    path = tmp_path / "log.csv"
    model = ocnn_jax.fit(x, y, method="deep_svdd", seeds=2, epochs=4, pretrain_epochs=2, batch_size=16,
                         pretrain_batch_size=16, callbacks=[events.append, CSVLogger(path)], progress=True)
    assert [(e.phase, e.epoch, e.step) for e in events] == [("pretrain", 0, 0), ("pretrain", 1, 1)] + [
        ("train", i, 2 + i) for i in range(4)]
    assert events[0].runs == model.runs
    for name, per_run in model.train_metrics.items():  # (M, epochs) == what the callbacks saw
        phase, metric = name.split("/")
        seen = np.stack([e.metrics[metric] for e in events if e.phase == phase], axis=1)
        np.testing.assert_array_equal(seen, per_run)
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == sum(v.size for v in model.train_metrics.values())
    # piped output (pytest captures stderr): plain progress lines, no carriage returns
    err = capsys.readouterr().err
    assert "\r" not in err and "train: 6/6 epoch" in err


def test_first_runs_drops_the_padding_runs():
    from ocnn_jax.engine._callbacks import first_runs

    seen = []
    report_chunk([first_runs(seen.append, 1)], "train", 0, 1, 0, {"loss": np.array([[1.0], [1.0]])}, RUNS)
    assert seen[0].runs == RUNS[:1] and seen[0].metrics["loss"].shape == (1,)
