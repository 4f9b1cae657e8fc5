"""Blocking time of one PeriodicCheckpoint save, against writing the same bytes raw.

Same process, same disk, interleaved runs (benchmarks/_harness.py):

1. a synchronous save (snapshot to host, write, fsync, sha256, manifest, atomic rename,
   retention) vs `numpy.save` of the same arrays followed by `fsync` (target <= 1.5x);
2. the blocking part of a save with `async_write=True` (the copy to host) vs the
   synchronous save, for a model of >= 50 MB (target <= 0.25x).

    python benchmarks/bench_checkpoint.py [--units 2048] [--repeats 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bestpractice.callbacks import PeriodicCheckpoint  # noqa: E402
from keras_bestpractice.checkpointing.state import capture_arrays  # noqa: E402

from _harness import compare, print_header  # noqa: E402


def big_model(units: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((units // 2,)),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units // 2, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((64, units // 2)).astype("float32")
    model.fit(x, np.arange(64) % 10, epochs=1, verbose=0)  # builds the optimizer state
    return model


def prepared_callback(model, directory, async_write):
    ckpt = PeriodicCheckpoint(directory, keep_last=1, keep_best=0, monitor="loss",
                              resume=False, async_write=async_write)
    ckpt.set_model(model)
    ckpt.set_params({"epochs": 1, "steps": 1, "verbose": 0})
    ckpt.on_train_begin()
    ckpt.on_epoch_begin(0)
    return ckpt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", default=None, help="a folder on the disk to measure")
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="bench_ckpt_", dir=args.dir or os.getcwd())
    try:
        model = big_model(args.units)
        arrays = capture_arrays(model, include_metrics=False)
        flat = [a for group in arrays.values() for _, a in group]
        total = sum(a.nbytes for a in flat)
        print_header(f"checkpoint save blocking time; model state {total / 2**20:.1f} MiB "
                     f"({len(flat)} arrays) under {root}")

        sync_cb = prepared_callback(model, os.path.join(root, "sync"), async_write=False)
        async_cb = prepared_callback(model, os.path.join(root, "async"), async_write=True)
        epoch = [0]

        def sync_save():
            epoch[0] += 1
            sync_cb._epoch = epoch[0]
            sync_cb.on_epoch_end(epoch[0], {"loss": 1.0 / epoch[0]})

        def raw_save():
            path = os.path.join(root, "raw.npy")
            with open(path, "wb") as handle:
                for a in flat:
                    np.save(handle, a)
                handle.flush()
                os.fsync(handle.fileno())

        def async_blocking():
            epoch[0] += 1
            async_cb._epoch = epoch[0]
            start = time.perf_counter()
            async_cb.on_epoch_end(epoch[0], {"loss": 1.0 / epoch[0]})
            blocked = time.perf_counter() - start
            async_cb._session.wait()  # let the write finish outside the measured time
            return blocked

        r1 = compare("(1) synchronous save vs numpy.save + fsync of the same bytes",
                     sync_save, raw_save, repeats=args.repeats,
                     names=("PeriodicCheckpoint save", "numpy.save + fsync"))
        r2 = compare("(2) async_write=True blocking time vs synchronous save",
                     async_blocking, sync_save, repeats=args.repeats,
                     names=("async blocking", "sync save"),
                     timer=lambda fn: fn() if fn is async_blocking else _wall(fn))
        print(f"\nRESULT sync save / raw write: {r1.ratio:.3f} (target <= 1.5)")
        print(f"RESULT async blocking / sync save: {r2.ratio:.3f} (target <= 0.25)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _wall(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
