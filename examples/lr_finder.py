"""
Title: Find the learning rate: range test and the handbooks' short-run sweep
Description: A one-pass range test (exponential ramp from 1e-7 to 10, stop when the
loss blows up) on a digits MLP, plotted with its suggestions; then the handbooks' sweep:
short runs at 0.1 ... 0.00001, each diagnosed, refined x2 and /2 around the best.
Plots go to lr_outputs/.

    python examples/lr_finder.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.data import stratified_split  # noqa: E402
from keras_bestpractice.tuning import lr_range_test, lr_sweep  # noqa: E402


def build() -> keras.Model:
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main() -> None:
    out = Path("lr_outputs")
    out.mkdir(exist_ok=True)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    (x_tr, y_tr), (x_val, y_val), _ = stratified_split(x, y, test_size=0, seed=0)

    print("== one-pass range test")
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    result = lr_range_test(model, x_tr, y_tr, num_steps=100)
    result.plot(out / "range_test.png")
    print({k: None if v is None else float(f"{v:.3g}") for k, v in result.suggestions.items()})
    print(f"suggested learning rate: {result.suggestion:.3g} (plot: {out / 'range_test.png'})")

    print("\n== the handbooks' sweep: 5 epochs per rate, then x2 and /2 around the best")
    sweep = lr_sweep(build, x_tr, y_tr, epochs=5, validation_data=(x_val, y_val),
                     num_classes=10)
    sweep.plot(out / "sweep.png")
    columns = ["learning_rate", "final_val_loss", "final_val_accuracy", "verdict", "refined",
               "best"]
    print(sweep.to_dataframe()[columns].to_string(index=False))
    print(f"best learning rate: {sweep.best_lr:g} (plot: {out / 'sweep.png'})")


if __name__ == "__main__":
    main()
