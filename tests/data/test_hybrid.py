import keras
import numpy as np
import pytest

from keras_bestpractice.data import HybridFeeder
from keras_bestpractice.data.hybrid import segment_layout

IMAGE_BYTES = 6 * 6 * 3 * 4


def test_segment_layout_gives_equal_batch_counts():
    for n in range(1, 300, 7):
        for cap in (1, 5, 32, 33, 64, 100, 1000):
            for b in (1, 4, 16, 32):
                k, batches = segment_layout(n, cap, b)
                sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
                assert max(sizes) <= max(1, min(cap, n))
                assert {-(-s // b) for s in sizes} == {batches}


def test_segments_are_stratified_and_each_sample_appears_once_per_pass(image_listing):
    feeder = HybridFeeder(image_listing / "listing.csv", memory_budget_bytes=IMAGE_BYTES * 2 * 30,
                          epochs_per_segment=2, batch_size=8, image_size=(6, 6))
    assert feeder.num_segments == 3 and feeder.segment_sizes == [30, 30, 30]
    for p in (0, 1):
        ids = [feeder.segment_indices(p, s) for s in range(feeder.num_segments)]
        np.testing.assert_array_equal(np.sort(np.concatenate(ids)), np.arange(90))
        for segment in ids:
            counts = np.bincount(feeder.labels[segment], minlength=3)
            assert np.all(np.abs(counts - np.array([20, 50, 20]) / 3) < 1)
    assert not np.array_equal(feeder.segment_indices(0, 0), feeder.segment_indices(1, 0))


def test_fit_swaps_segments_and_feeds_every_sample_once_per_pass(image_listing):
    feeder = HybridFeeder(image_listing / "listing.csv", memory_budget_bytes=IMAGE_BYTES * 2 * 30,
                          epochs_per_segment=2, batch_size=8, image_size=(6, 6), seed=3)

    class Recorder(keras.Sequential):
        def train_step(self, *args):  # (data) on TensorFlow, (state, data) on JAX
            data = args[-1]
            self.seen.append(keras.ops.convert_to_numpy(data[0])[:, 3, 3, 0].round().astype(int))
            return super().train_step(*args)

    model = Recorder([keras.Input((6, 6, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(3, activation="softmax")])
    model.seen = []
    model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=True)
    model.fit(feeder.dataset, epochs=feeder.epochs_per_pass, verbose=0, callbacks=[feeder])
    per_epoch = feeder.batches_per_epoch
    epochs = [np.concatenate(model.seen[i:i + per_epoch])
              for i in range(0, len(model.seen), per_epoch)]
    assert len(epochs) == 6
    for s in range(3):
        first, second = epochs[2 * s], epochs[2 * s + 1]
        expected = feeder.segment_indices(0, s)  # image pixels hold the listing index
        np.testing.assert_array_equal(np.sort(first), np.sort(expected))
        np.testing.assert_array_equal(np.sort(second), np.sort(expected))
    np.testing.assert_array_equal(np.sort(np.concatenate(epochs[::2])), np.arange(90))


def test_budget_too_small_is_a_clear_error(image_listing):
    with pytest.raises(ValueError, match="holds no decoded image"):
        HybridFeeder(image_listing / "listing.csv", memory_budget_bytes=100, epochs_per_segment=1,
                     image_size=(6, 6))
    with pytest.raises(ValueError, match="epochs_per_segment"):
        HybridFeeder(image_listing / "listing.csv", memory_budget_bytes=10**6,
                     epochs_per_segment=0, image_size=(6, 6))


def test_without_its_callback_the_feeder_advances_segments_by_itself(image_listing):
    """Issue #16: iterating `dataset` again (no callback) used to replay segment 0."""
    feeder = HybridFeeder(image_listing / "listing.csv", memory_budget_bytes=IMAGE_BYTES * 2 * 30,
                          epochs_per_segment=1, batch_size=8, image_size=(6, 6), seed=1)
    seen = []
    for _ in range(feeder.epochs_per_pass):  # one pass: every segment once
        pixels = np.concatenate([x.numpy()[:, 3, 3, 0] for x, _ in feeder.dataset])
        seen.append(np.sort(pixels.round().astype(int)))
    for s in range(3):
        np.testing.assert_array_equal(seen[s], np.sort(feeder.segment_indices(0, s)))
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(90))


def test_integer_labels_keep_their_ids(tmp_path):
    """Issue #16: labels 0..12 from a CSV were renumbered by string sort ('10' < '2')."""
    import pandas as pd
    from PIL import Image

    rows = []
    for i in range(39):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
        rows.append({"path": f"{i}.png", "label": i % 13})
    pd.DataFrame(rows).to_csv(tmp_path / "ints.csv", index=False)
    feeder = HybridFeeder(tmp_path / "ints.csv", memory_budget_bytes=10**6, epochs_per_segment=1,
                          batch_size=13, image_size=(4, 4))
    assert feeder.class_names == [str(i) for i in range(13)]
    np.testing.assert_array_equal(feeder.labels, np.arange(39) % 13)
    for x, y in feeder.dataset:
        index = x.numpy()[:, 0, 0, 0].round().astype(int)
        np.testing.assert_array_equal(y.numpy(), index % 13)  # label id = the integer
