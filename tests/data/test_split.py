import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import StratifiedShuffleSplit

from keras_bestpractice.data import stratified_split
from keras_bestpractice.data.split import rule_of_thumb

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def labels_from(counts):
    return np.repeat(np.arange(len(counts)), counts)


@settings(max_examples=150, deadline=None)
@given(counts=st.lists(st.integers(3, 80), min_size=2, max_size=8),
       val=st.floats(0.05, 0.3), test=st.floats(0.05, 0.3), seed=st.integers(0, 10_000))
def test_every_class_is_within_one_of_its_share_in_every_split(counts, val, test, seed):
    y = labels_from(counts)
    x = np.arange(len(y))
    tr, va, te = stratified_split(x, y, val_size=val, test_size=test, seed=seed,
                                  min_per_class=0, return_indices=True)
    n = len(y)
    assert len(np.intersect1d(tr, va)) == len(np.intersect1d(tr, te)) == 0
    assert len(np.intersect1d(va, te)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(n))
    for idx in (tr, va, te):
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
        share = np.array(counts) * len(idx) / n
        got = np.bincount(y[idx], minlength=len(counts))
        assert np.all(np.abs(got - share) < 1), (got, share)


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(5, 60), min_size=2, max_size=6),
       test=st.floats(0.1, 0.4), seed=st.integers(0, 1000))
def test_two_way_split_matches_sklearn_per_class_counts(counts, test, seed):
    """scikit-learn's StratifiedShuffleSplit is the oracle for the class counts."""
    y = labels_from(counts)
    x = np.zeros((len(y), 1))
    n_test = int(np.ceil(test * len(y)))
    assume(n_test >= len(counts) and len(y) - n_test >= len(counts))  # sklearn's own limits
    tr, va, te = stratified_split(x, y, val_size=0, test_size=test, seed=seed,
                                  min_per_class=0, return_indices=True)
    assert len(va) == 0
    oracle = StratifiedShuffleSplit(n_splits=1, test_size=len(te), random_state=seed)
    _, sk_test = next(oracle.split(x, y))
    ours = np.bincount(y[te], minlength=len(counts))
    theirs = np.bincount(y[sk_test], minlength=len(counts))
    assert len(te) == len(sk_test)
    assert np.all(np.abs(ours - theirs) <= 1)


def test_rule_of_thumb_by_data_size():
    assert rule_of_thumb(999) == 0.20 and rule_of_thumb(5000) == 0.10
    assert rule_of_thumb(50_000) == 0.05
    y = labels_from([300, 500])  # 800 samples: 20% + 20%
    (_, y_tr), (_, y_val), (_, y_te) = stratified_split(np.zeros((800, 2)), y)
    assert len(y_val) == len(y_te) == 160 and len(y_tr) == 480


def test_any_rank_x_lists_strings_and_one_hot():
    x = np.random.default_rng(0).random((40, 4, 4, 3))
    y = np.array(["cat", "dog"] * 20)
    (xt, yt), (xv, yv), (xs, ys) = stratified_split(x, y, val_size=0.25, test_size=0.25)
    assert xt.shape[1:] == (4, 4, 3) and set(yv) == {"cat", "dog"}
    one_hot = np.eye(2)[np.repeat([0, 1], 20)]
    (_, ot), (_, ov), _ = stratified_split(list(range(40)), one_hot, val_size=8, test_size=8)
    assert ov.shape == (8, 2) and ov.sum(axis=0).tolist() == [4, 4]
    assert isinstance(ot, np.ndarray)


def test_dataframe_keeps_index_and_drops_label_column():
    df = pd.DataFrame({"f": range(30), "label": ["a"] * 10 + ["b"] * 20},
                      index=[f"r{i}" for i in range(30)])
    (xt, yt), (xv, yv), (xs, ys) = stratified_split(df, "label", val_size=6, test_size=6, seed=3)
    assert "label" not in xt.columns and isinstance(yv, pd.Series)
    assert list(xv.index) == list(yv.index) and xv.index[0].startswith("r")
    assert sorted(yv.value_counts().tolist()) == [2, 4]


@pytest.mark.parametrize("call, error, match", [
    (lambda: stratified_split(np.zeros(5), np.zeros(4)), ValueError, "5 samples but `y` has 4"),
    (lambda: stratified_split(np.zeros(0), np.zeros(0)), ValueError, "empty"),
    (lambda: stratified_split(np.zeros(4), np.array([0, 1, np.nan, 1])), ValueError, "NaN"),
    (lambda: stratified_split(np.zeros(10), np.array([0] * 9 + [1])), ValueError,
     "class 1 has 1 samples"),
    (lambda: stratified_split(np.zeros(10), np.zeros(10), val_size=1.5), ValueError, "val_size"),
    (lambda: stratified_split(np.zeros(10), np.zeros(10), val_size=5, test_size=5), ValueError,
     "no training"),
    (lambda: stratified_split(pd.DataFrame({"a": [1]}), "label"), ValueError, "label column"),
    (lambda: stratified_split(np.zeros(4)), TypeError, "required"),
    (lambda: stratified_split(np.zeros(4), np.zeros(4), test_size="x"), TypeError, "test_size"),
    (lambda: stratified_split(np.zeros((4, 3)), np.ones((4, 3))), ValueError, "one-hot"),
    (lambda: stratified_split(np.zeros(10), np.repeat([0, 1], 5), val_size=0, test_size=0.1),
     ValueError, "needs 2 samples in the test split"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
