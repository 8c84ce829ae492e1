"""``load``: a ``Model`` (or ``ShallowModel``) from a model file written by ``Model.save``."""

from __future__ import annotations

import os

import flax.linen as nn

from ..engine._runs import resolve_run_axis
from ..methods.registry import get_method
from ..nn import Backbone, make_backbone
from ._files import config_from_dict, read_model_file, variables_from_arrays
from ._model import Model, Preprocessing, ShallowModel

__all__ = ["load"]


def load(path: str, *, encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> Model:
    """Load a model written by ``Model.save``.

    Args:
      path: the ``.npz`` file.
      encoder, decoder: required only for models trained with a custom encoder module (modules are
        code, not data, so they are not stored).
    """
    path = os.fspath(path)
    meta, arrays = read_model_file(path)
    spec = meta["backbone"]
    variables = variables_from_arrays(arrays)
    n_runs = int(arrays["runs/seed"].shape[0])
    fields = dict(
        method=meta["method"],
        config=config_from_dict(meta["config"]),
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
    if get_method(meta["method"]).kind == "shallow":
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
        backbone=backbone, model_axis_width=resolve_run_axis("auto", spec["family"], n_runs), **fields
    )
