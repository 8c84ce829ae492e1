"""PNG figures of a sweep: per-class AUROC bars, and the most normal / most anomalous test images."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._reference import reference_for

__all__ = ["auroc_chart", "extremes_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def auroc_chart(results: dict[str, Any], path: str) -> None:
    """Bar chart of AUROC mean ± std per class for every setting, reference means as black ticks."""
    plt = _pyplot()
    settings = results["settings"]
    classes = [p["class_name"] for p in settings[0]["per_class"]]
    x = np.arange(len(classes))
    width = 0.8 / max(1, len(settings))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(classes) + 2), 4))
    for i, s in enumerate(settings):
        means = [100 * p["mean"] for p in s["per_class"]]
        stds = [100 * p["std"] for p in s["per_class"]]
        label = s["group"] + (f", λ={s['lam']}" if s["lam"] is not None else "")
        ax.bar(x + (i - (len(settings) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=label)
    ref = reference_for(results["dataset"], results["method"]) if not results["grid"] else None
    if ref:
        cls_idx = [p["normal_class"] for p in settings[0]["per_class"]]
        ax.scatter(x, [ref[c][0] for c in cls_idx], marker="_", s=400, color="black", zorder=3, label="published")
    lo = min(100 * p["mean"] - 100 * p["std"] for s in settings for p in s["per_class"])
    ax.set_ylim(max(0, min(lo, min((r[0] for r in ref), default=100) if ref else lo) - 5), 100.5)
    ax.set_xticks(x, classes, rotation=30 if max(len(c) for c in classes) > 3 else 0)
    ax.set_ylabel("AUROC %")
    ax.set_title(f"{results['method']} on {results['dataset']} ({len(results['seeds'])} seeds)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def extremes_figure(results: dict[str, Any], npz_path: str, path: str) -> None:
    """One row per normal class: its 8 most normal test images, then its 8 most anomalous."""
    plt = _pyplot()
    data = np.load(npz_path)
    classes = [p["normal_class"] for p in results["settings"][0]["per_class"]]
    names = {p["normal_class"]: p["class_name"] for p in results["settings"][0]["per_class"]}
    fig, axes = plt.subplots(len(classes), 16, figsize=(16 * 0.7, len(classes) * 0.75 + 0.6), squeeze=False)
    for row, c in enumerate(classes):
        imgs = data[f"class_{c}"]
        for col in range(16):
            ax = axes[row, col]
            ax.axis("off")
            if col >= len(imgs):
                continue
            img = np.asarray(imgs[col])
            if img.dtype != np.uint8:
                img = np.clip(img, 0, 1)
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        axes[row, 0].set_title(str(names[c]), fontsize=7, loc="left")
    fig.suptitle(f"{results['method']} on {results['dataset']}: most normal (left 8) | most anomalous (right 8)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
