import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import DivergenceGuard, PeriodicCheckpoint
from keras_bestpractice.checkpointing import (
    CheckpointWriteError,
    checkpoint_info,
    load_weights,
    store,
)
from keras_bestpractice.checkpointing.store import checkpoint_name as name_of
from keras_bestpractice.data import stratified_dataset

WORKER = Path(__file__).with_name("crash_worker.py")


class Crash(Exception):
    pass


class CrashAfter(keras.callbacks.Callback):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1
        if self.count == self.batches:
            raise Crash()


def data(n=96):
    rng = np.random.default_rng(0)
    return rng.random((n, 5)).astype("float32"), rng.integers(0, 3, n)


def model_with_dropout(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(autouse=True)
def deterministic_ops():
    tf.config.experimental.enable_op_determinism()
    yield


def fit(model, directory, epochs=4, crash_after=None, use_dataset=False, **ckpt_kwargs):
    x, y = data()
    callbacks = [PeriodicCheckpoint(directory, **ckpt_kwargs)]
    if crash_after:
        callbacks.append(CrashAfter(crash_after))
    if use_dataset:
        inputs = {"x": stratified_dataset(x[:80], y[:80], 16, seed=3)}
    else:
        inputs = {"x": x[:80], "y": y[:80], "batch_size": 16, "shuffle": False}
    try:
        return model.fit(**inputs, validation_data=(x[80:], y[80:]), epochs=epochs, verbose=0,
                         callbacks=callbacks), callbacks[0]
    except Crash:
        return None, callbacks[0]


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights(),
                                                     strict=True))


def test_every_n_epochs_writes_atomic_hashed_checkpoints(tmp_path):
    model = model_with_dropout()
    _, ckpt = fit(model, tmp_path, epochs=4, every_n_epochs=2, keep_last=5)
    listing = sorted(p.name for p in tmp_path.iterdir())
    # Names count as Keras prints: after the 2nd and the 4th epoch (issue #14).
    names = [name_of(1, 10), name_of(3, 20)]
    assert names == ["ckpt-epoch0002-end-step0000000010", "ckpt-epoch0004-end-step0000000020"]
    assert listing == [".lock", *names, "latest"]
    assert (tmp_path / "latest").read_text().strip() == names[1]
    manifest = json.loads((tmp_path / names[1] / "manifest.json").read_text())["manifest"]
    assert manifest["epoch"] == 3 and manifest["epoch_boundary"] is True
    assert set(manifest["files"]) == {"arrays.bin", "state.json"}
    assert set(manifest["arrays"]) == {"weights", "seeds", "optimizer"}
    assert manifest["versions"]["keras"] == keras.__version__
    assert manifest["monitor"] == "val_loss" and manifest["monitor_value"] > 0
    assert PeriodicCheckpoint.latest(tmp_path).name == names[1]
    assert [p.name for p in ckpt.saved] == names[:2]


def test_retention_keeps_last_k_best_and_survives_restarts(tmp_path):
    model = model_with_dropout()
    history, _ = fit(model, tmp_path, epochs=6, keep_last=2, keep_best=1, monitor="loss")
    losses = history.history["loss"]
    names = [name_of(e, 5 * (e + 1)) for e in range(6)]
    best = int(np.argmin(losses))
    kept = sorted(p.name for p in tmp_path.glob("ckpt-*"))
    assert kept == sorted({names[4], names[5], names[best]})
    assert PeriodicCheckpoint.best(tmp_path).name == names[best]
    # A restart continues from the newest and still knows the best from the manifests.
    with pytest.warns(KerasBestPracticeWarning, match="not a stratified_dataset"):
        history2, ckpt = fit(model_with_dropout(seed=3), tmp_path, epochs=8, keep_last=2,
                             keep_best=1, monitor="loss", resume=True)
    all_losses = losses + history2.history["loss"]
    overall = int(np.argmin(all_losses))
    names += [name_of(e, 5 * (e + 1)) for e in (6, 7)]
    assert ckpt.resumed_from.name == names[5]
    assert PeriodicCheckpoint.best(tmp_path).name == names[overall]
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == sorted(
        {names[6], names[7], names[overall]})


