"""The results table (pure pandas): one direction per metric, KerasTuner's tie rule."""

import math

import pytest

from keras_bestpractice._core.compare import Direction
from keras_bestpractice.tuning.results import build_frame

pytestmark = pytest.mark.backend_independent


def frame_of(history, objective="val_loss", direction="min"):
    summaries = {"0": {"trial_id": "0", "status": "completed", "history": history,
                       "hyperparameters": {"units": 4}}}
    return build_frame({}, summaries, objective, direction)


@pytest.mark.parametrize(("objective", "direction", "values", "epoch"), [
    ("val_loss", "min", [0.9, 0.5, 0.7, 0.5], 2),        # first of the tied losses
    ("val_accuracy", "max", [0.5, 0.9, 0.9, 0.1], 2),    # first of the tied accuracies
    ("val_loss", "min", [math.nan, 0.4, None, 0.4], 2),  # missing epochs never win
])
def test_best_epoch_is_the_first_best_epoch_as_kerastuner_keeps_it(
        objective, direction, values, epoch):
    row = frame_of({objective: values}, objective, direction).iloc[0]
    assert row["best_epoch"] == epoch
    # The tuner's own rule (Objective.better_than keeps the first best step) agrees.
    assert Direction.of(direction).best_index(values) + 1 == epoch


def test_each_metric_is_best_in_its_own_direction():
    history = {"val_loss": [0.9, 0.4, 0.6], "val_accuracy": [0.5, 0.8, 0.7],
               "val_f1_macro": [0.2, 0.3, 0.1]}
    row = frame_of(history, "val_accuracy", "max").iloc[0]
    assert row["best_val_loss"] == 0.4 and row["best_val_accuracy"] == 0.8
    assert row["best_val_f1_macro"] == 0.3 and row["last_val_loss"] == 0.6
    assert row["hp_units"] == 4 and row["best_epoch"] == 2
