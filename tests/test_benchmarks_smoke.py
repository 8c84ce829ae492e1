"""Smoke tests of ``benchmarks/``: the pure helpers always; the PyTorch and Keras references only where
their optional extras are installed (``pytest.importorskip``), so CI without them skips those.

The reference tests port one set of PyTorch weights into ocnn_jax's Flax autoencoder and into the Keras
one and check that the three compute the same reconstruction (inference and training mode) and take the
same three Adam steps (coupled decay, BN statistics): the implementations differ only in framework.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import throughput  # noqa: E402


# ---------------------------------------------------------------------------------------------------
# Pure helpers


def test_parse_int_list():
    assert common.parse_int_list("0-3,7") == [0, 1, 2, 3, 7]
    assert common.parse_int_list("5") == [5]
    with pytest.raises(Exception):
        common.parse_int_list(",")


def test_run_plan_is_seed_major():
    assert throughput.run_plan([0, 1, 2], 4) == [(0, 0), (1, 0), (2, 0), (0, 1)]
    assert len(throughput.run_plan(list(range(10)), 100)) == 100
    with pytest.raises(ValueError):
        throughput.run_plan([0], 0)


def test_lr_and_centre_rules_match_ocnn_jax():
    from ocnn_jax.core.losses import center_from_mean
    from ocnn_jax.core.optim import lr_at_epoch

    phase = common.Phase(1e-3, 3, 0.0, 200, 6)
    for epoch in range(6):
        assert common.lr_at_epoch(phase, epoch) == pytest.approx(float(lr_at_epoch(1e-3, 3, epoch)))
    assert common.lr_at_epoch(common.Phase(1e-3, None, 0.0, 200, 6), 5) == 1e-3
    mean = np.array([-0.2, -0.05, 0.0, 0.03, 0.5], np.float32)
    np.testing.assert_allclose(common.center_eps_rule(mean, 0.1), np.asarray(center_from_mean(mean, 0.1)))


def test_images_per_run_counts_full_batches():
    hyper = common.Hyper(pretrain=common.Phase(1e-4, 50, 5e-4, 200, 2), svdd=common.Phase(1e-4, 50, 5e-7, 200, 3))
    assert common.images_per_run(1099, hyper) == 2 * 1000 + 3 * 1000


def test_test_subset_is_fixed_and_sorted():
    a, b = common.test_subset(100, 10), common.test_subset(100, 10)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.diff(a) > 0) and len(a) == 10
    np.testing.assert_array_equal(common.test_subset(5, None), np.arange(5))


def test_prepare_classes_on_a_synthetic_dataset():
    from ocnn_jax.datasets.base import Dataset

    rng = np.random.default_rng(0)
    ds = Dataset("mnist", rng.integers(0, 256, (60, 28, 28, 1), dtype=np.uint8), np.arange(60, dtype=np.int32) % 3,
                 rng.integers(0, 256, (30, 28, 28, 1), dtype=np.uint8), np.arange(30, dtype=np.int32) % 3,
                 ("0", "1", "2"), (28, 28, 1))
    out = common.prepare_classes([1, 2, 1], dataset=ds, n_train=5, n_test=12)
    assert [cd.normal_class for cd in out] == [1, 2, 1] and out[0] is out[2]
    assert out[0].x_train.shape == (5, 28, 28, 1) and out[0].x_train.dtype == np.float32
    assert out[0].x_test.shape == (12, 28, 28, 1)
    assert out[0].x_train.min() >= 0.0 and out[0].x_train.max() <= 1.0
    rows = common.test_subset(30, 12)
    np.testing.assert_array_equal(out[1].y_test, (ds.y_test[rows] != 2).astype(np.int32))


def test_build_rows_medians_and_per_round_ratios():
    ms = throughput.Measurement
    meas = [
        # two rounds; jax M = 2 against Keras on the same round
        ms("realistic", "deep_svdd", "jax", 2, 0, 4.0, 8000, 4.0, 6.0, aurocs=[0.9, 0.8]),
        ms("realistic", "deep_svdd", "jax", 2, 1, 2.0, 8000, 2.0, 6.0, aurocs=[0.9, 0.8]),
        ms("realistic", "deep_svdd", "keras", 2, 0, 8.0, 6000, 6.0, per_model_seconds=[4.0, 4.0], aurocs=[0.5, 0.7]),
        ms("realistic", "deep_svdd", "keras", 2, 1, 8.0, 6000, 3.0, per_model_seconds=[4.0, 4.0], aurocs=[0.5, 0.7]),
        ms("realistic", "rcae", "jax", 2, 0, 1.0, 100, 1.0, 1.0),
    ]
    rows = throughput.build_rows(meas)
    by = {(r["method"], r["framework"]): r for r in rows}
    jax_row = by[("deep_svdd", "jax")]
    assert jax_row["seconds_per_model"] == pytest.approx(1.5)  # median of 2.0 and 1.0 s per model
    # per round: steady 2000/1000 img/s = 2.0, then 4000/2000 = 2.0; wall 8/4 = 2, 8/2 = 4
    assert jax_row["steady_ratio_keras"] == pytest.approx(2.0)
    assert jax_row["wall_ratio_keras"] == pytest.approx(3.0)
    assert jax_row["wall_ratio_keras_incl_compile"] == pytest.approx(median_of(8 / 10, 8 / 8))
    assert "steady_ratio_torch" not in jax_row and "steady_ratio_keras" not in by[("rcae", "jax")]
    assert jax_row["auroc_mean"] == pytest.approx(85.0) and jax_row["auroc_runs"] == pytest.approx([90.0, 80.0])
    table = throughput.format_table(rows)
    assert "| realistic (10 + 10 epochs, 4000 img/class) | deep_svdd | jax | 2 | 2 |" in table
    assert "2.00 [2.00–2.00]; wall 3.00" in table


def median_of(*xs):
    return float(np.median(xs))


def test_throughput_defaults_and_overrides():
    args = throughput.parse_args([])
    assert args.workloads == ["realistic", "setup"] and args.rounds == 3
    assert args.methods == list(throughput.METHODS) and args.frameworks == ["jax", "keras", "torch"]
    w = throughput.workloads_from_args(args)
    assert w[0].pretrain_epochs == 10 and w[0].epochs == 10 and w[0].n_train == 4000 and w[1].epochs == 1
    args = throughput.parse_args(["--threads", "1", "--epochs", "3", "--models", "1", "--workloads", "realistic,paper"])
    assert args.cpu_devices == "1"
    w = throughput.workloads_from_args(args)
    assert w[0].epochs == 3 and w[0].models == (1,) and w[1].epochs == 150  # --epochs changes the realistic one only
    with pytest.raises(SystemExit):
        throughput.parse_args(["--methods", "deep_svdd,nope"])
    with pytest.raises(SystemExit):
        throughput.parse_args(["--cpu-devices", "0"])
    with pytest.raises(SystemExit):  # fewer images than one minibatch: no training step
        throughput.parse_args(["--n-train", str(throughput.BATCH_SIZE - 1)])
    assert throughput.parse_args(["--n-train", str(throughput.BATCH_SIZE)]).n_train == throughput.BATCH_SIZE


def test_jax_overrides_match_the_reference_phases():
    from ocnn_jax import default_config, with_overrides

    hyper = throughput.hyper_for(throughput.WORKLOADS["realistic"])
    for method in throughput.METHODS:
        cfg = with_overrides(default_config("mnist_lenet", method), **throughput.jax_overrides(method, hyper))
        assert cfg.train.batch_size == 200
        if method in ("deep_svdd", "soft_boundary", "ocnn"):
            assert cfg.pretrain.epochs == 10 and cfg.train.epochs == 10
        else:
            assert cfg.train.epochs == 10 and cfg.train.weight_decay == 5e-4
        if method in ("dcae", "rcae"):  # Ruff's bias-free decoder, as in the references
            assert cfg.output_bias == "none"
        if method == "rcae":
            assert (cfg.outer_iterations, cfg.epochs_per_iteration, cfg.lam) == (2, 5, hyper.rcae_lam)
    assert throughput.steady_from_epochs({"pretrain": [5.0, 1.0, 1.0], "train": [2.0]}, {"pretrain": 100, "train": 7}) \
        == (200, 2.0)
    assert throughput.steady_from_epochs({"pretrain": [5.0]}, {"pretrain": 100}) is None


# ---------------------------------------------------------------------------------------------------
# Cross-framework equivalence (optional extras)

# Keras/Flax reshape the 32-d code to a (4, 4, 2) HWC map, PyTorch views it as (2, 4, 4) CHW: feature j of
# the HWC code is feature PERM[j] of the PyTorch code.
PERM = np.array([c * 16 + h * 4 + w for h in range(4) for w in range(4) for c in range(2)])


def _torch_ae():
    torch = pytest.importorskip("torch")
    import torch_reference as tr

    torch.manual_seed(0)
    return torch, tr, tr.MnistLeNetAutoencoder()


def _hwio(w) -> np.ndarray:
    """PyTorch conv (out, in, k, k) / transposed conv (in, out, k, k) → (k, k, dim1, dim0)."""
    return w.detach().numpy().transpose(2, 3, 1, 0)


def _dense(tae) -> np.ndarray:
    """PyTorch fc (32, C·H·W) → HWC-flattened (196, 32) with the code features permuted by PERM."""
    w = tae.encoder.fc1.weight.detach().numpy()
    return w.reshape(32, 4, 7, 7).transpose(2, 3, 1, 0).reshape(196, 32)[:, PERM]


def _batches(n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).random((n * 50, 28, 28, 1)).astype(np.float32)


def _torch_steps(torch, tr, tae, x: np.ndarray, lr: float, wd: float) -> list[float]:
    opt = torch.optim.Adam(tae.parameters(), lr=lr, weight_decay=wd)
    tae.train()
    xt = tr.to_nchw(x)
    losses = []
    for i in range(0, len(x), 50):
        opt.zero_grad()
        loss = tr._ae_loss(tae, xt[i:i + 50])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_torch_reference_equals_ocnn_jax_autoencoder():
    """Same reconstruction in inference and training mode, same BN statistics update (forward only, one
    compile: ocnn_jax's own tests cover its coupled-decay Adam against an oracle)."""
    torch, tr, tae = _torch_ae()
    import jax
    import jax.numpy as jnp

    from ocnn_jax.methods.ae_training import apply_eval, apply_train, init_variables
    from ocnn_jax.nn import AutoEncoder, make_backbone

    bb = make_backbone("mnist_lenet", (28, 28, 1))
    ae = AutoEncoder(encoder=bb.encoder, decoder=bb.decoder)
    # Fresh BN statistics (mean 0, var 1, as PyTorch's) from the shapes alone: an eager init takes seconds.
    shapes = jax.eval_shape(lambda k: init_variables(ae, k, (28, 28, 1))[1], jax.random.key(0))
    stats = jax.tree_util.tree_map_with_path(
        lambda path, a: (jnp.ones if path[-1].key == "var" else jnp.zeros)(a.shape, a.dtype), shapes)
    e = tae.encoder

    def deconv(w) -> np.ndarray:  # transposed conv → the equivalent plain conv (flipped, HWIO)
        return np.ascontiguousarray(w.detach().numpy()[:, :, ::-1, ::-1].transpose(2, 3, 0, 1))

    params = {
        "encoder": {"conv1": {"kernel": _hwio(e.conv1.weight)}, "conv2": {"kernel": _hwio(e.conv2.weight)},
                    "code": {"kernel": _dense(tae)}},
        "decoder": {f"deconv{i}": {"kernel": deconv(getattr(tae, f"deconv{i}").weight)} for i in (1, 2, 3)},
    }
    params = jax.tree.map(jnp.asarray, params)
    x = _batches(1)
    xt = tr.to_nchw(x)

    @jax.jit
    def both(params, stats, x):
        out_train, new_stats = apply_train(ae, params, stats, x)
        return apply_eval(ae, params, stats, x), out_train, new_stats

    out_eval, out_train, new_stats = both(params, stats, jnp.asarray(x))
    tae.eval()
    with torch.no_grad():
        ref_eval = tae(xt).numpy().transpose(0, 2, 3, 1)
    tae.train()
    with torch.no_grad():
        ref_train = tae(xt).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(out_eval), ref_eval, atol=2e-6)
    np.testing.assert_allclose(np.asarray(out_train), ref_train, atol=2e-5)
    np.testing.assert_allclose(np.asarray(new_stats["encoder"]["bn1"]["mean"]), e.bn1.running_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(new_stats["decoder"]["bn2"]["var"]), tae.bn4.running_var.numpy(), rtol=1e-3)