def test_fake_clock_triggers_every_n_minutes(tmp_path):
    now = [0.0]

    class Tick(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 40.0  # 40 seconds per batch

    model = model_with_dropout()
    x, y = data()
    ckpt = PeriodicCheckpoint(tmp_path, every_n_epochs=None, every_n_minutes=2, keep_last=10,
                              keep_best=0, clock=lambda: now[0])  # no validation data
    model.fit(x[:80], y[:80], batch_size=16, epochs=2, shuffle=False, verbose=0,
              callbacks=[Tick(), ckpt])
    steps = sorted(int(p.name.split("-step")[1]) for p in tmp_path.glob("ckpt-*"))
    # every 3 batches = 120 s (batch 5 of 5 waits for epoch end), and the final save at the
    # end of training (issue #18: the run's end is never lost)
    assert steps == [3, 6, 9, 10]


def test_resume_numpy_input_is_bitwise_exact(tmp_path):
    reference = model_with_dropout()
    fit(reference, tmp_path / "ref", epochs=4, every_n_steps=3)
    crashed = model_with_dropout()
    fit(crashed, tmp_path / "run", epochs=4, every_n_steps=3, crash_after=13)
    resumed = model_with_dropout(seed=99)  # a new process would start from other weights
    with pytest.warns(KerasBestPracticeWarning, match="mid-epoch"):
        history, ckpt = fit(resumed, tmp_path / "run", epochs=4, every_n_steps=3)
    assert ckpt.resumed_from.name == name_of(1, 10)  # the epoch boundary
    assert len(history.history["loss"]) == 2
    assert same_weights(reference, resumed)


def test_resume_stratified_mid_epoch_is_bitwise_exact_with_equal_logs(tmp_path):
    reference = model_with_dropout()
    ref_history, _ = fit(reference, tmp_path / "ref", epochs=4, every_n_steps=3, use_dataset=True)
    fit(model_with_dropout(), tmp_path / "run", epochs=4, every_n_steps=3, crash_after=13,
        use_dataset=True)
    resumed = model_with_dropout(seed=5)
    history, ckpt = fit(resumed, tmp_path / "run", epochs=4, every_n_steps=3, use_dataset=True)
    assert ckpt.resumed_from.name == name_of(2, 12, 2)  # mid-epoch 3
    assert same_weights(reference, resumed)
    np.testing.assert_allclose(history.history["loss"], ref_history.history["loss"][2:],
                               rtol=1e-6)


def test_two_crashes_one_inside_a_resumed_partial_epoch(tmp_path):
    reference = model_with_dropout()
    fit(reference, tmp_path / "ref", epochs=4, every_n_steps=2, use_dataset=True)
    fit(model_with_dropout(), tmp_path / "run", epochs=4, every_n_steps=2, crash_after=12,
        use_dataset=True)  # checkpoint at step 12: epoch 3, batch 1
    _, ckpt = fit(model_with_dropout(seed=2), tmp_path / "run", epochs=4, every_n_steps=2,
                  crash_after=2, use_dataset=True)  # saves epoch 3, batch 3, then crashes
    assert ckpt.resumed_from.name == name_of(2, 12, 2)
    manifest = json.loads((PeriodicCheckpoint.latest(tmp_path / "run") / "manifest.json")
                          .read_text())["manifest"]
    assert (manifest["epoch"], manifest["batch"]) == (2, 3)
    resumed = model_with_dropout(seed=3)
    fit(resumed, tmp_path / "run", epochs=4, every_n_steps=2, use_dataset=True)
    assert same_weights(reference, resumed)


def test_resume_restores_divergence_guard_state(tmp_path):
    x, y = data()

    def run(epochs, crash=None):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3,
                                                                          activation="softmax")])
        model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
        guard = DivergenceGuard(lr_backoff=0.5)
        callbacks = [guard, PeriodicCheckpoint(tmp_path, monitor="loss")]
        if crash:
            callbacks.append(CrashAfter(crash))
        poisoned = x.copy()
        poisoned[2, 0] = np.inf  # batch 0 of every epoch: one back-off per epoch
        with contextlib.suppress(Crash):
            model.fit(poisoned[:80], y[:80], batch_size=16, epochs=epochs, shuffle=False,
                      verbose=0, callbacks=callbacks)
        return guard, model

    guard, _ = run(3, crash=12)  # two epochs done (two back-offs), crash in the third
    assert guard.backoffs_used == 3
    with pytest.warns(KerasBestPracticeWarning, match="not a stratified_dataset"):
        guard, model = run(3)
    # Restored 2 back-offs from the checkpoint of epoch 2, then a third in epoch 3.
    assert guard.backoffs_used == 3 and guard.lr_scale == pytest.approx(0.125)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.5 * 0.125)


