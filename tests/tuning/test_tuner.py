import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from keras_bestpractice.data import stratified_dataset
from keras_bestpractice.tuning import RandomSearchTuner, handbook_search_space
from tests.tuning.helpers import build_mlp, digits_splits

ROOT = Path(__file__).resolve().parents[2]


# The tuner's bookkeeping (results table, failures, resuming a killed search, search
# arguments) does not depend on the backend that trains the trials: these run on the
# TensorFlow pass only; the JAX pass keeps the trials' training (same seed, same results;
# the curve pruner; the step grace) and KerasTuner's conformance suite.
BOOKKEEPING = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def data():
    return digits_splits()


def search(tmp_path, data, name="p", max_trials=4, epochs=3, **kwargs):
    (xt, yt), (xv, yv) = data
    tuner = RandomSearchTuner(build_mlp, max_trials=max_trials, epochs_per_trial=epochs,
                              directory=tmp_path, project_name=name, **kwargs)
    tuner.search(xt, yt, validation_data=(xv, yv))
    return tuner


def test_handbook_space_has_the_four_hyperparameters():
    hp = handbook_search_space()
    values = {p.name: p.get_config()["values"] for p in hp.space}
    assert values == {"learning_rate": [0.1, 0.01, 0.001, 0.0001, 1e-05],
                      "dropout": [0.1, 0.25, 0.5], "batch_size": [32, 128],
                      "optimizer": ["adam", "adagrad", "rmsprop"]}


@BOOKKEEPING
def test_search_table_pruning_and_hparams_files(tmp_path, data):
    # grace_steps=0: judged from the first epoch (the 3-epoch trials are ~25-100 steps;
    # the default waits 50, tested below).
    tuner = search(tmp_path, data, max_trials=5, seed=1, logdir=tmp_path / "logs",
                   min_trials_for_median=1, grace_steps=0)
    frame = tuner.results_frame()
    assert len(frame) == 5 and set(frame["trial_id"]) == {"0", "1", "2", "3", "4"}
    for column in ("hp_learning_rate", "hp_dropout", "hp_batch_size", "hp_optimizer",
                   "best_val_accuracy", "last_val_accuracy", "best_val_f1_macro",
                   "best_val_precision_macro", "best_val_recall_macro", "best_val_loss",
                   "best_epoch", "val_loss_slope", "epochs_run", "prune_reason", "seconds"):
        assert column in frame.columns, column
    assert (tmp_path / "p" / "results.csv").exists()
    pruned = frame[frame["prune_reason"] != ""]
    assert set(pruned["prune_reason"]) <= {"nan", "inf", "diverged", "not_learning", "median"}
    assert (pruned["epochs_run"] < 3).all() and (pruned["status"] == "pruned").all()
    assert not pruned.empty  # the handbook space always has hopeless corners
    assert frame["best_val_accuracy"].notna().all()
    best = tuner.get_best_hyperparameters()[0].values
    top = frame.sort_values("score", ascending=False).iloc[0]
    assert best["learning_rate"] == top["hp_learning_rate"]
    model = tuner.get_best_models()[0]
    assert model.evaluate(*data[1], verbose=0)[1] == pytest.approx(top["best_val_accuracy"],
                                                                     abs=1e-6)
    sessions = sorted(p.name for p in (tmp_path / "logs").iterdir() if p.is_dir())
    assert sessions == [f"trial_{i}" for i in range(5)]


def test_same_seed_same_trials_same_results(tmp_path, data):
    a = search(tmp_path, data, name="a", seed=7, max_trials=2, epochs=2, prune=False)
    b = search(tmp_path, data, name="b", seed=7, max_trials=2, epochs=2, prune=False)
    a, b = a.results_frame(), b.results_frame()
    hp_cols = [c for c in a.columns if c.startswith("hp_")]
    assert a[hp_cols].equals(b[hp_cols])
    np.testing.assert_array_equal(a["best_val_loss"].to_numpy(), b["best_val_loss"].to_numpy())


