"""RCAE's noise matrix N recomputed on demand equals the N each run ended training with, and the
input / reconstruction / N figure of the most anomalous samples."""

import numpy as np
import pytest

import ocnn_jax
from ocnn_jax.datasets import load_digits
from ocnn_jax.experiments import noise_figure
from ocnn_jax.frontend import reconstruction_parts


@pytest.fixture(scope="module")
def rcae():
    ds = load_digits()
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method="rcae", normal_classes=[0, 1], seeds=1, progress=False,
                         outer_iterations=2, epochs_per_iteration=2, batch_size=32, lr=1e-3, lam=[0.1, 1.0])
    return model, ds


def test_recomputed_noise_is_the_trained_noise(rcae):
    model, ds = rcae
    for i, run in enumerate(model.runs):
        rows = ds.x_train[ds.y_train == run["normal_class"]]
        parts = reconstruction_parts(model, rows)
        assert parts["noise"].shape == (model.n_runs, len(rows), 8, 8, 1)
        norms = np.sqrt(np.sum(parts["noise"][i].reshape(len(rows), -1) ** 2, axis=1))
        # the model keeps ‖N_i‖ of every training row from the last N-step of training
        np.testing.assert_allclose(norms, model.variables["noise_norms"][i][: len(rows)], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(parts["input"][i], model.preprocess(rows, run["normal_class"]), atol=1e-6)
    # the larger λ leaves fewer non-zero entries (λ = 1 vs 0.1 for class 0)
    parts = reconstruction_parts(model, ds.x_test[:50])
    assert np.count_nonzero(parts["noise"][1]) < np.count_nonzero(parts["noise"][0])


def test_noise_figure_draws_the_most_anomalous_samples(rcae, tmp_path):
    model, ds = rcae
    path = tmp_path / "noise.png"
    order = noise_figure(model, ds.x_test, str(path), run=1, top=5)
    assert path.stat().st_size > 5000
    scores = model.score(ds.x_test)[1]
    np.testing.assert_array_equal(np.sort(scores[order])[::-1], np.sort(scores)[::-1][:5])
    with pytest.raises(ValueError, match="run must be"):
        noise_figure(model, ds.x_test, str(path), run=9)


def test_reconstruction_parts_refuses_other_methods():
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    model = ocnn_jax.fit(x, method="ocsvm", seeds=1, progress=False)
    with pytest.raises(ValueError, match="'rcae' or 'dcae'"):
        reconstruction_parts(model, x)
