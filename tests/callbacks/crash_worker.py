"""Trains with PeriodicCheckpoint; run as a subprocess by the crash tests.

    python crash_worker.py DIRECTORY {numpy|stratified} OUT.npz [SLOW_SECONDS]

Deterministic on CPU: seeds set, op determinism on. With SLOW_SECONDS > 0 every file
write of a checkpoint sleeps first, so that a kill lands inside a save most of the time.
"""

import os
import sys
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bestpractice.callbacks import PeriodicCheckpoint  # noqa: E402
from keras_bestpractice.checkpointing import store  # noqa: E402
from keras_bestpractice.data import stratified_dataset  # noqa: E402

directory, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
slow = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
if slow:
    original = store._write_buffers

    def slow_write(path, buffers):
        time.sleep(slow)
        original(path, buffers)

    store._write_buffers = slow_write

tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(7)
rng = np.random.default_rng(0)
x = rng.random((120, 6)).astype("float32")
y = rng.integers(0, 3, 120)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(24, activation="relu"),
                          keras.layers.Dropout(0.3), keras.layers.Dense(3, activation="softmax")])
model.compile(keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
ckpt = PeriodicCheckpoint(directory, every_n_steps=2, keep_last=2, verbose=1)
if mode == "stratified":
    data = {"x": stratified_dataset(x[:96], y[:96], 12, seed=5)}
else:
    data = {"x": x[:96], "y": y[:96], "batch_size": 12, "shuffle": False}
with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore")  # the resume reminder for NumPy input
    history = model.fit(**data, validation_data=(x[96:], y[96:]), epochs=6, verbose=0,
                        callbacks=[ckpt])
np.savez(out, *model.get_weights(), history=np.array(history.history.get("loss", [])))
print("WORKER-DONE", flush=True)