@BOOKKEEPING
def test_failed_trial_is_recorded_and_the_search_goes_on(tmp_path, data):
    def build(hp):
        if hp.get("optimizer") == "adagrad":
            raise RuntimeError("adagrad is broken in this build")
        return build_mlp(hp)

    (xt, yt), (xv, yv) = data
    hp = handbook_search_space()
    tuner = RandomSearchTuner(build, hyperparameters=hp, max_trials=6, epochs_per_trial=1,
                              seed=2, directory=tmp_path, project_name="f")
    tuner.search(xt, yt, validation_data=(xv, yv))
    frame = tuner.results_frame()
    failed = frame[frame["status"] == "failed"]
    assert len(frame) == 6 and not failed.empty
    assert failed["error"].str.contains("adagrad is broken").all()
    assert (frame[frame["status"] != "failed"]["hp_optimizer"] != "adagrad").all()


def test_out_of_memory_trial_is_retried_at_half_the_batch_size(tmp_path, data):
    class FakeOOM(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if self.params["steps"] < 6:  # 450 samples: batch 128 gives 4 steps, 64 gives 8
                raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")

    (xt, yt), (xv, yv) = data
    hp = kt.HyperParameters()
    hp.Fixed("batch_size", 128)
    hp.Fixed("learning_rate", 1e-3)
    tuner = RandomSearchTuner(build_mlp, hyperparameters=hp, max_trials=1, epochs_per_trial=1,
                              directory=tmp_path, project_name="oom")
    tuner.search(xt, yt, validation_data=(xv, yv), callbacks=[FakeOOM()])
    row = tuner.results_frame().iloc[0]
    assert row["status"] != "failed" and row["batch_size_used"] == 64


def summary_times(project):
    return {p.parent.name: p.stat().st_mtime for p in project.glob("trial_*/kbp_trial.json")}


@BOOKKEEPING
def test_killed_search_reruns_only_unfinished_trials(tmp_path, data):
    class Kill(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if os.environ.get("KBP_TEST_KILL") == "1" and (tmp_path / "k" / "trial_2").exists():
                raise KeyboardInterrupt("killed")

    (xt, yt), (xv, yv) = data
    os.environ["KBP_TEST_KILL"] = "1"
    try:
        tuner = RandomSearchTuner(build_mlp, max_trials=4, epochs_per_trial=1, seed=4,
                                  directory=tmp_path, project_name="k")
        with pytest.raises(KeyboardInterrupt):
            tuner.search(xt, yt, validation_data=(xv, yv), callbacks=[Kill()])
    finally:
        os.environ.pop("KBP_TEST_KILL")
    done = summary_times(tmp_path / "k")
    assert sorted(done) == ["trial_0", "trial_1"]
    tuner = RandomSearchTuner(build_mlp, max_trials=4, epochs_per_trial=1, seed=4,
                              directory=tmp_path, project_name="k")
    tuner.search(xt, yt, validation_data=(xv, yv))
    after = summary_times(tmp_path / "k")
    assert sorted(after) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(after[k] == done[k] for k in done)  # finished trials were not run again


def test_changed_search_space_is_refused_on_resume(tmp_path, data):
    search(tmp_path, data, name="s", max_trials=1, epochs=1)
    hp = handbook_search_space()
    hp.Choice("units", [8, 16])
    with pytest.raises(ValueError, match="search space of the existing project"):
        RandomSearchTuner(build_mlp, hyperparameters=hp, directory=tmp_path, project_name="s")


@BOOKKEEPING
def test_callable_input_gets_the_batch_size_and_batched_dataset_is_refused(tmp_path, data):
    (xt, yt), (xv, yv) = data
    sizes = []

    def make(batch_size):
        sizes.append(batch_size)
        return stratified_dataset(xt, yt, batch_size=batch_size, seed=0)

    tuner = RandomSearchTuner(build_mlp, max_trials=2, epochs_per_trial=1, seed=5,
                              directory=tmp_path, project_name="c")
    tuner.search(make, validation_data=(xv, yv))
    frame = tuner.results_frame()
    assert sizes == frame["hp_batch_size"].tolist()
    ds = stratified_dataset(xt, yt, batch_size=32)
    with pytest.raises(ValueError, match="already batched"):
        tuner.search(ds, validation_data=(xv, yv))


@BOOKKEEPING
def test_search_epochs_override_and_bad_arguments(tmp_path, data):
    tuner = search(tmp_path, data, name="e", max_trials=1, epochs=5, prune=False)
    (xt, yt), (xv, yv) = data
    t2 = RandomSearchTuner(build_mlp, max_trials=1, epochs_per_trial=5, prune=False,
                           directory=tmp_path, project_name="e2")
    t2.search(xt, yt, validation_data=(xv, yv), epochs=2)
    assert t2.results_frame()["epochs_run"].tolist() == [2]
    assert tuner.results_frame()["epochs_run"].tolist() == [5]
    with pytest.raises(ValueError, match="epochs_per_trial"):
        RandomSearchTuner(build_mlp, epochs_per_trial=0, directory=tmp_path, project_name="x")
    with pytest.raises(TypeError, match="prune"):
        RandomSearchTuner(build_mlp, prune="yes", directory=tmp_path, project_name="y")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# What it checks is TensorBoard's reading of the files (the JAX pass checks the files).
@pytest.mark.backend_independent
@pytest.mark.slow
def test_real_tensorboard_hparams_plugin_shows_every_trial(tmp_path, data):
    from tests.hparams.board import metric_values, session_groups, tensorboard

    tuner = search(tmp_path, data, max_trials=4, seed=1, logdir=tmp_path / "logs")
    frame = tuner.results_frame()
    with tensorboard(tmp_path / "logs", wait_for=len(frame)) as (port, experiment):
        domains = {h["name"]: h.get("domainDiscrete") for h in experiment["hparamInfos"]}
        assert domains["learning_rate"] == [1e-05, 0.0001, 0.001, 0.01, 0.1]
        assert domains["optimizer"] == ["adagrad", "adam", "rmsprop"]
        tags = {(m["name"]["group"], m["name"]["tag"]) for m in experiment["metricInfos"]}
        assert ("validation", "epoch_accuracy") in tags and ("validation", "epoch_f1_macro") in tags
        by_name = {g["name"]: g for g in session_groups(port)}
        assert sorted(by_name) == [f"trial_{t}" for t in frame["trial_id"]]
        for _, row in frame.iterrows():
            group = by_name[f"trial_{row['trial_id']}"]
            assert group["hparams"]["optimizer"] == row["hp_optimizer"]
            assert group["hparams"]["learning_rate"] == pytest.approx(row["hp_learning_rate"])
            values = metric_values(group)
            assert values[("validation", "epoch_accuracy")] == pytest.approx(
                row["last_val_accuracy"], abs=1e-6)


# What it checks is KerasTuner's oracle protocol across processes; trials on JAX are
# checked by the other tuner tests.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_distributed_chief_and_two_workers(tmp_path):
    port = free_port()
    script = Path(__file__).with_name("distributed_worker.py")
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    procs = {}
    for who in ("chief", "tuner0", "tuner1"):
        procs[who] = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                                      env={**env, "KERASTUNER_TUNER_ID": who}, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if who == "chief":
            time.sleep(4)
    outputs = {who: proc.communicate(timeout=420) for who, proc in procs.items()}
    for who, proc in procs.items():
        assert proc.returncode == 0, (who, outputs[who][1][-3000:])
    chief = [line for line in outputs["chief"][0].splitlines() if line.startswith("CHIEF-DONE")]
    rows = json.loads(chief[0].split(" ", 1)[1])
    assert sorted(r["trial_id"] for r in rows) == [str(i) for i in range(6)]
    summaries = list((tmp_path / "dist").glob("trial_*/kbp_trial.json"))
    assert len(summaries) == 6  # no trial ran twice: one summary each, six in all
    ran_by = {json.loads(p.read_text())["trial_id"] for p in summaries}
    assert len(ran_by) == 6
    assert any(r["prune_reason"] for r in rows)  # pruning works across workers


def build_fast_or_slow(hp):
    """16 hidden units learn digits to ~0.95; 4 tanh units (which cannot die, so the
    guard leaves them alone) learn, but level off far lower: the curve projects below
    the best finished trial."""
    speed = hp.Choice("speed", ["fast", "slow"])
    hidden = keras.layers.Dense(16, activation="relu") if speed == "fast" else \
        keras.layers.Dense(4, activation="tanh")
    model = keras.Sequential([keras.Input((64,)), hidden,
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_curve_pruner_stops_a_trial_whose_curve_cannot_catch_the_best(tmp_path, data):
    (xt, yt), (xv, yv) = data

    class FastFirst(kt.oracles.RandomSearchOracle):
        """The fast configuration first, so the slow ones have a best to chase."""

        def populate_space(self, trial_id):
            speed = "fast" if not self.trials else "slow"
            return {"status": "RUNNING", "values": {"speed": speed}}

    tuner = RandomSearchTuner(build_fast_or_slow, max_trials=3, epochs_per_trial=15, seed=0,
                              pruner="curve", min_trials_for_median=1, directory=tmp_path,
                              project_name="curve")
    tuner.oracle.__class__ = type("Patched", (FastFirst,), {})
    tuner.search(xt, yt, validation_data=(xv, yv))
    frame = tuner.results_frame().set_index("hp_speed", append=True)
    fast = frame.xs("fast", level="hp_speed").iloc[0]
    slow = frame.xs("slow", level="hp_speed")
    assert fast["status"] == "completed" and fast["epochs_run"] == 15
    assert set(slow["prune_reason"]) == {"curve"}
    assert (slow["epochs_run"] >= 4).all() and (slow["epochs_run"] < 15).all()
    assert (slow["best_val_accuracy"] < fast["best_val_accuracy"]).all()


@pytest.mark.parametrize("pruner, pruned", [("median", False), ("object", True)])
def test_median_pruner_waits_for_grace_steps_optimizer_steps(tmp_path, data, pruner, pruned):
    # Issue #26: with one optimizer step per epoch (a small set at a large batch) the
    # median rule judged trials after one or two steps. By name it waits grace_steps
    # (50); a Pruner object has its own min_steps (0 here).
    from keras_bestpractice.tuning import MedianPruner

    (xt, yt), (xv, yv) = data

    class FastFirst(kt.oracles.RandomSearchOracle):
        def populate_space(self, trial_id):
            return {"status": "RUNNING",
                    "values": {"speed": "fast" if not self.trials else "slow"}}

    tuner = RandomSearchTuner(build_fast_or_slow, max_trials=2, epochs_per_trial=3, seed=0,
                              min_trials_for_median=1, directory=tmp_path, project_name=pruner,
                              pruner=MedianPruner(min_peers=1) if pruner == "object" else pruner)
    tuner.oracle.__class__ = type("Patched", (FastFirst,), {})
    # 256 samples at batch 256: every epoch is one optimizer step.
    tuner.search(xt[:256], yt[:256], validation_data=(xv, yv), batch_size=256)
    frame = tuner.results_frame().set_index("hp_speed")
    assert frame.loc["fast", "best_val_accuracy"] > frame.loc["slow", "best_val_accuracy"]
    assert (frame.loc["slow", "prune_reason"] == "median") is pruned


def test_a_reload_builds_no_model_until_one_is_needed(tmp_path):
    # Issue #24: reloading a project built the model two or three times (to learn whether
    # the build compiles, then to check the space it declares), 16-18 ms each, where
    # KerasTuner's own reload builds none; one build, at the first search or best model,
    # answers both.
    builds = []

    def counted(hp):
        builds.append(1)
        return build_mlp(hp)

    tuner = RandomSearchTuner(counted, max_trials=3, directory=tmp_path, project_name="r")
    for _ in range(2):
        trial = tuner.oracle.create_trial("t")
        tuner.oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
        tuner.oracle.end_trial(trial)
    tuner.save()
    builds.clear()
    again = RandomSearchTuner(counted, max_trials=3, directory=tmp_path, project_name="r")
    # Reading the results builds nothing (KerasTuner's own reload builds none either).
    assert len(again.oracle.trials) == 2 and len(again.results_frame()) == 2
    assert len(builds) == 0
    # The first use that builds checks the space with one build, and once.
    again._check_on_first_use()
    again._check_on_first_use()
    assert again._compiles_for_the_build() is True and len(builds) == 1
