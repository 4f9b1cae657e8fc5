import math
import types

import numpy as np
import pandas as pd
import pytest

from keras_bestpractice.diagnostics.curves import Curves

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def test_dict_of_lists_and_accuracy_spellings():
    c = Curves.from_any({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "acc": [0.2, 0.6],
                         "val_acc": [0.1, 0.5]})
    assert len(c) == 2
    assert c.accuracy_key == "acc" and c.val_accuracy_key == "val_acc"
    np.testing.assert_allclose(c.val_accuracy, [0.1, 0.5])
    assert list(c.epochs) == [0, 1]


@pytest.mark.parametrize("key", ["accuracy", "sparse_categorical_accuracy",
                                 "categorical_accuracy", "binary_accuracy"])
def test_accuracy_key_variants(key):
    c = Curves.from_any({"loss": [1.0], key: [0.5], f"val_{key}": [0.4]})
    assert c.accuracy_key == key and c.val_accuracy_key == f"val_{key}"


def test_history_object_uses_its_epoch_list():
    hist = types.SimpleNamespace(history={"loss": [3.0, 2.0, 1.0]}, epoch=[4, 5, 6])
    c = Curves.from_any(hist)
    assert list(c.epochs) == [4, 5, 6]


def test_dataframe_and_csv_with_resumed_duplicate_epochs(tmp_path):
    csv = tmp_path / "log.csv"
    csv.write_text("epoch,loss,val_loss\n0,2.0,2.1\n1,1.5,1.6\n2,1.2,1.3\n"
                   "1,1.4,1.5\n2,1.1,1.2\n3,nan,nan\n")
    c = Curves.from_any(csv)
    assert list(c.epochs) == [0, 1, 2, 3]
    assert c.loss[1] == 1.4 and c.loss[2] == 1.1  # the resumed run's rows win
    assert math.isnan(c.loss[3])
    assert any("duplicated" in n for n in c.notes)
    frame = pd.read_csv(csv)
    assert len(Curves.from_any(frame)) == 4


def test_validation_every_second_epoch_is_aligned():
    c = Curves.from_any({"loss": [4, 3, 2, 1], "val_loss": [3.5, 1.5]})
    assert np.isnan(c.val_loss[0]) and c.val_loss[1] == 3.5 and c.val_loss[3] == 1.5


@pytest.mark.parametrize(("epochs", "values", "placed"), [
    (5, 2, [1, 3]),         # validation_freq=2 over 5 epochs: after epochs 2 and 4
    (7, 2, [2, 5]),         # validation_freq=3: after epochs 3 and 6 (was put on 6 and 7)
    (6, 6, list(range(6))),
])
def test_shorter_validation_is_placed_where_validation_freq_logs_it(epochs, values, placed):
    c = Curves.from_any({"loss": list(range(epochs, 0, -1)),
                         "val_loss": [float(v) for v in range(values)]})
    assert np.flatnonzero(np.isfinite(c.val_loss)).tolist() == placed


def test_a_validation_list_no_validation_freq_explains_is_refused():
    """Issue #26: a `val_loss` shorter than `loss` was placed on the last epochs, silently."""
    with pytest.raises(ValueError, match="`val_loss` has 2 values for 10 epochs"):
        Curves.from_any({"loss": list(range(10)), "val_loss": [1.0, 0.5]})  # k = 4 or 5


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="history"):
        Curves.from_any(42)
    with pytest.raises(ValueError, match="not a number"):
        Curves.from_any({"loss": [1.0, "oops"]})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Curves.from_any(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        Curves.from_any(empty)


def test_a_label_column_is_left_out_with_a_note_and_a_mixed_one_is_refused():
    history = {"loss": [1.0, 0.8, 0.7], "phase": ["head", "head", "unfreeze block2"]}
    curves = Curves.from_any(history)
    assert "phase" not in curves.series and list(curves.loss) == [1.0, 0.8, 0.7]
    assert any("`phase` holds labels" in note for note in curves.notes)
    with pytest.raises(ValueError, match="not a number at position 1"):
        Curves.from_any({"loss": [1.0, 0.8], "val_loss": [0.9, "oops"]})
