"""The training images' preprocessing, fitted once and shipped with the model (issue #25)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._atomic import atomic_write_text
from keras_bestpractice._core.images import (
    ChannelMoments,
    batch_key,
    check_image,
    pixel_kind,
    to_byte_range,
)

NORMALIZE = ("standardize", "rescale", None)
FORMAT = "keras_bestpractice.ImagePreprocessing/1"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImagePreprocessing:
    """Resize, convert and normalise raw images exactly as the training images were.

    The handbook's deployment steps, as one TensorFlow transform used for training (a
    `tf.data` map) and for serving (inside the exported SavedModel), so the two cannot
    drift apart:

    1. pixels to the 8-bit scale: uint8 as is, uint16 divided by 257, floats in [0, 1]
       times 255 (floats in [0, 255] as is);
    2. channels: gray is repeated to RGB, an alpha channel is dropped (or RGB is turned
       to gray for `channels=1`);
    3. pad (black, centred) to the target's aspect ratio so the image is not distorted
       (`keep_aspect_ratio=True`: a portrait or landscape image is padded to a square
       for a square target), then resize to `image_size` with area interpolation when
       that shrinks it and bicubic when it grows (OpenCV's INTER_AREA / INTER_CUBIC);
    4. normalise: `"standardize"` subtracts the per-channel mean and divides by the
       per-channel standard deviation measured on the training images by `fit` (after
       steps 1-3), `"rescale"` divides by 255, `None` keeps [0, 255].

    Args:
        image_size: `(height, width)` the model takes.
        channels: 3 (RGB) or 1 (gray) channels for the model. Defaults to `3`.
        normalize: `"standardize"`, `"rescale"` or `None`. Defaults to `"standardize"`.
        keep_aspect_ratio: pad to the target's aspect ratio before resizing (a circle
            stays round); `False` stretches. Defaults to `True`.

    Example:

    ```python
    prep = ImagePreprocessing((64, 64)).fit(x_train)       # mean/std of the training images
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).map(prep.map_fn())
    model.fit(train.batch(32), epochs=10)
    export_for_serving(model, prep, "served")              # SavedModel + .keras + self-test
    ```

    Raises:
        ValueError / TypeError: for an argument outside what is listed above.
    """

    def __init__(self, image_size: Sequence[int], channels: int = 3,
                 normalize: str | None = "standardize", keep_aspect_ratio: bool = True):
        if isinstance(image_size, (str, bytes)) or not isinstance(image_size, Sequence) \
                or len(image_size) != 2:
            raise TypeError(f"`image_size` must be (height, width), got {image_size!r}.")
        self.image_size = tuple(v.check_int(f"image_size[{i}]", s, minimum=1)
                                for i, s in enumerate(image_size))
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"`channels` must be 1 or 3, got {channels!r}.")
        if normalize not in NORMALIZE:
            raise ValueError(f"`normalize` must be one of {NORMALIZE}, got {normalize!r}.")
        self.channels = int(channels)
        self.normalize = normalize
        self.keep_aspect_ratio = v.check_bool("keep_aspect_ratio", keep_aspect_ratio)
        self.moments: ChannelMoments | None = None
        self.seen: dict[str, Any] = {"channels": [], "dtypes": [], "max": 0.0, "images": 0}

    # ------------------------------------------------------------------ fitting
    def fit(self, images: Any, batch_size: int = 64) -> ImagePreprocessing:
        """Measure the training images: per-channel mean and standard deviation after
        resizing (what `"standardize"` uses), and the pixel types, channel counts and
        value range the skew check compares served images with. One pass, constant
        memory. `images`: an `[N, H, W, C]` array, or an iterable of `[H, W, C]` images
        of any sizes (arrays or image files). Returns `self`."""
        import tensorflow as tf

        batch_size = v.check_int("batch_size", batch_size, minimum=1)
        moments = ChannelMoments()
        seen = {"channels": set(), "dtypes": set(), "max": 0.0, "images": 0}
        for group in _groups(images, batch_size):
            first = group[0]
            for image in group:
                seen["channels"].add(int(image.shape[-1]))
                seen["dtypes"].add(pixel_kind(image))
                seen["max"] = max(seen["max"], float(to_byte_range(image).max()))
            # One graph call for a group of one shape, pixel type and (floats) scale.
            batch = tf.convert_to_tensor(np.stack(group)) if all(
                g.dtype == first.dtype and batch_key(g) == batch_key(first)
                for g in group) else None
            resized = (self._resize_batch(batch) if batch is not None else
                       tf.stack([self._resize_one(tf.convert_to_tensor(g)) for g in group]))
            moments.add_pixels(resized.numpy())
            seen["images"] += len(group)
        if not seen["images"]:
            raise ValueError("`images` holds no image to fit on.")
        self.moments = moments
        self.seen = {"channels": sorted(seen["channels"]), "dtypes": sorted(seen["dtypes"]),
                     "max": seen["max"], "images": seen["images"]}
        return self

    @property
    def fitted(self) -> bool:
        return self.moments is not None

    @property
    def mean(self) -> np.ndarray:
        """Per-channel mean of the training images on the 8-bit scale, after resizing."""
        self._require_fit("mean")
        return self.moments.mean.astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        """Per-channel standard deviation (floored at 1e-3) of the training images."""
        self._require_fit("std")
        return np.maximum(self.moments.std, 1e-3).astype(np.float32)

    def _require_fit(self, what: str) -> None:
        if self.moments is None:
            raise RuntimeError(f"ImagePreprocessing.{what}: call `fit(x_train)` first (the "
                               "statistics come from the training images).")

    # --------------------------------------------------------------- transforms
    def __call__(self, image: Any) -> Any:
        """The model input for one raw `[H, W, C]` image tensor (any size, uint8 / uint16
        / float pixels, 1-4 channels): a float32 `[height, width, channels]` tensor. Pure
        TensorFlow: usable in `tf.data.Dataset.map` and inside a SavedModel."""
        return self._normalize(self._resize_one(image))

    def batch(self, images: Any) -> Any:
        """The model inputs for a `[B, H, W, C]` batch of same-size raw images."""
        return self._normalize(self._resize_batch(images))

    def map_fn(self, batched: bool = False):
        """A function for `tf.data.Dataset.map` over `(image, label)` pairs (or images)
        of single images; with `batched=True`, over batches of same-size images, e.g.
        `stratified_dataset(x_raw, y, 32, augment=prep.map_fn(batched=True))`."""
        transform = self.batch if batched else self

        def fn(image, *rest):
            out = transform(image)
            return (out, *rest) if rest else out
        return fn

    def decode(self, data: Any) -> Any:
        """Float pixels on the 8-bit scale from encoded PNG / JPEG / BMP / GIF bytes (a
        scalar string tensor); a 16-bit PNG keeps its 16 bits until it is divided by 257."""
        return decode_to_byte_scale(data)

    def _float(self, image):
        import tensorflow as tf

        image = tf.convert_to_tensor(image)
        if image.dtype == tf.uint16:
            return tf.cast(image, tf.float32) / 257.0
        if image.dtype == tf.uint8:
            return tf.cast(image, tf.float32)
        x = tf.cast(image, tf.float32)
        return tf.cond(tf.reduce_max(x) <= 1.0, lambda: x * 255.0, lambda: x)

    def _rgb(self, x):
        """`[..., H, W, C]` floats with C in 1..4 to `self.channels` channels."""
        import tensorflow as tf

        c = tf.shape(x)[-1]
        first = x[..., :1]
        rgb = tf.case([
            (tf.equal(c, 1), lambda: tf.concat([first, first, first], axis=-1)),
            (tf.equal(c, 2), lambda: tf.concat([first, first, first], axis=-1)),
            (tf.equal(c, 4), lambda: x[..., :3]),
        ], default=lambda: x[..., :3])
        if self.channels == 1:
            return tf.image.rgb_to_grayscale(rgb)
        return rgb

    def _resize(self, x):
        """Resize `[B, H, W, C]` (one size) to the target: first padded (black, centred)
        to the target's aspect ratio in integer pixels, then resized with area
        interpolation when that shrinks it and bicubic when it grows; clipped to
        [0, 255]. (Not `tf.image.resize_with_pad`: traced with unknown height and width
        it places and sizes the image differently than with known ones, so a SavedModel
        and a `tf.data` map would disagree.)"""
        import tensorflow as tf

        th, tw = self.image_size
        shape = tf.shape(x)
        h, w = shape[1], shape[2]
        if self.keep_aspect_ratio:
            # Too wide: add rows up to ceil(w * th / tw); too tall: columns.
            full_h = tf.maximum(h, (w * th + tw - 1) // tw)
            full_w = tf.maximum(w, (h * tw + th - 1) // th)
            top, left = (full_h - h) // 2, (full_w - w) // 2
            x = tf.pad(x, [[0, 0], [top, full_h - h - top], [left, full_w - w - left],
                           [0, 0]])
            h, w = full_h, full_w
        shrinks = tf.logical_or(h > th, w > tw)
        out = tf.cond(shrinks, lambda: tf.image.resize(x, (th, tw), method="area"),
                      lambda: tf.image.resize(x, (th, tw), method="bicubic"))
        return tf.ensure_shape(tf.clip_by_value(out, 0.0, 255.0), [None, th, tw, self.channels])

    def _resize_one(self, image):
        return self._resize(self._rgb(self._float(image))[None])[0]

    def _resize_batch(self, images):
        return self._resize(self._rgb(self._float(images)))

    def _normalize(self, x):
        if self.normalize == "rescale":
            return x / 255.0
        if self.normalize == "standardize":
            return (x - self.mean) / self.std
        return x

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Everything the transform needs, as JSON-able data (statistics included)."""
        return {"format": FORMAT, "image_size": list(self.image_size),
                "channels": self.channels, "normalize": self.normalize,
                "keep_aspect_ratio": self.keep_aspect_ratio,
                "moments": None if self.moments is None else self.moments.to_dict(),
                "seen": self.seen}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImagePreprocessing:
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ValueError(f"not an ImagePreprocessing config (format "
                             f"{config.get('format') if isinstance(config, dict) else None!r},"
                             f" expected {FORMAT!r}).")
        out = cls(config["image_size"], config["channels"], config["normalize"],
                  config["keep_aspect_ratio"])
        if config.get("moments") is not None:
            out.moments = ChannelMoments.from_dict(config["moments"])
        out.seen = dict(config.get("seen") or out.seen)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the config as JSON (atomically); returns the path."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.get_config(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ImagePreprocessing:
        return cls.from_config(json.loads(Path(path).read_text()))

    def training_side(self) -> dict[str, Any]:
        """What the skew check compares served images with."""
        self._require_fit("training_side")
        return {"mean": self.moments.mean.tolist(), "std": self.moments.std.tolist(),
                "channels": self.seen["channels"], "dtypes": self.seen["dtypes"],
                "max": self.seen["max"]}

    def __repr__(self) -> str:
        stats = ("not fitted" if self.moments is None else
                 f"mean={[round(float(m), 1) for m in self.mean]}, "
                 f"std={[round(float(s), 1) for s in self.std]}"
                 f" over {self.seen['images']} images")
        return (f"ImagePreprocessing(image_size={self.image_size}, channels={self.channels}, "
                f"normalize={self.normalize!r}, {stats})")


