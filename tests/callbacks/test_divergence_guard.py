import copy
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import DivergenceGuard, TrainingDivergedError
from tests.callbacks.helpers import all_finite, tiny_data, tiny_model


def poisoned_data(bad_batch=3, batch_size=8, n=64):
    """Data whose batch `bad_batch` (shuffle=False) holds an infinite input."""
    x, y = tiny_data(n)
    x[bad_batch * batch_size + 2, 1] = np.inf
    return x, y


def test_nan_stops_at_the_first_bad_batch_and_rolls_back():
    x, y = poisoned_data(bad_batch=3)
    model = tiny_model()
    guard = DivergenceGuard()
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[guard])
    assert guard.stop_reason == "nan"
    assert guard.events == [{"epoch": 0, "epoch_number": 1, "batch": 3, "reason": "nan",
                             "value": guard.events[0]["value"], "action": "rolled_back"}]
    assert math.isnan(guard.events[0]["value"])
    # Issue #26: a plain string as the README shows, not StopReason.NAN.
    assert type(guard.events[0]["reason"]) is str
    assert all_finite(model)
    assert np.isfinite(model.evaluate(x[:16], y[:16], verbose=0)[0])


def test_terminate_on_nan_would_keep_the_nan_weights():
    x, y = poisoned_data(bad_batch=3)
    model = tiny_model()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN()])
    assert not all_finite(model)  # the baseline this guard improves on


def test_without_restore_the_action_is_stopped():
    x, y = poisoned_data(bad_batch=2)
    model = tiny_model()
    guard = DivergenceGuard(restore=None)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[guard])
    assert [e["action"] for e in guard.events] == ["stopped"]
    assert guard.stop_reason == "nan"


def test_every_metric_is_checked_not_only_the_loss():
    class NanMetric(keras.metrics.Metric):
        def __init__(self, name="nan_after_two", **kw):
            super().__init__(name=name, **kw)
            self.count = self.add_variable(shape=(), initializer="zeros", name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.count.assign_add(1.0)

        def result(self):
            return keras.ops.where(self.count > 2, float("nan"), 0.0)

    x, y = tiny_data()
    model = tiny_model(metrics=(NanMetric(),))
    guard = DivergenceGuard()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    assert guard.events[0]["batch"] == 2 and guard.events[0]["reason"] == "nan"


def test_constant_huge_kernel_overflows_at_once_and_is_rolled_back():
    x, y = tiny_data()
    keras.utils.set_random_seed(0)
    init = keras.initializers.Constant(1e5)
    model = keras.Sequential([keras.Input((5,))] + [
        keras.layers.Dense(2, activation="relu", kernel_initializer=init) for _ in range(5)
    ] + [keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    guard = DivergenceGuard()
    model.fit(x, keras.utils.to_categorical(y, 3), batch_size=8, epochs=3, verbose=0,
              callbacks=[guard])
    assert guard.events[0]["batch"] == 0 and guard.events[0]["reason"] in ("nan", "inf")
    assert guard.events[0]["action"] == "rolled_back"
    assert all_finite(model)


def regression_model(lr):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), "mse")
    return model


def test_absurd_sgd_learning_rate_backs_off_and_finishes_finite():
    x, _ = tiny_data()
    target = x.sum(axis=1, keepdims=True)
    model = regression_model(1e3)
    guard = DivergenceGuard(lr_backoff=1e-4, max_backoffs=3)
    history = model.fit(x, target, batch_size=8, epochs=4, verbose=0, callbacks=[guard])
    assert guard.events and all(e["action"] == "lr_backoff" for e in guard.events)
    assert guard.backoffs_used == len(guard.events) <= 3
    assert guard.lr_scale == pytest.approx(1e-4 ** guard.backoffs_used)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e3 * guard.lr_scale, rel=1e-5)
    assert all(np.isfinite(history.history["loss"]))  # the bad epoch's metrics were reset
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert guard.stop_reason is None
    assert all_finite(model)


