import copy
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.hparams import plugin_data_pb2

from keras_bestpractice.hparams import HParamsLogger


def hparams_records(directory: Path):
    """The HParams plugin payloads of the event files directly in `directory`."""
    out = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData()
                    data.ParseFromString(value.metadata.plugin_data.content)
                    out.append(data)
    return out


def scalars(directory: Path):
    out = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(
                    float(tf.make_ndarray(value.tensor)))
    return out


def fit_with(callbacks, epochs=2, poison=False):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 4)).astype("float32"), rng.integers(0, 3, 48)
    if poison:
        x[1, 0] = np.inf
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    model.fit(x, y, validation_split=0.25, epochs=epochs, verbose=0, callbacks=callbacks)


def session_status(directory: Path) -> int:
    return [r.session_end_info for r in hparams_records(directory)
            if r.HasField("session_end_info")][0].status


def text_of(directory: Path, tag: str) -> str:
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    return tf.make_ndarray(value.tensor).item().decode()
    return ""


def test_plain_fit_session_with_values_scalars_best_values_and_status(tmp_path):
    params = {hp.HParam("learning_rate", hp.RealInterval(1e-5, 1e-1)): 1e-3,
              "optimizer": "adam", "dropout": 0.25}
    logger = HParamsLogger(tmp_path, params, trial_id="run_a")
    fit_with(logger, epochs=3)
    # No experiment config: TensorBoard derives one from every session (issue #15).
    assert not [r for r in hparams_records(tmp_path) if r.HasField("experiment")]
    session = hparams_records(tmp_path / "run_a")
    start = [r.session_start_info for r in session if r.HasField("session_start_info")][0]
    assert start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["learning_rate"].number_value == pytest.approx(1e-3)
    assert session_status(tmp_path / "run_a") == 1  # STATUS_SUCCESS
    assert logger.status == "success" and logger.outcome == "completed"
    values = scalars(tmp_path / "run_a" / "validation")
    assert len(values["epoch_accuracy"]) == 3
    # best_<metric>: the best value so far at every epoch, so its last value is the best.
    losses = values["epoch_loss"]
    assert values["best_loss"] == pytest.approx(list(np.minimum.accumulate(losses)))
    assert values["best_accuracy"][-1] == pytest.approx(max(values["epoch_accuracy"]))


def test_failure_status_for_a_nan_run_and_keras_tuner_hyperparameters(tmp_path):
    import keras_tuner as kt

    space = kt.HyperParameters()
    space.Choice("units", [4, 8])
    space.Float("lr", 1e-4, 1e-1, sampling="log")
    with pytest.warns(UserWarning, match="Failure"):
        fit_with(HParamsLogger(tmp_path, space, metrics=["val_loss"], trial_id="bad"),
                 poison=True)
    start = [r.session_start_info for r in hparams_records(tmp_path / "bad")
             if r.HasField("session_start_info")][0]
    assert start.hparams["units"].number_value == 4
    assert session_status(tmp_path / "bad") == 2  # STATUS_FAILURE
    assert "non-finite" in text_of(tmp_path / "bad", "outcome")
    # Only the asked-for metric is logged.
    assert set(scalars(tmp_path / "bad" / "validation")) <= {"epoch_loss", "best_loss"}


class FakeCurves(keras.callbacks.Callback):
    """Rewrites the epoch logs before the logger sees them (callbacks share `logs`)."""

    def __init__(self, loss, accuracy):
        super().__init__()
        self.curve = list(zip(loss, accuracy, strict=True))

    def on_epoch_end(self, epoch, logs=None):
        loss, accuracy = self.curve[epoch]
        logs.update({"loss": loss, "accuracy": accuracy, "val_loss": loss,
                     "val_accuracy": accuracy})


