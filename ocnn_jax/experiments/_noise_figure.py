"""The RCAE picture: input / reconstruction / noise N of the most anomalous samples of one run."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..frontend._explain import reconstruction_parts
from ..frontend._model import Model

__all__ = ["noise_figure"]


def _as_image(sample: np.ndarray) -> np.ndarray:
    """(H, W, 1) -> (H, W); (H, W, 3) stays; a feature vector (d,) -> a (1, d) strip."""
    if sample.ndim == 1:
        return sample[None, :]
    if sample.ndim == 3 and sample.shape[-1] == 1:
        return sample[..., 0]
    return sample


def noise_figure(model: Model, x: Any, path: str, *, run: int = 0, top: int = 8, title: str | None = None,
                 scores: np.ndarray | None = None) -> np.ndarray:
    """Draw the ``top`` most anomalous samples of x under run ``run``: input, reconstruction, N.

    Three rows of ``top`` panels, in the run's preprocessed space: the input; its reconstruction
    (same grey/colour scale as the input); RCAE's noise matrix N (``reconstruction_parts``) on a
    diverging scale symmetric around 0 (colour images: the sum over channels). DCAE models show their
    residual input − reconstruction in the third row instead (they have no N). Feature vectors are
    drawn as one-row strips.

    Args:
      model: a fitted "rcae" or "dcae" ``Model``.
      x: (n, *sample_shape) raw samples, e.g. the test set.
      path: the PNG to write.
      run: which run (index into ``model.runs``).
      top: how many of the highest-scoring samples to draw.
      title: figure title (default: method, run and scores).
      scores: ``model.score(x)`` when already computed, (n_runs, n) (not recomputed then).

    Returns:
      (top,) indices into x of the drawn samples, most anomalous first.
    """
    if not 0 <= run < model.n_runs:
        raise ValueError(f"run must be in [0, {model.n_runs}), got {run!r}")
    scores = (model.score(x) if scores is None else np.asarray(scores))[run]
    order = np.argsort(-scores, kind="stable")[: max(1, int(top))]
    parts = reconstruction_parts(model, np.asarray(x)[order])
    xin, recon, noise = (parts[k][run] for k in ("input", "reconstruction", "noise"))
    third, third_label = (noise, "noise N") if model.method == "rcae" else (xin - recon, "residual")

    from ._figures import _pyplot

    plt = _pyplot()
    k = len(order)
    fig, axes = plt.subplots(3, k, figsize=(1.3 * k + 0.8, 4.3), squeeze=False)
    for j in range(k):
        lo, hi = float(xin[j].min()), float(xin[j].max())
        scale = (lambda a: np.clip((a - lo) / (hi - lo), 0, 1)) if hi > lo else (lambda a: np.zeros_like(a))
        n_img = _as_image(third[j])
        if n_img.ndim == 3:
            n_img = n_img.sum(axis=-1)
        lim = float(np.abs(n_img).max()) or 1.0
        for row, (img, kw) in enumerate([
            (_as_image(scale(xin[j])), {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (_as_image(scale(recon[j])), {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (n_img, {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}),
        ]):
            ax = axes[row, j]
            ax.imshow(img, aspect="auto" if img.shape[0] == 1 else "equal", interpolation="nearest",
                      **({} if img.ndim == 3 else kw))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(f"#{order[j]}\n{scores[order[j]]:.3g}", fontsize=7)
    for row, label in enumerate(["input", "reconstruction", third_label]):
        axes[row, 0].set_ylabel(label, fontsize=8)
    info = model.runs[run]
    fig.suptitle(title or f"{model.method}, run {run} ({', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in info.items())}): "
                 f"{k} most anomalous samples (index, score)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return order
