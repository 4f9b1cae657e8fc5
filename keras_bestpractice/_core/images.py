"""Image input arithmetic for deployment (issue #25): pure NumPy, no TensorFlow.

What the serving path decides without a graph: which raw images it accepts (and the
error that names a bad one), which resize filter a size change calls for, and whether
the images coming in have drifted from the training images' statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The largest value of each integer pixel type; 16-bit images are mapped onto the 8-bit
#: range by dividing by 257 (65535 / 255), so 0 -> 0 and 65535 -> 255 exactly.
PIXEL_MAX = {"uint8": 255, "uint16": 65535}
ACCEPTED_CHANNELS = (1, 2, 3, 4)  # gray, gray + alpha, RGB, RGBA


def interpolation_for(source_hw: Sequence[int], target_hw: Sequence[int]) -> str:
    """`"area"` when the image shrinks to fit `target_hw` (its aspect ratio kept), else
    `"bicubic"`: the handbook's INTER_AREA for shrinking, INTER_CUBIC for enlarging."""
    h, w = (int(v) for v in source_hw)
    th, tw = (int(v) for v in target_hw)
    if h <= 0 or w <= 0 or th <= 0 or tw <= 0:
        raise ValueError(f"image sizes must be positive, got {source_hw} -> {target_hw}")
    return "area" if min(th / h, tw / w) < 1.0 else "bicubic"


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """`image` as an `[H, W, C]` array the serving path accepts, or a `ValueError` /
    `TypeError` naming `name`, what it is and what is allowed.

    Accepted: uint8 or uint16 pixels, or floats in [0, 1] or [0, 255]; 1 (gray), 2 (gray
    and alpha), 3 (RGB) or 4 (RGBA) channels; at least 1 x 1 pixels.
    """
    try:
        arr = np.asarray(image)
    except Exception as exc:  # noqa: BLE001 - anything NumPy cannot read is a type error
        raise TypeError(f"{name}: cannot be read as an array ({exc})") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == bool):
        raise TypeError(f"{name}: dtype {arr.dtype} is not a pixel type; pass uint8, "
                        "uint16 or float pixels.")
    if arr.ndim == 2:
        raise ValueError(f"{name}: a 2-D array of shape {arr.shape}; an image is [height, "
                         "width, channels]: add the channel axis (`image[..., None]` for "
                         "gray).")
    if arr.ndim != 3:
        raise ValueError(f"{name}: a {arr.ndim}-D array of shape {arr.shape}; pass one "
                         "[height, width, channels] image (a list for several).")
    h, w, c = arr.shape
    if h == 0 or w == 0:
        raise ValueError(f"{name}: an empty image of shape {arr.shape}.")
    if c not in ACCEPTED_CHANNELS:
        raise ValueError(f"{name}: {c} channels (shape {arr.shape}); accepted are 1 (gray), "
                         "2 (gray + alpha), 3 (RGB) and 4 (RGBA).")
    if arr.dtype in (np.uint8, np.uint16):
        return arr
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.signedinteger) or \
            np.issubdtype(arr.dtype, np.unsignedinteger):
        raise TypeError(f"{name}: dtype {arr.dtype}; pass uint8 or uint16 pixels, or floats "
                        "in [0, 1] or [0, 255].")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name}: {int((~finite).sum())} pixels are NaN or infinite.")
    low, high = float(arr.min()), float(arr.max())
    if low < 0.0 or high > 255.0:
        raise ValueError(f"{name}: float pixels from {low:g} to {high:g}; accepted are "
                         "floats in [0, 1] or [0, 255].")
    return arr


def to_byte_range(image: np.ndarray) -> np.ndarray:
    """A checked image's pixels as float32 on the 8-bit scale [0, 255] (the transform's
    first step, for code that prepares images without TensorFlow)."""
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(257.0)
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    out = image.astype(np.float32)
    return out * np.float32(255.0) if float(out.max(initial=0.0)) <= 1.0 else out


def pixel_kind(image: np.ndarray) -> str:
    """The pixel type an image is grouped and reported by: "float" for any float width,
    else the integer dtype's name ("uint8", "uint16")."""
    return "float" if np.issubdtype(image.dtype, np.floating) else str(image.dtype)


def float_scale(image: np.ndarray) -> bool | None:
    """For float pixels, whether they are on the [0, 1] scale (the transform reads a float
    batch as [0, 1] when its largest value is at most 1, so images of the two scales
    never share a call); `None` for integer pixels."""
    if not np.issubdtype(image.dtype, np.floating):
        return None
    return bool(image.max(initial=0) <= 1.0)