def test_backoff_limit_then_stop():
    x, y = poisoned_data(bad_batch=1)
    model = tiny_model()
    guard = DivergenceGuard(lr_backoff=0.5, max_backoffs=2)
    model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0, callbacks=[guard])
    # The poisoned batch comes back every epoch: two back-offs, then a stop.
    assert [e["action"] for e in guard.events] == ["lr_backoff", "lr_backoff", "rolled_back"]
    assert [e["epoch"] for e in guard.events] == [0, 1, 2]
    assert guard.stop_reason == "nan"
    assert all_finite(model)


def test_learning_rate_schedule_is_scaled():
    x, y = poisoned_data(bad_batch=1)
    keras.utils.set_random_seed(0)
    model = tiny_model()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=10, decay_rate=0.9)
    model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy")
    guard = DivergenceGuard(lr_backoff=0.1, max_backoffs=1)
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[guard])
    config = model.optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "ScaledSchedule"
    assert config["config"]["scale"] == pytest.approx(0.1)
    step = int(model.optimizer.iterations.numpy())
    assert float(model.optimizer.learning_rate) == pytest.approx(
        0.1 * float(schedule(step)), rel=1e-5)


def test_callable_learning_rate_is_refused_clearly():
    x, y = tiny_data()
    model = tiny_model()
    def constant_lr():
        return 0.01

    model.compile(keras.optimizers.SGD(constant_lr), "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="cannot scale"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[DivergenceGuard(lr_backoff=0.5)])


def test_raise_error_restores_first():
    x, y = poisoned_data(bad_batch=2)
    model = tiny_model()
    guard = DivergenceGuard(raise_error=True)
    # Batch index 2 is the progress bar's step 3 of "Epoch 1/2": the message says so.
    with pytest.raises(TrainingDivergedError, match="epoch 1, step 3") as info:
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[guard])
    assert info.value.event["epoch"] == 0 and info.value.event["batch"] == 2
    assert isinstance(info.value, RuntimeError)
    assert info.value.event["reason"] == "nan"
    assert all_finite(model)


def test_divergence_of_the_monitored_running_mean_with_patience():
    model = tiny_model()
    guard = DivergenceGuard(divergence_factor=2.0, patience=3, min_batches=1)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, loss in enumerate([1.0, 0.8, 0.5, 0.9, 1.2, 1.1, 1.3, 1.4]):
        guard.on_train_batch_end(batch, logs={"loss": loss})
        if model.stop_training:
            break
    # 0.5 is the lowest; 1.1, 1.3 and 1.4 exceed 2 x 0.5 = 1.0 three checks in a row
    # (1.2 too, so the third consecutive check is batch 6).
    assert guard.events == [{"epoch": 0, "epoch_number": 1, "batch": 6, "reason": "diverged",
                             "value": 1.3, "action": "rolled_back"}]


@pytest.mark.parametrize(("losses", "diverges"), [
    # Issue #26: near zero a wobble is 4.6x the best (0.076 vs 0.0165) while a model that
    # learned nothing is at ln 3 = 1.10: not a divergence.
    ([1.2, 0.3, 0.05, 0.0165] + [0.076] * 12, False),
    # A real blow-up from near zero still is.
    ([1.2, 0.3, 0.05, 0.0165] + [2.5] * 12, True),
])
def test_near_zero_loss_a_factor_of_the_best_is_not_enough(losses, diverges):
    model = tiny_model()  # 3 classes: the reference level is ln 3
    guard = DivergenceGuard(min_batches=1)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, loss in enumerate(losses):
        guard.on_train_batch_end(batch, logs={"loss": loss})
    assert bool(guard.events) is diverges
    assert guard.state_dict()["start_level"] == 1.2