def test_a_finite_run_that_blew_up_at_chance_accuracy_is_a_failure(tmp_path):
    # The issue's run: 4529 -> 20.9 at chance accuracy was "Success".
    fake = FakeCurves([4529.0, 61.0, 20.9, 20.9], [0.33, 0.34, 0.33, 0.33])
    logger = HParamsLogger(tmp_path, {"lr": 50.0}, trial_id="blown")
    with pytest.warns(UserWarning, match="Failure"):
        fit_with([fake, logger], epochs=4)
    assert session_status(tmp_path / "blown") == 2
    assert logger.status == "failure" and logger.outcome.startswith(("diverging", "not_learning"))
    assert text_of(tmp_path / "blown", "outcome") == logger.outcome
    # judge=False keeps the status to what the logs say.
    quiet = HParamsLogger(tmp_path, {"lr": 50.0}, trial_id="unjudged", judge=False)
    fit_with([FakeCurves([4529.0, 61.0, 20.9, 20.9], [0.33] * 4), quiet], epochs=4)
    assert session_status(tmp_path / "unjudged") == 1


def test_a_run_stopped_by_divergence_guard_is_a_failure_early_stopping_is_not(tmp_path):
    from keras_bestpractice.callbacks import DivergenceGuard

    guard = DivergenceGuard(verbose=0)
    logger = HParamsLogger(tmp_path, {"lr": 1.0}, trial_id="guarded", judge=False)
    with pytest.warns(UserWarning, match="DivergenceGuard"):
        fit_with([guard, logger], epochs=4, poison=True)
    assert guard.stop_reason is not None
    assert logger.outcome == f"stopped by DivergenceGuard: {guard.stop_reason}"
    assert session_status(tmp_path / "guarded") == 2
    early = keras.callbacks.EarlyStopping(monitor="loss", patience=0)
    calm = HParamsLogger(tmp_path, {"lr": 1.0}, trial_id="early", judge=False)
    fit_with([FakeCurves([1.0, 1.0, 1.0, 1.0], [0.5] * 4), early, calm], epochs=4)
    assert session_status(tmp_path / "early") == 1


def test_a_guard_stop_in_an_earlier_fit_of_the_same_model_does_not_fail_the_next(tmp_path):
    from keras_bestpractice.callbacks import DivergenceGuard

    rng = np.random.default_rng(0)
    x, y = rng.random((48, 4)).astype("float32"), rng.integers(0, 3, 48)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    poisoned = x.copy()
    poisoned[1, 0] = np.inf
    with pytest.warns(UserWarning):
        model.fit(poisoned, y, epochs=3, verbose=0,
                  callbacks=[DivergenceGuard(verbose=0), HParamsLogger(tmp_path, {"lr": 1.0},
                                                                       judge=False)])
    # The same model again, stopped by EarlyStopping and without a guard: a success.
    logger = HParamsLogger(tmp_path, {"lr": 1.0}, trial_id="again", judge=False)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[
        FakeCurves([1.0] * 4, [0.5] * 4), keras.callbacks.EarlyStopping("loss", patience=0),
        logger])
    assert logger.status == "success", logger.outcome
    assert session_status(tmp_path / "again") == 1


def test_reused_trial_id_is_refused_and_unnamed_runs_never_collide(tmp_path):
    fit_with(HParamsLogger(tmp_path, {"a": 1}, trial_id="once"), epochs=1)
    with pytest.raises(ValueError, match="existing run"):
        HParamsLogger(tmp_path, {"a": 2}, trial_id="once")
    twice = HParamsLogger(tmp_path / "other", {"a": 1}, trial_id="t")
    fit_with(twice, epochs=1)
    with pytest.raises(ValueError, match="existing run"):
        fit_with(twice, epochs=1)  # the same logger in a second fit
    fresh = HParamsLogger(tmp_path / "fresh", {"a": 1})
    fit_with(fresh, epochs=1)
    first = fresh.session_name
    fit_with(fresh, epochs=1)
    assert fresh.session_name != first
    assert len([p for p in (tmp_path / "fresh").iterdir() if p.is_dir()]) == 2


def test_metrics_never_logged_are_warned_about_with_the_logged_keys(tmp_path):
    logger = HParamsLogger(tmp_path, {"a": 1}, metrics=["val_acc", "val_loss"])
    with pytest.warns(UserWarning, match=r"\['val_acc'\] were never logged.*val_accuracy"):
        fit_with(logger, epochs=1)


