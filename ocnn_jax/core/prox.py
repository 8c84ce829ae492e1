"""Proximal operators for RCAE's N-step (docs/algorithms.md §4), as pure jit/vmap-friendly functions.

For a penalty Ω and a step τ ≥ 0, ``prox_{τΩ}(B) = argmin_N ½‖N − B‖² + τ·Ω(N)``.

* ℓ1, Ω(N) = Σ |N_ij|: the elementwise soft-threshold ``sign(B)·max(|B| − τ, 0)``.
* ℓ2,1 over sample rows, Ω(N) = Σ_i ‖N_i‖₂: per-row shrinkage ``max(0, 1 − τ/‖B_i‖)·B_i``
  (0 when ‖B_i‖ = 0).

RCAE's N-step minimises ``‖Δ − N‖² + λ·Ω(N)`` (no ½ in front of the fit term), which is the prox above
with **τ = λ/2**: :func:`rcae_noise` applies that scaling. τ = ∞ (λ = ∞) gives N ≡ 0 exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["PENALTIES", "soft_threshold", "group_soft_threshold", "rcae_noise"]

#: Penalties of the RCAE noise term: elementwise ℓ1, or ℓ2,1 over sample rows.
PENALTIES: tuple[str, ...] = ("l1", "l21")


def soft_threshold(b: jax.Array, tau: ArrayLike) -> jax.Array:
    """Elementwise soft-threshold, the prox of τ‖·‖₁.

    Args:
      b: array of any shape.
      tau: scalar threshold τ ≥ 0 (may be traced; ``inf`` zeroes everything).

    Returns:
      ``sign(b)·max(|b| − τ, 0)``, same shape and dtype as ``b``: the unique minimiser of
      ``½‖N − b‖² + τ·Σ|N_ij|``.
    """
    tau = jnp.asarray(tau, b.dtype)
    return jnp.sign(b) * jnp.maximum(jnp.abs(b) - tau, 0)


def group_soft_threshold(b: jax.Array, tau: ArrayLike) -> jax.Array:
    """Row-wise (group) soft-threshold, the prox of τ·Σ_i ‖N_i‖₂ with one group per leading index.

    Args:
      b: (n, ...) array; each b[i] (all trailing axes together) is one group.
      tau: scalar τ ≥ 0 (may be traced; ``inf`` zeroes everything).

    Returns:
      (n, ...) array with rows ``max(0, 1 − τ/‖b_i‖₂)·b_i``, and 0 for rows with ‖b_i‖₂ = 0: the
      unique minimiser of ``½‖N − b‖² + τ·Σ_i ‖N_i‖₂``.
    """
    tau = jnp.asarray(tau, b.dtype)
    norms = jnp.sqrt(jnp.sum(jnp.square(b).reshape(b.shape[0], -1), axis=1))
    safe = jnp.where(norms > 0, norms, 1)
    scale = jnp.where(norms > 0, jnp.maximum(1 - tau / safe, 0), 0)
    return b * scale.reshape((-1,) + (1,) * (b.ndim - 1))


def rcae_noise(residual: jax.Array, lam: ArrayLike, penalty: str = "l1") -> jax.Array:
    """RCAE N-step: ``argmin_N ‖Δ − N‖² + λ·Ω(N)``, i.e. the prox of Ω at τ = λ/2.

    Args:
      residual: Δ = X − AE(X), (n, ...) with one training sample per leading index.
      lam: scalar λ ≥ 0; λ = ∞ gives N ≡ 0 (DCAE).
      penalty: "l1" (elementwise) or "l21" (per-sample rows).

    Returns:
      N, same shape as ``residual``.
    """
    tau = jnp.asarray(lam, residual.dtype) / 2
    if penalty == "l1":
        return soft_threshold(residual, tau)
    if penalty == "l21":
        return group_soft_threshold(residual, tau)
    raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
