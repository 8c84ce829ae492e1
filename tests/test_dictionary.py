"""The data-learned first conv (``first_conv_init="dictionary"``): the host-side dictionary and its way onto
the run axis into each run's initial network."""

import jax
import numpy as np
import pytest

import ocnn_jax
from ocnn_jax.core.program import make_runs
from ocnn_jax.frontend._fit import first_conv_shape, prepare, run_table
from ocnn_jax.methods import dictionary
from ocnn_jax.methods.dictionary import learn_dictionaries, learn_dictionary
from ocnn_jax.nn import make_backbone

MNIST_KERNEL = (5, 5, 1, 8)
STEPS = 60  # online updates per dictionary in these tests (the library's 1000 take seconds per run)


@pytest.fixture(autouse=True)
def _short_dictionaries(monkeypatch):
    monkeypatch.setattr(dictionary, "DICTIONARY_STEPS", STEPS)


def _strokes(n, size=28, channels=1, seed=0):
    """(n, size, size, channels) images in [0, 1] of random oriented bars: patches with structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size, channels), np.float32)
    for i in range(n):
        for _ in range(3):
            a, cx, cy = rng.uniform(0, np.pi), rng.uniform(6, size - 6), rng.uniform(6, size - 6)
            d = np.abs((xx - cx) * np.sin(a) - (yy - cy) * np.cos(a))
            out[i] += (d < 1.5)[..., None] * rng.uniform(0.5, 1, channels)
    return np.clip(out, 0, 1)


def _patches(x, k):
    """All k×k×C patches of x (n, H, W, C), flattened in (row, column, channel) order, standardised."""
    _, h, w, c = x.shape
    p = np.stack([x[:, i:i + k, j:j + k, :] for i in range(h - k + 1) for j in range(w - k + 1)], 1)
    p = p.reshape(-1, k * k * c).astype(np.float64)
    p -= p.mean(0)
    return p / np.where(p.std(0) > 0, p.std(0), 1)


def _coding_error(patches, atoms, alpha=1.0):
    """Mean lasso objective ½‖p − Dᵀa‖² + α‖a‖₁ of the patches' best codes on ``atoms`` (F, d)."""
    from sklearn.decomposition import sparse_encode

    codes = sparse_encode(patches, atoms, algorithm="lasso_lars", alpha=alpha)
    return float(np.mean(0.5 * ((patches - codes @ atoms) ** 2).sum(1) + alpha * np.abs(codes).sum(1)))


def test_dictionary_kernel_has_unit_flipped_atoms_that_code_the_patches_better_than_random_ones():
    x = _strokes(60)
    kernel = learn_dictionary(x, seed=0, kernel_shape=MNIST_KERNEL, n_steps=300)
    assert kernel.shape == MNIST_KERNEL and kernel.dtype == np.float32
    atoms = kernel[::-1, ::-1].transpose(3, 0, 1, 2).reshape(8, -1)  # undo the flip: atoms on patch coordinates
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1, rtol=1e-5)
    patches = _patches(x, 5)[::7]
    random = np.random.default_rng(1).standard_normal(atoms.shape)
    random /= np.linalg.norm(random, axis=1, keepdims=True)
    assert _coding_error(patches, atoms.astype(np.float64)) < 0.8 * _coding_error(patches, random)
    # the flip matters: the unflipped atoms are not the dictionary (a bar pattern is not symmetric)
    assert not np.allclose(kernel, kernel[::-1, ::-1])


def test_dictionary_is_a_function_of_the_data_and_seed():
    x = _strokes(40)
    a = learn_dictionary(x, 3, MNIST_KERNEL, n_steps=50)
    np.testing.assert_array_equal(a, learn_dictionary(x, 3, MNIST_KERNEL, n_steps=50))
    assert not np.allclose(a, learn_dictionary(x, 4, MNIST_KERNEL, n_steps=50))


def test_colour_kernels_and_constant_patch_coordinates():
    x = _strokes(20, size=12, channels=3)
    x[:, :, :, 2] = 0.5  # a constant channel: centred, not divided by a zero std
    kernel = learn_dictionary(x, 0, (5, 5, 3, 4), n_steps=30)
    assert kernel.shape == (5, 5, 3, 4) and np.all(np.isfinite(kernel))


@pytest.mark.parametrize("x, shape", [
    (np.zeros((4, 28, 28), np.float32), MNIST_KERNEL),  # no channel axis
    (np.zeros((4, 28, 28, 3), np.float32), MNIST_KERNEL),  # channels differ from the kernel's
    (np.zeros((4, 3, 3, 1), np.float32), MNIST_KERNEL),  # smaller than a patch
])
def test_bad_images_are_refused_with_the_expected_shape(x, shape):
    with pytest.raises(ValueError, match="learn_dictionary: x must be"):
        learn_dictionary(x, 0, shape)


