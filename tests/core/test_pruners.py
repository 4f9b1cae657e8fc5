"""The pruners as pure objects: a trial's curve, its peers' curves -> prune or not."""

import math

import pytest

from keras_bestpractice._core.pruners import (
    ASHAPruner,
    CurvePruner,
    MedianPruner,
    Pruner,
    make_pruner,
    values_at,
)
from keras_bestpractice._core.reasons import StopReason

# Reads no backend: runs once, on the TensorFlow pass (see tests/conftest.py).
pytestmark = pytest.mark.backend_independent


def at_epoch(values, epoch=2):
    """Curves whose value at `epoch` (0-based) is each of `values`."""
    return [[0.0] * epoch + [v] for v in values]


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
    pruner = MedianPruner(min_peers=min_peers)
    assert pruner.prune([0.0, 0.0, value], at_epoch(peers), direction=direction) is expected


def test_median_compares_at_the_same_epoch_and_waits_for_min_epochs():
    peers = [[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]]
    assert MedianPruner().prune([0.5], peers, direction="max")        # epoch 1: behind 0.9
    assert not MedianPruner().prune([0.9, 0.5], peers, direction="max")  # epoch 2: ahead of 0.1
    assert not MedianPruner(min_epochs=2).prune([0.5], peers, direction="max")
    assert not MedianPruner().prune([], peers, direction="max")


def test_asha_rungs_and_membership():
    assert ASHAPruner(1, 3).rungs(30) == [1, 3, 9, 27]
    assert ASHAPruner(2, 2).rungs(20) == [2, 4, 8, 16]
    assert [e for e in range(1, 30) if ASHAPruner(1, 3).is_rung(e)] == [1, 3, 9, 27]
    with pytest.raises(ValueError, match="reduction_factor"):
        ASHAPruner(1, 1)


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
    # The third epoch is a rung of (min_epochs=1, factor=3).
    pruner = ASHAPruner(1, factor)
    assert pruner.prune([0.0, 0.0, value], at_epoch(peers), direction=direction) is expected


def test_asha_judges_only_at_rungs():
    pruner = ASHAPruner(1, 3)
    assert not pruner.prune([0.0, 0.1], at_epoch([0.9], epoch=1), direction="max")  # epoch 2
    assert pruner.prune([0.1], at_epoch([0.9], epoch=0), direction="max")           # epoch 1


def test_values_at_names_and_reasons():
    curves = [[0.5, 0.6], [0.4], [None, math.nan]]
    assert values_at(curves, 1) == [0.6]
    assert values_at(curves, 0) == [0.5, 0.4]
    assert make_pruner("asha") == ASHAPruner(1, 3)
    assert make_pruner("median", min_peers=5) == MedianPruner(1, 5)
    custom = CurvePruner(min_peers=1, confidence=0.8)
    assert make_pruner(custom) is custom
    assert [p.reason for p in (MedianPruner(), ASHAPruner(), CurvePruner())] == [
        StopReason.MEDIAN, StopReason.ASHA, StopReason.CURVE]
    with pytest.raises(ValueError, match="`pruner`"):
        make_pruner("hyperband")
    with pytest.raises(TypeError, match="`pruner`"):
        make_pruner(3)
    with pytest.raises(NotImplementedError):
        Pruner().prune([1.0], [], direction="min")


@pytest.mark.parametrize("pruner", [MedianPruner(min_peers=1, min_steps=50),
                                    ASHAPruner(1, 3, min_steps=50),
                                    make_pruner("median", min_peers=1, min_steps=50)])
def test_no_trial_is_judged_before_min_steps_optimizer_steps(pruner):
    # Issue #26: at one optimizer step per epoch, two epochs said nothing about a trial.
    peers = [[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]]
    assert not pruner.prune([0.1], peers, direction="max", steps=1)
    assert not pruner.prune([0.1], peers, direction="max", steps=49)
    assert pruner.prune([0.1], peers, direction="max", steps=50)
    assert pruner.prune([0.1], peers, direction="max")  # steps unknown: by epochs alone
    with pytest.raises(ValueError, match="min_steps"):
        MedianPruner(min_steps=-1)


def _reference_median(value, peers, direction):
    import numpy as np

    finite = values_at(peers, 2)
    if len(finite) < 3:
        return False
    median = float(np.median(finite))
    return median > value if direction == "max" else median < value


def _reference_asha(value, peers, direction):
    competing = sorted([*values_at(peers, 2), value], reverse=direction == "max")
    keep = max(1, len(competing) // 3)
    kept = competing[keep - 1]
    return kept > value if direction == "max" else kept < value


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(value=st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9]),
       peers=st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9, math.nan]), max_size=12),
       direction=st.sampled_from(["max", "min"]))
def test_sorted_peers_decide_as_the_plain_median_and_halving(value, peers, direction):
    # Issue #24: the checks read each epoch's peer values sorted once (PeerCurves); the
    # decisions are those of the plain median and of ranking every competitor, ties and
    # NaN included.
    from keras_bestpractice._core.pruners import PeerCurves

    curves = at_epoch(peers)
    history = [0.0, 0.0, value]
    for given_peers in (curves, PeerCurves(curves)):
        assert MedianPruner(min_peers=3).prune(history, given_peers, direction=direction) \
            == _reference_median(value, curves, direction)
        assert ASHAPruner(min_epochs=3).prune(history, given_peers, direction=direction) \
            == _reference_asha(value, curves, direction)


def test_peer_curves_sort_each_epoch_once():
    from keras_bestpractice._core.pruners import PeerCurves

    peers = PeerCurves(at_epoch([0.6, 0.7, 0.8]))
    first = peers.sorted_at(2)
    assert list(first) == [0.6, 0.7, 0.8] and peers.sorted_at(2) is first
    assert peers.best("max") == 0.8 and peers.best("min") == 0.0
    assert len(peers) == 3 and peers[0] == [0.0, 0.0, 0.6]
