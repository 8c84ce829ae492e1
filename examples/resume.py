"""Resume after an interruption: a sweep that is stopped mid-way continues where it stopped.

A sweep with an output folder records every finished chunk (``OUT/chunks/``) and checkpoints the
chunk in progress (``OUT/checkpoints/``, every ``checkpoint_every_s`` seconds; 0 here: after every
compiled call). Calling it again with ``resume=True`` (CLI: ``--resume``) skips the finished chunks
and restarts the interrupted one from its checkpoint; the results are those of an uninterrupted run.

This example stops its own sweep with a training callback that raises ``KeyboardInterrupt`` (as
Ctrl-C would) part-way through the second chunk, then resumes it.

    python examples/resume.py
    ocnn-jax sweep --dataset digits --seeds 2 --out runs/r          # press Ctrl-C, then:
    ocnn-jax sweep --dataset digits --seeds 2 --out runs/r --resume
"""

import argparse
import shutil
import tempfile

import ocnn_jax


class StopAfter:
    """A training callback that raises KeyboardInterrupt after ``epochs`` reported epochs."""

    def __init__(self, epochs: int):
        self.epochs, self.seen = epochs, 0

    def __call__(self, event):
        self.seen += 1
        if self.seen == self.epochs:
            raise KeyboardInterrupt(f"simulated Ctrl-C in {event.phase} epoch {event.epoch}")


class CountEpochs:
    def __init__(self):
        self.seen = 0

    def __call__(self, event):
        self.seen += 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", default="0,1,2,3", help="comma-separated digits")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--method", default="deep_svdd", choices=["deep_svdd", "soft_boundary", "dcae"])
    p.add_argument("--epochs", type=int, default=10, help="epochs of each phase (Deep SVDD: pretraining, training)")
    p.add_argument("--out", default=None, help="output folder (default: a temporary one, removed at the end)")
    args = p.parse_args(argv)

    out = args.out or tempfile.mkdtemp(prefix="ocnn_jax_resume_")
    classes = [int(c) for c in args.classes.split(",")]
    runs_per_chunk = max(1, len(classes) // 2) * args.seeds  # two chunks
    kw = dict(normal_classes=classes, seeds=args.seeds, out_dir=out, max_runs_per_chunk=runs_per_chunk,
              checkpoint_every_s=0, epochs=args.epochs, lr_milestone=None, figures=False)
    phases = 1
    if ocnn_jax.methods.get_method(args.method).has_pretrain:
        kw.update(pretrain_epochs=args.epochs, pretrain_lr_milestone=None)
        phases = 2
    per_chunk = phases * args.epochs  # (pretraining +) training epochs of one chunk
    stop = StopAfter(per_chunk + per_chunk // 2 + 1)  # part-way through chunk 2
    try:
        ocnn_jax.sweep("digits", args.method, callbacks=[stop], **kw)
        raise RuntimeError("the sweep was expected to be interrupted")
    except KeyboardInterrupt as err:
        print(f"interrupted: {err} ({stop.seen} of {2 * per_chunk} epochs done)")
    count = CountEpochs()
    results = ocnn_jax.sweep("digits", args.method, resume=True, callbacks=[count], **kw)
    print(f"resumed: trained the remaining {count.seen} epochs (chunk 1 skipped, chunk 2 from its checkpoint)")
    print(f"mean AUROC {100 * results['overall_mean']:.2f} % over classes {classes} x {args.seeds} seeds")
    if args.out is None:
        shutil.rmtree(out)
    return {"interrupted_after": stop.seen, "resumed_epochs": count.seen, "total_epochs": 2 * per_chunk,
            "results": results}


if __name__ == "__main__":
    main()
