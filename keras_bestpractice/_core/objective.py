"""The handbook's training objectives as a pure decision on the epochs so far.

"Set training objectives, plan the number of epochs to meet them; if the objective
is met, stop early and checkpoint; if the run is diverging from its objectives,
terminate." `check_objective` is that rule: `TrainingObjective` calls it at every
epoch end and `benchmarks/bench_objective.py` replays it on recorded runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_bestpractice._core.compare import Direction, is_finite_number
from keras_bestpractice._core.projection import (
    Projection,
    improved,
    learning_start,
    project,
    rise_index,
)
from keras_bestpractice._core.reasons import StopReason

# Epochs before a projection may terminate a run: on the real runs of
# `benchmarks/bench_objective.py`, 4 terminated runs that later met their target
# (precision 0.91), 8 kept precision at 0.97 and still saved 63% of the epochs
# of the runs that never met it.
DEFAULT_MIN_EPOCHS = 8
# Training learning this many epochs before validation moves: validation is at a ceiling.
CEILING_LAG = 3


@dataclass
class ObjectiveCheck:
    """What the rule decided after an epoch.

    Attributes:
        reason: `OBJECTIVE_MET`, `OBJECTIVE_UNREACHABLE` or `None` (keep going).
        message: why, in a sentence (empty when going on).
        projections: each unmet target's `Projection` (when it could be fitted).
        met: the targets met at this epoch.
    """

    reason: StopReason | None
    message: str = ""
    projections: dict[str, Projection] = field(default_factory=dict)
    met: dict[str, bool] = field(default_factory=dict)


def target_met(value: float, target: float, mode: Direction | str) -> bool:
    """The value reaches the target (ties count)."""
    return Direction.of(mode).reached(value, target)


# Validation follows training while its loss falls with the training loss: over the last
# `CEILING_LAG + 1` epochs, `val_loss` fell by at least `FOLLOW_SHARE` of what `loss` fell.
# An accuracy is a thresholded metric that lags (issue #26, late starters: validation
# accuracy at 0.102 for 10 epochs while both losses fell 2.31 -> 2.21 and 2.36 -> 2.24;
# it met 0.62 five epochs later), a loss is not.
FOLLOW_SHARE = 0.5


def validation_follows(history: Mapping[str, Sequence[float]],
                       window: int = CEILING_LAG + 1) -> bool:
    """Does the validation loss fall with the training loss over the last `window` epochs
    (`False` when either is missing)?"""
    loss = [float(v) for v in history.get("loss") or [] if is_finite_number(v)]
    val = [float(v) for v in history.get("val_loss") or [] if is_finite_number(v)]
    if min(len(loss), len(val)) < window + 1:
        return False
    drop = loss[-1 - window] - loss[-1]
    return drop > 0 and val[-1 - window] - val[-1] >= FOLLOW_SHARE * drop


# A validation loss still falling steeply with the training loss (by `STEEP_FALL` of its
# level or more over the last `CEILING_LAG + 1` epochs, and by half the training loss's
# fall) is a curve still learning, whatever its accuracy did so far: no ceiling then
# (issue #26: `plan_epochs` said "out of reach" after 6 epochs of digits runs whose
# validation loss fell 2.28 -> 1.85 and 1.95 -> 0.63; they met the target at epochs 13-38).
STEEP_FALL = 0.1


def validation_falls_steeply(history: Mapping[str, Sequence[float]],
                             window: int = CEILING_LAG + 1) -> bool:
    """Does the validation loss still fall with the training loss, by at least
    `STEEP_FALL` of its level, over the last `window` epochs?"""
    val = [float(v) for v in history.get("val_loss") or [] if is_finite_number(v)]
    if len(val) < window + 1 or not validation_follows(history, window):
        return False
    return val[-1 - window] - val[-1] >= STEEP_FALL * abs(val[-1 - window])


# Training still climbing at a pace that covers validation's way to the target within
# the budget is a run still learning, whatever validation did so far: no ceiling then
# (issue #26, round 5). The pace is the least-squares slope of the training metric over
# the last `CEILING_LAG + 1` epochs (one lucky epoch does not make a pace), extended
# linearly over the epochs left: a linear pace is more than a decelerating curve will
# give, so the rule errs on the side of going on. Found on late starters whose validation
# accuracy levelled off after a jump (0.255 -> 0.42 -> 0.465 for 6 epochs) while training
# climbed 0.43 -> 0.49 at 0.02 an epoch; they met 0.72 at epochs 33-39.
PACE_WINDOW = CEILING_LAG + 1


def training_pace(history: Mapping[str, Sequence[float]], key: str,
                  mode: Direction | str) -> float:
    """For a `val_` metric: the slope per epoch (in the direction of improvement) of its
    training counterpart over the last `PACE_WINDOW` epochs (`nan` without one)."""
    if not key.startswith("val_"):
        return math.nan
    train = [Direction.of(mode).sign * float(v) for v in history.get(key[len("val_"):]) or []
             if is_finite_number(v)]
    if len(train) < PACE_WINDOW:
        return math.nan
    y = np.asarray(train[-PACE_WINDOW:], dtype=np.float64)
    x = np.arange(y.size, dtype=np.float64) - (y.size - 1) / 2.0
    return float(np.dot(x, y - y.mean()) / np.dot(x, x))


def training_on_pace(history: Mapping[str, Sequence[float]], key: str, target: float,
                     mode: Direction | str, budget: int | None) -> bool:
    """Does the training counterpart of `key` climb fast enough that, kept up over the
    epochs left until `budget`, it covers the way from `key`'s best so far to `target`?"""
    mode = Direction.of(mode)
    values = [mode.sign * float(v) for v in history.get(key) or [] if is_finite_number(v)]
    pace = training_pace(history, key, mode)
    if budget is None or not values or not pace > 0:
        return False
    left = budget - len(history.get(key) or [])
    return left > 0 and pace * left >= mode.sign * float(target) - max(values)


