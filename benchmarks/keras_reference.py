"""Keras 3 reference (TensorFlow backend): Deep SVDD, OC-NN (paper objective), DCAE and RCAE on MNIST, one
model per ``fit``, in Python loops over classes and seeds, the way the original Keras repo
(``raghavchalapathy/oc-nn``) trains, but with the objectives, network and protocol of ocnn_jax
(docs/algorithms.md §2-§7), so that speed and AUROC can be compared on identical data. This is *not* the
Keras repo's behaviour (docs/algorithms.md §9: transductive evaluation, /255 inputs, a different "OC-NN").

What each run does (per normal class and seed; ``keras.utils.set_random_seed(seed)`` drives init and
shuffling):

1. **AE pretraining = DCAE.** Ruff's MNIST LeNet autoencoder in Keras layers: bias-free ``Conv2D``
   ('same' = PyTorch padding 2), ``BatchNormalization(momentum=0.9, epsilon=1e-4, center=False,
   scale=False)``, ``LeakyReLU(0.01)``, 2×2 max-pool, bias-free ``Dense(32)``; decoder ``Reshape(4, 4,
   2)``, nearest ``UpSampling2D``, bias-free ``Conv2DTranspose`` 'same' (PyTorch padding 2) and for the
   16 → 14 layer 'same' + ``Cropping2D(1)`` (= PyTorch padding 3), sigmoid. Initialisers match
   PyTorch's defaults: ``VarianceScaling(1/3, "fan_in", "uniform")`` for convs, dense layers *and*
   transposed convs (Keras stores a transposed kernel as (k, k, out, in), so its "fan_in" is PyTorch's
   k·k·C_out). Loss: per-sample sum of squared errors, batch mean. DCAE score: that SSE in inference
   mode.
2. **OC-NN** (``--method ocnn``): the pretrained encoder frozen in inference mode (z computed once by
   ``predict``), head ŷ = ⟨w, g(V z)⟩ (bias-free ``Dense`` layers, glorot-uniform, g = identity),
   loss ½‖w‖² + ½‖V‖² + (1/ν)·mean relu(r − ŷ) with r a non-trainable variable, set to the ν-quantile
   (linear) of ŷ over the whole training set before training and after every epoch by a callback;
   constant LR, no weight decay. Score r − ŷ.
3. **Deep SVDD** (one-class): the *same* encoder object continues from the AE (weights and BN moving
   statistics); centre c = mean of ``encoder.predict`` on the training set with the ±0.1 rule; loss
   mean ‖φ(x) − c‖²; score ‖φ(x) − c‖² from ``predict``.
4. **RCAE** (``--method rcae``; the paper's alternation, docs/algorithms.md §4): a fresh AE of step 1,
   trained for the AE phase's epochs split into T alternations of E epochs (``common.rcae_split``). Each
   alternation is a θ-step of E epochs on input x with target x − N (one compiled trainer, so Adam's
   state and the LR milestone, counted over all T·E epochs, carry over), then the N-step
   N ← soft-threshold(X − AE(X), λ/2) over the whole training set in inference mode (``predict``), fed
   back as the next target. N starts at 0. Score Σ_pixels (x − AE(x))². (The original repository's
   variant, one alternation per λ with N never used, is ``keras_original.py``.)

Optimiser, all phases: ``keras.optimizers.Adam(β₁=0.9, β₂=0.999, epsilon=1e-8)``. Coupled L2 decay
(PyTorch's ``Adam(weight_decay=…)``) is done in a custom ``train_step`` that adds wd·θ to every
gradient before ``apply_gradients`` (exact, rather than an (wd/2)·‖θ‖² loss term, which is equivalent
for plain Adam but changes the logged loss). The ×0.1 LR drop at epoch m−1 is a
``LearningRateScheduler`` callback. Batches: ``tf.data`` with a per-epoch reshuffle and
``drop_remainder=True``. ``compile`` keeps Keras's default ``jit_compile="auto"``, which is *off* on a
CPU-only machine (``--jit-compile`` turns XLA on).

Remaining differences from ocnn_jax/PyTorch, all tiny: Keras's Adam adds ε to √v̂ before the bias
correction of v ("epsilon hat"), i.e. an effective ε of 1e-8/√(1−β₂ᵗ) (≤ 3.2e-7); Keras's BN updates
its moving variance with the biased batch variance (as Flax; PyTorch uses the unbiased one); the
flatten order is (H, W, C) instead of PyTorch's (C, H, W), which only permutes the dense weights.

Run ``python benchmarks/keras_reference.py --help``; needs the optional ``keras`` extra.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from ocnn_jax.methods.keras_compat import soft_threshold  # noqa: E402  (NumPy: sign(r)·max(|r| − λ/2, 0))

from common import (  # noqa: E402
    ClassData,
    Hyper,
    Phase,
    RunRecord,
    add_common_args,
    auroc,
    center_eps_rule,
    hyper_from_args,
    lr_at_epoch,
    prepare_classes,
    rcae_split,
    report_runs,
    steps_per_epoch,
)

__all__ = [
    "METHODS",
    "torch_default_init",
    "build_encoder",
    "build_decoder",
    "CoupledDecayTrainer",
    "train_rcae",
    "train_run",
    "run",
    "main",
]

METHODS = ("deep_svdd", "ocnn", "dcae", "rcae")
LEAKY_SLOPE = 0.01
BN_KW = dict(momentum=0.9, epsilon=1e-4, center=False, scale=False)
SCORE_BATCH = 2048


def torch_default_init() -> keras.initializers.Initializer:
    """PyTorch's default conv/linear init U(±1/√fan_in) as a Keras initialiser; for ``Conv2DTranspose``
    (kernel (k, k, out, in)) the same call gives PyTorch's transposed-conv init U(±1/√(k·k·C_out))."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def build_encoder(rep_dim: int = 32) -> keras.Model:
    """Ruff's bias-free MNIST LeNet encoder ``(B, 28, 28, 1) -> (B, rep_dim)``."""
    inp = keras.Input((28, 28, 1), name="image")
    x = inp
    for i, ch in enumerate((8, 4), start=1):
        x = layers.Conv2D(ch, 5, padding="same", use_bias=False, kernel_initializer=torch_default_init(),
                          name=f"conv{i}")(x)
        x = layers.BatchNormalization(**BN_KW, name=f"bn{i}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten()(x)
    z = layers.Dense(rep_dim, use_bias=False, kernel_initializer=torch_default_init(), name="code")(x)
    return keras.Model(inp, z, name="encoder")


def build_decoder(rep_dim: int = 32) -> keras.Model:
    """Ruff's MNIST LeNet decoder ``(B, rep_dim) -> (B, 28, 28, 1)``:
    32 → 4×4×2 → up 8×8 → deconv 4 → up 16×16 → deconv 8 (16 → 14) → up 28×28 → deconv 1 → sigmoid."""
    inp = keras.Input((rep_dim,), name="code")
    x = layers.Reshape((4, 4, rep_dim // 16))(inp)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = layers.Conv2DTranspose(4, 5, padding="same", use_bias=False, kernel_initializer=torch_default_init(),
                               name="deconv1")(x)
    x = layers.BatchNormalization(**BN_KW, name="bn3")(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = layers.Conv2DTranspose(8, 5, padding="same", use_bias=False, kernel_initializer=torch_default_init(),
                               name="deconv2")(x)
    x = layers.Cropping2D(1)(x)  # 'same' crops 2 per side; PyTorch padding 3 crops 3: 16 -> 14
    x = layers.BatchNormalization(**BN_KW, name="bn4")(x)
    x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE)(x)
    x = layers.UpSampling2D(2, interpolation="nearest")(x)
    x = layers.Conv2DTranspose(1, 5, padding="same", use_bias=False, kernel_initializer=torch_default_init(),
                               name="deconv3")(x)
    out = layers.Activation("sigmoid")(x)
    return keras.Model(inp, out, name="decoder")


def build_ocnn_head(rep_dim: int, hidden: int, g: str = "linear") -> keras.Model:
    """OC-NN head ŷ = ⟨w, g(V z)⟩, bias-free, glorot-uniform: ``(B, rep_dim) -> (B, 1)``."""
    inp = keras.Input((rep_dim,), name="z")
    h = layers.Dense(hidden, use_bias=False, kernel_initializer="glorot_uniform", name="V")(inp)
    if g == "sigmoid":
        h = layers.Activation("sigmoid")(h)
    y = layers.Dense(1, use_bias=False, kernel_initializer="glorot_uniform", name="w")(h)
    return keras.Model(inp, y, name="ocnn_head")


LossFn = Callable[[keras.Model, tf.Tensor], tf.Tensor]


class CoupledDecayTrainer(keras.Model):
    """Trains ``net`` on ``loss_fn(net, x)`` with PyTorch-style coupled L2 decay.

    ``train_step`` computes the loss in training mode (BN batch statistics; BN moving statistics are
    updated by the layer itself), adds ``weight_decay·θ`` to each gradient of ``net.trainable_variables``
    and lets the compiled optimiser (Adam) apply it. ``fit`` takes a dataset of input batches, or of
    (input, target) pairs, which ``loss_fn`` then receives as a pair.
    """

    def __init__(self, net: keras.Model, loss_fn: LossFn, weight_decay: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = net
        self.loss_fn = loss_fn
        self.weight_decay = float(weight_decay)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training: bool = False):
        return self.net(x, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        # Batches of inputs reach the loss alone; (input, target) pairs (RCAE: fit on a dataset of pairs,
        # or train_on_batch(x, y)) reach it as the pair, which its loss unpacks.
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = x if y is None else (x, y)
        variables = self.net.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.loss_fn(self.net, x)
        grads = tape.gradient(loss, variables)
        if self.weight_decay:
            grads = [g + self.weight_decay * tf.convert_to_tensor(v) for g, v in zip(grads, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _dataset(x: np.ndarray | tuple[np.ndarray, ...], batch_size: int, seed: int) -> tf.data.Dataset:
    """Per-epoch reshuffled full batches (the last partial batch is dropped); ``x`` may be a tuple of
    arrays with the same first axis (batches are then tuples)."""
    n = len(x[0]) if isinstance(x, tuple) else len(x)
    return (tf.data.Dataset.from_tensor_slices(x)
            .shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


class _EpochTimer(keras.callbacks.Callback):
    """Appends each epoch's wall seconds (begin to end, callbacks after it excluded) to ``times``."""

    def __init__(self, times: list[float]) -> None:
        super().__init__()
        self.times, self.t0 = times, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t0)


def _trainer(net: keras.Model, loss_fn: LossFn, phase: Phase, *, jit_compile: bool | str) -> CoupledDecayTrainer:
    """A compiled trainer of ``net`` with the phase's Adam and coupled decay."""
    trainer = CoupledDecayTrainer(net, loss_fn, phase.weight_decay)
    trainer.compile(optimizer=keras.optimizers.Adam(phase.lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
                    jit_compile=jit_compile)
    return trainer


def _fit_epochs(trainer: CoupledDecayTrainer, data: np.ndarray | tuple[np.ndarray, ...], phase: Phase, seed: int,
                first: int, stop: int, *, callbacks: Sequence[keras.callbacks.Callback] = (),
                times: list[float] | None = None) -> list[float]:
    """Epochs ``first … stop − 1`` of ``phase`` (the LR milestone counts from the phase's epoch 0);
    returns their mean losses and appends each epoch's wall seconds to ``times`` when given."""
    n = len(data[0]) if isinstance(data, tuple) else len(data)
    if steps_per_epoch(n, phase.batch_size) < 1:
        raise ValueError(f"{n} training samples give no full batch of {phase.batch_size}")
    cbs = ([_EpochTimer(times)] if times is not None else []) + list(callbacks)
    if phase.lr_milestone is not None:
        cbs.append(keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr_at_epoch(phase, epoch)))
    hist = trainer.fit(_dataset(data, phase.batch_size, seed), initial_epoch=first, epochs=stop, verbose=0,
                       callbacks=cbs, shuffle=False)
    return [float(v) for v in hist.history.get("loss", [])]


def _fit(net: keras.Model, loss_fn: LossFn, x: np.ndarray, phase: Phase, seed: int, *, jit_compile: bool | str,
         callbacks: Sequence[keras.callbacks.Callback] = (), times: list[float] | None = None) -> list[float]:
    """One ``fit`` of ``phase.epochs`` epochs; returns the per-epoch mean losses and appends each
    epoch's wall seconds to ``times`` when given (the first includes Keras's graph tracing)."""
    if phase.epochs <= 0:
        return []
    trainer = _trainer(net, loss_fn, phase, jit_compile=jit_compile)
    return _fit_epochs(trainer, x, phase, seed, 0, phase.epochs, callbacks=callbacks, times=times)


def _ae_loss(ae: keras.Model, xb: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reduce_sum(tf.square(ae(xb, training=True) - xb), axis=(1, 2, 3)))


def _rcae_loss(ae: keras.Model, batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
    """RCAE θ-step: per-sample SSE of AE(x) against the target x − n, batch mean."""
    xb, target = batch
    return tf.reduce_mean(tf.reduce_sum(tf.square(ae(xb, training=True) - target), axis=(1, 2, 3)))


def _build_ae(rep_dim: int) -> keras.Model:
    """Encoder (built first: the seeded initialisers draw in this order) + decoder as one model."""
    encoder = build_encoder(rep_dim)
    decoder = build_decoder(rep_dim)
    image = keras.Input((28, 28, 1))
    return keras.Model(image, decoder(encoder(image)), name="autoencoder")


def _sse(ae: keras.Model, x: np.ndarray) -> np.ndarray:
    """Per-sample Σ_pixels (x − AE(x))², inference mode."""
    recon = ae.predict(x, batch_size=SCORE_BATCH, verbose=0)
    return np.sum(np.square(recon - x), axis=(1, 2, 3))


def train_rcae(x: np.ndarray, seed: int, phase: Phase, lam: float, rep_dim: int = 32, *,
               jit_compile: bool | str = "auto") -> tuple[keras.Model, dict[str, Any]]:
    """The paper's RCAE alternation (module docstring, step 4) on training images ``x`` (n, 28, 28, 1).

    Returns:
      (the trained AE, details): "epoch_seconds" (T·E wall seconds; each N-step is added to the epoch
      before it, so the steady rate includes it), "noise_nonzero" (fraction of non-zero entries of N
      after each N-step), "losses" (per epoch), "split" (T, E) and "noise" (the final N).
    """
    if phase.epochs < 1:
        raise ValueError(f"RCAE needs at least one epoch, got phase.epochs={phase.epochs}")
    t_iter, e_iter = rcae_split(phase.epochs)
    ae = _build_ae(rep_dim)
    trainer = _trainer(ae, _rcae_loss, phase, jit_compile=jit_compile)
    noise = np.zeros_like(x)
    times: list[float] = []
    losses: list[float] = []
    nonzero: list[float] = []
    for it in range(t_iter):
        losses += _fit_epochs(trainer, (x, x - noise), phase, seed + it, it * e_iter, (it + 1) * e_iter, times=times)
        t0 = time.perf_counter()
        noise = soft_threshold(x - ae.predict(x, batch_size=SCORE_BATCH, verbose=0), lam)
        times[-1] += time.perf_counter() - t0
        nonzero.append(float(np.mean(noise != 0)))
    return ae, {"epoch_seconds": times, "noise_nonzero": nonzero, "losses": losses, "split": (t_iter, e_iter),
                "noise": noise}


class _QuantileR(keras.callbacks.Callback):
    """OC-NN: after every epoch, r ← q_ν(ŷ over the whole training set), inference mode, linear."""

    def __init__(self, head: keras.Model, z: np.ndarray, r: keras.Variable, nu: float) -> None:
        super().__init__()
        self.head, self.z, self.r, self.nu = head, z, r, nu

    def on_epoch_end(self, epoch, logs=None):
        self.r.assign(_ocnn_r(self.head, self.z, self.nu))


def _ocnn_r(head: keras.Model, z: np.ndarray, nu: float) -> float:
    y = keras.ops.convert_to_numpy(head(z, training=False))[:, 0]
    return float(np.quantile(y, nu))


def train_run(cd: ClassData, seed: int, hyper: Hyper, methods: Sequence[str] = ("deep_svdd",), *,
              jit_compile: bool | str = "auto") -> list[RunRecord]:
    """Train one (class, seed) run: the AE once, then each requested method from it.

    The AE pretraining is shared: DCAE is scored from it, OC-NN uses its frozen encoder, and Deep SVDD
    (last, because it changes the encoder in place) fine-tunes the same encoder object. RCAE trains an
    AE of its own (:func:`train_rcae`); asked alone, no pretraining runs.

    Returns:
      One ``RunRecord`` per method, in ``METHODS`` order. ``seconds``: "pretrain" (model build + AE
      fit) and "train" (the method's own phase, including its inference passes for c or z); test
      scoring is not timed.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; expected some of {METHODS}")
    keras.backend.clear_session()
    keras.utils.set_random_seed(int(seed))
    n = len(cd.x_train)
    pre = hyper.pretrain
    pre_images = pre.epochs * steps_per_epoch(n, pre.batch_size) * pre.batch_size

    t0 = time.perf_counter()
    epoch_seconds: dict[str, list[float]] = {"pretrain": [], "ocnn": [], "deep_svdd": []}
    if set(methods) - {"rcae"}:
        ae = _build_ae(hyper.rep_dim)
        encoder = ae.get_layer("encoder")
        ae_losses = _fit(ae, _ae_loss, cd.x_train, pre, seed, jit_compile=jit_compile,
                         times=epoch_seconds["pretrain"])
    t_pre = time.perf_counter() - t0
    common = dict(framework="keras", normal_class=cd.normal_class, seed=int(seed), n_train=n)
    records: dict[str, RunRecord] = {}

    if "dcae" in methods:
        records["dcae"] = RunRecord(method="dcae", seconds={"pretrain": t_pre}, images=pre_images,
                                    auroc=auroc(cd.y_test, _sse(ae, cd.x_test)),
                                    extra={"final_ae_loss": ae_losses[-1] if ae_losses else None,
                                           "epoch_seconds": {"pretrain": epoch_seconds["pretrain"]}}, **common)

    if "ocnn" in methods:
        ph = hyper.ocnn
        t0 = time.perf_counter()
        z = encoder.predict(cd.x_train, batch_size=SCORE_BATCH, verbose=0)
        head = build_ocnn_head(hyper.rep_dim, hyper.ocnn_hidden)
        r = keras.Variable(_ocnn_r(head, z, hyper.nu), trainable=False, name="r", dtype="float32")
        inv_nu = 1.0 / hyper.nu

        def ocnn_loss(net: keras.Model, zb: tf.Tensor) -> tf.Tensor:
            y = net(zb, training=True)[:, 0]
            penalty = 0.5 * sum(tf.reduce_sum(tf.square(v)) for v in net.trainable_variables)
            return penalty + inv_nu * tf.reduce_mean(tf.nn.relu(tf.convert_to_tensor(r) - y))

        losses = _fit(head, ocnn_loss, z, ph, seed, jit_compile=jit_compile,
                      callbacks=[_QuantileR(head, z, r, hyper.nu)], times=epoch_seconds["ocnn"])
        t_oc = time.perf_counter() - t0
        z_test = encoder.predict(cd.x_test, batch_size=SCORE_BATCH, verbose=0)
        scores = float(r.numpy()) - keras.ops.convert_to_numpy(head(z_test, training=False))[:, 0]
        images = pre_images + ph.epochs * steps_per_epoch(n, ph.batch_size) * ph.batch_size
        records["ocnn"] = RunRecord(method="ocnn", seconds={"pretrain": t_pre, "train": t_oc}, images=images,
                                    auroc=auroc(cd.y_test, scores),
                                    extra={"r": float(r.numpy()), "final_loss": losses[-1] if losses else None,
                                           "final_ae_loss": ae_losses[-1] if ae_losses else None,
                                           "epoch_seconds": {"pretrain": epoch_seconds["pretrain"],
                                                             "train": epoch_seconds["ocnn"]}}, **common)

    if "deep_svdd" in methods:
        ph = hyper.svdd
        t0 = time.perf_counter()
        z = encoder.predict(cd.x_train, batch_size=SCORE_BATCH, verbose=0)
        c_np = center_eps_rule(z.mean(axis=0), hyper.center_eps)
        c = tf.constant(c_np)

        def svdd_loss(net: keras.Model, xb: tf.Tensor) -> tf.Tensor:
            return tf.reduce_mean(tf.reduce_sum(tf.square(net(xb, training=True) - c), axis=1))

        losses = _fit(encoder, svdd_loss, cd.x_train, ph, seed, jit_compile=jit_compile,
                      times=epoch_seconds["deep_svdd"])
        t_svdd = time.perf_counter() - t0
        z_test = encoder.predict(cd.x_test, batch_size=SCORE_BATCH, verbose=0)
        scores = np.sum(np.square(z_test - c_np), axis=1)
        images = pre_images + ph.epochs * steps_per_epoch(n, ph.batch_size) * ph.batch_size
        records["deep_svdd"] = RunRecord(method="deep_svdd", seconds={"pretrain": t_pre, "train": t_svdd},
                                         images=images, auroc=auroc(cd.y_test, scores),
                                         extra={"final_loss": losses[-1] if losses else None,
                                                "final_ae_loss": ae_losses[-1] if ae_losses else None,
                                                "center_norm": float(np.linalg.norm(c_np)),
                                                "epoch_seconds": {"pretrain": epoch_seconds["pretrain"],
                                                                  "train": epoch_seconds["deep_svdd"]}}, **common)

    if "rcae" in methods:
        t0 = time.perf_counter()
        rae, info = train_rcae(cd.x_train, seed, pre, hyper.rcae_lam, hyper.rep_dim, jit_compile=jit_compile)
        t_rcae = time.perf_counter() - t0
        records["rcae"] = RunRecord(method="rcae", seconds={"train": t_rcae}, images=pre_images,
                                    auroc=auroc(cd.y_test, _sse(rae, cd.x_test)),
                                    extra={"final_loss": info["losses"][-1] if info["losses"] else None,
                                           "noise_nonzero": info["noise_nonzero"], "split": info["split"],
                                           "lam": hyper.rcae_lam, "epoch_seconds": {"train": info["epoch_seconds"]}},
                                    **common)
    return [records[m] for m in METHODS if m in records]


def run(classes: Sequence[ClassData], seeds: Sequence[int], hyper: Hyper, methods: Sequence[str] = ("deep_svdd",),
        *, jit_compile: bool | str = "auto", verbose: bool = True) -> list[RunRecord]:
    """Every (class, seed) run one after another: one ``fit`` per model and phase, Python loops."""
    records: list[RunRecord] = []
    for cd in classes:
        for seed in seeds:
            recs = train_run(cd, seed, hyper, methods, jit_compile=jit_compile)
            records.extend(recs)
            if verbose:
                for r in recs:
                    print(f"keras {r.method} class {r.normal_class} seed {r.seed}: AUROC {100 * r.auroc:.2f}  "
                          f"{r.total_seconds:.1f} s ({r.images / r.total_seconds:,.0f} img/s)", flush=True)
    return records


def _methods(text: str) -> list[str]:
    out = list(METHODS) if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in out if m not in METHODS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"methods must be 'all' or a list from {METHODS}, got {text!r}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, epochs=150, pretrain_epochs=150, n_train=None, n_test=None)
    parser.add_argument("--method", type=_methods, default=["deep_svdd"],
                        help="'all' or a list of deep_svdd,ocnn,dcae,rcae (default: deep_svdd); DCAE is the AE "
                             "pretraining itself and costs only its scoring; RCAE trains its own AE for "
                             "--pretrain-epochs epochs as T x E alternations")
    parser.add_argument("--lam", type=float, default=0.1, help="RCAE λ (default: 0.1)")
    parser.add_argument("--ocnn-epochs", type=int, default=None,
                        help="OC-NN head epochs (paper: 100; default: --epochs)")
    parser.add_argument("--nu", type=float, default=0.1, help="OC-NN ν (default: 0.1)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the train steps with XLA (Keras's default 'auto' is off on CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra-op threads (default: TensorFlow's)")
    parser.add_argument("--compare-jax", action="store_true",
                        help="also train the same runs with ocnn_jax.fit on the same arrays and list both")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    hyper = hyper_from_args(args, ocnn_epochs=args.ocnn_epochs)
    hyper = Hyper(hyper.pretrain, hyper.svdd, hyper.ocnn, nu=args.nu, rcae_lam=args.lam)
    data = prepare_classes(args.classes, args.data_dir, n_train=args.n_train, n_test=args.n_test)
    records = run(data, args.seeds, hyper, args.method, jit_compile=True if args.jit_compile else "auto")
    return report_runs("keras_reference", args, hyper, data, records, args.method)


if __name__ == "__main__":
    sys.exit(main())
