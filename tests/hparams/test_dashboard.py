"""The HParams dashboard as a real TensorBoard 2.x serves it (issue #15): a loopback
server on a free port, queried through the plugin's HTTP API, stopped at the end."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from keras_bestpractice.tuning import RandomSearchTuner
from tests.hparams.board import metric_values, session_groups, tensorboard
from tests.tuning.helpers import digits_splits

# What these check is TensorBoard's reading of the files: once, on the TensorFlow pass.
pytestmark = [pytest.mark.backend_independent, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_three_processes_one_logdir_every_domain_value_filters_to_its_own_run(tmp_path):
    runs = {"a": ("adam", 1e-3), "b": ("rmsprop", 1e-2), "c": ("sgd", 50.0)}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).with_name("plain_run.py")),
                               str(tmp_path), name, opt, str(lr)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for name, (opt, lr) in runs.items()]  # all three at once
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out.decode()[-2000:]
    with tensorboard(tmp_path, wait_for=3) as (port, experiment):
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        assert sorted(infos["optimizer"]["domainDiscrete"]) == ["adam", "rmsprop", "sgd"]
        interval = infos["learning_rate"]["domainInterval"]
        assert interval["minValue"] == pytest.approx(1e-3) and interval["maxValue"] == 50.0
        for name, (opt, _) in runs.items():  # each advertised value selects its own run
            groups = session_groups(port, [{"hparam": "optimizer", "filterDiscrete": [opt]}])
            assert [g["name"] for g in groups] == [name]
        groups = session_groups(port, [{"hparam": "learning_rate",
                                        "filterInterval": {"minValue": 1.0, "maxValue": 100.0}}])
        assert [g["name"] for g in groups] == ["c"]
        tags = {(m["name"]["group"], m["name"]["tag"]) for m in experiment["metricInfos"]}
        assert {("validation", "epoch_accuracy"), ("validation", "best_accuracy"),
                ("train", "epoch_loss")} <= tags
        assert len(session_groups(port)) == 3


def build_ok_nan_or_failing(hp):
    mode = hp.Choice("mode", ["ok", "nan", "fail"])
    if mode == "fail":
        raise ValueError("boom: this configuration cannot be built")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    optimizer = keras.optimizers.SGD(1e9) if mode == "nan" else keras.optimizers.Adam(1e-2)
    model.compile(optimizer, "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_tuner_dashboard_shows_pruned_and_failed_trials_and_best_and_last_values(tmp_path):
    (xt, yt), (xv, yv) = digits_splits(n=300)
    tuner = RandomSearchTuner(build_ok_nan_or_failing, max_trials=3, epochs_per_trial=3, seed=0,
                              directory=tmp_path, project_name="p", logdir=tmp_path / "logs")
    tuner.search(xt, yt, validation_data=(xv, yv))
    frame = tuner.results_frame()
    by_mode = {row["hp_mode"]: row for _, row in frame.iterrows()}
    assert set(by_mode) == {"ok", "nan", "fail"}
    with tensorboard(tmp_path / "logs", wait_for=3) as (port, experiment):
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        assert "pruned: nan" in infos["outcome"]["domainDiscrete"]
        assert infos["error"]["type"] == "DATA_TYPE_STRING"
        displays = [m["displayName"] for m in experiment["metricInfos"]]
        # The objective comes first, best epoch then last: the dashboard colours by the
        # first metric and shows the first five.
        assert displays[:2] == ["val_accuracy (best epoch)", "val_accuracy (last epoch)"]
        # The searched hyperparameters and the outcome before the (mostly empty) error
        # column: the dashboard shows the first five.
        assert [h["name"] for h in experiment["hparamInfos"]] == ["mode", "outcome", "error"]
        groups = {g["name"]: g for g in session_groups(port)}
        ok, nan, fail = (groups[f"trial_{by_mode[m]['trial_id']}"] for m in ("ok", "nan", "fail"))
        assert ok["sessions"][0]["status"] == "STATUS_SUCCESS"
        assert ok["hparams"]["outcome"] == "completed"
        assert nan["sessions"][0]["status"] == "STATUS_FAILURE"
        assert nan["hparams"]["outcome"] == f"pruned: {by_mode['nan']['prune_reason']}"
        assert fail["sessions"][0]["status"] == "STATUS_FAILURE"
        assert fail["hparams"]["outcome"] == "failed" and "boom" in fail["hparams"]["error"]
        # The dashboard's filters find them.
        pruned = session_groups(port, [{"hparam": "outcome",
                                        "filterDiscrete": [nan["hparams"]["outcome"]]}])
        assert [g["name"] for g in pruned] == [nan["name"]]
        failed = session_groups(port, [{"hparam": "error", "filterRegexp": "boom"}])
        assert [g["name"] for g in failed] == [fail["name"]]
        # Best and last values are those of the results table.
        values = metric_values(ok)
        row = by_mode["ok"]
        assert values[("validation", "best_accuracy")] == pytest.approx(
            row["best_val_accuracy"], abs=1e-6)
        assert values[("validation", "epoch_accuracy")] == pytest.approx(
            row["last_val_accuracy"], abs=1e-6)
        assert values[("validation", "best_loss")] == pytest.approx(
            row["best_val_loss"], abs=1e-6)
