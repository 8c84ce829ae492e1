"""The same code on a GPU, several GPUs or a TPU: runs are sharded over every device.

``fit(..., mesh=ocnn_jax.make_run_mesh())`` puts the runs (normal class × seed) on a mesh axis over
all devices; each device trains its share of the runs inside one compiled program (``shard_map``),
and ``sweep`` does this by default when there is more than one device. Nothing in the code names
the device kind: install the JAX build for your hardware and run the same commands (see
examples/README.md). Without an accelerator, ``--cpu-devices N`` splits the CPU into N JAX devices
to try the sharded path.

    python examples/accelerators.py                     # whatever devices JAX finds
    python examples/accelerators.py --cpu-devices 4     # 4 CPU devices, as on a 4-GPU machine
"""

import argparse
import time

import ocnn_jax


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-devices", type=int, default=None, help="split the CPU into N JAX devices (CPU only)")
    p.add_argument("--method", default="deep_svdd", choices=["deep_svdd", "soft_boundary", "ocnn", "rcae", "dcae"])
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)
    if args.cpu_devices:
        ocnn_jax.set_cpu_devices(args.cpu_devices)  # before JAX starts its backends

    import jax

    from ocnn_jax.datasets import load_digits

    devices = jax.devices()
    print(f"JAX {jax.__version__}, backend {jax.default_backend()}: {len(devices)} device(s) "
          f"{sorted({d.device_kind for d in devices})}")
    ds = load_digits()
    mesh = ocnn_jax.make_run_mesh() if len(devices) > 1 else None
    kw = {"batch_size": 32, "lr": 1e-3}
    if args.method == "rcae":
        kw.update(outer_iterations=2, epochs_per_iteration=max(1, args.epochs // 2))
    else:
        kw["epochs"] = args.epochs
        if ocnn_jax.methods.get_method(args.method).has_pretrain:
            kw.update(pretrain_epochs=args.epochs, pretrain_batch_size=32)
    t = time.perf_counter()
    model = ocnn_jax.fit(ds.x_train, ds.y_train, method=args.method, seeds=args.seeds, mesh=mesh, **kw)
    wall = time.perf_counter() - t
    auroc = model.evaluate(ds.x_test, y=ds.y_test)
    print(f"{model.n_runs} runs ({len(model.classes)} classes x {args.seeds} seeds) on {len(devices)} device(s) "
          f"in {wall:.1f} s incl. compilation; mean AUROC {100 * auroc.mean():.2f} %")
    return {"devices": len(devices), "runs": model.n_runs, "auroc": auroc}


if __name__ == "__main__":
    main()
