"""Keras 3 port of the *original* oc-nn repository's procedure (``raghavchalapathy/oc-nn``), defects included.

Not to be confused with ``keras_reference.py``, which is a Keras port of *ocnn_jax's own* algorithms
(the papers' objectives, Ruff's LeNet, the inductive protocol). This file re-runs what the repository's
notebooks ran, written afresh for Keras 3 (TensorFlow backend) from the description in
docs/algorithms.md §9, so that its notebook numbers can be reproduced and compared with
``ocnn_jax.methods.keras_compat`` (the same procedure in JAX) on identical data:

* **Data**: the repository's transductive sets (``protocol="keras_compat"``, built by
  ``ocnn_jax.datasets.keras_compat``, the same rows for the same seed), /255; the set is also the
  evaluation set. Keras ``fit(validation_split=f)`` holds out the tail, where the anomalies are.
* **Conv AE** (OC-NN and Deep SVDD pretraining): 3x3 bias-free convs, BN (Keras defaults: learnable
  scale/offset, momentum 0.99, ε 1e-3), LeakyReLU(0.1), ``MaxPooling2D(padding='same')``; MNIST code
  2x2x8, its 4th decoder conv 'valid'; MSE (MNIST) or binary cross-entropy (CIFAR-10); Keras's default
  Adam (lr 1e-3, ε 1e-7), batch 200, 150 epochs, on the loader's training array.
* **"OC-NN"**: encoder + Flatten + Dense(32, no bias), all trainable; c = mean initial output over the set
  with the ±0.1 rule; loss (1/ν)·mean[r² + Σ_j relu((y_j − c_j)² − r²)], r = 0.1 fixed, ν = 0.2;
  Adam(1e-4), batch 200, 100 epochs, ``validation_split=0.01``; score ‖y − c‖².
* **Deep SVDD** (its "one-class" and "soft-boundary" train the same loss): encoder + Flatten + Dense(h)
  *with bias*; c = mean of the pretrained *encoder* output (wrong space), ±0.1; loss mean ‖y − c‖²;
  Adam(1e-4), batch 200, 150 epochs, ``validation_split=0.01`` on the loader's training array; score
  ‖y − c‖² (soft-boundary: minus a constant R, same AUROC).
* **"RCAE"**: the RCAE AE (biased convs/dense, ReLU before BN, MNIST dense 2450-32-2450); for λ in
  (0, 0.5, 1, 100) one alternation each, recompiled with a fresh Adam(1e-3, ε 1e-8), warm-started
  weights, 150 epochs, batch 32 (MNIST; Keras's default) or 200, ``validation_split=0.1``; N =
  soft-threshold(X − AE(X), λ/2) computed and discarded; score = reconstruction SSE. "RCAE" = the last
  λ's AUROC (as the repository returns it), "DCAE" = the λ = 0 stage. The sweep can be saved after
  each stage and resumed (:func:`rcae_original`).

Deliberate differences from the repository: the weights are seeded (``keras.utils.set_random_seed``;
the repository seeded only the data; the RCAE sweep reseeds at every λ stage); the MNIST AE's first
conv uses glorot-uniform instead of an initialisation by dictionary learning; Keras 3 instead of
Keras 2 (same layer defaults, same Adam). The backend is TensorFlow unless ``KERAS_BACKEND`` says
otherwise; ``KERAS_BACKEND=jax`` runs the same layers, ``fit`` loop and optimiser on Keras's JAX backend
(where TensorFlow is not installed, e.g. the lent GPU machine), with another random-number stream, so a
seed's initial weights and shuffles differ from the TensorFlow run's. Each "OC-NN"/Deep SVDD run
pretrains its AE once and both heads start from it (the repository pretrained once per notebook run,
which is the same procedure with other random numbers).

``steps_per_execution`` (default 1, Keras's default) is Keras's own option: how many training steps one
compiled call of ``fit`` runs. The updates, shuffles and losses are those of ``steps_per_execution=1``
(tested on the CPU, to float tolerance); it saves host round-trips per step, for an accelerator, where
this small network's step is short. It is a speed setting, not part of the procedure.

A library module (no command of its own); needs the optional ``keras`` extra. It is run by
``benchmarks/keras_original_compare.py``, which writes the side-by-side table with ocnn_jax.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from ocnn_jax.core.progress import progress  # noqa: E402
from ocnn_jax.datasets.keras_compat import KerasCompatSet, keras_fit_rows  # noqa: E402
from ocnn_jax.methods.keras_compat import (KerasCompatConfig, centre_eps, resumed_stages,  # noqa: E402
                                           soft_threshold, stage_count, stage_desc)

__all__ = ["build_cae", "build_ocnn_net", "build_svdd_net", "build_rcae", "ocnn_loss", "svdd_loss",
           "weighted_layers", "EpochProgress", "rcae_original", "run_original"]


# ---------------------------------------------------------------------------------------------------------------
# Networks (Keras layer defaults: glorot-uniform, zero bias, BN momentum 0.99 / ε 1e-3)


def build_cae(dataset: str) -> tuple[keras.Model, keras.Model]:
    """(autoencoder, encoder) of the repository's conv AE; the encoder shares the AE's layers."""
    mnist = dataset == "mnist"
    shape = (28, 28, 1) if mnist else (32, 32, 3)
    enc_f = (16, 8, 8, 8) if mnist else (128, 64, 32, 32)
    dec_f = (4, 8, 8, 16) if mnist else (32, 32, 64, 128)
    image = keras.Input(shape)
    x = image
    for f in enc_f:
        x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    code = x
    for i, f in enumerate(dec_f):
        x = layers.Conv2D(f, 3, padding="valid" if mnist and i == 3 else "same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(negative_slope=0.1)(x)
        x = layers.UpSampling2D(2)(x)
    if mnist:
        out = layers.Conv2D(1, 3, padding="same", use_bias=False, activation="sigmoid")(x)
    else:
        x = layers.Conv2D(3, 3, padding="same", use_bias=False)(x)
        out = layers.Activation("sigmoid")(layers.BatchNormalization()(x))
    return keras.Model(image, out), keras.Model(image, code)


def _on_encoder(encoder: keras.Model, head: Sequence[layers.Layer]) -> keras.Model:
    """The repository's pattern: a Sequential of the (pretrained, shared) encoder layers plus a head."""
    return keras.Sequential(list(encoder.layers) + list(head))


