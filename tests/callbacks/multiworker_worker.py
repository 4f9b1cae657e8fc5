"""One worker of a two-worker `MultiWorkerMirroredStrategy` on loopback (issue #18).

    python multiworker_worker.py MODE DIRECTORY INDEX PORT0 PORT1 OUT.json

MODE `hooks`: builds the model in the strategy's scope and drives DivergenceGuard and
PeriodicCheckpoint through two epochs of scripted steps, as `fit` would call them
(worker 1 alone sees a NaN loss in epoch 2), then resumes from the directory in a
second "run". MODE `fit`: a plain Keras `fit` first, then, when Keras can fit under
this strategy at all (Keras 3.15 cannot, keras-team/keras#20585: the test then skips),
a real `model.fit` with both callbacks. Writes
what it saw to OUT.json.
"""

import json
import os
import sys

mode, directory, index, port0, port1, out = sys.argv[1:7]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"localhost:{port0}", f"localhost:{port1}"]},
    "task": {"type": "worker", "index": int(index)}})
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import hashlib  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_bestpractice._callback import cluster_sum  # noqa: E402
from keras_bestpractice.callbacks import DivergenceGuard, PeriodicCheckpoint  # noqa: E402

warnings.simplefilter("ignore")
strategy = tf.distribute.MultiWorkerMirroredStrategy()
report = {"index": int(index), "chief": bool(strategy.extended.should_checkpoint)}


def build():
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)
    return model


def digest(model):
    return hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())
                          ).hexdigest()


def drive(model, callbacks, epochs, nan_at=None):
    """Call the hooks as `fit` does; the weights move the same way on every worker."""
    params = {"epochs": epochs, "steps": 4, "verbose": 0}
    for cb in callbacks:
        cb.set_model(model)
        cb.set_params(params)
    for cb in callbacks:
        cb.on_train_begin()
    start = int(getattr(model, "_initial_epoch", None) or 0)
    for epoch in range(start, epochs):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        for batch in range(4):
            for w in model.trainable_variables:
                w.assign(w + 0.01)
            model.optimizer.iterations.assign_add(1)
            loss = 1.0 / (1 + model.optimizer.iterations.numpy())
            if nan_at == (epoch, batch) and int(index) == 1:
                loss = float("nan")
            for cb in callbacks:
                cb.on_train_batch_end(batch, {"loss": loss})
            if model.stop_training:
                break
        for cb in callbacks:
            cb.on_epoch_end(epoch, {"loss": 0.5, "val_loss": 0.6 - 0.1 * epoch})
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end()
    model.stop_training = False


if mode == "hooks":
    model = build()
    guard = DivergenceGuard()
    ckpt = PeriodicCheckpoint(directory, every_n_epochs=1, keep_last=5)
    drive(model, [guard, ckpt], epochs=2, nan_at=(1, 2))
    report["events"] = [{k: e[k] for k in ("epoch", "batch", "reason", "action")}
                        for e in guard.events]
    report["saved"] = [p.name for p in ckpt.saved]
    report["after_first_run"] = digest(model)
    cluster_sum(strategy, [0.0])  # a barrier: the chief's last save is committed
    resumed = build()
    for w in resumed.trainable_variables:  # a new process would start elsewhere
        w.assign(w * 0.0)
    ckpt2 = PeriodicCheckpoint(directory, every_n_epochs=1, keep_last=5)
    drive(resumed, [ckpt2], epochs=3)
    report["resumed_from"] = None if ckpt2.resumed_from is None else ckpt2.resumed_from.name
    report["after_resume"] = digest(resumed)
else:
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 6)).astype("float32"), rng.integers(0, 3, 96)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(12)
    # First plain Keras, no callback of ours: whether Keras itself can fit under this
    # strategy (keras-team/keras#20585 has two blockers, any of which stops it).
    try:
        build().fit(data, epochs=1, verbose=0)
        report["plain_fit"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure of Keras itself is reported
        report["plain_fit"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if report["plain_fit"] == "ok":
        model = build()
        try:
            model.fit(data, epochs=2, verbose=0,
                      callbacks=[DivergenceGuard(), PeriodicCheckpoint(directory, keep_best=0)])
            report["fit"] = "ok"
            report["weights"] = digest(model)
        except Exception as exc:  # noqa: BLE001 - the test fails with the cause
            report["fit"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
with open(out, "w") as handle:
    json.dump(report, handle)
print("WORKER-DONE", flush=True)
