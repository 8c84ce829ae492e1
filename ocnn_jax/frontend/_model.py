"""A fitted detector: M runs (normal class × seed) scored, thresholded, evaluated and saved together."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..core.batching import run_map
from ..core.inputs import as_samples, check_labels, network_shape
from ..nn import Backbone
from ..datasets.preprocess import apply_base
from ..methods.registry import get_method
from ..methods.shallow import fit_estimator
from ._files import save_model
from ._metrics import check_metrics, per_run_metric

__all__ = ["Model", "ShallowModel", "Preprocessing"]


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """Per-class input transform: ``x -> (base(x) − shift[c]) · inv_scale[c]``.

    Attributes:
      mode: "gcn_minmax", "minmax", "standardize" or "none" (how the constants were fitted).
      base: class-independent per-sample transform, "gcn_l1" or "none".
      shift, inv_scale: (C, *network_shape) float32, one row per normal class.
    """

    mode: str
    base: str
    shift: np.ndarray
    inv_scale: np.ndarray


@dataclasses.dataclass(eq=False)  # identity equality/hash: the compiled scorer is cached per object
class Model:
    """M trained runs of one method, stacked on a leading run axis.

    Run i has normal class ``classes[run_class_index[i]]`` and seed ``run_seeds[i]``. ``score`` returns
    one row per run; higher = more anomalous.

    Attributes:
      method: "deep_svdd", "soft_boundary", "ocnn", "rcae" or "dcae" (the shallow baselines use the
        subclass ``ShallowModel``).
      config: the method's frozen config.
      backbone: the resolved ``Backbone``; ``backbone_spec`` is what rebuilds it on load.
      sample_shape: one sample's shape as passed to ``fit`` (``score`` requires the same).
      preprocessing: the fitted per-class transform.
      classes: the normal classes (labels as given; ``[None]`` when fit without labels).
      run_class_index, run_seeds: (M,) int arrays.
      variables: pytree of (M, ...) arrays (network variables, centre, radius, ...).
      thresholds: (M,) decision thresholds on the score (``predict`` flags score > threshold).
      train_metrics: "<phase>/<name>" -> (M, epochs) per-epoch metrics.
      wall_time: seconds spent training (including compilation).
      model_axis_width: how the run axis is mapped (None: vmap all).
      run_grid: the per-run hyperparameters of a grid trained in the program ("nu", "lr",
        "weight_decay", "lam"; ``ocnn_jax.core.program.TRACED_KEYS``): name -> (M,) float64 values;
        RCAE always has "lam". Where a run has a value, it overrides ``config`` (``config_of_run``).
    """

    method: str
    config: Any
    backbone: Backbone
    backbone_spec: dict[str, Any]
    sample_shape: tuple[int, ...]
    preprocessing: Preprocessing
    classes: list[Any]
    run_class_index: np.ndarray
    run_seeds: np.ndarray
    variables: Any
    thresholds: np.ndarray
    train_metrics: dict[str, np.ndarray]
    wall_time: float = 0.0
    model_axis_width: int | None = None
    run_grid: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    _compiled_scorer: Any = dataclasses.field(default=None, init=False, repr=False)
    #: run-axis length the compiled scorer was built for (a sweep's padded chunk), else n_runs
    _scorer_runs: int | None = dataclasses.field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickling (e.g. ``joblib.dump`` of an estimator) leaves out the compiled scorer; it is rebuilt
        on first use."""
        return {**self.__dict__, "_compiled_scorer": None}

    # ----------------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        """One line: method, runs (classes × seeds[ × λ]), sample shape, backbone, weights per run."""
        seeds = sorted({int(s) for s in np.asarray(self.run_seeds)})
        parts = [f"classes {_brief(self.classes)}", f"seeds {_brief(seeds)}"]
        if self.run_lams is not None:
            parts.append(f"λ {_brief(sorted({float(v) for v in np.asarray(self.run_lams)}))}")
        sizes = [int(np.prod(np.shape(v)[1:])) for v in jax.tree.leaves(self.variables)]
        backbone = self.backbone_spec.get("name", self.backbone_spec.get("family", "?"))
        return (f"{type(self).__name__}(method={self.method!r}, runs={self.n_runs} ({' × '.join(parts)}), "
                f"sample_shape={tuple(self.sample_shape)}, backbone={backbone!r}, "
                f"{sum(sizes):,} stored values per run)")

    @property
    def n_runs(self) -> int:
        return int(self.run_seeds.shape[0])

    @property
    def n_models(self) -> int:
        """Former name of ``n_runs``."""
        return self.n_runs

    @property
    def run_lams(self) -> np.ndarray | None:
        """(M,) λ of each run (RCAE), else None."""
        return self.run_grid.get("lam")

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Per run: {"normal_class": label, "seed": int} plus its grid values (e.g. "lam", "nu", "lr")."""
        out = [{"normal_class": self.classes[int(c)], "seed": int(s)} for c, s in zip(self.run_class_index, self.run_seeds)]
        for key, values in self.run_grid.items():
            for run, v in zip(out, values):
                run[key] = float(v)
        return out

    def config_of_run(self, i: int) -> Any:
        """The config run ``i`` trained with: ``config`` with the run's grid values filled in."""
        from ..core.config import with_overrides

        return with_overrides(self.config, **{k: float(v[i]) for k, v in self.run_grid.items()})

    def score(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Anomaly scores of every run, higher = more anomalous.

        Args:
          x: (n, *sample_shape) samples, same feature shape as the training data, raw (the fitted
            preprocessing is applied here).
          batch_size: samples per compiled call (memory only); default ``config.score_batch_size``.

        Returns:
          (n_runs, n) float32 scores.
        """
        return self._score_base(self._base_inputs(x), batch_size)

    def _base_inputs(self, x: Any) -> np.ndarray:
        """Validated x in network shape, after the class-independent base transform (e.g. GCN)."""
        x = as_samples(x, "x")
        if tuple(x.shape[1:]) != tuple(self.sample_shape):
            raise ValueError(
                f"x has feature shape {tuple(x.shape[1:])} but the model was trained on {tuple(self.sample_shape)}; "
                "pass samples of the training feature shape"
            )
        return apply_base(self.preprocessing.base, x.reshape((x.shape[0],) + self.network_shape))

    def _score_base(self, base: np.ndarray, batch_size: int | None) -> np.ndarray:
        """(n_runs, n) scores of base-transformed inputs: the compiled, model-mapped scorer in chunks."""
        n = base.shape[0]
        b = int(batch_size or getattr(self.config, "score_batch_size", 2048))
        b = min(b, n)
        fn = self._score_fn()
        out = np.empty((self.n_runs, n), np.float32)
        shift = jnp.asarray(self.preprocessing.shift)
        inv = jnp.asarray(self.preprocessing.inv_scale)
        variables, cls = self.variables, np.asarray(self.run_class_index, np.int32)
        pad = (self._scorer_runs or self.n_runs) - self.n_runs
        if pad:  # a scorer compiled for a padded chunk: repeat the last run, drop its scores
            variables = jax.tree.map(lambda a: np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]), variables)
            cls = np.concatenate([cls, np.repeat(cls[-1:], pad)])
        cls = jnp.asarray(cls)
        for start in range(0, n, b):
            block = base[start : start + b]
            m = block.shape[0]
            if m < b:  # pad to the compiled size, drop the extra scores
                block = np.concatenate([block, np.zeros((b - m,) + block.shape[1:], np.float32)])
            out[:, start : start + m] = np.asarray(fn(variables, cls, shift, inv, jnp.asarray(block)))[: self.n_runs, :m]
        return out

    def preprocess(self, x: Any, normal_class: Any = None) -> np.ndarray:
        """The fitted input transform of one normal class applied to raw x.

        Returns (n, *network_shape) float32: what that class's runs see (e.g. to give a shallow
        baseline exactly the same inputs). ``normal_class`` may be omitted for a single-class model.
        """
        base = self._base_inputs(x)
        if normal_class is None and len(self.classes) > 1:
            raise ValueError(f"normal_class is required: this model has classes {self.classes}")
        try:
            c = 0 if normal_class is None else self.classes.index(normal_class)
        except ValueError:
            raise ValueError(f"normal_class {normal_class!r} is not one of the model's classes {self.classes}") from None
        return ((base - self.preprocessing.shift[c]) * self.preprocessing.inv_scale[c]).astype(np.float32)

    def predict(self, x: Any) -> np.ndarray:
        """(n_runs, n) bool anomaly flags: score > the run's learned threshold."""
        return self.score(x) > self.thresholds[:, None]  # sign_auroc_scores applies the same rule

    def anomaly_labels(self, y: Any) -> np.ndarray:
        """(n_runs, n) one-vs-rest ground truth from class labels y: 1 where y ≠ the run's normal class."""
        if self.classes == [None]:
            raise ValueError("this model was fit without class labels; pass y_is_anomaly to evaluate() directly")
        y = np.asarray(y)
        normal = np.array([self.classes[int(c)] for c in self.run_class_index], dtype=object)
        return (y[None, :] != normal[:, None]).astype(np.int8)

    def evaluate(self, x: Any, y_is_anomaly: Any = None, *, y: Any = None, metric: str = "auroc",
                 metrics: Sequence[str] | None = None) -> np.ndarray | dict[str, np.ndarray]:
        """AUROC (or AUPR) of every run on continuous scores (scikit-learn), anomaly = positive class.

        Args:
          x: (n, *sample_shape) test samples.
          y_is_anomaly: (n,) or (n_runs, n) 0/1 (or bool) ground truth, 1 = anomaly.
          y: alternatively, (n,) class labels; each run's anomalies are the other classes.
          metric: "auroc" (default) or "aupr" (average precision; chance level = share of anomalies).
          metrics: several metric names, e.g. ("auroc", "aupr"): then a dict is returned.

        Returns:
          (n_runs,) values in [0, 1]; with ``metrics``, {name: (n_runs,) values}.
        """
        return self.evaluate_scores(self.score(x), y_is_anomaly, y=y, metric=metric, metrics=metrics)

    def evaluate_scores(self, scores: np.ndarray, y_is_anomaly: Any = None, *, y: Any = None, metric: str = "auroc",
                        metrics: Sequence[str] | None = None) -> np.ndarray | dict[str, np.ndarray]:
        """``evaluate`` on scores already computed by ``score`` (n_runs, n), without scoring again.

        Returns:
          (n_runs,) values of ``metric``; with ``metrics``, {name: (n_runs,) values}.
        """
        names = check_metrics(metric, "metric") if metrics is None else check_metrics(metrics)
        scores = self._check_scores(scores)
        truth = self._ground_truth(y_is_anomaly, y, scores.shape)
        values = {m: per_run_metric(m, truth, scores) for m in names}
        return values[names[0]] if metrics is None else values

    def sign_auroc(self, x: Any, y_is_anomaly: Any = None, *, y: Any = None) -> np.ndarray:
        """The **paper-comparable sign AUROC** (docs/algorithms.md §8) of every run: the AUROC of ``predict``'s
        hard 0/1 flags (score > threshold), i.e. (TPR + TNR) / 2 at the learned threshold.

        Only for comparing with the OC-NN paper's v1 tables, which computed AUROC from sign(score); it
        never replaces ``evaluate`` (AUROC on the continuous scores). Arguments as in ``evaluate``.

        Returns:
          (n_runs,) sign AUROC in [0, 1] (0.5 when a run flags all or none of x).
        """
        return self.sign_auroc_scores(self.score(x), y_is_anomaly, y=y)

    def sign_auroc_scores(self, scores: np.ndarray, y_is_anomaly: Any = None, *, y: Any = None) -> np.ndarray:
        """``sign_auroc`` on scores already computed by ``score`` (n_runs, n), without scoring again.

        Returns:
          (n_runs,) sign AUROC in [0, 1].
        """
        scores = self._check_scores(scores)
        flags = scores > self.thresholds[:, None]  # predict's rule
        return per_run_metric("auroc", self._ground_truth(y_is_anomaly, y, flags.shape), flags.astype(np.int8))

    def _check_scores(self, scores: np.ndarray) -> np.ndarray:
        """scores as an array, checked to have score()'s shape (n_runs, n)."""
        scores = np.asarray(scores)
        if scores.ndim != 2 or scores.shape[0] != self.n_runs:
            raise ValueError(f"scores must have shape (n_models={self.n_runs}, n) as score() returns, got {scores.shape}")
        return scores

    def _ground_truth(self, y_is_anomaly: Any, y: Any, shape: tuple[int, int]) -> np.ndarray:
        """(n_runs, n) int8 0/1 ground truth from exactly one of y_is_anomaly or class labels y."""
        if (y_is_anomaly is None) == (y is None):
            raise TypeError("evaluate() needs exactly one of y_is_anomaly (0/1 per sample) or y (class labels)")
        n = shape[1]
        if y is not None:
            return self.anomaly_labels(check_labels(y, n, "y"))
        truth = np.asarray(y_is_anomaly)
        if truth.ndim == 1:
            truth = np.broadcast_to(check_labels(truth, n, "y_is_anomaly"), shape)
        if truth.shape != shape:
            raise ValueError(f"y_is_anomaly must have shape ({n},) or {shape}, got {truth.shape}")
        if not np.isin(truth, (0, 1)).all():
            raise ValueError("y_is_anomaly must hold 0/1 (or bool) values, 1 = anomaly")
        return truth.astype(np.int8)

    def save(self, path: str) -> str:
        """Write the model to a versioned ``.npz`` (arrays + JSON metadata); returns the path written."""
        return save_model(self, path)

    def _extra_file_arrays(self) -> dict[str, np.ndarray]:
        """Arrays beside the variables that ``save`` stores (none for a compiled model)."""
        return {}

    # ----------------------------------------------------------------------------------------------
    @property
    def network_shape(self) -> tuple[int, ...]:
        return network_shape(tuple(self.sample_shape))

    def _score_fn(self) -> Callable[..., jax.Array]:
        """The jitted, model-mapped scorer (built once per Model object)."""
        if self._compiled_scorer is None:
            self._compiled_scorer = self._build_score_fn()
        return self._compiled_scorer

    def _build_score_fn(self) -> Callable[..., jax.Array]:
        scorer = get_method(self.method).scorer
        backbone, config = self.backbone, self.config

        def one(mapped, x):
            variables, shift, inv = mapped
            return scorer(backbone, config, variables, (x - shift[None]) * inv[None])

        mapped = run_map(one, self.model_axis_width, self._scorer_runs or self.n_runs)
        # Each run's per-class constants are gathered once, then mapped with its variables.
        return jax.jit(lambda v, cls, shift, inv, x: mapped((v, shift[cls], inv[cls]), x))


