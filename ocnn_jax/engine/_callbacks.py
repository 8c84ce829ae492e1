"""Training callbacks: what the driver reports after every compiled call, and two loggers.

The driver (``ocnn_jax.engine.execute``, reached from ``fit(callbacks=...)``, ``sweep`` and the CLI's
``--log-csv`` / ``--log-tensorboard``) calls each callback once per finished epoch with an
``EpochMetrics``, right where the progress display updates: the epochs of one compiled call are
reported together after it returns (no host callback inside the compiled program).

* ``CSVLogger(path)``: one row per (epoch, run, metric) in long format, appended across fits.
* ``TensorBoardLogger(logdir)``: one TensorBoard run (sub-folder) per training run, scalars
  ``<phase>/<metric>`` over the phase's epochs; needs the optional ``tensorboardX`` package
  (``pip install "ocnn_jax[tensorboard]"``), not TensorFlow.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["EpochMetrics", "Callback", "CSVLogger", "TensorBoardLogger", "run_label", "first_runs", "report_chunk"]


@dataclasses.dataclass(frozen=True)
class EpochMetrics:
    """One finished epoch of every run.

    Attributes:
      phase: the phase name ("pretrain", "warmup", "train", ...).
      epoch: 0-based epoch within the phase.
      phase_epochs: the phase's number of epochs.
      step: 0-based epoch over all phases (the progress display's count).
      metrics: metric name -> (M,) float values of the M runs at this epoch (e.g. "loss").
      runs: per run, its description ({"normal_class", "seed"} and "lam" for an RCAE λ grid).
    """

    phase: str
    epoch: int
    phase_epochs: int
    step: int
    metrics: dict[str, np.ndarray]
    runs: Sequence[dict[str, Any]]


#: A training callback: called with each finished epoch.
Callback = Callable[[EpochMetrics], None]


def run_label(run: dict[str, Any]) -> str:
    """A file-name-safe label of a run, e.g. "class_3_seed_0" or "class_3_lam_0.1_seed_0"."""
    parts = [f"class_{run.get('normal_class')}"]
    if run.get("lam") is not None:
        parts.append(f"lam_{float(run['lam']):g}")
    parts.append(f"seed_{run.get('seed')}")
    return "_".join(str(p) for p in parts).replace(os.sep, "-").replace(" ", "-")


class CSVLogger:
    """Append every epoch's per-run metrics to a CSV file (long format).

    Columns: phase, epoch, step, run, normal_class, seed, lam, metric, value (``run`` is the run's
    index within its fit; ``lam`` is empty except for RCAE λ grids). The header is written when the
    file is new or empty, so several fits (a sweep's chunks, a resumed run) append to one file.
    """

    COLUMNS = ("phase", "epoch", "step", "run", "normal_class", "seed", "lam", "metric", "value")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def __call__(self, event: EpochMetrics) -> None:
        folder = os.path.dirname(self.path)
        if folder:  # created at the first epoch, not before: a command that fails its checks creates nothing
            os.makedirs(folder, exist_ok=True)
        new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        with open(self.path, "a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(self.COLUMNS)
            for i, run in enumerate(event.runs):
                for name, values in event.metrics.items():
                    lam = run.get("lam")
                    w.writerow([event.phase, event.epoch, event.step, i, run.get("normal_class"), run.get("seed"),
                                "" if lam is None else f"{float(lam):g}", name, repr(float(values[i]))])


class TensorBoardLogger:
    """Write every epoch's per-run metrics as TensorBoard scalars (via ``tensorboardX``).

    Each training run gets its own sub-folder of ``logdir`` (``run_label``: class, λ, seed), so
    TensorBoard overlays the runs; the scalar tags are "<phase>/<metric>" at step = epoch within
    the phase. Call ``close`` (or use as a context manager) to flush the files.
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as err:
            raise ImportError(
                'TensorBoardLogger needs tensorboardX: pip install "ocnn_jax[tensorboard]" (or pip install tensorboardX)'
            ) from err
        self.logdir = os.fspath(logdir)
        self._writer_type = SummaryWriter
        self._writers: dict[str, Any] = {}

    def _writer(self, run: dict[str, Any]) -> Any:
        label = run_label(run)
        if label not in self._writers:
            self._writers[label] = self._writer_type(os.path.join(self.logdir, label))
        return self._writers[label]

    def __call__(self, event: EpochMetrics) -> None:
        for i, run in enumerate(event.runs):
            writer = self._writer(run)
            for name, values in event.metrics.items():
                writer.add_scalar(f"{event.phase}/{name}", float(values[i]), event.epoch)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def first_runs(callback: Callback, n: int) -> Callback:
    """``callback`` seeing only the first ``n`` runs (``fit`` pads the run axis to the device count)."""

    def trimmed(event: EpochMetrics) -> None:
        if len(event.runs) == n:
            callback(event)
        else:
            callback(dataclasses.replace(event, metrics={k: v[:n] for k, v in event.metrics.items()}, runs=event.runs[:n]))

    return trimmed


def report_chunk(callbacks: Sequence[Callback], phase: str, first_epoch: int, phase_epochs: int, first_step: int,
                 metrics: dict[str, np.ndarray], runs: Sequence[dict[str, Any]]) -> None:
    """Call every callback once per epoch of a compiled call's (M, k) metrics."""
    if not callbacks:
        return
    k = next(iter(metrics.values())).shape[1] if metrics else 0
    for j in range(k):
        event = EpochMetrics(phase, first_epoch + j, phase_epochs, first_step + j,
                             {name: np.asarray(v)[:, j] for name, v in metrics.items()}, runs)
        for cb in callbacks:
            cb(event)
