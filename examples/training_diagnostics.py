"""
Title: Diagnose a training run and follow the fix
Description: A wide MLP trained on 150 digits overfits; TrainingDiagnostics says so, at
which epoch, with the numbers, and what to change. The second run follows the advice
(more data, Dropout, EarlyStopping) and comes out healthy. Reports go to
diagnostics_outputs/.

    python examples/training_diagnostics.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keras_bestpractice.callbacks import TrainingDiagnostics  # noqa: E402


def build(dropout: float = 0.0, l2: float = 0.0) -> keras.Model:
    keras.utils.set_random_seed(0)
    reg = keras.regularizers.L2(l2) if l2 else None
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(256, activation="relu", kernel_regularizer=reg),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(256, activation="relu", kernel_regularizer=reg),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> None:
    out = Path("diagnostics_outputs")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, train_size=150, stratify=y,
                                                      random_state=0)

    print("== Run 1: a big network on 150 images, 60 epochs, no regularisation")
    diag = TrainingDiagnostics(probe_data=(x_val[:64], y_val[:64]),
                               report_path=out / "overfit.html")
    build().fit(x_train, y_train, validation_data=(x_val, y_val), epochs=60, batch_size=16,
                verbose=0, callbacks=[diag])
    print(diag.report.to_dataframe()[["severity", "code", "epoch_number"]].to_string(index=False))

    print("\n== Run 2: the suggested fixes: more data, Dropout, EarlyStopping")
    x_more, x_val2, y_more, y_val2 = train_test_split(x, y, test_size=0.2, stratify=y,
                                                      random_state=0)
    diag2 = TrainingDiagnostics(probe_data=(x_val2[:64], y_val2[:64]),
                                report_path=out / "fixed.html")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                         restore_best_weights=True)
    build(dropout=0.25).fit(x_more, y_more, validation_data=(x_val2, y_val2), epochs=60,
                            batch_size=32, verbose=0, callbacks=[diag2, stop])
    print(f"\nOpen the reports: {out / 'overfit.html'} and {out / 'fixed.html'}")


if __name__ == "__main__":
    main()
