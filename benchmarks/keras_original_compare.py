"""Side-by-side: the original oc-nn repository's notebook numbers, the Keras port of its procedure, the
same procedure in ocnn_jax (``keras_compat``), and ocnn_jax's paper-faithful methods (inductive protocol).

One row per method ("OC-NN" as the repository ran it, Deep SVDD, DCAE, RCAE), AUROC % mean ± population
std over the seeds, seconds per run. Runs accumulate in the JSON file (key: framework, method, class,
seed), so the work can be split over several invocations (``--frameworks``, ``--methods``); every
invocation rewrites the Markdown table from everything gathered under the same settings.

* notebook: the printed outputs of the repository's MNIST and CIFAR-10 notebooks (transductive, 10 seeds
  unless the cell says n, the repository's full epoch counts; Deep SVDD on MNIST: the only surviving output,
  one seed). Their DCAE and RCAE numbers are one λ stage per seed from a fresh AE (λ 0 and 0.5, 150-500
  epochs; ``NOTEBOOK_MNIST_STAGE``, ``NOTEBOOK_CIFAR10_STAGE``), not the
  λ sweep that the repository's code and both ports run; the notebooks ran that sweep once (digit 0,
  seed 42; ``NOTEBOOK_MNIST_SWEEP``), and the per-λ table sets it beside the runs of the same seed.
* keras port: ``benchmarks/keras_original.py`` (Keras 3, TensorFlow; or Keras's JAX backend with
  ``KERAS_BACKEND=jax``), seeded by the data seed. Every run records its versions, backend and device.
* ocnn_jax keras_compat: ``ocnn_jax.methods.keras_compat`` on the same set (key = the data seed).
* ocnn_jax paper-faithful: read from committed ``reproduce.py`` results (inductive protocol, its own
  seeds; the run length, full or quick, and any non-default settings named in the table); not re-run here.

Run with both frameworks importable (TensorFlow + Keras, and ocnn_jax), e.g.::

  nice -n 10 python benchmarks/keras_original_compare.py --frameworks keras --methods ocnn,deep_svdd
  nice -n 10 python benchmarks/keras_original_compare.py --frameworks jax --methods ocnn,deep_svdd

``--full`` uses the repository's epoch counts (150 AE, 100 OC-NN, 150 Deep SVDD, 150 per λ): hours on a CPU.
Either framework's RCAE sweep (ocnn_jax: about 45 min per λ stage on a 2-core CPU at full length) saves
itself after every stage to ``<out stem>_rcae_stages/`` beside ``--out``; rerunning the same command after
an interruption resumes it with the same result, and the file is deleted once the run is in the JSON.
Every training shows its epochs and loss on stderr (a line a minute in a log file; ``--quiet`` turns it off).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ocnn_jax.datasets.keras_compat import KERAS_COMPAT_SEEDS, keras_compat_set  # noqa: E402
from ocnn_jax.methods.keras_compat import KerasCompatConfig  # noqa: E402

METHODS = ("ocnn", "deep_svdd", "dcae", "rcae")
LABELS = {"ocnn": "OC-NN (repository's centre loss)", "deep_svdd": "Deep SVDD (one-class = soft-boundary)",
          "dcae": "DCAE (RCAE λ = 0 stage)", "rcae": "RCAE (one alternation, last λ)"}
# AUROC % (mean, population std, n seeds) printed by the repository's MNIST notebooks, per digit.
NOTEBOOK_MNIST = {
    "ocnn": {0: (97.61, 1.79, 10), 1: (99.54, 0.15, 10), 2: (87.33, 2.20, 10), 3: (86.53, 3.92, 10),
             4: (93.25, 2.44, 10), 5: (86.49, 3.30, 10), 6: (97.13, 1.48, 10), 8: (88.55, 4.79, 10)},
    "rcae": {0: (99.92, 0.04, 10), 1: (99.98, 0.02, 7), 2: (98.02, 1.20, 10), 3: (99.26, 0.17, 10),
             4: (99.21, 0.42, 10), 5: (99.22, 0.55, 10), 6: (99.81, 0.10, 9), 7: (99.19, 0.54, 10),
             8: (98.51, 0.56, 10)},
    "dcae": {0: (99.90, 0.05, 10), 2: (96.65, 1.94, 10), 3: (98.43, 0.66, 10), 4: (98.72, 0.83, 10),
             5: (98.79, 0.70, 10), 6: (99.81, 0.15, 10), 8: (96.99, 1.00, 10), 9: (99.25, 0.54, 10)},
    "deep_svdd": {0: (94.52, 0.0, 1)},
}
# How those DCAE and RCAE numbers were run: each seed trained one λ stage from a fresh AE (DCAE at λ = 0,
# RCAE at λ = 0.5; the N a stage computes is never used, so both are the same plain AE) for this many
# epochs, per digit, as the notebooks' progress lines show. Not the repository's λ sweep, which the Keras
# port and keras_compat run (150 epochs per λ, warm-started).
NOTEBOOK_MNIST_STAGE = {
    "rcae": (0.5, {0: 250, 1: 250, 2: 250, 3: 250, 4: 250, 5: 250, 6: 250, 7: 250, 8: 500}),
    "dcae": (0.0, {0: 250, 2: 150, 3: 150, 4: 150, 5: 150, 6: 150, 8: 250, 9: 250}),
}
# The notebooks' one run of the λ sweep as the repository's code does it (150 epochs per λ, warm-started):
# digit → (data seed, epochs per λ, {λ: AUROC %}).
NOTEBOOK_MNIST_SWEEP = {0: (42, 150, {0.0: 99.9542, 0.5: 99.9418, 1.0: 99.8651, 100.0: 99.8184})}
# AUROC % printed by the repository's CIFAR-10 notebooks, per class. "OC-NN": the centre loss as for MNIST;
# Deep SVDD: the one-class notebook (the soft-boundary notebook, nine classes, trains the same loss and
# gives the same AUROC in the repository's code, see LABELS); DCAE at λ = 0, RCAE at λ = 0.5, one stage
# each from a fresh AE, epochs below (RCAE ran six classes; 0, 1 and 7 one seed each).
NOTEBOOK_CIFAR10 = {
    "ocnn": {0: (60.42, 1.95, 10), 1: (61.98, 2.01, 10), 2: (63.67, 1.48, 10), 3: (53.57, 2.19, 10),
             4: (67.40, 1.73, 10), 5: (56.12, 2.13, 10), 6: (63.31, 3.10, 10), 7: (60.10, 2.72, 10),
             8: (64.68, 1.63, 10), 9: (68.69, 1.98, 10)},
    "deep_svdd": {0: (67.33, 2.62, 10), 1: (58.15, 3.39, 10), 2: (61.35, 1.66, 10), 3: (55.72, 1.90, 10),
                  4: (63.33, 1.83, 10), 5: (58.68, 1.81, 10), 6: (64.46, 7.72, 6), 7: (59.80, 2.62, 10),
                  8: (67.45, 2.02, 10), 9: (68.03, 3.23, 10)},
    "rcae": {0: (69.60, 0.0, 1), 1: (63.06, 0.0, 1), 5: (63.96, 3.04, 10), 6: (64.89, 4.35, 10),
             7: (63.34, 0.0, 1), 9: (74.48, 1.89, 10)},
    "dcae": {0: (71.21, 1.07, 10), 1: (63.09, 2.41, 10), 2: (71.51, 1.24, 10), 3: (60.77, 1.76, 9),
             4: (60.85, 3.65, 10), 5: (62.74, 2.58, 10), 6: (65.17, 4.16, 10), 7: (61.12, 2.37, 10),
             8: (74.87, 1.41, 10), 9: (71.37, 7.02, 9)},
}
NOTEBOOK_CIFAR10_STAGE = {
    "rcae": (0.5, {0: 500, 1: 500, 5: 150, 6: 150, 7: 500, 9: 150}),
    "dcae": (0.0, dict.fromkeys(range(10), 150)),
}
NOTEBOOK = {"mnist": NOTEBOOK_MNIST, "cifar10": NOTEBOOK_CIFAR10}
NOTEBOOK_STAGE = {"mnist": NOTEBOOK_MNIST_STAGE, "cifar10": NOTEBOOK_CIFAR10_STAGE}
# ocnn_jax's method that answers each row on the inductive protocol (paper objectives).
INDUCTIVE_METHOD = {"ocnn": "ocnn", "deep_svdd": "deep_svdd", "dcae": "dcae", "rcae": "rcae"}


#: Epochs per phase without ``--full`` (a short check that both ports run the same procedure).
SHORT_EPOCHS = {"ae_epochs": 10, "ocnn_epochs": 10, "svdd_epochs": 10, "rcae_epochs": 1}


def _config(args: argparse.Namespace) -> KerasCompatConfig:
    """The repository's epoch counts under ``--full``, else ``SHORT_EPOCHS``; an epoch flag given on the
    command line overrides either (e.g. ``--full --rcae-epochs 250``: the notebooks' single DCAE/RCAE stage)."""
    base = dataclasses.asdict(KerasCompatConfig()) if args.full else SHORT_EPOCHS
    given = {k: getattr(args, k) for k in SHORT_EPOCHS if getattr(args, k) is not None}
    return KerasCompatConfig(**{**{k: base[k] for k in SHORT_EPOCHS}, **given})


def shorter_than_repository(cfg: KerasCompatConfig) -> bool:
    """Whether any phase of ``cfg`` trains fewer epochs than the repository's code does."""
    full = KerasCompatConfig()
    return any(getattr(cfg, k) < getattr(full, k) for k in SHORT_EPOCHS)


def _lam_key(lam: float) -> str:
    return repr(float(lam))


def save_rcae_stages(path: Path, fingerprint: dict[str, Any], record: dict[str, Any], seconds: float) -> None:
    """Write ``rcae_repo``'s stage record (weights, per-λ scores) atomically to ``path`` (msgpack), with
    the run's ``fingerprint`` and the training seconds so far."""
    import jax
    from flax import serialization

    from ocnn_jax.engine import atomic_write_bytes

    lams = [_lam_key(v) for v in record["lambdas"]]
    payload = {"fingerprint": json.dumps(fingerprint, sort_keys=True), "seconds": float(seconds),
               "stages_done": int(record["stages_done"]), "lambdas": lams,
               "params": jax.device_get(record["params"]), "batch_stats": jax.device_get(record["batch_stats"]),
               "scores": {k: np.asarray(record["scores"][float(k)]) for k in lams},
               "n_nonzero": {k: int(record["n_nonzero"][float(k)]) for k in lams},
               "losses": {k: np.asarray(record["losses"][float(k)], np.float64) for k in lams}}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(str(path), serialization.msgpack_serialize(payload))


def load_rcae_stages(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """The record :func:`save_rcae_stages` wrote (as ``rcae_repo(resume=...)`` takes it), or None when
    ``path`` does not exist. A file written for another run or other settings is refused."""
    from flax import serialization

    if not path.exists():
        return None
    d = serialization.msgpack_restore(path.read_bytes())
    if d["fingerprint"] != json.dumps(fingerprint, sort_keys=True):
        raise SystemExit(f"{path} holds RCAE stages of another run or other settings ({d['fingerprint']}); "
                         f"delete it or use another --out")
    lams = [float(k) for k in d["lambdas"]]
    return {"stages_done": int(d["stages_done"]), "lambdas": lams, "params": d["params"],
            "batch_stats": d["batch_stats"], "seconds": float(d["seconds"]),
            "scores": {float(k): v for k, v in d["scores"].items()},
            "n_nonzero": {float(k): int(v) for k, v in d["n_nonzero"].items()},
            "losses": {float(k): [float(x) for x in v] for k, v in d["losses"].items()}}


def rcae_checkpoint_path(out: Path, framework: str, dataset: str, cls: int, seed: int) -> Path:
    """Where a run's RCAE stages are kept between invocations: beside ``--out``, one file per run."""
    return out.parent / f"{out.stem}_rcae_stages" / f"{framework}_{dataset}_class{cls}_seed{seed}.msgpack"


def staged_rcae(sweep: Callable[..., dict[str, Any]], checkpoint: Path | None, fingerprint: dict[str, Any],
                label: str, y: np.ndarray | None = None) -> tuple[dict[str, Any], float]:
    """Run ``sweep(resume=..., on_stage=...)`` (``rcae_repo`` or ``keras_original.rcae_original`` with
    their other arguments bound), saving after every λ stage to ``checkpoint`` and resuming from it.
    With labels ``y``, every finished stage also prints its AUROC and seconds (so that a sweep stopped
    before its end, whose stage file stays behind, still reports what it finished).
    Returns the sweep's result and its seconds (those of earlier invocations included)."""
    t0 = time.perf_counter()
    if checkpoint is None:
        return sweep(resume=None, on_stage=None), time.perf_counter() - t0
    resume = load_rcae_stages(checkpoint, fingerprint)
    before = 0.0 if resume is None else float(resume["seconds"])
    if resume is not None:
        print(f"{label}: RCAE resumes after {resume['stages_done']} λ stage(s) from {checkpoint}", flush=True)

    def save(record: dict[str, Any]) -> None:
        seconds = before + time.perf_counter() - t0
        save_rcae_stages(checkpoint, fingerprint, record, seconds)
        if y is not None:
            from sklearn.metrics import roc_auc_score

            lam = record["lambdas"][record["stages_done"] - 1]
            print(f"{label}: λ = {lam:g} stage {record['stages_done']} done, AUROC "
                  f"{100 * roc_auc_score(y, record['scores'][lam]):.2f} ({seconds:.0f} s so far)", flush=True)

    r = sweep(resume=resume, on_stage=save)
    return r, before + time.perf_counter() - t0


def rcae_aurocs(out: dict[str, Any], r: dict[str, Any], y: np.ndarray, cfg: KerasCompatConfig) -> None:
    """Fill ``out["auroc"]`` (per λ, "dcae" = the first stage, "rcae" = the last) and the N counts."""
    from sklearn.metrics import roc_auc_score

    for lam, sc in r["scores"].items():
        out["auroc"][f"rcae_lam{lam:g}"] = float(roc_auc_score(y, sc))
    out["auroc"]["dcae"] = out["auroc"][f"rcae_lam{cfg.rcae_lambdas[0]:g}"]
    last = f"rcae_lam{cfg.rcae_lambdas[-1]:g}"
    if last in out["auroc"]:  # a sweep stopped after its first stage ("dcae" alone) has no RCAE number
        out["auroc"]["rcae"] = out["auroc"][last]
    out["detail"]["rcae_n_nonzero"] = {f"{k:g}": v for k, v in r["n_nonzero"].items()}
    out["detail"]["rcae_fit_rows"] = r["n_fit"]


def sweep_stages(methods: Sequence[str]) -> int | None:
    """λ stages the sweep runs for ``methods``: all (None) when "rcae" is asked, else 1 ("dcae" alone is
    the sweep's λ = 0 stage; its stage file then resumes into a later ``--methods rcae`` run)."""
    return None if "rcae" in methods else 1


def stages_key(stages: int | None) -> str:
    """The ``seconds`` key of a λ sweep: "rcae" for the whole sweep, "dcae" for its first stage alone."""
    return "rcae" if stages is None else "dcae"


def _fingerprint(framework: str, s, seed: int, cfg: KerasCompatConfig) -> dict[str, Any]:
    return {"framework": framework, "dataset": s.dataset, "class": s.normal_class, "seed": seed,
            "config": dataclasses.asdict(cfg)}


def sweep_into(out: dict[str, Any], framework: str, sweep: Callable[..., dict[str, Any]], stages: int | None,
               checkpoint: Path | None, s, seed: int, cfg: KerasCompatConfig) -> None:
    """Run one framework's λ sweep (``sweep``: its RCAE function with everything but ``resume`` and
    ``on_stage`` bound) through :func:`staged_rcae` and put its seconds and AUROCs into ``out``."""
    r, out["seconds"][stages_key(stages)] = staged_rcae(
        sweep, checkpoint, _fingerprint(framework, s, seed, cfg), f"{framework} class {s.normal_class} seed {seed}",
        y=s.y)
    rcae_aurocs(out, r, s.y, cfg)


def run_jax(s, cfg: KerasCompatConfig, seed: int, methods: Sequence[str],
            rcae_checkpoint: Path | None = None, verbose: bool = False) -> dict[str, Any]:
    """The same runs as :func:`run_keras` with ocnn_jax's keras_compat procedure.

    ``rcae_checkpoint``: a file where the RCAE sweep saves itself after every λ stage and from which a
    rerun resumes (the same result as an uninterrupted run). ``verbose``: every training's epochs and
    loss on stderr (a line a minute in a log)."""
    import jax

    from ocnn_jax.methods import keras_compat as kc
    from sklearn.metrics import roc_auc_score

    key = jax.random.key(seed)
    k_ae, k_ocnn, k_svdd, k_rcae = jax.random.split(key, 4)
    out: dict[str, Any] = {"auroc": {}, "seconds": {}, "detail": {}}
    if {"ocnn", "deep_svdd"} & set(methods):
        t0 = time.perf_counter()
        _, p, bs, _ = kc.pretrain_cae(s, k_ae, cfg, verbose=verbose)
        out["seconds"]["ae_pretrain"] = time.perf_counter() - t0
        for m, k in (("ocnn", k_ocnn), ("deep_svdd", k_svdd)):
            if m in methods:
                t0 = time.perf_counter()
                r = (kc.ocnn_repo if m == "ocnn" else kc.deep_svdd_repo)(s, (p, bs), k, cfg, verbose=verbose)
                out["seconds"][m] = time.perf_counter() - t0
                out["auroc"][m] = float(roc_auc_score(s.y, r["scores"]))
    if {"rcae", "dcae"} & set(methods):
        stages = sweep_stages(methods)
        sweep = functools.partial(kc.rcae_repo, s, k_rcae, cfg, stages=stages, verbose=verbose)
        sweep_into(out, "jax", sweep, stages, rcae_checkpoint, s, seed, cfg)
    return out


def run_keras(s, cfg: KerasCompatConfig, seed: int, methods: Sequence[str],
              rcae_checkpoint: Path | None = None, verbose: bool = False,
              steps_per_execution: int = 1) -> dict[str, Any]:
    """The Keras port's runs: ``keras_original.run_original`` for "OC-NN" and Deep SVDD, and its RCAE
    sweep (``rcae_original``) saved and resumed per λ stage as in :func:`run_jax`. ``steps_per_execution``:
    Keras's option, passed to every ``compile`` (the same updates; a speed setting)."""
    import keras_original as ko

    heads = [m for m in methods if m not in ("rcae", "dcae")]
    out: dict[str, Any] = (ko.run_original(s, cfg, seed, heads, verbose=verbose,
                                           steps_per_execution=steps_per_execution) if heads
                           else {"auroc": {}, "seconds": {}, "detail": {}})
    if {"rcae", "dcae"} & set(methods):
        stages = sweep_stages(methods)
        sweep = functools.partial(ko.rcae_original, s, cfg, seed, stages=stages, verbose=verbose,
                                  steps_per_execution=steps_per_execution)
        sweep_into(out, "keras", sweep, stages, rcae_checkpoint, s, seed, cfg)
    return out


def framework_device(framework: str, steps_per_execution: int = 1) -> str:
    """What computes ``framework``'s runs in this process: versions, Keras's backend and the device kind
    (recorded with every run, so that runs from different machines or backends are told apart), and
    Keras's ``steps_per_execution`` where it is not 1."""
    import jax

    dev = f"jax {jax.__version__} on {jax.devices()[0].device_kind}"
    if framework == "jax":
        return dev
    import keras_original  # noqa: F401  (sets Keras's default backend before keras is first imported)

    import keras

    return _keras_device(keras, dev) + (f", {steps_per_execution} steps per execution" if steps_per_execution != 1
                                        else "")


def _keras_device(keras, dev: str) -> str:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        where = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        return f"keras {keras.__version__}, tensorflow {tf.__version__} backend on {where}"
    if backend == "jax":
        return f"keras {keras.__version__}, jax backend ({dev})"
    return f"keras {keras.__version__}, {backend} backend"


def _unrecorded(run: dict[str, Any]) -> str:
    """The device line of a run recorded before runs named their device: its machine's CPU count."""
    return f"device not recorded ({run.get('machine', '?').rsplit(', ', 1)[-1]})"


def run_seconds(run: dict[str, Any], method: str) -> float:
    """Seconds of ``method`` in one run record: "OC-NN" and Deep SVDD with their AE pretraining; DCAE and
    RCAE the λ sweep's (a "dcae"-only run: its first stage; a whole sweep: all four stages, for both)."""
    sec = run["seconds"]
    if method in ("rcae", "dcae"):
        return float(sec["rcae"] if "rcae" in sec else sec["dcae"])
    return float(sec[method] + sec.get("ae_pretrain", 0.0))


def _stats(v: Sequence[float]) -> str:
    if not v:
        return "—"
    a = 100 * np.asarray(v)
    return f"{a.mean():.2f} ± {a.std():.2f} (n={a.size})"


def _inductive(paths: Sequence[str], cls: int, dataset: str) -> dict[str, str]:
    """The paper-faithful column for normal class ``cls`` of ``dataset``: per method, the AUROCs of the first
    ``reproduce.py`` results.json in ``paths`` that has the method and class, pooled with the seeds of later
    files run in the same mode (full/quick) and config (one table split over several invocations). Files of
    another data set are skipped (a CIFAR-10 table never shows MNIST numbers)."""
    found: dict[str, tuple[tuple[str, str], dict[int, float]]] = {}
    for path in paths:
        if not Path(path).exists():
            continue
        d = json.loads(Path(path).read_text())
        if d.get("dataset") != dataset:
            continue
        for m, rec in d.get("methods", {}).items():
            key = (str(d.get("mode", "?")), json.dumps(rec.get("config", {}), sort_keys=True))
            for pc in rec.get("per_class", []):
                if pc["normal_class"] != cls:
                    continue
                if m not in found:
                    found[m] = (key, {})
                if found[m][0] == key:
                    for seed, a in zip(pc.get("seeds", range(len(pc["aurocs"]))), pc["aurocs"]):
                        found[m][1].setdefault(int(seed), float(a))
    out = {}
    for m, ((mode, config), by_seed) in found.items():
        a = 100 * np.asarray(list(by_seed.values()))
        out[m] = f"{a.mean():.2f} ± {a.std():.2f} (n={a.size}; {mode}" + ("" if config == "{}" else f" {config}") + ")"
    return out


def _inductive_default(full: bool, dataset: str) -> list[str]:
    """Committed ``reproduce.py`` results of ``dataset``: the paper-length ones first when ``full``, then
    the quick ones."""
    results = HERE / "results"
    first = sorted(str(p) for p in results.glob(f"reproduce_{dataset}_full*/results.json")) if full else []
    return first + [str(results / f"reproduce_{dataset}_quick" / "results.json")]


def table(payload: dict[str, Any], inductive: Sequence[str]) -> str:
    runs = payload["runs"]
    lines = []
    for cls in sorted({r["class"] for r in runs}):
        ind = _inductive(inductive, cls, payload["dataset"])
        made = {fw: sorted({r.get("device") or _unrecorded(r) for r in runs
                            if r["framework"] == fw and r["class"] == cls}) for fw in ("keras", "jax")}
        lines += [f"### {payload['dataset']} normal class {cls}", "",
                  "Computed by: " + "; ".join(f"{'Keras port' if fw == 'keras' else 'keras_compat'}: {', '.join(d)}"
                                              for fw, d in made.items() if d) + ".", "",
                  "| method | notebook (repo, full length) | Keras port | ocnn_jax keras_compat | port − jax | "
                  "s/run Keras | s/run jax | ocnn_jax paper-faithful, inductive |",
                  "|---|---|---|---|---|---|---|---|"]
        for m in METHODS:
            nb_s = notebook_cell(payload["dataset"], m, cls)
            by = {fw: [r for r in runs if r["framework"] == fw and r["class"] == cls and m in r["auroc"]]
                  for fw in ("keras", "jax")}
            def secs(rs):
                if m == "dcae" and any("dcae" in r["seconds"] for r in rs):
                    rs = [r for r in rs if "dcae" in r["seconds"]]  # its stage alone, not a whole sweep's time
                if not rs:
                    return "—"
                return f"{np.median([run_seconds(r, m) for r in rs]):.1f}"

            k = [r["auroc"][m] for r in by["keras"]]
            j = [r["auroc"][m] for r in by["jax"]]
            gap = f"{100 * (np.mean(k) - np.mean(j)):+.2f}" if k and j else "—"
            lines.append(f"| {LABELS[m]} | {nb_s} | {_stats(k)} | {_stats(j)} | {gap} | {secs(by['keras'])} | "
                         f"{secs(by['jax'])} | {ind.get(INDUCTIVE_METHOD[m], '—')} |")
        lines.append("")
        lines += lambda_table(payload, cls)
        lines += ["Per seed (AUROC %, Keras port / ocnn_jax):", ""]
        for seed in sorted({r["seed"] for r in runs if r["class"] == cls}):
            cells = []
            for m in METHODS:
                v = {fw: next((r["auroc"].get(m) for r in runs if r["framework"] == fw and r["class"] == cls
                               and r["seed"] == seed and m in r["auroc"]), None) for fw in ("keras", "jax")}
                cells.append(f"{m} " + " / ".join("—" if x is None else f"{100 * x:.2f}" for x in v.values()))
            lines.append(f"- seed {seed}: " + "; ".join(cells))
        lines.append("")
    return "\n".join(lines)


def notebook_cell(dataset: str, method: str, cls: int) -> str:
    """The notebook column of ``method``'s row: mean ± std (n seeds), and for DCAE and RCAE how each seed
    was run (one λ stage from a fresh AE, its epochs); "—" where the notebooks have no number."""
    nb = NOTEBOOK.get(dataset, {}).get(method, {}).get(cls)
    if nb is None:
        return "—"
    lam, epochs = NOTEBOOK_STAGE[dataset].get(method, (None, {}))
    how = f"; λ = {lam:g} alone, {epochs[cls]} ep." if cls in epochs else ""
    return f"{nb[0]:.2f} ± {nb[1]:.2f} (n={nb[2]}{how})"


def lambda_table(payload: dict[str, Any], cls: int) -> list[str]:
    """Markdown lines of the per-λ table of class ``cls`` (empty without sweep stages). Where the notebooks
    ran the sweep once (``NOTEBOOK_MNIST_SWEEP``) at the runs' epochs per stage, its AUROC per λ stands
    beside both frameworks' runs of the same data seed, then beside all their seeds."""
    runs = [r for r in payload["runs"] if r["class"] == cls]
    keys = sorted({k for r in runs for k in r["auroc"] if k.startswith("rcae_lam")}, key=lambda s: float(s[8:]))
    if not keys:
        return []
    nb = NOTEBOOK_MNIST_SWEEP.get(cls) if payload["dataset"] == "mnist" else None
    if nb is not None and (payload.get("config") or {}).get("rcae_epochs", nb[1]) != nb[1]:
        nb = None  # the runs' stages are of another length than the notebooks' sweep

    def vals(fw: str, key: str, seed: int | None = None) -> list[float]:
        return [r["auroc"][key] for r in runs if r["framework"] == fw and key in r["auroc"]
                and (seed is None or r["seed"] == seed)]

    if nb is None:
        lines = ["RCAE per λ stage (warm-started, in order):", "", "| λ | Keras port | ocnn_jax keras_compat |",
                 "|---|---|---|"]
        for key in keys:
            lines.append(f"| {key[8:]} | {_stats(vals('keras', key))} | {_stats(vals('jax', key))} |")
        return lines + [""]
    seed, epochs, auroc = nb
    lines = ["RCAE per λ stage (warm-started, in order), beside the notebooks' one run of the sweep "
             f"(seed {seed}, {epochs} epochs per λ):", "",
             f"| λ | notebook, seed {seed} | Keras port, seed {seed} | keras_compat, seed {seed} | Keras port, all seeds "
             "| keras_compat, all seeds |", "|---|---|---|---|---|---|"]
    for key in keys:
        lam = float(key[8:])
        nb_s = f"{auroc[lam]:.2f}" if lam in auroc else "—"
        same = [vals(fw, key, seed) for fw in ("keras", "jax")]
        lines.append(f"| {key[8:]} | {nb_s} | " + " | ".join(f"{100 * v[0]:.2f}" if v else "—" for v in same)
                     + f" | {_stats(vals('keras', key))} | {_stats(vals('jax', key))} |")
    return lines + [""]


def merged_runs(runs: list[dict[str, Any]], new: dict[str, Any], first_wins: bool = True) -> list[dict[str, Any]]:
    """``runs`` with ``new`` merged in: a run of the same framework, class and seed whose AUROC keys are a
    subset of ``new``'s (a "dcae" stage that a whole sweep now contains, an earlier copy) is replaced.
    ``first_wins`` (``--merge``): ``new`` is dropped when a run already holds all of its keys; without it
    (a run just computed) ``new`` always goes in. So no seed is counted twice for one method."""
    ident = (new["framework"], new["class"], new["seed"])
    keys = set(new["auroc"])
    same = [q for q in runs if (q["framework"], q["class"], q["seed"]) == ident]
    if first_wins and any(keys <= set(q["auroc"]) for q in same):
        return runs
    return [q for q in runs if not ((q["framework"], q["class"], q["seed"]) == ident
                                    and set(q["auroc"]) <= keys)] + [new]


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10"])
    p.add_argument("--data-dir", default=None, help="data directory (default: $OCNN_JAX_DATA_DIR, then the loader's search)")
    p.add_argument("--classes", default="0", help="normal classes, e.g. 0 or 0,1")
    p.add_argument("--seeds", default="42,56,81", help=f"data seeds (the repository's: {KERAS_COMPAT_SEEDS})")
    p.add_argument("--frameworks", default="keras,jax", help="keras, jax or both")
    p.add_argument("--methods", default="ocnn,deep_svdd,rcae",
                   help="ocnn, deep_svdd, rcae (the λ sweep; it also gives dcae), dcae (the sweep's first λ stage "
                   "alone: a quarter of rcae's time; its stage file resumes into a later rcae run)")
    for flag, key in (("--ae-epochs", "ae_epochs"), ("--ocnn-epochs", "ocnn_epochs"), ("--svdd-epochs", "svdd_epochs"),
                      ("--rcae-epochs", "rcae_epochs")):
        p.add_argument(flag, type=positive_int, default=None,
                       help=f"{'epochs per λ stage; ' if key == 'rcae_epochs' else ''}default {SHORT_EPOCHS[key]}, "
                       f"or {getattr(KerasCompatConfig(), key)} with --full")
    p.add_argument("--keras-steps-per-execution", type=positive_int, default=1,
                   help="the Keras port's steps_per_execution: training steps per compiled call (default 1, "
                   "Keras's; the same updates, fewer host round-trips on an accelerator)")
    p.add_argument("--full", action="store_true", help="the repository's epoch counts (an epoch flag given too "
                   "overrides its phase)")
    p.add_argument("--out", default=None, help="the runs' JSON (default: results/keras_original_<dataset>.json)")
    p.add_argument("--md", default=None, help="the table (default: results/keras_original_<dataset>.md)")
    p.add_argument("--inductive", default="",
                   help="comma-separated reproduce.py results.json files for the paper-faithful column; per "
                   "method the first file that has it wins (default: the committed results of --dataset, the "
                   "paper-length ones first under --full)")
    p.add_argument("--table-only", action="store_true", help="rewrite the Markdown from the JSON, run nothing")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress on stderr (by default every "
                   "training shows its epochs and loss: a bar in a terminal, a line a minute in a log)")
    p.add_argument("--merge", default="", help="comma-separated JSON files of other invocations (same settings) "
                   "whose runs are added to --out (e.g. frameworks run in parallel)")
    args = p.parse_args(argv)
    args.out = args.out or str(HERE / "results" / f"keras_original_{args.dataset}.json")
    args.md = args.md or str(HERE / "results" / f"keras_original_{args.dataset}.md")
    cfg = _config(args)
    settings = {"dataset": args.dataset, "config": dataclasses.asdict(cfg)}
    out = Path(args.out)
    payload: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    if payload and {k: payload.get(k) for k in settings} != json.loads(json.dumps(settings)):
        raise SystemExit(f"{out} holds runs with other settings ({payload.get('config')}); use another --out")
    payload.update(settings)
    payload.setdefault("runs", [])
    for other in [m for m in args.merge.split(",") if m]:
        extra = json.loads(Path(other).read_text())
        if {k: extra.get(k) for k in settings} != json.loads(json.dumps(settings)):
            raise SystemExit(f"--merge {other}: other settings ({extra.get('config')}); not merged")
        for q in extra["runs"]:
            payload["runs"] = merged_runs(payload["runs"], q)
    if args.merge:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=1, default=float))
    if not args.table_only:
        from ocnn_jax.datasets import load

        ds = load(args.dataset, data_dir=args.data_dir)
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown or not methods:
            raise SystemExit(f"--methods: unknown {unknown or args.methods!r}; expected a comma list of {', '.join(METHODS)}")
        for fw in [f.strip() for f in args.frameworks.split(",") if f.strip()]:
            if fw not in ("keras", "jax"):
                raise SystemExit(f"--frameworks: unknown {fw!r}; expected keras or jax")
            spe = args.keras_steps_per_execution
            run = functools.partial(run_keras, steps_per_execution=spe) if fw == "keras" else run_jax
            device = framework_device(fw, spe)
            for cls in [int(c) for c in args.classes.split(",")]:
                for seed in [int(x) for x in args.seeds.split(",")]:
                    s = keras_compat_set(ds, cls, seed)
                    t0 = time.perf_counter()
                    r = run(s, cfg, seed, methods, rcae_checkpoint_path(out, fw, args.dataset, cls, seed),
                            verbose=not args.quiet)
                    print(f"{fw} class {cls} seed {seed}: " + ", ".join(f"{k} {100 * v:.2f}" for k, v in r["auroc"].items())
                          + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
                    record = {"framework": fw, "class": cls, "seed": seed, **r,
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": device,
                              "machine": f"{platform.platform()}, {os.cpu_count()} CPUs"}
                    payload["runs"] = merged_runs(payload["runs"], record, first_wins=False)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(json.dumps(payload, indent=1, default=float))
                    # the run is in the JSON now: a whole sweep's stage file is no longer needed ("dcae"
                    # alone keeps it, so that a later --methods rcae resumes after the first stage)
                    if "rcae" in r["auroc"]:
                        rcae_checkpoint_path(out, fw, args.dataset, cls, seed).unlink(missing_ok=True)
    cfg_text = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(cfg).items() if "epochs" in k)
    text = (f"# The original oc-nn procedure: notebook vs Keras port vs ocnn_jax keras_compat ({args.dataset})\n\n"
            f"Transductive sets of the repository (protocol='keras_compat'); AUROC % mean ± population std over "
            f"the seeds run; s/run = median seconds per run (training + scoring; OC-NN and Deep SVDD include "
            f"their AE pretraining; RCAE is one λ sweep; DCAE is its first stage alone where DCAE-only runs exist, else the whole sweep). Epochs here: {cfg_text} "
            f"(the notebooks: 150 AE, 100 OC-NN, 150 Deep SVDD; their 10-seed DCAE and RCAE numbers are one λ "
            f"stage each from a fresh AE, of the epochs the notebook column names, and their one λ sweep is "
            f"in the per-λ table). Command: "
            f"`python benchmarks/keras_original_compare.py` (see its --help).\n\n"
            + ("" if not shorter_than_repository(cfg) else
               "**Short epochs: this shows both ports running the same procedure on the same data, not a "
               "reproduction of the notebook numbers (that needs `--full`).** Seconds are wall time on the "
               "machine named in the JSON, compilation and graph building included; they are not a speed "
               "comparison (see `throughput.py`).\n\n")
            + table(payload, [q for q in args.inductive.split(",") if q] or _inductive_default(args.full, args.dataset)))
    Path(args.md).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