def test_torch_reference_curve_records_every_epoch_and_leaves_training_unchanged():
    """``--curve`` scores the test set after every epoch without touching the training: the same losses
    and final AUROC as a run without it, and the curve's last point is that final AUROC."""
    pytest.importorskip("torch")
    import torch_reference as tr

    rng = np.random.default_rng(0)
    x_test = rng.random((60, 28, 28, 1)).astype(np.float32)
    y_test = (np.arange(60) % 3 == 0).astype(np.int32)
    x_test[y_test == 1] *= 0.3  # anomalies darker: a signal the curve can see
    cd = common.ClassData(0, rng.random((40, 28, 28, 1)).astype(np.float32), x_test, y_test)
    hyper = common.Hyper(pretrain=common.Phase(1e-3, None, 5e-4, 20, 3), svdd=common.Phase(1e-3, 2, 5e-7, 20, 2))
    plain = tr.train_deep_svdd(cd, 0, hyper, dcae=True)
    traced = tr.train_deep_svdd(cd, 0, hyper, dcae=True, curve=True)
    assert "auroc_curve" not in plain[0].extra
    curve = traced[0].extra["auroc_curve"]
    assert len(curve["pretrain"]) == 3 and len(curve["train"]) == 2
    for a, b in zip(plain, traced):
        assert a.auroc == b.auroc
        assert a.extra["final_ae_loss"] == b.extra["final_ae_loss"]
    assert plain[0].extra["final_loss"] == traced[0].extra["final_loss"]
    assert curve["train"][-1] == traced[0].auroc  # deep_svdd record
    assert curve["pretrain"][-1] == traced[1].auroc  # dcae record: the AE after its last epoch


