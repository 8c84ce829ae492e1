"""The Keras oc-nn repository's training procedures in JAX (``keras_compat``; docs/algorithms.md §9).

For comparing with that repository on identical work only: these are *not* the project's methods
(those follow the papers, :mod:`ocnn_jax.methods.ocnn`, ``deep_svdd``, ``rcae``). Every defect of the
repository listed below is reproduced on purpose, so that its notebook numbers can be re-run; the
data are its transductive sets (:func:`ocnn_jax.datasets.keras_compat.keras_compat_set`), scored on
the set they were trained on.

Procedures (networks in :mod:`ocnn_jax.nn.keras_compat`; optimiser :func:`keras_adam`, which is Keras's
Adam update, whose ε is added to √v *before* the bias correction):

* **AE pretraining** (shared by "OC-NN" and Deep SVDD): the conv AE on the loader's training array
  (MNIST: 4936 normals + 50 anomalies; CIFAR-10: the set itself), MSE (MNIST) or binary
  cross-entropy (CIFAR-10), Adam lr 1e-3 ε 1e-7, batch 200, 150 epochs, no validation split.
* **"OC-NN"** (not the paper's objective): encoder + Flatten + Dense(32, no bias), everything trainable.
  c = mean output of that *initial* network over the set in inference mode, entries with
  |c_j| < 0.1 pushed to ±0.1. Loss (1/ν)·mean_i[r² + Σ_j max(0, (y_ij − c_j)² − r²)] with the
  constant r = 0.1 and ν = 0.2: no ½‖w‖², ½‖V‖², no hyperplane, r never updated (the repository
  computes a ν-quantile every epoch and only logs it). Adam lr 1e-4 ε 1e-7 (its LR drop never fires),
  batch 200, 100 epochs, Keras ``validation_split=0.01`` (the tail: on MNIST all anomalies are held
  out). Score ‖y − c‖².
* **Deep SVDD** ("one-class" and "soft-boundary" train the *same* loss): encoder + Flatten +
  Dense(h, **with bias**); c = the mean of the *pretrained encoder's* flattened output over the set
  (the wrong space for the trained output), ±0.1 rule; loss mean ‖y − c‖², no weight decay; Adam
  lr 1e-4 ε 1e-7, batch 200, 150 epochs, ``validation_split=0.01`` of the loader's training array
  (MNIST) or of the set (CIFAR-10). Score ‖y − c‖² ("soft-boundary" subtracts the ν-quantile R of the
  training distances, a constant that leaves AUROC unchanged).
* **"RCAE"**: the RCAE autoencoder (biases, ReLU before BN); for each λ in (0, 0.5, 1, 100), in order,
  *one* alternation: a fresh Adam (lr 1e-3, ε 1e-8) trains the same (warm-started) AE on X → X for
  150 epochs (batch 32 on MNIST, 200 on CIFAR-10, ``validation_split=0.1``: no anomaly is trained on),
  then N = soft-threshold(X − AE(X), λ/2) is computed and never used. Score Σ_pixels (x − AE(x))². The
  repository reports the last λ's AUROC as "RCAE"; its "DCAE" is the λ = 0 stage. The μ and λ
  regularisers of its loss are host constants without gradient, so the loss is plain MSE.

Not reproduced: the MNIST AE's first conv initialised by dictionary learning (glorot-uniform
instead); the unseeded TensorFlow weight init (here every run is seeded by its key).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.progress import progress
from ..datasets.keras_compat import KerasCompatSet, keras_fit_rows
from ..nn.keras_compat import (CAE_DECODER, CAE_ENCODER, OCNN_HEAD, RCAE_AE, SVDD_HEAD, KerasAE, KerasHeadNet,
                               KerasStack)

__all__ = [
    "KerasCompatConfig",
    "KerasState",
    "keras_adam",
    "keras_mse",
    "keras_bce",
    "ocnn_repo_loss",
    "svdd_repo_loss",
    "centre_eps",
    "soft_threshold",
    "make_step",
    "fit_epochs",
    "predict",
    "pretrain_cae",
    "ocnn_repo",
    "deep_svdd_repo",
    "rcae_repo",
    "resumed_stages",
    "stage_count",
    "stage_desc",
    "KERAS_COMPAT_METHODS",
]

KERAS_COMPAT_METHODS = ("ocnn", "deep_svdd", "rcae", "dcae")


@dataclasses.dataclass(frozen=True)
class KerasCompatConfig:
    """The repository's settings (its defaults; epochs may be shortened for a CPU run).

    Attributes:
      ae_epochs, ae_batch, ae_lr: conv-AE pretraining (150, 200, 1e-3).
      ocnn_epochs, ocnn_lr, ocnn_r, ocnn_nu, ocnn_val: "OC-NN" (100, 1e-4, 0.1, 0.2, 0.01).
      svdd_epochs, svdd_lr, svdd_val, svdd_nu: Deep SVDD (150, 1e-4, 0.01, 0.2).
      batch: OC-NN / Deep SVDD batch (200).
      rcae_epochs, rcae_lr, rcae_eps, rcae_val, rcae_lambdas: RCAE (150 per λ, 1e-3, 1e-8, 0.1,
        (0, 0.5, 1, 100)).
      rcae_batch: None = the repository's (MNIST 32, Keras's default; CIFAR-10 200).
      keras_eps: Keras Adam's default ε (1e-7).
      centre_eps: the ±0.1 centre rule.
    """

    ae_epochs: int = 150
    ae_batch: int = 200
    ae_lr: float = 1e-3
    ocnn_epochs: int = 100
    ocnn_lr: float = 1e-4
    ocnn_r: float = 0.1
    ocnn_nu: float = 0.2
    ocnn_val: float = 0.01
    svdd_epochs: int = 150
    svdd_lr: float = 1e-4
    svdd_val: float = 0.01
    svdd_nu: float = 0.2
    batch: int = 200
    rcae_epochs: int = 150
    rcae_lr: float = 1e-3
    rcae_eps: float = 1e-8
    rcae_val: float = 0.1
    rcae_lambdas: tuple[float, ...] = (0.0, 0.5, 1.0, 100.0)
    rcae_batch: int | None = None
    keras_eps: float = 1e-7
    centre_eps: float = 0.1

    def __post_init__(self) -> None:
        for f in ("ae_epochs", "ocnn_epochs", "svdd_epochs", "rcae_epochs"):
            if int(getattr(self, f)) < 0:
                raise ValueError(f"KerasCompatConfig.{f}={getattr(self, f)!r}; expected >= 0")
        for f in ("ae_batch", "batch"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"KerasCompatConfig.{f}={getattr(self, f)!r}; expected >= 1")
        if not self.rcae_lambdas:
            raise ValueError("KerasCompatConfig.rcae_lambdas is empty; expected at least one λ")


class KerasState(NamedTuple):
    """Trainable parameters, BatchNorm statistics and optimiser state of one Keras-style model."""

    params: Any
    batch_stats: Any
    opt_state: Any


# ---------------------------------------------------------------------------------------------------------------
# Keras's optimiser and losses


def keras_adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7) -> optax.GradientTransformation:
    """Keras's Adam: m, v as usual; θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε).

    Differs from ``optax.adam`` only in where ε enters (Keras adds it to the uncorrected √v).
    """

    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return (jnp.zeros((), jnp.int32), z, jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        t, m, v = state
        t = t + 1
        m = jax.tree.map(lambda m_, g: m_ + (g - m_) * (1 - b1), m, grads)
        v = jax.tree.map(lambda v_, g: v_ + (g * g - v_) * (1 - b2), v, grads)
        tf = t.astype(jnp.float32)
        alpha = lr * jnp.sqrt(1 - b2**tf) / (1 - b1**tf)
        upd = jax.tree.map(lambda m_, v_: -alpha * m_ / (jnp.sqrt(v_) + eps), m, v)
        return upd, (t, m, v)

    return optax.GradientTransformation(init, update)


def keras_mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Keras ``mean_squared_error``: the mean over every element (equal-size samples)."""
    return jnp.mean(jnp.square(pred - target))


