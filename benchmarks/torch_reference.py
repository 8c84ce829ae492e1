"""PyTorch reference: one-class Deep SVDD on MNIST the way Ruff et al.'s public code trains it.

Written from the description of ``lukasruff/Deep-SVDD-PyTorch`` (docs/algorithms.md §3, §5, §6), not copied:

* the same networks: the bias-free ``MNIST_LeNet`` encoder (conv 8 → BN → lrelu → pool → conv 4 → BN →
  lrelu → pool → dense 32) and its autoencoder (nearest ×2 upsampling, ``ConvTranspose2d`` with padding
  2, 3, 2, sigmoid); BN ``eps=1e-4, affine=False`` (PyTorch momentum 0.1), leaky ReLU 0.01, PyTorch's
  default initialisation;
* the same optimiser: ``torch.optim.Adam(weight_decay=…)`` (coupled L2 decay, ε = 1e-8) with a
  ``MultiStepLR`` ×0.1 drop; Ruff steps the scheduler at the *start* of each epoch, so the drop lands
  at epoch m−1 (0-based); here the scheduler steps at the end of each epoch with milestone m−1, which
  gives every epoch the same LR without PyTorch's ordering warning;
* AE pretraining with the per-sample sum of squared errors, then the encoder's weights **and BN running
  statistics** copied into the Deep SVDD net (state-dict keys shared with the AE's encoder);
* the centre c from one pass over the training set with the net in ``eval()`` mode, with the ±ε rule;
* the one-class loss mean ‖φ(x) − c‖², scores ‖φ(x) − c‖² in ``eval()`` mode.

Two deliberate differences from Ruff's script, both to compare like with like: every epoch drops its
last partial batch (as ocnn_jax and the Keras reference do; Ruff's DataLoader keeps it), and minibatches
are drawn by indexing one in-memory tensor with a seeded ``torch.randperm`` instead of a per-sample
``DataLoader`` (same sampling, without the per-sample Python overhead, which would only slow PyTorch
down). The data are the arrays of ``benchmarks/common.py``, transposed to NCHW.

Run ``python benchmarks/torch_reference.py --help``. Needs the optional ``torch`` extra
(``pip install torch==2.13.0`` is the CPU wheel on the development machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import (
    ClassData,
    Hyper,
    Phase,
    RunRecord,
    add_common_args,
    auroc,
    center_eps_rule,
    hyper_from_args,
    prepare_classes,
    report_runs,
    steps_per_epoch,
)

__all__ = ["MnistLeNet", "MnistLeNetAutoencoder", "train_deep_svdd", "to_nchw", "main"]

LEAKY_SLOPE = 0.01
BN_EPS = 1e-4


class MnistLeNet(nn.Module):
    """Ruff's bias-free MNIST LeNet encoder, NCHW ``(B, 1, 28, 28) -> (B, rep_dim)``."""

    def __init__(self, rep_dim: int = 32) -> None:
        super().__init__()
        self.rep_dim = rep_dim
        self.pool = nn.MaxPool2d(2, 2)
        self.conv1 = nn.Conv2d(1, 8, 5, bias=False, padding=2)
        self.bn1 = nn.BatchNorm2d(8, eps=BN_EPS, affine=False)
        self.conv2 = nn.Conv2d(8, 4, 5, bias=False, padding=2)
        self.bn2 = nn.BatchNorm2d(4, eps=BN_EPS, affine=False)
        self.fc1 = nn.Linear(4 * 7 * 7, rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.leaky_relu(self.bn1(self.conv1(x)), LEAKY_SLOPE))
        x = self.pool(F.leaky_relu(self.bn2(self.conv2(x)), LEAKY_SLOPE))
        return self.fc1(x.flatten(1))