@dataclasses.dataclass(eq=False, repr=False)  # Model's one-line repr
class ShallowModel(Model):
    """A ``Model`` of scikit-learn estimators (``ocnn_jax.methods.shallow``), one per run (normal class × seed).

    ``backbone`` is None; ``variables`` holds the selected hyperparameter per run ({"gamma": (M,)} for
    ocsvm, {"bandwidth": (M,)} for kde, {} for isoforest); ``train_data[c]`` holds class c's
    preprocessed, flattened training rows (what the estimators were fitted on, and what ``save``
    stores so that ``load`` can refit them).
    """

    estimators: list[Any] = dataclasses.field(default_factory=list, repr=False)
    train_data: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)

    def _score_base(self, base: np.ndarray, batch_size: int | None) -> np.ndarray:
        n = base.shape[0]
        flat = base.reshape(n, -1)
        shift = self.preprocessing.shift.reshape(len(self.classes), -1)
        inv = self.preprocessing.inv_scale.reshape(len(self.classes), -1)
        b = max(1, min(int(batch_size or self.config.score_batch_size), n))
        out = np.empty((self.n_runs, n), np.float32)
        spec = get_method(self.method).estimator
        for i, (est, c) in enumerate(zip(self.estimators, self.run_class_index)):
            for start in range(0, n, b):
                block = (flat[start : start + b] - shift[c]) * inv[c]
                out[i, start : start + b] = spec.score(est, block)
        return out

    def _extra_file_arrays(self) -> dict[str, np.ndarray]:
        """Each class's training rows, so that ``load`` can refit the estimators (no pickles)."""
        return {f"shallow/train/{c}": x for c, x in enumerate(self.train_data)}

    def refit(self) -> ShallowModel:
        """Refit every run's estimator from ``train_data`` and the stored hyperparameters (after load)."""
        spec = get_method(self.method).estimator
        key = spec.hyperparameter
        self.estimators = [
            fit_estimator(
                spec, self.train_data[int(c)], self.config, int(seed),
                None if key is None else float(self.variables[key][i]),
            )[0]
            for i, (c, seed) in enumerate(zip(self.run_class_index, self.run_seeds))
        ]
        return self


def _brief(values: list[Any], limit: int = 6) -> str:
    """A list for a repr, with its middle elided when longer than ``limit``."""
    if len(values) <= limit:
        return repr(list(values))
    head = ", ".join(repr(v) for v in values[: limit // 2])
    tail = ", ".join(repr(v) for v in values[-(limit // 2) :])
    return f"[{head}, … {len(values) - limit} more …, {tail}]"
