"""`stratified_dataset`: exactly stratified (or class-balanced) batches as a tf.data graph."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice.data import registry
from keras_bestpractice.data.plan import batch_plan, multilabel_batch_plan, target_counts
from keras_bestpractice.data.split import (
    encode_labels,
    is_multilabel,
    quantile_bins,
    stratification_target,
)

_TAG_SHIFT = 1 << 20  # epoch (or cycle) * 2^20 + copy index in the permutation seeds
_EXTRA_TAG = _TAG_SHIFT - 1


def stratified_dataset(
    x: Any,
    y: Any,
    batch_size: int,
    seed: int = 0,
    balance: float = 0.0,
    drop_remainder: bool = False,
    augment: Callable | None = None,
    *,
    sample_weight: Any = None,
    stratify_on: Any = None,
    bins: int | None = None,
    start_batch: int = 0,
    epoch: int = 0,
    num_parallel_calls: int | None = None,
    prefetch: bool = True,
):
    """A `tf.data.Dataset` of `(x_batch, y_batch)` whose every batch keeps the class mix.

    Proportional (`balance=0`): with class shares p_c, every full batch of size b
    has floor(b p_c) or ceil(b p_c) samples of class c, and after k batches class
    c has had k b p_c of them, within one (a 25%/75% set with b=32 gives exactly
    8/24 in every batch). With `drop_remainder=False` one epoch visits every
    sample exactly once.

    Class-balanced (`balance=1`), or in between: class c's share of an epoch is
    proportional to n_c^(1-balance). An epoch still has N samples: class c gets
    m_c of them (largest-remainder rounding of N p_c); a smaller class repeats its
    samples floor(m_c/n_c) or ceil(m_c/n_c) times, a larger one is subsampled and
    cycles through all its samples over the following epochs. Per-batch quotas
    follow the target shares as above.

    The pipeline is tf.data ops only (no `from_generator`, no `py_function`):
    `x` and `y` stay in memory as tensors and every batch is a `tf.gather` through
    an index computed from `(seed, epoch, batch)`, so the order of epoch e is a
    pure function of `(seed, e)`. The dataset owns an epoch `tf.Variable`; each
    new iteration produces the next epoch (like `reshuffle_each_iteration`), and
    `keras_bestpractice.callbacks.FeederEpochSync` or `PeriodicCheckpoint` set it
    to Keras's epoch so that a resumed run replays the same order. Its
    cardinality is the number of batches, so Keras shows progress. It needs
    TensorFlow importable (a dependency) and feeds `fit` on any Keras backend.

    Args:
        x: features: an array of any rank, or a dict or tuple of arrays with the
            same first dimension (a multi-input model).
        y: labels: integers or one-hot rows (batches carry them unchanged),
            strings (batches carry their class ids, `ds.class_names[id]` is the
            string), or a dict or tuple of targets (a multi-output model,
            carried unchanged; `stratify_on` names the one to stratify on).
        batch_size: samples per batch (>= 1).
        seed: seed of the order. Defaults to `0`.
        balance: 0 keeps the data's class mix, 1 balances the classes.
            Defaults to `0.0`.
        drop_remainder: drop the last, smaller batch. Defaults to `False`.
        augment: applied to every batch after gathering: a Keras layer or model
            (applied to `x`), or a function `(x, y) -> (x, y)`; a function with a
            `seed` parameter gets a stateless seed `[2]` unique to (epoch, batch),
            for `tf.image.stateless_random_*` ops that keep resume exact.
            Defaults to `None`.
        start_batch: batch to start the first iteration at (mid-epoch resume).
            Defaults to `0`.
        epoch: epoch of the first iteration. Defaults to `0`.
        num_parallel_calls: parallelism of the batch gathering; `None` lets
            tf.data tune it. Defaults to `None`.
        prefetch: add `prefetch(AUTOTUNE)`. Defaults to `True`.
        sample_weight: one weight per sample; batches are then
            `(x, y, sample_weight)` and each weight travels with its sample.
            Defaults to `None`.
        stratify_on: the target of a dict (key) or tuple (index) `y` to
            stratify on. Defaults to `None` (a single target).
        bins: stratify a continuous target by this many quantile bins (a
            regression); batches still carry the raw target. Defaults to `None`.

    Returns:
        A `tf.data.Dataset` with `.class_names` (the stratification classes in
        id order); `keras_bestpractice.data.feeder_of(ds)` gives its
        `FeederState`.

    Raises:
        ValueError: for empty data, a length mismatch, NaN labels, `batch_size`
            <= 0, `balance` outside [0, 1], or too few samples for one batch
            with `drop_remainder=True`.
        TypeError: for arguments of the wrong type.

    Example:

    ```python
    ds = stratified_dataset(x_train, y_train, batch_size=32, seed=0)
    model.fit(ds, epochs=10, callbacks=[FeederEpochSync()])
    ```
    """
    return build_stratified(x, y, batch_size, seed=seed, balance=balance,
                            drop_remainder=drop_remainder, augment=augment,
                            start_batch=start_batch, epoch=epoch,
                            num_parallel_calls=num_parallel_calls, prefetch=prefetch,
                            sample_weight=sample_weight, stratify_on=stratify_on, bins=bins)


def check_feeder_args(*, batch_size: Any, seed: Any, balance: Any = 0.0,
                      drop_remainder: Any = False, augment: Any = None,
                      num_parallel_calls: Any = None, prefetch: Any = True) -> None:
    """Validate the arguments every feeder shares, before any data is read."""
    v.check_int("batch_size", batch_size, minimum=1)
    v.check_int("seed", seed)
    v.check_float("balance", balance, low=0.0, high=1.0)
    v.check_bool("drop_remainder", drop_remainder)
    v.check_callable("augment", augment, allow_none=True)
    v.check_int("num_parallel_calls", num_parallel_calls, minimum=1, allow_none=True)
    v.check_bool("prefetch", prefetch)


def build_stratified(x, y, batch_size, *, seed=0, balance=0.0, drop_remainder=False,
                     augment=None, start_batch=0, epoch=0, num_parallel_calls=None,
                     prefetch=True, transform=None, label_ids=None, sample_weight=None,
                     stratify_on=None, bins=None):
    """The builder behind `stratified_dataset`.

    `transform(x_batch) -> x_batch` runs after gathering and before `augment`
    (file listings decode their paths there); `label_ids` gives the integer
    classes to stratify on when `y` itself is not the label to stratify by.
    """
    import tensorflow as tf

    check_feeder_args(batch_size=batch_size, seed=seed, balance=balance,
                      drop_remainder=drop_remainder, augment=augment,
                      num_parallel_calls=num_parallel_calls, prefetch=prefetch)
    batch_size, seed, balance = int(batch_size), int(seed), float(balance)
    start_batch = v.check_int("start_batch", start_batch, minimum=0)
    epoch = v.check_int("epoch", epoch, minimum=0)
    n_x = _num_samples(x)
    if bins is not None:
        bins = v.check_int("bins", bins, minimum=2)
    if label_ids is None:
        target = stratification_target(y, stratify_on)
        patterns = None
        if bins is not None:
            ids, classes = _binned(quantile_bins(target, bins))
        elif is_multilabel(target):
            # Multi-label: stratify on the label sets (label powerset), so every batch
            # keeps each set's share, and so each label's share.
            arr = np.asarray(target.to_numpy() if hasattr(target, "to_numpy") else target)
            patterns, ids = np.unique(arr.astype(np.int8), axis=0, return_inverse=True)
            ids = ids.ravel().astype(np.int64)
            classes = np.array([None] * len(patterns), dtype=object)
            classes[:] = [tuple(int(v) for v in row) for row in patterns]
            if balance != 0.0:
                raise ValueError(f"`balance`={balance} balances single-label classes; a "
                                 "multi-label `y` is batched by its own label shares "
                                 "(balance=0).")
        else:
            ids, classes = encode_labels(target)
        y = _carried_labels(y, target, ids, bins)
    else:
        patterns = None
        ids = np.asarray(label_ids, dtype=np.int64)
        classes = np.arange(int(ids.max()) + 1 if ids.size else 0)
    if ids.shape[0] != n_x:
        raise ValueError(f"`x` has {n_x} samples but `y` has {ids.shape[0]} labels.")
    counts = np.bincount(ids, minlength=len(classes)).astype(np.int64)
    total = int(counts.sum())
    if drop_remainder and total < batch_size:
        raise ValueError(f"`batch_size`={batch_size} with drop_remainder=True needs at least "
                         f"{batch_size} samples, got {total}.")
    targets = target_counts(counts, balance)
    if patterns is not None:
        plan = multilabel_batch_plan(patterns, counts, batch_size,
                                     drop_remainder=drop_remainder)
    else:
        plan = batch_plan(targets, batch_size, drop_remainder=drop_remainder)
    if start_batch > plan.num_batches:
        raise ValueError(f"`start_batch` must be in [0, {plan.num_batches}], got {start_batch}.")

    # Sample indices grouped by class, and where each class begins.
    members = np.argsort(ids, kind="stable").astype(np.int64)
    class_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    copies = targets // counts
    extras = targets % counts
    cycle = np.where(extras > 0, -(-counts // np.maximum(extras, 1)), 1)

    key = _fingerprint(counts, batch_size, seed, balance, drop_remainder, n_x)
    with tf.init_scope():
        epoch_var = tf.Variable(epoch, dtype=tf.int64, trainable=False,
                                name="stratified_epoch")
        start_var = tf.Variable(start_batch, dtype=tf.int64, trainable=False,
                                name="stratified_start")
        iter_var = tf.Variable(0, dtype=tf.int64, trainable=False,
                               name="stratified_iterations")
    state = registry.FeederState(
        key=key, num_batches=plan.num_batches, epoch=epoch_var, start=start_var,
        iterations=iter_var,
        info={"batch_size": batch_size, "seed": seed, "balance": balance,
              "num_samples": total, "samples_per_epoch": plan.samples_per_epoch,
              "class_counts": counts.tolist(), "epoch_counts": targets.tolist()},
    )

    x_t = tf.nest.map_structure(tf.convert_to_tensor, _as_arrays(x))
    y_t = tf.nest.map_structure(tf.convert_to_tensor, _target_arrays(y, n_x))
    w_t = None
    if sample_weight is not None:
        w_t = tf.convert_to_tensor(_sample_weights(sample_weight, n_x))
    layout = slot_layout(plan.batch_starts)
    t = {name: tf.constant(value, dtype=tf.int64) for name, value in {
        "members": members, "class_start": class_start, "counts": counts,
        "copies": copies, "extras": extras, "cycle": cycle,
        "slot_class": plan.slot_class, "slot_rank": plan.slot_rank, **layout}.items()}
    num_batches = plan.num_batches
    width = batch_size
    padding = num_batches * width - plan.samples_per_epoch
    seed64 = tf.constant(seed, tf.int64)

    def begin_iteration(_):
        # Once per iteration, when it produces its first batch: read and advance the
        # epoch, take (and clear) the one-shot start offset, and compute the whole
        # epoch's sample order in a few vectorised ops.
        with tf.control_dependencies([iter_var.assign_add(1)]):
            e = epoch_var.assign_add(1) - 1
            s = start_var.read_value()
        with tf.control_dependencies([e, s]):
            reset = start_var.assign(0)
        with tf.control_dependencies([reset]):
            order = epoch_order(t["slot_class"], t["slot_rank"], e, t, seed64,
                                members=t["members"])
            rows = tf.reshape(tf.concat([order, tf.zeros([padding], tf.int64)], 0),
                              [num_batches, width])[s:]
            sizes = t["batch_sizes"][s:]
            epochs = tf.fill([num_batches], e)[s:]
            batch_ids = tf.range(s, num_batches, dtype=tf.int64)
        # Static cardinality is the full epoch; an iteration that starts at batch k
        # yields fewer batches, which Keras treats as the end of that epoch's data.
        for tensor, shape in ((rows, [num_batches, width]), (sizes, [num_batches]),
                              (epochs, [num_batches]), (batch_ids, [num_batches])):
            tensor.set_shape(shape)
        return rows, sizes, epochs, batch_ids

    def make_batch(row, size, e, i):
        xb, yb = gather_batch(x_t, y_t, row, size, e, i, seed64, transform, augment)
        if w_t is None:
            return xb, yb
        return xb, yb, tf.gather(w_t, row[:size])

    ds = tf.data.Dataset.range(1).map(begin_iteration).unbatch()
    ds = ds.map(make_batch, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE,
                deterministic=True)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    ds._keras_bestpractice_feeder = state  # keeps the state alive with the dataset
    ds.class_names = [c.item() if hasattr(c, "item") else c for c in classes]
    registry.register(state)
    return ds


def _binned(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ids, np.arange(int(ids.max()) + 1)


def _carried_labels(y: Any, target: Any, ids: np.ndarray, bins: int | None) -> Any:
    """What batches carry as `y`: string labels become their class ids (Keras losses
    take numbers); everything else travels unchanged."""
    if bins is not None or target is not y:
        return y
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.dtype.kind in "USO" and arr.ndim == 1 and \
            not all(isinstance(v, (int, float, np.number)) for v in arr[:64]):
        return ids
    return y


def _target_arrays(y: Any, n: int) -> Any:
    """`y` (an array, or a dict/tuple of targets) as NumPy arrays of `n` rows."""
    if isinstance(y, dict):
        return {k: _target_arrays(val, n) for k, val in y.items()}
    if isinstance(y, tuple):
        return tuple(_target_arrays(val, n) for val in y)
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"`x` has {n} samples but a target in `y` has shape {arr.shape}.")
    if arr.dtype == object:
        arr = arr.astype(str) if all(isinstance(v, str) for v in arr.ravel()[:64]) else arr
    return arr


def _sample_weights(sample_weight: Any, n: int) -> np.ndarray:
    try:
        w = np.asarray(sample_weight, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`sample_weight` must be an array of numbers, got "
                        f"{type(sample_weight).__name__} ({exc}).") from None
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"`sample_weight` must hold one weight per sample ({n}), got shape "
                         f"{w.shape}.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("`sample_weight` must be finite and >= 0.")
    return w


def epoch_order(slot_class, slot_rank, e, t, seed64, members=None):
    """The sample of every slot of epoch `e`, batch after batch (in-graph).

    `t` holds the per-class tensors (`counts`, `copies`, `extras`, `cycle`,
    `class_start`) and `slot_batch`; `members` maps class-grouped positions to
    sample indices (`None` when the samples are already grouped by class, as in a
    `HybridFeeder` segment). Shared by `stratified_dataset` and `HybridFeeder`.
    """
    import tensorflow as tf

    pos = class_positions(slot_class, slot_rank, e, t["counts"], t["copies"], t["extras"],
                          t["cycle"], seed64)
    order = tf.gather(t["class_start"], slot_class) + pos
    if members is not None:
        order = tf.gather(members, order)
    return shuffle_within_batches(order, e, t, seed64)


def gather_batch(x, y, row, size, e, i, seed64, transform=None, augment=None):
    """The batch of sample indices `row[:size]`: gathered, transformed, augmented (in-graph)."""
    import tensorflow as tf

    idx = row[:size]
    xb = tf.nest.map_structure(lambda a: tf.gather(a, idx), x)
    yb = tf.nest.map_structure(lambda a: tf.gather(a, idx), y)
    if transform is not None:
        xb = transform(xb)
    if augment is None:
        return xb, yb
    return apply_augment(augment, xb, yb, tf.stack([seed64 + e, i]))


def class_positions(c, r, e, counts, copies, extras, cycle, seed64):
    """Position, within its class, of the sample that fills each slot (in-graph).

    `c` and `r` are the class and the rank of each slot in the epoch (from the
    `BatchPlan`), `e` the epoch. Slot ranks below copies_c * n_c are copy k =
    r // n_c of class c: a permutation of the class keyed by (seed, c, e, k).
    The remaining ranks take a window of another permutation that advances by
    extras_c each epoch and is redrawn every cycle_c = ceil(n_c / extras_c)
    epochs, so a subsampled class visits all its samples over the epochs of a
    cycle and no sample repeats inside an epoch's window.
    """
    import tensorflow as tf

    n_c = tf.gather(counts, c)
    full = tf.gather(copies, c) * n_c
    is_copy = r < full
    copy_tag = e * _TAG_SHIFT + tf.math.floordiv(r, n_c)
    copy_pos = tf.math.floormod(r, n_c)
    k_c = tf.gather(cycle, c)
    x_c = tf.gather(extras, c)
    extra_tag = tf.math.floordiv(e, k_c) * _TAG_SHIFT + _EXTRA_TAG
    extra_pos = tf.math.floormod(tf.math.floormod(e, k_c) * x_c + (r - full), n_c)
    tag = tf.where(is_copy, copy_tag, extra_tag)
    pos = tf.where(is_copy, copy_pos, extra_pos)
    seeds = tf.stack([tf.fill(tf.shape(c), seed64), c, tag], axis=1)
    return tf.raw_ops.RandomIndexShuffle(index=pos, seed=seeds, max_index=n_c - 1)


def slot_layout(batch_starts: np.ndarray) -> dict[str, np.ndarray]:
    """Batch sizes and the batch of every slot (NumPy constants)."""
    starts = np.asarray(batch_starts, dtype=np.int64)
    sizes = np.diff(starts)
    return {"batch_sizes": sizes,
            "slot_batch": np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)}


def shuffle_within_batches(order, e, t, seed64):
    """Permute every batch of an epoch's `order` (keyed by seed and epoch).

    Without it a batch would list its classes in blocks (and `MirroredStrategy`,
    which splits a batch between replicas, would give them different class mixes).
    One sort of the whole epoch by (batch, random key): batch ids are exact in
    float64 and the keys in [0, 1) never reach the next batch.
    """
    import tensorflow as tf

    n = tf.shape(t["slot_batch"])[0]
    keys = tf.random.stateless_uniform([n], seed=tf.stack([seed64, -e - 1]), dtype=tf.float64)
    perm = tf.argsort(tf.cast(t["slot_batch"], tf.float64) + keys, stable=True)
    return tf.gather(order, perm)


def apply_augment(augment: Callable, xb, yb, seed):
    import keras

    if isinstance(augment, keras.layers.Layer):
        return augment(xb, training=True), yb
    try:
        params = inspect.signature(augment).parameters
    except (TypeError, ValueError):
        params = {}
    if "seed" in params:
        return augment(xb, yb, seed=seed)
    return augment(xb, yb)


def _num_samples(x: Any) -> int:
    arrays = _as_arrays(x)
    if isinstance(arrays, tuple):
        arrays = dict(enumerate(arrays))
    if isinstance(arrays, dict):
        lengths = {k: len(a) for k, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the arrays of `x` differ in length: {lengths}.")
        n = next(iter(lengths.values()), 0)
    else:
        n = len(arrays)
    if n == 0:
        raise ValueError("`x` is empty: there is nothing to feed.")
    return n


def _as_arrays(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: np.asarray(val) for k, val in x.items()}
    if isinstance(x, tuple):
        return tuple(np.asarray(val) for val in x)
    if hasattr(x, "to_numpy"):
        return x.to_numpy()
    arr = None
    if x is not None and not isinstance(x, (str, bytes)):
        try:
            arr = np.asarray(x)
        except Exception:  # noqa: BLE001 - reported below
            arr = None
    if arr is None or arr.ndim == 0 or arr.dtype == object:
        raise TypeError(f"`x` must be an array, a list or a dict of arrays, got "
                        f"{type(x).__name__}.")
    return arr


def _fingerprint(counts: np.ndarray, batch_size: int, seed: int, balance: float,
                 drop_remainder: bool, n: int) -> str:
    text = f"{counts.tolist()}|{batch_size}|{seed}|{balance!r}|{drop_remainder}|{n}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
