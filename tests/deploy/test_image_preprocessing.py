"""The preprocessing transform on generated images of every kind (issue #25)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_bestpractice.deploy import ImagePreprocessing
from keras_bestpractice.deploy.image_preprocessing import decode_bytes, read_image

# TensorFlow ops whatever the Keras backend: runs once, on the TensorFlow pass.
pytestmark = pytest.mark.backend_independent


def circle(height, width, radius, value=255):
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (yy - height / 2 + 0.5) ** 2 + (xx - width / 2 + 0.5) ** 2 <= radius ** 2
    return np.repeat((inside * value).astype(np.uint8)[..., None], 3, axis=-1)


def extent(mask):
    rows, cols = np.nonzero(mask)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("shape", [(60, 150), (150, 60)])  # landscape, portrait
def test_padding_keeps_a_circle_round(shape):
    prep = ImagePreprocessing((64, 64), normalize=None)
    out = prep(circle(*shape, radius=25)).numpy()
    tall, wide = extent(out[..., 0] > 127)
    assert abs(tall - wide) <= 1, (tall, wide)
    assert 20 <= tall <= 23  # 50 px scaled by 64/150
    stretched = ImagePreprocessing((64, 64), normalize=None, keep_aspect_ratio=False)
    tall, wide = extent(stretched(circle(*shape, radius=25)).numpy()[..., 0] > 127)
    assert abs(tall - wide) > 10  # without padding the circle becomes an ellipse


@pytest.mark.parametrize(("size", "method"), [((96, 80), "area"), ((24, 20), "bicubic")])
def test_area_when_shrinking_bicubic_when_enlarging(size, method):
    # The target's aspect ratio (48:40): nothing to pad, only the filter differs.
    image = np.random.default_rng(0).integers(0, 256, (*size, 3), dtype=np.uint8)
    out = ImagePreprocessing((48, 40), normalize=None)(image).numpy()
    expected = tf.clip_by_value(tf.image.resize(
        tf.cast(image[None], tf.float32), (48, 40), method=method), 0, 255)[0].numpy()
    np.testing.assert_array_equal(out, expected)
    other = "bicubic" if method == "area" else "area"
    wrong = tf.image.resize(tf.cast(image[None], tf.float32), (48, 40), method=other)
    assert np.abs(out - wrong[0].numpy()).max() > 1.0


@pytest.mark.parametrize("shape", [(48, 80, 3), (30, 70, 3), (90, 30, 1), (7, 9, 4)])
def test_a_graph_with_unknown_sizes_gives_what_eager_gives(shape):
    # `tf.image.resize_with_pad` traced with unknown height and width placed a 48x80 image
    # differently than eagerly (up to 247 apart): a SavedModel and a tf.data map with
    # known shapes would have disagreed.
    image = np.random.default_rng(4).integers(0, 256, shape, dtype=np.uint8)
    for channels in (1, 3):
        prep = ImagePreprocessing((24, 24), channels=channels, normalize=None)
        traced = tf.function(prep.batch, input_signature=[
            tf.TensorSpec([None, None, None, None], tf.uint8)])
        np.testing.assert_array_equal(traced(image[None]).numpy(),
                                      prep.batch(image[None]).numpy())


def test_every_pixel_type_and_channel_count_gives_the_same_input():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    prep = ImagePreprocessing((32, 32), normalize="rescale")
    reference = prep(rgb).numpy()
    alpha = np.concatenate([rgb, rng.integers(0, 256, (30, 50, 1), dtype=np.uint8)], -1)
    np.testing.assert_array_equal(prep(alpha).numpy(), reference)           # alpha dropped
    np.testing.assert_allclose(prep(rgb.astype(np.uint16) * 257).numpy(), reference,
                               atol=1e-6)                                    # 16-bit
    np.testing.assert_allclose(prep(rgb.astype(np.float32) / 255).numpy(), reference,
                               atol=1e-5)                                    # floats in [0, 1]
    gray = rgb[..., :1]
    out = prep(gray).numpy()
    np.testing.assert_array_equal(out[..., 0], out[..., 2])                 # gray -> RGB
    np.testing.assert_array_equal(out, prep(np.repeat(gray, 3, axis=-1)).numpy())
    assert ImagePreprocessing((32, 32), channels=1, normalize=None)(rgb).shape == (32, 32, 1)


def test_fit_measures_the_resized_training_images():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (20, 40, 40, 3), dtype=np.uint8)
    prep = ImagePreprocessing((20, 20)).fit(images, batch_size=6)
    resized = ImagePreprocessing((20, 20), normalize=None).batch(images).numpy()
    np.testing.assert_allclose(prep.mean, resized.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(prep.std, resized.std(axis=(0, 1, 2)), rtol=1e-4)
    standardized = prep.batch(images).numpy()
    np.testing.assert_allclose(standardized.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(standardized.std(axis=(0, 1, 2)), 1, atol=1e-3)
    assert prep.seen == {"channels": [3], "dtypes": ["uint8"], "max": 255.0, "images": 20}
    again = ImagePreprocessing.from_config(prep.get_config())
    np.testing.assert_array_equal(again.batch(images).numpy(), standardized)
    # Images of mixed sizes and kinds, and image files, in one pass.
    mixed = [images[0], images[1][:30], images[2].astype(np.uint16) * 257]
    assert ImagePreprocessing((20, 20)).fit(mixed).seen["dtypes"] == ["uint16", "uint8"]


def test_png_16_bit_keeps_its_bits_and_8_bit_files_read_as_uint8(tmp_path):
    deep = (np.arange(64 * 3, dtype=np.uint16) * 300).reshape(8, 8, 3)
    path = tmp_path / "deep.png"
    path.write_bytes(tf.io.encode_png(deep).numpy())
    np.testing.assert_array_equal(read_image(path, "x"), deep)
    shallow = (np.arange(64 * 3) % 256).astype(np.uint8).reshape(8, 8, 3)
    assert read_image(tf.io.encode_png(shallow).numpy(), "x").dtype == np.uint8
    jpeg = read_image(tf.io.encode_jpeg(shallow).numpy(), "x")
    assert jpeg.dtype == np.uint8 and jpeg.shape == (8, 8, 3)


@pytest.mark.parametrize(("data", "words"), [(b"", "empty file"),
                                             (b"\x89PNG\r\n\x1a\nnot really", "not a readable")])
def test_a_corrupt_or_empty_file_is_named(data, words):
    with pytest.raises(ValueError, match=f"photo.png.*{words}"):
        decode_bytes(data, "photo.png")


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="image_size"):
        ImagePreprocessing(64)
    with pytest.raises(ValueError, match="channels"):
        ImagePreprocessing((8, 8), channels=4)
    with pytest.raises(ValueError, match="normalize"):
        ImagePreprocessing((8, 8), normalize="minmax")
    with pytest.raises(RuntimeError, match="fit"):
        ImagePreprocessing((8, 8)).mean  # noqa: B018
    with pytest.raises(ValueError, match=r"images\[1\].*2-D"):
        ImagePreprocessing((8, 8)).fit([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4))])


def test_the_batch_transform_feeds_stratified_dataset():
    from keras_bestpractice.data import stratified_dataset

    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (24, 30, 20, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 8)
    prep = ImagePreprocessing((16, 16)).fit(x)
    batches = list(stratified_dataset(x, y, 6, seed=0, augment=prep.map_fn(batched=True)))
    assert len(batches) == 4
    for xb, yb in batches:
        assert xb.shape == (6, 16, 16, 3) and xb.dtype == tf.float32
        assert np.bincount(yb.numpy(), minlength=3).tolist() == [2, 2, 2]
    everything = np.concatenate([xb.numpy() for xb, _ in batches])
    np.testing.assert_allclose(np.sort(everything.ravel()),
                               np.sort(prep.batch(x).numpy().ravel()), atol=1e-5)
