"""Every use of a library's private API (`keras_bestpractice._internals`), checked against
the installed Keras and KerasTuner: a release that changes one fails here, loudly."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from keras_bestpractice import _internals


def test_fit_starts_at_the_epoch_a_callback_sets_and_clears():
    seen = []

    class StartAt(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            _internals.set_initial_epoch(self.model, 2)

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

        def on_train_end(self, logs=None):
            _internals.set_initial_epoch(self.model, None)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((4, 3), "float32")
    model.fit(x, x[:, :1], epochs=4, verbose=0, callbacks=[StartAt()])
    assert seen == [2, 3]
    seen.clear()
    model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[
        keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [0, 1]  # cleared: the next fit starts at 0 again


@pytest.mark.backend_independent
def test_the_oracle_hash_is_the_key_of_its_tried_values(tmp_path):
    oracle = kt.oracles.RandomSearchOracle(objective="loss", max_trials=1, seed=0)
    oracle._set_project_dir(str(tmp_path), "p")
    hp = kt.HyperParameters()
    hp.Int("units", 1, 4)
    oracle.update_space(hp)
    trial = oracle.create_trial("tuner0")
    key = _internals.values_hash(oracle, trial.hyperparameters.values)
    assert isinstance(key, str) and len(key) == 32
    assert key in oracle.get_state()["tried_so_far"]


@pytest.mark.backend_independent
@pytest.mark.parametrize("hook", _internals.TUNER_HOOKS)
def test_the_tuner_hooks_the_mixin_overrides_still_exist(hook):
    assert callable(getattr(kt.Tuner, hook, None)), f"keras_tuner.Tuner.{hook} is gone"