def test_near_zero_without_a_reference_level_the_start_of_the_run_is_the_scale():
    model = tiny_model()
    model.compile("sgd", keras.losses.Huber())  # no known reference level
    guard = DivergenceGuard(min_batches=1)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, loss in enumerate([4.0, 1.0, 0.01] + [0.05] * 12):
        guard.on_train_batch_end(batch, logs={"loss": loss})
    assert guard.events == []          # 5x the best, but far below half of 4.0
    for batch, loss in enumerate([3.0] * 12, start=20):
        guard.on_train_batch_end(batch, logs={"loss": loss})
    assert guard.events and guard.events[0]["reason"] == "diverged"


def test_a_lucky_first_batch_does_not_make_the_ordinary_mean_look_diverged():
    # Seen in the quickstart (Adam at 0.1, dropout 0.5): the running mean after one
    # batch of a later epoch was 0.074, the epoch settled at 0.33, and the literal
    # "lowest value so far" rule rolled back three times and stopped a healthy run.
    # (Scaled x5 so that the literal rule's false alarm is not also below the near-zero
    # floor, half of ln 3: at 0.33 that floor alone now keeps the literal rule quiet.)
    means = [5 * 0.074, 5 * 0.2] + [5 * 0.33] * 30

    def run(**kwargs):
        model = tiny_model()
        guard = DivergenceGuard(**kwargs)
        guard.set_model(model)
        guard.on_train_begin()
        guard.on_epoch_begin(0)
        for batch in range(40):
            guard.on_train_batch_end(batch, logs={"loss": 2.5})
        guard.on_epoch_end(0, logs={"loss": 2.5})
        guard.on_epoch_begin(1)
        for batch, loss in enumerate(means):
            guard.on_train_batch_end(batch, logs={"loss": loss})
        return guard

    assert run().events == [] and run().stop_reason is None
    literal = run(min_batches=1)  # every value may set the lowest: 1.65 > 3 x 0.37
    assert literal.stop_reason == "diverged" and literal.events[0]["epoch"] == 1
    # a real blow-up later in that epoch is still caught against the settled lowest value,
    # and at the very start of training the first batches are the reference
    guard = run()
    for batch in range(len(means), len(means) + 10):
        guard.on_train_batch_end(batch, logs={"loss": 25.0})
    assert guard.stop_reason == "diverged"
    model = tiny_model()
    guard = DivergenceGuard()
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, loss in enumerate([2.3, 2.2, 30.0, 900.0] + [3e4] * 12):
        guard.on_train_batch_end(batch, logs={"loss": loss})
        if model.stop_training:
            break
    assert guard.events[0]["batch"] == 11 and guard.events[0]["reason"] == "diverged"


def test_max_mode_divergence_on_an_accuracy_monitor():
    model = tiny_model()
    guard = DivergenceGuard(monitor="accuracy", divergence_factor=2.0, patience=1,
                            min_batches=1)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for batch, acc in enumerate([0.5, 0.8, 0.3]):
        guard.on_train_batch_end(batch, logs={"loss": 1.0, "accuracy": acc})
    assert guard.stop_reason == "diverged" and guard.events[0]["batch"] == 2


def test_not_learning_stops_after_grace_epochs():
    model = tiny_model(classes=10)
    # Epoch logs only (no batch): the step grace is off here, the epoch grace is tested.
    guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, grace_steps=0)
    guard.set_model(model)
    guard.on_train_begin()
    for epoch in range(4):
        guard.on_epoch_begin(epoch)
        guard.on_epoch_end(epoch, logs={"loss": 2.31, "accuracy": 0.1})
        if model.stop_training:
            break
    assert guard.stop_reason == "not_learning"
    assert guard.events[0]["epoch"] == 1 and guard.events[0]["batch"] is None


