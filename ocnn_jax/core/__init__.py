"""Layer 1, pure JAX/NumPy building blocks: losses, prox operators, the optimiser, batching, the
``Program`` of a run, the shared config machinery, input validation and named errors. Imports
nothing else from ocnn_jax.

Reading order: ``program`` (a run as data), ``batching`` (padded per-class data, minibatch epochs,
the run axis map), ``losses`` and ``prox`` (the objectives), ``optim``, ``config``.
"""
