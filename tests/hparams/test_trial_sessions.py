"""The tuner's HParams sessions: which columns the dashboard shows, and how."""

import keras_tuner as kt
import pytest
from tensorboard.plugins.hparams import backend_context

from keras_bestpractice.hparams.trial_sessions import TrialSessions, shown_first
from keras_bestpractice.tuning.space import HANDBOOK_HYPERPARAMETERS, handbook_search_space
from tests.hparams.test_hparams_logger import hparams_records


def summary(trial_id, values):
    return {"trial_id": trial_id, "hyperparameters": values, "history": {"val_loss": [1.0]},
            "epochs_run": 1, "status": "completed", "prune_reason": None, "error": None}


def write_two_trials(tmp_path):
    space = handbook_search_space()
    space.Int("units", 8, 64)
    space.Fixed("depth", 2)
    sessions = TrialSessions(tmp_path)
    for i, (batch, units) in enumerate([(128, 8), (32, 64)]):
        values = {"learning_rate": 0.01, "dropout": 0.1, "batch_size": batch,
                  "optimizer": "adam", "units": units, "depth": 2}
        sessions.write(space, "val_loss", "min", summary(f"{i:02d}", values),
                       defaults=HANDBOOK_HYPERPARAMETERS)
    return [r.experiment for r in hparams_records(tmp_path) if r.HasField("experiment")][0]


def dashboard_columns(experiment):
    """The hyperparameter columns TensorBoard's HParams table ticks: its server's sort
    (`differs` first, then name), then the first five, as its frontend does."""
    backend_context._sort_and_reduce_to_hparams_limit(experiment)
    return [info.name for info in experiment.hparam_infos][:5]


def test_the_users_own_hyperparameter_and_the_outcome_are_shown(tmp_path):
    # Issue #26: the handbook's four and `outcome` took the five columns and hid `units`.
    columns = dashboard_columns(write_two_trials(tmp_path))
    assert "units" in columns and "outcome" in columns
    assert "depth" not in columns and "error" not in columns  # one value; free text


def test_whole_number_choices_read_as_whole_numbers_and_sort_in_numeric_order(tmp_path):
    # Issue #26: the table printed batch_size as "32.000" (five significant digits).
    experiment = write_two_trials(tmp_path)
    info = {i.name: i for i in experiment.hparam_infos}
    domain = [v.string_value for v in info["batch_size"].domain_discrete.values]
    assert [v.strip() for v in domain] == ["32", "128"]
    assert sorted(domain) == domain  # the table's text sort is the numeric order
    start = [r.session_start_info for r in hparams_records(tmp_path / "trial_01")
             if r.HasField("session_start_info")][0]
    assert int(start.hparams["batch_size"].string_value) == 32
    assert start.hparams["batch_size"].string_value in domain
    # A float stays a number; an integer range keeps its interval.
    assert start.hparams["learning_rate"].number_value == pytest.approx(0.01)
    assert start.hparams["units"].number_value == 64


def test_shown_first_puts_the_users_own_first_and_keeps_them_all():
    space = kt.HyperParameters()
    for name in ("a", "b", "c", "d", "e", "f"):
        space.Choice(name, [1, 2])
    space.Choice("learning_rate", [0.1, 0.01])
    from keras_bestpractice.hparams.writer import hparams_from_keras_tuner

    shown = shown_first(hparams_from_keras_tuner(space), HANDBOOK_HYPERPARAMETERS)
    # More of the own ones than five: all of them and the outcome, before the handbook's.
    assert shown == ["a", "b", "c", "d", "e", "f", "outcome"]


def test_metric_columns_are_only_those_the_trials_log(tmp_path):
    # Issue #24: the tuner's sessions had a column (best and last epoch) for every metric
    # it knows, logged or not: a build compiled with accuracy alone got six empty macro
    # columns. A failed trial without a history does not decide the columns.
    space = kt.HyperParameters()
    space.Choice("units", [8, 16])
    sessions = TrialSessions(tmp_path)
    failed = dict(summary("00", {"units": 8}), history={}, epochs_run=0, status="failed",
                  error="boom")
    sessions.write(space, "val_accuracy", "max", failed)
    assert not [r for r in hparams_records(tmp_path) if r.HasField("experiment")]
    logged = {"loss": [1.0, 0.8], "accuracy": [0.5, 0.6], "val_loss": [1.1, 0.9],
              "val_accuracy": [0.4, 0.55]}
    sessions.write(space, "val_accuracy", "max",
                   dict(summary("01", {"units": 16}), history=logged, epochs_run=2))
    experiment = [r.experiment for r in hparams_records(tmp_path)
                  if r.HasField("experiment")][0]
    names = [m.display_name for m in experiment.metric_infos]
    assert names == ["val_accuracy (best epoch)", "val_accuracy (last epoch)",
                     "val_loss (best epoch)", "val_loss (last epoch)", "train_loss",
                     "train_accuracy"]
