"""A first-conv kernel learned from the data: the patch dictionary of Ruff et al.'s Theano code
(docs/algorithms.md §6, "Whose schedule").

With ``first_conv_init="dictionary"`` each run's autoencoder (or, without pretraining, its encoder) starts
its first convolution from F atoms of sparse dictionary learning on k×k patches of the run's own normal
class, instead of a random kernel. The dictionary depends on the run's class and seed, so it is learned
on the host before training (scikit-learn's online dictionary learning, Mairal et al. 2009) and enters
the compiled program as data on the run axis (``RunSpec.first_conv``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["learn_dictionary", "learn_dictionaries", "DICTIONARY_IMAGES", "DICTIONARY_STEPS", "DICTIONARY_BATCH"]

#: Images drawn per run, mini-batch steps and patches per step: the Theano code's settings.
DICTIONARY_IMAGES = 500
DICTIONARY_STEPS = 1000
DICTIONARY_BATCH = 10


def learn_dictionary(x: np.ndarray, seed: int, kernel_shape: Sequence[int], *, n_images: int = DICTIONARY_IMAGES,
                     n_steps: int = DICTIONARY_STEPS, batch_size: int = DICTIONARY_BATCH) -> np.ndarray:
    """A first-conv kernel of F dictionary atoms learned on k×k patches of one run's training images.

    Every k×k×C patch of ``n_images`` images drawn without replacement (all of them when there are fewer),
    each patch coordinate standardised over the patches (a constant coordinate is only centred); sparse
    coding with α = 1 (LARS), ``n_steps`` online updates on ``batch_size`` patches each, in a random order,
    from the top-F singular vectors (scikit-learn's ``MiniBatchDictionaryLearning.partial_fit``). Atoms have
    unit L2 norm. Every draw comes from ``seed``, so a (class, seed) run always gets the same kernel.

    Args:
      x: (n, H, W, C) preprocessed training images of the run's normal class.
      seed: the run's seed.
      kernel_shape: (k, k, C, F), the first conv's kernel shape (HWIO).

    Returns:
      (k, k, C, F) float32, each atom flipped in both spatial axes: the Theano network convolves with it,
      a Flax conv cross-correlates, so the flipped atom makes the layer compute what the Theano layer did.

    Raises:
      ValueError: ``x`` is not a batch of images matching the kernel's channels, or is smaller than a patch.
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import PatchExtractor
    from sklearn.utils.extmath import randomized_svd

    kh, kw, c_in, n_atoms = (int(v) for v in kernel_shape)
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != c_in or x.shape[1] < kh or x.shape[2] < kw or len(x) < 1:
        raise ValueError(f"learn_dictionary: x must be (n, H, W, {c_in}) images of at least {kh}×{kw} pixels "
                         f"for a {tuple(kernel_shape)} kernel, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(x), min(n_images, len(x)), replace=False)
    images = x[chosen] if c_in > 1 else x[chosen, ..., 0]
    patches = PatchExtractor(patch_size=(kh, kw)).transform(images).reshape(-1, kh * kw * c_in).astype(np.float64)
    patches -= patches.mean(axis=0)
    std = patches.std(axis=0)
    patches /= np.where(std > 0, std, 1.0)
    _, s, vt = randomized_svd(patches, n_atoms, random_state=seed)
    dico = MiniBatchDictionaryLearning(n_components=n_atoms, alpha=1.0, batch_size=batch_size,
                                       dict_init=s[:, None] * vt, random_state=seed)
    order = rng.permutation(len(patches))
    for i in range(n_steps):
        batch = order[(i * batch_size) % len(order):][:batch_size]
        dico.partial_fit(patches[batch])
    atoms = dico.components_.reshape(n_atoms, kh, kw, c_in)[:, ::-1, ::-1, :]
    return np.ascontiguousarray(atoms.transpose(1, 2, 3, 0), dtype=np.float32)


def learn_dictionaries(class_images: Sequence[np.ndarray], runs: Sequence[tuple[int, int]],
                       kernel_shape: Sequence[int], *, n_jobs: int | None = None,
                       n_steps: int | None = None) -> list[np.ndarray]:
    """:func:`learn_dictionary` for each (class index, seed) in ``runs``, on ``class_images[class index]``,
    in parallel worker processes (each run's kernel is independent of where it is learned).

    Args:
      class_images: per class, (n_c, H, W, C) preprocessed training images.
      runs: (class index, seed) pairs.
      kernel_shape: (k, k, C, F).
      n_jobs: worker processes; None: one per CPU core the process may use, at most one per run.
      n_steps: online updates per dictionary; None: ``DICTIONARY_STEPS`` as it is when called.

    Returns:
      One (k, k, C, F) float32 kernel per entry of ``runs``, in order.
    """
    runs = [(int(c), int(s)) for c, s in runs]
    if n_jobs is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        n_jobs = max(1, min(cores, len(runs)))
    steps = DICTIONARY_STEPS if n_steps is None else n_steps
    if n_jobs == 1 or len(runs) <= 1:
        return [learn_dictionary(class_images[c], s, kernel_shape, n_steps=steps) for c, s in runs]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(learn_dictionary)(class_images[c], s, kernel_shape, n_steps=steps)
                                   for c, s in runs)
