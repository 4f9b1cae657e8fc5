"""The "not learning" rule, shared by `diagnose()`, `DivergenceGuard` and the tuner.

The reference level it compares against is `_core.reference.ReferenceLevel` (for a
classifier, the chance level; for regression, the loss of predicting the mean).

A classifier that has learned nothing predicts the class prior p: its expected
cross-entropy is the entropy H(p) = -sum p_c ln p_c (ln C for C balanced
classes) and its accuracy is at best max_c p_c (the majority class; 1/C when
balanced). A model whose loss stays at or above H(p) with accuracy near max p
after a grace period is "not learning" (the handbooks' "a learning rate too
high leaves loss and accuracy stuck at chance").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from keras_bestpractice._core.reference import ReferenceLevel, chance_level  # noqa: F401

# The loss may sit a little below H(p): a constant predictor fitted on a batch
# mean can shave a few percent off, and a small model memorising random labels
# gains ~1% (measured on the diagnostics corpus: 0.4-1.4% below ln C). 5% keeps
# every stuck run while a model that learned anything real is far below
# (a 10-class model at 30% accuracy is ~25% below ln 10).
NOT_LEARNING_LOSS_TOLERANCE = 0.05
# "Accuracy near chance": within 10% of the way from the majority-class accuracy
# to perfect (0.19 for 10 balanced classes, 0.55 for two). Stuck runs in the
# corpus sit within +-3 points of chance; the slowest learning run that is not
# stuck was 8 points above after its first epoch.
NOT_LEARNING_ACCURACY_MARGIN = 0.10
# Inferring C from the curves: the loss must be within this fraction of ln C and
# the accuracy at most this multiple of 1/C for the same C.
INFER_LOSS_TOLERANCE = 0.04
INFER_ACCURACY_FACTOR = 1.5
MAX_INFERRED_CLASSES = 1000
# "Stuck since epoch E": from E on every epoch is at chance and below 1.5x the stuck
# level (an earlier, higher epoch is the spike that killed the network); the message
# gives the range when it spans more than 10%.
STUCK_SPIKE = 1.5
# An epoch more than 10% above every later one is still on its way down to the stuck
# level: the stuck stretch starts after it.
STUCK_HEAD = 1.1
INFER_STEADY_ACCURACY = 0.02
# A constant accuracy (spread <= 0.005 over the last epochs: a constant predictor's
# accuracy is one class's share, the same every epoch) names C before the loss does.
INFER_CONSTANT_ACCURACY = 0.005


# A constant predictor (issue #26: a run collapsed to the majority class on imbalanced
# data): it gives every sample the same class, so its accuracy over a fixed training set
# is that class's share, the same to the sample every epoch. "The same": a spread of at
# most 0.2% over the last 3 epochs (a sample or two of a thousand changing sides), with a
# loss that moves by less than 1%. A model that learned keeps moving one or the other.
CONSTANT_ACCURACY_SPREAD = 0.002
CONSTANT_LOSS_REL_CHANGE = 0.01
CONSTANT_TAIL = 3
# Accuracy 1.0 with a flat loss is a model that fits its training set, not a predictor
# of one class.
CONSTANT_MAX_ACCURACY = 0.999


# The chance level is the classification case of the one loss-aware reference level.
ChanceLevel = ReferenceLevel


def least_prior_entropy(majority: float) -> float:
    """The lowest entropy (nats) of a class prior whose largest share is `majority`: as
    many classes as fit at that share, the rest in one. A model that predicts one class
    has a cross-entropy at least this (it is at least the entropy of the prior)."""
    a = float(majority)
    if not 0.0 < a < 1.0:
        return 0.0
    k = int(math.floor(1.0 / a + 1e-12))
    rest = max(0.0, 1.0 - k * a)
    return float(-k * a * math.log(a) - (rest * math.log(rest) if rest > 0 else 0.0))


def constant_predictor_level(loss: Sequence[float], accuracy: Sequence[float] | None,
                             val_accuracy: Sequence[float] | None = None,
                             num_classes: int | None = None) -> ChanceLevel | None:
    """The reference level of a classifier that predicts one class for every sample, when
    its curves show it, else `None`.

    The signature needs no class count and no prior: over the last epochs the training
    accuracy is one constant share `a` (and the validation accuracy constant too, when
    logged), the loss is flat, and the loss is at least the entropy of any prior whose
    majority share is `a` (`least_prior_entropy`), which a model that learned anything
    goes below. The level is that least entropy, with accuracy `a` (the majority share).
    """
    t = CONSTANT_TAIL
    if accuracy is None or len(loss) < t or len(accuracy) != len(loss):
        return None
    tail_acc = np.asarray(accuracy[-t:], dtype=float)
    tail_loss = np.asarray(loss[-t:], dtype=float)
    if not (np.isfinite(tail_acc).all() and np.isfinite(tail_loss).all()):
        return None
    a = float(np.mean(tail_acc))
    if np.ptp(tail_acc) > CONSTANT_ACCURACY_SPREAD or not 0.0 < a < CONSTANT_MAX_ACCURACY:
        return None
    level = float(np.mean(tail_loss))
    if level <= 0 or np.ptp(tail_loss) / level > CONSTANT_LOSS_REL_CHANGE:
        return None
    if val_accuracy is not None and len(val_accuracy) == len(loss):
        tail_val = np.asarray(val_accuracy[-t:], dtype=float)
        if np.isfinite(tail_val).all() and np.ptp(tail_val) > CONSTANT_ACCURACY_SPREAD:
            return None
    floor = least_prior_entropy(a)
    if level < floor * (1.0 - NOT_LEARNING_LOSS_TOLERANCE):
        return None
    return ChanceLevel(loss=floor, accuracy=a, num_classes=num_classes,
                       source="constant_predictor")


def infer_chance_level(loss: float, accuracy: float | None,
                       accuracy_spread: float | None = None,
                       loss_level: bool = True) -> ChanceLevel | None:
    """Guess the chance level of a flat run from its loss and accuracy, or `None`.

    Almost any loss value is close to ln C for some C, so the loss alone proves
    nothing. A guess is accepted when the accuracy agrees, tried in this order:

    - (first when the accuracy is constant, spread <= 0.005; else last) the
      accuracy is steady (`accuracy_spread`, max - min over the last
      epochs, at most 0.02) and within 20% of 1/C, and the loss is either just
      above ln C (at most 1.25x: the prior, slightly off) or far above it (at
      least 3x: one class predicted with confidence). A loss in between is a
      model that learned something (a steady accuracy is what a constant
      predictor gets: it names C better than the loss does: a dead network at
      loss 2.62 with accuracy 0.100 is 10 classes, not 14);
    - (second) the loss is within 4% of ln C and the accuracy at most 1.5/C; not with
      `loss_level=False` (a run whose loss diverged: its level says nothing of C).
    """
    if accuracy is None or not (math.isfinite(loss) and math.isfinite(accuracy)):
        return None
    # A constant accuracy is a class share (a constant predictor): trust it first.
    constant = accuracy_spread is not None and accuracy_spread <= INFER_CONSTANT_ACCURACY
    if constant and accuracy > 0:
        found = _from_accuracy(loss, accuracy)
        if found is not None:
            return found
    if loss_level and 0.5 < loss < math.log(MAX_INFERRED_CLASSES + 1):
        c = int(round(math.exp(loss)))
        best = None
        for cand in (c - 1, c, c + 1):
            if 2 <= cand <= MAX_INFERRED_CLASSES:
                err = abs(loss - math.log(cand)) / math.log(cand)
                if best is None or err < best[0]:
                    best = (err, cand)
        if best is not None and best[0] <= INFER_LOSS_TOLERANCE and \
                accuracy <= INFER_ACCURACY_FACTOR / best[1]:
            cand = best[1]
            return ChanceLevel(loss=math.log(cand), accuracy=1.0 / cand, num_classes=cand,
                               source="inferred")
    if accuracy_spread is not None and accuracy_spread <= INFER_STEADY_ACCURACY and accuracy > 0:
        return _from_accuracy(loss, accuracy)
    return None


def _from_accuracy(loss: float, accuracy: float) -> ChanceLevel | None:
    """C from a steady accuracy near 1/C, when the loss agrees (see above)."""
    cand = int(round(1.0 / accuracy))
    ratio = loss / math.log(cand) if cand >= 2 else 0.0
    near_or_confidently_wrong = 1.0 <= ratio <= 1.25 or ratio >= 3.0
    if 2 <= cand <= MAX_INFERRED_CLASSES and abs(accuracy * cand - 1.0) <= 0.2 and \
            near_or_confidently_wrong:
        return ChanceLevel(loss=math.log(cand), accuracy=1.0 / cand, num_classes=cand,
                           source="inferred")
    return None


def is_at_chance(
    loss: float,
    accuracy: float | None,
    chance: ChanceLevel,
    *,
    loss_tolerance: float = NOT_LEARNING_LOSS_TOLERANCE,
    accuracy_margin: float = NOT_LEARNING_ACCURACY_MARGIN,
) -> bool:
    """True when `loss` is at or above chance and `accuracy` (if known) near chance."""
    if loss is None or not math.isfinite(loss):
        return False
    if loss < chance.loss * (1.0 - loss_tolerance):
        return False
    if accuracy is None or not math.isfinite(accuracy) or chance.accuracy is None:
        return True
    return accuracy <= chance.accuracy + accuracy_margin * (1.0 - chance.accuracy)


def steadily_decreasing(values: Sequence[float], min_fraction: float = 0.75,
                        min_rel_slope: float = 1e-3) -> bool:
    """True when a curve keeps going down: most steps negative and a real slope.

    `min_rel_slope` is the least-squares slope per epoch relative to the curve's
    mean level (1e-3: 0.1% per epoch, the slowest real learning in the corpus
    was 0.2%/epoch; a stuck model drifts by less than 0.1%).
    """
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size < 3:
        return False
    deltas = np.diff(arr)
    if np.mean(deltas < 0) < min_fraction:
        return False
    x = np.arange(arr.size, dtype=float)
    slope = np.polyfit(x, arr, 1)[0]
    level = float(np.mean(np.abs(arr))) or 1.0
    return -slope / level >= min_rel_slope


# A descent "keeps its pace" when its slope over the last third is at least 30% of
# the slope over the first third (a run converging to a level slows to ~1% of it).
PACE_MIN_RATIO = 0.3


def pace_kept(x: np.ndarray, min_ratio: float = PACE_MIN_RATIO) -> bool:
    """The slope over the last third of `x` is >= `min_ratio` of the first third's
    (a straight descent, not one slowing down to a level)."""
    x = np.asarray(x, dtype=float)
    third = max(2, x.size // 3)
    if x.size < 2 * third:
        return True
    early = -np.polyfit(np.arange(third, dtype=float), x[:third], 1)[0]
    late = -np.polyfit(np.arange(third, dtype=float), x[-third:], 1)[0]
    return not (early > 0 and late < min_ratio * early)


def steadily_increasing(values: Sequence[float], min_fraction: float = 0.6) -> bool:
    """True when a curve (accuracy) mostly rises and ends above where it started."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size < 2:
        return False
    deltas = np.diff(arr)
    return bool(arr[-1] > arr[0] and np.mean(deltas > 0) >= min_fraction)


