"""Serve an exported model: load once, predict on files, bytes or arrays, watch for skew."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._core.images import (
    ChannelMoments,
    Skew,
    batch_key,
    check_image,
    skew_between,
)
from keras_bestpractice._warnings import warn
from keras_bestpractice.deploy.export import (
    FORMAT,
    MANIFEST,
    PREPROCESSING,
    REFERENCE,
    SAVED_MODEL,
    DeploymentCheckError,
    run_array_signature,
)
from keras_bestpractice.deploy.image_preprocessing import is_16bit_png


class Predictor:
    """A model exported by `export_for_serving`, loaded once, serving raw images.

    On load it re-runs the export's reference images and refuses to serve when an output
    differs by more than the export's tolerance (`DeploymentCheckError`: a changed
    library, a wrong or damaged file). `predict` takes image files, encoded bytes and
    `[H, W, C]` arrays of any sizes, pixel types (uint8, uint16, floats) and channel counts
    (gray, RGB, RGBA), mixed in one call, and keeps running statistics of what it served:
    once `skew_after` images have been served it warns (`KerasBestPracticeWarning`), with
    the numbers, when they differ from the training images: a channel mean outside
    `mean_band` training standard deviations, a standard deviation outside `std_band`
    times the training one, channel counts, pixel types or a value range training never
    saw (TensorFlow Data Validation's training/serving skew, for images).

    Args:
        path: the export directory.
        batch_size: images per call of the SavedModel. Defaults to `32`.
        skew_after: images served before the skew check speaks. Defaults to `32`.
        mean_band: allowed mean shift, in training standard deviations. Defaults to `0.5`.
        std_band: allowed ratio of standard deviations. Defaults to `1.5`.
        check: re-run the reference images on load. Defaults to `True`.

    Example:

    ```python
    predictor = Predictor("served")
    probabilities = predictor.predict(["a.png", "b.jpg", np.zeros((300, 200, 3), "uint8")])
    predictor.skew()          # [] while served images look like the training images
    ```
    """

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 32, skew_after: int = 32,
                 mean_band: float = 0.5, std_band: float = 1.5, check: bool = True):
        import tensorflow as tf

        path = v.check_dir_path("path", path, must_exist=True)
        self.batch_size = v.check_int("batch_size", batch_size, minimum=1)
        self.skew_after = v.check_int("skew_after", skew_after, minimum=1)
        self.mean_band = v.check_float("mean_band", mean_band, low=0, low_inclusive=False)
        self.std_band = v.check_float("std_band", std_band, low=1, low_inclusive=False)
        try:
            self.manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"`path`={str(path)!r} is not an export of export_for_serving "
                             f"({MANIFEST} cannot be read: {exc}).") from exc
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise ValueError(f"`path`={str(path)!r}: {MANIFEST} is not format {FORMAT!r}.")
        self.path = path
        self.preprocessing = json.loads((path / PREPROCESSING).read_text())
        self._served = tf.saved_model.load(str(path / SAVED_MODEL))
        self._bytes_fn = self._served.signatures["serving_default"]
        self.served_images = 0
        self._moments = ChannelMoments()
        self._inputs: dict[str, Any] = {"channels": set(), "dtypes": set(), "max": 0.0}
        self._warned: set[tuple[str, str]] = set()
        if check:
            self.self_test()

    # ---------------------------------------------------------------- checking
    def self_test(self) -> float:
        """Re-run the reference images; returns the largest difference, or raises
        `DeploymentCheckError` above the export's tolerance."""
        with np.load(self.path / REFERENCE) as data:
            count = int(self.manifest["references"])
            worst = 0.0
            for i in range(count):
                got = run_array_signature(self._served, data[f"image_{i}"])["predictions"][0]
                worst = max(worst, float(np.max(np.abs(got - data[f"output_{i}"]))))
        tolerance = float(self.manifest["tolerance"])
        if not worst <= tolerance:
            raise DeploymentCheckError(
                f"{str(self.path)!r} gives outputs up to {worst:.3g} away from those stored "
                f"at export on its {count} reference images (tolerance {tolerance:g}): a "
                "changed library or a wrong or damaged file. Not serving it.")
        return worst

    # -------------------------------------------------------------- predicting
    def predict(self, inputs: Any) -> np.ndarray:
        """Predictions for one input or a list of them, in order: file paths, encoded
        image bytes, `[H, W, C]` arrays or an `[N, H, W, C]` array (sizes, pixel types and
        channel counts may differ between images).

        Raises:
            ValueError / TypeError: naming the input that is not an image (a missing,
                empty or corrupt file, a 2-D array, 5 channels, floats outside [0, 1] and
                [0, 255]); nothing is served from a call with a bad input.
        """
        items = self._items(inputs)
        encoded: list[tuple[int, bytes]] = []
        arrays: list[tuple[int, np.ndarray]] = []
        for i, (name, item) in enumerate(items):
            if isinstance(item, bytes):
                if not item:
                    raise ValueError(f"{name}: an empty file (0 bytes), not an image.")
                encoded.append((i, item))
            else:
                arrays.append((i, check_image(item, name)))
        results: list[dict[str, np.ndarray] | None] = [None] * len(items)
        for start in range(0, len(encoded), self.batch_size):
            chunk = encoded[start:start + self.batch_size]
            out = self._run_bytes([data for _, data in chunk], [items[i][0] for i, _ in chunk])
            for row, (i, _) in enumerate(chunk):
                results[i] = {k: val[row] for k, val in out.items()}
        for key, group in _same_shape_groups(arrays).items():
            for start in range(0, len(group), self.batch_size):
                chunk = group[start:start + self.batch_size]
                out = run_array_signature(self._served, np.stack([a for _, a in chunk]))
                for row, (i, _) in enumerate(chunk):
                    results[i] = {k: val[row] for k, val in out.items()}
                    results[i]["dtype"] = key[1]
        for i, (_, item) in enumerate(items):
            if isinstance(item, bytes):
                results[i]["dtype"] = "uint16" if results[i].pop("_16bit") else "uint8"
        self._observe(results)
        return np.stack([r["predictions"] for r in results]) if results else np.zeros((0,))

    def _items(self, inputs: Any) -> list[tuple[str, Any]]:
        if isinstance(inputs, np.ndarray) and inputs.ndim == 4:
            return [(f"inputs[{i}]", img) for i, img in enumerate(inputs)]
        single = isinstance(inputs, (str, bytes, bytearray, os.PathLike, np.ndarray))
        seq = [inputs] if single else inputs
        if not isinstance(seq, Sequence) and not hasattr(seq, "__iter__"):
            raise TypeError(f"`inputs` must be an image, a path, bytes or a list of them, got "
                            f"{type(inputs).__name__}.")
        out = []
        for i, item in enumerate(seq):
            name = "inputs" if single else f"inputs[{i}]"
            if isinstance(item, (str, os.PathLike)):
                p = Path(item)
                try:
                    out.append((f"{name} ({str(p)!r})", p.read_bytes()))
                except OSError as exc:
                    raise ValueError(f"{name}: {str(p)!r} cannot be read ({exc}).") from exc
            elif isinstance(item, (bytes, bytearray)):
                out.append((name, bytes(item)))
            else:
                out.append((name, item))
        return out

    def _run_bytes(self, data: list[bytes], names: list[str]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        try:
            out = {k: t.numpy() for k, t in self._bytes_fn(images=tf.constant(data)).items()}
        except tf.errors.InvalidArgumentError:
            # Name the image that failed: decode each one alone.
            from keras_bestpractice.deploy.image_preprocessing import decode_bytes

            for item, name in zip(data, names, strict=True):
                decode_bytes(item, name)
            raise
        out["_16bit"] = np.array([is_16bit_png(item) for item in data])
        return out

    # -------------------------------------------------------------------- skew
    def _observe(self, results: list[dict[str, np.ndarray]]) -> None:
        if not results:
            return
        h, w = self.manifest["image_size"]
        pixels = float(h * w)
        means = np.stack([r["channel_mean"] for r in results]).astype(np.float64)
        variances = np.square(np.stack([r["channel_std"] for r in results]).astype(np.float64))
        # The call's images as one group of moments (within-image plus between-image).
        centre = means.mean(axis=0)
        self._moments.add(pixels * len(results), centre,
                          pixels * (variances.sum(axis=0) + np.square(means - centre).sum(0)))
        self._inputs["channels"].update(int(r["input_channels"]) for r in results)
        self._inputs["dtypes"].update(str(r["dtype"]) for r in results)
        self._inputs["max"] = max(self._inputs["max"],
                                  max(float(r["input_max"]) for r in results))
        self.served_images += len(results)
        if self.served_images < self.skew_after:
            return
        new = []
        for skew in self.skew():
            key = (skew.kind, skew.message.split(":")[0])
            if key not in self._warned:
                self._warned.add(key)
                new.append(skew.message)
        if new:  # one warning per call, each difference once per Predictor
            warn(f"Predictor({str(self.path)!r}): after {self.served_images} images, the "
                 f"served images differ from the training images: {'; '.join(new)}.",
                 stacklevel=3)

    def skew(self) -> list[Skew]:
        """How the images served so far differ from the training images (empty when they
        do not, or when there are no training statistics to compare with)."""
        moments = (self.preprocessing or {}).get("moments")
        seen = (self.preprocessing or {}).get("seen") or {}
        if not moments:
            return []
        train = ChannelMoments.from_dict(moments)
        return skew_between(
            {"mean": train.mean, "std": train.std, "channels": seen.get("channels", []),
             "dtypes": seen.get("dtypes", []), "max": seen.get("max", 0.0)},
            self._moments, {**self._inputs, "channels": sorted(self._inputs["channels"]),
                            "dtypes": sorted(self._inputs["dtypes"])},
            mean_band=self.mean_band, std_band=self.std_band)

    def __repr__(self) -> str:
        return (f"Predictor({str(self.path)!r}, image_size={tuple(self.manifest['image_size'])},"
                f" served {self.served_images} images)")


def _same_shape_groups(arrays: list[tuple[int, np.ndarray]]) -> dict[tuple, list]:
    """Images that can share one SavedModel call: same shape and pixel type, and for floats
    the same scale (the graph reads a float batch as [0, 1] when its largest value is at
    most 1, so a [0, 1] and a [0, 255] image must not share a batch)."""
    groups: dict[tuple, list] = {}
    for i, arr in arrays:
        groups.setdefault(batch_key(arr), []).append((i, arr))
    return groups
