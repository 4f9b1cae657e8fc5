import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_bestpractice.callbacks import FeederEpochSync
from keras_bestpractice.data import stratified_dataset
from keras_bestpractice.data.registry import feeder_of


def labels_from(counts):
    return np.repeat(np.arange(len(counts)), counts)


def epoch_batches(ds):
    """One iteration: the list of (sample ids, labels) per batch."""
    return [(xb.numpy().astype(np.int64), yb.numpy()) for xb, yb in ds]


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=1, max_size=5),
       batch_size=st.integers(1, 17), seed=st.integers(0, 2**31 - 1))
def test_every_batch_keeps_the_class_mix_and_an_epoch_visits_each_sample_once(
        counts, batch_size, seed):
    y = labels_from(counts)
    x = np.arange(len(y))
    ds = stratified_dataset(x, y, batch_size, seed=seed)
    total = len(y)
    exact = batch_size * np.array(counts) / total
    for _ in range(2):  # two epochs, two different orders, same invariants
        batches = epoch_batches(ds)
        ids = np.concatenate([b[0] for b in batches])
        np.testing.assert_array_equal(np.sort(ids), x)  # each sample exactly once
        np.testing.assert_array_equal(y[ids], np.concatenate([b[1] for b in batches]))
        cumulative = np.zeros(len(counts))
        for k, (_, yb) in enumerate(batches[: total // batch_size], start=1):
            got = np.bincount(yb, minlength=len(counts))
            assert np.all(got >= np.floor(exact)) and np.all(got <= np.ceil(exact))
            cumulative += got
            assert np.all(np.abs(cumulative - k * exact) < 1)


def test_handbook_25_75_batches_are_exactly_8_and_24():
    y = labels_from([250, 750])
    ds = stratified_dataset(np.arange(1000), y, 32, seed=5)
    for _, yb in epoch_batches(ds)[:-1]:
        assert np.bincount(yb).tolist() == [8, 24]


def test_order_is_a_pure_function_of_seed_and_epoch():
    y = labels_from([30, 50, 20])
    x = np.arange(100)
    a = stratified_dataset(x, y, 16, seed=7)
    b = stratified_dataset(x, y, 16, seed=7, epoch=1)
    first = [ids for ids, _ in epoch_batches(a)]
    second = [ids for ids, _ in epoch_batches(a)]
    assert any((p != q).any() for p, q in zip(first, second, strict=True))  # reshuffled
    replay = [ids for ids, _ in epoch_batches(b)]  # a new dataset starting at epoch 1
    assert all((p == q).all() for p, q in zip(second, replay, strict=True))
    other_seed = [ids for ids, _ in epoch_batches(stratified_dataset(x, y, 16, seed=8))]
    assert any((p != q).any() for p, q in zip(first, other_seed, strict=True))


def test_start_batch_resumes_mid_epoch():
    y = labels_from([40, 60])
    x = np.arange(100)
    full = epoch_batches(stratified_dataset(x, y, 10, seed=1, epoch=2))
    ds = stratified_dataset(x, y, 10, seed=1)
    feeder_of(ds).set_epoch(2, start_batch=6)
    resumed = epoch_batches(ds)
    assert len(resumed) == 4
    assert all((p[0] == q[0]).all() for p, q in zip(full[6:], resumed, strict=True))
    assert len(epoch_batches(ds)) == 10  # the offset applies to one iteration only


def test_cardinality_is_known_and_drop_remainder():
    y = labels_from([17, 26])
    ds = stratified_dataset(np.arange(43), y, 8)
    assert int(ds.cardinality()) == 6
    dropped = stratified_dataset(np.arange(43), y, 8, drop_remainder=True)
    assert int(dropped.cardinality()) == 5
    assert all(len(yb) == 8 for _, yb in epoch_batches(dropped))


@pytest.mark.parametrize("balance", [1.0, 0.5])
def test_balanced_epochs(balance):
    counts = np.array([10, 60, 230])
    y = labels_from(counts)
    x = np.arange(len(y))
    ds = stratified_dataset(x, y, 20, seed=3, balance=balance)
    share = counts ** (1 - balance)
    target = len(y) * share / share.sum()
    seen_big = set()
    for _ in range(4):
        batches = epoch_batches(ds)
        ids = np.concatenate([b[0] for b in batches])
        assert len(ids) == len(y)
        got = np.bincount(y[ids], minlength=3)
        assert np.all(np.abs(got - target) < 1)
        small = np.bincount(ids[y[ids] == 0], minlength=10)[:10]
        q = got[0] // 10
        assert set(small.tolist()) <= {q, q + 1}  # oversampled: floor or ceil repeats
        big = ids[y[ids] == 2]
        assert len(set(big.tolist())) == len(big)  # subsampled: no repeats in an epoch
        seen_big |= set(big.tolist())
    if balance == 1.0:
        assert len(seen_big) == 230  # cycles through all of the large class


def test_graph_has_no_generator_or_py_function():
    ds = stratified_dataset(np.arange(50), labels_from([20, 30]), 8)
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(ds._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    forbidden = {op for op in ops if "PyFunc" in op or "Generator" in op}
    assert not forbidden, forbidden
    assert "RandomIndexShuffle" in ops and "GatherV2" in ops


def test_augment_with_a_stateless_seed_and_a_keras_layer():
    x = np.ones((40, 4, 4, 1), "float32")
    y = labels_from([20, 20])

    def jitter(xb, yb, seed):
        return xb + tf.random.stateless_uniform(tf.shape(xb), seed=seed), yb

    a = epoch_batches(stratified_dataset(x, y, 8, seed=2, augment=jitter))
    b = epoch_batches(stratified_dataset(x, y, 8, seed=2, augment=jitter))
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b, strict=True))  # reproducible
    flipped = stratified_dataset(x, y, 8, augment=keras.layers.RandomContrast(0.5, seed=1))
    xb, _ = next(iter(flipped))
    assert xb.shape == (8, 4, 4, 1)


def test_dict_inputs_one_hot_labels_and_fit_with_sync():
    rng = np.random.default_rng(0)
    x = {"a": rng.random((64, 3)).astype("float32"), "b": rng.random((64, 2)).astype("float32")}
    y = keras.utils.to_categorical(labels_from([16, 48]), 2)
    ds = stratified_dataset(x, y, 16, seed=0)
    xb, yb = next(iter(ds))
    assert set(xb) == {"a", "b"} and yb.shape == (16, 2)
    inp_a, inp_b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Concatenate()([inp_a, inp_b]))
    model = keras.Model({"a": inp_a, "b": inp_b}, out)
    model.compile("adam", "categorical_crossentropy")
    model.fit(ds, epochs=2, verbose=0, callbacks=[FeederEpochSync()])
    assert feeder_of(ds).state()["epoch"] == 2


