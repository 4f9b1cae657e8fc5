"""
Title: Deploy: the training preprocessing saved with the model, served from image files
Description: The handbook's last step on scikit-learn's digits. The 8x8 digits become
uint8 images scanned at 32x32; ImagePreprocessing is fitted on the training images
(per-channel mean and standard deviation after resizing to 24x24) and is the tf.data
map the model trains through. export_for_serving writes a SavedModel that takes raw
images (and the .keras file, the statistics and reference outputs it re-checks on
load). Test digits are written as PNG and JPEG files of other sizes and kinds (48x48
and 72x72, 8- and 16-bit, gray, RGB and RGBA) and served in a fresh process with the
`keras-bestpractice predict` command. Outputs go to deployment_outputs/.

    python examples/deployment.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.data import stratified_split  # noqa: E402
from keras_bestpractice.deploy import ImagePreprocessing, export_for_serving  # noqa: E402

OUT = Path("deployment_outputs")
SIZE = (24, 24)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    digits = load_digits()
    pixels = (digits.images / 16 * 255).round().astype(np.uint8)[..., None]  # [N, 8, 8, 1]
    images = np.kron(pixels, np.ones((1, 4, 4, 1), np.uint8))      # scanned at 32x32
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = stratified_split(
        images, digits.target, val_size=0.15, test_size=0.1, seed=0)

    prep = ImagePreprocessing(SIZE, channels=1).fit(x_tr)
    print(prep)
    train = tf.data.Dataset.from_tensor_slices((x_tr, y_tr)).shuffle(2048, seed=0)
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((*SIZE, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train.map(prep.map_fn()).batch(32), epochs=8, verbose=0,
              validation_data=val.map(prep.map_fn()).batch(64))
    served_dir = export_for_serving(model, prep, OUT / "served")
    print(f"exported to {served_dir}: {sorted(p.name for p in served_dir.iterdir())}")

    # Test digits as the files a service receives: other sizes, bit depths and formats.
    files = OUT / "incoming"
    files.mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x_te[:20], y_te[:20], strict=True)):
        kind = i % 4
        scale = 9 if kind == 1 else 6          # scanned at 72x72 or 48x48
        big = np.kron(image[::4, ::4], np.ones((scale, scale, 1), np.uint8))
        if kind == 2:   # 16 bits per channel
            data = tf.io.encode_png(big.astype(np.uint16) * 257)
        elif kind == 3:  # RGB with an alpha channel
            rgba = np.concatenate([np.repeat(big, 3, -1), np.full_like(big, 255)], -1)
            data = tf.io.encode_png(rgba)
        else:
            data = tf.io.encode_jpeg(np.repeat(big, 3, -1), quality=95) if kind == 0 \
                else tf.io.encode_png(big)
        suffix = ".jpg" if kind == 0 else ".png"
        (files / f"{i:02d}_digit{label}{suffix}").write_bytes(data.numpy())

    # A fresh process: load once, self-test, predict, print a table.
    table = OUT / "predictions.csv"
    done = subprocess.run([sys.executable, "-m", "keras_bestpractice.cli", "predict",
                           str(served_dir), str(files), "--csv", str(table)],
                          capture_output=True, text=True)
    print(done.stdout)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    import pandas as pd

    rows = pd.read_csv(table)
    truth = rows["file"].str.extract(r"digit(\d)")[0].astype(int)
    print(f"served accuracy on {len(rows)} files: {(rows['class'] == truth).mean():.2f}")


if __name__ == "__main__":
    main()
