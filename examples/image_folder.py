"""Anomaly detection on a folder of images: ``root/train/<class>/*.png`` (+ ``root/test/<class>/``).

Point ``--folder`` at your own images (e.g. an MVTec-AD category: ``train/good``, ``test/good``,
``test/crack`` ...); the normal class is ``--normal`` (default "good"), every other test class is an
anomaly. Without ``--folder`` a small synthetic folder is written first (bright discs = "good",
discs with a dark scratch = "scratch"), so the example runs anywhere.

    python examples/image_folder.py                                  # synthetic folder
    python examples/image_folder.py --folder ~/data/mvtec/bottle --size 64 --method dcae
"""

import argparse
import os
import tempfile

import numpy as np
from PIL import Image

import ocnn_jax
from ocnn_jax.datasets import load_image_folder


def write_synthetic_folder(root: str, n_train: int = 60, n_test: int = 20, size: int = 28, seed: int = 0) -> str:
    """root/train/good, root/test/good and root/test/scratch with size × size grey PNGs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]

    def disc(scratch: bool) -> np.ndarray:
        cy, cx = rng.uniform(0.35, 0.65, 2) * size
        r = rng.uniform(0.2, 0.3) * size
        img = 200.0 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r) + rng.normal(0, 12, (size, size))
        if scratch:
            row = int(cy + rng.uniform(-r / 2, r / 2))
            img[max(0, row - 1) : row + 1, int(cx - r) : int(cx + r)] = 20
        return np.clip(img, 0, 255).astype(np.uint8)

    for split, name, n, scratch in [("train", "good", n_train, False), ("test", "good", n_test, False),
                                    ("test", "scratch", n_test, True)]:
        d = os.path.join(root, split, name)
        os.makedirs(d, exist_ok=True)
        for i in range(n):
            Image.fromarray(disc(scratch)).save(os.path.join(d, f"{i:04d}.png"))
    return root


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", default=None, help="root/train/<class>/ and root/test/<class>/ (default: synthetic)")
    p.add_argument("--normal", default="good", help="the normal class (a subfolder name)")
    p.add_argument("--size", type=int, default=28, help="images are resized to size × size")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3))
    p.add_argument("--method", default="deep_svdd", choices=list(ocnn_jax.METHODS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30)
    args = p.parse_args(argv)

    root = args.folder or write_synthetic_folder(tempfile.mkdtemp(prefix="ocnn_jax_folder_"), size=args.size)
    ds = load_image_folder(root, image_shape=(args.size, args.size, args.channels))
    print(f"{root}: classes {ds.classes}, {len(ds.x_train)} training and {len(ds.x_test)} test images")
    normal = ds.class_index(args.normal)
    train = ds.x_train[ds.y_train == normal]
    overrides = {"epochs": args.epochs, "batch_size": min(32, len(train))}
    if ocnn_jax.methods.get_method(args.method).has_pretrain:
        overrides.update(pretrain_epochs=args.epochs, pretrain_batch_size=min(32, len(train)))
    if args.method == "rcae":
        overrides = {"outer_iterations": 2, "epochs_per_iteration": max(1, args.epochs // 2), "batch_size": min(32, len(train))}
    model = ocnn_jax.fit(train, method=args.method, seeds=args.seeds, **overrides)
    is_anomaly = (ds.y_test != normal).astype(int)
    metrics = model.evaluate(ds.x_test, is_anomaly, metrics=("auroc", "aupr"))
    for i, run in enumerate(model.runs):
        print(f"seed {run['seed']}: AUROC {100 * metrics['auroc'][i]:.2f} %, AUPR {100 * metrics['aupr'][i]:.2f} %")
    return metrics


if __name__ == "__main__":
    main()
