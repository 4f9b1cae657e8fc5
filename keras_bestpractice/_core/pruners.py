"""Pruners: objects that decide, from plain numbers, whether a trial stops now.

As Optuna's pruners (`BasePruner.prune(study, trial)`), each pruner holds its
settings and answers one question, `prune(history, peers, direction=...)`:
should the trial whose objective went `history` (one value per epoch so far,
`None`/NaN where it was not logged) stop, given the objective curves of the
finished trials it competes with? They are pure (no Keras), tested without
training; the tuner (`keras_bestpractice.tuning.pruning`) only gathers the curves
and stops the trial when its pruner says so.

- `MedianPruner`: worse than the median of the peers at the same epoch (Optuna's
  `MedianPruner`, Google Vizier's median stopping rule).
- `ASHAPruner`: successive halving (ASHA, Li et al., MLSys 2020): at the rungs
  `min_epochs * reduction_factor**k`, only the top `1 / reduction_factor` of the
  trials that reached the rung go on (Optuna's `SuccessiveHalvingPruner`).
- `CurvePruner`: the trial's own learning curve, fitted and projected to its last
  epoch, gives it less than `1 - confidence` probability of beating the best
  finished trial (learning-curve extrapolation, Domhan et al., IJCAI 2015).

"Better" is `Direction` (KerasTuner's `Objective.direction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._core.compare import Direction, is_finite_number
from keras_bestpractice._core.reasons import StopReason

Curve = Sequence[Any]  # one objective value per epoch (None/NaN: not logged)


def values_at(curves: Sequence[Curve], epoch: int) -> list[float]:
    """The finite value each curve has at `epoch` (0-based); curves without one are
    left out."""
    return [float(c[epoch]) for c in curves if len(c) > epoch and is_finite_number(c[epoch])]


def best_of(curves: Sequence[Curve], direction: Direction | str) -> float | None:
    """The best finite value any curve reached, or `None`."""
    if isinstance(curves, PeerCurves):
        return curves.best(direction)
    return Direction.of(direction).best_value(v for c in curves for v in c)


class PeerCurves(Sequence):
    """The finished peers' curves, kept sorted per epoch as peers are added: a check reads
    the epoch's sorted values (sorted once, then each new peer inserted in place) and
    costs O(log peers), not a pass over every peer (issue #24: 0.17 ms per check at 1000
    finished trials against 0.017 at 10). A sequence of curves to everything else."""

    def __init__(self, curves: Sequence[Curve] = (), keys: Sequence[str] | None = None):
        self._curves: list[list] = []
        self._keys: list[str | None] = []
        self._sorted: dict[int, np.ndarray] = {}
        self._best: dict[Direction, float | None] = {}
        for i, curve in enumerate(curves):
            self.add(curve, None if keys is None else keys[i])

    def __len__(self) -> int:
        return len(self._curves)

    def __getitem__(self, index):
        return self._curves[index]

    def add(self, curve: Curve, key: str | None = None) -> None:
        """One more finished peer (`key`: its trial id, for `without`)."""
        curve = list(curve)
        self._curves.append(curve)
        self._keys.append(key)
        for epoch, ascending in self._sorted.items():
            if len(curve) > epoch and is_finite_number(curve[epoch]):
                value = float(curve[epoch])
                self._sorted[epoch] = np.insert(
                    ascending, int(np.searchsorted(ascending, value)), value)
        for direction, best in self._best.items():
            mine = direction.best_value(curve)
            self._best[direction] = direction.best_value(
                [b for b in (best, mine) if b is not None])

    def without(self, key: str) -> PeerCurves:
        """These peers less the one added as `key` (itself when there is none)."""
        if key not in self._keys:
            return self
        return PeerCurves([c for c, k in zip(self._curves, self._keys, strict=True) if k != key],
                          [k for k in self._keys if k != key])

    def sorted_at(self, epoch: int) -> np.ndarray:
        """The peers' finite values at `epoch` (0-based), ascending."""
        found = self._sorted.get(epoch)
        if found is None:
            found = np.sort(np.asarray(values_at(self._curves, epoch), dtype=np.float64))
            self._sorted[epoch] = found
        return found

    def best(self, direction: Direction | str) -> float | None:
        direction = Direction.of(direction)
        if direction not in self._best:
            self._best[direction] = direction.best_value(
                v for c in self._curves for v in c)
        return self._best[direction]


