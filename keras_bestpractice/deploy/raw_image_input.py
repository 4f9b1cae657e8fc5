"""`RawImageInput`: the fitted preprocessing as a Keras layer, and `attach` (issue #25)."""

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


def attach(model: Any, preprocessing: ImagePreprocessing, dtype: str = "uint8") -> Any:
    """`model` behind `preprocessing`: one Keras model that takes a batch of raw images
    (`dtype` pixels, 1-4 channels, any height and width, one size per batch) and returns
    `model`'s predictions. Its `.keras` file carries the statistics (the `RawImageInput`
    layer's config; import `RawImageInput` before `keras.saving.load_model`). TensorFlow
    backend only; `export_for_serving` serves on every backend and needs nothing of ours
    to run.

    Raises:
        RuntimeError: on another Keras backend than TensorFlow, or before `fit` when the
            transform standardises.
        TypeError / ValueError: `preprocessing` not an `ImagePreprocessing`; `dtype` not
            uint8, uint16 or float32.

    Example:

    ```python
    raw_model = attach(model, prep)
    raw_model.predict(uint8_images_of_any_size)
    ```
    """
    if not isinstance(preprocessing, ImagePreprocessing):
        raise TypeError("`preprocessing` must be an ImagePreprocessing, got "
                        f"{type(preprocessing).__name__}.")
    if dtype not in ("uint8", "uint16", "float32"):
        raise ValueError(f"`dtype` must be 'uint8', 'uint16' or 'float32', got {dtype!r}.")
    if preprocessing.normalize == "standardize" and not preprocessing.fitted:
        raise RuntimeError("attach: call `preprocessing.fit(x_train)` first (the statistics "
                           "come from the training images).")
    raw = keras.Input((None, None, None), dtype=dtype, name="raw_images")
    return keras.Model(raw, model(RawImageInput(preprocessing.get_config())(raw)),
                       name=f"{model.name}_raw_images")