def build_ocnn_net(encoder: keras.Model) -> keras.Model:
    """Encoder + Flatten + Dense(32, linear, no bias)."""
    return _on_encoder(encoder, [layers.Flatten(), layers.Dense(32, use_bias=False)])


def build_svdd_net(encoder: keras.Model, dataset: str) -> keras.Model:
    """Encoder + Flatten + Dense(h, linear, with bias); h = 32 (MNIST) or 128 (CIFAR-10)."""
    return _on_encoder(encoder, [layers.Flatten(), layers.Dense(32 if dataset == "mnist" else 128)])


def build_rcae(dataset: str) -> keras.Model:
    """The RCAE/DCAE autoencoder: biased convs/dense layers, ReLU before BN."""
    mnist = dataset == "mnist"
    convs, k = ((20, 50), 5) if mnist else ((64, 32, 16), 3)
    dense = (2450, 32, 2450) if mnist else (256, 128, 256)
    grid = (7, 7, 50) if mnist else (4, 4, 16)
    seq: list[layers.Layer] = [keras.Input((28, 28, 1) if mnist else (32, 32, 3))]
    for f in convs:
        seq += [layers.Conv2D(f, k, padding="same"), layers.Activation("relu"), layers.BatchNormalization(),
                layers.MaxPooling2D(2)]
    seq.append(layers.Flatten())
    for u in dense:
        seq += [layers.Dense(u), layers.Activation("relu"), layers.BatchNormalization()]
    seq.append(layers.Reshape(grid))
    for f in reversed(convs):
        seq += [layers.Conv2D(f, k, padding="same"), layers.Activation("relu"), layers.BatchNormalization(),
                layers.UpSampling2D(2)]
    seq += [layers.Conv2D(1 if mnist else 3, k, padding="same"), layers.Activation("sigmoid")]
    return keras.Sequential(seq)


def weighted_layers(model: keras.Model) -> list[list[np.ndarray]]:
    """``get_weights()`` of every layer that has weights, in model order (conv/dense kernel[, bias];
    BN gamma, beta, moving mean, moving variance)."""
    return [layer.get_weights() for layer in model.layers if layer.weights]


# ---------------------------------------------------------------------------------------------------------------
# Losses (y_true is a dummy, as in the repository)


