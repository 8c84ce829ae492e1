"""``ocnn_jax.fit``: validate, preprocess per normal class, train every (class, seed[, λ]) run as one
compiled program, then score the training data for thresholds and the collapse check. The shallow
scikit-learn baselines share the validation and preprocessing, then fit on the host
(``ocnn_jax.methods.shallow``)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..core.batching import StackedData, chunked_apply, eval_chunking, run_map, stack_classes
from ..core.config import active_pretrain, with_overrides
from ..core.errors import HypersphereCollapseError, OCNNDegenerateError
from ..core.inputs import as_samples, check_labels, network_shape, resolve_seeds
from ..core.program import make_runs
from ..datasets.preprocess import Affine, resolve_preprocessing
from ..datasets.protocol import contaminated_rows, preprocess_classes
from ..engine._callbacks import Callback, first_runs
from ..engine._checkpoint import Checkpointer
from ..engine._devices import to_host
from ..engine._driver import execute
from ..engine._runs import resolve_run_axis
from ..methods.defaults import schedule_for_size
from ..methods.registry import default_config, get_method
from ..methods.shallow import fit_shallow
from ..methods.train import Train, make_train
from ..nn import Backbone, make_backbone
from ._model import Model, Preprocessing, ShallowModel

__all__ = ["fit", "collapsed"]


def fit(
    x: Any,
    y: Any = None,
    *,
    method: str = "deep_svdd",
    normal_classes: Sequence[Any] | str | None = None,
    seeds: int | Sequence[int] = 3,
    encoder: str | nn.Module = "auto",
    decoder: nn.Module | None = None,
    rep_dim: int | None = None,
    hidden: Sequence[int] | None = None,
    preprocessing: str = "auto",
    contamination: float = 0.0,
    model_axis: str | int = "auto",
    progress: bool = True,
    check_collapse: bool = True,
    mesh: Any = None,
    checkpoint: Checkpointer | None = None,
    callbacks: Sequence[Callback] = (),
    **config: Any,
) -> Model:
    """Train one-class detectors: every (normal class, seed[, λ]) run on a shared run axis.

    Args:
      x: (n, d) features or (n, H, W[, C]) images; uint8 images are scaled by 1/255. Without ``y``
        every sample is normal training data.
      y: optional (n,) class labels. With ``normal_classes``, run r trains on ``x[y == class_r]``.
      method: deep methods, trained as one compiled program: "deep_svdd" (one-class),
        "soft_boundary", "ocnn" (the OC-NN paper objective), "rcae" (robust convolutional AE),
        "dcae" (plain AE); shallow scikit-learn baselines, one host fit per run: "ocsvm",
        "isoforest", "kde" (see ``ocnn_jax.methods.shallow`` for their hyperparameter selection).
      normal_classes: the classes to train as normal (a list, or "all" for every label in y).
      seeds: number of seeds (0 … k−1) or an explicit list; one PRNG key per seed drives init and
        shuffling (shallow baselines: the held-out split and IsolationForest's random_state).
      encoder: "auto" (LeNet for 28×28×1 / 32×32×3, else MLP), "mnist_lenet", "cifar_lenet", "mlp",
        or your own Flax Linen module ``__call__(x, train) -> (B, p)`` (bias-free recommended).
      decoder: the decoder for a custom encoder (needed for AE pretraining, RCAE and DCAE).
      rep_dim, hidden: representation size and MLP widths of the built-in backbones.
      preprocessing: "auto" (the method's default, ``Method.preprocessing``: for the deep methods l1
        GCN then min-max with the normal class's constants on images, standardising with the normal
        class's mean/std on features; for the shallow baselines the input measured to serve each best,
        ``ocnn_jax.methods.registry.SHALLOW_PREPROCESSING``), or one of "gcn_minmax", "minmax",
        "standardize", "standardize_floor", "none" (``ocnn_jax.datasets.preprocess.PREPROCESSING``).
        The mode used is recorded in ``Model.preprocessing.mode``.
      contamination: ρ in [0, 1): mix round(ρ·n_c/(1−ρ)) rows of the other classes of y into each
        normal class's training set (docs/algorithms.md §7.3; one seeded draw per class, the same as
        ``one_class_stack(..., key_or_seed=0)``); the preprocessing constants are fitted on the normal
        rows only. Needs y.
      model_axis: "auto" (vmap, except a one-model-at-a-time ``lax.map`` for conv nets on CPU),
        "vmap", "map", or an int group width.
      progress: show progress: a bar in a terminal or notebook, plain log lines otherwise (the rate
        shown excludes compilation).
      check_collapse: raise ``HypersphereCollapseError`` when a run's training scores are constant,
        and ``OCNNDegenerateError`` when an OC-NN head found no separation from the origin (final
        objective not below the trivial head's 0).
      mesh: optional ``jax.sharding.Mesh`` with one axis "runs" (``ocnn_jax.make_run_mesh``):
        the runs are sharded over its devices (padded with repeats to a multiple of its size).
      checkpoint: optional ``ocnn_jax.engine.Checkpointer``: training state saved between
        compiled calls; an existing checkpoint is resumed.
      callbacks: functions called with an ``ocnn_jax.engine.EpochMetrics`` (phase, epoch, per-run
        metrics, run descriptions) after every epoch, e.g. ``ocnn_jax.engine.CSVLogger(path)`` or
        ``TensorBoardLogger(logdir)``; deep methods only (the shallow baselines have no epochs).
      **config: overrides of the method config (see ``ocnn_jax.with_overrides``), e.g.
        ``epochs=50, pretrain_epochs=50, lr=1e-4, batch_size=128, nu=0.05``; OC-NN ``g``,
        ``hidden_units``, ``features`` ("input", "encoder", "encoder_l2"), ``kernel`` ("rbf" default,
        "none"), ``landmarks``, ``rbf_gamma``, ``finetune_encoder`` (``ocnn_jax.methods.PAPER_OCNN`` is
        the paper's exact configuration); RCAE ``lam`` (a number, or a sequence: a λ grid
        trained in the same program), ``penalty``, ``outer_iterations``, ``epochs_per_iteration``;
        shallow ``gammas``, ``bandwidths``, ``holdout_fraction``, ``n_estimators``.

    Returns:
      A ``Model`` (``ShallowModel`` for the shallow baselines) with
      ``n_runs = len(normal_classes) × [len(lam) ×] len(seeds)`` runs, class-major, then λ, then seed.

    Raises:
      ValueError / TypeError: bad input, naming the argument.
      TrainingDivergedError: a run's loss became NaN/inf (names the run's index, class and seed).
      HypersphereCollapseError: a run collapsed (the fitted model is attached as ``.model``).
      OCNNDegenerateError: an OC-NN run is degenerate (the fitted model is attached as ``.model``).
    """
    spec = get_method(method)
    x = as_samples(x, "x", min_samples=2)
    sample_shape = tuple(int(s) for s in x.shape[1:])
    net_shape = network_shape(sample_shape)
    seed_list = resolve_seeds(seeds)
    classes, class_rows = _split_classes(x, y, normal_classes)
    class_rows, normal_rows = _contaminate(y, classes, class_rows, contamination)
    mode, _ = resolve_preprocessing(preprocessing, image=len(sample_shape) > 1, defaults=spec.preprocessing)
    x = x.reshape((x.shape[0],) + net_shape)
    common = dict(sample_shape=sample_shape, classes=list(classes))

    if spec.kind == "shallow":
        _check_no_backbone(method, encoder, decoder, rep_dim, hidden)
        cfg = with_overrides(default_config(None, method), **config)
        affines, class_data = preprocess_classes(x, class_rows, mode, normal=normal_rows)
        fitted = fit_shallow(spec.estimator, cfg, class_data, seed_list, progress=progress, description=method)
        return ShallowModel(
            method=method, config=cfg, backbone=None, backbone_spec={"family": "shallow"},
            preprocessing=_preprocessing(mode, affines, net_shape), train_metrics={}, **fitted._asdict(), **common,
        )

    backbone, backbone_spec = _resolve_backbone(encoder, decoder, net_shape, rep_dim, hidden, mode)
    cfg = with_overrides(default_config(backbone_spec["family"], method), **config)
    run_cls, run_seeds, run_lams = _run_grid(len(classes), seed_list, getattr(cfg, "lams", ()))
    per_device = len(run_cls) if mesh is None else -(-len(run_cls) // mesh.size)
    width = resolve_run_axis(model_axis, backbone_spec["family"], per_device)
    cfg = _clamp_batch_sizes(cfg, min(len(r) for r in class_rows))
    cfg = _clamp_landmarks(cfg, min(len(r) for r in class_rows))
    cfg = schedule_for_size(method, cfg, min(len(r) for r in class_rows), explicit=config)

    affines, class_data = preprocess_classes(x, class_rows, mode, normal=normal_rows)
    data = stack_classes(class_data, cfg.score_batch_size)
    del class_data
    train = make_train(method, backbone, data, cfg)
    run_info = [{"normal_class": classes[c], "seed": int(s)} for c, s in zip(run_cls, run_seeds)]
    if run_lams is not None:  # a λ grid: runs differing only in λ
        for info, lam in zip(run_info, run_lams):
            info["lam"] = float(lam)
    variables, metrics, wall = _train_runs(train, data, run_cls, run_seeds, run_lams, run_info, width=width,
                                           mesh=mesh, checkpoint=checkpoint, progress=progress, callbacks=callbacks)

    train_scores = _training_scores(train, variables, data, run_cls, width)
    thresholds = np.array([spec.threshold(s, cfg) for s in train_scores], np.float32)
    model = Model(
        method=method,
        config=cfg,
        backbone=backbone,
        backbone_spec=backbone_spec,
        preprocessing=_preprocessing(mode, affines, net_shape),
        run_class_index=run_cls,
        run_seeds=run_seeds,
        variables=jax.device_get(variables),
        thresholds=thresholds,
        train_metrics=metrics,
        wall_time=wall,
        model_axis_width=width,
        run_lams=run_lams,
        **common,
    )
    if check_collapse:
        if spec.degenerate is not None:  # first: a degenerate OC-NN head also has constant scores
            bad = spec.degenerate(metrics)
            if bad:
                final = [float(metrics["train/objective"][i, -1]) for i in bad]
                raise OCNNDegenerateError(bad, [run_info[i] for i in bad], final, model)
        bad = [i for i, s in enumerate(train_scores) if collapsed(s)]
        if bad:
            raise HypersphereCollapseError(bad, [run_info[i] for i in bad], model)
    return model


def _contaminate(y: Any, classes: list[Any], class_rows: list[np.ndarray],
                 contamination: float) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Each class's training rows with a fraction ρ of other-class rows of y mixed in (one seeded draw
    per class), and per class the mask of its normal rows; unchanged rows and None when ρ = 0."""
    if isinstance(contamination, bool) or not isinstance(contamination, (int, float)) or not 0 <= contamination < 1:
        raise ValueError(f"contamination must be a fraction in [0, 1), got {contamination!r}")
    if contamination == 0:
        return class_rows, None
    if y is None:
        raise ValueError("contamination needs y (the class labels of x): the anomalies are drawn from the other classes")
    y = np.asarray(y)
    seeds = np.random.SeedSequence(0).spawn(len(classes))
    drawn = [contaminated_rows(y, c, float(contamination), s) for c, s in zip(classes, seeds)]
    return [rows for rows, _ in drawn], [~anomalous for _, anomalous in drawn]


