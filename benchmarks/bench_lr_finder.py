"""Cost of `lr_range_test` against `num_steps` plain training steps (target <= 1.2x).

Same model shape and data, interleaved runs (benchmarks/_harness.py). The baseline
is `model.fit(dataset, epochs=1, steps_per_epoch=num_steps)` on a model of the same
architecture; the range test adds setting the learning rate and reading the loss at
every step, the snapshot of the state before and its restore after.

    python benchmarks/bench_lr_finder.py [--steps 100] [--repeats 25]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bestpractice.tuning import lr_range_test  # noqa: E402

from _harness import compare, print_header  # noqa: E402


def mlp():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args(argv)
    print_header(f"lr_range_test vs {args.steps} plain training steps (MLP, batch 32)")
    rng = np.random.default_rng(0)
    x = rng.random((4096, 64)).astype("float32")
    y = rng.integers(0, 10, 4096)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(4096, seed=0).batch(32).repeat()
    # One model for both sides (the range test puts its state back afterwards).
    finder_model = plain_model = mlp()

    def finder():
        # stop_factor high so both sides run all the steps
        lr_range_test(finder_model, data, min_lr=1e-6, max_lr=1e-2, num_steps=args.steps,
                      stop_factor=1e9)

    def plain():
        plain_model.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0, shuffle=False)

    result = compare(f"lr_range_test({args.steps} steps) vs fit({args.steps} steps)",
                     finder, plain, repeats=args.repeats,
                     names=("lr_range_test", "plain fit"))
    print(f"\nRESULT range test / plain steps: {result.ratio:.3f} (target <= 1.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
