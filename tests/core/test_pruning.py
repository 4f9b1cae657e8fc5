"""The pruning rules as pure functions: peers, value, direction -> prune or not."""

import math

import pytest

from keras_bestpractice._core.pruning import (
    asha_prune,
    asha_rungs,
    is_asha_rung,
    median_prune,
    peers_at_epoch,
    validate_pruner,
)

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(("value", "peers", "direction", "min_peers", "expected"), [
    (0.5, [0.6, 0.7, 0.8], "max", 3, True),      # below the median accuracy
    (0.75, [0.6, 0.7, 0.8], "max", 3, False),    # above it
    (0.7, [0.6, 0.7, 0.8], "max", 3, False),     # equal is not worse
    (0.5, [0.6, 0.7], "max", 3, False),          # too few peers
    (0.9, [0.3, 0.4, 0.5], "min", 3, True),      # a loss above the median
    (0.2, [0.3, 0.4, 0.5], "min", 3, False),
    (math.nan, [0.3, 0.4, 0.5], "min", 3, True),  # a non-finite value is pruned
    (0.5, [0.6, math.nan, 0.7, 0.8], "max", 3, True),  # non-finite peers left out
])
def test_median_rule(value, peers, direction, min_peers, expected):
    assert median_prune(value, peers, direction, min_peers) is expected


def test_asha_rungs_and_membership():
    assert asha_rungs(1, 3, 30) == [1, 3, 9, 27]
    assert asha_rungs(2, 2, 20) == [2, 4, 8, 16]
    assert [e for e in range(1, 30) if is_asha_rung(e, 1, 3)] == [1, 3, 9, 27]
    with pytest.raises(ValueError, match="reduction_factor"):
        asha_rungs(1, 1, 10)


@pytest.mark.parametrize(("value", "peers", "direction", "factor", "expected"), [
    (0.9, [], "max", 3, False),                          # alone at the rung: goes on
    (0.5, [0.9], "max", 3, True),                        # fewer than the factor: only the best
    (0.9, [0.5], "max", 3, False),
    (0.8, [0.9, 0.7, 0.6, 0.5, 0.4], "max", 3, False),   # 6 at the rung: the top 2 go on
    (0.7, [0.9, 0.8, 0.6, 0.5, 0.4], "max", 3, True),
    (0.2, [0.1, 0.3, 0.4, 0.5, 0.6], "min", 3, False),   # losses: lower is better
    (0.3, [0.1, 0.2, 0.4, 0.5, 0.6], "min", 3, True),
    (math.inf, [0.1], "min", 3, True),
])
def test_asha_rule(value, peers, direction, factor, expected):
    assert asha_prune(value, peers, direction, factor) is expected


def test_peers_at_epoch_and_names():
    histories = [[(0, 0.5), (1, 0.6)], [(0, 0.4)], [(1, math.nan)]]
    assert peers_at_epoch(histories, 1) == [0.6]
    assert peers_at_epoch(histories, 0) == [0.5, 0.4]
    assert validate_pruner("asha") == "asha"
    with pytest.raises(ValueError, match="`pruner`"):
        validate_pruner("hyperband")
