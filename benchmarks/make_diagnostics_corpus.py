"""Train the labelled corpus of real runs behind the diagnostics benchmark.

Each scenario trains a small Keras model on real data (scikit-learn's digits, or
synthetic data from scikit-learn's generators) with one deliberately injected fault,
or none ("healthy"), and stores its `History.history` with the label. The corpus is
written to `tests/fixtures/diagnostics_runs.json`; `benchmarks/bench_diagnostics.py`
scores `diagnose()` on it and the test suite checks the accuracy target.

Run (about 10 minutes on 2 CPU cores):

    python benchmarks/make_diagnostics_corpus.py [--only CODE] [--out PATH] [--set types]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "diagnostics_runs.json"
TYPES_OUT = ROOT / "tests" / "fixtures" / "diagnostics_runs_types.json"


# --------------------------------------------------------------------------- data
def digits(n_train=None, seed=0, scale=16.0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x.astype("float32") / scale
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    return (x_tr, y_tr), (x_va, y_va), 10


def classification(n=2000, classes=4, features=20, informative=8, seed=0, weights=None,
                   flip_y=0.01, class_sep=1.0, n_val=None):
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    x, y = make_classification(
        n_samples=n, n_features=features, n_informative=informative, n_redundant=2,
        n_classes=classes, weights=weights, flip_y=flip_y, class_sep=class_sep,
        random_state=seed,
    )
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    test_size = n_val if n_val is not None else 0.25
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=test_size, stratify=y,
                                              random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), classes


def moons(n=1000, noise=0.25, seed=0):
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    x = x.astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), 2


def circles(n=1000, seed=0):
    from sklearn.datasets import make_circles
    from sklearn.model_selection import train_test_split

    x, y = make_circles(n_samples=n, noise=0.08, factor=0.5, random_state=seed)
    x = x.astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), 2


def diabetes(standardise_y=True, seed=0):
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype("float32")
    y = y.astype("float32")
    if standardise_y:
        y = (y - y.mean()) / y.std()
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), None


def friedman(n=3000, noise=1.0, seed=0):
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split

    x, y = make_friedman1(n_samples=n, noise=noise, random_state=seed)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    y = ((y - y.mean()) / y.std()).astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), None


def small_regression(n=160, seed=0):
    from sklearn.datasets import make_regression
    from sklearn.model_selection import train_test_split

    x, y = make_regression(n_samples=n, n_features=20, n_informative=5, noise=40.0,
                           random_state=seed)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    y = ((y - y.mean()) / y.std()).astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.4, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), None


def breast_cancer(seed=0):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y.astype("float32"), test_size=0.25,
                                              stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), 2


def multilabel(n=2000, labels=5, seed=0):
    from sklearn.datasets import make_multilabel_classification
    from sklearn.model_selection import train_test_split

    x, y = make_multilabel_classification(n_samples=n, n_features=20, n_classes=labels,
                                          n_labels=2, random_state=seed)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    x_tr, x_va, y_tr, y_va = train_test_split(x, y.astype("float32"), test_size=0.25,
                                              random_state=seed)
    return (x_tr, y_tr), (x_va, y_va), labels


# ------------------------------------------------------------------------- models
def mlp(input_dim, classes, hidden=(64,), dropout=0.0, l2=0.0, activation="relu",
        kernel_init="glorot_uniform", output="softmax"):
    import keras

    reg = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((input_dim,))]
    for h in hidden:
        layers.append(keras.layers.Dense(h, activation=activation, kernel_regularizer=reg,
                                         kernel_initializer=kernel_init))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    if output == "sigmoid":
        layers.append(keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=reg))
    else:
        layers.append(keras.layers.Dense(classes, activation=output, kernel_regularizer=reg,
                                         kernel_initializer=kernel_init))
    return keras.Sequential(layers)


def cnn(classes, filters=8, dropout=0.0):
    import keras

    layers = [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(filters, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(classes, activation="softmax"))
    return keras.Sequential(layers)


def optimizer(name, lr, **kw):
    import keras

    return {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
    }[name](learning_rate=lr, **kw)


# ---------------------------------------------------------------------- scenarios
def run(model, data, opt, epochs, batch_size=32, loss="sparse_categorical_crossentropy",
        callbacks=(), reshape=None, shuffle=True):
    (x_tr, y_tr), (x_va, y_va), _ = data
    if reshape is not None:
        x_tr = x_tr.reshape((-1, *reshape))
        x_va = x_va.reshape((-1, *reshape))
    metrics = ["accuracy"]
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs,
                        batch_size=batch_size, verbose=0, callbacks=list(callbacks),
                        shuffle=shuffle)
    return history


def run_typed(model, data, opt, epochs, loss, batch_size=32, callbacks=()):
    """Fit a regression or sigmoid model; returns (history, num_classes, extra) where
    `extra` records the loss and the training targets' summary (what diagnose() is
    given as `loss=` and `targets=`)."""
    from keras_bestpractice._core.reference import target_summary

    (x_tr, y_tr), (x_va, y_va), classes = data
    metrics = ["mae"] if loss in ("mse", "mae") else ["binary_accuracy"]
    if loss == "mae":
        metrics = ["mse"]
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs,
                        batch_size=batch_size, verbose=0, callbacks=list(callbacks))
    return history, (None if loss in ("mse", "mae") else classes), {
        "loss": loss, "targets": dict(target_summary(y_tr))}


def regressor(input_dim, hidden=(32,), outputs=1, activation="relu"):
    import keras

    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(h, activation=activation) for h in hidden]
    layers.append(keras.layers.Dense(outputs))
    return keras.Sequential(layers)


def sigmoid_net(input_dim, outputs, hidden=(32,)):
    import keras

    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(outputs, activation="sigmoid"))
    return keras.Sequential(layers)


def type_scenarios():
    """The problem-types corpus (issues #13, #14): regression, sigmoid (binary and
    multi-label) and softmax runs diagnosed without a class count."""
    sc = []

    def add(name, label, thunk):
        sc.append((name, label, thunk))

    # ---- regression (MSE / MAE), reference level from the training targets
    add("reg_healthy_diabetes_adam", "healthy",
        lambda: run_typed(regressor(10, (32,)), diabetes(), optimizer("adam", 3e-3), 40, "mse"))
    add("reg_healthy_friedman", "healthy",
        lambda: run_typed(regressor(10, (64, 64)), friedman(), optimizer("adam", 3e-3), 30, "mse"))
    add("reg_healthy_diabetes_mae", "healthy",
        lambda: run_typed(regressor(10, (32,)), diabetes(seed=1), optimizer("adam", 1e-2), 40,
                          "mae"))
    # Raw (unscaled) targets: the reference level is the targets' variance (~6000);
    # 331 samples at learning rate 0.1 for 60 epochs overfit (validation loss lowest
    # at epoch 6, then up by a third).
    add("reg_overfit_raw_targets", "overfitting",
        lambda: run_typed(regressor(10, (64,)), diabetes(standardise_y=False, seed=2),
                          optimizer("adam", 0.1), 60, "mse"))
    add("reg_notlearn_lr0", "not_learning",
        lambda: run_typed(regressor(10, (32,)), diabetes(seed=3), optimizer("sgd", 0.0), 10,
                          "mse"))
    add("reg_notlearn_mae_lr0", "not_learning",
        lambda: run_typed(regressor(10, (32,)), friedman(seed=4), optimizer("sgd", 0.0), 10,
                          "mae"))
    add("reg_slow_sgd_1e-4", "slow_convergence",
        lambda: run_typed(regressor(10, (64,)), friedman(seed=5), optimizer("sgd", 1e-4), 20,
                          "mse"))
    add("reg_overfit_small_noisy", "overfitting",
        lambda: run_typed(regressor(20, (256, 256)), small_regression(seed=6),
                          optimizer("adam", 3e-3), 150, "mse", batch_size=16))
    add("reg_underfit_one_unit", "underfitting",
        lambda: run_typed(regressor(10, (1,)), friedman(seed=7), optimizer("adam", 1e-2), 30,
                          "mse"))
    add("reg_diverge_lr_ramp", "diverging",
        lambda: run_typed(regressor(10, (32,)), friedman(seed=8),
                          optimizer("sgd", lr_ramp_schedule(1e-3, 1.01)), 10, "mse"))
    add("reg_nan_sgd_raw_targets", "nan_loss",
        lambda: run_typed(regressor(10, (32,)), diabetes(standardise_y=False, seed=9),
                          optimizer("sgd", 0.1), 5, "mse"))
    add("reg_plateau_lr_drop", "plateau",
        lambda: run_typed(regressor(10, (64,)), friedman(seed=10),
                          optimizer("adam", lr_drop_schedule(3e-3, 60)), 15, "mse"))

    # ---- binary and multi-label sigmoid outputs, reference level from the prevalence
    add("bin_healthy_breast_cancer", "healthy",
        lambda: run_typed(sigmoid_net(30, 1), breast_cancer(), optimizer("adam", 1e-3), 30,
                          "binary_crossentropy"))
    add("bin_healthy_moons", "healthy",
        lambda: run_typed(sigmoid_net(2, 1, (32, 32)), moons(n=2000, noise=0.15, seed=1),
                          optimizer("adam", 1e-2), 20, "binary_crossentropy"))
    add("bin_notlearn_lr0", "not_learning",
        lambda: run_typed(sigmoid_net(30, 1), breast_cancer(seed=2), optimizer("sgd", 0.0), 8,
                          "binary_crossentropy"))
    add("bin_notlearn_linear_circles", "not_learning",
        lambda: run_typed(sigmoid_net(2, 1, ()), circles(n=2000, seed=3), optimizer("adam", 1e-2),
                          20, "binary_crossentropy"))
    add("bin_slow_sgd_1e-4", "slow_convergence",
        lambda: run_typed(sigmoid_net(2, 1, (16, 16)), moons(n=2000, seed=4),
                          optimizer("sgd", 1e-3), 20, "binary_crossentropy"))
    add("bin_overfit_small_noisy", "overfitting",
        lambda: run_typed(sigmoid_net(20, 1, (256, 256)),
                          classification(n=300, classes=2, seed=5, flip_y=0.25),
                          optimizer("adam", 3e-3), 80, "binary_crossentropy", batch_size=16))
    add("bin_diverge_lr_ramp", "diverging",
        lambda: run_typed(sigmoid_net(2, 1, (32, 32)), moons(n=2000, noise=0.1, seed=6),
                          optimizer("sgd", lr_ramp_schedule(0.05, 1.012), momentum=0.9), 14,
                          "binary_crossentropy"))
    add("bin_nan_sgd_lr_ramp", "nan_loss",
        lambda: run_typed(sigmoid_net(30, 1), breast_cancer(seed=7),
                          optimizer("sgd", lr_ramp_schedule(0.01, 1.3)), 8,
                          "binary_crossentropy"))
    add("multilabel_healthy", "healthy",
        lambda: run_typed(sigmoid_net(20, 5, (64,)), multilabel(), optimizer("adam", 1e-3), 20,
                          "binary_crossentropy"))
    add("multilabel_notlearn_lr0", "not_learning",
        lambda: run_typed(sigmoid_net(20, 5, (64,)), multilabel(seed=1), optimizer("sgd", 0.0),
                          8, "binary_crossentropy"))
    add("multilabel_overfit_small", "overfitting",
        lambda: run_typed(sigmoid_net(20, 5, (256, 256)), multilabel(n=300, seed=2),
                          optimizer("adam", 3e-3), 80, "binary_crossentropy", batch_size=16))

    # ---- softmax classifiers diagnosed without num_classes (issue #14's runs)
    def unknown(thunk):
        return lambda: (*thunk(), {"loss": "sparse_categorical_crossentropy",
                                   "num_classes_unknown": True})

    add("unk_diverged_sgd_lr_1e4", "diverging",
        unknown(lambda: (run(mlp(64, 10, (64,)), digits(seed=0), optimizer("sgd", 1e4), 8),
                         None)))
    add("unk_dead_sgd_lr_3", "not_learning",
        unknown(lambda: (run(mlp(64, 10, (64,)), digits(seed=1), optimizer("sgd", 3.0), 10),
                         None)))
    add("unk_memorised_still_improving", "healthy",
        unknown(lambda: (run(mlp(64, 10, (256,)), digits(n_train=300, seed=2),
                             optimizer("adam", 3e-3), 25), None)))
    add("unk_healthy_digits", "healthy",
        unknown(lambda: (run(mlp(64, 10, (64,), dropout=0.2), digits(seed=3),
                             optimizer("adam", 1e-3), 15), None)))
    add("unk_slow_adam_1e-5", "slow_convergence",
        unknown(lambda: (run(mlp(64, 10, (64,)), digits(seed=4), optimizer("adam", 1e-5), 15),
                         None)))
    add("unk_overfit_digits_150", "overfitting",
        unknown(lambda: (run(mlp(64, 10, (256, 256)), digits(n_train=150, seed=5),
                             optimizer("adam", 1e-3), 60, batch_size=16), None)))
    add("unk_notlearn_lr0", "not_learning",
        unknown(lambda: (run(mlp(20, 4, (64,)), classification(seed=6), optimizer("sgd", 0.0),
                             8), None)))
    add("unk_plateau_lr_drop", "plateau",
        unknown(lambda: (run(mlp(20, 4, (32,)), classification(seed=7),
                             optimizer("sgd", lr_drop_schedule(0.05, 100)), 15), None)))
    return sc


def lr_drop_schedule(initial, after_steps, factor=1e-6):
    import keras

    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [after_steps], [initial, initial * factor])


def lr_ramp_schedule(initial, factor_per_step):
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        initial, decay_steps=1, decay_rate=factor_per_step)


def scenarios():
    """Yield (name, label, thunk) for every run of the corpus."""
    sc = []

    def add(name, label, thunk):
        sc.append((name, label, thunk))

    # ---- healthy: sensible settings, enough data, regularised where needed
    for seed in (0, 1, 2):
        add(f"healthy_digits_mlp_adam_s{seed}", "healthy",
            lambda seed=seed: (run(mlp(64, 10, (64,), dropout=0.2), digits(seed=seed),
                                   optimizer("adam", 1e-3), 20), 10))
    for seed in (0, 1):
        add(f"healthy_digits_cnn_s{seed}", "healthy",
            lambda seed=seed: (run(cnn(10, 8), digits(seed=seed), optimizer("adam", 3e-3), 12,
                                   reshape=(8, 8, 1)), 10))
    add("healthy_digits_sgd_momentum", "healthy",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=3), optimizer("sgd", 0.05, momentum=0.9),
                     15), 10))
    add("healthy_digits_rmsprop_short", "healthy",
        lambda: (run(mlp(64, 10, (32,)), digits(seed=4), optimizer("rmsprop", 1e-3), 6), 10))
    for seed in (0, 1):
        add(f"healthy_classification4_s{seed}", "healthy",
            lambda seed=seed: (run(mlp(20, 4, (32, 32), dropout=0.1),
                                   classification(n=4000, seed=seed, class_sep=2.0),
                                   optimizer("adam", 1e-3), 15), 4))
    add("healthy_moons_sigmoid", "healthy",
        lambda: (run(mlp(2, 2, (32, 32), output="sigmoid"), moons(n=2000, noise=0.1),
                     optimizer("adam", 1e-2), 20, loss="binary_crossentropy"), 2))
    add("healthy_circles", "healthy",
        lambda: (run(mlp(2, 2, (16, 16)), circles(n=2000), optimizer("adam", 1e-2), 25), 2))
    add("healthy_imbalanced", "healthy",
        lambda: (run(mlp(20, 3, (32,)), classification(n=4000, classes=3, weights=[0.7, 0.2, 0.1],
                                                       seed=5, class_sep=2.0),
                     optimizer("adam", 1e-3), 15), 3))
    add("healthy_digits_large_batch", "healthy",
        lambda: (run(mlp(64, 10, (128,)), digits(seed=5), optimizer("adam", 3e-3), 25,
                     batch_size=256), 10))
    add("healthy_digits_adagrad", "healthy",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=6), optimizer("adagrad", 0.05), 15), 10))

    add("healthy_digits_early_stopped", "healthy",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=7), optimizer("adam", 2e-3), 40,
                     callbacks=[_early_stopping()]), 10))
    add("healthy_digits_two_epochs", "healthy",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=8), optimizer("adam", 3e-3), 2), 10))
    add("healthy_binary_imbalanced", "healthy",
        lambda: (run(mlp(20, 2, (32,), output="sigmoid"),
                     classification(n=4000, classes=2, weights=[0.85, 0.15], seed=9,
                                    class_sep=1.5),
                     optimizer("adam", 1e-3), 12, loss="binary_crossentropy"), 2))
    add("healthy_classification6_bn", "healthy",
        lambda: (run(_bn_mlp(20, 6, 64), classification(n=6000, classes=6, seed=10,
                                                        class_sep=2.0, informative=10),
                     optimizer("adam", 1e-3), 12, batch_size=64), 6))

    # ---- nan_loss: absurd learning rates, NaN in the data, exploding ramps
    add("nan_sgd_lr_1e3", "nan_loss",
        lambda: (run(mlp(20, 4, (64, 64)), classification(seed=2), optimizer("sgd", 1e3), 5), 4))
    add("nan_adam_epsilon_zero", "nan_loss",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0), optimizer("adam", 1e-3, epsilon=0.0), 5),
                 10))
    add("nan_adam_epsilon_zero_moons", "nan_loss",
        lambda: (run(mlp(2, 2, (32,)), moons(n=2000), optimizer("adam", 1e-3, epsilon=0.0), 5), 2))
    add("nan_sgd_ramp_overflow", "nan_loss",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=1),
                     optimizer("sgd", lr_ramp_schedule(0.01, 1.3)), 8), 10))
    add("nan_adam_ramp_midway", "nan_loss",
        lambda: (run(mlp(20, 4, (64,)), classification(seed=5),
                     optimizer("adam", lr_ramp_schedule(1e-3, 1.03)), 20), 4))
    add("diverge_lr_ramp_explodes", "diverging",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=2),
                     optimizer("sgd", lr_ramp_schedule(0.01, 1.05)), 12), 10))
    add("notlearn_nan_pixel_masked", "not_learning",
        lambda: (run(mlp(64, 10, (64,)), _with_nan_pixel(digits(seed=3)),
                     optimizer("adam", 1e-3), 5), 10))
    add("diverge_sgd_ramp_moons", "diverging",
        lambda: (run(mlp(2, 2, (32, 32)), moons(n=2000, noise=0.1),
                     optimizer("sgd", lr_ramp_schedule(0.05, 1.012), momentum=0.9), 14), 2))
    add("diverge_rmsprop_ramp_cnn", "diverging",
        lambda: (run(cnn(10, 8), digits(seed=4),
                     optimizer("rmsprop", lr_ramp_schedule(1e-3, 1.04)), 10,
                     reshape=(8, 8, 1)), 10))

    # ---- diverging: loss goes down and then climbs back up, finite
    add("diverge_lr_ramp_adam", "diverging",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0),
                     optimizer("adam", lr_ramp_schedule(1e-3, 1.012)), 14), 10))
    add("diverge_lr_ramp_adam_classif", "diverging",
        lambda: (run(mlp(20, 4, (64,)), classification(seed=1),
                     optimizer("adam", lr_ramp_schedule(1e-3, 1.01)), 14), 4))
    add("diverge_rmsprop_high", "diverging",
        lambda: (run(mlp(64, 10, (128, 128)), digits(seed=3),
                     optimizer("rmsprop", lr_ramp_schedule(3e-3, 1.008)), 14), 10))
    add("diverge_sgd_lr_ramp_digits", "diverging",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=2),
                     optimizer("sgd", lr_ramp_schedule(0.01, 1.02)), 12), 10))

    # ---- not_learning: stuck at chance (dead net, lr too high, random labels, lr 0)
    add("notlearn_adam_lr_1", "not_learning",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0), optimizer("adam", 1.0), 10), 10))
    add("notlearn_adam_lr_3_classif", "not_learning",
        lambda: (run(mlp(20, 4, (64,)), classification(seed=1), optimizer("adam", 3.0), 10), 4))
    add("notlearn_random_labels_small_model", "not_learning",
        lambda: (run(mlp(64, 10, (8,)), _shuffled_labels(digits(seed=2)),
                     optimizer("adam", 1e-3), 12), 10))
    add("notlearn_lr_zero", "not_learning",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=3), optimizer("sgd", 0.0), 8), 10))
    add("notlearn_rmsprop_lr_10", "not_learning",
        lambda: (run(mlp(64, 10, (64, 64)), digits(seed=4), optimizer("rmsprop", 10.0), 10), 10))
    add("notlearn_exploded_then_dead", "not_learning",
        lambda: (run(mlp(64, 10, (64,), kernel_init="ones"), digits(seed=1, scale=1 / 1e4),
                     optimizer("sgd", 1.0), 6), 10))
    add("notlearn_raw_pixels_sgd", "not_learning",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0, scale=1 / 255.0),
                     optimizer("sgd", 10.0), 6), 10))
    add("notlearn_l2_collapse", "not_learning",
        lambda: (run(mlp(64, 10, (64,), l2=0.5), digits(seed=1), optimizer("adam", 1e-3), 20), 10))
    add("notlearn_moons_sgd_momentum_high", "not_learning",
        lambda: (run(mlp(2, 2, (32, 32)), moons(n=2000, noise=0.2, seed=3),
                     optimizer("sgd", 1.0, momentum=0.9), 15, batch_size=16), 2))
    add("notlearn_linear_on_circles", "not_learning",
        lambda: (run(mlp(2, 2, ()), circles(n=2000, seed=2), optimizer("adam", 1e-2), 20), 2))

    # ---- slow_convergence: learning rate far too low
    add("slow_adam_1e-5", "slow_convergence",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0), optimizer("adam", 1e-5), 15), 10))
    add("slow_sgd_1e-3", "slow_convergence",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=1), optimizer("sgd", 1e-3), 15), 10))
    add("slow_adam_3e-5_classif", "slow_convergence",
        lambda: (run(mlp(20, 4, (32,)), classification(seed=2), optimizer("adam", 3e-5), 15), 4))
    add("slow_sgd_moons", "slow_convergence",
        lambda: (run(mlp(2, 2, (16, 16)), moons(n=2000), optimizer("sgd", 2e-3), 20), 2))
    add("slow_cnn_adam_1e-5", "slow_convergence",
        lambda: (run(cnn(10, 8), digits(seed=2), optimizer("adam", 2e-5), 12,
                     reshape=(8, 8, 1)), 10))
    add("slow_rmsprop_1e-5_classif6", "slow_convergence",
        lambda: (run(mlp(20, 6, (64,)), classification(n=3000, classes=6, seed=11),
                     optimizer("rmsprop", 1e-5), 12), 6))

    # ---- overfitting: little data, big model, no regularisation, many epochs
    add("overfit_digits_150", "overfitting",
        lambda: (run(mlp(64, 10, (256, 256)), digits(n_train=150, seed=0),
                     optimizer("adam", 1e-3), 60, batch_size=16), 10))
    add("overfit_classif_noisy", "overfitting",
        lambda: (run(mlp(20, 4, (256, 256)), classification(n=600, seed=1, flip_y=0.2),
                     optimizer("adam", 1e-3), 60, batch_size=16), 4))
    add("overfit_moons_noisy", "overfitting",
        lambda: (run(mlp(2, 2, (256, 256, 256)), moons(n=300, noise=0.45, seed=2),
                     optimizer("adam", 3e-3), 80, batch_size=16), 2))
    add("overfit_digits_100_cnn", "overfitting",
        lambda: (run(cnn(10, 32), digits(n_train=100, seed=3), optimizer("adam", 3e-3), 50,
                     batch_size=8, reshape=(8, 8, 1)), 10))
    add("overfit_classif_many_features", "overfitting",
        lambda: (run(mlp(20, 4, (512,)), classification(n=400, seed=4, informative=4, flip_y=0.1),
                     optimizer("adam", 3e-3), 50, batch_size=16), 4))
    add("overfit_sgd_small_val_noisy", "overfitting",
        lambda: (run(mlp(20, 4, (64,)), classification(n=2000, seed=0, n_val=40),
                     optimizer("sgd", 0.8), 20, batch_size=16), 4))
    add("overfit_rmsprop_noisy_val", "overfitting",
        lambda: (run(mlp(20, 4, (64,)), classification(n=2000, seed=2, n_val=60),
                     optimizer("rmsprop", 2e-2), 20, batch_size=16), 4))

    # ---- underfitting: too little capacity or far too much regularisation
    add("underfit_digits_2_units", "underfitting",
        lambda: (run(mlp(64, 10, (2,)), digits(seed=0), optimizer("adam", 1e-2), 25), 10))
    add("underfit_classif_1_unit", "underfitting",
        lambda: (run(mlp(20, 4, (1,)), classification(n=3000, seed=3), optimizer("adam", 1e-2),
                     25), 4))
    add("underfit_digits_dropout_09", "underfitting",
        lambda: (run(mlp(64, 10, (8,), dropout=0.9), digits(seed=4), optimizer("adam", 3e-3), 25),
                 10))
    add("underfit_moons_linear", "underfitting",
        lambda: (run(mlp(2, 2, ()), moons(n=2000, noise=0.1, seed=5), optimizer("adam", 1e-2), 20),
                 2))
    add("underfit_classif6_2_units", "underfitting",
        lambda: (run(mlp(20, 6, (2,)), classification(n=4000, classes=6, seed=6, class_sep=1.5),
                     optimizer("adam", 1e-2), 20), 6))

    # ---- val_oscillation: unstable validation (tiny batches + BatchNorm, high lr)
    add("osc_digits_high_lr_small_batch", "val_oscillation",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=1), optimizer("sgd", 0.9), 20,
                     batch_size=8), 10))
    add("osc_batchnorm_tiny_batches", "val_oscillation",
        lambda: (run(_bn_mlp(64, 10, 64, bn_momentum=0.5), digits(seed=2), optimizer("sgd", 0.5),
                     20, batch_size=4), 10))

    add("underfit_batchnorm_classif_sgd", "underfitting",
        lambda: (run(_bn_mlp(20, 4, 64, bn_momentum=0.5), classification(n=2000, seed=3),
                     optimizer("sgd", 0.5), 20, batch_size=4), 4))
    add("underfit_batchnorm_moons", "underfitting",
        lambda: (run(_bn_mlp(2, 2, 32, bn_momentum=0.5), moons(n=2000, noise=0.2, seed=4),
                     optimizer("sgd", 0.5), 20, batch_size=4), 2))
    add("osc_sgd_bs4_digits", "val_oscillation",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=5), optimizer("sgd", 0.5), 20,
                     batch_size=4), 10))

    add("osc_sgd_bs4_classif", "val_oscillation",
        lambda: (run(mlp(20, 4, (64,)), classification(n=2000, seed=6, class_sep=1.5),
                     optimizer("sgd", 0.7), 20, batch_size=4), 4))
    add("osc_rmsprop_bs8_digits", "val_oscillation",
        lambda: (run(mlp(64, 10, (128,)), digits(seed=6), optimizer("rmsprop", 1e-2), 20,
                     batch_size=8), 10))
    add("healthy_adam_bs4_moons_noisy", "healthy",
        lambda: (run(mlp(2, 2, (64, 64)), moons(n=1000, noise=0.2, seed=7),
                     optimizer("adam", 5e-2), 20, batch_size=4), 2))

    # ---- plateau: the learning rate collapses early and training stalls
    add("plateau_lr_drop_digits", "plateau",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=0),
                     optimizer("adam", lr_drop_schedule(1e-3, 60)), 15), 10))
    add("plateau_lr_drop_classif", "plateau",
        lambda: (run(mlp(20, 4, (32,)), classification(seed=1),
                     optimizer("sgd", lr_drop_schedule(0.05, 100)), 15), 4))
    add("plateau_lr_drop_cnn", "plateau",
        lambda: (run(cnn(10, 8), digits(seed=2), optimizer("adam", lr_drop_schedule(2e-3, 80)),
                     14, reshape=(8, 8, 1)), 10))
    add("plateau_lr_drop_moons", "plateau",
        lambda: (run(mlp(2, 2, (16, 16)), moons(n=2000),
                     optimizer("adam", lr_drop_schedule(5e-3, 40)), 18), 2))
    add("plateau_reduce_lr_on_plateau_aggressive", "plateau",
        lambda: (run(mlp(64, 10, (64,)), digits(seed=5), optimizer("sgd", 0.02), 20,
                     callbacks=[_aggressive_reduce_lr()]), 10))
    return sc


def _early_stopping():
    import keras

    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                         restore_best_weights=True)


def _aggressive_reduce_lr():
    import keras

    return keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=1e-4, patience=0,
                                             min_delta=0.2, min_lr=0.0)


def _bn_mlp(input_dim, classes, hidden, bn_momentum=0.99):
    import keras

    return keras.Sequential([
        keras.Input((input_dim,)),
        keras.layers.Dense(hidden),
        keras.layers.BatchNormalization(momentum=bn_momentum),
        keras.layers.Activation("relu"),
        keras.layers.Dense(classes, activation="softmax"),
    ])


def _with_nan_pixel(data):
    (x_tr, y_tr), val, c = data
    x_tr = x_tr.copy()
    x_tr[17, 5] = np.nan
    return (x_tr, y_tr), val, c


def _shuffled_labels(data):
    (x_tr, y_tr), (x_va, y_va), c = data
    rng = np.random.default_rng(0)
    return (x_tr, rng.permutation(y_tr)), (x_va, rng.permutation(y_va)), c


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--only", default=None, help="train only scenarios with this label")
    parser.add_argument("--set", choices=("labels", "types"), default="labels",
                        help="labels: the softmax corpus (diagnostics_runs.json); types: "
                             "regression, sigmoid and unknown-class-count runs "
                             "(diagnostics_runs_types.json)")
    parser.add_argument("--seed", type=int, default=0,
                        help="mixed into every run's seed: another value gives a held-out "
                             "corpus of the same scenarios with other initialisations")
    args = parser.parse_args(argv)

    import keras

    if args.set == "types" and args.out == str(DEFAULT_OUT):
        args.out = str(TYPES_OUT)
    out = Path(args.out)
    corpus = json.loads(out.read_text()) if (args.only and out.exists()) else {"runs": []}
    if args.only:
        corpus["runs"] = [r for r in corpus["runs"] if r["label"] != args.only]
    t0 = time.perf_counter()
    for name, label, thunk in (scenarios() if args.set == "labels" else type_scenarios()):
        if args.only and label != args.only:
            continue
        keras.utils.set_random_seed((zlib.crc32(name.encode()) + 7919 * args.seed) % (2**31))
        start = time.perf_counter()
        history, num_classes, *extra = thunk()
        extra = extra[0] if extra else {}
        hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        has_nan = any(not np.isfinite(v) for vals in hist.values() for v in vals)
        if has_nan != (label == "nan_loss"):
            # The one label that is a fact, not a judgement: check it.
            print(f"!! {name}: label {label} but NaN in history = {has_nan}; run skipped",
                  flush=True)
            continue
        entry = {"name": name, "label": label, "num_classes": num_classes,
                 "epoch": list(history.epoch), "history": hist}
        if extra.get("num_classes_unknown"):
            entry["num_classes"] = None
        if "loss" in extra:
            entry["loss"] = extra["loss"]
        if extra.get("targets") is not None:
            entry["targets"] = extra["targets"]
        corpus["runs"].append(entry)
        last = {k: round(v[-1], 4) for k, v in hist.items()}
        print(f"{name:40s} {label:18s} {time.perf_counter() - start:5.1f}s {last}", flush=True)
    corpus["runs"].sort(key=lambda r: (r["label"], r["name"]))
    corpus["description"] = (
        "Real Keras training runs with injected faults; made by "
        "benchmarks/make_diagnostics_corpus.py")
    corpus["keras_version"] = keras.__version__
    corpus["seed"] = args.seed
    from keras_bestpractice._atomic import atomic_write_text

    atomic_write_text(out, json.dumps(corpus, indent=1, allow_nan=True))
    print(f"wrote {len(corpus['runs'])} runs to {out} in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
