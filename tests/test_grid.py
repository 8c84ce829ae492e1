"""Traced grids: ν, the learning rate, the weight decay (and RCAE's λ) are per-run values, so a whole
grid over classes × seeds trains as ONE compiled program and equals the same runs trained alone; a
sweep compiles once per program shape, whatever its chunking."""

import jax
import numpy as np
import pytest

import ocnn_jax
from ocnn_jax.core.batching import stack_classes
from ocnn_jax.core.program import make_runs
from ocnn_jax.datasets import load_digits
from ocnn_jax.engine import _driver
from ocnn_jax.experiments import sweep
from ocnn_jax.methods.train import make_train
from ocnn_jax.nn import make_backbone

#: soft-boundary Deep SVDD uses ν while it trains (the radius quantile and the loss), so a ν grid
#: changes the training, not only the threshold.
FIXED = dict(method="soft_boundary", encoder="mlp", pretrain=False, epochs=2, warmup_epochs=1, batch_size=32,
             progress=False, check_collapse=False, mesh=None)
GRID = {"nu": [0.05, 0.1, 0.2], "lr": [1e-4, 1e-3, 1e-2]}


@pytest.fixture
def phase_traces(monkeypatch):
    """Counts how often a training phase's epoch chunk is traced (= compiled programs of the phases)."""
    count = {"n": 0}
    original = _driver.run_phase_epochs

    def counting(*args, **kwargs):
        count["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(_driver, "run_phase_epochs", counting)
    return count


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_nu_lr_grid_over_classes_and_seeds_is_one_program_equal_to_separate_runs(digits, phase_traces, tmp_path):
    ds = digits
    model = ocnn_jax.fit(ds.x_train, ds.y_train, normal_classes="all", seeds=2, grid=GRID, **FIXED)
    assert phase_traces["n"] == 1  # one phase, one chunk shape: one program for 3 ν × 3 lr × 10 classes × 2 seeds
    assert model.n_runs == 3 * 3 * 10 * 2
    # class-major, then grid point (the product in the order given), then seed
    assert model.runs[:3] == [{"normal_class": 0, "seed": 0, "nu": 0.05, "lr": 1e-4},
                              {"normal_class": 0, "seed": 1, "nu": 0.05, "lr": 1e-4},
                              {"normal_class": 0, "seed": 0, "nu": 0.05, "lr": 1e-3}]
    assert model.runs[18]["normal_class"] == 1
    scores = model.score(ds.x_test)
    loaded = ocnn_jax.load(model.save(tmp_path / "grid"))  # the per-run ν and lr travel with the file
    assert loaded.runs == model.runs
    np.testing.assert_allclose(loaded.score(ds.x_test[:50]), scores[:, :50], rtol=1e-6)
    radius = np.asarray(model.variables["radius"])
    assert len({round(float(r), 6) for r in radius[:18]}) > 9  # the grid points really train differently
    for nu, lr in [(0.05, 1e-4), (0.2, 1e-2)]:  # two corners of the grid, each trained alone
        alone = ocnn_jax.fit(ds.x_train, ds.y_train, normal_classes="all", seeds=2, nu=nu, lr=lr, **FIXED)
        idx = [i for i, r in enumerate(model.runs) if r["nu"] == nu and r["lr"] == lr]
        assert [(model.runs[i]["normal_class"], model.runs[i]["seed"]) for i in idx] == \
            [(r["normal_class"], r["seed"]) for r in alone.runs]
        np.testing.assert_allclose(radius[idx], np.asarray(alone.variables["radius"]), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(scores[idx], alone.score(ds.x_test), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(model.thresholds[idx], alone.thresholds, rtol=1e-4, atol=1e-6)
        assert model.config_of_run(idx[0]).nu == nu and model.config_of_run(idx[0]).train.lr == lr
    assert phase_traces["n"] == 3  # each separate fit is a program of its own


def test_traced_lr_and_weight_decay_equal_the_static_config():
    """make_train + make_runs with per-run lr / weight decay == the config's constants (Deep SVDD with
    pretraining: the pretraining phase keeps its own lr)."""
    r = np.random.default_rng(0)
    data = stack_classes([r.random((40, 6)).astype(np.float32), r.random((33, 6)).astype(np.float32)], 64)
    bb = make_backbone("mlp", (6,), rep_dim=3, hidden=(8,))
    base = dict(epochs=3, pretrain_epochs=2, batch_size=8, pretrain_batch_size=8, lr_milestone=2)
    points = [(1e-3, 1e-4), (1e-2, 0.0)]
    traced = make_train("deep_svdd", bb, data, **base)
    keys, runs = make_runs([0, 1], [3, 4], 0.1, lr=[p[0] for p in points], weight_decay=[p[1] for p in points])
    state, metrics = jax.jit(jax.vmap(traced, in_axes=(0, 0, None)))(keys, runs, data)
    lr, wd = points[1]  # the run whose values differ from the config's: trained alone with them static
    alone = make_train("deep_svdd", bb, data, lr=lr, weight_decay=wd, **base)
    k1, r1 = make_runs([1], [4], 0.1)
    s1, m1 = jax.jit(jax.vmap(alone, in_axes=(0, 0, None)))(k1, r1, data)
    np.testing.assert_allclose(metrics["train/loss"][1], m1["train/loss"][0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(metrics["pretrain/loss"][1], m1["pretrain/loss"][0], rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a[1], b[0], rtol=1e-5, atol=1e-6),
                 traced.variables(state), alone.variables(s1))
    assert not np.allclose(metrics["train/loss"][0], metrics["train/loss"][1])


@pytest.mark.parametrize("grid, match", [
    ({"epochs": [1, 2]}, "traced per run"),
    ({"lam": [0.1]}, "no λ"),
    ({"nu": [0.0, 0.1]}, "nu must lie in"),
    ({"lr": []}, "non-empty"),
    ({"weight_decay": "0.1"}, "non-empty list"),
])
def test_bad_grids_raise_naming_the_key(digits, grid, match):
    with pytest.raises(ValueError, match=match):
        ocnn_jax.fit(digits.x_train, digits.y_train, normal_classes=[0], seeds=1, grid=grid, **FIXED)


def test_sweep_compiles_once_per_program_shape_and_names_the_best_point_without_labels(digits, phase_traces, tmp_path):
    """3 classes × 1 seed × 2 ν in chunks of 4 runs: 2 chunks, the last padded, one program per phase;
    the results equal the one-chunk sweep and the report names a best grid point."""
    kw = dict(method="soft_boundary", normal_classes=[0, 1, 2], seeds=1, grid={"nu": [0.05, 0.2]}, progress=False,
              figures=False, epochs=2, pretrain_epochs=1, warmup_epochs=1)
    chunked = sweep(digits, max_runs_per_chunk=4, out_dir=str(tmp_path / "chunked"), **kw)
    assert phase_traces["n"] == 2  # pretrain + train, compiled once for both chunks
    whole = sweep(digits, max_runs_per_chunk=6, **kw)
    assert [(r["normal_class"], r["nu"], r["seed"]) for r in chunked["runs"]] == \
        [(r["normal_class"], r["nu"], r["seed"]) for r in whole["runs"]]
    np.testing.assert_allclose([r["auroc"] for r in chunked["runs"]], [r["auroc"] for r in whole["runs"]], atol=1e-6)
    assert [s["point"] for s in chunked["settings"]] == [{"nu": 0.05}, {"nu": 0.2}]
    best = chunked["best"]
    objectives = {s["point"]["nu"]: s["objective"] for s in chunked["settings"]}
    assert best["point"]["nu"] == min(objectives, key=objectives.get) and "test labels are not used" in best["criterion"]
    md = (tmp_path / "chunked" / "results.md").read_text()
    assert "## default, ν = 0.05" in md and "## default, ν = 0.2" in md and "**Best grid point: default, ν = " in md
