"""OC-NN with the paper's objective (Chalapathy, Menon & Chawla 2018; docs/algorithms.md §2), as a ``Program``.

One run: [AE pretraining → the pretrained encoder (weights and BN running statistics)] gives z →
[RBF layer φ fitted on the run's normal z] → head ŷ = ⟨w, g(V φ)⟩ (glorot-uniform, no biases) →
r ← q_ν(ŷ over the whole training set) → epochs of minibatch Adam on
``½‖w‖² + ½‖V‖² + (1/ν)·mean relu(sg(r) − ŷ)``, each followed by r ← q_ν(ŷ over the whole (unpadded)
training set, inference mode), all inside the compiled scan.

What z is (``OCNNConfig.features``): "input", the flattened preprocessed input (no encoder, no
pretraining); "encoder", the pretrained encoder's code; "encoder_l2", that code on the unit sphere;
"encoder_body", the pretrained encoder body's output (the flattened last convolutional stage, the input
of the code layer).
What the head sees (``OCNNConfig.kernel``): "rbf" (default), φ(z), RBF units on landmarks of the
normal training data (``ocnn_jax.core.rbf``); "none", z itself (the paper). ``PAPER_OCNN`` is the
paper's exact configuration. Why the default adds the RBF layer and g = tanh: README "OC-NN:
representation" and docs/algorithms.md §2.

Frozen encoder (default with the encoder features): z is computed once per run over the padded class
and kept in the state, so the head trains on an (n_max, p) matrix and the per-epoch quantile costs one
matrix product. Fine-tuning (``finetune_encoder=True``): the encoder trains too (BN in training mode)
with coupled decay on its parameters only, the RBF layer stays as fitted on the pretrained codes; the
epoch-end pass runs the encoder over the class in inference mode, chunked. Two Adam chains (head
without decay, encoder with) equal one Adam with a decay mask, since Adam acts per parameter. Score
s(x) = r − ŷ(x): higher = more anomalous; ``predict`` flags s(x) > 0. For the OC-NN paper's v1
tables, ``Model.sign_auroc`` gives the paper-comparable sign AUROC of those flags (docs/algorithms.md
§8), never instead of the AUROC on the scores. ``degenerate_runs`` is the label-free check that a
head found a separation from the origin at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .ae_training import ae_row, apply_eval, apply_train, encoder_program
from ..core.batching import StackedData, chunked_apply, minibatch_epoch
from ..core.config import OptimConfig, check_int, check_positive, validate_nu
from ..core.losses import OCNN_ACTIVATIONS, masked_mean, masked_quantile, ocnn_loss, ocnn_output, ocnn_penalty
from ..nn import Backbone
from ..core.optim import init_opt_state, lr_at_epoch, make_optimizer
from ..core.program import Phase, Program, RunSpec, run_value
from ..core.rbf import RBFLayer, fit_rbf_layer, rbf_features

__all__ = ["OCNNConfig", "CIFAR_NU", "OCNN_FEATURES", "OCNN_KERNELS", "RBF_SCALES", "LENET_KERNEL", "MLP_KERNEL", "PAPER_OCNN", "encode_train", "encoder_body", "feature_dim", "ocnn_defaults", "OCNNState", "init_head", "make_ocnn",
           "ocnn_features", "ocnn_scores", "head_input", "kernel_of", "degenerate_runs", "project_codes", "unit_norm"]


#: What OC-NN's z is: the flattened preprocessed input (default), the (pretrained) encoder's code
#: (docs/algorithms.md §2), or that code on the unit sphere.
OCNN_FEATURES: tuple[str, ...] = ("input", "encoder", "encoder_l2", "encoder_body")
#: The layer between z and the head: RBF units on landmarks of the normal training data ("rbf", the
#: default), or none (the paper: the head on z itself).
OCNN_KERNELS: tuple[str, ...] = ("rbf", "none")
#: How the RBF layer scales z before distances: "std" (1 / per-feature std) or "none" (isotropic).
RBF_SCALES: tuple[str, ...] = ("std", "none")
#: The paper's exact configuration (docs/algorithms.md §2): the head with g linear on the frozen
#: pretrained encoder's codes, no kernel layer. ``fit(..., method="ocnn", **PAPER_OCNN)``.
PAPER_OCNN: dict[str, Any] = {"features": "encoder", "kernel": "none", "g": "linear"}
#: A run whose final objective is not below this has found no separation from the origin: the
#: trivial head w = 0 (ŷ ≡ 0, r = 0) scores 0 (``degenerate_runs``).
DEGENERATE_OBJECTIVE = -1e-3


@dataclass(frozen=True)
class OCNNConfig:
    """OC-NN, the paper objective (docs/algorithms.md §2): ŷ = ⟨w, g(V φ)⟩, hinge on r = q_ν(ŷ), score r − ŷ.

    What the paper keeps: the objective ½‖w‖² + ½‖V‖² + (1/ν)·mean relu(r − ŷ) − r, the hinge, the
    penalties and r as the ν-quantile of ŷ over the training set, recomputed after every epoch inside
    the compiled loop. What the project chooses (docs/algorithms.md §2, "Default representation"): the
    head does not see z itself but φ(z), RBF units on K landmarks of the normal training data
    (``ocnn_jax.core.rbf``), with g = tanh. ŷ has no bias, so the objective separates the normal data
    from the *origin*; φ maps everything far from the normal data to the origin, and tanh (bounded,
    tanh(0) = 0) keeps it there and makes the objective bounded below. ``PAPER_OCNN`` (features
    "encoder", kernel "none", g "linear") is the paper's exact configuration.

    Attributes:
      nu: ν ∈ (0, 1]; r is the ν-quantile of ŷ over the whole training set, refreshed every epoch,
        so ``predict`` flags about a fraction ν of the training data. 0.1; 0.5 for the CIFAR-10 LeNet
        family (``CIFAR_NU``).
      g: hidden activation: "tanh" (default), or the paper's "linear" (identity; "identity" is
        accepted as an alias) and "sigmoid".
      hidden_units: h, rows of V (32 for MNIST and the MLP, 128 for CIFAR-10).
      features: what z is, shape (p,) per sample:
        "input": the flattened preprocessed input (p = prod(input shape)); no encoder, no
        pretraining (``pretrain`` is kept but not used). The default for the MLP family (vectors,
        small images).
        "encoder" (docs/algorithms.md §2): the pretrained AE encoder's code (p = rep_dim). The default
        for user-supplied encoders.
        "encoder_l2": that code projected to the unit sphere, z / max(‖z‖, 1e-12) (p = rep_dim).
        "encoder_body": the pretrained encoder body's output, the flattened last convolutional stage
        that the code layer reads (p = 196 for the MNIST LeNet, 2048 for CIFAR-10's). The default for
        the LeNet families (``LENET_KERNEL``). Needs an encoder that sows it as "flat".
      kernel: "rbf" (default): the head sees φ(z) ∈ ℝ^K, RBF units on ``landmarks`` rows of the run's
        normal training representations, per-feature std scaling (``rbf_scale``), γ from the median
        heuristic and ``rbf_width`` (or ``rbf_gamma``), features divided by their training mean;
        fitted once at the start of the head phase and then fixed. "none": the head sees z (the paper).
      landmarks: K (at most the smallest normal class; ``fit`` lowers it to that).
      rbf_gamma: None (γ = 1 / (``rbf_width``² · the median squared distance between landmarks after
        the scaling)) or a fixed γ > 0 on the scaled representations.
      rbf_width: w, the kernel width relative to the median heuristic (1: the heuristic; 0.35 for the
        LeNet families: a kernel that resolves the neighbourhood of each landmark; 0.7 for the MLP).
        Each run widens it where needed (steps of 2^(1/4), up to 8×) until the features' ν-tail value
        along their mean direction reaches 1, so that w = 0 is not the head's optimum
        (``core.rbf``); a fixed ``rbf_gamma`` is used as given.
      rbf_scale: "std" (1 / per-feature std, for features in different units) or "none" (isotropic,
        for features in one unit: pixels, the LeNet body's activations).
      finetune_encoder: False (default): the pretrained encoder is frozen in inference mode and z is
        computed once per run; True: the encoder trains too (BN in training mode) with coupled decay
        ``train.weight_decay`` on the encoder only. Needs features "encoder" or "encoder_l2".
      train: the head phase. ``weight_decay`` is applied to the encoder parameters only, and only when
        fine-tuning; w and V are never decayed (their penalties ½‖w‖² + ½‖V‖² are in the loss).
      pretrain: the AE phase whose encoder (weights and BN statistics) provides z with features
        "encoder"/"encoder_l2"; None: the encoder keeps its random init. Not used with "input"
        (``active_pretrain`` gives the phase that actually runs).
      score_batch_size: samples per chunk in inference passes; memory only.
    """

    nu: float = 0.1
    g: str = "tanh"
    hidden_units: int = 32
    features: str = "input"
    kernel: str = "rbf"
    landmarks: int = 256
    rbf_gamma: float | None = None
    rbf_width: float = 1.0
    rbf_scale: str = "std"
    finetune_encoder: bool = False
    train: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-4, lr_milestone=None, weight_decay=1e-6, batch_size=200, epochs=100)
    )
    pretrain: OptimConfig | None = field(default_factory=lambda: ae_row("mnist_lenet"))
    score_batch_size: int = 2048

    def __post_init__(self) -> None:
        validate_nu(self.nu)
        if self.g == "identity":
            object.__setattr__(self, "g", "linear")
        if self.g not in OCNN_ACTIVATIONS:
            raise ValueError(f"g must be one of {OCNN_ACTIVATIONS} (or 'identity'), got {self.g!r}")
        check_int("hidden_units", self.hidden_units, minimum=1)
        if self.features not in OCNN_FEATURES:
            raise ValueError(f"features must be one of {OCNN_FEATURES}, got {self.features!r}")
        if self.kernel not in OCNN_KERNELS:
            raise ValueError(f"kernel must be one of {OCNN_KERNELS}, got {self.kernel!r}")
        check_int("landmarks", self.landmarks, minimum=2)
        if self.rbf_gamma is not None:
            check_positive("rbf_gamma", self.rbf_gamma)
        check_positive("rbf_width", self.rbf_width)
        if self.rbf_scale not in RBF_SCALES:
            raise ValueError(f"rbf_scale must be one of {RBF_SCALES}, got {self.rbf_scale!r}")
        if not isinstance(self.finetune_encoder, bool):
            raise ValueError(f"finetune_encoder must be True or False, got {self.finetune_encoder!r}")
        if self.features == "input" and self.finetune_encoder:
            raise ValueError(
                "finetune_encoder=True needs features='encoder' or 'encoder_l2' (features='input' has no encoder)"
            )
        check_int("score_batch_size", self.score_batch_size, minimum=1)

    @property
    def uses_pretrain(self) -> bool:
        """Whether ``pretrain`` runs: only with the encoder features ("input" has no encoder)."""
        return self.features != "input"


#: The LeNet families' RBF layer (chosen on MNIST quick, benchmarks/results/issue13_ocnn_deep_findings.md): z is
#: the encoder body's output, K = 1024 landmarks, a kernel 0.35 times the median-heuristic width, and
#: no per-feature scaling (the body's features are activations in one unit, like pixels).
LENET_KERNEL: dict[str, Any] = {"features": "encoder_body", "landmarks": 1024, "rbf_width": 0.35, "rbf_scale": "none"}


#: The MLP family's RBF layer (feature vectors, small images; chosen on the default-settings suite,
#: benchmarks/results/issue13_ocnn_flat_findings.md): z is the preprocessed input, K = 256 landmarks, a
#: kernel 0.7 times the median-heuristic width (about scikit-learn's γ = "scale" rule), isotropic. With
#: the method's floored standardising on vectors (``registry.OCNN_PREPROCESSING``) this is the geometry
#: of our OC-SVM; a 1/std rescaling inside the layer would again blow up the near-constant features.
MLP_KERNEL: dict[str, Any] = {"features": "input", "rbf_width": 0.7, "rbf_scale": "none"}
#: The MLP family's head phase: lr 1e-3. The head trains alone (no encoder); at 1e-4 Adam's steps are
#: too short for w to reach its optimum within the guaranteed 3000 steps (the objective is still
#: falling at the end), for the same AUROC (benchmarks/results/issue13_ocnn_flat_findings.md).
MLP_HEAD_TRAIN = OptimConfig(lr=1e-3, lr_milestone=None, weight_decay=1e-6, batch_size=200, epochs=100)


#: ν of the CIFAR-10 LeNet family (every other family: the paper's 0.1). At 0.1 the per-run widening
#: leaves the kernel on the 2048-d body wider, and it ranks worse; a deviation chosen by measurement
#: (docs/algorithms.md §2, "ν on CIFAR-10").
CIFAR_NU = 0.5


def ocnn_defaults(family: str) -> OCNNConfig:
    """Project defaults for a backbone family: the RBF layer and g = tanh everywhere. z: for the LeNet
    families, the pretrained encoder body's output (``LENET_KERNEL``); for the MLP family (feature
    vectors, small images), the preprocessed input (``MLP_KERNEL``, head lr 1e-3); for user-supplied
    encoders ("custom"), their code (K = 256, median-heuristic width, 1/std scaling: codes in unknown
    units).
    h = 128 for CIFAR-10 (32 otherwise); ν = ``CIFAR_NU`` for CIFAR-10 (0.1 otherwise); the family's AE
    row for pretraining."""
    h = 128 if family == "cifar_lenet" else 32
    if family in ("mnist_lenet", "cifar_lenet"):
        nu = CIFAR_NU if family == "cifar_lenet" else OCNNConfig.nu
        return OCNNConfig(nu=nu, hidden_units=h, pretrain=ae_row(family), **LENET_KERNEL)
    if family == "mlp":
        return OCNNConfig(hidden_units=h, pretrain=ae_row(family), train=MLP_HEAD_TRAIN, **MLP_KERNEL)
    return OCNNConfig(hidden_units=h, features="encoder", pretrain=ae_row(family))


class OCNNState(NamedTuple):
    """State of an OC-NN run.

    Attributes:
      params: {"encoder": encoder params, "head": {"V": (h, p), "w": (h,)}}.
      batch_stats: the encoder's BN running statistics.
      opt_state: {"head": Adam state[, "encoder": Adam state when fine-tuning]}.
      key: PRNG key.
      r: scalar, the ν-quantile of ŷ over the training set (updated every epoch).
      features: (n_max, p) z of the run's padded class with the frozen encoder; None when fine-tuning.
      kernel: the RBF layer (fitted on the codes the head phase starts from, then fixed), or None
        with ``kernel="none"``.
    """

    params: Any
    batch_stats: Any
    opt_state: Any
    key: jax.Array
    r: jax.Array
    features: jax.Array | None
    kernel: RBFLayer | None = None


def init_head(key: jax.Array, hidden_units: int, rep_dim: int) -> dict[str, jax.Array]:
    """Glorot-uniform head: V (h, p) and w (h,) (w drawn as an (h, 1) dense kernel, as in Keras)."""
    kv, kw = jax.random.split(key)
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "V": glorot(kv, (hidden_units, rep_dim), jnp.float32),
        "w": glorot(kw, (hidden_units, 1), jnp.float32)[:, 0],
    }


#: ‖z‖ below this is treated as this in ``unit_norm`` (an all-zero code stays zero instead of NaN).
L2_EPS = 1e-12


def unit_norm(z: jax.Array) -> jax.Array:
    """Rows of z (B, p) projected to the unit sphere, z / max(‖z‖, ``L2_EPS``) → (B, p).

    Written as z · rsqrt(max(‖z‖², ε²)), whose gradient is finite everywhere (fine-tuning)."""
    sq = jnp.sum(z * z, axis=-1, keepdims=True)
    return z * jax.lax.rsqrt(jnp.maximum(sq, L2_EPS * L2_EPS))


def project_codes(cfg: OCNNConfig, z: jax.Array) -> jax.Array:
    """The encoder codes z (B, p) as the head sees them: unchanged, or unit-norm for "encoder_l2"."""
    return unit_norm(z) if cfg.features == "encoder_l2" else z


#: The encoder intermediate that ``features="encoder_body"`` reads: the flattened output of the encoder's
#: body, the input of its code layer (sown by the LeNet encoders, ``ocnn_jax.nn.lenet``).
BODY = "flat"


def encoder_body(backbone: Backbone, params: Any, stats: Any, x: jax.Array, train: bool) -> tuple[jax.Array, Any]:
    """The encoder body's output for x (B, *input_shape) → ((B, p), BN statistics: updated in training
    mode, unchanged in inference mode)."""
    mutable = ["batch_stats", "intermediates"] if train else ["intermediates"]
    _, mutated = backbone.encoder.apply({"params": params, "batch_stats": stats}, x, train=train, mutable=mutable)
    if BODY not in mutated.get("intermediates", {}):
        raise ValueError(f"features='encoder_body' needs an encoder that sows its body output as "
                         f"'{BODY}' (the built-in LeNet encoders do); this encoder does not")
    return mutated["intermediates"][BODY][0], mutated.get("batch_stats", stats)


def encode_train(backbone: Backbone, cfg: OCNNConfig, params: Any, stats: Any, x: jax.Array) -> tuple[jax.Array, Any]:
    """Training-mode z of x (B, *input_shape) for a fine-tuned encoder → ((B, p), new BN statistics)."""
    if cfg.features == "encoder_body":
        return encoder_body(backbone, params, stats, x, train=True)
    z, stats = apply_train(backbone.encoder, params, stats, x)
    return project_codes(cfg, z), stats


def ocnn_features(backbone: Backbone, cfg: OCNNConfig, params: Any, stats: Any, x: jax.Array) -> jax.Array:
    """z of x (B, *input_shape) → (B, p): x flattened ("input"), the encoder's code in inference mode
    ("encoder"), that code divided by its norm ("encoder_l2"), or the encoder body's flattened output
    ("encoder_body")."""
    if cfg.features == "input":
        return x.reshape(x.shape[0], -1)
    if cfg.features == "encoder_body":
        return encoder_body(backbone, params, stats, x, train=False)[0]
    return project_codes(cfg, apply_eval(backbone.encoder, params, stats, x))


def feature_dim(backbone: Backbone, cfg: OCNNConfig) -> int:
    """p, the length of one sample's z."""
    if cfg.features == "input":
        return math.prod(backbone.input_shape)
    if cfg.features == "encoder_body":
        x = jax.ShapeDtypeStruct((1, *backbone.input_shape), jnp.float32)
        enc_vars = jax.eval_shape(lambda xx: backbone.encoder.init(jax.random.key(0), xx, train=False), x)
        shape = jax.eval_shape(lambda v, xx: ocnn_features(backbone, cfg, v["params"], v.get("batch_stats", {}), xx),
                               enc_vars, x)
        return int(shape.shape[-1])
    return backbone.rep_dim