def training_learns(history: Mapping[str, Sequence[float]], key: str,
                     mode: Direction) -> bool:
    """For a `val_` metric: its training counterpart has started learning. A validation
    curve that stays flat meanwhile is at a ceiling (it does not follow what training
    learns), not a late starter (whose training curve is flat too)."""
    if not key.startswith("val_"):
        return False
    train = history.get(key[len("val_"):])
    train_start = learning_start(train, mode) if train else None
    if train_start is None or not improved(train, mode):
        return False  # flat, or only got worse: it has not learned
    # A late starter starts on both curves at once; a ceiling stays flat (or wobbles into
    # a "start" of noise much later) while training learns, for more than a lag's epochs.
    val_start = learning_start(history.get(key) or [], mode)
    if val_start is None:
        return len(train) - 1 - train_start > CEILING_LAG
    return val_start > train_start + CEILING_LAG


# A training loss falling faster over its last `ACCELERATION_WINDOW` epochs than over
# the same number before (by at least 5% of its level) is a run starting to learn, not one
# at its ceiling: no "unreachable" from the fitted curves then (issue #26: a deep sigmoid
# net whose loss went 2.31, 2.30, 2.16, 1.90, 1.77 was stopped at epoch 8 with its
# validation accuracy at 0.21; it met 0.61 at epoch 11 and 0.96 at epoch 33).
ACCELERATION_WINDOW = 3
ACCELERATION_MIN_DROP = 0.05


def loss_accelerating(loss: Sequence[float]) -> bool:
    """Is the training loss's latest fall steeper than the one before it?"""
    x = [float(v) for v in loss if is_finite_number(v)]
    w = ACCELERATION_WINDOW
    if len(x) < 2 * w + 1:
        return False
    recent, before = x[-1 - w] - x[-1], x[-1 - 2 * w] - x[-1 - w]
    return recent > max(before, 0.0) and recent >= ACCELERATION_MIN_DROP * abs(x[-1 - w])


# Evidence of a ceiling (issue #26: "no 'unreachable' from a flat start without evidence
# of a ceiling"). A fitted curve may say "out of reach" only when one of these holds:
# - the metric itself moved `CEILING_MIN_WAY` of the way from its first value to the
#   target (a curve that learned and levelled off; a one-sample step from 0.096 to 0.102
#   on the way to 0.23 is not that), has been rising for more than `CEILING_LAG` epochs
#   (a rise two epochs old, 0.100 -> 0.138 -> 0.193 on the way to 0.93, is a start, not a
#   level), and, for a `val_` metric, its training counterpart moved that share too (a
#   validation accuracy that jumped 0.24 -> 0.39 while training stayed at 0.24 has not
#   learned anything to level off from);
# - its training counterpart learned `CEILING_MIN_TRAIN_WAY` of the way to the target,
#   and has been rising for more than `CEILING_LAG` epochs, while it did not follow;
# - the training loss stopped falling: less than `STALLED_LOSS` of its level over the last
#   `STALL_WINDOW` epochs (dead units, a saturated net: nothing will start later).
# A late starter creeps: its loss falls 5e-4 of its level over 3 epochs while at chance
# (the deep sigmoid nets of `make_objective_corpus.py --late`), 5x above the stall level.
# None of these counts while the run is visibly still learning: its training loss
# accelerating (`loss_accelerating`), its validation loss falling steeply with it
# (`validation_falls_steeply`), or its training metric climbing at a pace that would
# carry validation to the target within the budget (`training_on_pace`).
CEILING_MIN_WAY = 0.1
CEILING_MIN_TRAIN_WAY = 0.25
STALLED_LOSS = 1e-4
STALL_WINDOW = 3


