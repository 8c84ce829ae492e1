"""A small digits sweep for the sweep tests: python sweep_digits.py OUT_DIR [--resume] [--max-models K].

Prints the overall mean and the device count as JSON on the last line.
"""

import argparse
import json

import jax

from ocnn_jax.experiments import sweep

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--resume", action="store_true")
p.add_argument("--max-models", type=int, default=None)
p.add_argument("--classes", default="0,1,2,3")
a = p.parse_args()
r = sweep("digits", "deep_svdd", normal_classes=[int(c) for c in a.classes.split(",")], seeds=2, out_dir=a.out,
          resume=a.resume, max_runs_per_chunk=a.max_models, progress=False, figures=False,
          checkpoint_every_s=0.0, epochs=6, pretrain_epochs=4, batch_size=32, pretrain_batch_size=32, lr=1e-3,
          pretrain_lr=1e-3)
print(json.dumps({"mean": r["overall_mean"], "devices": jax.device_count(),
                  "aurocs": [x["auroc"] for x in r["runs"]]}))
