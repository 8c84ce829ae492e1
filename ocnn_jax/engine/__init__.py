"""Layer 5, running programs on devices: CPU devices, the run axis and mesh, the chunked driver
(progress, NaN checks) and checkpoints."""