def detect_not_learning(
    loss: Sequence[float],
    accuracy: Sequence[float] | None,
    chance: ChanceLevel,
    *,
    val_loss: Sequence[float] | None = None,
    val_accuracy: Sequence[float] | None = None,
    grace_epochs: int = 2,
    tail: int = 3,
) -> dict[str, object] | None:
    """The one "not learning" rule: evidence dict if the run is stuck, else `None`.

    A run is stuck when, after `grace_epochs` epochs, the mean of its last `tail`
    epochs is at chance (`is_at_chance`) and it is not steadily getting better
    (a slow but learning run, loss and validation loss both going down, is
    `slow_convergence`, not this). Validation accuracy well above chance also
    clears it (heavy Dropout makes the training accuracy look stuck).
    """
    loss = [float(v) for v in loss]
    n = len(loss)
    if n < max(1, grace_epochs):
        return None
    t = min(tail, n)
    tail_loss = float(np.mean(loss[-t:]))
    tail_acc = None
    if accuracy is not None and len(accuracy) == n:
        finite = [a for a in accuracy[-t:] if a is not None and math.isfinite(a)]
        tail_acc = float(np.mean(finite)) if finite else None
    if not is_at_chance(tail_loss, tail_acc, chance):
        return None
    last_i = next((i for i in range(n - 1, -1, -1) if math.isfinite(loss[i])), None)
    if last_i is not None and not is_at_chance(loss[last_i], None, chance):
        last_acc = None
        if accuracy is not None and len(accuracy) == n and accuracy[last_i] is not None and \
                math.isfinite(accuracy[last_i]):
            last_acc = float(accuracy[last_i])
        if last_acc is None or not is_at_chance(chance.loss, last_acc, chance):
            # The latest epoch is below the reference level (and its accuracy above
            # chance, where there is one): the tail mean is held up by the first
            # epochs of a run that is learning.
            return None
    if val_accuracy is not None and val_loss is not None and len(val_accuracy) == n:
        # Validation clearly better than chance (loss and accuracy) means the
        # model learned: heavy Dropout can make the training curves look stuck.
        vacc = [a for a in val_accuracy[-t:] if a is not None and math.isfinite(a)]
        vloss = [v for v in list(val_loss)[-t:] if v is not None and math.isfinite(v)]
        if vacc and vloss and not is_at_chance(float(np.mean(vloss)), None, chance) and \
                not is_at_chance(chance.loss, float(np.mean(vacc)), chance):
            return None
    w = max(3, n // 2)
    window = loss[-w:]
    val_window = None if val_loss is None else list(val_loss)[-w:]
    acc_window = None if accuracy is None or len(accuracy) != n else list(accuracy)[-w:]
    finite_val = [] if val_window is None else [v for v in val_window if math.isfinite(v)]
    if steadily_decreasing(window) and (
        not finite_val
        # Validation coming down onto the reference level from above, slowing down as
        # it nears it, learns the prior (issue #23: shuffled multi-label targets);
        # learning goes below it (beyond the tolerance of `is_at_chance`), or keeps its
        # pace.
        or (steadily_decreasing(val_window, min_fraction=0.6)
            and (float(np.mean(finite_val[-t:])) < chance.loss * (1.0 - NOT_LEARNING_LOSS_TOLERANCE)
                 or pace_kept(np.asarray([v for v in val_loss if math.isfinite(v)],
                                         dtype=float))))
    ) and (acc_window is None or steadily_increasing(acc_window)):
        # Learning slowly, not stuck. (A loss coming down from an explosion back to
        # the chance level falls too, but its accuracy does not rise.)
        return None
    # The epoch from which every epoch stayed at chance, without the spike a too-high
    # learning rate leaves before the network dies ("stuck at 2.62" must not start at
    # an epoch of 5.91). Stuck means two epochs at least.
    start = n - 1
    acc = list(accuracy) if accuracy is not None and len(accuracy) == n else None
    ceiling = STUCK_SPIKE * max(tail_loss, chance.loss)
    while start > 0 and is_at_chance(loss[start - 1], None if acc is None else acc[start - 1],
                                     chance) and loss[start - 1] <= ceiling:
        start -= 1
    # A head still coming down onto the stuck level (more than 10% above everything
    # after it) is the way in, not the stuck stretch.
    while start < n - 2:
        rest = [v for v in loss[start + 1:] if math.isfinite(v)]
        if not rest or not loss[start] > STUCK_HEAD * max(rest):
            break
        start += 1
    if start >= n - 1:
        return None
    stuck = [v for v in loss[start:] if math.isfinite(v)]
    # The level it is stuck at: the last (up to) `tail` epochs of the stuck stretch,
    # not a mean that still holds the spike before it.
    stuck_tail = [v for v in loss[max(start, n - t):] if math.isfinite(v)]
    if stuck_tail:
        tail_loss = float(np.mean(stuck_tail))
    evidence: dict[str, object] = {
        "tail_loss": round(tail_loss, 6),
        "stuck_min": round(min(stuck), 6) if stuck else None,
        "stuck_max": round(max(stuck), 6) if stuck else None,
        "tail_accuracy": None if tail_acc is None else round(tail_acc, 6),
        "tail_epochs": t,
        "stuck_since_position": start,
        "loss_tolerance": NOT_LEARNING_LOSS_TOLERANCE,
        "accuracy_margin": NOT_LEARNING_ACCURACY_MARGIN,
    }
    evidence.update(chance.to_dict())
    return evidence
