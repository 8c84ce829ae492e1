"""Test-wide JAX settings (kept out of library code).

Rank promotion raises, so silent broadcasting bugs fail loudly. Strict *dtype* promotion is not
enabled: optax's Adam bias correction mixes Python floats with its int32 step count, which strict
mode rejects, so the whole optimiser would fail under it.
"""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
