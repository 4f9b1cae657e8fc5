"""Pruning decisions: pure functions of a trial's value, its peers' values and a direction.

As Optuna's pruners do, each rule is a function of plain numbers, tested without
training; the tuner integration (`keras_bestpractice.tuning.pruning`) only
gathers the numbers and stops the trial when a rule says so.

- `median_prune`: worse than the median of the peers at the same epoch (Optuna's
  `MedianPruner`, Google Vizier's median stopping rule).
- `asha_prune`: successive halving (ASHA, Li et al., MLSys 2020): at the rungs
  `min_epochs * reduction_factor**k`, only the top `1 / reduction_factor` of the
  trials that reached the rung go on (Optuna's `SuccessiveHalvingPruner`).
- `curve_prune`: the trial's own learning curve, fitted and projected to its last
  epoch, gives it less than `1 - confidence` probability of beating the best
  finished trial (learning-curve extrapolation, Domhan et al., IJCAI 2015).

Values are the objective's per-epoch values; `direction` is KerasTuner's
`Objective.direction` ("min" or "max"); "better" is `compare.is_better`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_bestpractice._core.compare import is_better, is_finite_number, sort_key

PRUNERS = ("median", "asha", "curve")


def median_prune(value: float, peers: Sequence[float], direction: str,
                 min_peers: int = 3) -> bool:
    """True when `value` is worse than the median of `peers` (with at least `min_peers`).

    A non-finite `value` is pruned; non-finite peers are left out.
    """
    finite = [float(p) for p in peers if is_finite_number(p)]
    if not is_finite_number(value):
        return True
    if len(finite) < min_peers:
        return False
    return is_better(float(np.median(finite)), value, direction)


def asha_rungs(min_epochs: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """The epoch counts (1-based, as Keras prints) at which successive halving judges."""
    if min_epochs < 1 or reduction_factor < 2:
        raise ValueError("asha_rungs needs min_epochs >= 1 and reduction_factor >= 2, got "
                         f"{min_epochs} and {reduction_factor}.")
    rungs, r = [], min_epochs
    while r < max_epochs:
        rungs.append(r)
        r *= reduction_factor
    return rungs


def is_asha_rung(epochs_done: int, min_epochs: int, reduction_factor: int) -> bool:
    """True when `epochs_done` (1-based) is `min_epochs * reduction_factor**k` for some k."""
    r = int(min_epochs)
    while r < epochs_done:
        r *= int(reduction_factor)
    return r == epochs_done


def asha_prune(value: float, peers: Sequence[float], direction: str,
               reduction_factor: int = 3) -> bool:
    """True unless `value` is in the top `1 / reduction_factor` of the rung.

    `peers` are the values of the other trials at the same rung. The number that go
    on is `(len(peers) + 1) // reduction_factor`, at least one: with fewer peers than
    the factor only the best trial of the rung continues (as Optuna does).
    """
    if not is_finite_number(value):
        return True
    competing = sorted([float(p) for p in peers if is_finite_number(p)] + [float(value)],
                       key=lambda v: sort_key(v, direction))
    keep = max(1, len(competing) // reduction_factor)
    threshold = competing[keep - 1]
    return is_better(threshold, value, direction)


def peers_at_epoch(histories: Sequence[Sequence[tuple[int, float]]], epoch: int) -> list[float]:
    """The value each peer history (`[(epoch, value), ...]`) reached at `epoch`."""
    out = []
    for history in histories:
        for step, value in history:
            if int(step) == int(epoch) and is_finite_number(value):
                out.append(float(value))
                break
    return out


def validate_pruner(name: str) -> str:
    """`name` if it is a pruning rule, else a ValueError listing them."""
    if name not in PRUNERS:
        raise ValueError(f"`pruner` must be one of {', '.join(map(repr, PRUNERS))}; got "
                         f"{name!r}.")
    return name


def curve_prune(history: Sequence[float], best_peer: float | None, direction: str,
                budget: int, confidence: float = 0.9) -> bool:
    """True when the fitted curve of `history` (the trial's objective per epoch)
    reaches `best_peer` by epoch `budget` with probability below `1 - confidence`.
    Never prunes without a peer or with fewer epochs than a fit needs."""
    from keras_bestpractice._core.projection import project

    if best_peer is None or not is_finite_number(best_peer):
        return False
    p = project(history, direction, float(best_peer), int(budget), confidence)
    return p is not None and p.probability < 1.0 - confidence


def best_of_peers(histories: Sequence[Sequence[tuple[int, float]]], direction: str) -> float | None:
    """The best value any peer history (`[(epoch, value), ...]`) reached."""
    values = [float(v) for history in histories for _, v in history if is_finite_number(v)]
    if not values:
        return None
    return min(values, key=lambda x: sort_key(x, direction))