class Recorder(keras.Sequential):
    """A model that remembers the sample ids of every batch it trains on (eager)."""

    seen: list

    def train_step(self, *args):  # (data) on TensorFlow, (state, data) on JAX
        data = args[-1]
        self.seen.append(keras.ops.convert_to_numpy(data[0])[:, 0].astype(np.int64))
        return super().train_step(*args)


def recorded_fit(ds, initial_epoch, epochs, callbacks):
    keras.utils.set_random_seed(0)
    model = Recorder([keras.Input((1,)), keras.layers.Dense(2, activation="softmax")])
    model.seen = []
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  run_eagerly=True)
    model.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=0, callbacks=callbacks)
    return model.seen


def test_epoch_sync_replays_the_order_of_a_resumed_epoch():
    y = labels_from([24, 40])
    x = np.arange(64).astype("float32")[:, None]
    expected = [ids[:, 0] for ids, _ in epoch_batches(stratified_dataset(x, y, 16, seed=11,
                                                                   epoch=2))]
    # A new process resuming at epoch 2: a fresh dataset (its variable says 0).
    with_sync = recorded_fit(stratified_dataset(x, y, 16, seed=11), 2, 3, [FeederEpochSync()])
    assert all((p == q).all() for p, q in zip(with_sync, expected, strict=True))
    without = recorded_fit(stratified_dataset(x, y, 16, seed=11), 2, 3, [])
    assert not all((p == q).all() for p, q in zip(without, expected, strict=True))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"balance": 1.5}, ValueError, "balance"),
    ({"augment": 3}, TypeError, "augment"),
    ({"batch_size": 100, "drop_remainder": True}, ValueError, "at least 100"),
    ({"start_batch": 99}, ValueError, "start_batch"),
])
def test_bad_arguments(kwargs, error, match):
    args = {"x": np.arange(10), "y": labels_from([5, 5]), "batch_size": 4, **kwargs}
    with pytest.raises(error, match=match):
        stratified_dataset(**args)