def test_corrupt_latest_falls_back_to_previous(tmp_path):
    fit(model_with_dropout(), tmp_path, epochs=3, keep_last=3)
    newest = PeriodicCheckpoint.latest(tmp_path)
    weights = newest / "arrays.bin"
    raw = bytearray(weights.read_bytes())
    raw[5] ^= 0xFF  # one flipped bit
    weights.write_bytes(bytes(raw))
    with pytest.warns(KerasBestPracticeWarning, match="damaged"):
        assert PeriodicCheckpoint.latest(tmp_path).name == name_of(1, 10)
    (tmp_path / name_of(1, 10) / "arrays.bin").write_bytes(b"trunc")
    with pytest.warns(KerasBestPracticeWarning, match="damaged"):
        assert PeriodicCheckpoint.latest(tmp_path).name == name_of(0, 5)


def test_failed_write_raises_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    fit(model_with_dropout(), tmp_path, epochs=2)
    good = sorted(p.name for p in tmp_path.glob("ckpt-*"))

    def disk_full(path, buffers):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_buffers", disk_full)
    with pytest.raises(CheckpointWriteError, match="No space left"):
        fit(model_with_dropout(), tmp_path, epochs=4, resume=False)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == good
    assert not list(tmp_path.glob(".tmp-*"))


def test_async_write_error_surfaces_on_the_next_step(tmp_path, monkeypatch):
    def disk_full(path, buffers):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_buffers", disk_full)
    with pytest.raises(CheckpointWriteError):
        fit(model_with_dropout(), tmp_path, epochs=3, every_n_steps=2, async_write=True)


def test_async_write_gives_the_same_checkpoints(tmp_path):
    a, b = model_with_dropout(), model_with_dropout()
    fit(a, tmp_path / "sync", epochs=2, keep_last=5)
    fit(b, tmp_path / "async", epochs=2, keep_last=5, async_write=True)
    for name in (name_of(0, 5), name_of(1, 10)):
        sync = json.loads((tmp_path / "sync" / name / "manifest.json").read_text())["manifest"]
        asyn = json.loads((tmp_path / "async" / name / "manifest.json").read_text())["manifest"]
        assert sync["files"]["arrays.bin"] == asyn["files"]["arrays.bin"]


def test_async_snapshot_is_not_changed_by_training_during_the_write(tmp_path, monkeypatch):
    original = store._write_buffers

    def slow(path, buffers):
        time.sleep(0.05)  # training runs on while the checkpoint is written
        original(path, buffers)

    monkeypatch.setattr(store, "_write_buffers", slow)
    recorded = {}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            recorded[step] = [w.copy() for w in self.model.get_weights()]

    model = model_with_dropout()
    x, y = data()
    ckpt = PeriodicCheckpoint(tmp_path, every_n_epochs=None, every_n_steps=2, keep_last=100,
                              keep_best=0, async_write=True)
    model.fit(x[:80], y[:80], batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[Record(), ckpt])
    from keras_bestpractice.checkpointing.store import CheckpointStore

    checked = 0
    for saved in CheckpointStore(tmp_path).committed():
        weights = saved.read_arrays("weights")
        expected = recorded[saved.step]
        assert all(np.array_equal(a, b) for a, b in zip(weights, expected, strict=True))
        checked += 1
    assert checked >= 8


def test_load_weights_for_inference(tmp_path):
    trained = model_with_dropout()
    fit(trained, tmp_path, epochs=2)
    fresh = model_with_dropout(seed=42)
    path = load_weights(fresh, tmp_path)
    assert path.name == name_of(1, 10)
    assert same_weights(trained, fresh)
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="different model"):
        load_weights(other, tmp_path)
    with pytest.raises(FileNotFoundError):
        load_weights(fresh, tmp_path / "nothing")


