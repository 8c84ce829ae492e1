"""Which form of each LeNet convolution is fastest on this CPU: the evidence behind ocnn_jax.nn.layers'
CPU choices (issue 17).

Two tables, every layer shape of the MNIST and CIFAR-10 LeNets at batch 200, one thread:

* forward / input-gradient convolutions: XLA's convolution against the fused sum of shifted products
  (``_conv_shift_add``), and which one ``conv2d`` compiles to on CPU (``SHIFT_ADD_MAX_CIN`` /
  ``SHIFT_ADD_MAX_COUT``);
* kernel gradients: XLA's convolution (``_weight_grad_conv``), the FFT correlation (``_weight_grad_fft``),
  an im2col matrix product, one contraction per kernel tap, and for one input channel the tap-matrix
  product (``_weight_grad_taps``); and which one ``conv2d``'s gradient compiles to on CPU.

Each cell is the fastest of ``--repeats`` timed calls after one warm-up call (compile apart), in ms;
every alternative is checked against the convolution (largest relative difference).

    python benchmarks/conv_forms.py --md benchmarks/results/conv_forms_cpu.md \
        --out benchmarks/results/conv_forms_cpu.json

Needs only ocnn_jax. Run it alone on the machine (it is short: about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from common import environment, limit_threads, markdown_table, write_outputs

#: (name, H, C_in, k, C_out, padding) of every convolution call of the MNIST / CIFAR-10 LeNets' steps: the
#: forward convs, the input gradients (C_in and C_out swapped) and the decoders' sub-pixel up-convs
#: (3x3 phase kernels with 4 x C_out channels).
CONV_SHAPES: tuple[tuple[str, int, int, int, int, int], ...] = (
    ("MNIST conv1", 28, 1, 5, 8, 2),
    ("MNIST conv2", 14, 8, 5, 4, 2),
    ("MNIST conv2, input grad", 14, 4, 5, 8, 2),
    ("MNIST deconv1 (sub-pixel)", 4, 2, 3, 16, 1),
    ("MNIST deconv2 (sub-pixel)", 8, 4, 3, 32, 1),
    ("MNIST deconv2, input grad", 7, 32, 3, 4, 1),
    ("MNIST deconv3 (sub-pixel)", 14, 8, 3, 4, 1),
    ("MNIST deconv3, input grad", 14, 4, 3, 8, 1),
    ("CIFAR-10 conv1", 32, 3, 5, 32, 2),
    ("CIFAR-10 conv2", 16, 32, 5, 64, 2),
    ("keras_compat MNIST CAE conv1", 28, 1, 3, 16, 1),
)

#: The kernel gradients timed: those of the forward layers (not the input-gradient rows) on maps of at
#: least 8 rows (the 4x4 code-side up-conv's is negligible).
WGRAD_SHAPES: tuple[tuple[str, int, int, int, int, int], ...] = tuple(
    s for s in CONV_SHAPES if "input grad" not in s[0] and s[1] >= 8
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=200, help="images per call (default 200, the training batch)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per cell (default 15; the fastest counts)")
    parser.add_argument("--threads", type=int, default=1, help="XLA CPU threads (default 1: per core)")
    parser.add_argument("--out", default=None, help="write the results as JSON to this path")
    parser.add_argument("--md", default=None, help="also write the tables as Markdown to this path")
    return parser.parse_args(argv)


def _best_ms(fn: Callable, args: tuple, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def im2col_weight_grad(xp, g):
    """Kernel gradient as one matrix product of the im2col patches (k·k·C_in per output pixel) with g."""
    import jax.numpy as jnp

    k = xp.shape[1] - g.shape[1] + 1
    ho, wo = g.shape[1], g.shape[2]
    patches = jnp.stack([xp[:, i : i + ho, j : j + wo, :] for i in range(k) for j in range(k)], axis=3)
    return jnp.einsum("bhwtc,bhwo->tco", patches, g).reshape(k, k, xp.shape[3], g.shape[3])


def tap_weight_grad(xp, g):
    """Kernel gradient as k·k contractions, one per kernel tap."""
    import jax.numpy as jnp

    k = xp.shape[1] - g.shape[1] + 1
    ho, wo = g.shape[1], g.shape[2]
    taps = [jnp.einsum("bhwc,bhwo->co", xp[:, i : i + ho, j : j + wo, :], g) for i in range(k) for j in range(k)]
    return jnp.stack(taps).reshape(k, k, xp.shape[3], g.shape[3])


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    limit_threads(args.threads)  # before jax is imported, as throughput.py --threads
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ocnn_jax.nn import conv2d
    from ocnn_jax.nn import layers

    rng = np.random.default_rng(0)
    conv_rows = []
    for name, h, cin, k, cout, p in CONV_SHAPES:
        x = jnp.asarray(rng.random((args.batch, h, h, cin), np.float32))
        w = jnp.asarray(rng.normal(size=(k, k, cin, cout)).astype(np.float32))
        conv = jax.jit(lambda a, b, p=p: layers._conv(a, b, p))
        shift = jax.jit(lambda a, b, p=p: layers._conv_shift_add(a, b, p))
        want = conv(x, w)
        err = float(jnp.abs(shift(x, w) - want).max() / jnp.abs(want).max())
        hlo = jax.jit(lambda a, b, p=p: conv2d(a, b, p)).lower(x, w).compile().as_text()
        t_conv, t_shift = _best_ms(conv, (x, w), args.repeats), _best_ms(shift, (x, w), args.repeats)
        conv_rows.append({
            "layer": name, "shape": f"{h}x{h}x{cin} -> {cout} (k={k})", "conv_ms": t_conv, "shift_add_ms": t_shift,
            "speedup": t_conv / t_shift, "rel_diff": err,
            "conv2d_uses": "convolution" if "convolution(" in hlo else "shift-add",
        })
        print(f"{name:28s} conv {t_conv:8.2f} ms  shift-add {t_shift:8.2f} ms  -> {conv_rows[-1]['conv2d_uses']}")

    forms = {"conv": layers._weight_grad_conv, "fft": layers._weight_grad_fft,
             "im2col": im2col_weight_grad, "taps": tap_weight_grad, "tap_matrix": layers._weight_grad_taps}
    wgrad_rows = []
    for name, h, cin, k, cout, p in WGRAD_SHAPES:
        xp = jnp.asarray(rng.random((args.batch, h + 2 * p, h + 2 * p, cin), np.float32))
        g = jnp.asarray(rng.normal(size=(args.batch, h + 2 * p - k + 1, h + 2 * p - k + 1, cout)).astype(np.float32))
        want = jax.jit(layers._weight_grad_conv)(xp, g)
        row = {"layer": name, "shape": f"{h}x{h}x{cin} -> {cout} (k={k})"}
        for form, fn in forms.items():
            if form == "tap_matrix" and cin != 1:  # one input channel only
                row[f"{form}_ms"] = row[f"{form}_rel_diff"] = None
                continue
            jf = jax.jit(fn)
            row[f"{form}_ms"] = _best_ms(jf, (xp, g), args.repeats)
            row[f"{form}_rel_diff"] = float(jnp.abs(jf(xp, g) - want).max() / jnp.abs(want).max())
        row["fastest"] = min((f for f in forms if row[f"{f}_ms"] is not None), key=lambda f: row[f"{f}_ms"])
        x = jnp.zeros((args.batch, h, h, cin))
        grad_hlo = jax.jit(jax.grad(lambda w, x=x, p=p: jnp.sum(conv2d(x, w, p)))).lower(
            jnp.zeros((k, k, cin, cout))).compile().as_text()
        row["conv2d_uses"] = ("fft" if "fft" in grad_hlo else "tap_matrix" if "convolution(" not in grad_hlo
                              else "conv")
        wgrad_rows.append(row)
        print(f"{name:28s} " + "  ".join(f"{f} {row[f + '_ms']:8.2f}" for f in forms if row[f + "_ms"] is not None)
              + f"  -> {row['conv2d_uses']}")

    cmd = "python benchmarks/conv_forms.py " + " ".join(argv if argv is not None else sys.argv[1:])
    ms = "{:.2f}"
    text = "\n\n".join([
        "## Convolution forms on XLA:CPU (ms per call, batch %d, %d thread(s))" % (args.batch, args.threads),
        f"`{cmd}`",
        "### Forward and input-gradient convolutions",
        markdown_table(conv_rows, [("layer", "layer", "{}"), ("shape", "shape", "{}"), ("XLA conv", "conv_ms", ms),
                                   ("shift-add", "shift_add_ms", ms), ("conv ÷ shift-add", "speedup", ms),
                                   ("rel. diff", "rel_diff", "{:.0e}"), ("conv2d on CPU uses", "conv2d_uses", "{}")]),
        "### Kernel gradients",
        markdown_table(wgrad_rows, [("layer", "layer", "{}"), ("shape", "shape", "{}")]
                       + [(f, f"{f}_ms", ms) for f in forms]
                       + [("fastest", "fastest", "{}"), ("conv2d on CPU uses", "conv2d_uses", "{}")]),
        f"jax {jax.__version__}; shift-add is used on CPU for C_in <= {layers.SHIFT_ADD_MAX_CIN} and "
        f"C_out <= {layers.SHIFT_ADD_MAX_COUT}; the FFT kernel gradient for padded inputs of at least "
        f"{layers.FFT_WGRAD_MIN_SIZE} rows and columns, the tap-matrix product for one input channel "
        "(— : a form for one input channel only).",
    ])
    payload = {"args": vars(args), "environment": environment(),
               "convolutions": conv_rows, "weight_gradients": wgrad_rows}
    write_outputs(args.out, args.md, payload, text)
    print(text)
    return payload


if __name__ == "__main__":
    main()
