"""Run the same small Deep SVDD sweep with and without an 8-device 'models' mesh; print max |diff|.

Run with XLA_FLAGS=--xla_force_host_platform_device_count=8 (tests/test_sharding.py does).
"""

import json

import jax
import jax.numpy as jnp
import numpy as np

from ocnn_jax.core.batching import eval_chunking, stack_classes
from ocnn_jax.core.config import OptimConfig
from ocnn_jax.methods import DeepSVDDConfig
from ocnn_jax.methods.deep_svdd import make_deep_svdd
from ocnn_jax.engine import execute
from ocnn_jax.nn import make_backbone
from ocnn_jax.core.program import RunSpec
from ocnn_jax.engine import make_run_mesh

r = np.random.default_rng(0)
data = stack_classes([r.random((30, 6)).astype(np.float32), r.random((22, 6)).astype(np.float32)], 16)
cfg = DeepSVDDConfig(objective="soft-boundary", train=OptimConfig(1e-3, 3, 1e-4, 8, 4),
                     pretrain=OptimConfig(1e-3, 2, 1e-4, 8, 2), warmup_epochs=1, score_batch_size=16)
n_chunks, _ = eval_chunking(data.n_max, 16)
prog = make_deep_svdd(make_backbone("mlp", (6,), rep_dim=3, hidden=(8,)), cfg, data.n_max, n_chunks)
M = 16
cls = np.arange(M) % 2
keys = jax.vmap(jax.random.key)(jnp.arange(M))
runs = RunSpec(jnp.asarray(cls, jnp.int32), jnp.full((M,), 0.1, jnp.float32))
info = [{"normal_class": int(c), "seed": i} for i, c in enumerate(cls)]
kw = dict(run_info=info, images_per_epoch=[1, 1], progress=False, target_chunks=2)
mesh = make_run_mesh()
out = {"devices": jax.device_count()}
ref, ref_m, _ = execute(prog, keys, runs, data, width=None, **kw)
for name, width in (("vmap", None), ("map", 1)):
    st, m, _ = execute(prog, keys, runs, data, width=width, mesh=mesh, **kw)
    diffs = jax.tree.map(lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))),
                         (st.params, st.center, st.radius), (ref.params, ref.center, ref.radius))
    out[name] = max(jax.tree.leaves(diffs))
    out[name + "_loss"] = float(np.max(np.abs(m["train/loss"] - ref_m["train/loss"])))
    out[name + "_sharding"] = str(jax.tree.leaves(st.params)[0].sharding)
print(json.dumps(out))
