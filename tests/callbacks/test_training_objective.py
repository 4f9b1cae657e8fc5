"""TrainingObjective: stop when the targets are met, terminate when out of reach (#17)."""

import copy
import re

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import PeriodicCheckpoint, TrainingObjective
from keras_bestpractice.hparams import HParamsLogger


def digits(n=600, shuffle_labels=False):
    x, y = load_digits(return_X_y=True)
    x, y = (x[:n] / 16.0).astype("float32"), y[:n]
    if shuffle_labels:
        y = np.random.default_rng(0).permutation(y)
    return x, y


def mlp(lr=1e-2):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_stops_at_the_first_epoch_that_meets_every_target():
    x, y = digits()
    objective = TrainingObjective({"val_accuracy": 0.85, "val_loss": 0.6}, verbose=0)
    history = mlp().fit(x, y, validation_split=0.25, epochs=30, verbose=0,
                        callbacks=[objective])
    acc, loss = history.history["val_accuracy"], history.history["val_loss"]
    first = next(i for i in range(len(acc)) if acc[i] >= 0.85 and loss[i] <= 0.6)
    assert objective.stop_reason == "objective_met" and objective.stop_reason.is_success
    assert objective.stopped_epoch == first and len(acc) == first + 1
    assert objective.events[-1]["reason"] == "objective_met"


def test_terminates_a_run_that_cannot_reach_its_target_before_the_budget():
    x, y = digits(shuffle_labels=True)  # nothing to learn: validation stays at chance
    objective = TrainingObjective({"val_accuracy": 0.9}, verbose=0)
    history = mlp().fit(x, y, validation_split=0.25, epochs=40, verbose=0,
                        callbacks=[objective])
    assert objective.stop_reason == "objective_unreachable"
    assert 4 <= len(history.history["loss"]) < 40
    assert max(history.history["val_accuracy"]) < 0.9
    last = objective.events[-1]
    assert "val_accuracy" in last["message"] and last["projections"]["val_accuracy"][
        "probability"] < 0.1
    # Once the training curve learns while validation stays flat (a ceiling, not a late
    # start), every epoch carries a projection; before that a flat curve is "uncertain".
    projected = [i for i, e in enumerate(objective.events) if "val_accuracy" in e["projections"]]
    assert projected and projected == list(range(projected[0], len(objective.events)))


def test_min_progress_terminates_a_stalled_training_loss():
    x, y = digits()
    objective = TrainingObjective({"val_accuracy": 0.999}, min_progress=0.05, min_epochs=30,
                                  verbose=0)
    mlp(lr=1e-5).fit(x, y, validation_split=0.25, epochs=30, verbose=0, callbacks=[objective])
    assert objective.stop_reason == "objective_unreachable"
    assert "min_progress" in objective.events[-1]["message"]
    assert objective.stopped_epoch == 3  # the first epoch with three epochs to compare


def test_prints_projections_keras_style(capsys):
    x, y = digits(n=300)
    objective = TrainingObjective({"val_accuracy": 0.9}, max_epochs=50, verbose=1)
    mlp().fit(x, y, validation_split=0.25, epochs=5, verbose=0, callbacks=[objective])
    lines = capsys.readouterr().out.splitlines()
    # One line per epoch with a projection, Keras-style; the first epochs may have none
    # (a curve within its noise, on one backend's initialisation or another's).
    assert lines and len(lines) <= 5
    assert all(re.fullmatch(r"Epoch [1-5]: TrainingObjective: val_accuracy reaches 0\.9 .*"
                            r"by epoch 50\.", line) for line in lines), lines
    assert lines[-1].startswith("Epoch 5: ")


def test_the_stopping_epoch_is_checkpointed_and_the_dashboard_tells_met_from_unreachable(
        tmp_path):
    x, y = digits()
    objective = TrainingObjective({"val_accuracy": 0.85}, verbose=0)
    logger = HParamsLogger(tmp_path / "hp", {"lr": 1e-2}, trial_id="met", judge=False)
    ckpt = PeriodicCheckpoint(tmp_path / "ckpt", every_n_epochs=10)
    mlp().fit(x, y, validation_split=0.25, epochs=30, verbose=0,
              callbacks=[objective, ckpt, logger])
    stopped = objective.stopped_epoch
    names = [p.name for p in (tmp_path / "ckpt").iterdir() if p.name.startswith("ckpt-")]
    assert any(n.startswith(f"ckpt-epoch{stopped + 1:04d}-end") for n in names), names
    assert logger.status == "success"
    shuffled = digits(shuffle_labels=True)
    objective = TrainingObjective({"val_accuracy": 0.9}, verbose=0)
    logger = HParamsLogger(tmp_path / "hp", {"lr": 1e-2}, trial_id="unreachable", judge=False)
    with pytest.warns(UserWarning, match="TrainingObjective: objective_unreachable"):
        mlp().fit(*shuffled, validation_split=0.25, epochs=40, verbose=0,
                  callbacks=[objective, logger])
    assert logger.status == "failure"


def test_state_survives_a_resume_and_a_copy(tmp_path):
    x, y = digits(n=300)
    objective = TrainingObjective({"val_accuracy": 0.999}, max_epochs=50, verbose=0)
    model = mlp()
    model.fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[objective])
    state = objective.state_dict()
    again = TrainingObjective({"val_accuracy": 0.999}, max_epochs=50, verbose=0)
    again.load_state_dict(state)  # before fit: applied at on_train_begin
    # The resumed run goes on with the same weights (PeriodicCheckpoint restores them).
    model.fit(x, y, validation_split=0.25, epochs=5, initial_epoch=3, verbose=0,
              callbacks=[again])
    assert [e["epoch"] for e in again.events] == [0, 1, 2, 3, 4]
    assert "val_accuracy" in again.events[-1]["projections"]  # 5 epochs: fitted
    assert copy.deepcopy(again).target == {"val_accuracy": 0.999}
    assert again.state_key != TrainingObjective({"val_loss": 0.1}).state_key


def test_a_target_never_logged_is_warned_about():
    x, y = digits(n=200)
    objective = TrainingObjective({"val_acc": 0.9}, verbose=0)
    with pytest.warns(KerasBestPracticeWarning, match=r"\['val_acc'\] not in the epoch logs"):
        mlp().fit(x, y, validation_split=0.25, epochs=1, verbose=0, callbacks=[objective])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"target": 0.9}, TypeError, "target"),
    ({"target": {}}, ValueError, "target"),
    ({"target": {"val_accuracy": "high"}}, TypeError, "target"),
    ({"target": {"val_accuracy": 0.9}, "confidence": 1.0}, ValueError, "confidence"),
    ({"target": {"val_accuracy": 0.9}, "min_epochs": 2}, ValueError, "min_epochs"),
    ({"target": {"val_accuracy": 0.9}, "max_epochs": 0}, ValueError, "max_epochs"),
    ({"target": {"val_accuracy": 0.9}, "min_progress": -0.1}, ValueError, "min_progress"),
    ({"target": {"val_thing": 0.9}}, ValueError, "mode"),
    ({"target": {"val_accuracy": 0.9}, "mode": {"val_loss": "min"}}, ValueError, "mode"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainingObjective(**kwargs)
