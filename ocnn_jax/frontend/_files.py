"""Device-independent model files: one versioned ``.npz`` of NumPy arrays plus JSON metadata.

Layout: arrays under "variables/<path>", "preprocessing/{shift,inv_scale}", "runs/{class_index,seed}"
(and "runs/lam" for RCAE), "thresholds", "metrics/<phase>/<name>", and "__meta__" (UTF-8 JSON as
uint8): format version, library version, method, config, backbone spec, sample shape, class labels.
Shallow baselines also store "shallow/train/<class index>" (the preprocessed training rows; loading
refits the estimators with the stored hyperparameters, deterministically, so no pickles are needed).
Loading needs only NumPy (and the library to rebuild the backbone), never the device the model was
trained on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import flax.linen as nn
import numpy as np
from flax import traverse_util

from .. import __version__
from ._fit import resolve_model_axis
from ..engine._checkpoint import atomic_savez
from ..core.config import SHALLOW_METHODS, DCAEConfig, DeepSVDDConfig, OCNNConfig, OptimConfig, RCAEConfig, ShallowConfig
from ._model import Model, Preprocessing
from ..nn import Backbone, make_backbone
from ..methods.shallow import ShallowModel

__all__ = ["save_model", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_SEP = "/"


def save_model(model: Model, path: str) -> str:
    """Write ``model`` to ``path`` (".npz" appended if missing) atomically; returns the final path."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    meta = {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "method": model.method,
        "config": _config_to_dict(model.config),
        "backbone": model.backbone_spec,
        "sample_shape": list(model.sample_shape),
        "classes": model.classes,
        "preprocessing": {"mode": model.preprocessing.mode, "base": model.preprocessing.base},
        "wall_time": model.wall_time,
    }
    try:
        meta_bytes = json.dumps(meta).encode()
    except TypeError as err:
        raise TypeError(f"model metadata is not JSON-serialisable (class labels must be str/int/float): {err}") from None
    arrays: dict[str, np.ndarray] = {"__meta__": np.frombuffer(meta_bytes, np.uint8)}
    flat = traverse_util.flatten_dict(_to_dict(model.variables), sep=_SEP)
    arrays.update({f"variables{_SEP}{k}": np.asarray(v) for k, v in flat.items()})
    arrays["preprocessing/shift"] = model.preprocessing.shift
    arrays["preprocessing/inv_scale"] = model.preprocessing.inv_scale
    arrays["runs/class_index"] = np.asarray(model.run_class_index)
    arrays["runs/seed"] = np.asarray(model.run_seeds)
    if model.run_lams is not None:
        arrays["runs/lam"] = np.asarray(model.run_lams)
    if isinstance(model, ShallowModel):
        arrays.update({f"shallow/train/{c}": x for c, x in enumerate(model.train_data)})
    arrays["thresholds"] = np.asarray(model.thresholds)
    arrays.update({f"metrics/{k}": np.asarray(v) for k, v in model.train_metrics.items()})
    atomic_savez(path, arrays)
    return path


def load(path: str, *, encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> Model:
    """Load a model written by ``Model.save``.

    Args:
      path: the ``.npz`` file.
      encoder, decoder: required only for models trained with a custom encoder module (modules are
        code, not data, so they are not stored).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    with np.load(path, allow_pickle=False) as f:
        if "__meta__" not in f.files:
            raise ValueError(f"{path!r} is not an ocnn_jax model file (no __meta__ entry)")
        meta = json.loads(bytes(f["__meta__"]).decode())
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path!r} has model format version {version}; this library reads version {FORMAT_VERSION}")
    spec = meta["backbone"]
    prefix = f"variables{_SEP}"
    flat = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    variables = traverse_util.unflatten_dict(flat, sep=_SEP)
    n_runs = int(arrays["runs/seed"].shape[0])
    fields = dict(
        method=meta["method"],
        config=_config_from_dict(meta["config"]),
        backbone_spec=spec,
        sample_shape=tuple(meta["sample_shape"]),
        preprocessing=Preprocessing(
            mode=meta["preprocessing"]["mode"],
            base=meta["preprocessing"]["base"],
            shift=arrays["preprocessing/shift"],
            inv_scale=arrays["preprocessing/inv_scale"],
        ),
        classes=list(meta["classes"]),
        run_class_index=arrays["runs/class_index"],
        run_seeds=arrays["runs/seed"],
        variables=variables,
        thresholds=arrays["thresholds"],
        train_metrics={k[len("metrics/") :]: v for k, v in arrays.items() if k.startswith("metrics/")},
        wall_time=float(meta.get("wall_time", 0.0)),
        run_lams=arrays.get("runs/lam"),
    )
    if meta["method"] in SHALLOW_METHODS:
        train_data = [arrays[f"shallow/train/{c}"] for c in range(len(meta["classes"]))]
        return ShallowModel(backbone=None, train_data=train_data, **fields).refit()
    input_shape = tuple(spec["input_shape"])
    if spec["family"] == "custom":
        if encoder is None:
            raise ValueError(f"{path!r} was trained with a custom encoder module; pass encoder= (and decoder=) to load()")
        backbone = Backbone("custom", encoder, decoder, input_shape, int(spec["rep_dim"]))
    else:
        backbone = make_backbone(
            spec["name"], input_shape, rep_dim=spec["rep_dim"], hidden=spec.get("hidden"), output=spec["output"]
        )
    variables.setdefault("batch_stats", {})  # empty collections are not stored as arrays
    return Model(
        backbone=backbone, model_axis_width=resolve_model_axis("auto", spec["family"], n_runs), **fields
    )


def _to_dict(tree: Any) -> dict[str, Any]:
    """Nested mapping of arrays (FrozenDicts and NamedTuples as dicts)."""
    if hasattr(tree, "_asdict"):
        tree = tree._asdict()
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {str(k): _to_dict(v) for k, v in tree.items()}
    return tree


def _config_to_dict(cfg: Any) -> dict[str, Any]:
    return {"type": type(cfg).__name__, **dataclasses.asdict(cfg)}


_CONFIG_TYPES = {c.__name__: c for c in (DeepSVDDConfig, OCNNConfig, RCAEConfig, DCAEConfig, ShallowConfig)}


def _config_from_dict(d: dict[str, Any]) -> Any:
    d = dict(d)
    kind = d.pop("type")
    if kind not in _CONFIG_TYPES:
        raise ValueError(f"unknown config type {kind!r} in model file")
    for phase in ("train", "pretrain"):  # nested OptimConfigs (pretrain may be None)
        if phase in d:
            d[phase] = OptimConfig(**d[phase]) if d[phase] else None
    return _CONFIG_TYPES[kind](**d)