def _sorted_at(peers: Sequence[Curve], epoch: int) -> np.ndarray:
    if isinstance(peers, PeerCurves):
        return peers.sorted_at(epoch)
    return np.sort(np.asarray(values_at(peers, epoch), dtype=np.float64))


def _better_count(ascending: np.ndarray, value: float, direction: Direction) -> int:
    """How many of the sorted values are strictly better than `value`."""
    if direction is Direction.MAX:
        return int(ascending.size - np.searchsorted(ascending, value, side="right"))
    return int(np.searchsorted(ascending, value, side="left"))


class Pruner:
    """The base of the pruners: settings, the reason it stops a trial with, and `prune`.

    Peers are compared epoch for epoch, that is at equal samples seen (their epochs
    go over the same training data). An epoch of a small data set at a large batch
    is only a few optimizer steps, too few to judge by (issue #26: wine, 106
    samples at batch 128, pruned after 2 steps, reached 0.92-1.00 accuracy by its
    15th): no trial is judged before `min_steps` optimizer steps either.

    Attributes:
        reason: the `StopReason` a trial stopped by this pruner records.
        min_epochs: first epoch (1-based, as Keras prints) at which it may prune.
        min_steps: optimizer steps a trial must have taken before it may prune.
    """

    reason: ClassVar[StopReason]

    def __init__(self, min_epochs: int = 1, min_steps: int = 0):
        self.min_epochs = v.check_int("min_epochs", min_epochs, minimum=1)
        self.min_steps = v.check_int("min_steps", min_steps, minimum=0)

    def prune(self, history: Curve, peers: Sequence[Curve], *, direction: Direction | str,
              budget: int | None = None, steps: int | None = None) -> bool:
        """True when the trial whose objective went `history` should stop now.

        Args:
            history: the trial's objective per epoch so far; the last value is
                the epoch just finished.
            peers: the objective curves of the finished trials it competes with
                (hopeless ones already left out).
            direction: which way the objective improves.
            budget: the trial's last epoch (1-based), when known.
            steps: optimizer steps the trial has taken, when known.
        """
        if not history or len(history) < self.min_epochs:
            return False
        if steps is not None and steps < self.min_steps:
            return False
        if not isinstance(peers, PeerCurves):
            peers = list(peers)
        return self._prune(list(history), peers, Direction.of(direction), budget)

    def _prune(self, history: list, peers: list, direction: Direction,
               budget: int | None) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({settings})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


