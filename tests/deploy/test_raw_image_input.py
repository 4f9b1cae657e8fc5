"""`attach`: the model behind its transform, as one Keras model (issue #25)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_bestpractice.deploy import ImagePreprocessing, attach


def fitted():
    x = np.random.default_rng(0).integers(0, 256, (8, 20, 30, 3), dtype=np.uint8)
    prep = ImagePreprocessing((16, 16)).fit(x)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    return x, prep, model


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow backend only")
def test_the_attached_model_takes_raw_images_and_saves_its_statistics(tmp_path):
    x, prep, model = fitted()
    attached = attach(model, prep)
    expected = model.predict(prep.batch(x[:2]), verbose=0)
    np.testing.assert_allclose(attached.predict(x[:2], verbose=0), expected, atol=1e-6)
    gray_portrait = np.random.default_rng(1).integers(0, 256, (2, 50, 10, 1), dtype=np.uint8)
    assert attached.predict(gray_portrait, verbose=0).shape == (2, 3)
    attached.save(tmp_path / "raw.keras")
    loaded = keras.saving.load_model(tmp_path / "raw.keras")
    np.testing.assert_allclose(loaded.predict(x[:2], verbose=0), expected, atol=1e-6)
    with pytest.raises(ValueError, match="dtype"):
        attach(model, prep, dtype="int8")
    with pytest.raises(RuntimeError, match="fit"):
        attach(model, ImagePreprocessing((16, 16)))


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="other backends")
def test_attach_says_it_needs_tensorflow_on_another_backend():
    _, prep, model = fitted()
    with pytest.raises(RuntimeError, match="needs the TensorFlow backend.*Predictor"):
        attach(model, prep)
