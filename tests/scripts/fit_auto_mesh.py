"""``fit``'s default mesh="auto" against one device: run with
XLA_FLAGS=--xla_force_host_platform_device_count=8 (tests/test_sharding.py does); prints JSON.

A digits Deep SVDD fit of 3 classes × 2 seeds (6 runs, padded to 8 over the 8 devices).
"""

import json

import jax
import numpy as np

import ocnn_jax
from ocnn_jax.datasets import load_digits

from ocnn_jax.frontend import _fit

meshes = []
_execute = _fit.execute


def recording_execute(*args, mesh=None, **kwargs):
    meshes.append(0 if mesh is None else mesh.size)
    return _execute(*args, mesh=mesh, **kwargs)


_fit.execute = recording_execute
ds = load_digits()
kw = dict(normal_classes=[0, 1, 2], seeds=2, epochs=3, pretrain_epochs=2, batch_size=32, pretrain_batch_size=32,
          lr=1e-3, pretrain_lr=1e-3, progress=False)
auto = ocnn_jax.fit(ds.x_train, ds.y_train, **kw)  # mesh="auto" is the default
one = ocnn_jax.fit(ds.x_train, ds.y_train, mesh=None, **kw)
s_auto, s_one = auto.score(ds.x_test), one.score(ds.x_test)
print(json.dumps({
    "devices": jax.device_count(),
    "n_runs": auto.n_runs,
    "mesh_sizes": meshes,
    "score_diff": float(np.max(np.abs(s_auto - s_one)) / np.max(np.abs(s_one))),
    "auroc_diff": float(np.max(np.abs(auto.evaluate_scores(s_auto, y=ds.y_test) - one.evaluate_scores(s_one, y=ds.y_test)))),
    "loss_diff": float(np.max(np.abs(auto.train_metrics["train/loss"] - one.train_metrics["train/loss"]))),
}))
