"""Writers of small synthetic data-set files in the official formats, for the dataset tests, and small
in-memory sets for the method tests.

Every writer returns the arrays it wrote so a test can check that loading gives them back exactly.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import os
import pickle
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ocnn_jax.datasets import write_idx

MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def shared_data_dir() -> Path | None:
    """The folder named by $OCNN_SHARED_DATA (holding mnist/ and cifar10/) when it exists, else None:
    the tests that check the real files run only where a developer points them at a copy."""
    env = os.environ.get("OCNN_SHARED_DATA")
    return Path(env).resolve() if env and Path(env).is_dir() else None


def isolate_data_env(monkeypatch, cache_dir: Path) -> None:
    """No data-dir variables, ``cache_dir`` as the (empty) cache home and no TFDS, whatever the machine
    has: what the loader tests start from (``monkeypatch`` is pytest's fixture)."""
    from ocnn_jax.datasets import registry

    monkeypatch.delenv("OCNN_JAX_DATA_DIR", raising=False)
    monkeypatch.delenv("OCNN_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))
    monkeypatch.setattr(registry, "tfds_available", lambda: False)


def random_images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)


def balanced_labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    y = np.arange(n) % k
    rng.shuffle(y)
    return y.astype(np.uint8)


def write_idx_set(
    d: Path,
    *,
    n_train: int = 30,
    n_test: int = 20,
    size: int = 28,
    k: int = 10,
    gz: bool = True,
    seed: int = 0,
    names: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Four IDX files with MNIST's names (``.gz`` when ``gz``) in ``d``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    names = names or MNIST_NAMES
    d.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": random_images(rng, n_train, (size, size)),
        "train_labels": balanced_labels(rng, n_train, k),
        "test_images": random_images(rng, n_test, (size, size)),
        "test_labels": balanced_labels(rng, n_test, k),
    }
    for role, a in arrays.items():
        write_idx(d / (names[role] + (".gz" if gz else "")), a)
    return arrays


def write_cifar_npz(d: Path, *, n_train: int = 40, n_test: int = 20, seed: int = 0, y_col: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = random_images(rng, n, (32, 32, 3))
        y = balanced_labels(rng, n, 10)
        np.savez_compressed(d / f"{split}.npz", x=x, y=y[:, None] if y_col else y)
        out[f"x_{split}"], out[f"y_{split}"] = x, y
    return out


def _cifar_batches(rng: np.random.Generator, per_batch: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = (random_images(rng, per_batch, (32, 32, 3)), balanced_labels(rng, per_batch, 10))
    return batches


def _py_batch_bytes(x: np.ndarray, y: np.ndarray, name: str) -> bytes:
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # official row layout: all R, then G, then B
    d = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": rows,
         b"filenames": [f"img_{i}.png".encode() for i in range(len(x))]}
    return pickle.dumps(d, protocol=2)


def _bin_batch_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    return np.concatenate([y[:, None].astype(np.uint8), rows], axis=1).tobytes()


def _joined(batches) -> dict[str, np.ndarray]:
    tr = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    return {
        "x_train": np.concatenate([b[0] for b in tr]),
        "y_train": np.concatenate([b[1] for b in tr]),
        "x_test": batches["test_batch"][0],
        "y_test": batches["test_batch"][1],
    }


def write_cifar_py_dir(d: Path, *, per_batch: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """``d/cifar-10-batches-py/`` with six pickled batches; returns the joined arrays."""
    batches = _cifar_batches(np.random.default_rng(seed), per_batch)
    folder = d / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in batches.items():
        (folder / name).write_bytes(_py_batch_bytes(x, y, name))
    return _joined(batches)


def write_cifar_tar(d: Path, *, per_batch: int = 6, seed: int = 0, binary: bool = False,
                    name: str | None = None) -> dict[str, np.ndarray]:
    """The official archive layout (python or binary version) as a .tar.gz; returns the joined arrays."""
    batches = _cifar_batches(np.random.default_rng(seed), per_batch)
    folder = "cifar-10-batches-bin" if binary else "cifar-10-batches-py"
    name = name or ("cifar-10-binary.tar.gz" if binary else "cifar-10-python.tar.gz")
    d.mkdir(parents=True, exist_ok=True)
    with tarfile.open(d / name, "w:gz") as tar:
        for bname, (x, y) in batches.items():
            raw = _bin_batch_bytes(x, y) if binary else _py_batch_bytes(x, y, bname)
            info = tarfile.TarInfo(f"{folder}/{bname}{'.bin' if binary else ''}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return _joined(batches)


def write_cifar_bin_dir(d: Path, *, per_batch: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    batches = _cifar_batches(np.random.default_rng(seed), per_batch)
    folder = d / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in batches.items():
        (folder / f"{name}.bin").write_bytes(_bin_batch_bytes(x, y))
    return _joined(batches)


def write_image_folder(root: Path, layout: dict[str, dict[str, int]], *, size: tuple[int, int] = (8, 8),
                       mode: str = "RGB", fmt: str = "PNG", seed: int = 0) -> dict[str, dict[str, list[np.ndarray]]]:
    """``root/<split>/<class>/img_###.png`` for ``layout = {split: {class: count}}``; a class of "" puts
    the images directly in ``root/<split>`` (or in ``root`` when split is "" too)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for split, classes in layout.items():
        out[split] = {}
        for cls, count in classes.items():
            d = root / split / cls if cls else (root / split if split else root)
            d.mkdir(parents=True, exist_ok=True)
            imgs = []
            for i in range(count):
                shape = (size[0], size[1]) + ((3,) if mode == "RGB" else ())
                a = rng.integers(0, 256, size=shape, dtype=np.uint8)
                Image.fromarray(a).save(d / f"img_{i:03d}.{fmt.lower()}", format=fmt)
                imgs.append(a)
            out[split][cls] = imgs
    return out


def gzip_bytes(raw: bytes) -> bytes:
    return gzip.compress(raw)


def regzip(path: Path, *, mtime: int = 1_234_567_890, member_name: str = "repacked", level: int = 6) -> bytes:
    """Re-compress the gzip file ``path`` in place with another header (a stored member name and
    mtime, as OS packages do) and level; the decompressed content is unchanged. Returns that content."""
    raw = gzip.decompress(path.read_bytes())
    buf = io.BytesIO()
    with gzip.GzipFile(filename=member_name, mode="wb", fileobj=buf, mtime=mtime, compresslevel=level) as f:
        f.write(raw)
    path.write_bytes(buf.getvalue())
    return raw


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve the folder ``root`` over HTTP on 127.0.0.1 (ephemeral port), in a thread.

    Yields ``(base URL ending in "/", list of the paths requested so far)``.
    """
    requests: list[str] = []
    handler = functools.partial(type("Handler", (_QuietHandler,), {"requests": requests}), directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def tiny_rcae_sweep(data_seed: int, set_seed: int = 0):
    """The smallest repository λ sweep that has a stage to resume after: a 20-image MNIST-shaped
    transductive set (16 normal, 4 anomalies; 18 fit rows after validation_split 0.1; pixels uniform
    from ``np.random.default_rng(data_seed)``, ``set_seed`` as the set's data seed) and a two-stage
    config (λ 0 then 1) of one epoch at batch 9. Returns (KerasCompatSet, KerasCompatConfig)."""
    from ocnn_jax.datasets.keras_compat import KerasCompatSet
    from ocnn_jax.methods.keras_compat import KerasCompatConfig

    x = np.random.default_rng(data_seed).random((20, 28, 28, 1)).astype(np.float32)
    y = (np.arange(20) >= 16).astype(np.int32)
    s = KerasCompatSet(x, y, x, y, None, 0, set_seed, "mnist")
    return s, KerasCompatConfig(rcae_epochs=1, rcae_batch=9, rcae_lambdas=(0.0, 1.0))


def import_keras_port():
    """Keras for the tests of the Keras port of the original procedure (``benchmarks/keras_original.py``):
    TensorFlow's backend where TensorFlow is installed, else Keras's JAX backend (the port uses only
    backend-neutral Keras); skips the calling module when Keras is missing. Must run before the first
    ``import keras`` of the process: the backend is chosen then."""
    import importlib.util
    import sys

    import pytest

    if "keras" not in sys.modules and importlib.util.find_spec("tensorflow") is None:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")