def test_keras_reference_equals_torch_reference():
    torch, tr, tae = _torch_ae()
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    import keras_reference as kr

    enc, dec = kr.build_encoder(), kr.build_decoder()
    e = tae.encoder
    enc.get_layer("conv1").set_weights([_hwio(e.conv1.weight)])
    enc.get_layer("conv2").set_weights([_hwio(e.conv2.weight)])
    enc.get_layer("code").set_weights([_dense(tae)])
    for i in (1, 2, 3):  # Keras stores a transposed kernel as (k, k, out, in), as PyTorch (in, out, k, k) permuted
        dec.get_layer(f"deconv{i}").set_weights([_hwio(getattr(tae, f"deconv{i}").weight)])
    image = keras.Input((28, 28, 1))
    ae = keras.Model(image, dec(enc(image)))
    x = _batches()
    tae.eval()
    with torch.no_grad():
        ref = tae(tr.to_nchw(x)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ae(x, training=False).numpy(), ref, atol=2e-6)

    lr, wd = 1e-3, 5e-4
    trainer = kr.CoupledDecayTrainer(ae, kr._ae_loss, wd)
    trainer.compile(optimizer=keras.optimizers.Adam(lr, epsilon=1e-8))
    keras_losses = [float(np.asarray(trainer.train_on_batch(x[i:i + 50]))) for i in range(0, len(x), 50)]
    torch_losses = _torch_steps(torch, tr, tae, x, lr, wd)
    np.testing.assert_allclose(keras_losses, torch_losses, rtol=2e-5)
    np.testing.assert_allclose(enc.get_layer("bn1").get_weights()[0], e.bn1.running_mean.numpy(), atol=1e-5)


def test_keras_initialisers_match_pytorch_bounds():
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    import keras_reference as kr

    dec, enc = kr.build_decoder(), kr.build_encoder()
    # PyTorch: U(±1/√fan_in); transposed convs take fan_in = k·k·C_out.
    deconv_bounds = (("deconv1", 1 / np.sqrt(25 * 4)), ("deconv2", 1 / np.sqrt(25 * 8)), ("deconv3", 1 / np.sqrt(25)))
    for layer, bound in deconv_bounds:
        w = dec.get_layer(layer).get_weights()[0]
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    for layer, bound in (("conv1", 1 / np.sqrt(25)), ("conv2", 1 / np.sqrt(200)), ("code", 1 / np.sqrt(196))):
        w = enc.get_layer(layer).get_weights()[0]
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_rcae_split_and_the_references_noise_step_match_ocnn_jax():
    from ocnn_jax.core.prox import rcae_noise
    from ocnn_jax.methods.keras_compat import soft_threshold

    assert [common.rcae_split(e) for e in (10, 7, 2, 1)] == [(2, 5), (1, 7), (2, 1), (1, 1)]
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    np.testing.assert_allclose(soft_threshold(x, 0.6), np.asarray(rcae_noise(x, 0.6)), atol=1e-7)


def test_keras_compat_rcae_stage_file_round_trips_and_refuses_another_run(tmp_path):
    import jax.numpy as jnp
    import keras_original_compare as koc

    path = koc.rcae_checkpoint_path(tmp_path / "full.json", "jax", "mnist", 0, 42)
    assert path.parent == tmp_path / "full_rcae_stages"
    fingerprint = {"dataset": "mnist", "class": 0, "seed": 42, "config": {"rcae_epochs": 150}}
    assert koc.load_rcae_stages(path, fingerprint) is None
    rng = np.random.default_rng(0)
    record = {"stages_done": 2, "lambdas": (0.0, 0.5),
              "params": {"l0": {"kernel": jnp.asarray(rng.normal(size=(5, 5, 1, 3)), jnp.float32)}},
              "batch_stats": {"l2": {"mean": jnp.zeros(3), "var": jnp.ones(3)}},
              "scores": {0.0: rng.normal(size=7), 0.5: rng.normal(size=7)},
              "n_nonzero": {0.0: 10, 0.5: 4}, "losses": {0.0: [0.5, 0.25], 0.5: [0.2, 0.1]}}
    koc.save_rcae_stages(path, fingerprint, record, 12.5)
    back = koc.load_rcae_stages(path, fingerprint)
    assert back["stages_done"] == 2 and back["lambdas"] == [0.0, 0.5] and back["seconds"] == 12.5
    np.testing.assert_array_equal(back["params"]["l0"]["kernel"], np.asarray(record["params"]["l0"]["kernel"]))
    np.testing.assert_array_equal(back["batch_stats"]["l2"]["var"], np.ones(3))
    for lam in (0.0, 0.5):
        np.testing.assert_array_equal(back["scores"][lam], record["scores"][lam])
        assert back["n_nonzero"][lam] == record["n_nonzero"][lam] and back["losses"][lam] == record["losses"][lam]
    with pytest.raises(SystemExit, match="another run or other settings"):
        koc.load_rcae_stages(path, {**fingerprint, "seed": 56})


def test_dcae_alone_runs_the_first_stage_keeps_its_stage_file_and_a_later_rcae_resumes(tmp_path, monkeypatch,
                                                                                       capsys):
    """``--methods dcae`` trains the λ sweep's first stage only (its AUROC is the sweep's "dcae", no
    "rcae"), keeps the stage file, and ``--methods rcae`` then resumes after that stage. Training
    progress goes to stderr unless ``--quiet``."""
    import keras_original_compare as koc

    from ocnn_jax.datasets.keras_compat import KerasCompatSet

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(20, 28, 28, 1)).astype(np.float32)
    y = (np.arange(20) >= 16).astype(np.int32)
    monkeypatch.setattr("ocnn_jax.datasets.load", lambda name, data_dir=None: None)
    monkeypatch.setattr(koc, "keras_compat_set", lambda ds, c, seed: KerasCompatSet(x, y, x, y, None, c, seed, "mnist"))
    calls = []
    from ocnn_jax.methods import keras_compat as kc

    real = kc.rcae_repo

    def spy(*a, **kw):
        calls.append((kw.get("stages"), None if kw.get("resume") is None else kw["resume"]["stages_done"]))
        return real(*a, **kw)

    monkeypatch.setattr(kc, "rcae_repo", spy)
    out, md = tmp_path / "o.json", tmp_path / "o.md"
    common_args = ["--frameworks", "jax", "--seeds", "42", "--rcae-epochs", "1", "--out", str(out), "--md", str(md)]
    assert koc.main(["--methods", "dcae", *common_args]) == 0
    printed = capsys.readouterr()
    assert 'keras_compat "RCAE" λ=0 (stage 1/4): 1/1 epoch [loss=' in printed.err
    run = json.loads(out.read_text())["runs"][0]
    # every finished stage reports its AUROC (a sweep stopped later still tells what it finished)
    assert f"jax class 0 seed 42: λ = 0 stage 1 done, AUROC {100 * run['auroc']['dcae']:.2f}" in printed.out
    assert run["device"].startswith("jax ") and "Computed by: keras_compat: jax " in md.read_text()
    assert set(run["auroc"]) == {"dcae", "rcae_lam0"} and "dcae" in run["seconds"]
    assert koc.rcae_checkpoint_path(out, "jax", "mnist", 0, 42).exists()  # kept for a later rcae run
    row = next(line for line in md.read_text().splitlines() if line.startswith("| DCAE"))
    assert row.split(" | ")[1:3] == ["99.90 ± 0.05 (n=10; λ = 0 alone, 250 ep.)", "—"]
    assert row.split(" | ")[6] == f"{run['seconds']['dcae']:.1f}"  # the stage's own seconds
    assert koc.main(["--methods", "rcae", "--quiet", *common_args]) == 0
    printed = capsys.readouterr()
    assert "RCAE" not in printed.err and "λ = 100 stage 4 done, AUROC" in printed.out
    assert calls == [(1, None), (None, 1)]  # the second invocation resumed after the first stage
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 1 and runs[0]["auroc"]["dcae"] == run["auroc"]["dcae"] and "rcae" in runs[0]["auroc"]
    assert not koc.rcae_checkpoint_path(out, "jax", "mnist", 0, 42).exists()
    with pytest.raises(SystemExit, match="unknown"):
        koc.main(["--methods", "rcea", *common_args])