def _groups(images: Any, size: int) -> Iterable[list[np.ndarray]]:
    """Checked `[H, W, C]` arrays in lists of up to `size` (file paths are decoded)."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        for start in range(0, images.shape[0], size):
            yield [check_image(img, f"images[{start + i}]")
                   for i, img in enumerate(images[start:start + size])]
        return
    if isinstance(images, (str, bytes, os.PathLike, np.ndarray)):
        raise TypeError("`images` must be an [N, H, W, C] array or an iterable of images, "
                        f"got {type(images).__name__}"
                        + (f" of shape {images.shape}" if isinstance(images, np.ndarray)
                           else "") + ".")
    group: list[np.ndarray] = []
    for i, item in enumerate(images):
        group.append(read_image(item, f"images[{i}]"))
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def read_image(item: Any, name: str) -> np.ndarray:
    """A checked `[H, W, C]` array from an array, a file path or encoded bytes."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{name}: {str(path)!r} cannot be read ({exc}).") from exc
        return decode_bytes(data, f"{name} ({str(path)!r})")
    if isinstance(item, (bytes, bytearray)):
        return decode_bytes(bytes(item), name)
    return check_image(item, name)


def decode_bytes(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes as a checked `[H, W, C]` array (uint16 for a 16-bit PNG, else
    uint8), or a `ValueError` naming `name`."""
    import tensorflow as tf

    if not data:
        raise ValueError(f"{name}: an empty file (0 bytes), not an image.")
    try:
        image = tf.io.decode_image(data, channels=0, expand_animations=False,
                                   dtype=tf.uint16 if is_16bit_png(data) else tf.uint8)
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        raise ValueError(f"{name}: not a readable PNG, JPEG, BMP or GIF image "
                         f"({str(exc).splitlines()[0][:120]}).") from exc
    return check_image(image.numpy(), name)


def is_16bit_png(data: bytes) -> bool:
    """A PNG with 16 bits per channel (the bit depth in its IHDR chunk, byte 24)."""
    return data[:8] == PNG_SIGNATURE and len(data) > 24 and data[24] == 16


def decode_to_byte_scale(data: Any) -> Any:
    """Graph version of `decode_bytes` then `to_byte_range`: float32 `[H, W, C]` on the
    8-bit scale from one scalar string tensor. A 16-bit PNG is decoded as uint16 and
    divided by 257; everything else as uint8 (TensorFlow widens 8-bit JPEGs to 16 bits
    by x * 256 but 8-bit PNGs by x * 257, so decoding all as uint16 would not agree)."""
    import tensorflow as tf

    deep = tf.logical_and(
        tf.equal(tf.strings.substr(data, 0, 8), PNG_SIGNATURE),
        tf.equal(tf.strings.substr(data, 24, 1), b"\x10"))
    return tf.cond(
        deep,
        lambda: tf.cast(tf.io.decode_png(data, channels=0, dtype=tf.uint16), tf.float32)
        / 257.0,
        lambda: tf.cast(tf.io.decode_image(data, channels=0, dtype=tf.uint8,
                                           expand_animations=False), tf.float32))
