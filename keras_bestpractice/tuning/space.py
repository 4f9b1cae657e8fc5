"""The handbooks' homebrew search space, and helpers to use it in a `build(hp)`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LEARNING_RATES = (0.1, 0.01, 0.001, 0.0001, 0.00001)
DROPOUTS = (0.1, 0.25, 0.5)
BATCH_SIZES = (32, 128)
OPTIMIZERS = ("adam", "adagrad", "rmsprop")
# The names of the hyperparameters the handbook's space declares.
HANDBOOK_HYPERPARAMETERS = ("learning_rate", "dropout", "batch_size", "optimizer")
# Optimizer names the tuner and the sweep compile with, and their Keras classes.
OPTIMIZER_NAMES = {"adam": "Adam", "adagrad": "Adagrad", "rmsprop": "RMSprop", "sgd": "SGD",
                   "adamw": "AdamW", "nadam": "Nadam"}


def handbook_search_space():
    """`keras_tuner.HyperParameters` with the handbooks' four hyperparameters.

    `learning_rate` in [0.1, 0.01, 0.001, 0.0001, 0.00001], `dropout` in
    [0.1, 0.25, 0.5], `batch_size` in [32, 128], `optimizer` in
    [adam, adagrad, rmsprop]: 90 combinations.

    Example:

    ```python
    tuner = RandomSearchTuner(build, hyperparameters=handbook_search_space(),
                              max_trials=20)
    ```
    """
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Choice("learning_rate", list(LEARNING_RATES), ordered=True)
    hp.Choice("dropout", list(DROPOUTS), ordered=True)
    hp.Choice("batch_size", list(BATCH_SIZES), ordered=True)
    hp.Choice("optimizer", list(OPTIMIZERS))
    return hp


def compile_search_space():
    """The hyperparameters the tuner applies when it compiles an uncompiled model:
    `learning_rate` and `optimizer`, with the handbooks' values."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.Choice("learning_rate", list(LEARNING_RATES), ordered=True)
    hp.Choice("optimizer", list(OPTIMIZERS))
    return hp


def dropout_layer(hp: Any, default: float = 0.25):
    """`keras.layers.Dropout` at the trial's `dropout` (the one extra line in `build`).

    ```python
    def build(hp):
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, "relu"),
                                 dropout_layer(hp),
                                 keras.layers.Dense(10, activation="softmax")])
    ```
    """
    import keras

    from keras_bestpractice import _validation as v

    _check_hp(hp)
    v.check_float("default", default, low=0.0, high=1.0, high_inclusive=False)
    rate = hp.get("dropout") if "dropout" in hp.values else hp.Choice(
        "dropout", list(DROPOUTS), default=default, ordered=True)
    return keras.layers.Dropout(float(rate))


def make_optimizer(hp: Any):
    """The trial's optimizer (`optimizer` name) at its `learning_rate`."""
    import keras

    name = hp.values.get("optimizer", "adam")
    lr = float(hp.values.get("learning_rate", 1e-3))
    classes = {name: getattr(keras.optimizers, cls) for name, cls in OPTIMIZER_NAMES.items()}
    if name not in classes:
        raise ValueError(f"hyperparameter `optimizer`={name!r} is not one of "
                         f"{', '.join(sorted(classes))}.")
    return classes[name](learning_rate=lr)


def default_metrics() -> list[Any]:
    """Accuracy and the macro precision/recall/F1 the results table reports (one
    `MacroScores` metric: a single confusion matrix for all three)."""
    from keras_bestpractice.metrics.macro import MacroScores

    return ["accuracy", MacroScores()]


def compile_from_hp(model: Any, hp: Any, loss: Any = "sparse_categorical_crossentropy",
                    metrics: Sequence[Any] | None = None) -> Any:
    """Compile `model` with the trial's optimizer and learning rate; returns it.

    Raises:
        TypeError: if `model` is not a Keras model or `hp` not `HyperParameters`.
    """
    if not hasattr(model, "compile") or not hasattr(model, "fit"):
        raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
    _check_hp(hp)
    model.compile(optimizer=make_optimizer(hp), loss=loss,
                  metrics=list(metrics) if metrics is not None else default_metrics())
    return model


def _check_hp(hp: Any) -> None:
    if not (hasattr(hp, "values") and hasattr(hp, "Choice")):
        raise TypeError(f"`hp` must be a keras_tuner.HyperParameters, got {type(hp).__name__}.")