def test_inductive_column_pools_seeds_of_one_setting_and_the_first_file_wins(tmp_path):
    import keras_original_compare as koc

    def results(name, mode, per_method, dataset="mnist"):
        path = tmp_path / name
        path.write_text(json.dumps({"dataset": dataset, "mode": mode, "methods": {
            m: {"config": cfg, "per_class": [{"normal_class": 0, "seeds": seeds, "aurocs": aurocs},
                                             {"normal_class": 1, "seeds": seeds, "aurocs": [0.5] * len(seeds)}]}
            for m, (cfg, seeds, aurocs) in per_method.items()}}))
        return str(path)

    full_a = results("a.json", "full", {"deep_svdd": ({}, [0], [0.90])})
    full_b = results("b.json", "full", {"deep_svdd": ({}, [1, 0], [0.80, 0.10])})  # seed 0 again: not counted twice
    quick = results("q.json", "quick", {"deep_svdd": ({"epochs": 5}, [0, 1, 2], [0.1, 0.1, 0.1]),
                                        "dcae": ({"epochs": 20}, [0, 1], [0.70, 0.60])})
    cifar = results("c.json", "full", {"deep_svdd": ({}, [0], [0.60]), "ocnn": ({}, [0], [0.55])}, "cifar10")
    col = koc._inductive([cifar, full_a, str(tmp_path / "missing.json"), full_b, quick], 0, "mnist")
    assert col["deep_svdd"] == "85.00 ± 5.00 (n=2; full)"
    assert col["dcae"] == '65.00 ± 5.00 (n=2; quick {"epochs": 20})'
    assert "ocnn" not in col  # only the CIFAR-10 file has it: another data set's number is never shown
    assert koc._inductive([quick, full_a], 0, "mnist")["deep_svdd"] == '10.00 ± 0.00 (n=3; quick {"epochs": 5})'
    assert koc._inductive([quick], 7, "mnist") == {}
    assert koc._inductive([full_a, cifar], 0, "cifar10") == {"deep_svdd": "60.00 ± 0.00 (n=1; full)",
                                                              "ocnn": "55.00 ± 0.00 (n=1; full)"}
    # the committed defaults are the data set's own reproduce.py results
    assert all("reproduce_cifar10_" in p for p in koc._inductive_default(True, "cifar10"))


def test_keras_rcae_feeds_the_noise_step_back():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    import keras_reference as kr

    rng = np.random.default_rng(0)
    x = rng.random((60, 28, 28, 1)).astype(np.float32)
    t = x - np.sign(x - 0.5) * np.maximum(np.abs(x - 0.5) - 0.2, 0)
    # The θ-step's loss is the per-sample SSE against the target x − n (the loss is taken before the update).
    keras.utils.set_random_seed(0)
    ae = kr._build_ae(32)
    expected = float(np.mean(np.sum((np.asarray(ae(x[:30], training=True)) - t[:30]) ** 2, axis=(1, 2, 3))))
    trainer = kr.CoupledDecayTrainer(ae, kr._rcae_loss, 0.0)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-8))
    assert float(np.asarray(trainer.train_on_batch(x[:30], t[:30]))) == pytest.approx(expected, rel=1e-5)

    keras.utils.set_random_seed(0)
    lam = 0.4
    ae, info = kr.train_rcae(x, 0, common.Phase(1e-3, None, 5e-4, 30, 4), lam)
    assert info["split"] == (2, 2) and len(info["epoch_seconds"]) == 4 and len(info["losses"]) == 4
    # N after the last θ-step is the soft-threshold of that AE's residual at λ/2, and is reported.
    residual = x - ae.predict(x, verbose=0)
    np.testing.assert_allclose(info["noise"], np.sign(residual) * np.maximum(np.abs(residual) - lam / 2, 0), atol=1e-6)
    assert info["noise_nonzero"][-1] == pytest.approx(float(np.mean(info["noise"] != 0)))
    assert 0 < info["noise_nonzero"][-1] < 1


def test_profile_classifies_ops_by_phase_layer_and_direction():
    import profile_cpu

    ae_bwd = "jit(one)/while/body/transpose(jvp(AutoEncoder))/decoder/deconv3/conv_general_dilated"
    assert profile_cpu.classify(ae_bwd) == ("AE step", "deconv3", "backward")
    svdd_fwd = "jit(one)/while/body/jvp(MnistLeNetEncoder)/conv2/conv_general_dilated"
    assert profile_cpu.classify(svdd_fwd) == ("Deep SVDD step", "conv2", "forward")
    centre = "jit(one)/while/body/MnistLeNetEncoder/reduce_max"
    assert profile_cpu.classify(centre) == ("other (centre pass, updates, loops)", "max-pool", "forward")
    hlo = '%fft.3 = c64[2,8,32,17]{3,2,1,0} fft(%x), metadata={op_name="a/transpose(jvp(AutoEncoder))/encoder/conv1/fft"}'
    assert profile_cpu.hlo_index(hlo)["fft.3"] == ("c64[2,8,32,17]{3,2,1,0}", "a/transpose(jvp(AutoEncoder))/encoder/conv1/fft")
    # Control flow encloses the ops of its bodies, which are timed on their own: a conditional named after
    # its source (``cond``) is left out like ``while``; a custom call is an op.
    hlo = "\n".join([
        '%cond.106 = (f32[5,5,2,4]{3,2,1,0}, f32[2]{0}) conditional(%p, %a, %b), branch_computations={%b0, %b1}',
        '%w.2 = (s32[], f32[2]{0}) while(%t), condition=%c, body=%body, metadata={op_name="a/while"}',
        '%custom-call.1 = f32[2]{0} custom-call(%x), custom_call_target="f", metadata={op_name="a/call(f)"}',
    ])
    assert set(profile_cpu.hlo_index(hlo)) == {"custom-call.1"}


def test_conv_forms_times_every_form_and_records_the_cpu_choice(tmp_path):
    import conv_forms
    import jax

    out = tmp_path / "forms.json"
    conv_forms.main(["--batch", "2", "--repeats", "1", "--out", str(out), "--md", str(tmp_path / "forms.md")])
    payload = json.loads(out.read_text())
    convs = {r["layer"]: r for r in payload["convolutions"]}
    assert set(convs) == {name for name, *_ in conv_forms.CONV_SHAPES}
    assert all(r["rel_diff"] < 1e-4 for r in convs.values())  # the shift-add form is the same function
    if jax.default_backend() == "cpu":
        assert convs["MNIST conv1"]["conv2d_uses"] == "shift-add"
        assert convs["CIFAR-10 conv2"]["conv2d_uses"] == "convolution"
    for row in payload["weight_gradients"]:
        assert all(row[f"{f}_rel_diff"] < 1e-4 for f in ("fft", "im2col", "taps")), row
        assert (row["tap_matrix_ms"] is None) == ("x1 ->" not in row["shape"]), row
        assert row["fastest"] in ("conv", "fft", "im2col", "taps", "tap_matrix")
    uses = {r["layer"]: r["conv2d_uses"] for r in payload["weight_gradients"]}
    if jax.default_backend() == "cpu":
        assert uses["MNIST conv1"] == "tap_matrix" and uses["CIFAR-10 conv2"] == "fft", uses
    assert "Kernel gradients" in (tmp_path / "forms.md").read_text()

