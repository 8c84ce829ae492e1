"""Layer 7, experiments on top of ``fit``: sweeps, the demo and method comparison, reports, figures
and the published reference tables."""

from ._demo import ALL_METHODS, SIGN_AUROC_LABEL, VARIANTS, method_settings, run_comparison, run_demo
from ._noise_figure import noise_figure
from ._reference import DICTIONARY_SETTINGS, PUBLISHED_SETTINGS, REFERENCE_SOURCE, published_settings, reference_for
from ._report import format_table, per_class_summary
from ._sweep import estimate_run_bytes, per_class_table, plan_chunks, sweep, within_reference, write_report

__all__ = [
    "sweep",
    "write_report",
    "plan_chunks",
    "estimate_run_bytes",
    "per_class_table",
    "within_reference",
    "run_demo",
    "run_comparison",
    "method_settings",
    "ALL_METHODS",
    "VARIANTS",
    "SIGN_AUROC_LABEL",
    "format_table",
    "per_class_summary",
    "reference_for",
    "noise_figure",
    "REFERENCE_SOURCE",
    "PUBLISHED_SETTINGS",
    "DICTIONARY_SETTINGS",
    "published_settings",
]