def test_bad_data():
    with pytest.raises(ValueError, match="10 samples but `y` has 9"):
        stratified_dataset(np.arange(10), np.zeros(9), 4)
    with pytest.raises(ValueError, match="empty"):
        stratified_dataset(np.zeros((0, 3)), np.zeros(0), 4)
    with pytest.raises(ValueError, match="NaN"):
        stratified_dataset(np.arange(3), np.array([0.0, np.nan, 1.0]), 2)


@pytest.mark.tensorflow_only
@pytest.mark.slow
def test_mirrored_strategy_replays_the_same_order_with_sync():
    script = textwrap.dedent("""
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from keras_bestpractice.callbacks import FeederEpochSync
        from keras_bestpractice.data import stratified_dataset
        from keras_bestpractice.data.registry import feeder_of
        y = np.repeat([0, 1], [24, 40]); x = np.arange(64).astype("float32")[:, None]
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        def run(callbacks):
            ds = stratified_dataset(x, y, 16, seed=4)
            with strategy.scope():
                model = keras.Sequential([keras.Input((1,)),
                                          keras.layers.Dense(2, activation="softmax")])
                model.compile("sgd", "sparse_categorical_crossentropy")
            after = []
            class Spy(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    after.append(int(feeder_of(ds).epoch.numpy()))
            model.fit(ds, epochs=3, verbose=0, callbacks=[*callbacks, Spy()])
            return after
        # An iteration of epoch e leaves the variable at e + 1. Keras iterates once more
        # to build a distributed model, which shifts every epoch by one without the sync.
        synced = run([FeederEpochSync()])
        assert synced == [1, 2, 3], synced
        unsynced = run([])
        assert unsynced == [2, 3, 4], unsynced
        print("MIRRORED-OK", synced, unsynced)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert "MIRRORED-OK" in result.stdout, result.stderr[-3000:]


def test_string_labels_become_class_ids_and_train_end_to_end():
    """Issue #16: string labels used to reach the loss as tf.string (a Cast op failed)."""
    rng = np.random.default_rng(0)
    names = np.array(["cat", "dog", "fox"])[labels_from([12, 24, 12])]
    x = rng.random((48, 3)).astype("float32")
    ds = stratified_dataset(x, names, 12, seed=0)
    assert ds.class_names == ["cat", "dog", "fox"]
    for _xb, yb in ds:
        assert yb.dtype == tf.int64
        assert np.bincount(yb.numpy(), minlength=3).tolist() == [3, 6, 3]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_sample_weight_travels_with_its_sample_and_reaches_the_loss():
    y = labels_from([16, 48])
    x = (np.arange(64, dtype="float32") / 64)[:, None]  # the sample id is in the feature
    w = (np.arange(64) % 5).astype("float32")
    ds = stratified_dataset(x, y, 16, seed=3, sample_weight=w)
    for xb, yb, wb in ds:
        ids = np.rint(xb.numpy()[:, 0] * 64).astype(int)
        np.testing.assert_array_equal(wb.numpy(), w[ids])
        np.testing.assert_array_equal(yb.numpy(), y[ids])
    # Weighted vs unweighted: the loss Keras reports is the weighted mean.
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    weighted = model.evaluate(stratified_dataset(x, y, 64, sample_weight=w), verbose=0)
    plain = model.evaluate(stratified_dataset(x, y, 64), verbose=0)
    per_sample = keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        y, model.predict(x, verbose=0)))
    assert plain == pytest.approx(per_sample.mean(), rel=1e-4)
    assert weighted == pytest.approx((per_sample * w).sum() / w.size, rel=1e-4)
    assert weighted != pytest.approx(plain, rel=1e-3)


