"""Overhead of our callbacks on `model.fit` step time, against a bare `fit`.

Same model and data, interleaved runs (benchmarks/_harness.py). The measured time is
the training part of epochs 2..E (epoch 1 includes graph tracing), taken by a timing
callback placed last so that the callbacks under test do their epoch-end work inside
the window. Targets: DivergenceGuard (defaults) <= 1.03, TrainingDiagnostics
(defaults) <= 1.05 on CPU, for a 2-layer MLP with batch 32.

    python benchmarks/bench_callbacks.py [--epochs 4] [--repeats 7] [--samples 8192]
                                         [--backend tensorflow|jax|torch]

`--backend` sets `KERAS_BACKEND` before Keras is imported (the bare `fit` it is compared
with runs on the same backend, in the same process).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def _backend_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
    return None


os.environ["KERAS_BACKEND"] = _backend_from_argv(sys.argv[1:]) or \
    os.environ.get("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from _harness import compare, print_header  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    """Sum of epoch training times after the first epoch (tracing excluded)."""

    def __init__(self):
        super().__init__()
        self.total = 0.0
        self.steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if epoch > 0:
            self.total += time.perf_counter() - self._start
            self.steps += self.params["steps"]


def mlp(features: int, classes: int) -> keras.Model:
    model = keras.Sequential([
        keras.Input((features,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(classes, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--only", default=None, help="guard | diagnostics")
    parser.add_argument("--backend", choices=BACKENDS, default=os.environ["KERAS_BACKEND"],
                        help="Keras backend (set before Keras is imported)")
    args = parser.parse_args(argv)
    print_header("callback overhead on model.fit step time (2-layer MLP, batch 32), "
                 f"backend {keras.backend.backend()}")

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 32)).astype("float32")
    y = rng.integers(0, 10, args.samples)
    x_val, y_val = x[:512], y[:512]

    from keras_bestpractice.callbacks import DivergenceGuard

    candidates = {"guard": ("DivergenceGuard()", lambda: [DivergenceGuard()])}
    try:
        from keras_bestpractice.callbacks import TrainingDiagnostics

        candidates["diagnostics"] = (
            "TrainingDiagnostics(verbose=0)",
            lambda: [TrainingDiagnostics(verbose=0)],
        )
    except ImportError:
        pass

    keras.utils.set_random_seed(0)
    # One model for both sides, so that nothing but the callback differs.
    bare_model = cand_model = mlp(32, 10)
    results = []
    for key, (label, make) in candidates.items():
        if args.only and key != args.only:
            continue

        def run(model, extra):
            timer = StepTimer()
            model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=0,
                      validation_data=(x_val, y_val), callbacks=[*extra, timer])
            return timer.total / timer.steps

        results.append(compare(
            f"{label} vs bare fit: seconds per training step",
            lambda m=cand_model, make=make: run(m, make()),
            lambda: run(bare_model, []),
            repeats=args.repeats, names=(label, "bare fit"), unit="us",
            timer=lambda fn: fn(),
        ))
    for r in results:
        print(f"RESULT {r.candidate.name}: median step-time ratio {r.ratio:.3f}, "
              f"min ratio {r.min_ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
