"""``load``: a ``Model`` (or ``ShallowModel``) from a model file written by ``Model.save``, after
checking the whole file (``frontend._model_file``)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import numpy as np

from ..core.errors import ModelFileError
from ..core.inputs import network_shape
from ..core.program import TRACED_KEYS
from ..engine._runs import resolve_run_axis
from ..methods.registry import get_method
from ..nn import Backbone, make_backbone
from ._files import config_from_dict, read_model_file, variables_from_arrays
from ._model import Model, Preprocessing, ShallowModel
from ._model_file import MAX_SEED, check_arrays, expected_variables, resolve_model_path

__all__ = ["load"]


def load(path: str, *, encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> Model:
    """Load a model written by ``Model.save``, after checking the whole file.

    Args:
      path: the file, with or without the ".npz" that ``save`` appends.
      encoder, decoder: required only for models trained with a custom encoder module (modules are
        code, not data, so they are not stored).

    Raises:
      FileNotFoundError: neither ``path`` nor ``path + ".npz"`` exists.
      ModelFileError: the file is not a complete model archive of this format version, an array is
        missing, misshapen or of the wrong dtype, or a weight, threshold or preprocessing constant is
        not finite; the message names the file and the problem. Nothing is ever unpickled.
    """
    path = resolve_model_path(path)
    meta, arrays = read_model_file(path)
    method = get_method(meta["method"])
    try:
        config = config_from_dict(meta["config"])
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise ModelFileError(path, f"config cannot be rebuilt ({type(err).__name__}: {err})") from None
    if type(config) is not method.config_type:
        raise ModelFileError(path, f"config type {type(config).__name__} does not belong to method {method.name!r}")
    spec = meta["backbone"]
    shallow = method.kind == "shallow"
    sample_shape = tuple(meta["sample_shape"])
    net_shape = network_shape(sample_shape)
    n_classes = len(meta["classes"])
    seeds = arrays.get("runs/seed")
    if seeds is None:
        raise ModelFileError(path, "array 'runs/seed' is missing")
    if seeds.ndim != 1 or seeds.shape[0] < 1:
        raise ModelFileError(path, f"array 'runs/seed' has shape {seeds.shape}, expected (n_runs,) with n_runs >= 1")
    n_runs = int(seeds.shape[0])

    expected: dict[str, tuple[tuple[int | None, ...], Any, bool]] = {
        "runs/seed": ((n_runs,), "int", False),
        "runs/class_index": ((n_runs,), "int", False),
        "thresholds": ((n_runs,), np.float32, True),
        "preprocessing/shift": ((n_classes,) + net_shape, np.float32, True),
        "preprocessing/inv_scale": ((n_classes,) + net_shape, np.float32, True),
    }
    if hasattr(config, "lams"):
        expected["runs/lam"] = ((n_runs,), "float", False)  # λ = inf is valid (N ≡ 0)
    # the per-run values of a traced grid (ν, lr, weight decay, λ) trained in the program
    expected.update({f"runs/{k}": ((n_runs,), "float", True) for k in TRACED_KEYS
                     if f"runs/{k}" in arrays and f"runs/{k}" not in expected})
    expected.update({k: ((n_runs, None), "float", False) for k in arrays if k.startswith("metrics/")})
    hint, backbone = "", None
    if shallow:
        if method.estimator.hyperparameter is not None:
            expected[f"variables/{method.estimator.hyperparameter}"] = ((n_runs,), "float", True)
        n_features = int(np.prod(net_shape))
        expected.update({f"shallow/train/{c}": ((None, n_features), np.float32, True) for c in range(n_classes)})
    else:
        backbone = _backbone(path, spec, net_shape, encoder, decoder)
        noise = arrays.get("variables/noise_norms")  # RCAE: one norm per padded training row
        pretrain = getattr(config, "pretrain", None)
        n_max = (int(noise.shape[1]) if noise is not None and noise.ndim == 2 and noise.shape[1] > 0
                 else max([config.train.batch_size] + ([pretrain.batch_size] if pretrain else [])
                          # OC-NN's RBF layer draws its K landmarks from the padded class: n_max >= K
                          + ([config.landmarks] if getattr(config, "kernel", None) == "rbf" else [])))
        try:
            shapes = expected_variables(method, backbone, config, net_shape, n_classes, n_max)
        except Exception as err:  # a header whose config and backbone cannot form a program
            raise ModelFileError(path, f"its method, config and backbone do not form a program "
                                       f"({type(err).__name__}: {err})") from None
        expected.update({k: ((n_runs,) + shape, dtype, True) for k, (shape, dtype) in shapes.items()})
        if spec.get("family") == "custom":
            hint = " (does the encoder=/decoder= module match the one the model was trained with?)"
    check_arrays(path, arrays, expected, hint)
    cls = arrays["runs/class_index"]
    if seeds.min() < 0 or seeds.max() > MAX_SEED:
        raise ModelFileError(path, f"runs/seed holds values outside 0 … 2**32 − 1: {seeds.min()} … {seeds.max()}")
    lam = arrays.get("runs/lam")
    if lam is not None and not np.all(lam >= 0):  # NaN fails too
        raise ModelFileError(path, f"runs/lam holds values that are NaN or negative: {lam[~(lam >= 0)][:3].tolist()}")
    if cls.min() < 0 or cls.max() >= n_classes:
        raise ModelFileError(path, f"runs/class_index holds values outside 0 … {n_classes - 1} ({n_classes} classes)")
    if shallow:
        small = [c for c in range(n_classes) if arrays[f"shallow/train/{c}"].shape[0] < 2]
        if small:
            raise ModelFileError(path, f"shallow/train of class(es) {small} holds fewer than 2 rows")

    variables = variables_from_arrays(arrays)
    fields = dict(
        method=method.name,
        config=config,
        backbone_spec=spec,
        sample_shape=sample_shape,
        preprocessing=Preprocessing(
            mode=meta["preprocessing"]["mode"],
            base=meta["preprocessing"]["base"],
            shift=arrays["preprocessing/shift"],
            inv_scale=arrays["preprocessing/inv_scale"],
        ),
        classes=list(meta["classes"]),
        run_class_index=cls,
        run_seeds=seeds,
        variables=variables,
        thresholds=arrays["thresholds"],
        train_metrics={k[len("metrics/") :]: v for k, v in arrays.items() if k.startswith("metrics/")},
        wall_time=float(meta.get("wall_time", 0.0)),
        run_grid={k[len("runs/") :]: v for k, v in arrays.items()
                  if k.startswith("runs/") and k not in ("runs/class_index", "runs/seed")},
    )
    if shallow:
        train_data = [arrays[f"shallow/train/{c}"] for c in range(n_classes)]
        return ShallowModel(backbone=None, train_data=train_data, **fields).refit()
    variables.setdefault("batch_stats", {})  # empty collections are not stored as arrays
    return Model(
        backbone=backbone, model_axis_width=resolve_run_axis("auto", spec["family"], n_runs), **fields
    )


def _backbone(path: str, spec: dict[str, Any], net_shape: tuple[int, ...], encoder: Any, decoder: Any) -> Backbone:
    """The backbone the header describes (a custom one from the given modules)."""
    try:
        input_shape = tuple(int(s) for s in spec["input_shape"])
        if input_shape != tuple(net_shape):
            raise ModelFileError(path, f"backbone input_shape {input_shape} does not match sample_shape (network "
                                       f"shape {tuple(net_shape)})")
        if spec["family"] == "custom":
            if encoder is None:
                raise ValueError(f"{path!r} was trained with a custom encoder module; pass encoder= (and decoder=) to load()")
            return Backbone("custom", encoder, decoder, input_shape, int(spec["rep_dim"]))
        return make_backbone(spec["name"], input_shape, rep_dim=spec["rep_dim"], hidden=spec.get("hidden"),
                             output=spec["output"])
    except (KeyError, TypeError) as err:
        raise ModelFileError(path, f"backbone description {spec} cannot be read ({type(err).__name__}: {err})") from None
    except ValueError as err:
        if isinstance(err, ModelFileError) or "custom encoder" in str(err):
            raise
        raise ModelFileError(path, f"backbone description {spec} is invalid ({err})") from None