def test_resume_false_starts_over(tmp_path):
    fit(model_with_dropout(), tmp_path, epochs=2)
    history, ckpt = fit(model_with_dropout(), tmp_path, epochs=2, resume=False)
    assert ckpt.resumed_from is None and len(history.history["loss"]) == 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"every_n_epochs": None}, ValueError, "needs a trigger"),
    ({"every_n_steps": 0}, ValueError, "every_n_steps"),
    ({"every_n_minutes": -1.0}, ValueError, "every_n_minutes"),
    ({"keep_last": 0}, ValueError, "keep_last"),
    ({"keep_best": -1}, ValueError, "keep_best"),
    ({"mode": "lowest"}, ValueError, "mode"),
    ({"monitor": "thing"}, ValueError, "mode='max'"),
    ({"async_write": "yes"}, TypeError, "async_write"),
])
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        PeriodicCheckpoint(tmp_path, **kwargs)


@pytest.mark.slow
def test_sigterm_saves_and_stops_cleanly(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, keras, numpy as np
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        from keras_bestpractice.callbacks import PeriodicCheckpoint
        class Preempt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.optimizer.iterations.numpy() == 7:
                    os.kill(os.getpid(), signal.SIGTERM)
        x = np.random.default_rng(0).random((64, 5)).astype("float32")
        y = np.arange(64) % 3
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy")
        ckpt = PeriodicCheckpoint({str(tmp_path)!r}, every_n_epochs=5)
        h = model.fit(x, y, batch_size=16, epochs=10, verbose=0, callbacks=[Preempt(), ckpt])
        print("EPOCHS", len(h.history["loss"]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "EPOCHS 2" in result.stdout
    # Saved at step 7 (3 batches into the 2nd epoch), the last save of that fit (issue #18).
    assert [p.name for p in tmp_path.glob("ckpt-*")] == [name_of(1, 7, 3)]


def run_worker(directory, mode, out, slow=0.0, log=None):
    """The crash worker; its output into pipes, or into the file `log` (for a process
    nobody reads while it runs: a full pipe would block it)."""
    stream = subprocess.PIPE if log is None else open(log, "w")  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, str(WORKER), str(directory), mode, str(out),
                                 str(slow)], stdout=stream, stderr=subprocess.STDOUT
                                if log is not None else subprocess.PIPE, text=True)
    finally:
        if log is not None:
            stream.close()


@pytest.mark.slow
# The stratified feeder's resume (the harder one: a feeder state, a mid-epoch position)
# on both backends. The NumPy path's resume is covered at every step by SIGTERM
# (`test_sigterm_at_any_step_resumes_bitwise_equal`) and mid-epoch by
# `test_resume_numpy_input_is_bitwise_exact`; its random SIGKILLs cost 18 s of the suite.
@pytest.mark.parametrize("mode", ["stratified"])
def test_sigkill_at_random_moments_then_resume_is_bitwise_exact(tmp_path, mode):
    reference = tmp_path / "reference.npz"
    # The uninterrupted reference runs beside the killed runs (two cores: ~6 s less).
    ref_log = tmp_path / "reference.log"
    ref_proc = run_worker(tmp_path / "ref_ckpt", mode, reference, log=ref_log)
    rng = random.Random(1234 if mode == "numpy" else 4321)
    directory, out = tmp_path / "ckpt", tmp_path / "final.npz"
    pointer = directory / "latest"
    kills = during_save = resumed = 0
    # Kill at a random moment after the run commits its 4th to 7th checkpoint (so each run
    # makes progress, past an epoch end, however slow the machine is), twice: once as soon
    # as the next save has begun writing, once a random 0-100 ms later. The third run goes
    # to the end. (Each run pays a TensorFlow import; more kills bought no more coverage.)
    for attempt in range(3):
        proc = run_worker(directory, mode, out, slow=0.02)
        if attempt == 2:
            break
        commits, last = rng.randint(4, 7), pointer.read_text() if pointer.exists() else None
        deadline = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < deadline and commits:
            now = pointer.read_text() if pointer.exists() else None
            commits -= now != last
            last = now
            time.sleep(0.002)
        if attempt % 2 == 0:
            while proc.poll() is None and time.monotonic() < deadline and not list(
                    directory.glob(".tmp-ckpt-*")):
                time.sleep(0.001)
        else:
            time.sleep(rng.uniform(0.0, 0.1))
        if proc.poll() is not None:
            break  # finished before the kill
        os.kill(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        kills += 1
        resumed += "resumed from" in stdout
        during_save += bool(list(directory.glob(".tmp-*")))
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr[-2000:]
    assert "WORKER-DONE" in stdout and "resumed from" in stdout
    assert "damaged" not in stderr  # no partial checkpoint is ever loaded
    assert resumed >= 1, resumed
    assert kills >= 2 and during_save >= 1, (kills, during_save)
    assert ref_proc.wait(timeout=180) == 0, ref_log.read_text()[-2000:]
    ref, got = np.load(reference), np.load(out)
    for key in ref.files:
        if key != "history":
            assert np.array_equal(ref[key], got[key]), key


# --------------------------------------------------------------------------- issue #18
def damage_all(directory):
    for path in Path(directory).glob("ckpt-*"):
        (path / "arrays.bin").write_bytes(b"damaged")


# Retention over damaged files: backend-neutral, checked once (TensorFlow pass).
@pytest.mark.backend_independent
@pytest.mark.parametrize(("kwargs", "crash_after", "expected_steps"), [
    ({"every_n_epochs": None, "every_n_steps": 6, "keep_last": 1, "keep_best": 0}, 15, [12]),
    ({"every_n_epochs": None, "every_n_steps": 2, "keep_last": 2, "keep_best": 0}, 15,
     [10, 12, 14]),  # the two newest and the newest epoch boundary
])
def test_retention_never_deletes_good_checkpoints_for_damaged_ones(tmp_path, kwargs, crash_after,
                                                                   expected_steps):
    fit(model_with_dropout(), tmp_path, epochs=5, use_dataset=True, **kwargs)  # to step 25
    damage_all(tmp_path)
    with warnings_ignored():  # the damaged ones are reported
        fit(model_with_dropout(), tmp_path, epochs=5, crash_after=crash_after, use_dataset=True,
            **kwargs)
        from keras_bestpractice.checkpointing.store import CheckpointStore

        verified = CheckpointStore(tmp_path).verified(warn_damaged=False)
    assert sorted(c.step for c in verified) == expected_steps
    with pytest.warns(KerasBestPracticeWarning, match="damaged"):
        _, ckpt = fit(model_with_dropout(), tmp_path, epochs=5, use_dataset=True, **kwargs)
    assert ckpt.resumed_from is not None and ckpt.resumed_from.name == verified[0].name


@contextlib.contextmanager
def warnings_ignored():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerasBestPracticeWarning)
        yield


class SigtermAt(keras.callbacks.Callback):
    """Sends this process SIGTERM after global step `step` (PeriodicCheckpoint catches it)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("use_dataset", [False, True])
@pytest.mark.parametrize("step", [3, 7, 13])
def test_sigterm_at_any_step_resumes_bitwise_equal(tmp_path, use_dataset, step):
    """Issue #18: with every_n_epochs=1, the epoch-end hook of the cut-short epoch used to
    save again as "epoch finished", and the resumed run skipped the rest of that epoch."""
    reference = model_with_dropout()
    ref_history, _ = fit(reference, tmp_path / "ref", epochs=4, use_dataset=use_dataset)
    x, y = data()
    stopped = model_with_dropout()
    callbacks = [SigtermAt(step), PeriodicCheckpoint(tmp_path / "run")]
    inputs = ({"x": stratified_dataset(x[:80], y[:80], 16, seed=3)} if use_dataset else
              {"x": x[:80], "y": y[:80], "batch_size": 16, "shuffle": False})
    stopped.fit(**inputs, validation_data=(x[80:], y[80:]), epochs=4, verbose=0,
                callbacks=callbacks)
    saved = callbacks[1].saved
    assert saved[-1].name.endswith(f"step{step:010d}")  # the SIGTERM save is the last
    resumed = model_with_dropout()  # the same script, run again
    with warnings_ignored():
        history, ckpt = fit(resumed, tmp_path / "run", epochs=4, use_dataset=use_dataset)
    # NumPy input resumes from the last epoch boundary (none before step 5: from scratch);
    # a stratified_dataset resumes at the SIGTERM step itself.
    if use_dataset:
        assert ckpt.resumed_from.name == saved[-1].name
    elif step >= 5:
        assert ckpt.resumed_from.name == name_of(step // 5 - 1, step // 5 * 5)
    assert same_weights(reference, resumed)
    steps_done = int(resumed.optimizer.iterations.numpy())
    assert steps_done == 20  # every step of every epoch, none skipped


def test_a_failed_pointer_write_does_not_stop_training(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "atomic_write_text", no_space)
    with pytest.warns(KerasBestPracticeWarning, match="pointer could not be written"):
        history, ckpt = fit(model_with_dropout(), tmp_path, epochs=3, keep_last=2, keep_best=0)
    assert len(history.history["loss"]) == 3
    from keras_bestpractice.checkpointing.store import CheckpointStore

    names = [c.name for c in CheckpointStore(tmp_path).verified()]
    assert names == [name_of(2, 15), name_of(1, 10)]  # retention ran too


HOLD_LOCK = """
import sys, time
from keras_bestpractice.checkpointing.store import WriterLock
WriterLock(sys.argv[1]).acquire()
print("LOCKED", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_at_train_begin(tmp_path):
    from keras_bestpractice.checkpointing.store import CheckpointLockedError

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        model = model_with_dropout()
        with pytest.raises(CheckpointLockedError, match=f"pid {holder.pid}"):
            fit(model, tmp_path, epochs=1)
        assert int(model.optimizer.iterations.numpy()) == 0  # refused before any step
    finally:
        holder.kill()
        holder.wait()


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    fit(model_with_dropout(), tmp_path, epochs=1)
    keras.utils.set_random_seed(0)
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    other.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="another run.*model differs"):
        fit(other, tmp_path, epochs=2)
    with pytest.raises(ValueError, match="another run.*run_id differs"):
        fit(model_with_dropout(), tmp_path, epochs=2, run_id="experiment-2")
    sgd = model_with_dropout()
    sgd.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="optimizer differs.*Adam.*SGD"):
        fit(sgd, tmp_path, epochs=2)