def test_the_not_learning_grace_counts_optimizer_steps_not_only_epochs():
    """Issue #26: wine (106 training samples) at batch 128 is one step an epoch; trials
    judged after 2 epochs (2 steps) were pruned as not learning."""
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = ((x - x.mean(0)) / x.std(0)).astype("float32")[order], y[order]

    def run(**kwargs):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((13,)), keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dropout(0.1),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, restore=None,
                                **kwargs)
        history = model.fit(x[:106], y[:106], validation_data=(x[106:], y[106:]),
                            epochs=15, batch_size=128, verbose=0, callbacks=[guard])
        return guard, history.history

    guard, history = run()
    assert guard.stop_reason is None and len(history["loss"]) == 15
    assert history["val_accuracy"][-1] > history["val_accuracy"][1]  # it was learning
    epochs_only, _ = run(grace_steps=0)  # the epoch grace alone stops it after 2 steps
    if keras.backend.backend() == "tensorflow":
        assert epochs_only.stop_reason == "not_learning"


def test_not_learning_spares_a_slow_but_learning_run():
    model = tiny_model(classes=10)
    guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=3)
    guard.set_model(model)
    guard.on_train_begin()
    for epoch, loss in enumerate([2.46, 2.44, 2.42, 2.40, 2.38]):
        guard.on_epoch_begin(epoch)
        guard.on_epoch_end(epoch, logs={"loss": loss, "accuracy": 0.1 + 0.005 * epoch,
                                        "val_loss": loss - 0.01})
    assert guard.events == []


def test_steps_per_execution_reports_the_end_step():
    x, y = poisoned_data(bad_batch=5)
    model = tiny_model(steps_per_execution=4)
    guard = DivergenceGuard()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    # Batches 4-7 run in one execution; Keras reports its end step, 7.
    assert guard.events[0]["batch"] == 7
    assert all_finite(model)


def test_deepcopy_and_reuse_across_fits():
    x, y = poisoned_data(bad_batch=2)
    guard = DivergenceGuard()
    clone = copy.deepcopy(guard)
    model = tiny_model()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[clone])
    assert clone.events and not guard.events
    x_ok, y_ok = tiny_data()
    model.fit(x_ok, y_ok, batch_size=8, epochs=1, verbose=0, callbacks=[clone])
    assert clone.events == [] and clone.stop_reason is None  # state reset per fit
    again = copy.deepcopy(clone)  # after a fit too: the copy does not carry the model
    assert again.model is None and clone.model is model


def test_missing_monitor_warns_with_the_available_keys():
    x, y = tiny_data()
    model = tiny_model()
    with pytest.warns(KerasBestPracticeWarning, match="available: accuracy, loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[DivergenceGuard(monitor="val_los",
                                                                        mode="min")])


def test_a_mistyped_monitor_is_pointed_at_the_key_it_meant():
    """Issue #26: `monitor="val_los"` warned without naming `val_loss`."""
    x, y = tiny_data()
    model = tiny_model()
    with pytest.warns(KerasBestPracticeWarning, match="Did you mean 'val_loss'"):
        model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0,
                  callbacks=[DivergenceGuard(monitor="val_los", mode="min")])


def test_state_dict_round_trip_is_applied_at_train_begin():
    guard = DivergenceGuard(lr_backoff=0.5)
    guard.load_state_dict({"lr_scale": 0.25, "backoffs_used": 2, "events": [
        {"epoch": 0, "batch": 1, "reason": "nan", "value": float("nan"),
         "action": "lr_backoff"}], "stop_reason": None, "best": 0.5, "history": {}})
    model = tiny_model()
    guard.set_model(model)
    guard.on_train_begin()
    assert guard.backoffs_used == 2 and guard.lr_scale == 0.25 and len(guard.events) == 1
    assert guard.state_dict()["best"] == 0.5


