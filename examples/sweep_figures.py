"""A seed × class sweep with tables and figures: every digit as the normal class × seeds.

``ocnn_jax.sweep`` trains every (normal class, seed) run in as few compiled programs as the device
memory allows, writes ``OUT/results.{json,csv,md}`` (AUROC and AUPR per class, mean ± std over seeds)
and ``OUT/figures/`` (per-class AUROC bars, the most normal / most anomalous test images; for RCAE
also input / reconstruction / noise N of the most anomalous test images, ``noise_rcae_class<c>.png``).
``ocnn_jax.experiments.noise_figure(model, x, path)`` draws the same for any fitted RCAE model.

    python examples/sweep_figures.py --out runs/digits_svdd
    python examples/sweep_figures.py --method rcae --out runs/digits_rcae
    ocnn-jax sweep --dataset digits --method deep_svdd --seeds 3 --out runs/digits   # the same from the CLI
"""

import argparse
import os

import ocnn_jax


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="deep_svdd", choices=list(ocnn_jax.METHODS))
    p.add_argument("--classes", default="all", help="'all' or comma-separated digits")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="epochs per phase (default: the method's --quick settings)")
    p.add_argument("--out", default="runs/sweep_figures")
    args = p.parse_args(argv)

    classes = "all" if args.classes == "all" else [int(c) for c in args.classes.split(",")]
    overrides = {}
    if args.epochs is not None:
        if args.method == "rcae":
            overrides.update(outer_iterations=2, epochs_per_iteration=max(1, args.epochs // 2), lr_milestone=None)
        elif ocnn_jax.methods.get_method(args.method).kind == "deep":
            overrides.update(epochs=args.epochs, lr_milestone=None)
            if ocnn_jax.methods.get_method(args.method).has_pretrain:
                overrides.update(pretrain_epochs=args.epochs, pretrain_lr_milestone=None)
    results = ocnn_jax.sweep("digits", args.method, normal_classes=classes, seeds=args.seeds, out_dir=args.out,
                             resume=os.path.isdir(os.path.join(args.out, "chunks")), quick=True, **overrides)
    print(open(os.path.join(args.out, "results.md")).read())
    figures = sorted(os.listdir(os.path.join(args.out, "figures")))
    print(f"mean AUROC {100 * results['overall_mean']:.2f} %; figures in {args.out}/figures: {', '.join(figures)}")
    return results


if __name__ == "__main__":
    main()
