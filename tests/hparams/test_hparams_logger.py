import copy
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp
from tensorboard.plugins.hparams import plugin_data_pb2

from keras_bestpractice.hparams import HParamsLogger


def hparams_records(directory: Path):
    """The HParams plugin payloads of the event files directly in `directory`."""
    out = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData()
                    data.ParseFromString(value.metadata.plugin_data.content)
                    out.append(data)
    return out


def scalars(directory: Path):
    out = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(
                    float(tf.make_ndarray(value.tensor)))
    return out


def fit_with(callback, epochs=2, poison=False):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((48, 4)).astype("float32"), rng.integers(0, 3, 48)
    if poison:
        x[1, 0] = np.inf
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_split=0.25, epochs=epochs, verbose=0, callbacks=[callback])


def test_plain_fit_session_with_domains_values_scalars_and_status(tmp_path):
    params = {hp.HParam("learning_rate", hp.RealInterval(1e-5, 1e-1)): 1e-3,
              "optimizer": "adam", "dropout": 0.25}
    fit_with(HParamsLogger(tmp_path, params, trial_id="run_a"))
    root = hparams_records(tmp_path)
    experiment = [r for r in root if r.HasField("experiment")][0].experiment
    infos = {h.name: h for h in experiment.hparam_infos}
    assert infos["learning_rate"].domain_interval.max_value == pytest.approx(0.1)
    assert list(infos["optimizer"].domain_discrete.values)[0].string_value == "adam"
    metric_tags = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert ("validation", "epoch_accuracy") in metric_tags
    assert ("train", "epoch_loss") in metric_tags
    session = hparams_records(tmp_path / "run_a")
    start = [r.session_start_info for r in session if r.HasField("session_start_info")][0]
    assert start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["learning_rate"].number_value == pytest.approx(1e-3)
    end = [r.session_end_info for r in session if r.HasField("session_end_info")][0]
    assert end.status == 1  # STATUS_SUCCESS
    values = scalars(tmp_path / "run_a" / "validation")
    assert len(values["epoch_accuracy"]) == 2


def test_failure_status_for_a_nan_run_and_keras_tuner_hyperparameters(tmp_path):
    import keras_tuner as kt

    space = kt.HyperParameters()
    space.Choice("units", [4, 8])
    space.Float("lr", 1e-4, 1e-1, sampling="log")
    fit_with(HParamsLogger(tmp_path, space, metrics=["val_loss"], trial_id="bad"), poison=True)
    infos = {h.name: h for r in hparams_records(tmp_path) if r.HasField("experiment")
             for h in r.experiment.hparam_infos}
    assert infos["lr"].domain_interval.min_value == pytest.approx(1e-4)
    end = [r.session_end_info for r in hparams_records(tmp_path / "bad")
           if r.HasField("session_end_info")][0]
    assert end.status == 2  # STATUS_FAILURE


def test_deepcopy_and_bad_arguments(tmp_path):
    logger = HParamsLogger(tmp_path, {"a": 1})
    clone = copy.deepcopy(logger)
    fit_with(clone, epochs=1)
    assert any(p.is_dir() for p in tmp_path.iterdir())
    with pytest.raises(TypeError, match="hparams"):
        HParamsLogger(tmp_path, [1, 2])
    with pytest.raises(TypeError, match="metrics"):
        HParamsLogger(tmp_path, {"a": 1}, metrics="val_loss")
    with pytest.raises(TypeError, match="logdir"):
        HParamsLogger(None, {"a": 1})
