"""Checkpoint/resume of the chunked driver: an interrupted run resumes to the identical result."""

import json
import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ocnn_jax.core.batching import eval_chunking, stack_classes
from ocnn_jax.core.errors import Interrupted
from ocnn_jax.engine import Checkpointer, Position
from ocnn_jax.engine._interrupt import deferred_sigint
from ocnn_jax.core.config import OptimConfig
from ocnn_jax.methods import DeepSVDDConfig
from ocnn_jax.methods.deep_svdd import make_deep_svdd
from ocnn_jax.engine import execute
from ocnn_jax.nn import make_backbone
from ocnn_jax.core.program import RunSpec


class Interrupt(Exception):
    pass


class DyingCheckpointer(Checkpointer):
    """Saves like a Checkpointer, then 'dies' (raises) after ``die_after`` saves."""

    def __init__(self, path, die_after):
        super().__init__(path)
        self.die_after = die_after

    def save(self, pos, state, metrics):
        super().save(pos, state, metrics)
        if self.saves >= self.die_after:
            raise Interrupt(pos)


def _setup():
    r = np.random.default_rng(0)
    data = stack_classes([r.random((30, 6)).astype(np.float32), r.random((22, 6)).astype(np.float32)], 16)
    cfg = DeepSVDDConfig(objective="soft-boundary", train=OptimConfig(1e-3, 3, 1e-4, 8, 6),
                         pretrain=OptimConfig(1e-3, 2, 1e-4, 8, 4), warmup_epochs=2, score_batch_size=16)
    n_chunks, _ = eval_chunking(data.n_max, 16)
    prog = make_deep_svdd(make_backbone("mlp", (6,), rep_dim=3, hidden=(8,)), cfg, data.n_max, n_chunks)
    keys = jax.vmap(jax.random.key)(jnp.arange(3))
    runs = RunSpec(jnp.asarray([0, 1, 1], jnp.int32), jnp.full((3,), 0.1, jnp.float32))
    info = [{"normal_class": c, "seed": i} for i, c in enumerate([0, 1, 1])]
    return prog, keys, runs, data, info


def _run(ckpt=None):
    prog, keys, runs, data, info = _setup()
    return execute(prog, keys, runs, data, width=None, run_info=info, images_per_epoch=[1, 1],
                   progress=False, target_chunks=2, checkpoint=ckpt)


@pytest.fixture(scope="module")
def reference():
    return _run()


# Saves happen at (pretrain, epoch 2), (pretrain, 4), (train, 0) after the centre, (train, 3), (train, 6):
# die mid-phase, right after a phase transition, and mid-way through the second phase.
@pytest.mark.parametrize("die_after", [1, 3, 4])
def test_interrupted_run_resumes_to_identical_result(tmp_path, reference, die_after):
    ref_state, ref_metrics, _ = reference
    path = tmp_path / "ckpt.npz"
    with pytest.raises(Interrupt):
        _run(DyingCheckpointer(path, die_after))
    assert path.exists()
    resumed = Checkpointer(path)
    state, metrics, _ = _run(resumed)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                 (state.params, state.batch_stats, state.center, state.radius),
                 (ref_state.params, ref_state.batch_stats, ref_state.center, ref_state.radius))
    assert metrics.keys() == ref_metrics.keys()
    for k in metrics:
        np.testing.assert_array_equal(metrics[k], ref_metrics[k])


def test_checkpoint_of_another_run_is_rejected(tmp_path):
    path = tmp_path / "ckpt.npz"
    prog, keys, runs, data, info = _setup()
    Checkpointer(path).save(Position(0, 1), {"a": jnp.zeros(3)}, {})
    with pytest.raises(ValueError, match="does not match"):
        _run(Checkpointer(path))
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot be read"):
        _run(Checkpointer(path))