def ocnn_loss(c: np.ndarray, r: float, nu: float):
    """The repository's "OC-NN" loss with its constant r and centre c."""
    c = ops.convert_to_tensor(np.asarray(c, np.float32))

    def loss(y_true, y_pred):
        term = r * r + ops.sum(ops.maximum(0.0, ops.square(y_pred - c) - r * r), axis=1)
        return ops.mean(term) / nu

    return loss


def svdd_loss(c: np.ndarray):
    """The repository's Deep SVDD loss (both variants): mean squared distance to c."""
    c = ops.convert_to_tensor(np.asarray(c, np.float32))

    def loss(y_true, y_pred):
        return ops.mean(ops.sum(ops.square(y_pred - c), axis=1))

    return loss


class EpochProgress(keras.callbacks.Callback):
    """ocnn_jax's progress display over a Keras ``fit``'s epochs, with the last epoch's loss: a bar in a
    terminal, a line a minute in a log (as ``keras_compat``'s ``verbose=True``)."""

    def __init__(self, desc: str, epochs: int) -> None:
        super().__init__()
        self.desc, self.epochs, self.bar = desc, epochs, None

    def on_train_begin(self, logs=None) -> None:
        self.bar = progress(total=self.epochs, desc=self.desc, unit="epoch", interval=60.0)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.bar.set_postfix(loss=f"{float((logs or {}).get('loss', float('nan'))):.4g}")
        self.bar.update(1)

    def on_train_end(self, logs=None) -> None:
        self.bar.close()


def _shown(verbose: bool, desc: str, epochs: int) -> list[keras.callbacks.Callback]:
    """The ``callbacks`` of a ``fit``: an :class:`EpochProgress` when ``verbose``, else none."""
    return [EpochProgress(desc, epochs)] if verbose else []


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


# ---------------------------------------------------------------------------------------------------------------
# One seed of the procedure


def rcae_original(s: KerasCompatSet, cfg: KerasCompatConfig, seed: int, *, resume: dict[str, Any] | None = None,
                  on_stage: Callable[[dict[str, Any]], None] | None = None, stages: int | None = None,
                  verbose: bool = False, steps_per_execution: int = 1) -> dict[str, Any]:
    """The repository's λ sweep of one-alternation "RCAE" in Keras, with the contract of
    ``ocnn_jax.methods.keras_compat.rcae_repo``: returns {"scores", "n_nonzero", "losses"} per λ (and
    "n_fit", "batch"); ``on_stage`` receives a record after every λ stage (the AE's weights as
    ``params["weights"]``), and ``resume=`` such a record skips its stages. TensorFlow's generator is
    seeded from ``seed`` at the start of every stage, so a resumed sweep shuffles as an uninterrupted one.
    ``stages=k`` stops after the first k λ stages (1: the repository's "DCAE" alone); ``verbose`` shows
    each stage's epochs and loss; ``steps_per_execution``: Keras's option (module docstring)."""
    ds = s.dataset
    keras.utils.set_random_seed(seed)
    ae = build_rcae(ds)
    lambdas = tuple(float(v) for v in cfg.rcae_lambdas)
    batch = cfg.rcae_batch or (32 if ds == "mnist" else 200)
    out: dict[str, Any] = {"scores": {}, "n_nonzero": {}, "losses": {}, "batch": batch,
                           "n_fit": keras_fit_rows(len(s.x), cfg.rcae_val)}
    done = resumed_stages(resume, lambdas, out)
    last = stage_count(stages, lambdas)
    if resume is not None:
        w = resume["params"]["weights"]
        ae.set_weights([np.asarray(w[str(j)]) for j in range(len(w))])
    for i, lam in enumerate(lambdas):
        if i < done or i >= last:
            continue
        keras.utils.set_random_seed(seed + 1000 * (i + 1))
        ae.compile(optimizer=keras.optimizers.Adam(cfg.rcae_lr, epsilon=cfg.rcae_eps), loss="mean_squared_error",
                   steps_per_execution=steps_per_execution)
        hist = ae.fit(s.x, s.x, epochs=cfg.rcae_epochs, batch_size=batch, shuffle=True,
                      validation_split=cfg.rcae_val, verbose=0,
                      callbacks=_shown(verbose, stage_desc("Keras port", i, lambdas), cfg.rcae_epochs))
        resid = (s.x - ae.predict(s.x, batch_size=1000, verbose=0)).reshape(len(s.x), -1)
        out["n_nonzero"][lam] = int(np.count_nonzero(soft_threshold(resid, lam)))  # the repository's N: unused
        out["scores"][lam] = np.sum(np.square(resid), axis=1)
        out["losses"][lam] = [float(v) for v in hist.history["loss"]]
        if on_stage is not None:
            on_stage({"stages_done": i + 1, "lambdas": lambdas[: i + 1], "batch_stats": {},
                      "params": {"weights": {str(j): w for j, w in enumerate(ae.get_weights())}},
                      **{f: dict(out[f]) for f in ("scores", "n_nonzero", "losses")}})
    return out


