"""Tiny models and data for the callback tests."""

from __future__ import annotations

import keras
import numpy as np


def tiny_data(n=64, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, y


def tiny_model(lr=0.01, optimizer="sgd", classes=3, features=5, kernel_initializer="glorot_uniform",
               dropout=0.0, metrics=("accuracy",), steps_per_execution=1, seed=0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((features,)),
              keras.layers.Dense(8, activation="relu", kernel_initializer=kernel_initializer)]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(classes, activation="softmax"))
    model = keras.Sequential(layers)
    opt = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[optimizer](lr)
    model.compile(opt, "sparse_categorical_crossentropy", metrics=list(metrics),
                  steps_per_execution=steps_per_execution)
    return model


def all_finite(model) -> bool:
    return all(np.isfinite(w).all() for w in model.get_weights())