def test_value_outside_its_declared_domain_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside its domain"):
        HParamsLogger(tmp_path, {hp.HParam("opt", hp.Discrete(["adam", "sgd"])): "rmsprop"})
    with pytest.raises(ValueError, match="outside its domain"):
        HParamsLogger(tmp_path, {hp.HParam("lr", hp.RealInterval(1e-5, 1e-1)): 1.0})


def test_deepcopy_and_bad_arguments(tmp_path):
    logger = HParamsLogger(tmp_path, {"a": 1})
    clone = copy.deepcopy(logger)
    fit_with(clone, epochs=1)
    assert any(p.is_dir() for p in tmp_path.iterdir())
    with pytest.raises(TypeError, match="hparams"):
        HParamsLogger(tmp_path, [1, 2])
    with pytest.raises(TypeError, match="metrics"):
        HParamsLogger(tmp_path, {"a": 1}, metrics="val_loss")
    with pytest.raises(TypeError, match="logdir"):
        HParamsLogger(None, {"a": 1})


def test_a_run_collapsed_onto_the_majority_class_ends_as_failure(tmp_path):
    # Issue #26: SGD(5) on imbalanced data blew up, then predicted only the largest class
    # (its accuracy the class's share, its loss frozen), and the session said Success.
    rng = np.random.default_rng(0)
    counts = [400, 120, 100, 60]
    x = np.concatenate([rng.normal(i, 1.0, (c, 8)) for i, c in enumerate(counts)])
    y = np.concatenate([[i] * c for i, c in enumerate(counts)])
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(keras.optimizers.SGD(5.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    logger = HParamsLogger(tmp_path, {"learning_rate": 5.0}, trial_id="collapsed")
    with pytest.warns(UserWarning, match="Failure"):
        model.fit(x.astype("float32"), y, epochs=12, batch_size=32, validation_split=0.2,
                  verbose=0, callbacks=[logger])
    predicted = np.unique(model.predict(x.astype("float32"), verbose=0).argmax(1))
    assert predicted.size == 1  # the collapse really happened
    assert logger.status == "failure" and session_status(tmp_path / "collapsed") == 2
    assert logger.outcome.startswith(("not_learning", "non-finite"))


def test_only_the_chief_of_a_multi_worker_run_writes_a_session(tmp_path, monkeypatch):
    # Issue #27: with MultiWorkerMirroredStrategy every worker wrote its own session
    # (two dashboard rows for one run).
    import keras_bestpractice.hparams.logger as logger_module

    monkeypatch.setattr(logger_module, "is_chief", lambda model: False)
    worker = HParamsLogger(tmp_path / "worker", {"learning_rate": 1e-3})
    fit_with(worker, epochs=2)
    assert not (tmp_path / "worker").exists() or not any((tmp_path / "worker").rglob("*"))
    assert worker.status == "success" and worker.outcome == "completed"
    monkeypatch.setattr(logger_module, "is_chief", lambda model: True)
    chief = HParamsLogger(tmp_path / "chief", {"learning_rate": 1e-3})
    fit_with(chief, epochs=2)
    assert len([p for p in (tmp_path / "chief").iterdir() if p.is_dir()]) == 1


def test_is_chief_reads_the_strategy_and_the_jax_process():
    import sys
    import types

    from keras_bestpractice._callback import is_chief

    class Model:
        def __init__(self, should_checkpoint):
            extended = types.SimpleNamespace(should_checkpoint=should_checkpoint)
            self.distribute_strategy = types.SimpleNamespace(extended=extended)

    assert is_chief(Model(True)) and not is_chief(Model(False))
    fake = types.SimpleNamespace(process_count=lambda: 2, process_index=lambda: 1)
    real = sys.modules.get("jax")
    sys.modules["jax"] = fake
    try:
        assert not is_chief(object())
        fake.process_index = lambda: 0
        assert is_chief(object())
    finally:
        if real is None:
            del sys.modules["jax"]
        else:
            sys.modules["jax"] = real