def test_parallel_dictionaries_equal_sequential_ones():
    images = [_strokes(30, seed=0), _strokes(30, seed=1)]
    runs = [(0, 0), (1, 0), (1, 5)]
    par = learn_dictionaries(images, runs, MNIST_KERNEL, n_jobs=2)
    seq = learn_dictionaries(images, runs, MNIST_KERNEL, n_jobs=1)
    for p, s, (c, seed) in zip(par, seq, runs):
        np.testing.assert_array_equal(p, s)
        np.testing.assert_array_equal(s, learn_dictionary(images[c], seed, MNIST_KERNEL, n_steps=STEPS))


def _two_class_images():
    x = np.concatenate([_strokes(40, seed=0), 1 - _strokes(40, seed=1)])
    y = np.repeat([0, 1], 40)
    return x, y


@pytest.mark.parametrize("method", ["deep_svdd", "dcae"])
def test_each_run_starts_from_its_own_class_and_seed_dictionary(method):
    x, y = _two_class_images()
    p = prepare(x, y, method=method, normal_classes=[0, 1], first_conv_init="dictionary",
                batch_size=20, epochs=1, **({"pretrain_epochs": 1} if method == "deep_svdd" else {}))
    assert first_conv_shape(p.backbone) == MNIST_KERNEL
    runs = run_table([0, 1], [0, 2], [{}])
    kernels = p._first_conv_kernels(runs)
    assert kernels.shape == (4,) + MNIST_KERNEL
    counts = np.asarray(p.data.n)
    for i, (c, s) in enumerate(zip(runs.cls, runs.seeds)):
        np.testing.assert_array_equal(kernels[i], learn_dictionary(np.asarray(p.data.x[c, :counts[c]]), int(s),
                                                                   MNIST_KERNEL, n_steps=STEPS))
    keys, spec = make_runs(runs.cls, runs.seeds, 0.1, first_conv=kernels)
    state = jax.vmap(lambda k, r: p.train_fn.program.init(k, r, p.data))(keys, spec)
    conv1 = np.asarray(state.params["encoder"]["conv1"]["kernel"])
    np.testing.assert_array_equal(conv1, kernels)
    # the default init of the same runs is the backbone's random kernel, and nothing else moved
    keys, plain = make_runs(runs.cls, runs.seeds, 0.1)
    default = jax.vmap(lambda k, r: p.train_fn.program.init(k, r, p.data))(keys, plain)
    assert not np.allclose(np.asarray(default.params["encoder"]["conv1"]["kernel"]), kernels)
    np.testing.assert_array_equal(np.asarray(default.params["encoder"]["conv2"]["kernel"]),
                                  np.asarray(state.params["encoder"]["conv2"]["kernel"]))


def test_fit_without_pretraining_starts_the_deep_svdd_encoder_from_the_dictionary():
    x, y = _two_class_images()
    p = prepare(x, y, method="deep_svdd", normal_classes=[1], first_conv_init="dictionary", pretrain=False,
                batch_size=20, epochs=1)
    runs = run_table([0], [7], [{}])
    kernels = p._first_conv_kernels(runs)
    keys, spec = make_runs(runs.cls, runs.seeds, 0.1, first_conv=kernels)
    state = jax.vmap(lambda k, r: p.train_fn.program.init(k, r, p.data))(keys, spec)
    np.testing.assert_array_equal(np.asarray(state.params["conv1"]["kernel"]), kernels)


def test_fit_trains_with_the_dictionary_and_records_the_setting():
    x, y = _two_class_images()
    model = ocnn_jax.fit(x, y, normal_classes=[0], seeds=[0, 1], first_conv_init="dictionary", batch_size=20,
                         epochs=2, pretrain_epochs=2, progress=False)
    assert model.config.first_conv_init == "dictionary"
    scores = model.score(x)
    assert scores.shape == (2, len(x)) and np.all(np.isfinite(scores))


def test_dictionary_needs_a_conv_backbone_and_a_known_setting():
    x = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    with pytest.raises(ValueError, match="has no first convolution"):
        ocnn_jax.fit(x, first_conv_init="dictionary", epochs=1, pretrain_epochs=1, progress=False)
    with pytest.raises(ValueError, match="first_conv_init must be one of"):
        ocnn_jax.fit(x, first_conv_init="sparse", epochs=1, pretrain_epochs=1, progress=False)
    assert make_backbone("mlp", (6,)).first_conv is None


def test_make_runs_checks_the_kernels_run_axis():
    with pytest.raises(ValueError, match="first_conv must be"):
        make_runs([0, 0], [0, 1], 0.1, first_conv=np.zeros((3,) + MNIST_KERNEL))