def test_write_outputs_writes_json_and_markdown(tmp_path):
    from common import write_outputs

    write_outputs(str(tmp_path / "a" / "r.json"), str(tmp_path / "b" / "r.md"), {"x": float("nan")}, "# t")
    assert json.loads((tmp_path / "a" / "r.json").read_text()) == {"x": None}
    assert (tmp_path / "b" / "r.md").read_text() == "# t\n"
    write_outputs(None, None, {}, "")  # both optional


def test_default_settings_suite_cells_resume_and_isoforest_equals_sklearn(tmp_path, capsys):
    """One small cell pair of the suite: our Isolation Forest with its default (raw) input is scikit-learn's
    with its defaults, run for run; the JSON is written per cell and a rerun skips the finished cells."""
    import default_settings_suite as suite

    out = tmp_path / "suite.json"
    args = ["--datasets", "iris_raw", "--methods", "isoforest,sk_isoforest", "--seeds", "2", "--out", str(out)]
    assert suite.main(args) == 0
    cells = json.loads(out.read_text())["cells"]
    ours, sk = cells["iris_raw/isoforest"], cells["iris_raw/sk_isoforest"]
    assert ours["preprocessing"] == "none" and ours["seeds"] == [0, 1] and [len(r) for r in ours["auroc"]] == [2, 2, 2]  # classes x seeds
    np.testing.assert_allclose(ours["auroc"], sk["auroc"], rtol=0, atol=1e-12)
    md = out.with_suffix(".md").read_text()
    assert "| iris_raw |" in md and "isoforest | sk_isoforest |  diff" in md and "+0.00" in md
    capsys.readouterr()
    assert suite.main(args) == 0
    assert "iris_raw/isoforest: done" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        suite.main(["--datasets", "imagenet"])
    # --merge adds only missing cells; with --replace it also replaces, and the merged cells' local
    # --out/--work-dir paths are recorded as OTHER.json / OTHER_runs.
    other = tmp_path / "other.json"
    redone = {**ours, "auroc": [[0.5, 0.5]] * 3, "command": f"python x.py --out {tmp_path}/o.json --work-dir {tmp_path}/r --seeds 2"}
    other.write_text(json.dumps({"cells": {"iris_raw/isoforest": redone}}))
    assert suite.main(["--out", str(out), "--merge", str(other)]) == 0
    assert json.loads(out.read_text())["cells"]["iris_raw/isoforest"]["auroc"] == ours["auroc"]
    assert suite.main(["--out", str(out), "--merge", str(other), "--replace"]) == 0
    merged = json.loads(out.read_text())["cells"]["iris_raw/isoforest"]
    assert merged["auroc"] == [[0.5, 0.5]] * 3
    assert merged["command"] == "python x.py --out OTHER.json --work-dir OTHER_runs --seeds 2  # merged with --merge OTHER.json"
    assert f"{tmp_path}/o.json" not in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):
        suite.main(["--out", str(out), "--replace"])


def test_default_settings_suite_redo_replaces_a_cells_old_sweep_folder(tmp_path):
    """A sweep cell resumes its folder; with --redo (fresh) a folder of other settings is replaced
    instead of refusing the run."""
    import default_settings_suite as suite

    from ocnn_jax import SweepDirectoryError

    work = str(tmp_path / "runs")
    first = suite._sweep_cell("digits_images", "isoforest", [0], [0], None, work, False)
    assert first["seeds"] == [0] and len(first["auroc"][0]) == 1
    with pytest.raises(SweepDirectoryError):  # other seeds, same folder, resume: refused
        suite._sweep_cell("digits_images", "isoforest", [0], [0, 1], None, work, False)
    again = suite._sweep_cell("digits_images", "isoforest", [0], [0, 1], None, work, False, fresh=True)
    assert again["seeds"] == [0, 1] and again["auroc"][0][0] == first["auroc"][0][0]


def test_ae_stability_report_pairs_before_and_after_and_checks_the_targets():
    """ae_stability.md from cells alone (no training): before = the paper-settings cell, after = the default;
    the targets (seed std <= 3 points per class, no run below 50 %) are judged per cell."""
    import default_settings_suite as suite

    cell = lambda auroc: {"classes": ["a", "b"], "seeds": [0, 1, 2], "auroc": auroc, "preprocessing": "x"}  # noqa: E731
    results = {"command": "c", "cells": {
        "iris_raw/dcae": cell([[0.99, 0.98, 0.99], [0.97, 0.96, 0.98]]),
        "iris_raw/dcae_paper": cell([[0.9, 0.4, 0.7], [0.97, 0.96, 0.98]]),
        "iris_raw/rcae": cell([[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]]),  # no before: an "after" row only
        "cifar10_quick/dcae": {"classes": ["a", "b"], "seeds": [0], "auroc": [[0.6], [0.47]], "preprocessing": "x"},
    }}
    md = suite.ae_stability_markdown(results)
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in md.split("## Summary")[1].split("##")[0].splitlines()
            if line.startswith("|")]
    assert [r[:2] for r in rows[2:]] == [["iris_raw", "dcae"], ["iris_raw", "rcae"], ["cifar10_quick", "dcae"]]
    assert rows[2][4:] == ["40.00 → 96.00", "20.55 → 0.82", "no → yes"]
    assert rows[3][2:] == ["—", "90.00 ± 0.00", "— → 90.00", "— → 0.00", "— → yes"]
    assert rows[4][3:] == ["53.50 (1 seed)", "— → 47.00", "— → n/a", "— → no"]  # a run under 50 %
    assert "90.00 / 40.00 / 70.00" in md and "## iris_raw, rcae" not in md  # per-class tables: pairs only
    assert suite.ae_stability_markdown({"cells": {"iris_raw/dcae": cell([[1, 1, 1], [1, 1, 1]])}}) is None


def test_suite_report_compares_cells_of_different_class_sets_on_common_classes():
    """CIFAR-10's deep cells cover three classes and its shallow cells ten: the mean table marks the class
    counts, and OC-NN's target is judged against the baselines on OC-NN's classes only."""
    import default_settings_suite as suite

    env = {"platform": "p", "jax": "j", "backend": "cpu", "cpu_count": 2}
    ten = [str(c) for c in range(10)]
    cells = {
        "cifar10_quick/ocnn": {"classes": ten[:3], "seeds": [0], "auroc": [[0.6], [0.6], [0.6]]},
        # 0.61 on OC-NN's classes (bar 0.60: met), 0.9 on the other seven (ten-class mean 0.813: it would miss)
        "cifar10_quick/ocsvm": {"classes": ten, "seeds": [0], "auroc": [[0.61]] * 3 + [[0.9]] * 7},
    }
    assert suite.restrict(cells["cifar10_quick/ocsvm"], ten[:3])["auroc"] == [[0.61]] * 3
    md = suite.markdown({"environment": env, "cells": cells})
    assert "60.00 ± 0.00 (3 cl.)" in md and "81.30 ± 0.00 (10 cl.)" in md and "On cifar10_quick the cells cover" in md
    target = [c.strip() for c in md.split("## OC-NN against")[1].split("## Per data set")[0].splitlines()[-2].split("|")]
    assert target[1:5] == ["cifar10_quick", "60.00", "60.00", "yes"]
    same = suite.markdown({"environment": env, "cells": {k: suite.restrict(c, ten[:3]) for k, c in cells.items()}})
    assert "cl.)" not in same and "cover different classes" not in same


