"""
Title: keras-bestpractice quickstart
Description: A small CNN on scikit-learn's 8x8 digits, trained the handbooks' way.
Runs offline on a laptop CPU in well under two minutes.

    python examples/quickstart.py [--out quickstart_outputs]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.diagnostics import diagnose  # noqa: E402


def build_cnn(num_classes: int = 10) -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="quickstart_outputs")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    keras.utils.set_random_seed(0)

    # 1. Data: 1,797 8x8 grey images, 10 classes, shipped inside scikit-learn.
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)  # normalise to [0, 1]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    cut = int(0.8 * len(x))
    (x_train, y_train), (x_val, y_val) = (x[order[:cut]], y[order[:cut]]), \
        (x[order[cut:]], y[order[cut:]])

    # 2. Train with a CSV log, as the handbooks advise: plot the curves every time.
    model = build_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    log = out / "training_log.csv"
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
              batch_size=32, verbose=2, callbacks=[keras.callbacks.CSVLogger(str(log))])

    # 3. Diagnose the run from its log and write a report people read.
    report = diagnose(log, num_classes=10)
    print()
    print(report)
    report.to_html(out / "report.html")
    report.plot(out / "curves.png")

    print(f"\nDone in {time.perf_counter() - t0:.0f}s. Outputs:")
    print(f"  training log      {log}")
    print(f"  diagnostics       {out / 'report.html'} (open in a browser), "
          f"{out / 'curves.png'}")


if __name__ == "__main__":
    main()
