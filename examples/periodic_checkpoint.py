"""
Title: Survive kill -9: PeriodicCheckpoint with exact resume
Description: Trains a digits MLP with Dropout twice: once straight through, and once
killed with SIGKILL halfway (right in the middle of epoch 4) and simply run again. The
resumed run ends with weights bitwise equal to the uninterrupted one. Checkpoints go to
checkpoint_outputs/.

    python examples/periodic_checkpoint.py            # the demo
    python examples/periodic_checkpoint.py --train DIR OUT.npz   # one training run
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def train(directory: str, out: str) -> None:
    import keras
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from keras_bestpractice.callbacks import PeriodicCheckpoint
    from keras_bestpractice.data import stratified_dataset, stratified_split

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    x, y = load_digits(return_X_y=True)
    (x_tr, y_tr), (x_val, y_val), _ = stratified_split((x / 16.0).astype("float32"), y, seed=0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])
    schedule = keras.optimizers.schedules.ExponentialDecay(3e-3, decay_steps=50, decay_rate=0.9)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    ckpt = PeriodicCheckpoint(directory, every_n_steps=10, keep_last=2, keep_best=1,
                              monitor="val_accuracy", verbose=int(os.environ.get("VERBOSE", "0")))
    ds = stratified_dataset(x_tr, y_tr, batch_size=32, seed=0)
    model.fit(ds, validation_data=(x_val, y_val), epochs=8, verbose=0, callbacks=[ckpt])
    np.savez(out, *model.get_weights())
    print("TRAINING-DONE", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", nargs=2, metavar=("DIR", "OUT"))
    args = parser.parse_args()
    if args.train:
        train(*args.train)
        return
    import numpy as np

    out = Path("checkpoint_outputs")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    me = [sys.executable, __file__, "--train"]

    print("== 1. uninterrupted run (in the background, beside runs 2 and 3)")
    straight = subprocess.Popen([*me, str(out / "straight"), str(out / "straight.npz")],
                                stdout=subprocess.DEVNULL)

    print("\n== 2. the same run, killed with SIGKILL once it has passed step 150 ...")
    from keras_bestpractice.checkpointing import checkpoint_info

    def steps_saved() -> list[int]:
        # Read through the public API (the names' format is not a contract). A
        # checkpoint being replaced by retention right now is simply not counted.
        steps = []
        for path in (out / "crashy").glob("ckpt-*"):
            try:
                steps.append(checkpoint_info(path).step)
            except (OSError, ValueError):
                continue
        return steps

    proc = subprocess.Popen([*me, str(out / "crashy"), str(out / "crashy.npz")])
    try:
        while proc.poll() is None:
            steps = steps_saved()
            if steps and max(steps) >= 150:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                print("   killed. Committed checkpoints on disk:",
                      sorted(p.name for p in (out / "crashy").glob("ckpt-*")))
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:  # never leave the child running
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        straight.kill()
        raise SystemExit("the run finished before it passed step 150: nothing was killed")
    print("\n== 3. ... and simply started again: it resumes where it was")
    try:
        subprocess.run([*me, str(out / "crashy"), str(out / "crashy.npz")], check=True,
                       env={**os.environ, "VERBOSE": "1"})
        if straight.wait() != 0:
            raise SystemExit("the uninterrupted run failed")
    finally:
        if straight.poll() is None:  # never leave the child running
            straight.kill()
            straight.wait()

    a, b = np.load(out / "straight.npz"), np.load(out / "crashy.npz")
    same = all(np.array_equal(a[k], b[k]) for k in a.files)
    print(f"\nfinal weights bitwise equal to the uninterrupted run: {same}")
    from keras_bestpractice.callbacks import PeriodicCheckpoint

    print(f"best checkpoint by val_accuracy: {PeriodicCheckpoint.best(out / 'crashy')}")


if __name__ == "__main__":
    main()