class MedianPruner(Pruner):
    """Prunes a trial worse than the median of its peers at the same epoch.

    A non-finite value is pruned; peers without a finite value there are left out.

    Args:
        min_epochs: first epoch (1-based) at which it may prune. Defaults to `1`.
        min_peers: peers needed at that epoch before it applies. Defaults to `3`.
        min_steps: optimizer steps before it may prune. Defaults to `0`.
    """

    reason = StopReason.MEDIAN

    def __init__(self, min_epochs: int = 1, min_peers: int = 3, min_steps: int = 0):
        super().__init__(min_epochs, min_steps)
        self.min_peers = v.check_int("min_peers", min_peers, minimum=1)

    def _prune(self, history, peers, direction, budget):
        value = history[-1]
        if not is_finite_number(value):
            return True
        ascending = _sorted_at(peers, len(history) - 1)
        n = ascending.size
        if n < self.min_peers:
            return False
        median = float(ascending[n // 2]) if n % 2 else \
            0.5 * (float(ascending[n // 2 - 1]) + float(ascending[n // 2]))
        return direction.is_better(median, value)


class ASHAPruner(Pruner):
    """Successive halving: at each rung only the top `1 / reduction_factor` go on.

    The rungs are the epochs (1-based) `min_epochs * reduction_factor**k`. The
    number that go on is `(peers at the rung + 1) // reduction_factor`, at least
    one: with fewer peers than the factor only the best trial of the rung
    continues (as Optuna does).

    Args:
        min_epochs: the first rung. Defaults to `1`.
        reduction_factor: the factor between rungs (>= 2). Defaults to `3`.
        min_steps: optimizer steps before it may prune (a rung passed earlier is
            not judged). Defaults to `0`.
    """

    reason = StopReason.ASHA

    def __init__(self, min_epochs: int = 1, reduction_factor: int = 3, min_steps: int = 0):
        super().__init__(min_epochs, min_steps)
        self.reduction_factor = v.check_int("reduction_factor", reduction_factor, minimum=2)

    def rungs(self, max_epochs: int) -> list[int]:
        """The epochs (1-based) below `max_epochs` at which it judges."""
        rungs, r = [], self.min_epochs
        while r < max_epochs:
            rungs.append(r)
            r *= self.reduction_factor
        return rungs

    def is_rung(self, epochs_done: int) -> bool:
        """True when `epochs_done` (1-based) is a rung."""
        r = self.min_epochs
        while r < epochs_done:
            r *= self.reduction_factor
        return r == epochs_done

    def _prune(self, history, peers, direction, budget):
        if not self.is_rung(len(history)):
            return False
        value = history[-1]
        if not is_finite_number(value):
            return True
        # The trial goes on when it is among the top `keep` of the rung (itself
        # included): it is pruned when `keep` peers or more are strictly better.
        ascending = _sorted_at(peers, len(history) - 1)
        keep = max(1, (ascending.size + 1) // self.reduction_factor)
        return _better_count(ascending, float(value), direction) >= keep


class CurvePruner(Pruner):
    """Prunes a trial whose fitted learning curve gives it less than `1 - confidence`
    probability of beating the best finished trial by its last epoch.

    Never prunes without a budget, with fewer than `min_peers` finished peers, or
    with fewer epochs than a fit needs (4).

    Args:
        min_epochs: first epoch (1-based) at which it may prune. Defaults to `1`.
        min_peers: finished peers needed. Defaults to `3`.
        confidence: how sure the projection must be. Defaults to `0.9`.
        min_steps: optimizer steps before it may prune. Defaults to `0`.
    """

    reason = StopReason.CURVE

    def __init__(self, min_epochs: int = 1, min_peers: int = 3, confidence: float = 0.9,
                 min_steps: int = 0):
        super().__init__(min_epochs, min_steps)
        self.min_peers = v.check_int("min_peers", min_peers, minimum=1)
        self.confidence = v.check_float("confidence", confidence, low=0.0, high=1.0,
                                        low_inclusive=False, high_inclusive=False)

    def _prune(self, history, peers, direction, budget):
        from keras_bestpractice._core.projection import project

        if not budget or len(peers) < self.min_peers:
            return False
        best = best_of(peers, direction)
        if best is None:
            return False
        p = project(history, direction, best, int(budget), self.confidence)
        return p is not None and p.probability < 1.0 - self.confidence


PRUNERS: dict[str, type[Pruner]] = {"median": MedianPruner, "asha": ASHAPruner,
                                    "curve": CurvePruner}


def make_pruner(pruner: Any, min_epochs: int = 1, min_peers: int = 3,
                reduction_factor: int = 3, min_steps: int = 0) -> Pruner:
    """A `Pruner` from a name (`"median"`, `"asha"`, `"curve"`) and the tuner's
    settings, or `pruner` itself when it is one (with its own settings).

    Raises:
        ValueError: for an unknown name; TypeError for anything else.
    """
    if isinstance(pruner, Pruner):
        return pruner
    if not isinstance(pruner, str):
        raise TypeError(f"`pruner` must be one of {', '.join(map(repr, PRUNERS))} or a "
                        f"Pruner, got {pruner!r}.")
    if pruner not in PRUNERS:
        raise ValueError(f"`pruner` must be one of {', '.join(map(repr, PRUNERS))} or a "
                         f"Pruner; got {pruner!r}.")
    if pruner == "asha":
        return ASHAPruner(min_epochs, reduction_factor, min_steps=min_steps)
    return PRUNERS[pruner](min_epochs, min_peers, min_steps=min_steps)
