"""Layer 4, the methods: one module per method (config, state, program, scorer, threshold, defaults)
and ``registry``, the one table where a method name is looked up."""
