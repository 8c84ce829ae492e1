"""Device-independent model files: one versioned ``.npz`` of NumPy arrays plus JSON metadata.

Layout: arrays under "variables/<path>", "preprocessing/{shift,inv_scale}", "runs/{class_index,seed}"
(and "runs/<key>" per grid key, e.g. "runs/lam" for RCAE), "thresholds", "metrics/<phase>/<name>", and "__meta__" (UTF-8 JSON as
uint8): format version, library version, method, config, backbone spec, sample shape, class labels.
Shallow baselines also store "shallow/train/<class index>" (the preprocessed training rows; loading
refits the estimators with the stored hyperparameters, deterministically, so no pickles are needed).
Loading needs only NumPy (and the library to rebuild the backbone), never the device the model was
trained on.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
from typing import Any

import numpy as np
from flax import traverse_util

from ..core.config import OptimConfig
from ..engine._checkpoint import atomic_savez
from ..methods.registry import METHODS, config_types
from ._model_file import check_header, read_archive

__all__ = ["save_model", "read_model_file", "variables_from_arrays", "config_from_dict", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_SEP = "/"


def save_model(model: Any, path: str) -> str:
    """Write ``model`` to ``path`` (".npz" appended if missing) atomically; returns the final path.
    ``load`` accepts the same ``path``, with or without the ".npz"."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    meta = {
        "format_version": FORMAT_VERSION,
        "library_version": _library_version(),
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
    arrays.update({f"runs/{k}": np.asarray(v) for k, v in model.run_grid.items()})
    arrays.update(model._extra_file_arrays())
    arrays["thresholds"] = np.asarray(model.thresholds)
    arrays.update({f"metrics/{k}": np.asarray(v) for k, v in model.train_metrics.items()})
    atomic_savez(path, arrays)
    return path


def read_model_file(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of the model file at ``path`` (an existing file: see ``resolve_model_path``):
    the archive read without pickles and the header checked, format version included; any problem is
    a ``ModelFileError`` naming the file (``frontend._model_file``)."""
    meta, arrays = read_archive(path)
    check_header(path, meta, FORMAT_VERSION, METHODS)
    return meta, arrays


def variables_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The nested variables tree stored under "variables/<path>"."""
    prefix = f"variables{_SEP}"
    flat = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    return traverse_util.unflatten_dict(flat, sep=_SEP)


def _to_dict(tree: Any) -> dict[str, Any]:
    """Nested mapping of arrays (FrozenDicts and NamedTuples as dicts)."""
    if hasattr(tree, "_asdict"):
        tree = tree._asdict()
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {str(k): _to_dict(v) for k, v in tree.items()}
    return tree


def _library_version() -> str:
    try:
        return importlib.metadata.version("ocnn_jax")
    except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        return "unknown"


def _config_to_dict(cfg: Any) -> dict[str, Any]:
    return {"type": type(cfg).__name__, **dataclasses.asdict(cfg)}


#: Config fields added after model files were first written, with the value that reproduces the behaviour
#: of the files that lack them (DCAE/RCAE: the bias-free decoder; OC-SVM: the held-out γ grid).
_ADDED_FIELDS: dict[str, dict[str, Any]] = {
    "DCAEConfig": {"output_bias": "none"},
    "RCAEConfig": {"output_bias": "none"},
    "ShallowConfig": {"gamma_rule": "heldout"},
}


def config_from_dict(d: dict[str, Any]) -> Any:
    """The config stored by ``save_model`` (its class looked up in the method table)."""
    types = config_types()
    d = dict(d)
    kind = d.pop("type")
    if kind not in types:
        raise ValueError(f"unknown config type {kind!r} in model file")
    for key, value in _ADDED_FIELDS.get(kind, {}).items():  # files written before the field existed
        d.setdefault(key, value)
    for phase in ("train", "pretrain"):  # nested OptimConfigs (pretrain may be None)
        if phase in d:
            d[phase] = OptimConfig(**d[phase]) if d[phase] else None
    return types[kind](**d)