def way_to_target(values: Sequence[float], target: float, mode: Direction | str) -> float:
    """The share of the way from the curve's first value to `target` that its best so far
    has covered (`inf` when the first value is already at or past the target)."""
    mode = Direction.of(mode)
    z = [mode.sign * float(v) for v in values if is_finite_number(v)]
    if len(z) < 2:
        return 0.0
    gap = mode.sign * float(target) - z[0]
    return math.inf if gap <= 0 else (max(z) - z[0]) / gap


def loss_stalled(loss: Sequence[float], window: int = STALL_WINDOW) -> bool:
    """Has the training loss stopped falling over the last `window` epochs?"""
    x = [float(v) for v in loss if is_finite_number(v)]
    if len(x) < window + 1:
        return False
    before = x[-1 - window]
    return before - min(x[-window:]) <= STALLED_LOSS * abs(before)


def rising_for(values: Sequence[float], mode: Direction | str) -> int:
    """Epochs since the curve crossed `LATE_START_FRACTION` of its gain for good (-1 when
    it has gained nothing)."""
    z = np.asarray([Direction.of(mode).sign * float(v) for v in values
                    if is_finite_number(v)], dtype=np.float64)
    if z.size < 2 or z.max() <= z[0]:
        return -1
    return z.size - 1 - rise_index(z, float(z[0]), float(z.max() - z[0]))


def ceiling_evidence(history: Mapping[str, Sequence[float]], key: str, target: float,
                     mode: Direction | str, progress_key: str = "loss",
                     budget: int | None = None) -> str | None:
    """Why `key` can be taken to be at its ceiling (a phrase for the message), or `None`
    when it may still be waiting to start or still learning (a projection then says
    nothing certain). With `budget` (the last epoch), a training counterpart still on
    pace to carry `key` to `target` by then vetoes every evidence."""
    mode = Direction.of(mode)
    if loss_accelerating(history.get(progress_key) or []) or \
            validation_falls_steeply(history) or \
            training_on_pace(history, key, target, mode, budget):
        return None
    values = history.get(key) or []
    train_key = key[len("val_"):] if key.startswith("val_") else None
    train = history.get(train_key) or [] if train_key else []
    train_way = way_to_target(train, target, mode) if train else 0.0
    way = way_to_target(values, target, mode)
    if way >= CEILING_MIN_WAY and rising_for(values, mode) > CEILING_LAG and \
            (not train or train_way >= CEILING_MIN_WAY):
        return f"it moved {min(way, 1.0):.0%} of the way from its first value"
    loss = history.get(progress_key) or []
    if loss_stalled(loss):
        return (f"{progress_key} stopped falling ({float(loss[-1 - STALL_WINDOW]):.4g} -> "
                f"{float(loss[-1]):.4g} over {STALL_WINDOW} epochs)")
    if train_way >= CEILING_MIN_TRAIN_WAY and rising_for(train, mode) > CEILING_LAG \
            and training_learns(history, key, mode) and not validation_follows(history):
        return (f"{train_key} learned {min(train_way, 1.0):.0%} of the way while {key} did "
                "not follow")
    return None


