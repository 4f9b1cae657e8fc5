import math

import pytest

from keras_bestpractice._core.compare import Direction
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
    assert Direction.of(mode).is_better(value, reference, delta) is expected


def test_best_and_directions():
    assert Direction.MIN.best_index([3.0, None, 1.0, math.nan, 1.0]) == 2  # first of ties
    assert Direction.MAX.best_index([0.5, 0.9, 0.9]) == 1  # first of ties either way
    assert Direction.MAX.best_value([0.1, 0.9, 0.5]) == 0.9
    assert Direction.MAX.best_value([None, math.nan]) is None
    assert Direction.resolve("X", "val_accuracy", "auto") is Direction.MAX
    assert Direction.resolve("X", "val_loss", "auto") is Direction.MIN
    assert Direction.MIN == "min" and f"{Direction.MAX}" == "max" and str(Direction.MIN) == "min"
    assert sorted([0.2, math.nan, 0.9], key=Direction.MAX.sort_key)[:2] == [0.9, 0.2]
    assert list(Direction.MIN.running_best([3.0, math.nan, 1.0, 2.0])) == [3.0, 3.0, 1.0, 1.0]
    assert Direction.MAX.reached(0.9, 0.9) and not Direction.MIN.reached(math.nan, 1.0)
    with pytest.raises(ValueError, match="mode='max'"):
        Direction.resolve("X", "thing", "auto")
    with pytest.raises(ValueError, match="`mode`"):
        Direction.resolve("X", "loss", "lowest")

    class Objective:
        direction = "max"

    assert Direction.of(Objective()) is Direction.MAX and Direction.of("min") is Direction.MIN
    with pytest.raises(ValueError, match="`direction` must be 'min' or 'max'"):
        Direction.of("up", name="direction")


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
    assert Direction.from_name("val_loss") == "min"
    assert Direction.from_name("val_f1_macro") == "max"
    assert Direction.from_name("val_loss_slope") == "min" and Direction.from_name("lr") is None


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
