"""OC-NN's kernel-style feature layer: RBF units on landmarks drawn from the normal training data
(docs/algorithms.md §2).

φ_k(z) = exp(−γ‖s ⊙ (z − l_k)‖²) / m,  k = 1 … K   (computed on s ⊙ (z − μ), μ the training mean)

* l_k: K rows of the run's own normal training representations, drawn without replacement.
* s: 1 / per-feature std of those representations (features with no spread keep scale 1), so the
  kernel does not depend on the units of the features (raw or standardised tabular data give the same
  layer).
* γ: 1 / (w² · median of the squared scaled distances between distinct landmarks), w the kernel
  width relative to the median heuristic (w = 1: the heuristic itself), or a given number.
* m: the mean of the unnormalised φ over the normal training data, so the features have mean 1 whatever
  the kernel width. OC-NN's penalty ½‖w‖² + ½‖V‖² is not scale-invariant: features that are too small
  leave w = 0 as the optimum.
* With ν given (OC-NN) and γ from the median heuristic, each run widens its kernel where needed, by
  factors of ``WIDEN`` = 2^(1/4) (at most ``MAX_WIDEN_STEPS`` times, i.e. up to 8×), until T, the
  features' ν-tail value along their mean direction u = mean φ / ‖mean φ‖, reaches τ = ``TAIL_FLOOR``:
  T = q − (1/ν)·mean relu(q − ⟨u, φ⟩) with q = q_ν(⟨u, φ⟩), the lower-ν-tail mean that OC-NN's
  objective rewards. Near w = 0 the head is linear (tanh(0) = 0, tanh'(0) = 1) and
  ½‖w‖² + ½‖V‖² ≥ ‖Vᵀw‖, so along u the objective of a head of size t is about t·(1 − T): with T ≤ 1
  the trivial head w = 0 can be a minimum (no separation from the origin). A narrow kernel leaves the
  least covered ν of the training rows with features near 0, i.e. a small T; widening raises T
  (towards √K as γ → 0). Layers already at T ≥ τ keep their width.

Why: ŷ = ⟨w, g(V φ)⟩ has no bias, so OC-NN separates the normal data from the origin. Every φ_k
tends to 0 away from the landmarks, so "far from the normal data" is the origin of the head's input
(as for the ν-OC-SVM's RBF feature map). Pure JAX, jit/vmap friendly; padding rows are masked.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .losses import masked_mean, masked_quantile

__all__ = ["RBFLayer", "pairwise_sq_dist", "rbf_features", "fit_rbf_layer", "tail_value", "STD_EPS",
           "MEDIAN_LANDMARKS", "TAIL_FLOOR", "WIDEN", "MAX_WIDEN_STEPS"]

#: Features whose std over the normal training data is at most this keep scale 1.
STD_EPS = 1e-6
#: τ: the least ν-tail value T of the features along their mean direction (module docstring): above 1
#: the trivial OC-NN head w = 0 is not a minimum of the linearised objective. No margin above 1: every
#: widening step costs some ranking (benchmarks/results/issue13_ocnn_flat_findings.md).
TAIL_FLOOR = 1.0
#: The width factor of one widening step (γ / √2): fine steps, so a run is widened no more than needed.
WIDEN = 2.0 ** 0.25
#: Widening steps tried when T < τ (up to WIDEN^12 = 8× the width); the widest is kept if none reaches τ.
MAX_WIDEN_STEPS = 12


class RBFLayer(NamedTuple):
    """A fitted RBF layer.

    Attributes:
      landmarks: (K, p) landmark representations, already centred and scaled: s ⊙ (l_k − μ).
      shift: (p,) μ, the mean of the normal training representations (centring only helps float32
        accuracy of the distances; it does not change them).
      inv_scale: (p,) per-feature scale s.
      gamma: scalar γ (on the scaled representations).
      norm: scalar m, the mean unnormalised feature over the normal training data.
    """

    landmarks: jax.Array
    shift: jax.Array
    inv_scale: jax.Array
    gamma: jax.Array
    norm: jax.Array


def pairwise_sq_dist(a: jax.Array, b: jax.Array) -> jax.Array:
    """‖a_i − b_j‖² for a (B, p), b (K, p) → (B, K), clipped at 0 (float rounding)."""
    d = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    return jnp.maximum(d, 0.0)


def rbf_features(layer: RBFLayer, z: jax.Array) -> jax.Array:
    """φ(z) for representations z (B, p) → (B, K), in (0, 1/m]."""
    d = pairwise_sq_dist((z - layer.shift[None, :]) * layer.inv_scale[None, :], layer.landmarks)
    return jnp.exp(-layer.gamma * d) / layer.norm


#: Landmarks whose pairwise distances give the median heuristic (the first ones drawn): the median of
#: a 256 x 256 sample is as good as that of all K x K pairs and costs O(1) in K.
MEDIAN_LANDMARKS = 256


def tail_value(phi: jax.Array, n_valid: ArrayLike, nu: ArrayLike) -> jax.Array:
    """T = q − (1/ν)·mean relu(q − p), p = ⟨u, φ_i⟩ with u = mean φ / ‖mean φ‖ and q = q_ν(p), over the
    first ``n_valid`` rows of phi (n_max, K): the lower-ν-tail mean of the features along their mean
    direction (the quantity OC-NN's −r + (1/ν)·mean relu(r − ŷ) rewards). Scalar."""
    n_valid = jnp.asarray(n_valid)
    mu = masked_mean(phi, n_valid)
    u = mu / jnp.maximum(jnp.linalg.norm(mu), jnp.finfo(phi.dtype).tiny)
    p = phi @ u
    q = masked_quantile(p, n_valid, nu)
    return q - masked_mean(jax.nn.relu(q - p), n_valid) / jnp.asarray(nu, phi.dtype)


def fit_rbf_layer(key: jax.Array, z: jax.Array, n_valid: ArrayLike, n_landmarks: int,
                  gamma: float | None = None, width: float = 1.0, scale: bool = True,
                  nu: ArrayLike | None = None, tail_floor: float = TAIL_FLOOR) -> RBFLayer:
    """Fit the layer on the first ``n_valid`` rows of z (n_max, p); the rest is padding.

    Args:
      key: PRNG key of the landmark draw.
      z: (n_max, p) representations of the run's normal training data (padded).
      n_valid: number of valid rows (may be traced); must be ≥ ``n_landmarks``.
      n_landmarks: K (static).
      gamma: None for the median heuristic, else γ on the std-scaled representations.
      scale: True: s = 1 / per-feature std (features in different units); False: s = 1 (isotropic,
        for features in one unit such as pixels).
      width: w, the kernel width relative to the median heuristic (used when ``gamma`` is None):
        γ = 1 / (w² · median); w < 1 narrows the kernel towards the nearest landmark.
      nu: OC-NN's ν (may be traced): with the median heuristic, widen the kernel where needed until
        the features' ν-tail value along their mean direction is at least ``tail_floor`` (module
        docstring); None (or a fixed ``gamma``): the width as given.
      tail_floor: τ.
    """
    n_max = z.shape[0]
    valid = jnp.arange(n_max) < n_valid
    mean = masked_mean(z, n_valid)
    std = jnp.sqrt(masked_mean(jnp.square(z - mean[None, :]), n_valid))
    inv_scale = jnp.where(std > STD_EPS, 1.0 / jnp.maximum(std, STD_EPS), 1.0) if scale else jnp.ones_like(std)
    # K distinct valid rows: random keys for the valid rows, +2 (after every valid one) for padding.
    order = jnp.argsort(jnp.where(valid, jax.random.uniform(key, (n_max,)), 2.0))
    zs = (z - mean[None, :]) * inv_scale[None, :]
    landmarks = zs[order[:n_landmarks]]
    if gamma is None:
        k = min(n_landmarks, MEDIAN_LANDMARKS)
        d = pairwise_sq_dist(landmarks[:k], landmarks[:k])
        off = jnp.where(jnp.eye(k, dtype=bool), jnp.inf, d).reshape(-1)
        n_pairs = k * (k - 1)
        med = masked_quantile(jnp.sort(off), jnp.asarray(max(n_pairs, 1), jnp.int32), 0.5)
        g = 1.0 / jnp.maximum(width * width * med, jnp.finfo(z.dtype).tiny)
    else:
        g = jnp.asarray(gamma, z.dtype)
    d = pairwise_sq_dist(zs, landmarks)

    def features(gg: jax.Array) -> tuple[jax.Array, jax.Array]:
        raw = jnp.exp(-gg * d)
        return raw, jnp.maximum(masked_mean(jnp.mean(raw, axis=1), n_valid), jnp.finfo(z.dtype).tiny)

    if gamma is None and nu is not None:
        ladder = g / WIDEN ** (2.0 * jnp.arange(MAX_WIDEN_STEPS + 1, dtype=z.dtype))  # widths w · WIDEN^k

        def tail_at(gg: jax.Array) -> jax.Array:
            raw, norm = features(gg)
            return tail_value(raw / norm, n_valid, nu)

        ok = jax.lax.map(tail_at, ladder) >= tail_floor  # sequential: one (n_max, K) matrix at a time
        g = ladder[jnp.where(jnp.any(ok), jnp.argmax(ok), MAX_WIDEN_STEPS)]
    _, norm = features(g)
    return RBFLayer(landmarks, mean, inv_scale, g, norm)