def test_paper_ae_variants_use_each_family_paper_row():
    """dcae_paper / rcae_paper: the MNIST/MLP paper row (weight decay 5e-4) everywhere but CIFAR-10 (5e-7)."""
    import default_settings_suite as suite

    from ocnn_jax.experiments import method_settings

    for m in ("dcae_paper", "rcae_paper"):
        assert suite._method_and_overrides(m, "iris_raw")[1] == {"output_bias": "none", "lr": 1e-4, "weight_decay": 5e-4}
        assert suite._method_and_overrides(m, "cifar10_quick")[1]["weight_decay"] == 5e-7
        assert method_settings(m, "cifar10")[1]["weight_decay"] == 5e-7
        assert method_settings(m, "digits")[1]["weight_decay"] == 5e-4


def test_ocnn_cifar_heads_variants_on_a_synthetic_cache(tmp_path):
    """benchmarks/ocnn_cifar_heads.py, stage 2 on a cached fake body: every kind of variant runs, the
    tables are written, the patched layer fit is undone, and "scaled" puts the ν-tail value T at 1."""
    import jax
    import jax.numpy as jnp

    import ocnn_cifar_heads as heads
    import ocnn_jax.methods.ocnn as ocnn_module
    from ocnn_jax.core import rbf

    rng = np.random.default_rng(0)
    z_train = rng.normal(size=(96, 6)).astype(np.float32)
    z_test = np.concatenate([rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 4.0]).astype(np.float32)
    y_test = np.repeat([3, 7], 40)
    np.savez(tmp_path / "cifar10_body_c3.npz", z_train=z_train, z_test=z_test, y_test=y_test, pretrain="{}")
    out = tmp_path / "heads"
    assert heads.main(["--classes", "3", "--variants", "dist,kde1,scaled0.35", "--cache", str(tmp_path),
                       "--out", str(out)]) == 0
    assert ocnn_module.fit_rbf_layer is rbf.fit_rbf_layer
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["dist", "kde1", "scaled0.35"]
    assert all(r["auroc"] > 0.9 for r in rows)  # the shifted half is the anomalies
    assert "objective" in rows[-1] and "--cache CACHE" in out.with_suffix(".md").read_text()

    z = jnp.asarray(z_train)
    nu = 0.1
    plain = rbf.fit_rbf_layer(jax.random.key(0), z, 96, 32, width=0.3, scale=False)
    assert float(rbf.tail_value(rbf.rbf_features(plain, z), 96, nu)) < 1.0
    scaled = heads.scaled_layer_fit(1.0)(jax.random.key(0), z, 96, 32, width=0.3, scale=False, nu=nu)
    np.testing.assert_allclose(float(rbf.tail_value(rbf.rbf_features(scaled, z), 96, nu)), 1.0, rtol=1e-4)
    assert float(scaled.gamma) == pytest.approx(float(plain.gamma))


def test_auroc_curves_table_and_figure(tmp_path):
    import auroc_curves

    curve = {"pretrain": [0.5 + 0.002 * e for e in range(150)], "train": [0.8 + 0.001 * e for e in range(150)]}
    payload = {"hyper": {"svdd": {"lr_milestone": 50}},
               "runs": [{"method": "deep_svdd", "normal_class": 5, "seed": 0, "auroc": curve["train"][-1],
                         "extra": {"auroc_curve": curve}},
                        {"method": "dcae", "normal_class": 5, "seed": 0, "auroc": 0.7, "extra": {}}]}
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(payload))
    runs = auroc_curves.load_curves([str(path)])
    assert len(runs) == 1 and runs[0]["normal_class"] == 5
    rows = {r["phase"]: r for r in auroc_curves.curve_rows(runs)}
    assert rows["Deep SVDD"]["e1"] == pytest.approx(80.0) and rows["Deep SVDD"]["e50"] == pytest.approx(84.9)
    assert rows["Deep SVDD"]["best_epoch"] == 150 and rows["Deep SVDD"]["last"] == pytest.approx(94.9)
    assert rows["AE (DCAE score)"]["e150"] == pytest.approx(79.8)
    md, fig = tmp_path / "t.md", tmp_path / "c.png"
    assert auroc_curves.main([str(path), "--md", str(md), "--figure", str(fig), "--published", "5=88.5:0.9"]) == 0
    assert "| 5 | 0 | Deep SVDD | 80.00 |" in md.read_text() and fig.stat().st_size > 0
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"runs": []}))
    with pytest.raises(SystemExit):
        auroc_curves.load_curves([str(empty)])


def test_anomaly_class_auroc_matches_sklearn_on_a_sweep_folder(tmp_path):
    """The per-anomaly-class table of a real (tiny) sweep folder: each cell is scikit-learn's AUROC on the
    two classes' test rows, the one-vs-rest column equals the sweep's own AUROC, seeds are averaged."""
    import anomaly_class_auroc as aca
    from sklearn.metrics import roc_auc_score

    from ocnn_jax import sweep
    from ocnn_jax.datasets import load

    out = tmp_path / "sweep"
    res = sweep("digits", method="isoforest", normal_classes=[0, 3], seeds=2, out_dir=str(out),
                progress=False, figures=False)
    results, runs, scores = aca.sweep_scores(out)
    ds = load("digits")
    y = np.asarray(ds.y_test)
    assert scores.shape == (4, len(y)) and results["method"] == "isoforest"
    matrix = aca.class_matrix(runs, scores, y)
    assert [r["normal_class"] for r in matrix["rows"]] == [0, 3] and matrix["rows"][0]["seeds"] == 2
    by_run = {(r["normal_class"], r["seed"]): i for i, r in enumerate(runs)}
    for c, a in ((0, 8), (3, 5)):
        rows = (y == c) | (y == a)
        oracle = np.mean([roc_auc_score(y[rows] == a, scores[by_run[(c, s)]][rows]) for s in (0, 1)])
        cell = next(r for r in matrix["rows"] if r["normal_class"] == c)["against"][str(a)]
        assert cell == pytest.approx(100 * oracle)
    sweep_auroc = {(r["normal_class"], r["seed"]): r["auroc"] for r in res["runs"]}
    assert matrix["rows"][1]["all"] == pytest.approx(50 * (sweep_auroc[(3, 0)] + sweep_auroc[(3, 1)]))
    assert "3" not in matrix["rows"][1]["against"]
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    aca.main([str(out), "--md", str(md), "--json", str(js), "--contrast"])
    assert "### isoforest on digits" in md.read_text() and json.loads(js.read_text())["sweeps"][0]["classes"] == list(range(10))
    x = np.asarray(ds.x_test, np.float64).reshape(len(y), -1)
    contrast = np.abs(x - x.mean(axis=1, keepdims=True)).mean(axis=1)
    np.testing.assert_allclose(aca.image_contrast(ds.x_test), contrast)
    from scipy.stats import spearmanr
    rows = json.loads(js.read_text())["sweeps"][0]["contrast"]
    rho = np.mean([spearmanr(scores[by_run[(3, s)]], 1 / contrast).statistic for s in (0, 1)])
    assert rows[1]["normal_class"] == 3 and rows[1]["spearman_inverse_contrast"] == pytest.approx(rho)
    assert rows[1]["contrast_alone_auroc"] == pytest.approx(100 * roc_auc_score(y != 3, 1 / contrast))
    with pytest.raises(SystemExit, match="no results.json"):
        aca.sweep_scores(tmp_path)
    with pytest.raises(SystemExit, match="test rows"):
        aca.class_matrix(runs, scores[:, :10], y)


