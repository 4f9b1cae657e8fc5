import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bestpractice.tuning import lr_range_test, lr_sweep
from keras_bestpractice.tuning.lr_analysis import exponential_schedule, smooth, suggestions
from tests.tuning.helpers import digits_splits


def mlp(lr=1e-3, dropout=0.2):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(dropout),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def state(model):
    return [w.copy() for w in model.get_weights()] + [
        v.numpy().copy() for v in model.optimizer.variables] + [
        v.numpy().copy() for v in model.variables]


def test_range_test_on_digits_suggests_a_sane_rate_and_restores_everything(tmp_path):
    (xt, yt), _ = digits_splits(n=1000)
    model = mlp()
    model.fit(xt[:64], yt[:64], epochs=1, verbose=0)  # some optimizer state to restore
    before = state(model)
    result = lr_range_test(model, xt, yt)
    assert 1e-4 <= result.suggestion <= 1e-1
    assert set(result.suggestions) == {"valley", "steepest", "minimum/10"}
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses) <= 100
    after = state(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    frame = result.to_dataframe()
    assert list(frame.columns) == ["lr", "loss", "smoothed_loss"]
    # Issue #26: print(result) was 300 lines of arrays; now one line that says what matters.
    text = str(result)
    assert "\n" not in text and len(text) < 300 and "valley=" in text
    assert text.startswith(f"LRFinderResult({len(result.lrs)} steps")
    path = tmp_path / "lr.png"
    result.plot(path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_absurd_range_stops_early_and_restores_bitwise():
    (xt, yt), _ = digits_splits(n=400)
    model = mlp()
    model.optimizer.build(model.trainable_variables)  # so both states list the same variables
    before = state(model)
    result = lr_range_test(model, xt, yt, min_lr=10.0, max_lr=1e8, num_steps=60)
    assert result.stopped_early and len(result.lrs) < 60
    assert all(np.array_equal(a, b) for a, b in zip(before, state(model), strict=True))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


def test_dataset_input():
    (xt, yt), _ = digits_splits(n=400)
    ds = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(32)
    result = lr_range_test(mlp(), ds, num_steps=20)
    assert len(result.lrs) == 20


def test_recorded_losses_are_each_batch_own_loss_and_rates_are_applied():
    (xt, yt), _ = digits_splits(n=400)
    batches = [(xt[i:i + 32], yt[i:i + 32]) for i in range(0, 320, 32)]
    model = mlp(dropout=0.0)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    # At 1e-12 the weights do not move, so each batch's loss is the initial model's.
    expected = [float(loss_fn(yb, model(xb))) for xb, yb in batches]
    ds = tf.data.Dataset.from_tensor_slices((xt[:320], yt[:320])).batch(32)
    result = lr_range_test(model, ds, min_lr=1e-12, max_lr=2e-12, num_steps=10)
    np.testing.assert_allclose(result.raw_losses, expected, rtol=1e-5)
    assert np.ptp(expected) > 0.05  # a running mean would not match

    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate.numpy()))

    # the rate each step trains with is the schedule's (read back inside fit)
    model = mlp()
    original = model.fit
    model.fit = lambda *a, **k: original(*a, **{**k, "callbacks": k["callbacks"] + [Spy()]})
    result = lr_range_test(model, ds.repeat(), min_lr=1e-5, max_lr=1e-1, num_steps=12,
                           stop_factor=1e9)
    np.testing.assert_allclose(seen, result.lrs, rtol=1e-6)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


def test_steps_per_execution_gives_the_same_suggestion_and_is_put_back():
    (xt, yt), _ = digits_splits(n=1000)
    one = lr_range_test(mlp(), xt, yt, seed=0)
    model = mlp()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=4)
    four = lr_range_test(model, xt, yt, seed=0)
    assert len(four.lrs) == len(one.lrs)
    assert 0.5 <= four.suggestion / one.suggestion <= 2.0, (one.suggestion, four.suggestion)
    assert model.steps_per_execution == 4


def test_a_schedule_optimizer_is_replaced_for_the_test_and_restored():
    (xt, yt), _ = digits_splits(n=400)
    model = mlp()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.5)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy")
    result = lr_range_test(model, xt, yt, num_steps=20)
    assert len(result.lrs) == 20 and np.all(np.diff(result.lrs) > 0)
    assert model.optimizer._learning_rate is schedule or \
        model.optimizer.learning_rate is schedule or \
        isinstance(model.optimizer._learning_rate, type(schedule))


def test_every_loss_non_finite_says_so_and_why():
    (xt, yt), _ = digits_splits(n=400)
    xt = xt.copy()
    xt[:, 3] = np.nan
    # A softmax regression: NaN inputs reach the loss (a ReLU would map NaN to 0 on
    # TensorFlow's oneDNN kernels and hide them).
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="non-finite|NaN"):
        lr_range_test(model, xt, yt, num_steps=10)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"min_lr": 0.0}, ValueError, "min_lr"),
    ({"min_lr": 1.0, "max_lr": 0.1}, ValueError, "max_lr"),
    ({"num_steps": 1}, ValueError, "num_steps"),
    ({"smoothing": 1.0}, ValueError, "smoothing"),
    ({"stop_factor": 1.0}, ValueError, "stop_factor"),
    ({"batch_size": 0}, ValueError, "batch_size"),
])
def test_bad_arguments(kwargs, error, match):
    x, y = np.zeros((8, 64), "float32"), np.zeros(8)
    with pytest.raises(error, match=match):
        lr_range_test(mlp(), x, y, **kwargs)


def test_model_must_be_compiled():
    x, y = np.zeros((8, 64), "float32"), np.zeros(8)
    raw = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="compiled"):
        lr_range_test(raw, x, y)
    with pytest.raises(ValueError, match="`y` is required"):
        lr_range_test(mlp(), x)


def test_pure_analysis_helpers():
    lrs = exponential_schedule(1e-6, 1.0, 61)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    loss = np.concatenate([np.full(20, 2.3), np.linspace(2.3, 0.3, 30), np.geomspace(0.3, 30, 11)])
    sm = smooth(loss, 0.0)
    found = suggestions(lrs, sm)
    assert lrs[20] <= found["valley"] <= lrs[50]
    assert lrs[20] <= found["steepest"] <= lrs[50]
    assert found["minimum/10"] == pytest.approx(lrs[int(np.argmin(sm))] / 10)
    assert smooth([1.0, 1.0], 0.9)[1] == pytest.approx(1.0)  # bias corrected


def test_lr_sweep_labels_bad_rates_and_refines(tmp_path):
    (xt, yt), (xv, yv) = digits_splits(n=500)

    def build():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])

    result = lr_sweep(build, xt, yt, learning_rates=(3.0, 1e-2, 1e-6), epochs=3,
                      validation_data=(xv, yv), num_classes=10)
    assert result.verdicts[3.0] in ("not_learning", "nan_loss", "diverging")
    assert result.verdicts[1e-6] in ("not_learning", "slow_convergence")
    assert result.best_lr in (1e-2, 2e-2, 5e-3)
    assert sorted(result.refined) == [5e-3, 2e-2]
    frame = result.to_dataframe()
    assert len(frame) == 5 and frame["best"].sum() == 1
    assert "\n" not in repr(result) and f"best_lr={result.best_lr:.3g}" in repr(result)
    path = tmp_path / "sweep.png"
    result.plot(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="learning_rates"):
        lr_sweep(build, xt, yt, learning_rates=())