def test_resuming_a_finished_run_says_there_is_nothing_to_do(tmp_path):
    fit(model_with_dropout(), tmp_path, epochs=2)
    with pytest.warns(KerasBestPracticeWarning) as caught:
        history, _ = fit(model_with_dropout(), tmp_path, epochs=2)
    assert any("already trained 2 epochs" in str(w.message) and "nothing to do" in
               str(w.message) for w in caught)
    assert history.epoch == []
    with warnings_ignored():
        history, _ = fit(model_with_dropout(), tmp_path, epochs=3)  # epochs grew
    assert history.epoch == [2]


@pytest.mark.parametrize("choice", ["checkpoint", "script"])
def test_a_learning_rate_changed_in_the_script_is_reported_and_settled(tmp_path, choice):
    fit(model_with_dropout(), tmp_path, epochs=1)
    changed = model_with_dropout()
    changed.optimizer.learning_rate = 1e-3  # the script now says 1e-3, the run used 1e-2
    seen = []

    class Rate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate.numpy()))

    x, y = data()
    with pytest.warns(KerasBestPracticeWarning) as caught:
        changed.fit(x[:80], y[:80], batch_size=16, shuffle=False, epochs=2, verbose=0,
                    validation_data=(x[80:], y[80:]),
                    callbacks=[PeriodicCheckpoint(tmp_path, lr_on_resume=choice), Rate()])
    expected = 1e-3 if choice == "script" else 1e-2
    assert seen == [pytest.approx(expected)]
    assert any("learning rate" in str(w.message) and "lr_on_resume" in str(w.message)
               for w in caught)