@pytest.mark.parametrize("kwargs, error, match", [
    ({"divergence_factor": 1.0}, ValueError, "divergence_factor"),
    ({"divergence_factor": -2}, ValueError, "divergence_factor"),
    ({"lr_backoff": 1.5}, ValueError, "lr_backoff"),
    ({"lr_backoff": 0.0}, ValueError, "lr_backoff"),
    ({"restore": "latest"}, ValueError, "restore"),
    ({"patience": 0}, ValueError, "patience"),
    ({"check_every": 0}, ValueError, "check_every"),
    ({"max_backoffs": -1}, ValueError, "max_backoffs"),
    ({"snapshot_every": "step"}, ValueError, "snapshot_every"),
    ({"snapshot_every": 0}, ValueError, "snapshot_every"),
    ({"mode": "maximum"}, ValueError, "mode"),
    ({"monitor": "weird_quantity"}, ValueError, "mode='max'"),
    ({"restore": None, "lr_backoff": 0.5}, ValueError, "lr_backoff"),
    ({"patience": 2.5}, TypeError, "patience"),
    ({"min_batches": 0}, ValueError, "min_batches"),
    ({"stop_if_not_learning": "yes"}, TypeError, "stop_if_not_learning"),
    ({"num_classes": 1}, ValueError, "num_classes"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DivergenceGuard(**kwargs)


def test_snapshot_every_n_batches_rolls_back_mid_epoch():
    x, y = poisoned_data(bad_batch=6)
    model = tiny_model()
    guard = DivergenceGuard(snapshot_every=2, lr_backoff=0.5, max_backoffs=1)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    assert guard.events[0]["action"] == "lr_backoff"
    assert all_finite(model)


@pytest.mark.tensorflow_only
@pytest.mark.slow
def test_mirrored_strategy_with_two_logical_cpus():
    script = textwrap.dedent("""
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from keras_bestpractice.callbacks import DivergenceGuard
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        rng = np.random.default_rng(0)
        x = rng.random((64, 5)).astype("float32"); y = rng.integers(0, 3, 64)
        x[3 * 16 + 2, 1] = np.inf
        with strategy.scope():
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
        guard = DivergenceGuard(lr_backoff=0.5, max_backoffs=1)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[guard])
        assert [e["batch"] for e in guard.events] == [3, 3], guard.events
        assert [e["action"] for e in guard.events] == ["lr_backoff", "rolled_back"], guard.events
        assert all(np.isfinite(w).all() for w in model.get_weights())
        assert abs(float(model.optimizer.learning_rate.numpy()) - 0.005) < 1e-7
        print("MIRRORED-OK")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert "MIRRORED-OK" in result.stdout, result.stderr[-3000:]


# --------------------------------------------------------------------------- issue #18
class SpoilAfterLastBatch(keras.callbacks.Callback):
    """After the last training batch of `epoch`, puts a non-finite value into `variable`
    (as an Inf gradient on the last step would); the logged loss stays finite."""

    def __init__(self, epoch, pick, value=np.inf):
        super().__init__()
        self.epoch, self.pick, self.value = epoch, pick, value

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == self.epoch and batch + 1 == self.params["steps"]:
            variable = self.pick(self.model)
            spoiled = np.array(variable.numpy(), copy=True)
            spoiled.flat[0] = self.value
            variable.assign(spoiled)


@pytest.mark.parametrize("pick", [
    lambda model: model.layers[0].kernel,                               # an Inf weight
    lambda model: model.layers[1].moving_mean,                          # a NaN statistic
], ids=["inf_kernel", "nan_batchnorm_mean"])
def test_non_finite_weights_with_finite_logs_are_rolled_back(pick):
    x, y = tiny_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    guard = DivergenceGuard()
    value = np.nan if "moving" in str(pick(model).path) else np.inf
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                        callbacks=[SpoilAfterLastBatch(1, pick, value), guard])
    assert all(np.isfinite(v) for v in history.history["loss"])  # nothing in the logs
    assert [e["reason"] for e in guard.events] == ["nan"]
    assert guard.events[0]["epoch"] == 1 and guard.events[0]["action"] == "rolled_back"
    assert all_finite(model)
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_lr_backoff_works_through_a_loss_scale_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, y = poisoned_data()
        model = tiny_model(lr=0.1)
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        guard = DivergenceGuard(lr_backoff=0.5)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert [e["action"] for e in guard.events] == ["lr_backoff"]
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