def test_reproduce_table_only_rebuilds_the_overview_from_the_method_folders(tmp_path):
    """``--table-only`` trains nothing and writes the same per-method numbers as the run that trained;
    folders of another data set or other seeds are refused, and so is a quick sweep labelled full."""
    import shutil

    import reproduce

    out = tmp_path / "out"
    common_args = ["--dataset", "digits", "--quick", "--classes", "0,3", "--out", str(out)]
    assert reproduce.main(common_args + ["--methods", "isoforest,kde", "--seed-list", "0"]) == 0
    trained = json.loads((out / "results.json").read_text())
    (out / "results.json").unlink()
    assert reproduce.main(common_args + ["--table-only"]) == 0
    rebuilt = json.loads((out / "results.json").read_text())
    assert rebuilt["methods"] == trained["methods"] and list(rebuilt["methods"]) == ["isoforest", "kde"]
    assert rebuilt["seeds"] == [0] and rebuilt["cpu_count"] is None and "isoforest" in (out / "results.md").read_text()
    with pytest.raises(ValueError, match="not 'mnist'"):
        reproduce.table_from_folders(str(out), "mnist", ["kde"], quick=True)
    other = tmp_path / "other"
    assert reproduce.main(["--dataset", "digits", "--quick", "--classes", "0,3", "--out", str(other),
                           "--methods", "kde", "--seed-list", "1"]) == 0
    shutil.copytree(other / "kde", out / "ocsvm")
    with pytest.raises(ValueError, match="different seeds"):
        reproduce.table_from_folders(str(out), "digits", list(reproduce.METHODS), quick=True)
    full = tmp_path / "full"
    assert reproduce.main(["--dataset", "digits", "--quick", "--classes", "0", "--out", str(full), "--methods",
                           "dcae", "--seed-list", "0"]) == 0
    with pytest.raises(ValueError, match="not a full sweep"):
        reproduce.table_from_folders(str(full), "digits", ["dcae"], quick=False)
    # a full MNIST Deep SVDD sweep may carry its published settings (reproduce.py --settings published)
    record = json.loads((full / "dcae" / "results.json").read_text())
    (full / "dcae" / "results.json").unlink()
    (full / "deep_svdd").mkdir()
    for config, accepted in ((reproduce.published_settings("mnist", "deep_svdd"), True), ({}, True),
                             (reproduce.published_settings("mnist", "deep_svdd", dictionary=True), True),
                             ({"first_conv_init": "dictionary"}, False), ({"pretrain_lr_milestone": 3}, False)):
        record.update(dataset="mnist", method="deep_svdd", config=config)
        (full / "deep_svdd" / "results.json").write_text(json.dumps(record))
        if accepted:
            table = reproduce.table_from_folders(str(full), "mnist", ["deep_svdd"], quick=False)
            assert table["methods"]["deep_svdd"]["config"] == config
        else:
            with pytest.raises(ValueError, match="not a full sweep"):
                reproduce.table_from_folders(str(full), "mnist", ["deep_svdd"], quick=False)
    args = reproduce.argparse.Namespace(quick=False, settings="published", dataset="mnist")
    assert reproduce._overrides(args, "deep_svdd") == {"pretrain_lr_milestone": None}
    assert reproduce._overrides(args, "ocnn") == {}
    assert reproduce._overrides(reproduce.argparse.Namespace(quick=False, settings="defaults", dataset="mnist"),
                                "deep_svdd") == {}
    dictionary = reproduce.argparse.Namespace(quick=False, settings="dictionary", dataset="mnist")
    assert reproduce._overrides(dictionary, "soft_boundary") == {"pretrain_lr_milestone": None,
                                                                 "first_conv_init": "dictionary"}
    assert reproduce._overrides(dictionary, "dcae") == {}
    assert reproduce._overrides(reproduce.argparse.Namespace(quick=True, settings="published", dataset="mnist"),
                                "deep_svdd") == {}
    with pytest.raises(SystemExit):  # argparse's error: nothing to rebuild
        reproduce.main(["--dataset", "digits", "--quick", "--table-only", "--out", str(tmp_path / "empty")])


def test_paired_runs_pairs_by_class_and_seed(tmp_path):
    """Runs pair by (class, seed) across folders; per-class means and the paired changes match a hand
    computation; a duplicated key and a sweep of another method are refused."""
    import paired_runs

    from ocnn_jax.experiments import reference_for

    def sweep_dir(name, runs, method="deep_svdd"):
        d = tmp_path / name
        d.mkdir()
        (d / "results.json").write_text(json.dumps({"dataset": "mnist", "method": method, "runs": [
            {"normal_class": c, "seed": s, "auroc": a} for c, s, a in runs]}))
        return d

    sweep_dir("base_a", [(0, 0, 0.90), (0, 1, 0.92)])
    sweep_dir("base_b", [(2, 0, 0.80)])
    sweep_dir("new_a", [(0, 0, 0.93), (2, 0, 0.79), (2, 1, 0.85)])
    base = paired_runs.load_runs(str(tmp_path / "base_*"), "mnist", "deep_svdd")
    new = paired_runs.load_runs(str(tmp_path / "new_*"), "mnist", "deep_svdd")
    out = paired_runs.compare(base, new, reference_for("mnist", "deep_svdd"))
    s = out["summary"]
    assert s["pairs"] == 2 and s["gains"] == 1
    assert s["mean_change"] == pytest.approx((3.0 - 1.0) / 2) and s["median_change"] == pytest.approx(1.0)
    row0, row2 = out["rows"]
    assert row0["base_mean"] == pytest.approx(91.0) and row0["base_std"] == pytest.approx(1.0)
    assert row0["new_mean"] == pytest.approx(93.0) and row0["change"] == {0: pytest.approx(3.0)}
    assert row2["new_mean"] == pytest.approx(82.0) and row2["base_within_1_std"] is False
    assert s["base_mean_of_class_means"] == pytest.approx((91.0 + 80.0) / 2)
    assert s["reference_mean"] == pytest.approx((98.0 + 91.7) / 2)
    table = paired_runs.markdown(out, "old", "new")
    assert "90.00 → 93.00 (+3.00)" in table and "92.00 → –" in table and "mean change +1.00" in table
    # several globs on one side: their folders' runs together, a folder matched twice counted once
    assert paired_runs.load_runs([str(tmp_path / "base_a"), str(tmp_path / "base_b"), str(tmp_path / "base_*")],
                                 "mnist", "deep_svdd") == base
    sweep_dir("base_c", [(2, 0, 0.81)])
    with pytest.raises(ValueError, match="appears twice"):
        paired_runs.load_runs(str(tmp_path / "base_*"), "mnist", "deep_svdd")
    sweep_dir("other", [(0, 0, 0.5)], method="dcae")
    with pytest.raises(ValueError, match="not mnist/deep_svdd"):
        paired_runs.load_runs(str(tmp_path / "other"), "mnist", "deep_svdd")