def test_a_monitor_missing_from_the_logs_is_reported_and_best_says_why(tmp_path):
    x, y = data()
    model = model_with_dropout()
    with pytest.warns(KerasBestPracticeWarning, match="'val_acc' is not in the logs.*val_loss"):
        model.fit(x[:80], y[:80], validation_data=(x[80:], y[80:]), epochs=2, verbose=0,
                  callbacks=[PeriodicCheckpoint(tmp_path, monitor="val_acc")])
    with pytest.raises(ValueError, match="no checkpoint.*'val_acc'.*val_loss"):
        PeriodicCheckpoint.best(tmp_path)
    assert PeriodicCheckpoint.latest(tmp_path) is not None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        PeriodicCheckpoint.best(tmp_path / "empty")


def test_the_last_epoch_is_saved_when_every_n_epochs_does_not_divide_epochs(tmp_path):
    _, ckpt = fit(model_with_dropout(), tmp_path, epochs=8, every_n_epochs=3, keep_last=10)
    assert [p.name for p in ckpt.saved] == [name_of(2, 15), name_of(5, 30), name_of(7, 40)]


class Counter(keras.layers.Layer):
    """Counts its calls in a non-trainable variable (updated inside call())."""

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="calls")

    def call(self, x, training=None):
        self.calls.assign_add(1.0)
        return x


