"""Layer 7, experiments on top of ``fit``: sweeps, the demo and method comparison, reports, figures
and the published reference tables."""
