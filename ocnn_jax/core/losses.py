"""Pure loss functions, the hypersphere centre rule and quantiles (docs/algorithms.md §1, §2, §3, §6).

Every function here is pure, jit/vmap friendly and free of Flax: it takes arrays and returns arrays.
Shapes use B for the minibatch, p for the representation size, n for the number of (valid) samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "per_sample_sse",
    "autoencoder_loss",
    "squared_distance",
    "one_class_loss",
    "soft_boundary_loss",
    "center_from_mean",
    "quantile_linear",
    "masked_quantile",
    "masked_mean",
    "rank_auroc",
    "OCNN_ACTIVATIONS",
    "ocnn_output",
    "ocnn_penalty",
    "ocnn_loss",
]

#: OC-NN hidden activations g: identity ("linear") and the logistic sigmoid (the paper's), and tanh,
#: the sigmoid moved through the origin (tanh(t) = 2·sigmoid(2t) − 1: bounded, g(0) = 0).
OCNN_ACTIVATIONS: tuple[str, ...] = ("linear", "sigmoid", "tanh")


def per_sample_sse(recon: jax.Array, target: jax.Array) -> jax.Array:
    """Sum of squared errors over every non-batch axis.

    Args:
      recon, target: (B, ...) arrays of the same shape.

    Returns:
      (B,) per-sample SSE ``Σ_pixels (target - recon)²``.
    """
    err = jnp.square(target - recon)
    return jnp.sum(err.reshape(err.shape[0], -1), axis=1)


def autoencoder_loss(recon: jax.Array, target: jax.Array) -> jax.Array:
    """AE/DCAE minibatch loss: per-sample SSE averaged over the batch (docs/algorithms.md §6).

    Not the per-pixel MSE, which would rescale the coupled weight decay by the input size.
    """
    return jnp.mean(per_sample_sse(recon, target))


def squared_distance(z: jax.Array, c: jax.Array) -> jax.Array:
    """d_i = ‖z_i − c‖² for z of shape (B, p) and centre c of shape (p,); returns (B,)."""
    return jnp.sum(jnp.square(z - jnp.expand_dims(c, 0)), axis=-1)


def one_class_loss(d: jax.Array) -> jax.Array:
    """One-class Deep SVDD minibatch loss ``mean_i d_i`` (weight decay is coupled into Adam)."""
    return jnp.mean(d)


def soft_boundary_loss(d: jax.Array, radius: ArrayLike, nu: ArrayLike) -> jax.Array:
    """Soft-boundary Deep SVDD minibatch loss ``sg(R)² + (1/ν)·mean_i relu(d_i − sg(R)²)``.

    Args:
      d: (B,) squared distances to the centre.
      radius: scalar R (a distance, not squared). It receives no gradient.
      nu: scalar ν in (0, 1].
    """
    r2 = jnp.square(jax.lax.stop_gradient(jnp.asarray(radius, d.dtype)))
    return r2 + jnp.mean(jax.nn.relu(d - r2)) / nu


def center_from_mean(mean_z: jax.Array, eps: ArrayLike = 0.1) -> jax.Array:
    """The ±ε rule of docs/algorithms.md §3 applied to the mean representation.

    Entries in (−ε, 0) become −ε, entries in (0, ε) become +ε, exact zeros and |c_j| ≥ ε stay.
    A c_j close to 0 would let the network reach it trivially with zero weights.
    """
    small_neg = (mean_z > -eps) & (mean_z < 0)
    small_pos = (mean_z < eps) & (mean_z > 0)
    c = jnp.where(small_neg, -eps, mean_z)
    return jnp.where(small_pos, eps, c)


def quantile_linear(x: jax.Array, q: ArrayLike) -> jax.Array:
    """τ-quantile with linear interpolation (NumPy's default), over the last axis of ``x``."""
    n = x.shape[-1]
    return masked_quantile(x, jnp.asarray(n, jnp.int32), q)


def masked_quantile(x: jax.Array, n_valid: ArrayLike, q: ArrayLike) -> jax.Array:
    """Linear-interpolation quantile of the first ``n_valid`` entries of ``x`` (last axis).

    Entries at positions ≥ n_valid are padding and are ignored (replaced by +inf before the sort,
    so they sort after every valid value). Matches ``np.quantile(x[..., :n_valid], q)``.

    Args:
      x: (..., n_max) values; only x[..., :n_valid] count.
      n_valid: integer scalar (may be traced), 1 ≤ n_valid ≤ n_max.
      q: quantile level in [0, 1] (may be traced).

    Returns:
      (...) the quantiles.
    """
    n_max = x.shape[-1]
    pos = jnp.arange(n_max)
    s = jnp.sort(jnp.where(pos < n_valid, x, jnp.inf), axis=-1)
    h = jnp.asarray(q, x.dtype) * (n_valid - 1).astype(x.dtype)
    k = jnp.clip(jnp.floor(h).astype(jnp.int32), 0, n_valid - 1)
    k1 = jnp.minimum(k + 1, n_valid - 1)
    lo = jnp.take_along_axis(s, jnp.broadcast_to(k, s.shape[:-1])[..., None], axis=-1)[..., 0]
    hi = jnp.take_along_axis(s, jnp.broadcast_to(k1, s.shape[:-1])[..., None], axis=-1)[..., 0]
    return lo + (h - k.astype(x.dtype)) * (hi - lo)


def masked_mean(x: jax.Array, n_valid: ArrayLike, axis: int = 0) -> jax.Array:
    """Mean over the first ``n_valid`` entries along ``axis`` (the rest is padding)."""
    x = jnp.moveaxis(x, axis, 0)
    mask = (jnp.arange(x.shape[0]) < n_valid).reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.sum(jnp.where(mask, x, 0), axis=0) / jnp.asarray(n_valid).astype(x.dtype)


def rank_auroc(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """AUROC by the Mann–Whitney rank statistic, average ranks for ties (in-graph monitoring).

    Args:
      scores: (n,) continuous scores, higher = more anomalous.
      labels: (n,) 1 for anomaly (positive), 0 for normal.

    Returns:
      scalar AUROC; equals ``sklearn.metrics.roc_auc_score(labels, scores)``.
    """
    scores = jnp.asarray(scores)
    labels = jnp.asarray(labels).astype(scores.dtype)
    n = scores.shape[0]
    order = jnp.argsort(scores)
    sorted_s = scores[order]
    # Average rank of each tie group: ranks are 1..n; a tie group spanning [first, last] gets their mean.
    first = jnp.searchsorted(sorted_s, sorted_s, side="left")
    last = jnp.searchsorted(sorted_s, sorted_s, side="right") - 1
    avg_rank_sorted = (first + last).astype(scores.dtype) / 2 + 1
    ranks = jnp.zeros(n, scores.dtype).at[order].set(avg_rank_sorted)
    n_pos = jnp.sum(labels)
    n_neg = n - n_pos
    u = jnp.sum(ranks * labels) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def ocnn_output(head: dict[str, jax.Array], z: jax.Array, g: str = "linear") -> jax.Array:
    """OC-NN decision output ``ŷ = ⟨w, g(V z)⟩`` (no biases; docs/algorithms.md §2).

    Args:
      head: {"V": (h, p), "w": (h,)}.
      z: (B, p) representations.
      g: "linear" (identity), "sigmoid" or "tanh".

    Returns:
      (B,) outputs ŷ.
    """
    hidden = z @ head["V"].T
    if g == "sigmoid":
        hidden = jax.nn.sigmoid(hidden)
    elif g == "tanh":
        hidden = jnp.tanh(hidden)
    elif g != "linear":
        raise ValueError(f"g must be one of {OCNN_ACTIVATIONS}, got {g!r}")
    return hidden @ head["w"]


def ocnn_penalty(head: dict[str, jax.Array]) -> jax.Array:
    """``½‖w‖² + ½‖V‖_F²``, computed from the traced head so that it has a gradient."""
    return 0.5 * (jnp.sum(jnp.square(head["w"])) + jnp.sum(jnp.square(head["V"])))


def ocnn_loss(head: dict[str, jax.Array], z: jax.Array, r: ArrayLike, nu: ArrayLike, g: str = "linear") -> jax.Array:
    """OC-NN minibatch loss ``½‖w‖² + ½‖V‖² + (1/ν)·mean_i relu(sg(r) − ŷ_i)``.

    The objective's −r term has no gradient with respect to (w, V) and is left out; r is held fixed
    (stop-gradient) within the step and updated to the ν-quantile of ŷ over the whole training set
    between epochs.

    Args:
      head: {"V": (h, p), "w": (h,)}.
      z: (B, p) representations of the minibatch.
      r: scalar bias r.
      nu: scalar ν ∈ (0, 1].
      g: "linear", "sigmoid" or "tanh".

    Returns:
      scalar loss.
    """
    y = ocnn_output(head, z, g)
    r = jax.lax.stop_gradient(jnp.asarray(r, y.dtype))
    return ocnn_penalty(head) + jnp.mean(jax.nn.relu(r - y)) / nu
