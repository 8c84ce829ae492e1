"""Sweeps: every (normal class, seed, grid point) of a dataset, trained as few compiled programs as
possible, sharded over devices, checkpointed, resumable, with tables and figures.

Layout of an output directory:

    results.json / results.csv / results.md   the tables (rebuilt by ``ocnn-jax report DIR``)
    figures/auroc_<method>.png                  per-class AUROC bar chart (reference marked)
    figures/extremes_<method>.png               most normal / most anomalous test images per class
    figures/noise_rcae_class<c>.png             RCAE: input / reconstruction / N of the most anomalous
                                                test images (first seed's run; written by the sweep)
    chunks/<group>_<i>.json                     finished chunks (a resumed sweep skips them)
    chunks/<group>_<i>.npz                      per-run test scores of the chunk (for the figures)
    checkpoints/<group>_<i>.npz                 training state of the chunk in progress
    fingerprint.json                            what this sweep is (``_fingerprint``) and its chunking
    .lock                                       held by the process writing the directory

A directory only ever holds one sweep: ``resume`` continues it only when the fingerprint matches,
finished chunks and checkpoints are used only when they carry its digest and the planned runs, and
one process at a time writes it (``_outdir.SweepDirectory``).

Chunks: the runs of one grid group are tiled into (class subset × seed subset) blocks that fit the
device memory (``plan_chunks``; ``max_runs_per_chunk`` overrides the estimate). A group's data is
preprocessed once (``ocnn_jax.frontend.prepare``) and every chunk trains through it: the chunks are
padded to one length (repeats of a run, dropped from the results), so the group compiles ONE program
and every chunk reuses its executable (JAX's persistent compilation cache keeps it across processes,
``ocnn_jax.engine.ensure_compilation_cache``). Grid keys ``nu``, ``lr``, ``weight_decay`` and ``lam``
(``ocnn_jax.core.program.TRACED_KEYS``) are traced per run, so such a grid trains inside that one
program; every other grid key (``epochs``, ``batch_size``, ``contamination``, …) changes the program
or the data and makes a group of its own. Shallow baselines treat every grid key as a group.

Reports give a per-class table for every grid point and name the best point by a label-free
criterion, the final training objective (``SELECTION_CRITERION``), never by test AUROC.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import itertools
import json
import os
import platform
import textwrap
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from ..core.config import with_overrides
from ..core.errors import Interrupted
from ..core.progress import progress as progress_display
from ..core.inputs import network_shape, resolve_seeds
from ..datasets import Dataset, load
from ..datasets.preprocess import resolve_preprocessing
from ..engine._checkpoint import Checkpointer, atomic_savez, atomic_write_bytes
from ..core.program import TRACED_KEYS
from ..engine._compile_cache import ensure_compilation_cache
from ..engine._distributed import barrier
from ..engine._interrupt import deferred_sigint, interrupt_requested
from ..engine._runs import make_run_mesh
from ..frontend._files import _library_version
from ..frontend._fit import fit, grid_points, prepare, run_table
from ..methods.defaults import dataset_defaults
from ..methods.registry import default_config, get_method
from ..nn import auto_family, make_backbone
from ._fingerprint import compatibility_version, dataset_digest, make_fingerprint
from ._outdir import SweepDirectory, check_creatable_dir
from ._paper_selection import SELECTIONS, paper_config, paper_selection_runs
from ._reference import REFERENCE_SOURCE, reference_for
from ._report import TABLE_WIDTH, class_label, format_table

__all__ = ["sweep", "plan_chunks", "per_class_table", "within_reference", "estimate_run_bytes", "write_report", "RESULTS_SCHEMA_VERSION"]

RESULTS_SCHEMA_VERSION = 1
#: Grid keys trained as per-run values inside one program (deep methods).
TRACED_GRID_KEYS = TRACED_KEYS
#: How the best grid point is named without test labels.
SELECTION_CRITERION = ("lowest final training objective (the last epoch's 'train/objective' where the method "
                       "reports one, else its mean training loss), mean over classes and seeds; test labels are "
                       "not used")

def estimate_run_bytes(n_params: int, batch_size: int, activation_floats: int, n_max: int, sample_size: int,
                       stores_noise: bool) -> int:
    """Documented device-memory estimate of one run, in bytes (float32).

    params + gradient + two Adam moments (4·P) + the activations kept for the backward pass of one
    minibatch (≈ 3·b·A: forward values, their gradients and BN temporaries) + RCAE's noise matrix N
    (n_max·D) when the method stores one. The shared training data is counted once per device, not
    per run, by ``plan_chunks``.
    """
    return 4 * (4 * n_params + 3 * batch_size * activation_floats + (n_max * sample_size if stores_noise else 0))


def plan_chunks(classes: Sequence[Any], seeds: Sequence[int], runs_per_pair: int, max_runs: int,
                n_devices: int) -> list[tuple[list[Any], list[int]]]:
    """Tile (classes × seeds) into blocks of at most ``max_runs`` runs (``runs_per_pair`` runs per
    (class, seed), e.g. the λ grid), rounded to whole device multiples where possible.

    Prefers whole classes (all their seeds), then splits seeds.
    """
    max_runs = max(int(max_runs), n_devices, runs_per_pair)
    per_class = len(seeds) * runs_per_pair
    if per_class <= max_runs:
        k = max(1, max_runs // per_class)
        return [(list(classes[i : i + k]), list(seeds)) for i in range(0, len(classes), k)]
    s = max(1, max_runs // runs_per_pair)
    return [([c], list(seeds[j : j + s])) for c in classes for j in range(0, len(seeds), s)]


def _memory_budget() -> int:
    """Bytes available for runs on one device: 60 % of its reported limit (GPU/TPU) or of the
    host's physical memory (CPU)."""
    stats = None
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # CPU backends may not report
        stats = None
    if stats and stats.get("bytes_limit"):
        return int(0.6 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    try:
        return int(0.6 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _auto_max_runs(ds: Dataset, method: str, cfg_overrides: dict[str, Any], n_devices: int) -> int:
    """Largest number of runs per chunk that the memory estimate allows (at least one per device)."""
    shape = network_shape(tuple(ds.x_train.shape[1:]))
    bb = make_backbone("auto", shape)
    if get_method(method).kind == "shallow":
        return 1 << 30
    cfg = with_overrides(default_config(bb.name, method), **cfg_overrides)
    ae = bb.autoencoder()
    x0 = jax.numpy.zeros((2,) + shape)
    variables = jax.eval_shape(lambda: ae.init(jax.random.key(0), x0, train=False))
    n_params = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(variables.get("params", {})))
    _, inter = jax.eval_shape(
        lambda v: ae.apply(v, x0, train=False, capture_intermediates=True, mutable=["intermediates"]), variables
    )
    acts = sum(int(np.prod(v.shape[1:])) for v in jax.tree.leaves(inter) if len(v.shape) >= 1)
    n_max = int(np.bincount(np.asarray(ds.y_train)).max())
    batch = max(cfg.train.batch_size if hasattr(cfg, "train") else 200, 1)
    per_run = estimate_run_bytes(n_params, batch, acts, n_max, int(np.prod(shape)), get_method(method).stores_noise)
    data_bytes = 4 * int(np.prod(ds.x_train.shape))
    budget = max(_memory_budget() - data_bytes, per_run)
    return max(n_devices, (budget // per_run) * n_devices)


def _grid_groups(grid: dict[str, Sequence[Any]] | None,
                 traced_keys: Sequence[str] = TRACED_GRID_KEYS) -> list[tuple[dict[str, Any], dict[str, list[Any]]]]:
    """Split a grid into (static overrides, traced values) groups: one group per combination of the
    static keys; traced keys stay lists inside each group."""
    grid = dict(grid or {})
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
    traced = {k: list(v) for k, v in grid.items() if k in traced_keys}
    static_keys = [k for k in grid if k not in traced_keys]
    groups = []
    for combo in itertools.product(*(grid[k] for k in static_keys)):
        groups.append((dict(zip(static_keys, combo)), traced))
    return groups


def _group_name(static: dict[str, Any]) -> str:
    if not static:
        return "default"
    return "_".join(f"{k}-{v}" for k, v in sorted(static.items())).replace("/", "-")


def sweep(
    dataset: str | Dataset,
    method: str = "deep_svdd",
    normal_classes: Sequence[Any] | str = "all",
    seeds: int | Sequence[int] = 3,
    grid: dict[str, Sequence[Any]] | None = None,
    *,
    data_dir: str | None = None,
    verify: bool = True,
    download: bool = False,
    out_dir: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    quick: bool = False,
    max_runs_per_chunk: int | None = None,
    devices: Sequence[Any] | None = None,
    progress: bool = True,
    figures: bool = True,
    checkpoint_every_s: float = 60.0,
    preprocessing: str = "auto",
    contamination: float = 0.0,
    callbacks: Sequence[Any] = (),
    selection: str = "default",
    check_collapse: bool = True,
    **config: Any,
) -> dict[str, Any]:
    """Train and evaluate every (normal class, seed, grid point) under the inductive protocol.

    Args:
      dataset: a registry name for ``ocnn_jax.datasets.load`` ("mnist", "cifar10", "digits", …) or a
        loaded ``Dataset``.
      method: any ``ocnn_jax.fit`` method.
      normal_classes: "all" or a list of class indices/names.
      seeds: number of seeds (0 … k−1) or a list.
      grid: hyperparameter lists. ``nu``, ``lr``, ``weight_decay`` and ``lam`` are traced per run:
        ``{"nu": [0.01, 0.1], "lr": [1e-4, 1e-3]}`` trains as one program per chunk shape; any other
        key (``{"epochs": [...]}``, ``{"contamination": [...]}``, …) makes one group (program) per value.
      data_dir: where the dataset files are (see ``ocnn_jax.datasets.load``).
      verify, download: as in ``ocnn_jax.datasets.load`` (checksum checks; fetch missing official files).
      out_dir: output directory (tables, figures, checkpoints); None keeps results in memory only.
      resume: continue the sweep in ``out_dir``: finished chunks are skipped, the chunk in progress
        restarts from its last checkpoint. Only the same sweep is continued: its fingerprint (data
        set and its digest, method, full config, classes, seeds, grid, library version; not
        ``check_collapse``) must match,
        else ``SweepDirectoryError`` lists what differs and nothing in ``out_dir`` is changed.
        Without ``resume`` (or ``overwrite``) an ``out_dir`` holding a sweep is an error.
      overwrite: delete the sweep in ``out_dir`` (results, chunks, checkpoints, figures) and start
        fresh; other files there are kept.
      quick: a short configuration for CPUs (the method table's ``quick`` settings, e.g. 5 + 5 epochs with the milestone at
        4 for Deep SVDD); explicit config overrides win.
      max_runs_per_chunk: runs per compiled program (an int >= 1); default from ``estimate_run_bytes``,
        or, when resuming, the chunking of the first call.
      devices: devices for the run-axis mesh (default: all; several → ``shard_map``).
      progress: show progress bars (per chunk and epoch, with images·runs/s).
      figures: write the PNG figures.
      checkpoint_every_s: seconds between checkpoints inside a chunk.
      preprocessing, contamination: as in ``ocnn_jax.fit`` (one seeded contamination draw per class).
      callbacks: training callbacks for every chunk's ``fit`` (``ocnn_jax.engine.CSVLogger`` ...; deep
        methods only).
      selection: "default" (label-free hyperparameter rules), or "paper" for the shallow baselines:
        selected as Ruff et al. (2018) describe, the OC-SVM's γ on a labelled 10 % hold-out of the test
        set, every run evaluated on the other 90 % (``ocnn_jax.experiments._paper_selection``).
      check_collapse: as in ``ocnn_jax.fit``: a degenerate OC-NN head or a collapsed hypersphere
        stops the sweep with the named error (its finished chunks and checkpoints stay); False
        reports such runs instead. It decides only whether a finished run raises, never what is
        trained, so it is not part of the fingerprint: a stopped sweep resumes with False.
      **config: overrides for every run (as in ``ocnn_jax.fit``).

    Returns:
      The results dictionary also written to ``results.json``.

    Raises:
      SweepDirectoryError: ``out_dir`` holds another sweep, or a sweep without resume/overwrite.
      DirectoryLockedError: another process writes to ``out_dir``.
      Interrupted: SIGINT (Ctrl-C) stopped the sweep between two compiled calls; the checkpoint of the
        chunk in progress is written, and ``resume=True`` continues bit for bit.

    Every argument is checked before anything is trained or created on disk; ``out_dir`` is locked
    (``.lock``) while the sweep runs.
    """
    t0 = time.perf_counter()
    if max_runs_per_chunk is not None and (
        isinstance(max_runs_per_chunk, bool) or not isinstance(max_runs_per_chunk, (int, np.integer)) or max_runs_per_chunk < 1
    ):
        raise ValueError(f"max_runs_per_chunk must be None or an int >= 1, got {max_runs_per_chunk!r}")
    spec = get_method(method)
    if out_dir is not None:
        check_creatable_dir(out_dir, "out_dir")  # before loading (or downloading) the data
    ensure_compilation_cache()
    ds = load(dataset, data_dir=data_dir, verify=verify, download=download) if isinstance(dataset, str) else dataset
    if not isinstance(ds, Dataset):
        raise TypeError(f"dataset must be a registry name or an ocnn_jax.datasets.Dataset, got {type(dataset).__name__}")
    if len(ds.x_test) == 0:
        raise ValueError(f"dataset {ds.name!r} has no test split; a sweep evaluates on the test set")
    classes = list(range(len(ds.classes))) if normal_classes == "all" else [ds.class_index(c) for c in normal_classes]
    if len(set(classes)) != len(classes):
        raise ValueError(f"normal_classes contains duplicates: {normal_classes!r}")
    seed_list = resolve_seeds(seeds)
    if isinstance(contamination, bool) or not isinstance(contamination, (int, float)) or not 0 <= contamination < 1:
        raise ValueError(f"contamination must be a fraction in [0, 1), got {contamination!r}")
    resolve_preprocessing(preprocessing, image=ds.x_train.ndim > 2)  # checks the name before training
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    fit_options = {"preprocessing": preprocessing, "contamination": contamination}
    overrides = {**dataset_defaults(ds.name, method), **(spec.quick if quick else {}), **config}
    if selection == "paper":
        overrides = {**paper_config(method), **overrides}  # raises for a deep method
        if preprocessing == "auto" and ds.x_train.ndim > 2:  # the paper's images: GCN (l1) + min-max for all methods
            preprocessing = fit_options["preprocessing"] = "gcn_minmax"
    shallow = spec.kind == "shallow"  # host scikit-learn fits: no mesh, no training checkpoints
    groups = _grid_groups(grid, () if shallow else TRACED_GRID_KEYS)
    # Resolves every config too: an unknown or invalid override fails here, before anything is created.
    fingerprint = _fingerprint(ds, method, classes, seed_list, grid, {**overrides, **fit_options}, groups)
    if selection == "paper":
        fingerprint["selection"] = selection
    writer = out_dir is not None and jax.process_index() == 0  # one process writes on a shared filesystem
    directory = None
    if out_dir is not None:
        directory = SweepDirectory(out_dir, fingerprint, resume=resume, overwrite=overwrite, writer=writer)
        directory.check()  # read-only: nothing is created for a call that fails here
    elif resume or overwrite:
        raise ValueError("resume and overwrite need an out_dir")
    mesh = make_run_mesh(devices) if (devices is not None and len(devices) > 1) or (devices is None and jax.device_count() > 1) else None
    n_dev = 1 if mesh is None else mesh.size

    stored_limits = directory.stored_chunking.get("limits", {}) if directory is not None else {}
    plan, limits = [], {}  # plan: (tag, group name, static, group config, contamination, traced, chunk, pad_to)
    for static, traced in groups:
        static_cfg = dict(static)
        rho = static_cfg.pop("contamination", contamination)
        group_cfg = {**overrides, **static_cfg}
        per_pair = 1
        for values in traced.values():
            per_pair *= len(values)
        method_cfg = {k: v for k, v in group_cfg.items() if k not in _FIT_OPTIONS}  # without encoder=... etc.
        if not shallow and "lam" not in traced:
            per_pair *= len(getattr(with_overrides(default_config("mlp", method), **method_cfg), "lams", (0,)))
        name = _group_name(static)
        limit = max_runs_per_chunk or stored_limits.get(name) or _auto_max_runs(ds, method, method_cfg, n_dev)
        limits[name] = int(limit)
        chunks = plan_chunks(classes, seed_list, per_pair, limit, n_dev)
        pad_to = max(len(c) * len(s) for c, s in chunks) * per_pair
        for i, chunk in enumerate(chunks):
            plan.append((f"{name}_{i:03d}", name, static, group_cfg, rho, traced, chunk, pad_to))

    # Several processes: every one has checked the directory before process 0 creates, locks or (with
    # overwrite) clears it, and none looks for finished chunks before that is done.
    barrier("ocnn_jax.sweep: directory checked")
    with (directory.open({"limits": limits}) if directory is not None else contextlib.nullcontext()), deferred_sigint():
        barrier("ocnn_jax.sweep: directory open")
        run_rows, score_files, train_time = _run_chunks(
            plan, ds, method, classes, directory, writer, mesh, shallow, progress, checkpoint_every_s, fit_options, callbacks,
            figures, "lam" in (grid or {}), selection, check_collapse)
        results = _results(ds, method, classes, seed_list, grid, overrides, run_rows, time.perf_counter() - t0, n_dev)
        # The input mode every run trained on: the method's default for "auto" (e.g. raw pixels for OC-SVM).
        modes = sorted({r["preprocessing"] for r in run_rows if "preprocessing" in r})
        results["preprocessing"] = modes[0] if len(modes) == 1 else (modes or resolve_preprocessing(
            preprocessing, image=ds.kind == "image", defaults=spec.preprocessing)[0])
        results["preprocessing_requested"] = preprocessing
        # Per grid group the complete resolved method config (family defaults + overrides, e.g. KDE's PCA on
        # CIFAR-10): "config" above holds the overrides only.
        results["method_config"] = fingerprint["config"]
        if contamination:
            results["protocol"] += f"; training sets contaminated with a fraction {contamination} of other-class rows"
        if preprocessing != "auto":
            results["protocol"] += f"; preprocessing={preprocessing!r}"
        results["selection"] = selection
        if selection == "paper":
            results["protocol"] += ("; selection='paper' (Ruff et al. 2018): PCA to 95 % of the variance, OC-SVM γ by "
                                    "AUROC on a labelled 10 % hold-out of the test set, KDE bandwidth by 5-fold CV; "
                                    "AUROC on the other 90 %")
        results["train_time_s"] = train_time
        if writer:
            _write_extremes(out_dir, ds, run_rows, score_files)
            write_report(out_dir, results, figures=figures)
    return results


#: ``fit`` parameters (not method config fields), from ``**config`` or the sweep's own arguments.
_FIT_OPTIONS = ("encoder", "decoder", "rep_dim", "hidden", "model_axis", "preprocessing",
                "contamination")


def _fingerprint(ds: Dataset, method: str, classes: list[int], seeds: list[int], grid: Any,
                 overrides: dict[str, Any], groups: list[tuple[dict[str, Any], dict[str, list[Any]]]]) -> dict[str, Any]:
    """The sweep's fingerprint (``_fingerprint``): per grid group the complete resolved method config.
    Resolving the configs also checks every override (an unknown key fails here, before training)."""
    spec = get_method(method)
    fit_options = {k: v for k, v in overrides.items() if k in _FIT_OPTIONS}
    shape = network_shape(tuple(ds.x_train.shape[1:]))
    family = auto_family(shape)  # the shallow baselines' data family
    if spec.kind == "deep":
        encoder = fit_options.get("encoder", "auto")
        family = make_backbone(encoder, shape).name if isinstance(encoder, str) else "custom"
    configs = {}
    for static, traced in groups:
        # RCAE's config holds its λ list; the other traced keys (nu, lr, weight_decay) are per-run values
        # recorded in the grid, each checked against the config here.
        group_cfg = {k: v for k, v in {**overrides, **static, **{k: v for k, v in traced.items() if k == "lam"}}.items()
                     if k not in _FIT_OPTIONS}
        base = with_overrides(default_config(family, method), **group_cfg)
        for key, values in traced.items():
            if key != "lam":
                for value in values:
                    with_overrides(base, **{key: value})
        configs[_group_name(static)] = {"fit": fit_options, **dataclasses.asdict(base)}
    arrays = {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test, "y_test": ds.y_test}
    return make_fingerprint(
        dataset=ds.name, dataset_digest=dataset_digest(arrays, ds.classes), method=method, config=configs,
        classes=[ds.classes[c] for c in classes], seeds=seeds, grid={k: list(v) for k, v in (grid or {}).items()},
        library=compatibility_version(_library_version()),
    )


def _run_chunks(plan, ds: Dataset, method: str, classes: list[int], directory: SweepDirectory | None, writer: bool, mesh, shallow: bool,
                progress: bool, checkpoint_every_s: float, fit_options: dict[str, Any],
                callbacks: Sequence[Any], figures: bool, lam_grid: bool,
                selection: str = "default", check_collapse: bool = True) -> tuple[list[dict[str, Any]], list[str], float]:
    """Train (or, for finished chunks, read back) every chunk of the plan: (run rows, score files,
    training seconds over all calls). Stops with ``Interrupted`` on SIGINT (``deferred_sigint``).
    ``fit_options``: the sweep's ``preprocessing`` and ``contamination`` for ``fit``; ``callbacks`` its
    training callbacks; ``figures``: draw RCAE's noise figures (``lam_grid``: one per λ); ``selection``:
    "paper" fits and evaluates the shallow runs by ``paper_selection_runs``; ``classes``: every class of
    the sweep (a group's data is prepared once for all of them); ``check_collapse``: as in ``fit``."""
    out_dir = None if directory is None else directory.out_dir
    run_rows: list[dict[str, Any]] = []
    score_files: list[str] = []
    train_time = 0.0  # training seconds of every chunk, also those finished by an earlier (resumed) call
    prepared: dict[str, Any] = {}  # group name -> Prepared (data and compiled programs of the group)
    chunk_bar = progress_display(plan, desc="chunks", unit="chunk", enabled=progress and len(plan) >= 2, position=0)
    for tag, name, static, group_cfg, rho, traced, (chunk_classes, chunk_seeds), pad_to in chunk_bar:
        if interrupt_requested():
            raise Interrupted(None)
        chunk_bar.set_postfix_str(f"{tag}: classes {chunk_classes}, seeds {chunk_seeds}")
        done = None if out_dir is None else os.path.join(out_dir, "chunks", f"{tag}.json")
        if done is not None and os.path.exists(done):
            with open(done) as fh:
                finished = json.load(fh)
            directory.verify_chunk(done, finished, tag, chunk_classes, chunk_seeds, name)
            run_rows.extend(finished["runs"])
            train_time += finished["wall_time_s"]
            score_files.append(done[:-5] + ".npz")
            continue
        if selection == "paper":
            rows, scores, wall, mode = paper_selection_runs(
                ds, method, chunk_classes, chunk_seeds, progress=progress, **{**fit_options, "contamination": rho}, **group_cfg)
            for row in rows:
                row.update(group=name, static=static, class_name=ds.classes[row["normal_class"]],
                           train_time_s=wall / len(rows), preprocessing=mode, selection="paper")
            train_time += wall
            run_rows.extend(rows)
            if directory is not None:
                score_files.append(_finish_chunk(directory, done, writer, scores, rows, wall))
            continue
        if shallow:
            model = fit(ds.x_train, ds.y_train, method=method, normal_classes=chunk_classes, seeds=chunk_seeds,
                        progress=progress, check_collapse=check_collapse, **{**fit_options, "contamination": rho},
                        **group_cfg)
            points = [{}] * model.n_runs
        else:
            if name not in prepared:
                prepared.clear()  # one group's data and programs on device at a time
                prepared[name] = prepare(ds.x_train, ds.y_train, method=method, normal_classes=classes, mesh=mesh,
                                         **{**fit_options, "contamination": rho}, **group_cfg)
            prep = prepared[name]
            group_points = grid_points(prep.config, traced)
            table = run_table([classes.index(c) for c in chunk_classes], chunk_seeds, group_points)
            ckpt = None
            if directory is not None:
                ckpt = Checkpointer(os.path.join(out_dir, "checkpoints", f"{tag}.npz"), every_s=checkpoint_every_s,
                                    identity=directory.chunk_identity(tag, chunk_classes, chunk_seeds))
            model = prep.train(table, pad_to=pad_to, checkpoint=ckpt, progress=progress, callbacks=callbacks,
                               check_collapse=check_collapse)
            points = [{k: float(v[j]) for k, v in table.grid.items()} for j in range(len(table))]
        train_time += model.wall_time
        scores = model.score(ds.x_test)
        values = model.evaluate_scores(scores, y=ds.y_test, metrics=("auroc", "aupr"))  # the test set is scored once
        objectives = _final_objectives(model.train_metrics, model.n_runs)
        rows = []
        for j, run in enumerate(model.runs):
            row = {"group": name, "static": static, "normal_class": int(run["normal_class"]),
                   "class_name": ds.classes[int(run["normal_class"])], "seed": run["seed"],
                   "auroc": float(values["auroc"][j]), "aupr": float(values["aupr"][j]),
                   "train_time_s": model.wall_time / model.n_runs, "preprocessing": model.preprocessing.mode,
                   **points[j]}
            if objectives is not None:
                row["objective"] = objectives[j]
            rows.append(row)
        run_rows.extend(rows)
        if writer and figures and method == "rcae":  # N needs the model: drawn now, not by `report`
            _noise_figures(model, ds, scores, out_dir, by_lam=lam_grid)
        if directory is not None:
            score_files.append(_finish_chunk(directory, done, writer, scores, rows, model.wall_time))
            if not shallow and ckpt is not None:
                ckpt.clear()
    prepared.clear()
    return run_rows, score_files, train_time


def _finish_chunk(directory: SweepDirectory, done: str, writer: bool, scores: np.ndarray, rows: list[dict[str, Any]],
                  wall_time_s: float) -> str:
    """Record a finished chunk: its (M, n_test) test scores beside ``done`` (.npz) and ``done`` itself (the
    sweep's fingerprint digest, the run rows, the training seconds), both atomically and by the writing
    process only. Returns the scores file's path."""
    score_path = done[:-5] + ".npz"
    if writer:
        atomic_savez(score_path, {"scores": np.asarray(scores, np.float32)})
        atomic_write_bytes(done, json.dumps({"fingerprint": directory.digest, "runs": rows,
                                             "wall_time_s": wall_time_s}).encode())
    return score_path


def _noise_figures(model: Any, ds: Dataset, scores: np.ndarray, out_dir: str, by_lam: bool) -> None:
    """figures/noise_rcae_class<c>[_lam<λ>].png: input / reconstruction / N of the 8 most anomalous test
    images under the first seed's run of each class (and λ) in the chunk; the λ suffix only for a λ grid."""
    from ._noise_figure import noise_figure

    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    seen = set()
    for i, run in enumerate(model.runs):
        key = (run["normal_class"], run.get("lam"))
        if key in seen:
            continue
        seen.add(key)
        lam = f"_lam{float(run['lam']):g}" if by_lam and run.get("lam") is not None else ""
        noise_figure(model, ds.x_test, os.path.join(out_dir, "figures", f"noise_rcae_class{run['normal_class']}{lam}.png"),
                     run=i, scores=scores)


def _final_objectives(metrics: dict[str, np.ndarray], n_runs: int) -> list[float] | None:
    """Per run, the label-free selection value: the last epoch of "train/objective" (OC-NN) or of
    "train/loss"; None when the model has no training metrics (shallow baselines)."""
    for key in ("train/objective", "train/loss"):
        if key in metrics and np.asarray(metrics[key]).shape[-1] > 0:
            return [float(v) for v in np.asarray(metrics[key])[:n_runs, -1]]
    return None


def _point(row: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    """A run's traced grid point as a sortable key."""
    return tuple((k, row[k]) for k in TRACED_GRID_KEYS if k in row)


def _point_label(point: dict[str, Any]) -> str:
    names = {"nu": "ν", "lam": "λ", "lr": "lr", "weight_decay": "weight decay"}
    return ", ".join(f"{names.get(k, k)} = {v:g}" for k, v in point.items())


def _results(ds, method, classes, seeds, grid, overrides, rows, wall, n_dev) -> dict[str, Any]:
    """The results.json dictionary: per (group, grid point, class) the per-seed AUROCs, mean and
    population std (and the same for AUPR, ``aupr_mean`` / ``aupr_std``, when the runs have it: sweeps
    written before AUPR was recorded have AUROC only); per setting the mean final training objective,
    and the best setting by it."""
    keyf = lambda r: (r["group"], _point(r))  # noqa: E731
    settings = []
    for key in sorted({keyf(r) for r in rows}):
        sel = [r for r in rows if keyf(r) == key]
        per_class = []
        for c in classes:
            runs = [r for r in sorted(sel, key=lambda r: r["seed"]) if r["normal_class"] == c]
            if runs:
                vals = [r["auroc"] for r in runs]
                entry = {"normal_class": int(c), "class_name": ds.classes[c], "seeds": [r["seed"] for r in runs],
                         "aurocs": vals, "mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=0))}
                if all("aupr" in r for r in runs):
                    aps = [r["aupr"] for r in runs]
                    entry.update(auprs=aps, aupr_mean=float(np.mean(aps)), aupr_std=float(np.std(aps, ddof=0)))
                per_class.append(entry)
        objectives = [r["objective"] for r in sel if r.get("objective") is not None]
        setting = {"group": key[0], "static": sel[0]["static"], "point": dict(key[1]),
                   "lam": dict(key[1]).get("lam"), "per_class": per_class,
                   "mean": float(np.mean([p["mean"] for p in per_class])),
                   "objective": float(np.mean(objectives)) if len(objectives) == len(sel) else None}
        if all("aupr_mean" in p for p in per_class):
            setting["aupr_mean"] = float(np.mean([p["aupr_mean"] for p in per_class]))
        settings.append(setting)
    scored = [i for i, st in enumerate(settings) if st["objective"] is not None and np.isfinite(st["objective"])]
    best = None
    if len(settings) > 1 and scored:
        i = min(scored, key=lambda i: settings[i]["objective"])
        best = {"criterion": SELECTION_CRITERION, "group": settings[i]["group"], "point": settings[i]["point"],
                "objective": settings[i]["objective"], "mean_auroc": settings[i]["mean"]}
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "dataset": ds.name,
        "protocol": "inductive one-vs-rest (train: normal class of the training split; test: full test split)"
        + (f"; {ds.split_note}" if ds.split_note else ""),
        "method": method,
        "config": {k: v for k, v in overrides.items()},
        "grid": {k: list(v) for k, v in (grid or {}).items()},
        "seeds": list(seeds),
        "classes": [ds.classes[c] for c in classes],
        "settings": settings,
        "overall_mean": float(np.mean([s["mean"] for s in settings])) if settings else float("nan"),
        "best": best,
        "wall_time_s": wall,
        "device": {"backend": jax.default_backend(), "kind": jax.devices()[0].device_kind, "count": n_dev,
                   "processes": jax.process_count()},
        "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": rows,
    }


def _write_extremes(out_dir: str, ds: Dataset, rows: list[dict[str, Any]], score_files: list[str]) -> None:
    """Per class: the 8 most normal and 8 most anomalous test images (mean rank over the class's
    runs), saved with the thumbnails so ``report`` needs no dataset."""
    scores = np.concatenate([np.load(p)["scores"] for p in score_files], axis=0)
    classes = sorted({r["normal_class"] for r in rows})
    thumbs, order = {}, {}
    for c in classes:
        idx = [i for i, r in enumerate(rows) if r["normal_class"] == c]
        ranks = np.mean([np.argsort(np.argsort(scores[i])) for i in idx], axis=0)
        srt = np.argsort(ranks)
        sel = np.concatenate([srt[:8], srt[-8:][::-1]])
        order[c] = sel
        thumbs[f"class_{c}"] = np.asarray(ds.x_test[sel])
    atomic_savez(os.path.join(out_dir, "extremes.npz"), {**thumbs, **{f"index_{c}": order[c] for c in classes}})


def write_report(out_dir: str, results: dict[str, Any] | None = None, figures: bool = True) -> None:
    """Write results.json / .csv / .md (and figures) in ``out_dir`` from ``results`` (or from the
    results.json already there: ``ocnn-jax report DIR``)."""
    path = os.path.join(out_dir, "results.json")
    if results is None:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no results.json in {out_dir!r}; run a sweep with --out {out_dir} first")
        with open(path) as fh:
            results = json.load(fh)
    atomic_write_bytes(path, json.dumps(results, indent=2).encode())
    atomic_write_bytes(os.path.join(out_dir, "results.csv"), _csv(results).encode())
    atomic_write_bytes(os.path.join(out_dir, "results.md"), _markdown(results).encode())
    if figures:
        from ._figures import auroc_chart, extremes_figure

        os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
        auroc_chart(results, os.path.join(out_dir, "figures", f"auroc_{results['method']}.png"))
        ext = os.path.join(out_dir, "extremes.npz")
        if os.path.exists(ext):
            extremes_figure(results, ext, os.path.join(out_dir, "figures", f"extremes_{results['method']}.png"))


def within_reference(per_class: list[dict[str, Any]], ref: list[tuple[float, float]]) -> list[bool]:
    """Per class: is our mean AUROC within one published std of the published mean?"""
    return [abs(100 * p["mean"] - ref[p["normal_class"]][0]) <= ref[p["normal_class"]][1] for p in per_class]


def per_class_table(per_class: list[dict[str, Any]], ref: list[tuple[float, float]] | None) -> str:
    """Markdown table of a setting's per-class AUROC % (mean ± std) and a mean row; with ``ref``, the
    published AUROC, the difference and whether ours lies within one published std; then AUPR % when
    the runs recorded it (no published AUPR exists for these tables)."""
    aupr = all("aupr_mean" in p for p in per_class)
    header = ["class", "AUROC"] + (["reference", "difference", "within 1 ref. std"] if ref else []) + (["AUPR"] if aupr else [])
    within = within_reference(per_class, ref) if ref else []
    rows = []
    for i, p in enumerate(per_class):
        row = [class_label(p["normal_class"], p["class_name"]), f"{100 * p['mean']:.2f} ± {100 * p['std']:.2f}"]
        if ref:
            rm, rs = ref[p["normal_class"]]
            row += [f"{rm:.1f} ± {rs:.1f}", f"{100 * p['mean'] - rm:+.2f}", "yes" if within[i] else "no"]
        if aupr:
            row.append(f"{100 * p['aupr_mean']:.2f} ± {100 * p['aupr_std']:.2f}")
        rows.append(row)
    mean = float(np.mean([p["mean"] for p in per_class]))
    mean_row = ["mean", f"{100 * mean:.2f}"]
    if ref:
        rmean = float(np.mean([ref[p["normal_class"]][0] for p in per_class]))
        mean_row += [f"{rmean:.2f}", f"{100 * mean - rmean:+.2f}", f"{sum(within)}/{len(within)}"]
    if aupr:
        mean_row.append(f"{100 * float(np.mean([p['aupr_mean'] for p in per_class])):.2f}")
    return format_table(header, rows + [mean_row])


def _csv(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    keys = [k for k in TRACED_GRID_KEYS if any(k in r for r in results["runs"])] or ["lam"]
    w.writerow(["dataset", "method", "group", *keys, "normal_class", "class_name", "seed", "auroc", "aupr", "objective"])
    for r in results["runs"]:
        objective = r.get("objective")
        w.writerow([results["dataset"], results["method"], r["group"], *(r.get(k, "") for k in keys), r["normal_class"],
                    r["class_name"], r["seed"], f"{r['auroc']:.6f}", f"{r['aupr']:.6f}" if "aupr" in r else "",
                    "" if objective is None else f"{objective:.6g}"])
    return buf.getvalue()


def _markdown(results: dict[str, Any]) -> str:
    ref = reference_for(results["dataset"], results["method"]) if not results["grid"] else None
    lines = [
        f"# {results['method']} on {results['dataset']}",
        "",
        *textwrap.wrap(f"Protocol: {results['protocol']}. AUROC % and AUPR % (average precision) on continuous scores, "
        f"mean ± population std over seeds "
        f"{results['seeds']}. Device: {results['device']['backend']} ({results['device']['kind']} × "
        f"{results['device']['count']}); training {results.get('train_time_s', float('nan')):.0f} s over all "
        f"calls (a resumed sweep counts the chunks of earlier calls), wall time of the last call "
        f"{results['wall_time_s']:.1f} s; {results['date']}.", TABLE_WIDTH),
        f"Config overrides: `{json.dumps(results['config'])}`."
        + (f" Preprocessing: `{results['preprocessing']}`"
           + (" (the method's default)." if results.get("preprocessing_requested", "auto") == "auto" else ".")
           if "preprocessing" in results else ""),
        "",
    ]
    for s in results["settings"]:
        point = s.get("point", {"lam": s["lam"]} if s["lam"] is not None else {})
        title = ", ".join([s["group"]] + ([_point_label(point)] if point else []))
        objective = s.get("objective")
        lines += [f"## {title}", ""]
        if objective is not None and len(results["settings"]) > 1:
            lines += [f"Final training objective {objective:.6g}.", ""]
        lines += [per_class_table(s["per_class"], ref), ""]
    best = results.get("best")
    if best:
        label = ", ".join([best["group"]] + ([_point_label(best["point"])] if best["point"] else []))
        lines += [*textwrap.wrap(f"**Best grid point: {label}** (objective {best['objective']:.6g}; its mean AUROC "
                                 f"{100 * best['mean_auroc']:.2f}). Chosen by the {best['criterion']}.", TABLE_WIDTH), ""]
    if ref:
        lines.append(f"Reference: {REFERENCE_SOURCE}.")
    return "\n".join(lines) + "\n"
