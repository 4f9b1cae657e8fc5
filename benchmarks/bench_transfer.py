"""Transfer learning offline (issue #17): does a base pretrained on digits 0-4 beat
training from scratch on digits 5-9, and does the negative-transfer alarm tell a base
pretrained on shuffled labels from a useful one?

For each seed: a small CNN base is pretrained on scikit-learn's digits 0-4 (all of
them, 15 epochs), and another copy on the same images with shuffled labels (30
epochs); the target task is digits 5-9 with `--per-class` training images per class,
validated on the rest. Three runs of the same architecture get the same epochs:

- scratch: fresh weights, every layer trainable;
- transfer: `new_classifier` on the pretrained base, then `fine_tune` (head first,
  then one group at a time);
- shuffled: the same `fine_tune` on the shuffled-label base.

Printed: mean validation accuracy at epochs 3, 5 and 10, transfer - scratch at equal
epochs, and how often `fine_tune(check_negative_transfer=True, reference=scratch)`
raised the alarm for each base (window 5-10, margin 0.02, patience 2), and how the
alarm agreed with the outcome at epoch 10 (did the run end more than 0.02 below
scratch, best accuracy so far?): an early warning is useful when it agrees. Two head
poolings are measured: the pooled 2x2 map (`avg`) and the 4x4 map flattened
(`flatten`): the figures differ, and both are reported.

    python benchmarks/bench_transfer.py [--seeds 3] [--per-class 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_bestpractice.transfer import fine_tune, new_classifier  # noqa: E402

EPOCHS = 10


def digits(classes):
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return ((x[keep] / 16.0).astype("float32").reshape(-1, 8, 8, 1),
            (y[keep] - min(classes)).astype("int64"))


def make_base(seed: int, pooling: str) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="block1_conv")(inputs)
    h = keras.layers.MaxPooling2D(name="block1_pool")(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="block2_conv")(h)
    if pooling != "flatten":
        h = keras.layers.MaxPooling2D(name="block2_pool")(h)
    return keras.Model(inputs, h, name="base")


def compile_(model: keras.Model) -> keras.Model:
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def pretrained(seed: int, pooling: str, x, y, epochs: int) -> keras.Model:
    base = make_base(seed, pooling)
    model = compile_(new_classifier(base, 5, dropout=0.0, pooling=pooling))
    base.trainable = True
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    base.trainable = False
    return base


def one_seed(seed: int, pooling: str, per_class: int) -> dict:
    xs, ys = digits(range(0, 5))
    xt, yt = digits(range(5, 10))
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(yt == c), per_class, replace=False)
                            for c in range(5)])
    val = np.setdiff1d(np.arange(len(yt)), train)
    data = {"x": xt[train], "y": yt[train], "validation_data": (xt[val], yt[val]),
            "batch_size": 16}
    out = {}
    base = make_base(seed + 1000, pooling)
    scratch = compile_(new_classifier(base, 5, pooling=pooling))
    base.trainable = True
    scratch = compile_(scratch)
    history = scratch.fit(epochs=EPOCHS, verbose=0, **data).history
    out["scratch"] = history["val_accuracy"]
    bases = {"transfer": pretrained(seed, pooling, xs, ys, 15),
             "shuffled": pretrained(seed, pooling, xs, rng.permutation(ys), 30)}
    for name, base in bases.items():
        model = compile_(new_classifier(base, 5, pooling=pooling))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fine_tune(model, head_epochs=6, epochs_per_group=2, lr_factor=0.3,
                               check_negative_transfer=True, reference=history, **data)
        out[name] = result.history["val_accuracy"]
        out[name + "_alarm"] = result.negative_transfer is not None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--per-class", type=int, default=10)
    args = parser.parse_args()
    print(f"digits 0-4 -> 5-9, {args.per_class} training images per class, {EPOCHS} epochs, "
          f"{args.seeds} seeds; validation accuracy (mean over seeds)")
    for pooling in ("avg", "flatten"):
        runs = [one_seed(s, pooling, args.per_class) for s in range(args.seeds)]
        print(f"\nhead pooling: {pooling}")
        print(f"{'run':10s} {'@3':>6s} {'@5':>6s} {'@10':>6s}  alarms")
        for name in ("scratch", "transfer", "shuffled"):
            curve = np.mean([r[name] for r in runs], axis=0)
            alarms = "" if name == "scratch" else \
                f"{sum(r[name + '_alarm'] for r in runs)}/{len(runs)}"
            print(f"{name:10s} {curve[2]:6.3f} {curve[4]:6.3f} {curve[9]:6.3f}  {alarms}")
        table = {"fired, trailed": 0, "fired, kept up (false alarm)": 0,
                 "silent, trailed (missed)": 0, "silent, kept up": 0}
        for r in runs:
            for name in ("transfer", "shuffled"):
                trailed = max(r["scratch"]) - max(r[name]) > 0.02
                fired = r[name + "_alarm"]
                key = ("fired, trailed" if trailed else "fired, kept up (false alarm)") \
                    if fired else ("silent, trailed (missed)" if trailed else "silent, kept up")
                table[key] += 1
        print("alarm vs outcome at epoch 10: " + ", ".join(f"{k} {v}" for k, v in table.items()))
        for e in (3, 5, 10):
            gaps = [r["transfer"][e - 1] - r["scratch"][e - 1] for r in runs]
            print(f"transfer - scratch @{e}: mean {np.mean(gaps):+.3f}, "
                  f"ahead in {sum(g > 0 for g in gaps)}/{len(gaps)} seeds")


if __name__ == "__main__":
    main()
