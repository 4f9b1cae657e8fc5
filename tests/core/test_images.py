import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_bestpractice._core.images import (
    ChannelMoments,
    check_image,
    interpolation_for,
    skew_between,
    to_byte_range,
)

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(("source", "target", "expected"), [
    ((100, 100), (64, 64), "area"),       # shrinks
    ((32, 32), (64, 64), "bicubic"),      # grows
    ((64, 64), (64, 64), "bicubic"),      # same size: nothing to average
    ((200, 50), (64, 64), "area"),        # portrait: the long side shrinks
    ((40, 20), (64, 64), "bicubic"),      # both sides grow
])
def test_the_filter_follows_the_direction_of_the_resize(source, target, expected):
    assert interpolation_for(source, target) == expected


@pytest.mark.parametrize(("image", "words"), [
    (np.zeros((8, 8), np.uint8), ["2-D", "(8, 8)", "channel axis"]),
    (np.zeros((8, 8, 5), np.uint8), ["5 channels", "1 (gray)"]),
    (np.full((4, 4, 3), 300.0, np.float32), ["0 to 300", "[0, 1] or [0, 255]"]),
    (np.full((4, 4, 3), -0.5, np.float32), ["-0.5"]),
    (np.zeros((0, 4, 3), np.uint8), ["empty"]),
    (np.zeros((2, 4, 4, 3), np.uint8), ["4-D"]),
    (np.zeros((4, 4, 3), np.int32), ["int32"]),
    (np.array([[[np.nan, 0, 0]]], np.float32), ["NaN"]),
])
def test_a_bad_image_gets_an_error_naming_it(image, words):
    with pytest.raises((ValueError, TypeError)) as info:
        check_image(image, "inputs[3]")
    message = str(info.value)
    assert message.startswith("inputs[3]:"), message
    for word in words:
        assert word in message, message


def test_pixels_map_onto_the_8_bit_scale():
    eight = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    np.testing.assert_array_equal(to_byte_range(eight.astype(np.uint16) * 257), eight)
    np.testing.assert_allclose(to_byte_range(eight / np.float32(255)), eight, atol=1e-4)
    np.testing.assert_array_equal(to_byte_range(eight.astype(np.float32)), eight)


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6), seed=st.integers(0, 99))
def test_merged_moments_equal_the_moments_of_all_pixels(sizes, seed):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(100, 30, (n, 3)) for n in sizes]
    moments = ChannelMoments()
    for part in parts:
        moments.add_pixels(part)
    everything = np.concatenate(parts)
    np.testing.assert_allclose(moments.mean, everything.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(moments.std, everything.std(axis=0), rtol=1e-8, atol=1e-9)
    assert moments.count == everything.shape[0]
    again = ChannelMoments.from_dict(moments.to_dict())
    np.testing.assert_array_equal(again.mean, moments.mean)


TRAIN = {"mean": [100.0, 110.0, 120.0], "std": [30.0, 30.0, 30.0], "channels": [3],
         "dtypes": ["uint8"], "max": 255.0}


def served(mean, std):
    m = ChannelMoments()
    m.add(1000, mean, np.square(std) * 1000)
    return m


def test_served_images_like_the_training_images_show_no_skew():
    assert skew_between(TRAIN, served([105, 112, 118], [28, 31, 33]),
                        {"channels": [3], "dtypes": ["uint8"], "max": 250.0}) == []


def test_skew_names_the_channel_and_the_numbers():
    found = skew_between(TRAIN, served([160, 110, 120], [30, 80, 30]),
                         {"channels": [3, 4], "dtypes": ["uint16", "uint8"], "max": 1.0})
    kinds = {s.kind: s.message for s in found}
    assert set(kinds) == {"mean", "std", "channels", "dtype", "range"}
    assert "channel 0: mean 160.0 served vs 100.0" in kinds["mean"]
    assert "2.00 training standard deviations" in kinds["mean"]
    assert "channel 1: standard deviation 80.0 served vs 30.0" in kinds["std"]
    assert "[4]" in kinds["channels"] and "uint16" in kinds["dtype"]


def test_pixel_kind_float_scale_and_the_batch_key():
    # One rule for which images share a call, used by fit and by Predictor.
    from keras_bestpractice._core.images import batch_key, float_scale, pixel_kind

    unit = np.full((4, 4, 3), 0.5, np.float32)
    bytes_scale = np.full((4, 4, 3), 200.0, np.float64)
    assert pixel_kind(unit) == pixel_kind(bytes_scale) == "float"
    assert pixel_kind(np.zeros((4, 4, 3), np.uint16)) == "uint16"
    assert float_scale(unit) is True and float_scale(bytes_scale) is False
    assert float_scale(np.zeros((4, 4, 3), np.uint8)) is None
    assert batch_key(unit) != batch_key(bytes_scale)
    assert batch_key(unit) == batch_key(np.zeros((4, 4, 3), np.float64))
    assert batch_key(unit) != batch_key(np.zeros((4, 4, 1), np.float32))
