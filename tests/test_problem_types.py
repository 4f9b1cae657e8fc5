"""Every problem type Keras users train, through the guard, the diagnostics and the tuner.

The reference level (`_core.reference`) decides "not learning": a regression run
must never be judged against a classifier's chance level, and a run that truly
learns nothing (learning rate 0) must still be caught.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from keras_bestpractice import KerasBestPracticeWarning
from keras_bestpractice.callbacks import DivergenceGuard, TrainingDiagnostics
from keras_bestpractice.diagnostics import diagnose


def diabetes(standardise_y=True):
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype("float32")
    y = y.astype("float32")
    if standardise_y:
        y = (y - y.mean()) / y.std()
    return x[:320], y[:320], x[320:], y[320:]


def regressor(lr, loss="mse", seed=0, optimizer="adam"):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[optimizer](lr)
    model.compile(opt, loss, metrics=["mae"])
    return model


def fit_regression(lr, callbacks, epochs=8, standardise_y=True, loss="mse"):
    x, y, xv, yv = diabetes(standardise_y)
    model = regressor(lr, loss=loss)
    history = model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=32,
                        verbose=0, callbacks=callbacks)
    return model, history, y


# ------------------------------------------------------------------ regression
@pytest.mark.parametrize("standardise_y", [True, False], ids=["scaled-y", "raw-y"])
def test_regression_learning_run_is_not_stopped_as_not_learning(standardise_y):
    _, y, _, _ = diabetes(standardise_y)
    guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
    diag = TrainingDiagnostics(verbose=0, targets=y)
    lr = 0.01 if standardise_y else 0.5
    _, history, _ = fit_regression(lr, [guard, diag], standardise_y=standardise_y)
    assert len(history.history["loss"]) == 8, guard.events
    assert guard.events == []
    assert history.history["loss"][-1] < history.history["loss"][0]
    codes = {f.code for f in diag.report.findings}
    assert "not_learning" not in codes
    assert "bad_initial_loss" not in codes
    assert diag.report.chance.kind == "regression"


def test_regression_with_zero_learning_rate_is_not_learning():
    _, y, _, _ = diabetes()
    guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
    diag = TrainingDiagnostics(verbose=0, targets=y)
    _, history, _ = fit_regression(0.0, [guard, diag])
    assert [e["reason"] for e in guard.events] == ["not_learning"]
    assert len(history.history["loss"]) < 8
    report = diagnose(history.history, loss="mse", targets=y)
    assert report.primary.code == "not_learning"
    assert "predicting the typical target" in report.primary.message
    assert diag.report.primary.code == "not_learning"


def test_regression_without_targets_has_no_verdict_and_says_why():
    with pytest.warns(KerasBestPracticeWarning, match="reference level of the loss 'mse'"):
        guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2)
        _, history, _ = fit_regression(0.0, [guard], epochs=4)
    assert guard.events == []
    report = diagnose(history.history, loss="mse")
    assert report.primary.code != "not_learning"
    assert any("give targets=" in s for s in report.skipped_checks)
    # Without `loss` the old classifier assumption would apply; a regression run
    # without accuracy gives no class count to infer, so no verdict either.
    assert diagnose(history.history).primary.code != "not_learning"


def test_mae_reference_is_the_mean_absolute_deviation_from_the_median():
    _, y, _, _ = diabetes()
    guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
    fit_regression(0.0, [guard], loss="mae", epochs=5)
    assert [e["reason"] for e in guard.events] == ["not_learning"]
    expected = float(np.mean(np.abs(y - np.median(y))))
    assert guard._chance.loss == pytest.approx(expected, rel=1e-6)


def test_custom_loss_has_unknown_reference_and_no_verdict():
    def my_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    _, y, _, _ = diabetes()
    with pytest.warns(KerasBestPracticeWarning, match="unknown"):
        guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
        _, history, _ = fit_regression(0.0, [guard], loss=my_loss, epochs=4)
    assert guard.events == []
    report = diagnose(history.history, loss=my_loss, targets=y)
    assert report.primary.code != "not_learning"
    assert any("reference level is unknown" in s for s in report.skipped_checks)


@pytest.mark.slow
def test_tuner_keeps_learning_regression_trials_and_prunes_a_dead_one(tmp_path):
    import keras_tuner as kt

    from keras_bestpractice.tuning import RandomSearchTuner

    x, y, xv, yv = diabetes()

    def build(hp):
        lr = hp.Choice("lr", [0.0, 1e-2])
        return regressor(lr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerasBestPracticeWarning)
        tuner = RandomSearchTuner(build, objective=kt.Objective("val_loss", "min"),
                                  max_trials=2, epochs_per_trial=6, directory=tmp_path,
                                  project_name="reg", seed=1, tune_batch_size=False)
        # A max objective is what turns the not-learning rule on.
        tuner.oracle.objective = kt.Objective("val_neg_mse", "max")

        class NegMse(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs["val_neg_mse"] = -logs["val_loss"]

        tuner.search(x, y, validation_data=(xv, yv), verbose=0, callbacks=[NegMse()])
    table = tuner.results_frame()
    by_lr = {row["hp_lr"]: row for _, row in table.iterrows()}
    assert set(by_lr) == {0.0, 1e-2}
    assert by_lr[1e-2]["status"] == "completed", table
    assert by_lr[1e-2]["epochs_run"] == 6
    assert by_lr[0.0]["prune_reason"] == "not_learning", table


# ---------------------------------------------------------- binary, multi-label
def binary_data(n=1024, labels=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    w = rng.normal(size=(6, labels))
    y = (x @ w > 0.6).astype("float32")
    return x, y if labels > 1 else y[:, 0]


def sigmoid_model(labels, lr, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(labels, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(lr), "binary_crossentropy",
                  metrics=["binary_accuracy"])
    return model


@pytest.mark.parametrize("labels", [1, 4], ids=["binary", "multilabel"])
def test_sigmoid_outputs_use_the_entropy_of_the_label_prevalence(labels):
    x, y = binary_data(labels=labels)
    q = np.mean(y, axis=0)
    expected = float(np.mean(-(q * np.log(q) + (1 - q) * np.log(1 - q))))
    learning = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
    diag = TrainingDiagnostics(verbose=0, targets=y)
    model = sigmoid_model(labels, 0.02)
    history = model.fit(x, y, validation_split=0.25, epochs=6, batch_size=32, verbose=0,
                        callbacks=[learning, diag])
    assert learning.events == []
    assert learning._chance.loss == pytest.approx(expected, rel=1e-6)
    assert learning._chance.kind == ("binary" if labels == 1 else "multilabel")
    assert "not_learning" not in {f.code for f in diag.report.findings}
    assert history.history["binary_accuracy"][-1] > 0.8

    stuck = DivergenceGuard(stop_if_not_learning=True, grace_epochs=2, targets=y)
    model = sigmoid_model(labels, 0.0)
    # Predicting the prevalence is what a model that learned nothing does: give the
    # output bias the log-odds of the prevalence so the untrained model does exactly that.
    model.layers[-1].bias.assign(np.log(q / (1 - q)).astype("float32").reshape(labels))
    model.layers[-1].kernel.assign(np.zeros(model.layers[-1].kernel.shape, "float32"))
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0, callbacks=[stuck])
    assert [e["reason"] for e in stuck.events] == ["not_learning"]
    report = diagnose(history.history, loss="binary_crossentropy", targets=y)
    assert report.primary.code == "not_learning"


# ------------------------------------------------------------------ multi-output
def two_output_model(lr=0.01, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8,), name="x")
    h = keras.layers.Dense(16, activation="relu")(inp)
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(h)
    reg = keras.layers.Dense(1, name="reg")(h)
    model = keras.Model(inp, {"cls": cls, "reg": reg})
    model.compile(keras.optimizers.Adam(lr),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"cls": ["accuracy"]})
    return model


def two_output_data(n=192, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y_cls = np.argmax(x[:, :3], axis=1)
    y_reg = (x[:, 3:4] * 2.0 + 0.5).astype("float32")
    return x, {"cls": y_cls, "reg": y_reg}


@pytest.mark.parametrize("probe", ["arrays", "dataset"])
def test_two_output_model_with_probes_is_diagnosed_output_by_output(probe):
    import tensorflow as tf

    x, y = two_output_data()
    if probe == "arrays":
        probe_data = (x[:32], {"cls": y["cls"][:32], "reg": y["reg"][:32]})
    else:
        probe_data = tf.data.Dataset.from_tensor_slices(
            (x[:32], {"cls": y["cls"][:32], "reg": y["reg"][:32]})).batch(8)
    diag = TrainingDiagnostics(probe_data=probe_data, verbose=0, targets=y)
    model = two_output_model()
    model.fit(x, y, validation_split=0.25, epochs=4, batch_size=32, verbose=0,
              callbacks=[diag])
    report = diag.report
    assert not any("probe" in s for s in report.skipped_checks), report.skipped_checks
    assert "probe_failed" not in {f.code for f in report.findings}
    assert report.probes and all(np.isfinite(p["grad_norm_max"]) for p in report.probes
                                 if "grad_norm_max" in p)
    assert "not_learning" not in {f.code for f in report.findings}


def test_diagnose_reads_per_output_curves():
    # Output `cls` is stuck at chance (ln 3, accuracy 1/3); output `reg` learns.
    n = 8
    history = {
        "loss": [2.0 - 0.05 * i for i in range(n)],
        "cls_loss": [1.0986] * n, "cls_accuracy": [0.333] * n,
        "reg_loss": [0.9 - 0.05 * i for i in range(n)],
        "val_loss": [2.0 - 0.04 * i for i in range(n)],
        "val_cls_loss": [1.0986] * n, "val_cls_accuracy": [0.333] * n,
        "val_reg_loss": [0.9 - 0.04 * i for i in range(n)],
    }
    report = diagnose(history, loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      num_classes={"cls": 3})
    stuck = [f for f in report.findings if f.code == "not_learning"]
    assert len(stuck) == 1
    assert stuck[0].evidence["output"] == "cls"
    assert stuck[0].message.startswith("Output `cls`")
    # The summed loss of both outputs has no chance level of its own.
    assert not any(f.code == "not_learning" and "output" not in f.evidence
                   for f in report.findings)


# ---------------------------------------------------------- steps_per_execution
def test_guard_catches_sgd_30_within_the_first_epoch_with_four_steps_per_execution():
    from tests.callbacks.helpers import tiny_data, tiny_model

    x, y = tiny_data(n=128, classes=3)
    results = {}
    for spe in (1, 4):
        guard = DivergenceGuard(restore=None)
        model = tiny_model(lr=30.0, steps_per_execution=spe)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[guard])
        results[spe] = guard.events
    for spe, events in results.items():
        assert events, f"steps_per_execution={spe}: no event"
        assert events[0]["epoch"] == 0, (spe, events)
        assert events[0]["reason"] in ("nan", "inf", "diverged")