def run_original(s: KerasCompatSet, cfg: KerasCompatConfig, seed: int,
                 methods: Sequence[str] = ("ocnn", "deep_svdd"), verbose: bool = False,
                 steps_per_execution: int = 1) -> dict[str, Any]:
    """Run the repository's "OC-NN" and Deep SVDD (from one pretrained AE) on one transductive set;
    returns AUROCs, seconds and details. ``methods`` ⊆ {"ocnn", "deep_svdd"}; the RCAE sweep is
    :func:`rcae_original`. ``verbose`` shows each training's epochs and loss; ``steps_per_execution``:
    Keras's option (module docstring)."""
    spe = {"steps_per_execution": steps_per_execution}
    unknown = sorted(set(methods) - {"ocnn", "deep_svdd"})
    if unknown:
        raise ValueError(f"run_original: methods {unknown} not run here; expected 'ocnn' and/or 'deep_svdd' "
                         f"(the RCAE sweep is rcae_original)")
    keras.utils.set_random_seed(seed)
    ds, out = s.dataset, {"auroc": {}, "seconds": {}, "detail": {}}
    if {"ocnn", "deep_svdd"} & set(methods):
        t0 = time.perf_counter()
        ae, encoder = build_cae(ds)
        ae.compile(optimizer=keras.optimizers.Adam(cfg.ae_lr, epsilon=cfg.keras_eps),
                   loss="mean_squared_error" if ds == "mnist" else "binary_crossentropy", **spe)
        ae.fit(s.x_loader, s.x_loader, batch_size=cfg.ae_batch, epochs=cfg.ae_epochs, shuffle=True, verbose=0,
               callbacks=_shown(verbose, "Keras port AE pretraining", cfg.ae_epochs))
        out["seconds"]["ae_pretrain"] = time.perf_counter() - t0
        pretrained = [layer.get_weights() for layer in encoder.layers]
        for m in ("ocnn", "deep_svdd"):
            if m not in methods:
                continue
            for layer, w in zip(encoder.layers, pretrained):  # both heads start from the same pretrained AE
                layer.set_weights(w)
            t0 = time.perf_counter()
            if m == "ocnn":
                net = build_ocnn_net(encoder)
                c = centre_eps(net.predict(s.x, batch_size=1000, verbose=0).mean(0), cfg.centre_eps)
                net.compile(optimizer=keras.optimizers.Adam(cfg.ocnn_lr, epsilon=cfg.keras_eps),
                            loss=ocnn_loss(c, cfg.ocnn_r, cfg.ocnn_nu), **spe)
                net.fit(s.x, np.zeros((len(s.x), 32), np.float32), shuffle=True, batch_size=cfg.batch,
                        epochs=cfg.ocnn_epochs, validation_split=cfg.ocnn_val, verbose=0,
                        callbacks=_shown(verbose, 'Keras port "OC-NN"', cfg.ocnn_epochs))
            else:
                codes = encoder.predict(s.x, batch_size=1000, verbose=0)
                c = centre_eps(codes.reshape(len(codes), -1).mean(0), cfg.centre_eps)
                net = build_svdd_net(encoder, ds)
                net.compile(optimizer=keras.optimizers.Adam(cfg.svdd_lr, epsilon=cfg.keras_eps), loss=svdd_loss(c),
                            **spe)
                net.fit(s.x_loader, np.zeros((len(s.x_loader), len(c)), np.float32), shuffle=True,
                        batch_size=cfg.batch, epochs=cfg.svdd_epochs, validation_split=cfg.svdd_val, verbose=0,
                        callbacks=_shown(verbose, "Keras port Deep SVDD", cfg.svdd_epochs))
            y = net.predict(s.x, batch_size=1000, verbose=0)
            out["seconds"][m] = time.perf_counter() - t0
            out["auroc"][m] = _auroc(s.y, np.sum(np.square(y - c), axis=1))
    return out
