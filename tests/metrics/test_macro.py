import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, precision_score, recall_score

from keras_bestpractice.metrics import MacroF1, MacroPrecision, MacroRecall

PAIRS = [(MacroPrecision, precision_score), (MacroRecall, recall_score), (MacroF1, f1_score)]


# JAX compiles every new shape (n, classes) eagerly: fewer examples there, the same
# property (its update/reset paths are what differs by backend, checked below too).
@settings(max_examples=30 if keras.backend.backend() == "tensorflow" else 12, deadline=None)
@given(n=st.integers(1, 60), classes=st.integers(2, 6), seed=st.integers(0, 10_000),
       label_form=st.sampled_from(["flat", "column", "one_hot"]))
def test_matches_scikit_learn_macro_scores(n, classes, seed, label_form):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    probs = rng.random((n, classes))
    labels = {"flat": y, "column": y[:, None], "one_hot": np.eye(classes)[y]}[label_form]
    for metric_cls, oracle in PAIRS:
        metric = metric_cls()
        half = n // 2
        metric.update_state(labels[:half], probs[:half])  # two updates accumulate
        metric.update_state(labels[half:], probs[half:])
        expected = oracle(y, probs.argmax(axis=1), average="macro", zero_division=0)
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


def test_single_sigmoid_output_uses_the_threshold():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([[0.2], [0.7], [0.4], [0.6], [0.9]])
    for metric_cls, oracle in PAIRS:
        metric = metric_cls()
        metric.update_state(y, p)
        assert float(metric.result()) == pytest.approx(
            oracle(y, (p[:, 0] > 0.5).astype(int), average="macro", zero_division=0))


def test_keras_f1score_gets_sparse_column_labels_wrong_and_ours_does_not():
    y = np.array([[0], [1], [2], [1]])
    p = np.eye(3)[[0, 1, 2, 2]]
    ours = MacroF1()
    ours.update_state(y, p)
    assert float(ours.result()) == pytest.approx(f1_score(y[:, 0], [0, 1, 2, 2],
                                                          average="macro"))


def test_in_fit_logs_the_macro_names_and_resets_between_epochs():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)), rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[MacroPrecision(), MacroRecall(), MacroF1()])
    history = model.fit(x, y, validation_split=0.25, epochs=2, verbose=0)
    for key in ("precision_macro", "val_recall_macro", "val_f1_macro"):
        assert all(0.0 <= v <= 1.0 for v in history.history[key])
    metric = MacroF1(num_classes=3)
    metric.update_state(y, rng.random((64, 3)))
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert MacroF1.from_config(MacroF1(num_classes=4).get_config()).num_classes == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        MacroF1(num_classes=1)
    with pytest.raises(ValueError, match="threshold"):
        MacroRecall(threshold=1.5)


def test_macro_scores_spreads_three_keys_equal_to_the_single_metrics():
    from keras_bestpractice.metrics import MacroScores

    rng = np.random.default_rng(1)
    x, y = rng.random((64, 4)), rng.integers(0, 3, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[MacroScores(), MacroPrecision(), MacroRecall(), MacroF1()])
    history = model.fit(x, y, validation_split=0.25, epochs=1, verbose=0).history
    assert {"val_precision_macro", "val_recall_macro", "val_f1_macro"} <= set(history)
    scores = MacroScores()
    p = rng.random((64, 3))
    scores.update_state(y, p)
    out = {k: float(v) for k, v in scores.result().items()}
    assert out["f1_macro"] == pytest.approx(f1_score(y, p.argmax(1), average="macro",
                                                     zero_division=0), abs=1e-6)