def keras_bce(pred: jax.Array, target: jax.Array, eps: float = 1e-7) -> jax.Array:
    """Keras ``binary_crossentropy`` on probabilities: clipped to [ε, 1 − ε], mean over every element."""
    p = jnp.clip(pred, eps, 1 - eps)
    return -jnp.mean(target * jnp.log(p) + (1 - target) * jnp.log(1 - p))


def ocnn_repo_loss(y: jax.Array, c: jax.Array, r: float, nu: float) -> jax.Array:
    """The repository's "OC-NN" loss: (1/ν)·mean_i[r² + Σ_j max(0, (y_ij − c_j)² − r²)]; y (B, h), c (h,)."""
    r2 = r * r
    return jnp.mean(r2 + jnp.sum(jax.nn.relu(jnp.square(y - c[None, :]) - r2), axis=1)) / nu


def svdd_repo_loss(y: jax.Array, c: jax.Array) -> jax.Array:
    """The repository's Deep SVDD loss (both variants): mean_i ‖y_i − c‖²."""
    return jnp.mean(jnp.sum(jnp.square(y - c[None, :]), axis=1))


def centre_eps(c: np.ndarray, eps: float = 0.1) -> np.ndarray:
    """Entries with 0 < |c_j| < eps pushed to ±eps (exact zeros stay zero)."""
    c = np.array(c, np.float32)
    c[(np.abs(c) < eps) & (c < 0)] = -eps
    c[(np.abs(c) < eps) & (c > 0)] = eps
    return c