def counting_model(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), Counter(), keras.layers.Dense(3,
                                                                               activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def test_mid_epoch_resume_restores_variables_updated_in_call(tmp_path):
    reference = counting_model()
    fit(reference, tmp_path / "ref", epochs=3, every_n_steps=3, use_dataset=True, keep_best=0)
    fit(counting_model(), tmp_path / "run", epochs=3, every_n_steps=3, crash_after=8,
        use_dataset=True, keep_best=0)
    resumed = counting_model(seed=5)
    fit(resumed, tmp_path / "run", epochs=3, every_n_steps=3, use_dataset=True, keep_best=0)
    calls = [float(layer.calls.numpy()) for layer in (reference.layers[0], resumed.layers[0])]
    assert calls[0] == calls[1]
    assert same_weights(reference, resumed)


def test_export_writes_the_best_checkpoint_as_a_keras_file(tmp_path):
    model = model_with_dropout()
    history, ckpt = fit(model, tmp_path / "ckpt", epochs=4, keep_last=1, keep_best=1,
                        monitor="loss")
    before = [w.copy() for w in model.get_weights()]
    used = ckpt.export(tmp_path / "best.keras")
    assert used == PeriodicCheckpoint.best(tmp_path / "ckpt")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    loaded = keras.saving.load_model(tmp_path / "best.keras")
    reference = model_with_dropout(seed=2)
    load_weights(reference, used)
    assert same_weights(loaded, reference)
    with pytest.raises(ValueError, match="`path`"):
        ckpt.export(tmp_path / "best.h5")


def test_two_guards_in_one_fit_both_resume(tmp_path):
    x, y = data()
    poisoned = x.copy()
    poisoned[2, 0] = np.inf

    def run(epochs, crash=None):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3,
                                                                          activation="softmax")])
        model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
        # The second guard checks only epoch ends (the first one handles the NaN batches).
        guards = [DivergenceGuard(lr_backoff=0.5),
                  DivergenceGuard(monitor="val_loss", check_every=1000)]
        callbacks = [*guards, PeriodicCheckpoint(tmp_path, monitor="loss")]
        if crash:
            callbacks.append(CrashAfter(crash))
        with contextlib.suppress(Crash):
            model.fit(poisoned[:80], y[:80], batch_size=16, epochs=epochs, shuffle=False,
                      validation_data=(x[80:], y[80:]), verbose=0, callbacks=callbacks)
        return guards

    run(3, crash=12)
    with warnings_ignored():
        first, second = run(3)
    assert first.backoffs_used == 3  # two restored, one more in epoch 3
    assert second.state_key != first.state_key
    assert len(second._history) == 3  # its epoch history came back with it


MULTIWORKER = Path(__file__).with_name("multiworker_worker.py")


def two_workers(mode, directory, tmp_path):
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, str(MULTIWORKER), mode, str(directory), str(i),
                               str(ports[0]), str(ports[1]), str(outs[i])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in procs:
            proc.kill()
    return [json.loads(out.read_text()) for out in outs]