def check_objective(history: Mapping[str, Sequence[float]], targets: Mapping[str, float],
                    modes: Mapping[str, Direction], budget: int, confidence: float = 0.9,
                    min_epochs: int = DEFAULT_MIN_EPOCHS, min_progress: float | None = None,
                    progress_key: str = "loss", progress_window: int = 3) -> ObjectiveCheck:
    """Decide after the last epoch of `history` (a list of values per metric).

    - every target met at the last epoch -> `OBJECTIVE_MET`;
    - a target whose fitted curve reaches it by epoch `budget` with probability
      below `1 - confidence` (after `min_epochs` epochs), with evidence that the
      curve is at its ceiling (`ceiling_evidence`) -> `OBJECTIVE_UNREACHABLE`;
    - the training loss (`progress_key`) falling by less than `min_progress` (a
      fraction per epoch, averaged over `progress_window` epochs) while a target is
      unmet -> `OBJECTIVE_UNREACHABLE` (the handbook's rate of progression).
    """
    met = {}
    for key, target in targets.items():
        values = history.get(key) or []
        met[key] = bool(values) and target_met(values[-1], target, modes[key])
    if met and all(met.values()):
        shown = ", ".join(f"{k} {history[k][-1]:.4g} (target {v:.4g})"
                          for k, v in targets.items())
        return ObjectiveCheck(StopReason.OBJECTIVE_MET, f"every target met: {shown}", met=met)
    epochs = max((len(history.get(k) or []) for k in targets), default=0)
    projections: dict[str, Projection] = {}
    for key, target in targets.items():
        if met[key]:
            continue
        p = project(history.get(key) or [], modes[key], target, budget, confidence,
                    ceiling_seen=training_learns(history, key, modes[key]))
        if p is not None:
            projections[key] = p
    check = ObjectiveCheck(None, projections=projections, met=met)
    if epochs >= budget:
        return check
    if epochs >= min_epochs:
        for key, p in projections.items():
            if p.probability >= 1.0 - confidence:
                continue
            evidence = ceiling_evidence(history, key, targets[key], modes[key], progress_key,
                                        budget)
            if evidence is None:
                continue  # flat so far: maybe a late start, so no verdict (issue #26)
            check.reason = StopReason.OBJECTIVE_UNREACHABLE
            check.message = (f"{key} is at {p.current:.4g} and its fitted curve gives "
                             f"{p.probability:.0%} to reach {p.target:.4g} by epoch "
                             f"{budget} (projected {p.value_at_budget:.4g} there; at a "
                             f"ceiling: {evidence})")
            return check
    if min_progress is not None:
        loss = [v for v in (history.get(progress_key) or []) if is_finite_number(v)]
        if len(loss) > progress_window:
            before, now = loss[-1 - progress_window], loss[-1]
            rate = (before - now) / max(abs(before), 1e-12) / progress_window
            if rate < min_progress:
                check.reason = StopReason.OBJECTIVE_UNREACHABLE
                check.message = (f"{progress_key} fell {rate:.2%} per epoch over the last "
                                 f"{progress_window} epochs ({before:.4g} -> {now:.4g}), less "
                                 f"than min_progress={min_progress:.2%}")
    return check


def first_epoch_meeting(history: Mapping[str, Sequence[float]], targets: Mapping[str, float],
                        modes: Mapping[str, Direction]) -> int | None:
    """The first epoch (1-based) at which every target is met, or `None`."""
    n = min((len(history.get(k) or []) for k in targets), default=0)
    for i in range(n):
        if all(target_met(history[k][i], t, modes[k]) for k, t in targets.items()):
            return i + 1
    return None


def check_target(target: Any) -> dict[str, float]:
    """`target` as `{metric: float}`, checked."""
    if not isinstance(target, Mapping):
        raise TypeError("`target` must be a dict {metric: value}, e.g. "
                        f"{{'val_accuracy': 0.95}}, got {type(target).__name__}.")
    if not target:
        raise ValueError("`target` is empty: name at least one metric and its value.")
    out = {}
    for key, value in target.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"`target` keys must be metric names, got {key!r}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(float(value)):
            raise TypeError(f"`target`[{key!r}] must be a finite number, got {value!r}.")
        out[key] = float(value)
    return out


def check_modes(mode: Any, target: dict[str, float],
                who: str = "TrainingObjective") -> dict[str, Direction]:
    """The `Direction` of each target metric (`"auto"` reads the names)."""
    if isinstance(mode, Mapping):
        unknown = sorted(set(mode) - set(target))
        if unknown:
            raise ValueError(f"`mode` names {unknown}, which are not in `target` "
                             f"{sorted(target)}.")
        return {k: Direction.resolve(who, k, mode.get(k, "auto")) for k in target}
    if not isinstance(mode, str):
        raise TypeError(f"`mode` must be 'auto', 'min', 'max' or a dict, got {mode!r}.")
    return {k: Direction.resolve(who, k, mode) for k in target}
