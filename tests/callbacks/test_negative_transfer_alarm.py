"""NegativeTransferAlarm in fit, and diagnose()'s negative_transfer finding (issue #17)."""

import copy

import keras
import numpy as np
import pytest

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice._callback import stop_reason_of
from keras_bestpractice.callbacks import NegativeTransferAlarm
from keras_bestpractice.diagnostics import diagnose


def tiny():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1)


def test_fires_in_fit_when_the_reference_is_far_ahead_and_can_stop():
    x, y = data()
    alarm = NegativeTransferAlarm([1.0] * 10, monitor="val_accuracy", stop=True, verbose=0)
    model = tiny()
    with pytest.warns(KerasBestPracticeWarning, match="negative transfer.*from scratch"):
        history = model.fit(x, y, validation_data=(x, y), epochs=10, verbose=0,
                            callbacks=[copy.deepcopy(alarm), alarm])
    # Window 5-10, patience 2: judged at epochs 5 and 6, stopped after epoch 6.
    assert len(history.history["loss"]) == 6
    assert alarm.alarm.epoch == 5 and alarm.alarm.reference == 1.0
    assert stop_reason_of(model)[0] == "NegativeTransferAlarm"


def test_silent_against_a_weaker_reference_and_when_the_monitor_is_missing():
    x, y = data()
    alarm = NegativeTransferAlarm({"val_accuracy": [0.0] * 10}, verbose=0)
    tiny().fit(x, y, validation_data=(x, y), epochs=7, verbose=0, callbacks=[alarm])
    assert alarm.alarm is None
    missing = NegativeTransferAlarm([1.0] * 10, verbose=0)
    with pytest.warns(KerasBestPracticeWarning, match="'val_accuracy' is not in the epoch"):
        tiny().fit(x, y, epochs=6, verbose=0, callbacks=[missing])
    assert missing.alarm is None


@pytest.mark.backend_independent
@pytest.mark.parametrize("reference, kwargs, error, match", [
    ({"loss": [1.0]}, {}, ValueError, "has no 'val_accuracy'"),
    ([], {}, ValueError, "no epochs"),
    ("history.csv", {}, TypeError, "reference"),
    ([0.5], {"monitor": ""}, TypeError, "monitor"),
    ([0.5], {"margin": -1}, ValueError, "margin"),
    ([0.5], {"window": (3, 2)}, ValueError, "window"),
    ([0.5], {"monitor": "val_f", "mode": "auto"}, ValueError, "mode"),
])
def test_bad_arguments_are_named(reference, kwargs, error, match):
    with pytest.raises(error, match=match):
        NegativeTransferAlarm(reference, **kwargs)


@pytest.mark.backend_independent
def test_diagnose_gives_negative_transfer_only_with_a_better_reference():
    transferred = {"loss": list(np.linspace(1.5, 1.0, 10)),
                   "val_loss": list(np.linspace(1.6, 1.2, 10)),
                   "val_accuracy": [0.3, 0.4, 0.45, 0.5, 0.52, 0.53, 0.54, 0.55, 0.55, 0.56]}
    scratch = dict(transferred, val_accuracy=[0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.82, 0.84,
                                              0.85, 0.86])
    report = diagnose(transferred, num_classes=5, reference=scratch)
    finding = next(f for f in report.findings if f.code == "negative_transfer")
    assert finding.severity == "warning" and finding.epoch == 5
    assert finding.evidence["monitor"] == "val_accuracy"
    assert finding.evidence["reference"] == 0.8 and "from scratch" in finding.message
    assert "domain_transfer_init" in finding.suggestion
    assert all(f.code != "negative_transfer" for f in
               diagnose(scratch, num_classes=5, reference=transferred).findings)
    # Without a shared curve the check is skipped, and says so.
    report = diagnose({"loss": [1.0, 0.9]}, reference={"val_auc": [0.5, 0.6]})
    assert any(s.startswith("negative_transfer") for s in report.skipped_checks)


def test_state_round_trips_so_a_resumed_run_keeps_its_curve_and_alarm():
    x, y = data()
    alarm = NegativeTransferAlarm([1.0] * 10, verbose=0)
    with pytest.warns(KerasBestPracticeWarning, match="negative transfer"):
        tiny().fit(x, y, validation_data=(x, y), epochs=7, verbose=0, callbacks=[alarm])
    resumed = NegativeTransferAlarm([1.0] * 10, verbose=0)
    resumed.load_state_dict(alarm.state_dict())
    assert resumed.alarm == alarm.alarm and resumed.state_dict() == alarm.state_dict()
    assert resumed.state_key == "NegativeTransferAlarm{monitor='val_accuracy'}"
