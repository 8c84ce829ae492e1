"""scikit-learn's bundled 8x8 digits: the embedded default data set (no files, no network).

The data has no official train/test split, so one is fixed here (docs/algorithms.md §7.2, "data without
an official split"): ``sklearn.model_selection.train_test_split(x, y, test_size=0.5, stratify=y,
random_state=0)``, giving 898 training and 899 test images. Pixels are integers 0..16 in the source
and are divided by 16, so images are float32 in [0, 1], shape (n, 8, 8, 1).
"""

from __future__ import annotations

import numpy as np

from .base import Dataset

__all__ = ["DIGITS_SPLIT_SEED", "load_digits"]

#: ``random_state`` of the stratified 50/50 split.
DIGITS_SPLIT_SEED = 0


def load_digits(*, test_size: float = 0.5, seed: int = DIGITS_SPLIT_SEED) -> Dataset:
    """The 1797 scikit-learn digits as a :class:`Dataset` (float32 (n, 8, 8, 1) in [0, 1], labels 0..9).

    Args:
      test_size: fraction for the test split (default 0.5).
      seed: ``random_state`` of the stratified split (default 0, the documented split).
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    x, y = _sk_load_digits(return_X_y=True)
    x = (x.reshape(-1, 8, 8, 1) / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    return Dataset(
        name="digits",
        x_train=x_tr,
        y_train=y_tr.astype(np.int32),
        x_test=x_te,
        y_test=y_te.astype(np.int32),
        classes=tuple(str(d) for d in range(10)),
        image_shape=(8, 8, 1),
        source="sklearn",
        split_note=f"stratified train_test_split(test_size={test_size}, random_state={seed})",
    )