@pytest.mark.tensorflow_only
@pytest.mark.slow
def test_two_workers_chief_writes_guard_decides_for_all_and_both_resume_alike(tmp_path):
    chief, other = two_workers("hooks", tmp_path / "ckpt", tmp_path)
    assert chief["chief"] and not other["chief"]
    # Only worker 1 saw the NaN; both rolled back at the same step.
    assert chief["events"] == other["events"]
    assert [(e["epoch"], e["batch"], e["action"]) for e in chief["events"]] == [
        (1, 2, "rolled_back")]
    assert chief["saved"] and not other["saved"]  # only the chief writes
    assert chief["after_first_run"] == other["after_first_run"]
    assert chief["resumed_from"] == other["resumed_from"] == chief["saved"][-1]
    assert chief["after_resume"] == other["after_resume"]


@pytest.mark.tensorflow_only
@pytest.mark.slow
def test_two_worker_fit_when_keras_supports_it(tmp_path):
    """A real `fit` under MultiWorkerMirroredStrategy. Keras 3.15 fails before training
    (keras-team/keras#20585: `_maybe_symbolic_build` reduces a PerReplica batch, then a
    "mean" reduce with axis=0 meets scalar logs). The workers try a plain Keras `fit`
    first: whatever stops it (either blocker, or the next), the test skips with Keras's
    own error; once plain Keras fits, ours must too, with the same weights on both."""
    chief, other = two_workers("fit", tmp_path / "ckpt", tmp_path)
    if chief["plain_fit"] != "ok" or other["plain_fit"] != "ok":
        pytest.skip("Keras cannot fit under MultiWorkerMirroredStrategy "
                    "(keras-team/keras#20585): " + chief["plain_fit"])
    assert chief["fit"] == other["fit"] == "ok", (chief["fit"], other["fit"])
    assert chief["weights"] == other["weights"]


def test_checkpoint_info_reads_epoch_step_and_monitor_through_the_public_api(tmp_path):
    from keras_bestpractice.checkpointing import checkpoint_info

    model = model_with_dropout()
    # 5 batches an epoch; every 3 steps: the 2nd save is 1 batch into the 2nd epoch.
    fit(model, tmp_path, epochs=2, every_n_epochs=None, every_n_steps=3, keep_last=10)
    mid = checkpoint_info(tmp_path / name_of(1, 6, 1))
    assert (mid.epoch, mid.epoch_number, mid.batch, mid.step) == (1, 2, 1, 6)
    assert not mid.epoch_boundary and (mid.resume_epoch, mid.resume_batch) == (1, 1)
    last = checkpoint_info(tmp_path)           # the directory: its newest good checkpoint
    assert (last.epoch, last.batch, last.step, last.epoch_boundary) == (1, None, 10, True)
    assert last.monitor == "val_loss" and last.monitor_value == last.logs["val_loss"]
    assert last.path == PeriodicCheckpoint.latest(tmp_path)


class PoisonAt(keras.callbacks.Callback):
    """Sets the first kernel to NaN before batch `batch` of epoch `epoch`."""

    def __init__(self, epoch, batch=1):
        super().__init__()
        self.at = (epoch, batch)
        self._epoch = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self._epoch, batch) == self.at:
            kernel = self.model.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


@pytest.mark.parametrize("every_n_epochs", [1, 3])
def test_checkpoint_after_a_guard_stop_is_named_for_the_state_it_holds(tmp_path, every_n_epochs):
    # Issue #26: the guard restored epoch 2's weights and stopped in epoch 3; the final
    # checkpoint was named for epoch 3 while holding epoch 2's weights.
    x, y = data()
    model = model_with_dropout()
    guard = DivergenceGuard()
    ckpt = PeriodicCheckpoint(tmp_path, every_n_epochs=every_n_epochs, monitor="loss")
    model.fit(x[:80], y[:80], batch_size=16, epochs=5, shuffle=False, verbose=0,
              callbacks=[guard, ckpt, PoisonAt(epoch=2)])
    assert guard.stop_reason == "nan" and guard.events[-1]["action"] == "rolled_back"
    epochs = sorted(checkpoint_info(p).epoch for p in tmp_path.glob("ckpt-*") if p.is_dir())
    # Every checkpoint is named for an epoch whose state it holds: none for epoch 3 (index 2).
    assert max(epochs) == 1
    latest = PeriodicCheckpoint.latest(tmp_path)
    assert checkpoint_info(latest).epoch == 1
    restored = model_with_dropout(seed=7)
    load_weights(restored, latest)
    assert same_weights(restored, model)