def soft_threshold(r: np.ndarray, lam: float) -> np.ndarray:
    """The repository's N-step: sign(r)·max(|r| − λ/2, 0), elementwise (λ = 0 returns r)."""
    return np.sign(r) * np.maximum(np.abs(r) - lam / 2.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# Training machinery (Keras fit semantics)


def make_step(module: nn.Module, loss: Callable[[jax.Array, jax.Array], jax.Array],
              opt: optax.GradientTransformation) -> Callable:
    """One training step ``(state, x, target) -> (state, loss)``: forward in training mode (batch
    statistics, running statistics updated as Keras does), gradient of ``loss(output, target)``."""

    def step(state: KerasState, x: jax.Array, target: jax.Array):
        def f(p):
            out, upd = module.apply({"params": p, "batch_stats": state.batch_stats}, x, True,
                                    mutable=["batch_stats"])
            return loss(out, target), upd["batch_stats"]

        (val, stats), g = jax.value_and_grad(f, has_aux=True)(state.params)
        updates, opt_state = opt.update(g, state.opt_state, state.params)
        return KerasState(optax.apply_updates(state.params, updates), stats, opt_state), val

    return step


def fit_epochs(step: Callable, state: KerasState, x: np.ndarray, target: np.ndarray | None, *, epochs: int,
               batch: int, key: jax.Array, progress_desc: str | None = None) -> tuple[KerasState, list[float]]:
    """Keras ``fit(x, target, shuffle=True, batch_size=batch)`` on rows already cut by ``validation_split``.

    Each epoch: a fresh permutation, the full batches in one compiled scan, then the smaller last
    batch (Keras keeps it) as one more step. ``target=None`` means the AE target ``x``; a 1-D or
    constant target is broadcast per row. ``progress_desc``: when given, the epochs are shown under that
    name with the last epoch's loss (a bar in a terminal, a line a minute in a log; the loss is read
    on the host each epoch anyway). Returns the state and the per-epoch mean batch loss.
    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("fit_epochs: no training rows (validation_split left none)")
    xd = jnp.asarray(x)
    td = xd if target is None else jnp.asarray(target)
    nb, rem = divmod(n, batch)
    full, last = _compiled_epoch(step, batch)
    losses = []
    with progress(total=epochs, desc=progress_desc or "", unit="epoch", enabled=progress_desc is not None,
                  interval=60.0) as bar:
        for k in jax.random.split(key, epochs):
            perm = jax.random.permutation(k, n)
            tot = jnp.zeros(())
            if nb:
                state, ls = full(state, perm[: nb * batch].reshape(nb, batch), xd, td)
                tot = ls.sum()
            if rem:
                state, l_last = last(state, perm[nb * batch:], xd, td)
                tot = tot + l_last
            losses.append(float(tot) / (nb + (1 if rem else 0)))
            if not np.isfinite(losses[-1]):
                raise FloatingPointError(f"fit_epochs: loss became {losses[-1]} in epoch {len(losses)}")
            bar.set_postfix(loss=f"{losses[-1]:.4g}")
            bar.update(1)
    return state, losses


@functools.lru_cache(maxsize=64)
def _compiled_epoch(step: Callable, batch: int) -> tuple[Callable, Callable]:
    """The jitted full-batch scan and last-batch step of ``step``, built once per step function: the data
    are arguments, not constants, so RCAE's alternations and repeated fits reuse one compilation per shape."""

    @jax.jit
    def full(state, idx, xd, td):
        return jax.lax.scan(lambda s, i: step(s, xd[i], td[i]), state, idx)

    last = jax.jit(lambda s, i, xd, td: step(s, xd[i], td[i]))
    return full, last


def predict(module: nn.Module, params: Any, batch_stats: Any, x: np.ndarray, method: str | None = None,
            chunk: int = 1000) -> np.ndarray:
    """Inference-mode outputs (running BN statistics), in chunks; ``method`` e.g. ``"encode"``."""
    fn = _compiled_apply(module, method)
    return np.concatenate([np.asarray(fn(params, batch_stats, jnp.asarray(x[s:s + chunk])))
                           for s in range(0, len(x), chunk)])


@functools.lru_cache(maxsize=64)
def _compiled_apply(module: nn.Module, method: str | None) -> Callable:
    """Jitted inference-mode ``module.apply`` with the variables as arguments (one compilation per module,
    method and chunk shape, instead of one per call with the weights baked in as constants)."""
    return jax.jit(lambda params, stats, xb: module.apply({"params": params, "batch_stats": stats}, xb, False,
                                                          method=getattr(module, method) if method else None))


def _init(module: nn.Module, key: jax.Array, sample: np.ndarray) -> tuple[Any, Any]:
    v = module.init(key, jnp.asarray(sample[:1]), False)
    return v["params"], v.get("batch_stats", {})


# ---------------------------------------------------------------------------------------------------------------
# The repository's procedures


def _dataset(s: KerasCompatSet) -> str:
    if s.dataset not in CAE_ENCODER:
        raise ValueError(f"keras_compat supports {sorted(CAE_ENCODER)}; got {s.dataset!r}")
    return s.dataset


def pretrain_cae(s: KerasCompatSet, key: jax.Array, cfg: KerasCompatConfig = KerasCompatConfig(),
                 variables: tuple[Any, Any] | None = None, *,
                 verbose: bool = False) -> tuple[KerasAE, Any, Any, list[float]]:
    """Conv-AE pretraining on the loader's training array. ``variables`` = (params, batch_stats) to start
    from (e.g. weights copied from Keras); default a glorot init from ``key``. ``verbose``: show the
    epochs' progress and loss (as every function here).

    Returns (module, params, batch_stats, per-epoch losses)."""
    ds = _dataset(s)
    ae = KerasAE(CAE_ENCODER[ds], CAE_DECODER[ds])
    k_init, k_fit = jax.random.split(key)
    params, stats = variables if variables is not None else _init(ae, k_init, s.x_loader)
    opt = keras_adam(cfg.ae_lr, eps=cfg.keras_eps)
    step = make_step(ae, keras_mse if ds == "mnist" else keras_bce, opt)
    state, losses = fit_epochs(step, KerasState(params, stats, opt.init(params)), s.x_loader, None,
                               epochs=cfg.ae_epochs, batch=cfg.ae_batch, key=k_fit,
                               progress_desc="keras_compat AE pretraining" if verbose else None)
    return ae, state.params, state.batch_stats, losses


def _head_variables(ds: str, head: Sequence, ae_params: Any, ae_stats: Any, key: jax.Array,
                    x: np.ndarray, head_variables: tuple[Any, Any] | None) -> tuple[KerasHeadNet, Any, Any]:
    net = KerasHeadNet(CAE_ENCODER[ds], tuple(head))
    if head_variables is None:
        hp, hs = _init(KerasStack(tuple(head)), key, predict(KerasAE(CAE_ENCODER[ds], CAE_DECODER[ds]), ae_params,
                                                             ae_stats, x[:1], method="encode"))
    else:
        hp, hs = head_variables
    return net, {"enc": ae_params["enc"], "head_": hp}, {"enc": ae_stats["enc"], **({"head_": hs} if hs else {})}


def ocnn_repo(s: KerasCompatSet, ae: tuple[Any, Any], key: jax.Array, cfg: KerasCompatConfig = KerasCompatConfig(),
              head_variables: tuple[Any, Any] | None = None, *, verbose: bool = False) -> dict[str, Any]:
    """The repository's "OC-NN" on its set, from pretrained AE variables ``ae = (params, batch_stats)``.

    Returns a dict: ``scores`` (n,) ‖y − c‖² on the whole set, ``c`` (32,), ``losses`` per epoch,
    ``params``/``batch_stats`` of the trained network."""
    ds = _dataset(s)
    k_head, k_fit = jax.random.split(key)
    net, params, stats = _head_variables(ds, OCNN_HEAD, ae[0], ae[1], k_head, s.x, head_variables)
    c = jnp.asarray(centre_eps(predict(net, params, stats, s.x).mean(0), cfg.centre_eps))
    opt = keras_adam(cfg.ocnn_lr, eps=cfg.keras_eps)
    step = make_step(net, lambda y, _: ocnn_repo_loss(y, c, cfg.ocnn_r, cfg.ocnn_nu), opt)
    n_fit = keras_fit_rows(len(s.x), cfg.ocnn_val)
    state, losses = fit_epochs(step, KerasState(params, stats, opt.init(params)), s.x[:n_fit],
                               np.zeros(n_fit, np.float32), epochs=cfg.ocnn_epochs, batch=cfg.batch, key=k_fit,
                               progress_desc='keras_compat "OC-NN"' if verbose else None)
    y = predict(net, state.params, state.batch_stats, s.x)
    return {"scores": np.sum(np.square(y - np.asarray(c)), axis=1), "c": np.asarray(c), "losses": losses,
            "params": state.params, "batch_stats": state.batch_stats, "n_fit": n_fit}


def deep_svdd_repo(s: KerasCompatSet, ae: tuple[Any, Any], key: jax.Array, cfg: KerasCompatConfig = KerasCompatConfig(),
                   head_variables: tuple[Any, Any] | None = None, *, verbose: bool = False) -> dict[str, Any]:
    """The repository's Deep SVDD (one-class = soft-boundary training) on its set.

    Returns a dict: ``scores`` (n,) ‖y − c‖² on the set, ``soft_boundary_scores`` (scores − R),
    ``R`` (ν-quantile of the training distances after training), ``c``, ``losses``."""
    ds = _dataset(s)
    k_head, k_fit = jax.random.split(key)
    net, params, stats = _head_variables(ds, SVDD_HEAD[ds], ae[0], ae[1], k_head, s.x, head_variables)
    codes = predict(KerasAE(CAE_ENCODER[ds], CAE_DECODER[ds]), ae[0], ae[1], s.x, method="encode")
    c = jnp.asarray(centre_eps(codes.reshape(len(codes), -1).mean(0), cfg.centre_eps))
    opt = keras_adam(cfg.svdd_lr, eps=cfg.keras_eps)
    step = make_step(net, lambda y, _: svdd_repo_loss(y, c), opt)
    x_tr = s.x_loader
    n_fit = keras_fit_rows(len(x_tr), cfg.svdd_val)
    state, losses = fit_epochs(step, KerasState(params, stats, opt.init(params)), x_tr[:n_fit],
                               np.zeros(n_fit, np.float32), epochs=cfg.svdd_epochs, batch=cfg.batch, key=k_fit,
                               progress_desc="keras_compat Deep SVDD" if verbose else None)
    cn = np.asarray(c)
    d_train = np.sum(np.square(predict(net, state.params, state.batch_stats, x_tr) - cn), axis=1)
    big_r = float(np.percentile(d_train, 100 * cfg.svdd_nu))
    scores = np.sum(np.square(predict(net, state.params, state.batch_stats, s.x) - cn), axis=1)
    return {"scores": scores, "soft_boundary_scores": scores - big_r, "R": big_r, "c": cn, "losses": losses,
            "n_fit": n_fit}


def resumed_stages(resume: dict[str, Any] | None, lambdas: tuple[float, ...], out: dict[str, Any]) -> int:
    """The number of λ stages a stage record ``resume`` holds (0 for None), after copying its per-λ
    ``scores``, ``n_nonzero`` and ``losses`` into ``out``; a record that is not a prefix of this sweep's
    ``lambdas`` is refused (ValueError). Shared by :func:`rcae_repo` and the Keras port's sweep."""
    if resume is None:
        return 0
    done = int(resume["stages_done"])
    held = tuple(float(v) for v in resume["lambdas"])
    if not 0 <= done <= len(lambdas) or held != lambdas[:done]:
        raise ValueError(f"resume holds stages for λ = {held} ({done} done); this sweep's λ are {lambdas} "
                         f"(cfg.rcae_lambdas): not a prefix of the same sweep")
    for field in ("scores", "n_nonzero", "losses"):
        out[field].update({lam: resume[field][lam] for lam in held})
    return done


def stage_count(stages: int | None, lambdas: tuple[float, ...]) -> int:
    """How many λ stages a sweep runs: all of ``lambdas`` for None, else ``stages`` (1 ≤ stages ≤
    len(lambdas); ValueError otherwise). Shared by :func:`rcae_repo` and the Keras port's sweep."""
    if stages is None:
        return len(lambdas)
    if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= len(lambdas):
        raise ValueError(f"stages={stages!r}: expected None (every λ stage) or an int from 1 to {len(lambdas)} "
                         f"(cfg.rcae_lambdas = {lambdas})")
    return stages


def stage_desc(name: str, i: int, lambdas: tuple[float, ...]) -> str:
    """The progress label of λ stage ``i`` (0-based) of a sweep over ``lambdas``, e.g. 'keras_compat
    "RCAE" λ=0.5 (stage 2/4)'. Shared by :func:`rcae_repo` and the Keras port's sweep."""
    return f'{name} "RCAE" λ={lambdas[i]:g} (stage {i + 1}/{len(lambdas)})'


@functools.lru_cache(maxsize=16)
def _mse_step(module: nn.Module, lr: float, eps: float) -> tuple[optax.GradientTransformation, Callable]:
    """Keras Adam and the MSE training step of ``module``, built once per (module, lr, ε): the stages of a
    λ sweep (and further sweeps) reuse one compiled epoch."""
    opt = keras_adam(lr, eps=eps)
    return opt, make_step(module, keras_mse, opt)


def rcae_repo(s: KerasCompatSet, key: jax.Array, cfg: KerasCompatConfig = KerasCompatConfig(),
              variables: tuple[Any, Any] | None = None, *, resume: dict[str, Any] | None = None,
              on_stage: Callable[[dict[str, Any]], None] | None = None, stages: int | None = None,
              verbose: bool = False) -> dict[str, Any]:
    """The repository's λ sweep of one-alternation "RCAE" on its set (one warm-started AE).

    A full-length MNIST sweep is hours on a CPU (4 stages × 150 epochs at batch 32), so it can be split:
    after each λ stage ``on_stage`` (if given) receives a record ``{"stages_done": i, "lambdas": the
    first i λ, "params", "batch_stats", "scores", "n_nonzero", "losses"}`` (e.g. to save it), and
    ``resume=`` such a record skips the stages it holds. Each stage's key is drawn from ``key`` by its
    index and a stage starts from the previous stage's weights only (a fresh optimiser), so a resumed
    sweep computes the same as an uninterrupted one with the same ``key`` and ``cfg``. ``stages=k`` stops
    after the first k stages (``stages=1``: the repository's "DCAE", the λ = 0 stage alone); its record
    resumes into the whole sweep.

    Returns a dict: ``scores`` {λ: (n,) reconstruction SSE after that λ's stage}, ``n_nonzero`` {λ: number
    of non-zero entries of the (unused) N}, ``losses`` {λ: per-epoch losses}."""
    ds = _dataset(s)
    ae = KerasStack(RCAE_AE[ds])
    k_init, k_fit = jax.random.split(key)
    lambdas = tuple(float(v) for v in cfg.rcae_lambdas)
    batch = cfg.rcae_batch or (32 if ds == "mnist" else 200)
    n_fit = keras_fit_rows(len(s.x), cfg.rcae_val)
    out: dict[str, Any] = {"scores": {}, "n_nonzero": {}, "losses": {}, "n_fit": n_fit, "batch": batch}
    done = resumed_stages(resume, lambdas, out)
    last = stage_count(stages, lambdas)
    if resume is not None:
        params, stats = resume["params"], resume["batch_stats"]
    else:
        params, stats = variables if variables is not None else _init(ae, k_init, s.x)
    for i, (lam, k) in enumerate(zip(lambdas, jax.random.split(k_fit, len(lambdas)))):
        if i < done or i >= last:
            continue
        opt, step = _mse_step(ae, cfg.rcae_lr, cfg.rcae_eps)  # a fresh optimiser state per λ, same weights
        state, losses = fit_epochs(step, KerasState(params, stats, opt.init(params)), s.x[:n_fit], None,
                                   epochs=cfg.rcae_epochs, batch=batch, key=k,
                                   progress_desc=stage_desc("keras_compat", i, lambdas) if verbose else None)
        params, stats = state.params, state.batch_stats
        rec = predict(ae, params, stats, s.x)
        resid = (s.x - rec).reshape(len(s.x), -1)
        out["n_nonzero"][lam] = int(np.count_nonzero(soft_threshold(resid, lam)))
        out["scores"][lam] = np.sum(np.square(resid), axis=1)
        out["losses"][lam] = losses
        if on_stage is not None:
            on_stage({"stages_done": i + 1, "lambdas": lambdas[: i + 1], "params": params, "batch_stats": stats,
                      **{f: dict(out[f]) for f in ("scores", "n_nonzero", "losses")}})
    return out