def head_input(kernel: RBFLayer | None, z: jax.Array) -> jax.Array:
    """What the head sees: φ(z) (B, K) through the RBF layer, or z (B, p) itself without one."""
    return z if kernel is None else rbf_features(kernel, z)


def kernel_of(variables: dict[str, Any]) -> RBFLayer | None:
    """The RBF layer kept in a run's variables ({"kernel": {...}}), or None (``kernel="none"``)."""
    k = variables.get("kernel")
    return RBFLayer(**k) if k else None


def ocnn_scores(backbone: Backbone, cfg: OCNNConfig, variables: dict[str, Any], x: jax.Array) -> jax.Array:
    """Inference-mode scores r − ŷ(x) of one run on x (B, *input_shape) → (B,)."""
    # .get: features="input" models have empty encoder trees, which a saved file does not keep.
    z = ocnn_features(backbone, cfg, variables["params"].get("encoder", {}), variables.get("batch_stats", {}), x)
    return variables["r"] - ocnn_output(variables["params"]["head"], head_input(kernel_of(variables), z), cfg.g)


def degenerate_runs(metrics: dict[str, Any]) -> list[int]:
    """Runs whose head found no separation from the origin: final objective ≥ ``DEGENERATE_OBJECTIVE``
    (the trivial head w = 0 has objective 0, so training did no better than it; this is also where a
    collapsed ‖w‖ → 0 ends). Label-free. ``metrics``: fit's train metrics, "train/objective" (M, epochs)."""
    obj = metrics.get("train/objective")
    if obj is None or obj.shape[-1] == 0:
        return []
    final = obj[:, -1]
    return [i for i in range(final.shape[0]) if not final[i] < DEGENERATE_OBJECTIVE]


