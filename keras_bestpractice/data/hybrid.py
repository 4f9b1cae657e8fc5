"""`HybridFeeder`: train from disk one stratified in-memory segment at a time."""

from __future__ import annotations

import concurrent.futures
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback, print_msg
from keras_bestpractice.data.plan import batch_plan
from keras_bestpractice.data.sources import check_image_size, list_files
from keras_bestpractice.data.split import split_counts


def segment_layout(num_samples: int, capacity: int, batch_size: int) -> tuple[int, int]:
    """`(num_segments, batches_per_epoch)` with every segment <= `capacity` samples.

    Segments are as equal as possible and all give the same number of batches,
    so the dataset's cardinality is the same for every segment (Keras reads it
    once). The largest segments that satisfy this are chosen.
    """
    n, b = int(num_samples), int(batch_size)
    cap = max(1, min(int(capacity), n))
    for batches in range(math.ceil(cap / b), 0, -1):
        limit = min(cap, batches * b)
        k = math.ceil(n / limit)
        smallest, largest = n // k, math.ceil(n / k)
        if math.ceil(smallest / b) == batches and math.ceil(largest / b) == batches:
            return k, batches
    return n, 1  # pragma: no cover - batches=1 always succeeds above


class HybridFeeder(CopyableCallback):
    """Feed an on-disk image listing one stratified in-memory segment at a time.

    The handbooks' hybrid feeder: the listing is partitioned into segments that
    fit `memory_budget_bytes` (decoded float32 images; with `prefetch_next` the
    budget holds the current and the next segment), each segment itself
    stratified (every class within one of its share). A segment is decoded into
    memory, fed for `epochs_per_segment` epochs as exactly stratified batches
    with augmentation, and the next one is decoded in a background thread
    meanwhile. A full pass visits every sample exactly once (each sample is in
    exactly one segment per pass); the partition is redrawn for every pass.
    A `tf.data` pipeline: it needs TensorFlow importable, and feeds `fit` on any
    Keras backend.

    Use the feeder as both the data and a callback: it swaps segments in
    `on_epoch_begin`, by Keras's epoch number, so a resumed `fit`
    (`initial_epoch`, `PeriodicCheckpoint`) continues exactly. Without the
    callback the feeder still advances: each new iteration of `dataset` is the
    next epoch of its own counter (segment `epochs_per_segment` iterations
    later), so a plain loop or a `fit` without the callback sees every segment.

    ```python
    feeder = HybridFeeder("train.csv", memory_budget_bytes=2**30, epochs_per_segment=3,
                          image_size=(64, 64), batch_size=32)
    model.fit(feeder.dataset, epochs=feeder.epochs_per_pass * 2, callbacks=[feeder])
    ```

    Args:
        source: a CSV file, a JSON list, a DataFrame or a directory of class
            sub-folders (see `from_file_listing`).
        memory_budget_bytes: host memory for decoded segments.
        epochs_per_segment: epochs spent on each segment.
        batch_size: samples per batch. Defaults to `32`.
        image_size: `(height, width)`. Defaults to `(64, 64)`.
        channels: 1, 3 or 4. Defaults to `3`.
        seed: seed of the partition and the order. Defaults to `0`.
        augment: as in `stratified_dataset`. Defaults to `None`.
        label_column: label column of a listing. Defaults to `"label"`.
        path_column: path column of a listing. Defaults to `"path"`.
        root: base folder for relative paths. Defaults to `None`.
        prefetch_next: decode the next segment in the background. Defaults to `True`.
        verbose: `1` prints segment swaps. Defaults to `0`.
        class_names: class names in id order (see `list_files`). Defaults to `None`.

    Attributes:
        dataset: the `tf.data.Dataset` to pass to `fit`.
        num_segments: segments per pass.
        segment_sizes: samples in each segment.
        batches_per_epoch: the same for every segment.
        epochs_per_pass: `num_segments * epochs_per_segment`.
        class_names: the class names in id order (integer labels 0..K-1 are
            their own ids).

    Raises:
        ValueError: for a budget that holds no image, counts < 1, or a bad listing.
    """

    def __init__(
        self,
        source: Any,
        memory_budget_bytes: int,
        epochs_per_segment: int,
        batch_size: int = 32,
        image_size: tuple[int, int] = (64, 64),
        channels: int = 3,
        seed: int = 0,
        augment: Callable | None = None,
        label_column: str = "label",
        path_column: str = "path",
        root: str | os.PathLike | None = None,
        prefetch_next: bool = True,
        verbose: int = 0,
        class_names: Any = None,
    ):
        super().__init__()
        import tensorflow as tf

        self.memory_budget_bytes = v.check_int("memory_budget_bytes", memory_budget_bytes,
                                               minimum=1)
        self.epochs_per_segment = v.check_int("epochs_per_segment", epochs_per_segment,
                                              minimum=1)
        self.batch_size = v.check_int("batch_size", batch_size, minimum=1)
        self.image_size = check_image_size(image_size)
        self.channels = v.check_choice("channels", channels, (1, 3, 4))
        self.seed = v.check_int("seed", seed)
        self.prefetch_next = v.check_bool("prefetch_next", prefetch_next)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        if augment is not None and not callable(augment):
            raise TypeError("`augment` must be callable.")
        self.augment = augment
        self.paths, self.labels, self.class_names = list_files(source, label_column,
                                                               path_column, root, class_names)
        h, w = self.image_size
        self.bytes_per_sample = h * w * self.channels * 4
        copies = 2 if self.prefetch_next else 1
        capacity = self.memory_budget_bytes // (self.bytes_per_sample * copies)
        if capacity < 1:
            raise ValueError(
                f"`memory_budget_bytes`={memory_budget_bytes} holds no decoded image: one "
                f"{h}x{w}x{self.channels} float32 image takes {self.bytes_per_sample} bytes"
                + (" and two segments (current + prefetched) must fit" if copies == 2 else "")
                + "."
            )
        n = len(self.paths)
        self.num_segments, self.batches_per_epoch = segment_layout(n, capacity,
                                                                   self.batch_size)
        k = self.num_segments
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        self.segment_sizes = sizes
        self.epochs_per_pass = k * self.epochs_per_segment
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        # Per-(class, segment) counts: a controlled rounding, fixed for all passes.
        table = split_counts(counts, sizes[:-1], 0, self.seed) if k > 1 else counts[:, None]
        self._table = np.asarray(table, dtype=np.int64)  # [C, K]
        self._plans = [batch_plan(self._table[:, s], self.batch_size) for s in range(k)]
        for s, plan in enumerate(self._plans):
            if plan.num_batches != self.batches_per_epoch:  # pragma: no cover - layout rule
                raise AssertionError(f"segment {s} has {plan.num_batches} batches")
        self._smax = max(sizes)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: dict[tuple[int, int], concurrent.futures.Future] = {}
        self._loaded: tuple[int, int] | None = None
        self._epoch = -1         # the epoch of the last iteration (ours or Keras's)
        self._managed = False    # on_epoch_begin prepared the next iteration
        self._lock = threading.Lock()
        self._build_dataset(tf)
        self._load((0, 0))

    _NOT_COPIED = ("_model", "_executor", "_pending")
    _SHARED = ("_lock",)

    # ------------------------------------------------------------------- plan
    def segment_indices(self, pass_index: int, segment: int) -> np.ndarray:
        """Listing indices in `segment` of pass `pass_index`, grouped by class."""
        rng_seed = [self.seed, pass_index]
        parts = []
        for c in range(self._table.shape[0]):
            members = np.nonzero(self.labels == c)[0]
            order = np.random.default_rng([*rng_seed, c]).permutation(members)
            start = int(self._table[c, :segment].sum())
            parts.append(order[start:start + int(self._table[c, segment])])
        return np.concatenate(parts).astype(np.int64)

    def position(self, epoch: int) -> tuple[int, int]:
        """`(pass, segment)` trained in Keras epoch `epoch`."""
        block = int(epoch) // self.epochs_per_segment
        return divmod(block, self.num_segments)

    # ---------------------------------------------------------------- dataset
    def _build_dataset(self, tf) -> None:
        from keras_bestpractice.data.stratified import epoch_order, gather_batch, slot_layout

        h, w = self.image_size
        k, smax, nb = self.num_segments, self._smax, self.batches_per_epoch
        with tf.init_scope():
            self._images = tf.Variable(tf.zeros((smax, h, w, self.channels), tf.float32),
                                       trainable=False, name="hybrid_images")
            self._label_buf = tf.Variable(tf.zeros((smax,), tf.int64), trainable=False,
                                          name="hybrid_labels")
            self._segment_var = tf.Variable(0, dtype=tf.int64, trainable=False)
            self._epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        width = self.batch_size
        padded = nb * width
        slot_class = np.zeros((k, padded), np.int64)
        slot_rank = np.zeros((k, padded), np.int64)
        slot_batch = np.zeros((k, padded), np.int64)
        sizes = np.zeros((k, nb), np.int64)
        class_start = np.zeros((k, self._table.shape[0]), np.int64)
        for s, plan in enumerate(self._plans):
            used = plan.samples_per_epoch
            # Padding slots borrow a class present in the segment, rank 0: harmless
            # values that the per-batch sizes cut off.
            slot_class[s, :used] = plan.slot_class
            slot_class[s, used:] = int(np.argmax(self._table[:, s] > 0))
            slot_rank[s, :used] = plan.slot_rank
            layout = slot_layout(plan.batch_starts)
            slot_batch[s, :used] = layout["slot_batch"]
            slot_batch[s, used:] = nb  # padding sorts after every real batch
            sizes[s] = layout["batch_sizes"]
            class_start[s] = np.concatenate([[0], np.cumsum(self._table[:, s])[:-1]])
        t = {name: tf.constant(value) for name, value in {
            "slot_class": slot_class, "slot_rank": slot_rank, "sizes": sizes,
            "class_start": class_start, "counts": self._table.T.copy(),
            "ones": np.ones_like(self._table.T), "zeros": np.zeros_like(self._table.T),
            "slot_batch": slot_batch}.items()}
        seed64 = tf.constant(self.seed, tf.int64)
        images, labels, seg_var, epoch_var = (self._images, self._label_buf, self._segment_var,
                                              self._epoch_var)
        augment = self.augment

        def begin(_):
            # A new iteration: unless the callback set this epoch up, move on by itself.
            tick = tf.py_function(self._on_iteration, [], tf.int64)
            with tf.control_dependencies([tick]):
                e = epoch_var.read_value()
                s = seg_var.read_value()
            per_class = {"counts": t["counts"][s], "copies": t["ones"][s],
                         "extras": t["zeros"][s], "cycle": t["ones"][s],
                         "class_start": t["class_start"][s], "slot_batch": t["slot_batch"][s]}
            order = epoch_order(t["slot_class"][s], t["slot_rank"][s], e, per_class, seed64)
            rows = tf.reshape(order, [nb, width])
            return rows, t["sizes"][s], tf.fill([nb], e), tf.range(nb, dtype=tf.int64)

        def make_batch(row, size, e, i):
            return gather_batch(images, labels, row, size, e, i, seed64, augment=augment)

        ds = tf.data.Dataset.range(1).map(begin).unbatch()
        ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        self.dataset = ds.prefetch(tf.data.AUTOTUNE)

    # ---------------------------------------------------------------- loading
    def _decode(self, key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        from keras_bestpractice.data.sources import image_decoder

        idx = self.segment_indices(*key)
        decode = image_decoder(self.image_size, self.channels)
        paths = tf.data.Dataset.from_tensor_slices(self.paths[idx]).batch(64)
        chunks = [decode(batch).numpy() for batch in paths]
        images = np.concatenate(chunks) if chunks else np.zeros((0,) + self._images.shape[1:])
        return images.astype(np.float32), self.labels[idx]

    def _submit(self, key: tuple[int, int]) -> None:
        if key in self._pending or key == self._loaded:
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="hybrid-feeder")
        self._pending[key] = self._executor.submit(self._decode, key)

    def _load(self, key: tuple[int, int]) -> None:
        future = self._pending.pop(key, None)
        images, labels = future.result() if future is not None else self._decode(key)
        n = images.shape[0]
        padded = np.zeros(self._images.shape, np.float32)
        padded[:n] = images
        lab = np.zeros(self._label_buf.shape, np.int64)
        lab[:n] = labels
        self._images.assign(padded)
        self._label_buf.assign(lab)
        self._segment_var.assign(key[1])
        self._loaded = key

    def _next_key(self, key: tuple[int, int]) -> tuple[int, int]:
        p, s = key
        return (p, s + 1) if s + 1 < self.num_segments else (p + 1, 0)

    def _on_iteration(self):
        """Called by the dataset when an iteration starts (in a tf.data thread)."""
        with self._lock:
            if self._managed:
                self._managed = False
            else:
                self._advance(self._epoch + 1)
            return np.int64(self._epoch)

    # -------------------------------------------------------------- callbacks
    def on_epoch_begin(self, epoch, logs=None):
        with self._lock:
            self._advance(int(epoch))
            self._managed = True

    def _advance(self, epoch: int) -> None:
        self._epoch = epoch
        key = self.position(epoch)
        if key != self._loaded:
            self._load(key)
            if self.verbose:
                print_msg(f"HybridFeeder: epoch {epoch + 1}: pass {key[0] + 1}, segment "
                          f"{key[1] + 1}/{self.num_segments} "
                          f"({self.segment_sizes[key[1]]} samples) in memory.")
        self._epoch_var.assign(int(epoch))
        if self.prefetch_next:
            self._submit(self._next_key(key))

    def on_train_end(self, logs=None):
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
