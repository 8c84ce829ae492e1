"""Printed tables: at most 120 characters wide, AUPR beside AUROC, class labels without "0 (0)"; the
published references' settings."""

import dataclasses

from ocnn_jax import default_config
from ocnn_jax.core.config import with_overrides
from ocnn_jax.experiments import DICTIONARY_SETTINGS, PUBLISHED_SETTINGS, format_table, per_class_table, published_settings, reference_for
from ocnn_jax.experiments._report import class_label
from ocnn_jax.experiments._sweep import _csv


def test_wide_tables_are_split_into_blocks_that_fit():
    header = ["class"] + [f"a fairly long method name {i}" for i in range(9)]
    rows = [[c] + ["99.12 ± 0.34"] * 9 for c in range(10)] + [["mean"] + ["99.12"] * 9]
    table = format_table(header, rows)
    blocks = table.split("\n\n")
    assert len(blocks) > 1 and max(len(line) for line in table.splitlines()) <= 120
    # every block repeats the first column and every other column appears exactly once
    assert all(b.splitlines()[0].startswith("| class") for b in blocks)
    assert sum(b.splitlines()[0].count("a fairly long method name") for b in blocks) == 9
    assert all(len(b.splitlines()) == len(rows) + 2 for b in blocks)
    assert "\n\n" not in format_table(header, rows, max_width=None)
    assert "\n\n" not in format_table(["a", "b"], [[1, 2]])


def test_class_labels_and_aupr_columns():
    assert class_label(0, "0") == "0" and class_label(3, "cat") == "3 (cat)"
    per_class = [{"normal_class": 0, "class_name": "0", "mean": 0.9, "std": 0.01, "aupr_mean": 0.5, "aupr_std": 0.02},
                 {"normal_class": 1, "class_name": "1", "mean": 0.8, "std": 0.0, "aupr_mean": 0.4, "aupr_std": 0.0}]
    table = per_class_table(per_class, None)
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["class", "AUROC", "AUPR"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["0", "90.00 ± 1.00", "50.00 ± 2.00"]
    assert [c.strip() for c in lines[-1].strip("|").split("|")] == ["mean", "85.00", "45.00"]
    old = [{k: v for k, v in p.items() if not k.startswith("aupr")} for p in per_class]  # results before AUPR
    assert "AUPR" not in per_class_table(old, None)
    results = {"dataset": "d", "method": "m", "runs": [
        {"group": "default", "normal_class": 0, "class_name": "0", "seed": 0, "auroc": 0.9, "aupr": 0.5},
        {"group": "default", "normal_class": 1, "class_name": "1", "seed": 0, "auroc": 0.8}]}
    csv_lines = _csv(results).splitlines()
    # the last column is each run's final training objective (empty when the results do not hold it)
    assert csv_lines[0].endswith("auroc,aupr,objective") and csv_lines[1].endswith("0.900000,0.500000,")
    assert csv_lines[2].endswith("0.800000,,")


def test_published_settings_are_valid_overrides_of_referenced_methods():
    """Every entry names a method with a published table and applies to its defaults; MNIST Deep SVDD's
    (both objectives) keeps the AE at a constant LR and changes nothing else; callers get a copy."""
    for (dataset, method), overrides in [*PUBLISHED_SETTINGS.items(), *DICTIONARY_SETTINGS.items()]:
        assert reference_for(dataset, method) is not None
        with_overrides(default_config("mnist_lenet" if dataset == "mnist" else "cifar_lenet", method), **overrides)
    for method in ("deep_svdd", "soft_boundary"):  # the dictionary start adds one field to the published settings
        with_dict = with_overrides(default_config("mnist_lenet", method),
                                   **published_settings("mnist", method, dictionary=True))
        plain = with_overrides(default_config("mnist_lenet", method), **published_settings("mnist", method))
        assert with_dict.first_conv_init == "dictionary" and plain.first_conv_init == "default"
        assert dataclasses.replace(with_dict, first_conv_init="default") == plain
    assert published_settings("mnist", "dcae", dictionary=True) == {}
    for method in ("deep_svdd", "soft_boundary"):
        base = default_config("mnist_lenet", method)
        cfg = with_overrides(base, **published_settings("mnist", method))
        assert base.pretrain.lr_milestone == 50 and cfg.pretrain.lr_milestone is None
        assert cfg.pretrain.epochs == base.pretrain.epochs and cfg.train == base.train
    assert published_settings("cifar10", "deep_svdd") == {} and published_settings("mnist", "dcae") == {}
    published_settings("mnist", "deep_svdd")["pretrain_lr_milestone"] = 7
    assert PUBLISHED_SETTINGS[("mnist", "deep_svdd")] == {"pretrain_lr_milestone": None}