class MnistLeNetAutoencoder(nn.Module):
    """Ruff's MNIST LeNet autoencoder: the encoder above (same state-dict keys under ``encoder.``) and
    the decoder 32 → 2×4×4 → up 8 → deconv 4 (p2) → up 16 → deconv 8 (p3: 16 → 14) → up 28 → deconv 1
    (p2) → sigmoid."""

    def __init__(self, rep_dim: int = 32) -> None:
        super().__init__()
        self.rep_dim = rep_dim
        self.encoder = MnistLeNet(rep_dim)
        self.deconv1 = nn.ConvTranspose2d(rep_dim // 16, 4, 5, bias=False, padding=2)
        self.bn3 = nn.BatchNorm2d(4, eps=BN_EPS, affine=False)
        self.deconv2 = nn.ConvTranspose2d(4, 8, 5, bias=False, padding=3)
        self.bn4 = nn.BatchNorm2d(8, eps=BN_EPS, affine=False)
        self.deconv3 = nn.ConvTranspose2d(8, 1, 5, bias=False, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        x = z.view(z.size(0), self.rep_dim // 16, 4, 4)
        x = F.interpolate(F.leaky_relu(x, LEAKY_SLOPE), scale_factor=2)
        x = self.deconv1(x)
        x = F.interpolate(F.leaky_relu(self.bn3(x), LEAKY_SLOPE), scale_factor=2)
        x = self.deconv2(x)
        x = F.interpolate(F.leaky_relu(self.bn4(x), LEAKY_SLOPE), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


def to_nchw(x: np.ndarray) -> torch.Tensor:
    """(n, H, W, C) float32 NumPy → (n, C, H, W) contiguous torch tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)), np.float32))


def _optimizer(params, phase: Phase) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """Adam with coupled decay and the ×0.1 drop at epoch m−1 (scheduler stepped after each epoch)."""
    opt = torch.optim.Adam(params, lr=phase.lr, weight_decay=phase.weight_decay, eps=1e-8)
    m = phase.lr_milestone
    if m is None:
        return opt, None
    if m <= 1:  # the drop applies from the first epoch on
        for group in opt.param_groups:
            group["lr"] = 0.1 * phase.lr
        return opt, None
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[m - 1], gamma=0.1)


def _epochs(model: nn.Module, x: torch.Tensor, phase: Phase, gen: torch.Generator, loss_fn,
            times: list[float] | None = None, after_epoch: Callable[[], None] | None = None) -> list[float]:
    """``phase.epochs`` epochs of shuffled full minibatches; returns the mean loss of each epoch and
    appends each epoch's wall seconds to ``times`` when given. ``after_epoch`` runs after each epoch's
    timing, outside it (e.g. an evaluation); the model is put back in training mode afterwards."""
    opt, sched = _optimizer(model.parameters(), phase)
    b = phase.batch_size
    steps = steps_per_epoch(x.shape[0], b)
    if steps < 1:
        raise ValueError(f"{x.shape[0]} training images give no full batch of {b}")
    model.train()
    losses = []
    for _ in range(phase.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
        total = 0.0
        for s in range(steps):
            xb = x[perm[s * b:(s + 1) * b]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, xb)
            loss.backward()
            opt.step()
            total += loss.detach()
        if sched is not None:
            sched.step()
        losses.append(float(total) / steps)
        if times is not None:
            if x.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        if after_epoch is not None:
            after_epoch()
            model.train()
    return losses


def _ae_loss(ae: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.sum((ae(xb) - xb) ** 2, dim=(1, 2, 3)))


def _sse(ae: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per-image reconstruction SSE in inference mode (the DCAE score)."""
    return torch.sum((_eval_apply(ae, x) - x) ** 2, dim=(1, 2, 3)).cpu().numpy()


@torch.no_grad()
def _eval_apply(model: nn.Module, x: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])


def train_deep_svdd(cd: ClassData, seed: int, hyper: Hyper, *, dcae: bool = False,
                    device: str = "cpu", curve: bool = False) -> list[RunRecord]:
    """Train one (class, seed) run: AE pretraining, weight + BN-stat copy, centre, one-class Deep SVDD.

    Args:
      cd: the class's preprocessed data (NHWC; transposed here).
      seed: seeds ``torch.manual_seed`` (init) and the minibatch permutations.
      hyper: epochs, batch sizes, learning rates, decays.
      dcae: also return a "dcae" record (the pretrained AE scored by reconstruction SSE).
      device: torch device ("cpu", or "cuda" with a CUDA build).
      curve: also score the test set after every epoch (the AE by reconstruction SSE in the pretraining
        phase, the Deep SVDD net by its distance to c in the training phase; inference mode, consuming
        no random numbers, so the run trains exactly as without it) and return the test AUROC per epoch
        in ``extra["auroc_curve"]`` ({"pretrain": [...], "train": [...]}). The evaluations are outside
        ``epoch_seconds`` but inside the phase totals of ``seconds``: do not time curve runs.

    Returns:
      [deep_svdd record] (+ [dcae record]). ``seconds``: "pretrain" (AE build + training) and "train"
      (weight copy, centre pass, Deep SVDD training); test scoring is not timed.
    """
    x = to_nchw(cd.x_train).to(device)
    x_test = to_nchw(cd.x_test).to(device)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    torch.manual_seed(int(seed))
    n = int(x.shape[0])

    t0 = time.perf_counter()
    ae = MnistLeNetAutoencoder(hyper.rep_dim).to(device)
    epoch_seconds: dict[str, list[float]] = {"pretrain": [], "train": []}
    curves: dict[str, list[float]] = {"pretrain": [], "train": []}

    def ae_test_auroc() -> None:
        curves["pretrain"].append(auroc(cd.y_test, _sse(ae, x_test)))

    ae_losses = (_epochs(ae, x, hyper.pretrain, gen, _ae_loss, epoch_seconds["pretrain"],
                         ae_test_auroc if curve else None)
                 if hyper.pretrain.epochs > 0 else [])
    if x.is_cuda:
        torch.cuda.synchronize()
    t_pre = time.perf_counter() - t0

    records = []
    if dcae:
        sse = _sse(ae, x_test)
        records.append(RunRecord("torch", "dcae", cd.normal_class, int(seed), n, {"pretrain": t_pre},
                                 hyper.pretrain.epochs * steps_per_epoch(n, hyper.pretrain.batch_size)
                                 * hyper.pretrain.batch_size, auroc(cd.y_test, sse),
                                 {"final_ae_loss": ae_losses[-1] if ae_losses else None,
                                  "epoch_seconds": {"pretrain": epoch_seconds["pretrain"]}}))

    t0 = time.perf_counter()
    net = MnistLeNet(hyper.rep_dim).to(device)
    net.load_state_dict(ae.encoder.state_dict())  # weights AND BN running statistics
    mean = _eval_apply(net, x).mean(dim=0).cpu().numpy()
    c = torch.from_numpy(center_eps_rule(mean, hyper.center_eps)).to(device)

    def svdd_loss(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        return torch.mean(torch.sum((model(xb) - c) ** 2, dim=1))

    def svdd_scores() -> np.ndarray:
        return torch.sum((_eval_apply(net, x_test) - c) ** 2, dim=1).cpu().numpy()

    def svdd_test_auroc() -> None:
        curves["train"].append(auroc(cd.y_test, svdd_scores()))

    losses = (_epochs(net, x, hyper.svdd, gen, svdd_loss, epoch_seconds["train"], svdd_test_auroc if curve else None)
              if hyper.svdd.epochs > 0 else [])
    if x.is_cuda:
        torch.cuda.synchronize()
    t_train = time.perf_counter() - t0

    scores = svdd_scores()
    b_pre, b = hyper.pretrain.batch_size, hyper.svdd.batch_size
    images = (hyper.pretrain.epochs * steps_per_epoch(n, b_pre) * b_pre + hyper.svdd.epochs * steps_per_epoch(n, b) * b)
    records.insert(0, RunRecord(
        "torch", "deep_svdd", cd.normal_class, int(seed), n, {"pretrain": t_pre, "train": t_train}, images,
        auroc(cd.y_test, scores),
        {"final_ae_loss": ae_losses[-1] if ae_losses else None, "final_loss": losses[-1] if losses else None,
         "center_norm": float(torch.linalg.norm(c)), "threads": torch.get_num_threads(),
         "epoch_seconds": epoch_seconds, **({"auroc_curve": curves} if curve else {})},
    ))
    return records


def run(classes: Sequence[ClassData], seeds: Sequence[int], hyper: Hyper, *, dcae: bool = False,
        device: str = "cpu", verbose: bool = True, curve: bool = False) -> list[RunRecord]:
    """Train every (class, seed) run one after another (Python loops, one model at a time)."""
    records: list[RunRecord] = []
    for cd in classes:
        for seed in seeds:
            recs = train_deep_svdd(cd, seed, hyper, dcae=dcae, device=device, curve=curve)
            records.extend(recs)
            if verbose:
                r = recs[0]
                print(f"torch deep_svdd class {r.normal_class} seed {r.seed}: AUROC {100 * r.auroc:.2f}  "
                      f"{r.total_seconds:.1f} s ({r.images / r.total_seconds:,.0f} img/s)", flush=True)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, epochs=150, pretrain_epochs=150, n_train=None, n_test=None)
    parser.add_argument("--dcae", action="store_true", help="also report the pretrained AE (DCAE) AUROC")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--torch-device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument("--curve", action="store_true",
                        help="also record the test AUROC after every epoch (not timed; for accuracy studies)")
    parser.add_argument("--compare-jax", action="store_true",
                        help="also train the same runs with ocnn_jax.fit on the same arrays and list both")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    hyper = hyper_from_args(args)
    data = prepare_classes(args.classes, args.data_dir, n_train=args.n_train, n_test=args.n_test)
    records = run(data, args.seeds, hyper, dcae=args.dcae, device=args.torch_device, curve=args.curve)
    return report_runs("torch_reference", args, hyper, data, records, ["deep_svdd"] + (["dcae"] if args.dcae else []))


if __name__ == "__main__":
    sys.exit(main())
