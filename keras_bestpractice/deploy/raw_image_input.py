"""`RawImageInput`: the fitted preprocessing as a Keras layer, for `attach` (issue #25)."""

from __future__ import annotations

from typing import Any

import keras

from keras_bestpractice.deploy.image_preprocessing import ImagePreprocessing


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class RawImageInput(keras.layers.Layer):
    """Raw `[batch, H, W, C]` images (one size per batch, any size between batches) to
    the model's input, by `ImagePreprocessing`'s transform; its statistics are part of
    the layer's config, so a `.keras` file of the attached model carries them.

    TensorFlow ops (area resizing has no JAX counterpart in Keras): it needs the
    TensorFlow backend, and says so when it is built on another one.
    """

    def __init__(self, preprocessing: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                f"RawImageInput needs the TensorFlow backend (Keras runs on "
                f"{keras.backend.backend()!r}): its transform is TensorFlow ops. On other "
                "backends serve with export_for_serving + Predictor, or map "
                "ImagePreprocessing over a tf.data pipeline.")
        self.preprocessing = dict(preprocessing)
        self._prep = ImagePreprocessing.from_config(self.preprocessing)
        self.trainable = False

    def call(self, images):
        return self._prep.batch(images)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._prep.image_size, self._prep.channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "preprocessing": self.preprocessing}
