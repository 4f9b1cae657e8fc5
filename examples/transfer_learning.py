"""
Title: Transfer learning the handbook's way: new head, group-by-group unfreezing
Description: A small CNN base is pretrained on scikit-learn's digits 0-4
(domain_transfer_init) and transferred to digits 5-9 with only 10 training images per
class: new_classifier freezes the base and adds a head, fine_tune trains the head,
then unfreezes one convolutional group at a time, top-most first, each phase a
separate fit with a recompile, checkpointed by PeriodicCheckpoint (run the script
again after killing it and it resumes in the right phase). The negative-transfer
check trains the same architecture from scratch for 10 epochs and compares; a second
base, pretrained on shuffled labels, is put through the same check. Checkpoints go to
transfer_outputs/.

    python examples/transfer_learning.py
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.callbacks import PeriodicCheckpoint  # noqa: E402
from keras_bestpractice.diagnostics import diagnose  # noqa: E402
from keras_bestpractice.transfer import (  # noqa: E402
    domain_transfer_init,
    fine_tune,
    layer_groups,
    new_classifier,
)

OUT = Path("transfer_outputs")


def make_base(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="block1_conv")(inputs)
    h = keras.layers.MaxPooling2D(name="block1_pool")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="block2_conv")(h)
    return keras.Model(inputs, h, name="base")


def transfer(base: keras.Model, data: dict, name: str):
    model = new_classifier(base, num_classes=5, pooling="flatten")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return fine_tune(model, head_epochs=6, epochs_per_group=2, lr_factor=0.3,
                     check_negative_transfer=True,
                     callbacks=[PeriodicCheckpoint(OUT / name, every_n_epochs=2, keep_last=2)],
                     **data)


def main() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    source, target = y < 5, y >= 5
    rng = np.random.default_rng(0)

    # 1. Domain-transfer initialisation: pretrain the base on the related classes 0-4.
    base, history = domain_transfer_init(make_base(0), x[source], y[source], num_classes=5,
                                         epochs=15, learning_rate=3e-3, batch_size=32,
                                         pooling="flatten")
    print(f"Base pretrained on digits 0-4: training accuracy {history['accuracy'][-1]:.3f}; "
          f"groups {list(layer_groups(base))}")

    # 2. The new task: digits 5-9, 10 training images per class, the rest for validation.
    xt, yt = x[target], y[target] - 5
    train = rng.permutation(np.concatenate([
        rng.choice(np.flatnonzero(yt == c), 10, replace=False) for c in range(5)]))
    val = np.setdiff1d(np.arange(len(yt)), train)
    data = {"x": xt[train], "y": yt[train], "validation_data": (xt[val], yt[val]),
            "batch_size": 16}

    result = transfer(base, data, "pretrained")
    frame = pd.DataFrame(result.history)[["epoch", "phase", "loss", "val_accuracy"]]
    print("\nfine_tune, one row per epoch:")
    print(frame.to_string(index=False, float_format="%.3f"))
    scratch = result.reference_history["val_accuracy"]
    print(f"\nFrom scratch, same architecture and epochs: val_accuracy by epoch 3 "
          f"{max(scratch[:3]):.3f}, by epoch 10 {max(scratch):.3f}; transferred "
          f"{max(result.history['val_accuracy'][:3]):.3f} and "
          f"{max(result.history['val_accuracy']):.3f}.")
    print("Negative-transfer alarm:", "silent" if result.negative_transfer is None
          else result.negative_transfer.describe())

    # 3. A base pretrained on shuffled labels, through the same check.
    noisy, _ = domain_transfer_init(make_base(0), x[source], rng.permutation(y[source]),
                                    num_classes=5, epochs=30, learning_rate=3e-3,
                                    batch_size=32, pooling="flatten")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        bad = transfer(noisy, data, "shuffled")
    print("\nBase pretrained on shuffled labels: alarm",
          "silent" if bad.negative_transfer is None else bad.negative_transfer.describe())
    report = diagnose(bad.history, num_classes=5, reference=bad.reference_history)
    print("diagnose(history, reference=scratch):", report.primary.code, "-",
          report.primary.message)


if __name__ == "__main__":
    main()
