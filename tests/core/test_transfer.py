"""The negative-transfer rule (pure; issue #17)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_bestpractice._core.transfer import best_so_far, check_negative_transfer

pytestmark = pytest.mark.backend_independent

SCRATCH = [0.30, 0.45, 0.55, 0.62, 0.68, 0.72, 0.75, 0.77, 0.78, 0.79]


def test_fires_after_patience_epochs_in_the_window_with_the_numbers():
    transferred = [0.40, 0.50, 0.55, 0.58, 0.60, 0.62, 0.63, 0.64, 0.64, 0.65]
    check = check_negative_transfer(transferred, SCRATCH, margin=0.02)
    # Trails by more than 0.02 from epoch 4 on, but judged from epoch 5: fires at epoch 6.
    assert (check.since, check.epoch) == (4, 5)
    assert check.transferred == 0.62 and check.reference == 0.72
    assert check.gap == pytest.approx(0.10) and check.mode == "max"
    assert "0.62" in check.describe() and "since epoch 5" in check.describe()


def test_silent_when_transfer_keeps_up_or_only_dips_once():
    assert check_negative_transfer([x + 0.01 for x in SCRATCH], SCRATCH) is None
    dip = list(SCRATCH)
    dip[5] = 0.5  # one bad epoch: the best so far does not fall
    assert check_negative_transfer(dip, SCRATCH) is None
    # Worse, but only before the window: not judged yet.
    assert check_negative_transfer([0.1, 0.2, 0.3], SCRATCH[:3]) is None


def test_a_loss_monitor_compares_downwards_and_nan_epochs_are_skipped():
    scratch_loss = [2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.75, 0.7]
    worse = [2.0, 1.8, math.nan, 1.5, 1.4, math.nan, 1.3, 1.2]
    check = check_negative_transfer(worse, scratch_loss, monitor="val_loss", margin=0.1)
    assert check.mode == "min" and check.epoch == 5 and check.transferred == 1.4
    assert check_negative_transfer(scratch_loss, worse, monitor="val_loss") is None


@pytest.mark.parametrize("kwargs, error, match", [
    ({"window": (0, 10)}, ValueError, "window"),
    ({"window": (6, 5)}, ValueError, "window"),
    ({"window": 5}, TypeError, "window"),
    ({"margin": -0.1}, ValueError, "margin"),
    ({"patience": 0}, ValueError, "patience"),
    ({"mode": "up"}, ValueError, "mode"),
])
def test_bad_settings_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_negative_transfer(SCRATCH, SCRATCH, **kwargs)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_best_so_far_is_monotone_and_bounded(values):
    best = best_so_far(values, "max")
    assert all(b2 >= b1 for b1, b2 in zip(best, best[1:], strict=False))
    assert best[-1] == max(values)


@given(st.lists(st.floats(0, 1), min_size=10, max_size=12), st.floats(0, 0.2))
def test_never_fires_against_itself_or_a_worse_reference(values, delta):
    assert check_negative_transfer(values, values) is None
    assert check_negative_transfer(values, [max(0.0, x - delta) for x in values]) is None