def test_two_inputs_and_two_outputs_stratified_on_a_named_target():
    rng = np.random.default_rng(2)
    x = {"image": rng.random((60, 4)).astype("float32"),
         "meta": rng.random((60, 2)).astype("float32")}
    cls = labels_from([15, 45])
    y = {"cls": cls, "reg": rng.random(60).astype("float32")}
    with pytest.raises(ValueError, match="stratify_on"):
        stratified_dataset(x, y, 12)
    ds = stratified_dataset(x, y, 12, stratify_on="cls")
    for xb, yb in ds:
        assert set(xb) == {"image", "meta"} and set(yb) == {"cls", "reg"}
        assert np.bincount(yb["cls"].numpy(), minlength=2).tolist() == [3, 9]
    a, b = keras.Input((4,), name="image"), keras.Input((2,), name="meta")
    h = keras.layers.Concatenate()([a, b])
    model = keras.Model({"image": a, "meta": b},
                        {"cls": keras.layers.Dense(2, activation="softmax", name="cls")(h),
                         "reg": keras.layers.Dense(1, name="reg")(h)})
    model.compile("adam", {"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # A tuple of inputs works as Keras's list of inputs.
    ds2 = stratified_dataset((x["image"], x["meta"]), cls, 12)
    xb, _ = next(iter(ds2))
    assert isinstance(xb, tuple) and xb[0].shape == (12, 4)


def test_continuous_targets_stratify_by_quantile_bins():
    rng = np.random.default_rng(3)
    target = rng.lognormal(size=100).astype("float32")
    with pytest.raises(ValueError, match="bins=10"):
        stratified_dataset(target[:, None], target, 10)
    ds = stratified_dataset(target[:, None], target, 10, bins=5)
    assert ds.class_names == [0, 1, 2, 3, 4]
    q = np.quantile(target, [0.2, 0.4, 0.6, 0.8])
    for xb, yb in ds:
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())  # raw target carried
        per_bin = np.bincount(np.searchsorted(q, yb.numpy(), side="right"), minlength=5)
        assert per_bin.tolist() == [2, 2, 2, 2, 2]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(60, 400), n_labels=st.integers(2, 5), batch_size=st.integers(8, 40),
       seed=st.integers(0, 1000))
def test_multilabel_batches_keep_every_label_share(n, n_labels, batch_size, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < rng.uniform(0.05, 0.5, n_labels)).astype("float32")
    x = np.arange(n, dtype="float32")[:, None]
    ds = stratified_dataset(x, y, batch_size, seed=seed)
    share = y.sum(axis=0) / n
    seen, running = [], np.zeros(n_labels)
    batches = list(ds)
    for k, (_xb, yb) in enumerate(batches[:-1] if n % batch_size else batches, start=1):
        counts = yb.numpy().sum(axis=0)
        running += counts
        # Running label counts within one of their share; a batch within two
        # (measured: 99.7% of batch counts within one, the worst 1.26 off).
        assert np.all(np.abs(running - share * batch_size * k) < 1), (running, k)
        assert np.all(np.abs(counts - share * batch_size) < 2)
    for xb, yb in batches:
        ids = xb.numpy()[:, 0].astype(int)
        np.testing.assert_array_equal(yb.numpy(), y[ids])  # labels travel with samples
        seen.append(ids)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(n))
    with pytest.raises(ValueError, match="balance"):
        stratified_dataset(x, y, batch_size, balance=1.0)