def _check_no_backbone(method: str, encoder: Any, decoder: Any, rep_dim: Any, hidden: Any) -> None:
    """The shallow baselines have no network: backbone arguments are an error."""
    given = {"encoder": encoder != "auto", "decoder": decoder is not None, "rep_dim": rep_dim is not None,
             "hidden": hidden is not None}
    if any(given.values()):
        raise ValueError(f"{[k for k, v in given.items() if v]} do not apply to the shallow method {method!r}")


def _run_grid(n_classes: int, seeds: list[int], lams: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(class index, seed, λ or None) of every run: class-major, then λ (RCAE only), then seed. Runs
    differing only in λ share their seed, hence their key."""
    lams = list(lams)
    per_class = max(1, len(lams)) * len(seeds)
    run_cls = np.repeat(np.arange(n_classes), per_class).astype(np.int32)
    run_seeds = np.tile(np.asarray(seeds, np.int64), n_classes * max(1, len(lams)))
    run_lams = np.tile(np.repeat(np.asarray(lams, np.float32), len(seeds)), n_classes) if lams else None
    return run_cls, run_seeds, run_lams


def _train_runs(train: Train, data: StackedData, run_cls: np.ndarray, run_seeds: np.ndarray,
                run_lams: np.ndarray | None, run_info: list[dict[str, Any]], *, width: int | None, mesh: Any,
                checkpoint: Checkpointer | None, progress: bool,
                callbacks: Sequence[Callback] = ()) -> tuple[Any, dict[str, np.ndarray], float]:
    """Every run through the chunked driver: (exported variables on the host, metrics, wall seconds).

    With a mesh the runs are padded with repeats of the last run to a multiple of its size; the
    padding is dropped from the results."""
    keys, runs = make_runs(run_cls, run_seeds, train.config.nu, run_lams)
    counts = np.asarray(data.n)
    images = [int(sum((counts[c] // p_bs) * p_bs for c in run_cls)) for p_bs in _phase_batches(train.config)]
    n_runs = len(run_cls)
    if mesh is not None and n_runs % mesh.size:  # pad with repeats of the last run; dropped below
        pad = mesh.size - n_runs % mesh.size
        keys, runs = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]), (keys, runs))
        run_info = run_info + [run_info[-1]] * pad
    state, metrics, wall = execute(
        train.program, keys, runs, data, width=width, run_info=run_info, images_per_epoch=images, progress=progress,
        callbacks=[first_runs(cb, n_runs) for cb in callbacks],
        mesh=mesh, checkpoint=checkpoint,
    )
    variables = jax.tree.map(lambda a: np.asarray(a)[:n_runs], to_host(train.variables(state)))
    return variables, {k: v[:n_runs] for k, v in metrics.items()}, wall


def _preprocessing(mode: str, affines: list[Affine], net_shape: tuple[int, ...]) -> Preprocessing:
    """The per-class Affines stacked into the model's ``Preprocessing`` (C, *net_shape) constants."""
    return Preprocessing(
        mode=mode,
        base=affines[0].base,
        shift=np.stack([np.broadcast_to(a.shift, net_shape) for a in affines]).astype(np.float32),
        inv_scale=np.stack([np.broadcast_to(a.inv_scale, net_shape) for a in affines]).astype(np.float32),
    )


def collapsed(train_scores: np.ndarray, rtol: float = 1e-6) -> bool:
    """True when a run's training scores are constant up to float32 resolution (or not finite)."""
    s = np.asarray(train_scores, np.float64)
    if not np.all(np.isfinite(s)):
        return True
    return float(np.ptp(s)) <= rtol * max(float(np.max(np.abs(s))), 1e-30)


# --------------------------------------------------------------------------------------------------
def _split_classes(x: np.ndarray, y: Any, normal_classes: Any) -> tuple[list[Any], list[np.ndarray]]:
    """(class labels, row indices per class). Without labels: one class ``None`` holding every row."""
    if y is None:
        if normal_classes is not None:
            raise ValueError("normal_classes needs y (the class labels of x)")
        return [None], [np.arange(x.shape[0])]
    y = check_labels(y, x.shape[0], "y")
    present = list(np.unique(y))
    if normal_classes is None or (isinstance(normal_classes, str) and normal_classes == "all"):
        classes = present
    else:
        if isinstance(normal_classes, (str, bytes)) or not isinstance(normal_classes, (Sequence, np.ndarray)):
            normal_classes = [normal_classes]
        classes = list(normal_classes)
        if not classes:
            raise ValueError("normal_classes is empty; give at least one class label, or 'all'")
        if len(set(map(_py, classes))) != len(classes):
            raise ValueError(f"normal_classes contains duplicates: {classes}")
    rows = []
    for c in classes:
        idx = np.nonzero(y == c)[0]
        if len(idx) < 2:
            raise ValueError(
                f"normal class {_py(c)!r} has {len(idx)} training sample(s) in y; at least 2 are needed "
                f"(labels present: {[_py(p) for p in present]})"
            )
        rows.append(idx)
    return [_py(c) for c in classes], rows


def _py(v: Any) -> Any:
    """NumPy scalars to plain Python (for JSON and messages)."""
    return v.item() if isinstance(v, np.generic) else v


def _resolve_backbone(encoder, decoder, net_shape, rep_dim, hidden, mode) -> tuple[Backbone, dict[str, Any]]:
    output = "sigmoid" if mode in ("gcn_minmax", "minmax") else "linear"
    if isinstance(encoder, nn.Module):
        if decoder is not None and not isinstance(decoder, nn.Module):
            raise TypeError(f"decoder must be a Flax Linen module or None, got {type(decoder).__name__}")
        from ..methods.ae_training import init_variables

        params, stats = init_variables(encoder, jax.random.key(0), net_shape)
        z = jax.eval_shape(
            lambda: encoder.apply({"params": params, "batch_stats": stats}, jnp.zeros((2,) + net_shape), train=False)
        )
        if len(z.shape) != 2:
            raise ValueError(f"encoder must map (B, *input) to (B, rep_dim); it returned shape {z.shape}")
        bb = Backbone("custom", encoder, decoder, net_shape, int(z.shape[1]))
        return bb, {"family": "custom", "name": "custom", "input_shape": list(net_shape), "rep_dim": bb.rep_dim}
    if decoder is not None:
        raise ValueError("decoder= is only for a custom encoder module; built-in backbones bring their own")
    if not isinstance(encoder, str):
        raise TypeError(f"encoder must be a backbone name or a Flax Linen module, got {type(encoder).__name__}")
    bb = make_backbone(encoder, net_shape, rep_dim=rep_dim, hidden=hidden, output=output)
    spec = {
        "family": bb.name,
        "name": bb.name,
        "input_shape": list(net_shape),
        "rep_dim": bb.rep_dim,
        "hidden": list(hidden) if hidden is not None else None,
        "output": output,
    }
    return bb, spec


def _clamp_batch_sizes(cfg, n_min: int):
    """Batch sizes larger than the smallest class would leave it no full batch: clamp with a warning."""
    phases = {"train": cfg.train, "pretrain": active_pretrain(cfg)}
    updates = {}
    for name, phase in phases.items():
        if phase is not None and phase.batch_size > n_min:
            warnings.warn(
                f"{name} batch_size {phase.batch_size} exceeds the smallest normal class ({n_min} samples); "
                f"using batch_size={n_min}",
                UserWarning,
                stacklevel=3,
            )
            updates[name] = dataclasses.replace(phase, batch_size=n_min)
    return dataclasses.replace(cfg, **updates) if updates else cfg


def _clamp_landmarks(cfg, n_min: int):
    """OC-NN's K RBF landmarks are distinct rows of every normal class: at most the smallest class."""
    if getattr(cfg, "kernel", None) == "rbf" and cfg.landmarks > n_min:
        return dataclasses.replace(cfg, landmarks=n_min)
    return cfg


def _phase_batches(cfg) -> list[int]:
    """Batch size of each phase in program order: [pretrain,] train."""
    pretrain = active_pretrain(cfg)
    return ([pretrain.batch_size] if pretrain is not None else []) + [cfg.train.batch_size]


def _training_scores(train: Train, variables: Any, data: StackedData, run_cls: np.ndarray,
                     width: int | None) -> list[np.ndarray]:
    """Inference-mode scores of each run on its own (unpadded) training set."""
    n_chunks, _ = eval_chunking(data.n_max, train.config.score_batch_size)

    def one(mapped, d):
        v, cls = mapped
        return chunked_apply(lambda xb: train.score(v, xb), d.x, cls, n_chunks)

    fn = jax.jit(run_map(one, width, len(run_cls)))
    scores = np.asarray(fn((variables, jnp.asarray(run_cls)), data))
    counts = np.asarray(data.n)
    return [scores[i, : counts[c]] for i, c in enumerate(run_cls)]