@pytest.mark.filterwarnings("ignore:.*optimizer steps")
def test_theano_network_probe_reaches_the_trained_network_and_restores_the_library():
    """The probe's swap changes the MNIST LeNet that fit() trains (BN scale/shift, Glorot bounds), and the
    library's own network (no BN parameters, U(±1/sqrt(fan_in))) is back after the block."""
    import jax
    import theano_network_probe as probe

    import ocnn_jax

    library = probe.encoder_summary()
    assert library["bn_params"] is False and library["max_abs_conv2"] <= 1 / np.sqrt(5 * 5 * 8)
    x = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    with probe.theano_network(bn_affine=True, glorot=True):
        swapped = probe.encoder_summary()
        model = ocnn_jax.fit(x, method="deep_svdd", epochs=1, pretrain_epochs=1, batch_size=32,
                             pretrain_batch_size=32)
    # Glorot with the leaky gain on conv2 (fan 200 + 100): bound sqrt(2/(1+1e-4)) * sqrt(6/300) ≈ 0.2
    assert swapped["bn_params"] is True and 0.1 < swapped["max_abs_conv2"] <= 0.2
    flat = {"/".join(str(getattr(k, "key", k)) for k in path)
            for path, _ in jax.tree_util.tree_leaves_with_path(model.variables["params"])}
    assert any(p.endswith("bn1/scale") for p in flat) and any(p.endswith("bn1/bias") for p in flat)
    assert probe.encoder_summary() == library


def test_keras_original_merge_counts_each_seed_once():
    """--merge: a whole λ sweep replaces the "dcae" stage of the same seed that it contains (the table used to
    count that seed's DCAE twice); a copy already held, or a part of a run held, is not added again."""
    import keras_original_compare as koc

    def run(seed, **auroc):
        seconds = {k: 1.0 for k in ("ocnn", "deep_svdd") if k in auroc}
        seconds.update({"rcae": 4.0} if "rcae" in auroc else {"dcae": 1.0} if "dcae" in auroc else {})
        return {"framework": "jax", "class": 0, "seed": seed, "auroc": auroc, "seconds": seconds}

    dcae_only = run(67, dcae=0.9985, rcae_lam0=0.9985)
    other_seed = run(33, dcae=0.9987, rcae_lam0=0.9987)
    sweep = run(67, dcae=0.9985, rcae_lam0=0.9985, rcae_lam100=0.99, rcae=0.99)
    heads = run(67, ocnn=0.97, deep_svdd=0.96)
    runs = koc.merged_runs([dcae_only, other_seed, heads], sweep)
    assert runs == [other_seed, heads, sweep]
    assert koc.merged_runs(runs, dcae_only) == runs  # the sweep holds all of its keys: not added again
    assert koc.merged_runs(runs, dict(sweep)) == runs  # an identical copy: the first one stays
    table = koc.table({"dataset": "mnist", "runs": runs}, [])
    row = next(line for line in table.splitlines() if line.startswith("| DCAE"))
    assert "(n=2)" in row  # seeds 67 and 33, each once


def test_keras_original_lambda_table_sets_the_notebooks_sweep_beside_the_same_seed():
    """The notebooks ran the λ sweep once (digit 0, seed 42): the per-λ table shows it beside each framework's
    run of that seed and beside all seeds; the 10-seed DCAE/RCAE cells name the single stage they were."""
    import keras_original_compare as koc

    def run(fw, seed, lam0, lam100):
        return {"framework": fw, "class": 0, "seed": seed, "seconds": {"rcae": 1.0},
                "auroc": {"dcae": lam0, "rcae_lam0": lam0, "rcae_lam100": lam100, "rcae": lam100}}

    runs = [run("jax", 42, 0.9994, 0.9980), run("jax", 67, 0.9985, 0.9978), run("keras", 56, 0.9984, 0.9970)]
    lines = koc.table({"dataset": "mnist", "runs": runs}, []).splitlines()
    assert "| λ | notebook, seed 42 | Keras port, seed 42 | keras_compat, seed 42 | Keras port, all seeds " \
           "| keras_compat, all seeds |" in lines
    assert "| 0 | 99.95 | — | 99.94 | 99.84 ± 0.00 (n=1) | 99.90 ± 0.04 (n=2) |" in lines
    assert "| 100 | 99.82 | — | 99.80 | 99.70 ± 0.00 (n=1) | 99.79 ± 0.01 (n=2) |" in lines
    rcae = next(line for line in lines if line.startswith("| RCAE"))
    assert rcae.split(" | ")[1] == "99.92 ± 0.04 (n=10; λ = 0.5 alone, 250 ep.)"
    assert koc.notebook_cell("mnist", "dcae", 6) == "99.81 ± 0.15 (n=10; λ = 0 alone, 150 ep.)"
    assert koc.notebook_cell("mnist", "ocnn", 0) == "97.61 ± 1.79 (n=10)"
    assert koc.notebook_cell("cifar10", "rcae", 0) == "69.60 ± 0.00 (n=1; λ = 0.5 alone, 500 ep.)"
    assert koc.notebook_cell("cifar10", "dcae", 3) == "60.77 ± 1.76 (n=9; λ = 0 alone, 150 ep.)"
    assert koc.notebook_cell("cifar10", "rcae", 2) == "—"  # the notebooks ran RCAE on six classes
    assert koc.notebook_cell("gtsrb", "ocnn", 0) == "—"
    # no notebook sweep for this class (or data set): the plain two-framework table
    other = koc.lambda_table({"dataset": "cifar10", "runs": runs}, 0)
    assert other[2] == "| λ | Keras port | ocnn_jax keras_compat |"
    assert "| 0 | 99.84 ± 0.00 (n=1) | 99.90 ± 0.04 (n=2) |" in other
    assert koc.lambda_table({"dataset": "mnist", "runs": [run("jax", 42, 0.9, 0.9) | {"class": 3}]}, 0) == []
    # stages of another length (--full --rcae-epochs 250) are not set beside the notebooks' 150-epoch sweep
    assert koc.lambda_table({"dataset": "mnist", "config": {"rcae_epochs": 150}, "runs": runs}, 0)[2] == lines[
        lines.index("| λ | notebook, seed 42 | Keras port, seed 42 | keras_compat, seed 42 | Keras port, all seeds "
                    "| keras_compat, all seeds |")]
    assert koc.lambda_table({"dataset": "mnist", "config": {"rcae_epochs": 250}, "runs": runs}, 0)[2] == \
        "| λ | Keras port | ocnn_jax keras_compat |"


def test_keras_original_epoch_flags_override_full_and_only_shorter_runs_are_flagged_short():
    """``--full --rcae-epochs 250`` keeps the repository's other counts and runs the notebooks' 250-epoch
    stage; a table is marked "short" only when some phase trains fewer epochs than the repository's."""
    import argparse

    import keras_original_compare as koc
    from ocnn_jax.methods.keras_compat import KerasCompatConfig

    def cfg(full, **given):
        flags = {k: given.get(k) for k in koc.SHORT_EPOCHS}
        return koc._config(argparse.Namespace(full=full, **flags))

    full = KerasCompatConfig()
    assert cfg(True) == full and not koc.shorter_than_repository(full)
    long_stage = cfg(True, rcae_epochs=250)
    assert long_stage == dataclasses.replace(full, rcae_epochs=250) and not koc.shorter_than_repository(long_stage)
    short = cfg(False)
    assert {k: getattr(short, k) for k in koc.SHORT_EPOCHS} == koc.SHORT_EPOCHS and koc.shorter_than_repository(short)
    assert cfg(False, ae_epochs=3).ae_epochs == 3
    assert koc.shorter_than_repository(cfg(True, svdd_epochs=149))
    with pytest.raises(SystemExit):
        koc.main(["--table-only", "--rcae-epochs", "0"])
