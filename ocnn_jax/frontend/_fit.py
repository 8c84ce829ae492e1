"""``ocnn_jax.fit``: validate, preprocess per normal class, train every (class, grid point, seed) run as
one compiled program, then score the training data for thresholds and the collapse check. The shallow
scikit-learn baselines share the validation and preprocessing, then fit on the host
(``ocnn_jax.methods.shallow``).

``fit`` is ``prepare(...)`` (everything that does not depend on which runs train: preprocessed data of
every class, the network, the program and its compiled executables) followed by
``Prepared.train(runs)``. A sweep prepares once and trains its chunks through the same ``Prepared``,
so every chunk of one shape reuses one compiled program.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from ..core.batching import StackedData, chunked_apply, eval_chunking, run_map, stack_classes
from ..core.config import active_pretrain, with_overrides
from ..core.errors import HypersphereCollapseError, OCNNDegenerateError
from ..core.inputs import as_samples, check_labels, network_shape, resolve_seeds
from ..core.program import TRACED_KEYS, make_runs
from ..datasets.preprocess import Affine, resolve_preprocessing
from ..datasets.protocol import contaminated_rows, preprocess_classes
from ..engine._callbacks import Callback, first_runs
from ..engine._checkpoint import Checkpointer
from ..engine._compile_cache import ensure_compilation_cache
from ..engine._devices import to_host
from ..engine._driver import execute
from ..engine._runs import make_run_mesh, replicate, resolve_run_axis
from ..methods.ae_training import init_variables
from ..methods.defaults import schedule_for_size
from ..methods.dictionary import learn_dictionaries
from ..methods.registry import default_config, get_method
from ..methods.shallow import fit_shallow
from ..methods.train import Train, make_train
from ..nn import Backbone, auto_family, make_backbone
from ._model import Model, Preprocessing, ShallowModel

__all__ = ["fit", "prepare", "Prepared", "RunTable", "run_table", "grid_points", "resolve_mesh", "collapsed"]


def fit(
    x: Any,
    y: Any = None,
    *,
    method: str = "deep_svdd",
    normal_classes: Sequence[Any] | str | None = None,
    seeds: int | Sequence[int] = 3,
    grid: dict[str, Sequence[float]] | None = None,
    encoder: str | nn.Module = "auto",
    decoder: nn.Module | None = None,
    rep_dim: int | None = None,
    hidden: Sequence[int] | None = None,
    preprocessing: str = "auto",
    contamination: float = 0.0,
    model_axis: str | int = "auto",
    progress: bool = True,
    check_collapse: bool = True,
    mesh: Any = "auto",
    checkpoint: Checkpointer | None = None,
    callbacks: Sequence[Callback] = (),
    **config: Any,
) -> Model:
    """Train one-class detectors: every (normal class, grid point, seed) run on a shared run axis.

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
      grid: deep methods: hyperparameter lists trained side by side in the ONE compiled program, e.g.
        ``{"nu": [0.05, 0.1], "lr": [1e-4, 1e-3], "weight_decay": [0, 1e-6], "lam": [0.1, 1]}``
        (``lam``: RCAE only). ``lr`` and ``weight_decay`` are those of the main ("train") phase; the
        LR milestone and all epoch counts stay as configured. Every combination is a grid point.
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
      mesh: "auto" (default): every device JAX sees trains runs (one device: no mesh; the CPU cores
        count as devices after ``ocnn_jax.set_cpu_devices``); None: one device; or a
        ``jax.sharding.Mesh`` with one axis "runs" (``ocnn_jax.make_run_mesh``). With several
        devices the runs are padded with repeats to a multiple of the mesh size.
      checkpoint: optional ``ocnn_jax.engine.Checkpointer``: training state saved between
        compiled calls; an existing checkpoint is resumed.
      callbacks: functions called with an ``ocnn_jax.engine.EpochMetrics`` (phase, epoch, per-run
        metrics, run descriptions incl. grid values) after every epoch, e.g.
        ``ocnn_jax.engine.CSVLogger(path)`` or ``TensorBoardLogger(logdir)``; deep methods only (the
        shallow baselines have no epochs).
      **config: overrides of the method config (see ``ocnn_jax.with_overrides``), e.g.
        ``epochs=50, pretrain_epochs=50, lr=1e-4, batch_size=128, nu=0.05``; OC-NN ``g``,
        ``hidden_units``, ``features`` ("input", "encoder", "encoder_l2", "encoder_body"), ``kernel`` ("rbf" default,
        "none"), ``landmarks``, ``rbf_gamma``, ``rbf_width``, ``rbf_scale``, ``finetune_encoder`` (``ocnn_jax.methods.PAPER_OCNN`` is
        the paper's exact configuration); RCAE ``lam`` (a number, or a sequence: a λ grid
        trained in the same program), ``penalty``, ``outer_iterations``, ``epochs_per_iteration``;
        shallow ``gammas``, ``bandwidths``, ``holdout_fraction``, ``n_estimators``.

    Returns:
      A ``Model`` (``ShallowModel`` for the shallow baselines) with
      ``n_runs = len(normal_classes) × grid points × len(seeds)`` runs, class-major, then grid point
      (the product of the grid's lists in the order given; RCAE's ``lam=[...]`` last), then seed.
      ``Model.runs`` / ``Model.run_grid`` give each run's values.

    Raises:
      ValueError / TypeError: bad input, naming the argument.
      TrainingDivergedError: a run's loss became NaN/inf (names the run's index, class and seed).
      HypersphereCollapseError: a run collapsed (the fitted model is attached as ``.model``).
      OCNNDegenerateError: an OC-NN run is degenerate (the fitted model is attached as ``.model``).
    """
    spec = get_method(method)
    seed_list = resolve_seeds(seeds)
    if spec.kind == "shallow":
        if grid:
            raise ValueError(f"grid= trains deep methods side by side in one program; {method!r} is a shallow "
                             "baseline (fit it once per value instead)")
        return _fit_shallow(x, y, method, normal_classes, seed_list, encoder, decoder, rep_dim, hidden,
                            preprocessing, contamination, progress, config)
    prepared = prepare(x, y, method=method, normal_classes=normal_classes, encoder=encoder, decoder=decoder,
                       rep_dim=rep_dim, hidden=hidden, preprocessing=preprocessing, contamination=contamination,
                       model_axis=model_axis, mesh=mesh, **config)
    runs = run_table(range(len(prepared.classes)), seed_list, grid_points(prepared.config, grid))
    return prepared.train(runs, checkpoint=checkpoint, progress=progress, check_collapse=check_collapse,
                          callbacks=callbacks)


def _fit_shallow(x, y, method, normal_classes, seed_list, encoder, decoder, rep_dim, hidden, preprocessing,
                 contamination, progress, config) -> ShallowModel:
    """The scikit-learn baselines: same validation and preprocessing, one host fit per run."""
    spec = get_method(method)
    x = as_samples(x, "x", min_samples=2)
    sample_shape = tuple(int(s) for s in x.shape[1:])
    net_shape = network_shape(sample_shape)
    classes, class_rows = _split_classes(x, y, normal_classes)
    class_rows, normal_rows = _contaminate(y, classes, class_rows, contamination)
    family = auto_family(net_shape)  # no backbone, but the data family's defaults (e.g. OC-SVM's ν on CIFAR-10)
    mode, _ = resolve_preprocessing(preprocessing, image=len(sample_shape) > 1, defaults=spec.preprocessing)
    x = x.reshape((x.shape[0],) + net_shape)
    _check_no_backbone(method, encoder, decoder, rep_dim, hidden)
    cfg = with_overrides(default_config(family, method), **config)
    affines, class_data = preprocess_classes(x, class_rows, mode, normal=normal_rows)
    fitted = fit_shallow(spec.estimator, cfg, class_data, seed_list, progress=progress, description=method)
    return ShallowModel(
        method=method, config=cfg, backbone=None, backbone_spec={"family": "shallow"},
        preprocessing=_preprocessing(mode, affines, net_shape), train_metrics={}, sample_shape=sample_shape,
        classes=list(classes), **fitted._asdict(),
    )


class RunTable(NamedTuple):
    """The runs to train, one row each: class index (into ``Prepared.classes``), seed, grid values.

    Attributes:
      cls: (M,) int32.
      seeds: (M,) int64.
      grid: key -> (M,) float64 (keys from ``TRACED_KEYS``); runs differing only here share their seed,
        hence their PRNG key.
    """

    cls: np.ndarray
    seeds: np.ndarray
    grid: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.cls.shape[0])

    def take(self, idx: Any) -> "RunTable":
        """The rows ``idx`` (an index array or slice)."""
        return RunTable(self.cls[idx], self.seeds[idx], {k: v[idx] for k, v in self.grid.items()})

    def padded(self, n: int) -> "RunTable":
        """Extended to ``n`` rows with repeats of the last run (the padding of a chunk or mesh)."""
        extra = n - len(self)
        if extra <= 0:
            return self
        return self.take(np.concatenate([np.arange(len(self)), np.full(extra, len(self) - 1)]))

    def info(self, classes: Sequence[Any]) -> list[dict[str, Any]]:
        """Per run, {"normal_class", "seed", grid values...} (error messages, ``Model.runs``)."""
        return [{"normal_class": classes[int(c)], "seed": int(s), **{k: float(v[i]) for k, v in self.grid.items()}}
                for i, (c, s) in enumerate(zip(self.cls, self.seeds))]


def grid_points(cfg: Any, grid: dict[str, Sequence[float]] | None) -> list[dict[str, float]]:
    """Every combination of a traced grid (the product of its lists, in the order the keys are given),
    each checked against ``cfg``'s own validation; RCAE's ``lam`` (a grid of its own when the config
    holds a tuple of λ) is added as the last key when the grid does not name it.

    Raises:
      ValueError / TypeError: an unknown key, an empty or non-numeric list, an invalid value (the
        config's own message), or λ given both in the config and in the grid.
    """
    grid = dict(grid or {})
    for key, values in grid.items():
        if key not in TRACED_KEYS:
            raise ValueError(f"grid keys must be among {list(TRACED_KEYS)} (traced per run); got {key!r}. "
                             "Other settings change the compiled program: fit once per value, or use "
                             "ocnn_jax.sweep, which groups them")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of numbers, got {values!r}")
        if any(isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in values):
            raise TypeError(f"grid[{key!r}] must hold numbers, got {values!r}")
    lams = getattr(cfg, "lams", None)
    if "lam" in grid and lams is None:
        raise ValueError(f"grid key 'lam' is RCAE's λ; {type(cfg).__name__} has no λ")
    if "lam" in grid and len(lams) > 1:
        raise ValueError("λ is given twice: as lam=[...] and as grid['lam']; give one")
    if lams is not None and "lam" not in grid:
        grid["lam"] = list(lams)
    keys = list(grid)
    points = [dict(zip(keys, (float(v) for v in combo))) for combo in itertools.product(*(grid[k] for k in keys))]
    for point in points:
        with_overrides(cfg, **point)  # the config's own validation names a bad value
    return points


def run_table(class_indices: Sequence[int], seeds: Sequence[int], points: Sequence[dict[str, float]]) -> RunTable:
    """Runs class-major, then grid point, then seed."""
    points = list(points) or [{}]
    keys = list(points[0])
    rows = [(c, p, s) for c in class_indices for p in points for s in seeds]
    return RunTable(
        np.asarray([c for c, _, _ in rows], np.int32),
        np.asarray([s for _, _, s in rows], np.int64),
        {k: np.asarray([p[k] for _, p, _ in rows], np.float64) for k in keys},
    )


def resolve_mesh(mesh: Any) -> Mesh | None:
    """``fit``'s mesh argument: "auto" -> a mesh over every device when there are several, else None."""
    if isinstance(mesh, str):
        if mesh != "auto":
            raise ValueError(f"mesh must be 'auto', None or a jax.sharding.Mesh, got {mesh!r}")
        return make_run_mesh() if jax.device_count() > 1 else None
    if mesh is None or isinstance(mesh, Mesh):
        return mesh
    raise TypeError(f"mesh must be 'auto', None or a jax.sharding.Mesh, got {type(mesh).__name__}")


def prepare(
    x: Any,
    y: Any = None,
    *,
    method: str = "deep_svdd",
    normal_classes: Sequence[Any] | str | None = None,
    encoder: str | nn.Module = "auto",
    decoder: nn.Module | None = None,
    rep_dim: int | None = None,
    hidden: Sequence[int] | None = None,
    preprocessing: str = "auto",
    contamination: float = 0.0,
    model_axis: str | int = "auto",
    mesh: Any = "auto",
    **config: Any,
) -> "Prepared":
    """Everything of a deep ``fit`` that does not depend on which runs train (arguments as in ``fit``):
    validated input, each normal class preprocessed and stacked once, the network and the program."""
    spec = get_method(method)
    if spec.kind != "deep":
        raise ValueError(f"prepare builds the compiled program of a deep method; {method!r} is a shallow baseline")
    ensure_compilation_cache()
    x = as_samples(x, "x", min_samples=2)
    sample_shape = tuple(int(s) for s in x.shape[1:])
    net_shape = network_shape(sample_shape)
    classes, class_rows = _split_classes(x, y, normal_classes)
    class_rows, normal_rows = _contaminate(y, classes, class_rows, contamination)
    mode, _ = resolve_preprocessing(preprocessing, image=len(sample_shape) > 1, defaults=spec.preprocessing)
    x = x.reshape((x.shape[0],) + net_shape)
    backbone, backbone_spec = _resolve_backbone(encoder, decoder, net_shape, rep_dim, hidden, mode)
    cfg = with_overrides(default_config(backbone_spec["family"], method), **config)
    cfg = _clamp_batch_sizes(cfg, min(len(r) for r in class_rows))
    cfg = _clamp_landmarks(cfg, min(len(r) for r in class_rows))
    cfg = schedule_for_size(method, cfg, min(len(r) for r in class_rows), explicit=config)
    resolve_run_axis(model_axis, backbone_spec["family"], 1)  # a bad model_axis fails here, before any work
    _check_first_conv_init(cfg, backbone)
    affines, class_data = preprocess_classes(x, class_rows, mode, normal=normal_rows)
    data = stack_classes(class_data, cfg.score_batch_size)
    del class_data
    return Prepared(
        method=method, config=cfg, backbone=backbone, backbone_spec=backbone_spec, sample_shape=sample_shape,
        classes=list(classes), preprocessing=_preprocessing(mode, affines, net_shape), data=data,
        train_fn=make_train(method, backbone, data, cfg), mesh=resolve_mesh(mesh), model_axis=model_axis,
    )


@dataclasses.dataclass(eq=False)
class Prepared:
    """A prepared deep fit: data of every normal class on device, the program, and a cache of its
    compiled executables (one set per run-axis length), so that trains of equal size compile once.

    Attributes:
      method, config, backbone, backbone_spec, sample_shape, classes, preprocessing: as in ``Model``.
      data: the stacked, preprocessed training sets (C, n_max, *network_shape).
      train_fn: the method's ``Train`` (program, variables, scorer).
      mesh: the run mesh (None: one device).
      model_axis: ``fit``'s model_axis.
    """

    method: str
    config: Any
    backbone: Backbone
    backbone_spec: dict[str, Any]
    sample_shape: tuple[int, ...]
    classes: list[Any]
    preprocessing: Preprocessing
    data: StackedData
    train_fn: Train
    mesh: Mesh | None
    model_axis: str | int
    _cache: dict[Any, Any] = dataclasses.field(default_factory=dict, init=False, repr=False)

    @property
    def n_devices(self) -> int:
        return 1 if self.mesh is None else int(self.mesh.size)

    def padded_length(self, n_runs: int, pad_to: int | None = None) -> int:
        """Run-axis length of a train of ``n_runs`` runs: at least ``pad_to``, a multiple of the mesh size."""
        n = max(n_runs, pad_to or 0)
        return -(-n // self.n_devices) * self.n_devices

    def train(self, runs: RunTable, *, pad_to: int | None = None, checkpoint: Checkpointer | None = None,
              progress: bool = True, check_collapse: bool = True, description: str = "",
              callbacks: Sequence[Callback] = ()) -> Model:
        """Train ``runs`` (a ``RunTable`` over ``classes``) as one program and return their ``Model``.

        Args:
          pad_to: train at least this many runs (repeats of the last run, dropped from the result), so
            that trains of different sizes share one compiled program (a sweep's last chunk).
          checkpoint, progress, check_collapse, callbacks: as in ``fit`` (callbacks see the real runs only).
          description: progress-bar prefix.
        """
        cfg, train, data = self.config, self.train_fn, self.data
        n_runs = len(runs)
        n_exec = self.padded_length(n_runs, pad_to)
        width = resolve_run_axis(self.model_axis, self.backbone_spec["family"], n_exec // self.n_devices)
        cache = self._cache.setdefault((n_exec, width), {})
        info = runs.info(self.classes)
        padded = runs.padded(n_exec)
        keys, spec = make_runs(padded.cls, padded.seeds, padded.grid.get("nu", cfg.nu), padded.grid.get("lam"),
                               lr=padded.grid.get("lr"), weight_decay=padded.grid.get("weight_decay"),
                               first_conv=self._first_conv_kernels(padded, progress, description))
        counts = np.asarray(data.n)
        images = [int(sum((counts[c] // b) * b for c in runs.cls)) for b in _phase_batches(cfg)]
        state, metrics, wall = execute(
            train.program, keys, spec, self._data_on_mesh(), width=width, run_info=info + [info[-1]] * (n_exec - n_runs),
            images_per_epoch=images, progress=progress, mesh=self.mesh, checkpoint=checkpoint, cache=cache,
            description=description, callbacks=[first_runs(cb, n_runs) for cb in callbacks],
        )
        variables = to_host(train.variables(state))
        del state
        train_scores = self._training_scores(cache, variables, padded.cls, width)[:n_runs]
        variables = jax.tree.map(lambda a: np.asarray(a)[:n_runs], variables)
        nus = runs.grid.get("nu")
        thresholds = np.array([
            get_method(self.method).threshold(s, cfg if nus is None else dataclasses.replace(cfg, nu=float(nus[i])))
            for i, s in enumerate(train_scores)], np.float32)
        model = Model(
            method=self.method, config=cfg, backbone=self.backbone, backbone_spec=self.backbone_spec,
            sample_shape=self.sample_shape, preprocessing=self.preprocessing, classes=list(self.classes),
            run_class_index=runs.cls, run_seeds=runs.seeds, variables=variables, thresholds=thresholds,
            train_metrics={k: v[:n_runs] for k, v in metrics.items()}, wall_time=wall, model_axis_width=width,
            run_grid=dict(runs.grid),
        )
        model._scorer_runs = n_exec  # one compiled scorer for every train of this length
        model._compiled_scorer = cache.get("scorer")
        cache["scorer"] = model._score_fn()
        if check_collapse:
            degenerate = get_method(self.method).degenerate
            if degenerate is not None:  # first: a degenerate OC-NN head also has constant scores
                bad = degenerate(model.train_metrics)
                if bad:
                    final = [float(model.train_metrics["train/objective"][i, -1]) for i in bad]
                    raise OCNNDegenerateError(bad, [info[i] for i in bad], final, model)
            bad = [i for i, s in enumerate(train_scores) if collapsed(s)]
            if bad:
                raise HypersphereCollapseError(bad, [info[i] for i in bad], model)
        return model

    def _first_conv_kernels(self, runs: RunTable, progress: bool = False, description: str = "") -> np.ndarray | None:
        """(M, k, k, C_in, F) initial first-conv kernels of ``runs`` with ``first_conv_init="dictionary"``
        (learned on the host once per (class, seed) and kept for later trains), else None. ``progress``:
        a line on stderr before and after the learning."""
        if getattr(self.config, "first_conv_init", "default") != "dictionary":
            return None
        learned = self._cache.setdefault("first_conv", {})
        wanted = sorted({(int(c), int(s)) for c, s in zip(runs.cls, runs.seeds)} - set(learned))
        if wanted:
            shape = first_conv_shape(self.backbone)
            counts = np.asarray(self.data.n)
            images = {c: np.asarray(self.data.x[c, : counts[c]]) for c in {c for c, _ in wanted}}
            t = time.perf_counter()
            if progress:
                print(f"{description} learning {len(wanted)} first-conv dictionaries on the host".strip(),
                      file=sys.stderr, flush=True)
            kernels = learn_dictionaries([images.get(c) for c in range(len(self.classes))], wanted, shape)
            if progress:
                print(f"{description} dictionaries learned in {time.perf_counter() - t:.0f} s".strip(),
                      file=sys.stderr, flush=True)
            learned.update(zip(wanted, kernels))
        return np.stack([learned[(int(c), int(s))] for c, s in zip(runs.cls, runs.seeds)])

    def _data_on_mesh(self) -> StackedData:
        """The data as the driver runs it: replicated over the mesh once (global arrays), else as is."""
        if self.mesh is None:
            return self.data
        if "data_on_mesh" not in self._cache:
            self._cache["data_on_mesh"] = replicate(self.data, self.mesh)
        return self._cache["data_on_mesh"]

    def _training_scores(self, cache: dict[Any, Any], variables: Any, run_cls: np.ndarray,
                         width: int | None) -> list[np.ndarray]:
        """Inference-mode scores of each run on its own (unpadded) training set."""
        train, data = self.train_fn, self.data
        if "train_scores" not in cache:
            n_chunks, _ = eval_chunking(data.n_max, train.config.score_batch_size)

            def one(mapped, d):
                v, cls = mapped
                return chunked_apply(lambda xb: train.score(v, xb), d.x, cls, n_chunks)

            cache["train_scores"] = jax.jit(run_map(one, width, len(run_cls)))
        scores = np.asarray(cache["train_scores"]((variables, jnp.asarray(run_cls)), data))
        counts = np.asarray(data.n)
        return [scores[i, : counts[c]] for i, c in enumerate(run_cls)]


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


def first_conv_shape(backbone: Backbone) -> tuple[int, ...]:
    """The (k, k, C_in, F) kernel shape of ``backbone``'s first conv (``Backbone.first_conv``)."""
    params, _ = jax.eval_shape(lambda: init_variables(backbone.encoder, jax.random.key(0), backbone.input_shape))
    return tuple(int(d) for d in params[backbone.first_conv]["kernel"].shape)


def _check_first_conv_init(cfg: Any, backbone: Backbone) -> None:
    """``first_conv_init="dictionary"`` needs a backbone with a first conv (a LeNet)."""
    if getattr(cfg, "first_conv_init", "default") == "dictionary" and backbone.first_conv is None:
        raise ValueError(f"first_conv_init='dictionary' learns the first convolution's kernel from image patches; "
                         f"the {backbone.name!r} backbone has no first convolution (use a LeNet encoder: "
                         f"28×28×1 or 32×32×3 images, or first_conv_init='default')")


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
                stacklevel=4,
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


