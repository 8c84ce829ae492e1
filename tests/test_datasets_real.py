"""Checks on the real MNIST and CIFAR-10 copies in $OCNN_SHARED_DATA (skipped when it is unset).

Set ``OCNN_SHARED_DATA`` to point elsewhere. Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ocnn_jax.datasets as ds

from data_fixtures import shared_data_dir

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def shared() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data directory absent (set OCNN_SHARED_DATA to a folder holding mnist/ and cifar10/)")
    return root


def test_mnist_official_files(shared, monkeypatch):
    monkeypatch.delenv("OCNN_JAX_DATA_DIR", raising=False)
    m = ds.load("mnist", data_dir=shared)  # finds mnist/ below the root; md5 + sha256 verified
    assert m.x_train.shape == (60000, 28, 28, 1) and m.x_test.shape == (10000, 28, 28, 1)
    assert m.x_train.dtype == np.uint8 and m.x_train.max() == 255
    assert list(m.class_counts()) == MNIST_TRAIN and list(m.class_counts("test")) == MNIST_TEST
    assert m.y_train[0] == 5 and m.y_test[0] == 7
    print(f"\nMNIST train counts {m.class_counts().tolist()}, test counts {m.class_counts('test').tolist()}")
    monkeypatch.setenv("OCNN_JAX_DATA_DIR", str(shared))  # the env-variable route finds it too
    assert ds.load("mnist").source.endswith("mnist")


def test_cifar10_npz(shared):
    c = ds.load("cifar10", data_dir=shared)  # content-verified: CIFAR10_CONTENT
    assert c.x_train.shape == (50000, 32, 32, 3) and c.x_test.shape == (10000, 32, 32, 3)
    assert list(c.class_counts()) == [5000] * 10 and list(c.class_counts("test")) == [1000] * 10
    assert list(c.y_train[:10]) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert list(c.y_test[:10]) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    mean = c.x_train.reshape(-1, 3).mean(0, dtype=np.float64)
    np.testing.assert_allclose(mean, [125.307, 122.950, 113.865], atol=1e-3)
    print(f"\nCIFAR-10 train counts {c.class_counts().tolist()}, test counts {c.class_counts('test').tolist()}")


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    import ocnn_jax.datasets as D
    from ocnn_jax.datasets.protocol import one_class_stack, one_class_split
    mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak so far, MiB
    def now():  # current resident set, MiB (Linux); the peak where /proc is missing
        try:
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
        except OSError:
            return mb()
    base = now(); t = time.time()
    c = D.load("cifar10", data_dir=sys.argv[1])
    load_peak, t_load = mb(), time.time() - t
    t = time.time()
    if sys.argv[2] == "stack":
        out = one_class_stack(c)
        arrays = [out.x, out.x_test_base]
    else:
        out = one_class_split(c, 0, contamination=0.1, key_or_seed=0)
        arrays = [out.x_train, out.x_test]
    print(json.dumps(dict(base=base, load_peak=load_peak, peak=mb(), t_load=t_load, t_prep=time.time() - t,
                          uint8_mb=(c.x_train.nbytes + c.x_test.nbytes) / 2**20,
                          out_mb=sum(a.nbytes for a in arrays) / 2**20)))
    """
)


@pytest.mark.parametrize("what", ["stack", "split"])
def test_cifar10_memory_at_most_two_copies(shared, what):
    """Loading + GCN/min-max of CIFAR-10 holds at most two float32 copies of the data at once."""
    r = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(shared / "cifar10"), what],
                       capture_output=True, text=True, timeout=300, check=True)
    f = json.loads(r.stdout.strip().splitlines()[-1])
    f32_copy = 60000 * 32 * 32 * 3 * 4 / 2**20  # one float32 copy of train + test: ~703 MiB
    grown = f["peak"] - f["base"]
    print(f"\nCIFAR-10 {what}: peak RSS {f['peak']:.0f} MiB (resident after imports {f['base']:.0f}, peak after load "
          f"{f['load_peak']:.0f}); grew {grown:.0f} MiB = {grown / f32_copy:.2f} float32 copies; uint8 data "
          f"{f['uint8_mb']:.0f} MiB, outputs {f['out_mb']:.0f} MiB; load {f['t_load']:.1f}s, preprocess {f['t_prep']:.1f}s")
    assert grown < 2 * f32_copy


def test_mnist_one_class_split_uses_official_splits(shared):
    from ocnn_jax.datasets.protocol import one_class_split

    m = ds.load("mnist", data_dir=shared / "mnist")
    s = one_class_split(m, 0, contamination=0.1, key_or_seed=0)
    assert (~s.train_is_anomaly).sum() == 5923 and s.train_is_anomaly.sum() == 658  # round(0.1*5923/0.9)
    assert len(s.x_test) == 10000 and s.y_test.sum() == 10000 - 980
    np.testing.assert_array_equal(s.y_test, (m.y_test != 0).astype(np.int32))
    assert float(s.affine.shift) == np.float32(-0.8826567)


def test_mnist_recompressed_official_files_load(shared, tmp_path):
    """The real MNIST files re-compressed with another gzip header pass the content check; their .gz
    digests no longer match, so this is the content digests in IDX_SPECS at work."""
    import shutil

    from data_fixtures import regzip

    for f in (shared / "mnist").iterdir():
        if f.name.endswith(".gz"):
            shutil.copyfile(f, tmp_path / f.name)
            regzip(tmp_path / f.name, level=1)
            assert ds.file_digest(tmp_path / f.name, "md5") != ds.file_digest(f, "md5")
    m = ds.load("mnist", data_dir=tmp_path)
    assert list(m.class_counts()) == MNIST_TRAIN and list(m.class_counts("test")) == MNIST_TEST
