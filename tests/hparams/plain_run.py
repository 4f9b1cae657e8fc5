"""One plain `fit` logged by `HParamsLogger`, run as its own process by
`test_dashboard.py`: python plain_run.py LOGDIR NAME OPTIMIZER LEARNING_RATE"""

import sys

import keras
import numpy as np

from keras_bestpractice.hparams import HParamsLogger


def main(logdir, name, optimizer, learning_rate):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)).astype("float32"), rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    opt = keras.optimizers.get({"class_name": optimizer,
                                "config": {"learning_rate": float(learning_rate)}})
    model.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    logger = HParamsLogger(logdir, {"optimizer": optimizer, "learning_rate": float(learning_rate),
                                    "dropout": 0.25}, trial_id=name, judge=False)
    model.fit(x, y, validation_split=0.25, epochs=2, verbose=0, callbacks=[logger])


if __name__ == "__main__":
    main(*sys.argv[1:])
