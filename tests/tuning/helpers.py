"""Small data and hypermodels for the tuner tests (digits, tiny MLPs)."""

from __future__ import annotations

import keras
from sklearn.datasets import load_digits

from keras_bestpractice.data import stratified_split
from keras_bestpractice.tuning import dropout_layer


def digits_splits(n=600, seed=0):
    x, y = load_digits(return_X_y=True)
    x = (x[:n] / 16.0).astype("float32")
    (xt, yt), (xv, yv), _ = stratified_split(x, y[:n], val_size=0.25, test_size=0, seed=seed)
    return (xt, yt), (xv, yv)


def build_mlp(hp):
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(16, activation="relu"),
        dropout_layer(hp),
        keras.layers.Dense(10, activation="softmax"),
    ])
