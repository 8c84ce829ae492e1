"""Layer 1, pure JAX/NumPy building blocks: losses, prox operators, the optimiser, batching, the
``Program`` of a run, configs and input validation. Imports nothing else from ocnn_jax."""
