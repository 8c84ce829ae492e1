"""Model files: load accepts what save was given and refuses every damaged or foreign file with a
ModelFileError naming the path (issue 14, item 6); seeds never wrap (item 4); complex input and the
Model repr (item 7)."""

import io
import zipfile

import numpy as np
import pytest

import ocnn_jax
from ocnn_jax.core.errors import ModelFileError

FAST = dict(epochs=2, batch_size=16, lr=1e-3, pretrain=False, progress=False)
TOP_SEED = 2**32 - 1


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A two-run MLP Deep SVDD model (it has batch_stats) saved as d/model.npz, and its scores. The
    second run has the largest seed: it must be a run of its own, not seed 0 again."""
    x = np.random.default_rng(0).normal(size=(60, 10)).astype(np.float32)
    model = ocnn_jax.fit(x, seeds=[0, TOP_SEED], **FAST)
    d = tmp_path_factory.mktemp("model")
    path = model.save(d / "model")
    return path, x, model.score(x)


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _rewrite(src, dst, change):
    arrays = _arrays(src)
    change(arrays)
    with open(dst, "wb") as fh:
        np.savez(fh, **arrays)
    return dst


def test_load_accepts_the_path_given_to_save(saved):
    path, x, scores = saved
    assert path.endswith("model.npz")
    for given in (path, path[: -len(".npz")]):
        np.testing.assert_array_equal(ocnn_jax.load(given).score(x), scores)
    with pytest.raises(FileNotFoundError, match=r"no model file at '.*nothing' or '.*nothing\.npz'"):
        ocnn_jax.load(path[: -len("model.npz")] + "nothing")


def _truncated(raw):
    return raw[: len(raw) // 2]


def _damaged_member(raw):  # flip bytes inside the first array's data: the CRC check fails
    b = bytearray(raw)
    b[200:240] = bytes(40)
    return bytes(b)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda raw: b"", "is empty"),
        (_truncated, "not a zip|truncated"),
        (_damaged_member, "truncated or corrupt"),
        (lambda raw: np.random.default_rng(1).bytes(5000), "not a model archive"),
        (lambda raw: _npy_bytes(np.zeros(3)), r"single NumPy array \(\.npy\)"),
        (lambda raw: _npz_bytes(a=np.zeros(3)), "no __meta__ entry"),
        (lambda raw: _npz_bytes(__meta__=np.frombuffer(b"{not json", np.uint8)), "not valid UTF-8 JSON"),
        (lambda raw: _pickled_npz(), "pickles"),
    ],
    ids=["empty", "truncated", "damaged", "random", "npy", "foreign", "bad-header", "pickle"],
)
def test_damaged_or_foreign_files_raise_model_file_error_naming_the_path(saved, tmp_path, make, match):
    path, _, _ = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(make(open(path, "rb").read()))
    with pytest.raises(ModelFileError, match=match) as info:
        ocnn_jax.load(bad)
    assert str(bad) in str(info.value) and info.value.path == str(bad)
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _pickled_npz():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__meta__.npy", _npy_bytes(np.frombuffer(b"{}", np.uint8)))
        z.writestr("obj.npy", _npy_bytes(np.array([{"a": 1}], dtype=object)))
    return buf.getvalue()


def _set(name, value):
    def change(arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value

    return change


def _drop(name):
    return lambda arrays: arrays.pop(name)


def _meta(**updates):
    import json

    def change(arrays):
        meta = json.loads(arrays["__meta__"].tobytes())
        meta.update(updates)
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    return change


def _with_nan(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


@pytest.mark.parametrize(
    "change, match",
    [
        (_drop("thresholds"), "array 'thresholds' is missing"),
        (_drop("runs/class_index"), "array 'runs/class_index' is missing"),
        (_set("variables/batch_stats/bn0/mean", lambda a: a[:, :1]), r"'variables/batch_stats/bn0/mean' has shape \(2, 1\), expected \(2, 64\)"),
        (_set("variables/center", lambda a: a.astype(np.float64)), "has dtype float64, expected float32"),
        (_set("variables/center", _with_nan), r"'variables/center' holds 1 non-finite value\(s\) \(NaN\)"),
        (_set("thresholds", lambda a: np.full_like(a, np.inf)), r"'thresholds' holds 2 non-finite"),
        (_set("preprocessing/inv_scale", _with_nan), "'preprocessing/inv_scale' holds 1 non-finite"),
        (_set("runs/class_index", lambda a: a + 5), "runs/class_index holds values outside"),
        (_set("extra/array", np.zeros(2)), "unexpected array 'extra/array'"),
        (_meta(format_version=99), "format version 99; this library reads version 1"),
        (_meta(method="svm"), "unknown method 'svm'"),
        (_meta(config={"type": "DeepSVDDConfig", "nonsense": 1}), "config cannot be rebuilt"),
        (_meta(sample_shape=[11]), "input_shape .* does not match sample_shape"),
    ],
    ids=["no-thresholds", "no-class-index", "batch-stats-shape", "dtype", "nan-weight", "inf-threshold",
         "nan-preprocessing", "class-index-range", "unexpected", "version", "method", "config", "sample-shape"],
)
def test_inconsistent_model_files_raise_model_file_error(saved, tmp_path, change, match):
    path, _, _ = saved
    bad = _rewrite(path, tmp_path / "bad.npz", change)
    with pytest.raises(ModelFileError, match=match) as info:
        ocnn_jax.load(bad)
    assert str(bad) in str(info.value)


def test_every_network_weight_is_required(saved, tmp_path):
    path, _, _ = saved
    names = [k for k in _arrays(path) if k.startswith("variables/params/")]
    assert len(names) >= 2
    for name in names:
        bad = _rewrite(path, tmp_path / "bad.npz", _drop(name))
        with pytest.raises(ModelFileError, match=f"array '{name}' is missing"):
            ocnn_jax.load(bad)


def test_seeds_outside_uint32_are_refused_never_wrapped(saved):
    path, x, scores = saved
    with pytest.raises(ValueError, match=r"seeds must lie in 0 … 2\*\*32 - 1 .* got 4294967296"):
        ocnn_jax.fit(x, seeds=[0, 2**32], **FAST)
    with pytest.raises(ValueError, match=r"seeds must lie in 0"):
        ocnn_jax.fit(x, method="isoforest", seeds=[2**40], progress=False)
    with pytest.raises(ValueError, match=r"at most 4294967296 seeds"):
        ocnn_jax.fit(x, seeds=2**32 + 1, **FAST)
    # The largest seed is a run of its own (before, 2**32 wrapped to 0: two identical runs).
    assert ocnn_jax.load(path).runs[1]["seed"] == TOP_SEED and not np.array_equal(scores[0], scores[1])


def test_complex_input_is_refused():
    x = np.ones((20, 4), np.complex64)
    with pytest.raises(TypeError, match="x must hold real numbers, got dtype complex64"):
        ocnn_jax.fit(x, seeds=1, **FAST)


def test_model_repr_is_one_short_line(saved):
    path, _, _ = saved
    text = repr(ocnn_jax.load(path))
    assert "\n" not in text and len(text) < 200
    assert text.startswith("Model(method='deep_svdd', runs=2 (classes [None] × seeds [0, 4294967295])")
    shallow = ocnn_jax.fit(np.random.default_rng(0).normal(size=(30, 3)), method="kde", seeds=1, progress=False)
    assert repr(shallow).startswith("ShallowModel(method='kde', runs=1") and "\n" not in repr(shallow)
