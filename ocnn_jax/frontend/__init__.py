"""Layer 6, the user-facing front end: ``fit``, the fitted ``Model``, model files, estimators."""
