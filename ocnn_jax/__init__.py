"""ocnn_jax: deep one-class anomaly detection as pure, compiled, vmapped JAX functions."""

__version__ = "0.1.0"