def batch_key(image: np.ndarray) -> tuple:
    """Images with equal keys can share one call of the transform: same shape, pixel type
    and (floats) scale."""
    return image.shape, pixel_kind(image), float_scale(image)


@dataclass
class ChannelMoments:
    """Count, mean and sum of squared deviations per channel, mergeable (Chan et al.), so
    statistics over any number of images take one pass and constant memory."""

    count: float = 0.0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, count: float, mean: Sequence[float], m2: Sequence[float]) -> None:
        mean, m2 = np.asarray(mean, np.float64), np.asarray(m2, np.float64)
        if count <= 0:
            return
        if self.count == 0:
            self.count, self.mean, self.m2 = float(count), mean.copy(), m2.copy()
            return
        if mean.shape != self.mean.shape:
            raise ValueError(f"moments of {mean.size} channels added to {self.mean.size}")
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * count / total)
        self.count = total

    def add_pixels(self, pixels: np.ndarray) -> None:
        """Add `[..., C]` pixel values."""
        flat = np.asarray(pixels, np.float64).reshape(-1, pixels.shape[-1])
        mean = flat.mean(axis=0)
        self.add(flat.shape[0], mean, ((flat - mean) ** 2).sum(axis=0))

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count) if self.count else np.zeros_like(self.mean)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean.tolist(), "m2": self.m2.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelMoments:
        return cls(float(data["count"]), np.asarray(data["mean"], np.float64),
                   np.asarray(data["m2"], np.float64))


@dataclass(frozen=True)
class Skew:
    """One way the served images differ from the training images, with the numbers."""

    kind: str          # "mean", "std", "channels", "dtype", "range"
    message: str


def skew_between(train: Mapping[str, Any], served: ChannelMoments,
                 served_inputs: Mapping[str, Any], *, mean_band: float = 0.5,
                 std_band: float = 1.5) -> list[Skew]:
    """How the images served so far differ from the training images.

    Args:
        train: the training side, as `ImagePreprocessing` saves it: `mean`, `std` (per
            channel, on the 8-bit scale after resizing), `channels` and `dtypes` (the raw
            inputs' channel counts and pixel types seen in `fit`), `max` (the largest
            raw pixel on the 8-bit scale).
        served: the served images' moments on the same scale.
        served_inputs: `channels` and `dtypes` seen while serving (sets or lists), `max`.
        mean_band: a channel's served mean may differ from the training mean by this many
            training standard deviations. Defaults to `0.5`.
        std_band: a channel's served standard deviation may be this many times larger or
            smaller than the training one. Defaults to `1.5`.
    """
    out: list[Skew] = []
    t_mean = np.asarray(train["mean"], np.float64)
    t_std = np.maximum(np.asarray(train["std"], np.float64), 1e-6)
    if served.count:
        shift = np.abs(served.mean - t_mean) / t_std
        for c in np.nonzero(shift > mean_band)[0]:
            out.append(Skew("mean", (
                f"channel {int(c)}: mean {served.mean[c]:.1f} served vs {t_mean[c]:.1f} in "
                f"training ({shift[c]:.2f} training standard deviations; band "
                f"{mean_band:g})")))
        ratio = np.maximum(served.std, 1e-6) / t_std
        for c in np.nonzero((ratio > std_band) | (ratio < 1 / std_band))[0]:
            out.append(Skew("std", (
                f"channel {int(c)}: standard deviation {served.std[c]:.1f} served vs "
                f"{t_std[c]:.1f} in training ({ratio[c]:.2f}x; band 1/{std_band:g} to "
                f"{std_band:g}x)")))
    new_channels = sorted(set(served_inputs.get("channels", ())) - set(train["channels"]))
    if new_channels:
        out.append(Skew("channels", (
            f"inputs with {new_channels} channels served; training saw "
            f"{sorted(set(train['channels']))}")))
    new_dtypes = sorted(set(served_inputs.get("dtypes", ())) - set(train["dtypes"]))
    if new_dtypes:
        out.append(Skew("dtype", (
            f"pixel types {new_dtypes} served; training saw {sorted(set(train['dtypes']))}")))
    served_max = served_inputs.get("max")
    if served_max is not None and float(train["max"]) > 0 and \
            not 0.5 <= float(served_max) / float(train["max"]) <= 2.0:
        out.append(Skew("range", (
            f"largest served pixel {float(served_max):.1f} (8-bit scale) vs "
            f"{float(train['max']):.1f} in training: another value range (a 16-bit or "
            "[0, 1] source read as 8-bit?)")))
    return out
