"""
Title: Catch NaN and divergence, roll back and back off with DivergenceGuard
Description: A digits MLP trained with a learning rate far too high. Keras's
TerminateOnNaN stops with NaN weights; DivergenceGuard restores the last good
weights and optimizer state, divides the learning rate by 100 and finishes.

    python examples/divergence_guard.py
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.callbacks import DivergenceGuard  # noqa: E402


def make_model(learning_rate: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.SGD(learning_rate, momentum=0.9),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    x_clean, y_clean = load_digits(return_X_y=True)
    x_clean = (x_clean / 16.0).astype("float32")
    x = x_clean.copy()
    x[20 * 32 + 5, 3] = np.inf  # one corrupt pixel in batch 20 (shuffle=False)
    y = y_clean

    print("== Keras TerminateOnNaN")
    model = make_model(0.05)
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN()])
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    print(f"weights finite after TerminateOnNaN: {finite}")

    print("\n== DivergenceGuard: roll back to the last good snapshot, then stop")
    model = make_model(0.05)
    guard = DivergenceGuard(snapshot_every=10, verbose=1)  # a snapshot every 10 batches
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0, callbacks=[guard])
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    loss, acc = model.evaluate(x_clean, y_clean, verbose=0)
    print(f"events: {guard.events}")
    print(f"weights finite: {finite}; the 20 good batches are kept: "
          f"loss {loss:.3f}, accuracy {acc:.3f} on the clean data")

    print("\n== DivergenceGuard with learning-rate back-off on an absurd learning rate")
    model = make_model(50.0)  # 1000x too high: the loss explodes within an epoch
    guard = DivergenceGuard(lr_backoff=0.001, max_backoffs=3, verbose=1)
    history = model.fit(x_clean, y_clean, epochs=6, batch_size=32, verbose=0,
                        validation_split=0.2, callbacks=[guard])
    print(f"events: {guard.events}")
    print(f"final learning rate {float(model.optimizer.learning_rate.numpy()):.3g}, "
          f"val_accuracy per epoch: {[round(a, 3) for a in history.history['val_accuracy']]}")


if __name__ == "__main__":
    main()
