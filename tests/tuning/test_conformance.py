"""RandomSearchTuner keeps KerasTuner's contract (issue #12): our own tests of the behaviours
KerasTuner's tuner tests cover, and of what the issue saw go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import PeriodicCheckpoint
from keras_bestpractice.tuning import RandomSearchTuner, handbook_search_space, with_pruning

RNG = np.random.default_rng(0)
X, Y = RNG.random((48, 4)).astype("float32"), RNG.integers(0, 3, 48)
XV, YV = RNG.random((24, 4)).astype("float32"), RNG.integers(0, 3, 24)


def compiled_build(hp):
    """Declares its own learning rate and compiles itself."""
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(hp.Int("units", 2, 6, step=2),
                                                 activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def uncompiled_build(hp):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])


class SeenRates(keras.callbacks.Callback):
    """The learning rate each execution actually trained with."""

    seen: list[float] = []

    def on_train_begin(self, logs=None):
        SeenRates.seen.append(float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate)))


def tuner(tmp_path, build=compiled_build, **kwargs):
    kwargs.setdefault("max_trials", 2)
    kwargs.setdefault("epochs_per_trial", 1)
    kwargs.setdefault("seed", 0)
    return RandomSearchTuner(build, directory=tmp_path, project_name="p", **kwargs)


def test_a_build_that_compiles_itself_gets_only_its_own_hyperparameters(tmp_path):
    SeenRates.seen = []
    t = tuner(tmp_path, max_trials=3)
    t.search(X, Y, validation_data=(XV, YV), callbacks=[SeenRates()], verbose=0)
    frame = t.results_frame()
    assert sorted(c for c in frame.columns if c.startswith("hp_")) == ["hp_lr", "hp_units"]
    assert {p.name for p in t.oracle.get_space().space} == {"units", "lr"}
    # What the table says each trial ran with is what the optimizer really used.
    assert SeenRates.seen == pytest.approx(frame["hp_lr"].tolist())
    assert t.get_best_hyperparameters()[0].values.keys() == {"units", "lr"}


def test_an_uncompiled_build_tunes_what_the_tuner_applies(tmp_path):
    SeenRates.seen = []
    t = tuner(tmp_path, build=uncompiled_build, max_trials=3)
    t.search(X, Y, validation_data=(XV, YV), callbacks=[SeenRates()], verbose=0)
    frame = t.results_frame()
    assert sorted(c for c in frame.columns if c.startswith("hp_")) == [
        "hp_batch_size", "hp_learning_rate", "hp_optimizer"]
    assert SeenRates.seen == pytest.approx(frame["hp_learning_rate"].tolist())
    t2 = tuner(tmp_path / "b", build=uncompiled_build, optimizer=keras.optimizers.SGD(0.05))
    t2.search(X, Y, validation_data=(XV, YV), verbose=0)
    # The tuner's optimizer is used, so neither rate nor optimizer is a hyperparameter.
    assert {p.name for p in t2.oracle.get_space().space} == {"batch_size"}


def test_handbook_space_keeps_only_what_takes_effect(tmp_path):
    with pytest.warns(KerasBestPracticeWarning) as caught:
        t = tuner(tmp_path, hyperparameters="handbook")
    messages = " ".join(str(w.message) for w in caught)
    assert "learning_rate, dropout, optimizer would not take effect" in messages
    assert {p.name for p in t.oracle.get_space().space} == {"batch_size", "units", "lr"}

    def own_rate(hp):
        model = uncompiled_build(hp)
        hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4])  # the user's definition
        return model

    with pytest.warns(KerasBestPracticeWarning) as caught:
        t = tuner(tmp_path / "b", build=own_rate, hyperparameters=handbook_search_space())
    messages = " ".join(str(w.message) for w in caught)
    assert "declares learning_rate itself" in messages
    assert "dropout would not take effect (the build does not use it)" in messages
    rate = [p for p in t.oracle.get_space().space if p.name == "learning_rate"][0]
    assert rate.values == [1e-2, 1e-3, 1e-4]


def test_hypermodel_fit_runs_and_its_hyperparameters_reach_the_space(tmp_path):
    class HM(kt.HyperModel):
        def build(self, hp):
            return compiled_build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, shuffle=hp.Boolean("shuffle"), **kwargs)

    t = RandomSearchTuner(HM(), max_trials=2, epochs_per_trial=1, directory=tmp_path,
                          project_name="p", seed=1)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    assert "shuffle" in t.oracle.get_space()
    assert "hp_shuffle" in t.results_frame().columns


def test_executions_per_trial_fit_twice_and_average_the_objective(tmp_path):
    histories = []

    class Keep(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            histories.append(dict(self.model.history.history))

    t = tuner(tmp_path, max_trials=1, epochs_per_trial=2, executions_per_trial=2, prune=False)
    t.search(X, Y, validation_data=(XV, YV), callbacks=[Keep()], verbose=0)
    assert len(histories) == 2
    expected = np.mean([max(h["val_accuracy"]) for h in histories])
    trial = t.oracle.get_best_trials(1)[0]
    assert trial.score == pytest.approx(expected)
    assert t.results_frame()["epochs_run"].tolist() == [2]


def test_tuner_hooks_and_build_and_fit_model_are_called(tmp_path):
    calls = []

    class Mine(RandomSearchTuner):
        def _build_and_fit_model(self, trial, *args, **kwargs):
            calls.append("build_and_fit")
            return super()._build_and_fit_model(trial, *args, **kwargs)

        def on_epoch_end(self, trial, model, epoch, logs=None):
            calls.append(f"epoch_end {epoch}")

    t = Mine(compiled_build, max_trials=1, epochs_per_trial=2, directory=tmp_path, seed=0)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    assert calls == ["build_and_fit", "epoch_end 0", "epoch_end 1"]


def test_user_callbacks_get_a_directory_per_trial_and_execution(tmp_path):
    board = keras.callbacks.TensorBoard(str(tmp_path / "tb"))
    ckpt = PeriodicCheckpoint(tmp_path / "ckpt", keep_best=0)
    t = tuner(tmp_path / "search", max_trials=2)
    t.search(X, Y, validation_data=(XV, YV), callbacks=[board, ckpt], verbose=0)
    trials = sorted(t.oracle.trials)
    if keras.backend.backend() == "tensorflow":  # KerasTuner patches TensorBoard on TF only
        assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == trials
    for trial_id in trials:
        saved = list((tmp_path / "ckpt" / f"trial_{trial_id}" / "execution0").glob("ckpt-*"))
        assert len(saved) == 1  # each trial saved its own, none resumed another's


def test_an_objective_missing_from_the_logs_stops_the_search_after_one_epoch(tmp_path):
    epochs = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)

    t = tuner(tmp_path, objective="val_acc", max_trials=3, epochs_per_trial=5)
    with pytest.raises(kt.errors.FatalValueError, match="'val_acc'.*val_accuracy"):
        t.search(X, Y, validation_data=(XV, YV), callbacks=[Count()], verbose=0)
    assert epochs == [0]


def test_failures_follow_keras_tuner(tmp_path):
    def fatal(hp):
        raise kt.errors.FatalTypeError("this build can never work")

    with pytest.raises(kt.errors.FatalTypeError, match="can never work"):
        tuner(tmp_path / "a", build=fatal).search(X, Y, verbose=0)

    builds = []

    def failing(hp):
        builds.append(1)
        model = compiled_build(hp)
        if len(builds) > 2:  # the tuner's own discovery builds succeed, trials do not
            raise kt.errors.FailedTrialError("not this one")
        return model

    t = tuner(tmp_path / "b", build=failing, max_trials=10)
    with pytest.raises(RuntimeError, match="consecutive failures exceeded the limit of 3"):
        t.search(X, Y, verbose=0)
    assert len(t.oracle.trials) == 3
    with pytest.raises(ValueError, match="Received `hypermodel=None`"):
        RandomSearchTuner(directory=tmp_path / "c")
    assert tuner(tmp_path / "d").directory == tmp_path / "d"  # kept as given, as KerasTuner


def test_max_model_size_and_overrides_and_distribution_strategy(tmp_path):
    t = tuner(tmp_path / "a", max_model_size=4, max_trials=3)
    with pytest.raises(RuntimeError, match="Oversized model"):
        t.search(X, Y, validation_data=(XV, YV), verbose=0)
    def regression(hp):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 4)),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mae")
        return model

    t = RandomSearchTuner(regression, loss="mse", optimizer="rmsprop", metrics=["mae"],
                          objective="val_loss", max_trials=1, epochs_per_trial=1,
                          directory=tmp_path / "b", seed=0)
    t.search(X, Y.astype("float32"), validation_data=(XV, YV.astype("float32")), verbose=0)
    model = t.get_best_models()[0]
    assert model.loss == "mse" and type(model.optimizer).__name__ == "RMSprop"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
        built = []

        class Spy(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                built.append(self.model.distribute_strategy)

        t = tuner(tmp_path / "c", distribution_strategy=strategy, max_trials=1)
        t.search(X, Y, validation_data=(XV, YV), callbacks=[Spy()], verbose=0)
        assert built == [strategy]


class Subclassed(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def test_best_models_for_subclassed_models_and_several_objectives(tmp_path):
    def build(hp):
        model = Subclassed(hp.Int("units", 2, 4, step=2))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    t = RandomSearchTuner(build, objective=["val_accuracy", "val_loss"], max_trials=2,
                          epochs_per_trial=1, directory=tmp_path, seed=0)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    best = t.get_best_models(2)
    assert len(best) == 2 and all(isinstance(m, Subclassed) for m in best)


# Project-file repair and labelling: backend-neutral logic, checked once (TensorFlow pass).
@pytest.mark.backend_independent
def test_pruned_trials_and_full_trials_are_labelled_honestly(tmp_path):
    t = tuner(tmp_path, build=uncompiled_build, max_trials=6, epochs_per_trial=3,
              min_trials_for_median=1, seed=3)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    frame = t.results_frame()
    full = frame[frame["epochs_run"] == 3]
    assert (full["prune_reason"].isin(["", "nan", "inf", "diverged", "not_learning"])).all()
    assert (frame[frame["prune_reason"] == "median"]["epochs_run"] < 3).all()


def test_a_regression_search_is_never_pruned_as_not_learning(tmp_path):
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x, y = x.astype("float32"), ((y - y.mean()) / y.std()).astype("float32")

    def build(hp):
        model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(hp.Choice("lr", [1e-2, 3e-3])), "mse")
        return model

    t = RandomSearchTuner(build, objective="val_loss", max_trials=2, epochs_per_trial=4,
                          directory=tmp_path, seed=0, min_trials_for_median=5)
    t.search(x[:300], y[:300], validation_data=(x[300:], y[300:]), verbose=0)
    assert set(t.results_frame()["prune_reason"]) == {""}


def test_pruning_works_for_keras_tuner_hyperband(tmp_path):
    tuner_class = with_pruning(kt.Hyperband)

    def build(hp):
        # An infinite initial kernel: the hopeless corner of this space, non-finite from
        # the first step on every backend (1e38 overflowed on TensorFlow only: JAX kept
        # some logits finite, a loss of 16 that no rule calls hopeless in one epoch).
        init = {"huge": keras.initializers.Constant(float("inf")), "glorot": "glorot_uniform"}[
            hp.Choice("init", ["huge", "glorot"])]
        model = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(4, activation="relu",
                                                     kernel_initializer=init),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.SGD(hp.Choice("lr", [0.1, 1e-2])),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    t = tuner_class(build, objective="val_accuracy", max_epochs=3, factor=3,
                    hyperband_iterations=1, directory=tmp_path, project_name="hb", seed=1)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    frame = t.results_frame()
    assert len(frame) >= 2 and "hp_init" in frame.columns
    hopeless = frame[frame["hp_init"] == "huge"]
    assert not hopeless.empty  # the guard prunes them under Hyperband too
    assert set(hopeless["prune_reason"]) <= {"nan", "inf", "diverged"}
    assert (hopeless["prune_reason"] != "").all()
    with pytest.raises(TypeError, match="tuner_class"):
        with_pruning(dict)


def test_max_time_ends_the_search(tmp_path):
    # No pruning rule may end the trial first (random labels are "not learning"), and a
    # trial is far longer than the budget, so the budget stops it mid-trial.
    t = tuner(tmp_path, max_trials=50, epochs_per_trial=5000, max_time=1.0, prune=False)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    frame = t.results_frame()
    assert 1 <= len(frame) < 50
    assert "max_time" in set(frame["prune_reason"])


def test_a_changed_build_is_refused_on_resume(tmp_path):
    tuner(tmp_path, max_trials=1).search(X, Y, validation_data=(XV, YV), verbose=0)

    def changed_build(hp):
        hp.Choice("lr", [1e-1, 1e-2])  # the build's choices changed
        return compiled_build(hp)

    # Reading the results builds nothing; the first search (or best model) refuses it,
    # before any trial runs.
    again = tuner(tmp_path, build=changed_build, max_trials=2)
    assert len(again.results_frame()) == 1
    for use in (lambda: again.search(X, Y, validation_data=(XV, YV), verbose=0),
                lambda: again.get_best_models(1)):
        with pytest.raises(ValueError, match="declared by the build.*'lr' was"):
            use()
    assert len(again.oracle.trials) == 1 and len(again.results_frame()) == 1


def damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_text(path.read_text()[:40])
    else:
        path.write_text("{}")


# Project-file repair and labelling: backend-neutral logic, checked once (TensorFlow pass).
@pytest.mark.backend_independent
@pytest.mark.parametrize("how", ["truncated", "empty"])
def test_resuming_over_damaged_files_warns_and_goes_on(tmp_path, how):
    first = tuner(tmp_path, max_trials=3)
    first.search(X, Y, validation_data=(XV, YV), verbose=0)
    damage(tmp_path / "p" / "trial_1" / "trial.json", how)
    damage(tmp_path / "p" / "oracle.json", how)
    with pytest.warns(KerasBestPracticeWarning) as caught:
        again = tuner(tmp_path, max_trials=4)
    messages = " ".join(str(w.message) for w in caught)
    assert "trial_1/trial.json is damaged" in messages and "oracle.json is damaged" in messages
    again.search(X, Y, validation_data=(XV, YV), verbose=0)
    frame = again.results_frame()
    assert len(frame) == 4 and frame.set_index("trial_id").loc["1", "status"] == "failed"


def test_a_damaged_weights_file_is_skipped_for_the_next_best(tmp_path):
    t = tuner(tmp_path, max_trials=3, prune=False)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    best = t.oracle.get_best_trials(1)[0]
    Path(t._get_checkpoint_fname(best.trial_id)).write_bytes(b"not hdf5")
    with pytest.warns(KerasBestPracticeWarning, match=f"trial {best.trial_id}"):
        models = t.get_best_models(1)
    assert len(models) == 1


def test_results_file_records_the_run(tmp_path):
    t = tuner(tmp_path, max_trials=1)
    t.search(X, Y, validation_data=(XV, YV), verbose=0)
    summary = json.loads(next((tmp_path / "p").glob("trial_*/kbp_trial.json")).read_text())
    assert summary["status"] == "completed" and summary["executions"] == 1
    assert summary["hyperparameters"].keys() == {"units", "lr"}


def test_an_undamaged_project_reloads_reading_each_trial_once(tmp_path, monkeypatch):
    # Issue #24: the repair pass read every trial.json before KerasTuner's reload did.
    first = tuner(tmp_path, max_trials=3)
    first.search(X, Y, validation_data=(XV, YV), verbose=0)
    loads = []
    original = kt.engine.trial.Trial.load

    def counting(fname):
        loads.append(fname)
        return original(fname)

    monkeypatch.setattr(kt.engine.trial.Trial, "load", staticmethod(counting))
    tuner(tmp_path, max_trials=3)
    assert len(loads) == 3 and len(set(loads)) == 3


# Project-file repair and labelling: backend-neutral logic, checked once (TensorFlow pass).
@pytest.mark.backend_independent
def test_a_trial_file_naming_another_trial_and_an_oracle_naming_a_lost_trial(tmp_path):
    first = tuner(tmp_path, max_trials=3)
    first.search(X, Y, validation_data=(XV, YV), verbose=0)
    project = tmp_path / "p"
    # trial_1's file replaced by trial_0's (it loads, under the wrong id).
    (project / "trial_1" / "trial.json").write_text((project / "trial_0" /
                                                     "trial.json").read_text())
    with pytest.warns(KerasBestPracticeWarning, match="trial_1/trial.json is damaged"):
        again = tuner(tmp_path, max_trials=4)
    again.search(X, Y, validation_data=(XV, YV), verbose=0)
    assert again.results_frame().set_index("trial_id").loc["1", "status"] == "failed"
    # A trial folder lost: the oracle names a trial that has no file.
    import shutil

    shutil.rmtree(project / "trial_2")
    with pytest.warns(KerasBestPracticeWarning, match="oracle.json is damaged"):
        tuner(tmp_path, max_trials=4)