def test_checkpoint_of_another_identity_is_rejected(tmp_path):
    path = tmp_path / "ckpt.npz"
    Checkpointer(path, identity="sweep abc, chunk 1").save(Position(0, 1), {"a": jnp.zeros(3)}, {})
    with pytest.raises(ValueError, match="belongs to another run .*'sweep abc, chunk 1'"):
        Checkpointer(path, identity="sweep abc, chunk 0").load(lambda pos: {"a": jnp.zeros(3)})
    assert Checkpointer(path, identity="sweep abc, chunk 1").load(lambda pos: {"a": jnp.zeros(3)})[0] == (0, 1)


class InterruptingCheckpointer(Checkpointer):
    """Delivers SIGINT to this process right after its ``n``-th save, as a user pressing Ctrl-C."""

    def __init__(self, path, n):
        super().__init__(path)
        self.n = n

    def save(self, pos, state, metrics):
        super().save(pos, state, metrics)
        if self.saves == self.n:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("n", [1])
def test_sigint_stops_between_calls_with_the_checkpoint_written(tmp_path, reference, n):
    ref_state, ref_metrics, _ = reference
    path = tmp_path / "ckpt.npz"
    with deferred_sigint(), pytest.raises(Interrupted) as info:
        _run(InterruptingCheckpointer(path, n))
    assert info.value.checkpoint == str(path) and isinstance(info.value, KeyboardInterrupt)
    state, metrics, _ = _run(Checkpointer(path))
    np.testing.assert_array_equal(np.asarray(state.center), np.asarray(ref_state.center))
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), state.params, ref_state.params)
    for k in metrics:
        np.testing.assert_array_equal(metrics[k], ref_metrics[k])


def test_sharded_checkpoint_is_the_newest_position_every_process_wrote(tmp_path):
    """Multi-process checkpoints (one shard file per process and position, engine._checkpoint): load
    assembles the rows of the newest position for which all processes wrote their file; a position
    that one process did not finish (killed while writing) is skipped. The files are written here by
    hand in the format ``_save_shards`` uses (the 2-process sweep tests write real ones)."""
    from ocnn_jax.engine._checkpoint import atomic_savez

    ck = Checkpointer(str(tmp_path / "c.npz"), identity="chunk-A")
    full = np.arange(12, dtype=np.float32).reshape(4, 3)

    def write(epoch, process, rows, identity="chunk-A"):
        meta = {"phase": 1, "epoch": epoch, "treedef": str(jax.tree.flatten((0, 0))[1]),
                "shapes": [[[4, 3], "float32"], [[], "int32"]], "identity": identity}
        arrays = {"leaf/0/0": full[rows] + epoch, "start/0/0": np.asarray(rows.start, np.int64),
                  "metrics/train/loss": np.full((4, epoch), 0.5, np.float32),
                  "__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
        if process == 0:  # the replicated scalar: written once, by the process holding replica 0
            arrays.update({"leaf/1/0": np.asarray(epoch, np.int32), "start/1/0": np.asarray(0, np.int64)})
        atomic_savez(os.path.join(ck.shard_dir, f"pos-1-{epoch:06d}.p{process}of2.npz"), arrays)

    template = lambda pos: (jax.ShapeDtypeStruct((4, 3), jnp.float32), jax.ShapeDtypeStruct((), jnp.int32))  # noqa: E731
    assert not ck.exists() and ck.load(template) is None
    write(2, 1, slice(2, 4))
    assert not ck.exists()  # process 0's file of epoch 2 is missing: no complete position yet
    write(2, 0, slice(0, 2))
    write(3, 0, slice(0, 2))  # epoch 3: process 1 was killed before its file was renamed into place
    pos, state, metrics = ck.load(template)
    assert pos == Position(1, 2) and int(state[1]) == 2  # (weights, step)
    np.testing.assert_array_equal(np.asarray(state[0]), full + 2)
    assert metrics["train/loss"].shape == (4, 2)
    write(3, 1, slice(2, 4), identity="chunk-B")  # a complete newer position of another run is refused
    with pytest.raises(ValueError, match="another run"):
        ck.load(template)
    ck.clear()
    assert not os.path.exists(ck.shard_dir)
