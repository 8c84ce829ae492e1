"""What an autoencoder run sees and returns: input, reconstruction and RCAE's noise matrix N, per run.

RCAE's N-step is N = prox_{(λ/2)Ω}(X − AE_θ(X)) (``ocnn_jax.core.prox.rcae_noise``), and with the
paper's θ-input (``theta_input="x"``) it depends on θ alone. Training ends with an N-step after the
last θ-step, so N recomputed from the final autoencoder on the training rows *is* the N the run
ended with, and on any other samples (test images) it is the sparse part of their residual that the
run would assign them. That is why the model keeps only ‖N_i‖ per training row
(``variables["noise_norms"]``) and not the (n × input) matrix itself: ``reconstruction_parts``
recomputes N on demand. With ``theta_input="x_minus_n"`` (robust deep AE) N also depends on the
previous N, so it is not recomputable and the function refuses.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ..core.batching import run_map
from ..core.prox import rcae_noise
from ..methods.ae_training import apply_eval
from ..methods.rcae import reconstruction_autoencoder
from ._model import Model

__all__ = ["reconstruction_parts"]


def reconstruction_parts(model: Model, x: Any) -> dict[str, np.ndarray]:
    """Input, reconstruction and noise of every run of an RCAE or DCAE model on x.

    Args:
      model: a fitted ``Model`` of method "rcae" or "dcae".
      x: (n, *sample_shape) raw samples (the fitted preprocessing is applied). Memory: 3 · M · n
        samples' worth of float32, so pass the few samples you want to look at.

    Returns:
      {"input", "reconstruction", "noise"}: (n_runs, n, *network_shape) float32 arrays in the runs'
      preprocessed space (what each run's autoencoder sees); "noise" is RCAE's N (zeros for DCAE),
      with input − noise − reconstruction the residual the θ-step fits.
    """
    if model.method not in ("rcae", "dcae"):
        raise ValueError(f"reconstruction_parts needs an 'rcae' or 'dcae' model, got method {model.method!r}")
    if getattr(model.config, "theta_input", "x") != "x":
        raise ValueError("N is recomputable only with theta_input='x' (with 'x_minus_n' it depends on the previous N)")
    base = model._base_inputs(x)
    ae = reconstruction_autoencoder(model.backbone, model.config)
    rcae = model.method == "rcae"
    if rcae:
        lams = model.run_lams if model.run_lams is not None else np.full(model.n_runs, model.config.lams[0], np.float32)
    else:
        lams = np.full(model.n_runs, np.inf, np.float32)  # λ = ∞: N ≡ 0
    penalty = model.config.penalty if rcae else "l1"

    def one(mapped, xb):
        variables, shift, inv, lam = mapped
        xin = (xb - shift[None]) * inv[None]
        recon = apply_eval(ae, variables["params"], variables["batch_stats"], xin)
        return xin, recon, rcae_noise(xin - recon, lam, penalty)

    mapped_fn = run_map(one, model.model_axis_width, model.n_runs)
    fn = jax.jit(lambda v, cls, shift, inv, lam, xb: mapped_fn((v, shift[cls], inv[cls], lam), xb))
    variables = {k: model.variables[k] for k in ("params", "batch_stats")}
    xin, recon, noise = fn(variables, np.asarray(model.run_class_index, np.int32), model.preprocessing.shift,
                           model.preprocessing.inv_scale, np.asarray(lams, np.float32), base)
    return {"input": np.asarray(xin), "reconstruction": np.asarray(recon), "noise": np.asarray(noise)}