def make_ocnn(backbone: Backbone, cfg: OCNNConfig, n_max: int, n_chunks: int) -> Program:
    """Build the OC-NN ``Program`` for data padded to ``n_max`` rows in ``n_chunks`` inference chunks.

    Metrics of the "train" phase, per epoch: ``loss`` (mean minibatch loss, without −r), ``r`` (after
    the epoch-end update) and ``objective`` (the full objective over the training set with that r,
    −r included).
    """
    train = cfg.train
    finetune = cfg.finetune_encoder
    rep_dim = feature_dim(backbone, cfg)
    head_dim = cfg.landmarks if cfg.kernel == "rbf" else rep_dim
    trainable = ("head", "encoder") if finetune else ("head",)

    def encode(params, stats, run: RunSpec, data: StackedData) -> jax.Array:
        return chunked_apply(lambda xb: ocnn_features(backbone, cfg, params, stats, xb), data.x, run.cls, n_chunks)

    def train_outputs(state: OCNNState, run: RunSpec, data: StackedData) -> jax.Array:
        """(n_max,) ŷ of the run's padded class, inference mode (rows ≥ n are padding)."""
        if finetune:
            z = encode(state.params["encoder"], state.batch_stats, run, data)
        else:
            z = state.features
        return ocnn_output(state.params["head"], head_input(state.kernel, z), cfg.g)

    def refresh_r(state: OCNNState, run: RunSpec, data: StackedData) -> tuple[OCNNState, jax.Array]:
        """r ← q_ν(ŷ over the whole training set); also returns the objective at the new r."""
        y = train_outputs(state, run, data)
        n = data.n[run.cls]
        r = masked_quantile(y, n, run.nu)
        objective = ocnn_penalty(state.params["head"]) + masked_mean(jax.nn.relu(r - y), n) / run.nu - r
        return state._replace(r=r), objective

    def start(enc_params, enc_stats, key, run: RunSpec, data: StackedData) -> OCNNState:
        head_key, kernel_key, run_key = jax.random.split(key, 3)
        head = init_head(head_key, cfg.hidden_units, head_dim)
        params = {"encoder": enc_params, "head": head}
        opt_state = {"head": init_opt_state(head)}
        if finetune:
            opt_state["encoder"] = init_opt_state(enc_params)
        z = encode(enc_params, enc_stats, run, data)
        kernel = None
        if cfg.kernel == "rbf":
            kernel = fit_rbf_layer(kernel_key, z, data.n[run.cls], cfg.landmarks, cfg.rbf_gamma,
                                       cfg.rbf_width, cfg.rbf_scale == "std", nu=run.nu)
        state = OCNNState(params, enc_stats, opt_state, run_key, jnp.zeros((), jnp.float32),
                          None if finetune else z, kernel)
        return refresh_r(state, run, data)[0]

    def ocnn_epoch(state: OCNNState, run: RunSpec, epoch: jax.Array, data: StackedData):
        key, perm_key = jax.random.split(state.key)
        lr = lr_at_epoch(run_value(run.lr, train.lr), train.lr_milestone, epoch)
        # w and V are never decayed (their penalties are in the loss); the encoder only when fine-tuned.
        txs = {"head": make_optimizer(lr, 0.0),
               "encoder": make_optimizer(lr, run_value(run.weight_decay, train.weight_decay))}

        def step(st: OCNNState, idx: jax.Array):
            def loss_fn(p):
                if finetune:
                    z, stats = encode_train(backbone, cfg, p["encoder"], st.batch_stats, data.x[run.cls, idx])
                else:
                    z, stats = st.features[idx], st.batch_stats
                return ocnn_loss(p["head"], head_input(st.kernel, z), st.r, run.nu, cfg.g), stats

            p = {k: st.params[k] for k in trainable}
            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(p)
            params, opt_state = dict(st.params), dict(st.opt_state)
            for k in trainable:
                updates, opt_state[k] = txs[k].update(grads[k], st.opt_state[k], p[k])
                params[k] = optax.apply_updates(p[k], updates)
            return st._replace(params=params, batch_stats=stats, opt_state=opt_state), loss

        state, loss = minibatch_epoch(step, state, perm_key, data.n[run.cls], n_max, train.batch_size)
        state, objective = refresh_r(state._replace(key=key), run, data)
        return state, {"loss": loss, "r": state.r, "objective": objective}

    phases = (Phase("train", train.epochs, ocnn_epoch),)
    if cfg.features == "input":  # no encoder: empty encoder variables
        return Program(lambda key, run, data: start({}, {}, key, run, data), phases)
    return encoder_program(backbone, cfg.pretrain, n_max, start, phases)
