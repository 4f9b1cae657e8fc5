"""Export a trained model with its preprocessing, as one self-checking directory (issue #25).

Layout of `<path>/`:

- `saved_model/`: a TensorFlow SavedModel that takes raw images and needs neither Keras
  nor keras_bestpractice to run; `loaded.preprocessing_json` holds the preprocessing
  config with the training statistics. Signatures (each returns `predictions`, and per image
  `channel_mean` / `channel_std` of the resized image on the 8-bit scale, `input_channels`,
  `input_max` for the skew check):
  `serving_default` (a `[None]` string tensor of encoded PNG / JPEG / BMP / GIF bytes, any
  sizes mixed), `serve_uint8`, `serve_uint16`, `serve_float` (`[batch, H, W, C]` tensors of
  one size).
- `model.keras`: the trained model (`keras.saving.load_model`), without preprocessing.
- `preprocessing.json`: the `ImagePreprocessing` config with the training statistics.
- `reference.npz`: a few raw reference images and the outputs the training path gave for
  them; loading re-runs them and refuses to serve on a difference (`DeploymentCheckError`).
- `manifest.json`: format, versions, input size, signatures; written last.

The directory is built under a temporary name and renamed into place: a reader sees a
whole export or none.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice._atomic import commit_dir
from keras_bestpractice.checkpointing.store import versions
from keras_bestpractice.deploy.image_preprocessing import (
    ImagePreprocessing,
    decode_to_byte_scale,
    read_image,
)

FORMAT = "keras_bestpractice.export/1"
SAVED_MODEL = "saved_model"
KERAS_FILE = "model.keras"
PREPROCESSING = "preprocessing.json"
REFERENCE = "reference.npz"
MANIFEST = "manifest.json"
SIGNATURES = ("serving_default", "serve_uint8", "serve_uint16", "serve_float")
#: Largest difference between the stored reference outputs and a re-run that still passes.
TOLERANCE = 1e-4


class DeploymentCheckError(RuntimeError):
    """An exported model gives other outputs on its reference images than when it was
    exported (a changed library, a wrong or damaged file): it must not serve."""


def default_reference_images() -> list[np.ndarray]:
    """Deterministic raw images of the kinds served: a landscape RGB and a portrait gray
    uint8, a square RGBA uint16, and a small float image (it is enlarged)."""
    rng = np.random.default_rng(25)
    yy, xx = np.mgrid[0:48, 0:80]
    landscape = np.stack([xx * 3, yy * 5, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    portrait = rng.integers(0, 256, (90, 30, 1), dtype=np.uint8)
    rgba = rng.integers(0, 65536, (40, 40, 4), dtype=np.uint16)
    small = rng.random((7, 9, 3)).astype(np.float32)
    return [landscape, portrait, rgba, small]


def export_for_serving(model: Any, preprocessing: ImagePreprocessing, path: str | os.PathLike,
                       reference_images: list[Any] | None = None,
                       overwrite: bool = False) -> Path:
    """Write `model` and `preprocessing` as a serving directory (layout in the module doc).

    Args:
        model: a built single-output Keras model whose input is `preprocessing`'s output
            (`(height, width, channels)`). Any backend: on JAX the model is converted by
            Keras's own `model.export`.
        preprocessing: the fitted `ImagePreprocessing` used for training.
        path: the directory to create.
        reference_images: raw images (arrays, paths or bytes) whose outputs are stored and
            re-checked on every load. Defaults to `default_reference_images()`.
        overwrite: replace an existing export at `path`. Defaults to `False`.

    Returns:
        The export directory.

    Raises:
        TypeError / ValueError: a model that is not a built Keras model, has several
            outputs or another input shape; an unfitted standardising preprocessing; an
            existing `path` without `overwrite=True`; a bad reference image.
        DeploymentCheckError: the SavedModel does not reproduce the training path's
            outputs on the reference images (nothing is written then).

    Example:

    ```python
    export_for_serving(model, prep, "served")
    Predictor("served").predict(["cat.png", "dog.jpg"])
    ```
    """
    import keras
    import tensorflow as tf

    if not isinstance(preprocessing, ImagePreprocessing):
        raise TypeError("`preprocessing` must be an ImagePreprocessing, got "
                        f"{type(preprocessing).__name__}.")
    if preprocessing.normalize == "standardize" and not preprocessing.fitted:
        raise ValueError("`preprocessing` standardises but was not fitted: call "
                         "`preprocessing.fit(x_train)` first.")
    if not isinstance(model, keras.Model) or not model.built or not getattr(model, "inputs",
                                                                            None):
        raise TypeError("`model` must be a built Keras model with a known input (a "
                        f"Functional or Sequential model with `keras.Input`), got "
                        f"{type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"`model` has {len(model.inputs)} inputs and {len(model.outputs)} "
                         "outputs; export_for_serving serves one image input and one output.")
    expected = (*preprocessing.image_size, preprocessing.channels)
    got = tuple(model.inputs[0].shape[1:])
    if got != expected:
        raise ValueError(f"`model` takes inputs of shape {got} but `preprocessing` makes "
                         f"{expected}: build them for the same image size and channels.")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(f"`path`={str(path)!r} exists; pass overwrite=True to replace it.")
    references = [read_image(img, f"reference_images[{i}]") for i, img in
                  enumerate(default_reference_images() if reference_images is None
                            else reference_images)]
    if not references:
        raise ValueError("`reference_images` is empty; pass at least one image.")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        model.save(tmp / KERAS_FILE)
        preprocessing.save(tmp / PREPROCESSING)
        inner_dir = tmp / "_model_only"
        model.export(str(inner_dir), format="tf_saved_model", verbose=False)
        module = _serving_module(tf.saved_model.load(str(inner_dir)), preprocessing)
        signatures = {name: getattr(module, name).get_concrete_function()
                      for name in SIGNATURES}
        # Serving needs no gradients; JAX models exported through jax2tf carry custom
        # gradients that cannot be saved again.
        tf.saved_model.save(module, str(tmp / SAVED_MODEL), signatures=signatures,
                            options=tf.saved_model.SaveOptions(
                                experimental_custom_gradients=False))
        shutil.rmtree(inner_dir)

        # The training path's answers: the same transform, the Keras model itself.
        expected_out = [np.asarray(model.predict(
            preprocessing.batch(tf.convert_to_tensor(img[None])), verbose=0))[0]
            for img in references]
        served = tf.saved_model.load(str(tmp / SAVED_MODEL))
        got_out = [run_array_signature(served, img)["predictions"][0] for img in references]
        worst = max(float(np.max(np.abs(a - b))) for a, b in zip(expected_out, got_out,
                                                                 strict=True))
        if worst > TOLERANCE:
            raise DeploymentCheckError(
                f"the exported SavedModel differs from the Keras model by up to {worst:.3g} "
                f"on the reference images (tolerance {TOLERANCE:g}); nothing was written.")
        np.savez(tmp / REFERENCE, **{f"image_{i}": img for i, img in enumerate(references)},
                 **{f"output_{i}": out for i, out in enumerate(got_out)})
        manifest = {
            "format": FORMAT, "created": time.time(), "image_size": list(expected[:2]),
            "channels": expected[2], "signatures": list(SIGNATURES),
            "references": len(references), "tolerance": TOLERANCE,
            "export_difference": worst, "versions": versions(),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        commit_dir(tmp, path, path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _serving_module(inner: Any, prep: ImagePreprocessing) -> Any:
    """A `tf.Module` whose functions take raw images, preprocess them and call `inner`
    (the model's own SavedModel endpoint `serve`)."""
    import tensorflow as tf

    th, tw = prep.image_size
    c = prep.channels
    resized_spec = tf.TensorSpec([th, tw, c], tf.float32)

    def finish(resized, channels, largest):
        predictions = inner.serve(prep._normalize(resized))
        mean = tf.reduce_mean(resized, axis=[1, 2])
        std = tf.math.reduce_std(resized, axis=[1, 2])
        return {"predictions": predictions, "channel_mean": mean, "channel_std": std,
                "input_channels": channels, "input_max": largest}

    def raw_batch(images):
        x = prep._float(images)
        count = tf.shape(images)[0]
        channels = tf.fill([count], tf.shape(images)[-1])
        return finish(prep._resize(prep._rgb(x)), channels, tf.reduce_max(x, axis=[1, 2, 3]))

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            # The spec and the training statistics, inside the SavedModel itself.
            self.preprocessing_json = tf.Variable(json.dumps(prep.get_config()),
                                                  trainable=False, name="preprocessing")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
        def serving_default(self, images):
            def one(data):
                x = decode_to_byte_scale(data)
                return (prep._resize(prep._rgb(x)[None])[0], tf.shape(x)[-1],
                        tf.reduce_max(x))
            resized, channels, largest = tf.map_fn(
                one, images, fn_output_signature=(resized_spec, tf.int32, tf.float32))
            return finish(resized, channels, largest)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.uint8,
                                                    name="images")])
        def serve_uint8(self, images):
            return raw_batch(images)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.uint16,
                                                    name="images")])
        def serve_uint16(self, images):
            return raw_batch(images)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32,
                                                    name="images")])
        def serve_float(self, images):
            return raw_batch(images)

    return Serving()


def run_array_signature(served: Any, image: np.ndarray) -> dict[str, np.ndarray]:
    """Run one checked `[H, W, C]` image (or a `[B, H, W, C]` batch of one size) through
    the signature for its pixel type; outputs as NumPy."""
    batch = image if image.ndim == 4 else image[None]
    if batch.dtype == np.uint8:
        fn = served.signatures["serve_uint8"]
    elif batch.dtype == np.uint16:
        fn = served.signatures["serve_uint16"]
    else:
        fn = served.signatures["serve_float"]
        batch = batch.astype(np.float32)
    return {k: t.numpy() for k, t in fn(images=batch).items()}
