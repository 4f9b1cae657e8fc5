"""Overhead of our callbacks on `model.fit` step time, against a bare `fit`.

Same model and data, interleaved runs (benchmarks/_harness.py). The measured time is
the training part of epochs 2..E (epoch 1 includes graph tracing), taken by a timing
callback placed last so that the callbacks under test do their epoch-end work inside
the window. Targets: DivergenceGuard (defaults) <= 1.03, TrainingDiagnostics
(defaults) <= 1.05 on CPU, for a 2-layer MLP with batch 32; TrainingDiagnostics with a
probe batch of 64 <= 1.05 of a CNN epoch of 32 steps (issue #23; `--model cnn --only
probe`).

    python benchmarks/bench_callbacks.py [--epochs 4] [--repeats 7] [--samples 8192]
                                         [--backend tensorflow|jax|torch] [--model mlp|cnn]

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


def cnn(classes: int) -> keras.Model:
    """A small image CNN (32x32x3): the model the probe's overhead is judged on."""
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
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
    parser.add_argument("--only", default=None, help="guard | diagnostics | probe")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                        help="mlp: 2-layer MLP on 32 features; cnn: a small CNN on 32x32x3 "
                             "images, 1024 samples (32 steps of 32 per epoch; issue #23's "
                             "probe target: <= 1.05)")
    parser.add_argument("--backend", choices=BACKENDS, default=os.environ["KERAS_BACKEND"],
                        help="Keras backend (set before Keras is imported)")
    args = parser.parse_args(argv)
    what = "2-layer MLP" if args.model == "mlp" else "CNN on 32x32x3, 32 steps per epoch"
    print_header(f"callback overhead on model.fit step time ({what}, batch 32), "
                 f"backend {keras.backend.backend()}")

    rng = np.random.default_rng(0)
    if args.model == "cnn":
        x = rng.random((1024, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 10, 1024)
    else:
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
        candidates["probe"] = (
            "TrainingDiagnostics(probe_data=64 samples, verbose=0)",
            lambda: [TrainingDiagnostics(probe_data=(x[:64], y[:64]), verbose=0)],
        )
    except ImportError:
        pass

    keras.utils.set_random_seed(0)
    # One model for both sides, so that nothing but the callback differs.
    bare_model = cand_model = mlp(32, 10) if args.model == "mlp" else cnn(10)
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
    if "probe" in candidates and args.only in (None, "probe"):
        # The step-time ratio of two fits moves by +-15% from fit to fit on 2 cores; the
        # probe's own share of the epochs it runs in is measured inside one fit.
        shares = [probe_share(cand_model, x, y, x_val, y_val, args.epochs)
                  for _ in range(args.repeats)]
        print(f"RESULT probe share of an epoch ({len(x) // 32} steps): median "
              f"{float(np.median(shares)):.3f} (min {min(shares):.3f}, max {max(shares):.3f})")
    return 0


def probe_share(model, x, y, x_val, y_val, epochs) -> float:
    """Seconds in the probe / seconds of the epochs it ran in (epochs 2..E), one fit."""
    from keras_bestpractice.callbacks import TrainingDiagnostics

    class Timed(TrainingDiagnostics):
        spent = 0.0

        def _run_probe(self, epoch, when):
            start = time.perf_counter()
            super()._run_probe(epoch, when)
            if when == "end" and epoch > 0:
                Timed.spent += time.perf_counter() - start

    Timed.spent = 0.0
    timer = StepTimer()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, validation_data=(x_val, y_val),
              callbacks=[Timed(probe_data=(x[:64], y[:64]), verbose=0), timer])
    return Timed.spent / timer.total


if __name__ == "__main__":
    raise SystemExit(main())
