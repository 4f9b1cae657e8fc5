"""Restoring a checkpoint streams it (issue #24): one array in memory at a time, and a
weights-only load reads no optimizer bytes into memory."""

from __future__ import annotations

import tracemalloc

import keras
import numpy as np

from keras_bestpractice.callbacks import PeriodicCheckpoint
from keras_bestpractice.checkpointing import load_weights
from keras_bestpractice.checkpointing.load import open_checkpoint
from keras_bestpractice.checkpointing.state import restore_training_state

MIB = 2**20
# The array being assigned, the copy Keras's `assign` converts, and a first assignment's
# one-time conversion: three times the largest array (4 MiB), plus bookkeeping; on JAX one
# more, where the variable sometimes copies the NumPy buffer instead of adopting it (16.0
# MiB measured once in CI with two test processes on two cores; run alone, 0 MiB on JAX,
# whose variables adopted the buffers, and 8 MiB on TensorFlow).
# The bound is five arrays' worth (a margin over that 16.0); reading the ~24 MiB file
# whole held 40-44 MiB, so it still tells streaming from reading whole.
LIMIT = 21


def build():
    # Two 4 MiB kernels; Adam's two moments make the checkpoint 3x the weights (~24 MiB).
    model = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(1024),
                              keras.layers.Dense(1024)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def saved(tmp_path):
    keras.utils.set_random_seed(0)
    model = build()
    x = np.random.default_rng(0).random((8, 1024)).astype("float32")
    model.fit(x, x, epochs=1, batch_size=8, verbose=0,
              callbacks=[PeriodicCheckpoint(tmp_path, every_n_epochs=1, monitor="loss")])
    return model, x


def peak_of(fn) -> float:
    """MiB allocated at the peak of `fn()` beyond what stays allocated after it (on JAX
    a variable can keep the NumPy array it was assigned as its buffer: that is the
    restored state, not overhead)."""
    tracemalloc.start()
    try:
        fn()
        current, peak = tracemalloc.get_traced_memory()
        return (peak - current) / MIB
    finally:
        tracemalloc.stop()


def test_weights_only_load_holds_one_array_not_the_file(tmp_path):
    trained, x = saved(tmp_path)
    ckpt = open_checkpoint(tmp_path)
    file_mib = (ckpt.path / "arrays.bin").stat().st_size / MIB
    assert file_mib > 20
    model = build()
    peak = peak_of(lambda: load_weights(model, tmp_path))
    # The largest array is 4 MiB (so is the hashing buffer) and Keras's `assign` converts
    # a copy of it; the file is ~24 MiB (reading it whole held 40 MiB).
    assert peak < LIMIT, f"{peak:.1f} MiB held to load {file_mib:.0f} MiB"
    for a, b in zip(trained.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_full_restore_streams_the_optimizer_too(tmp_path):
    trained, x = saved(tmp_path)
    model = build()
    model.optimizer.build(model.trainable_variables)
    peak = peak_of(lambda: restore_training_state(model, open_checkpoint(tmp_path)))
    assert peak < LIMIT, f"{peak:.1f} MiB"  # 44 MiB when the file was read whole
    for a, b in zip(trained.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(model.predict(x, verbose=0), trained.predict(x, verbose=0))


def test_a_model_of_another_shape_is_refused_before_anything_changes(tmp_path):
    saved(tmp_path)
    other = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(1024),
                              keras.layers.Dense(512)])
    other.compile(keras.optimizers.Adam(1e-3), "mse")
    before = [w.copy() for w in other.get_weights()]
    try:
        load_weights(other, tmp_path)
    except ValueError as exc:
        assert "shape" in str(exc)
    else:
        raise AssertionError("a model of another shape was loaded")
    for a, b in zip(before, other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
