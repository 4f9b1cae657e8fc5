import math

import pytest

from keras_bestpractice._core.compare import (
    best_index,
    best_value,
    direction_of,
    is_better,
    resolve_mode,
)
from keras_bestpractice._core.history import EpochHistory, first_nonfinite
from keras_bestpractice._core.reasons import HOPELESS, StopReason

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(("value", "reference", "mode", "delta", "expected"), [
    (1.0, 2.0, "min", 0.0, True),
    (1.9, 2.0, "min", 0.5, False),   # not better by more than min_delta
    (3.0, 2.0, "max", 0.0, True),
    (2.0, 2.0, "max", 0.0, False),
    (1.0, None, "min", 0.0, True),   # anything beats nothing
    (math.nan, 1.0, "min", 0.0, False),
    (1.0, math.nan, "max", 0.0, True),
])
def test_is_better(value, reference, mode, delta, expected):
    assert is_better(value, reference, mode, delta) is expected


def test_best_and_directions():
    assert best_index([3.0, None, 1.0, math.nan, 1.0], "min") == 2  # first of ties
    assert best_value([0.1, 0.9, 0.5], "max") == 0.9
    assert best_value([None, math.nan], "max") is None
    assert resolve_mode("X", "val_accuracy", "auto") == "max"
    assert resolve_mode("X", "val_loss", "auto") == "min"
    with pytest.raises(ValueError, match="mode='max'"):
        resolve_mode("X", "thing", "auto")
    with pytest.raises(ValueError, match="`mode`"):
        resolve_mode("X", "loss", "lowest")

    class Objective:
        direction = "max"

    assert direction_of(Objective()) == "max" and direction_of("min") == "min"


def test_stop_reasons_are_plain_strings():
    assert StopReason.NAN == "nan" and f"{StopReason.MEDIAN}" == "median"
    assert StopReason.parse("diverged") is StopReason.DIVERGED and StopReason.parse("") is None
    assert {StopReason.NAN, StopReason.INF, StopReason.DIVERGED,
                        StopReason.NOT_LEARNING} == HOPELESS
    assert not StopReason.MEDIAN.hopeless and StopReason.OBJECTIVE_MET.is_success
    with pytest.raises(ValueError, match="unknown stop reason"):
        StopReason.parse("tired")


def test_epoch_history_aligns_keys_and_marks_missing_as_nan():
    h = EpochHistory()
    h.append(0, {"loss": 1.0})
    h.append(1, {"loss": 0.5, "val_loss": 0.7, "text": "x"})
    assert h.data["loss"] == [1.0, 0.5]
    assert math.isnan(h.data["val_loss"][0]) and h.data["val_loss"][1] == 0.7
    assert math.isnan(h.data["text"][1]) and h.epochs == [0, 1]
    again = EpochHistory.from_dict(h.to_dict(with_epoch=True))
    assert again.epochs == [0, 1] and again.get("loss", start=1) == [0.5]
    assert first_nonfinite({"loss": 1.0, "acc": math.inf}) == ("acc", math.inf)
    assert first_nonfinite({"loss": 1.0}) is None


def test_mode_from_name_reads_names_like_auto_and_says_none_otherwise():
    from keras_bestpractice._core.compare import mode_from_name

    assert mode_from_name("val_loss") == "min" and mode_from_name("val_f1_macro") == "max"
    assert mode_from_name("val_loss_slope") == "min" and mode_from_name("lr") is None


def test_epoch_history_tells_a_continued_run_from_a_new_one_and_places_values_by_epoch():
    from keras_bestpractice._core.history import EpochHistory, history_dict, place_by_epoch

    history = EpochHistory()
    assert not history.is_new_run(0)
    history.append(2, {"val_accuracy": 0.5})
    history.append(4, {"val_accuracy": 0.7})
    assert history.is_new_run(4) and history.is_new_run(0) and not history.is_new_run(5)
    got = history.by_epoch("val_accuracy")
    assert len(got) == 5 and got[2] == 0.5 and got[4] == 0.7
    assert all(math.isnan(got[i]) for i in (0, 1, 3))
    assert all(math.isnan(x) for x in history.by_epoch("never_logged"))
    assert place_by_epoch([], []) == []
    # A fine_tune history (with its text `phase` column) is a reference like any other.
    as_dict = history_dict({"loss": [1, 0.5], "phase": ["head", "head"]})
    assert as_dict["loss"] == [1.0, 0.5] and all(math.isnan(x) for x in as_dict["phase"])
    assert history_dict([0.1, 0.2]) is None
