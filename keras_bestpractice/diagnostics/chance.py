"""Chance level and the "not learning" rule, shared by `diagnose()` and `DivergenceGuard`.

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
from dataclasses import dataclass

import numpy as np

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
INFER_STEADY_ACCURACY = 0.02


@dataclass(frozen=True)
class ChanceLevel:
    """The loss and accuracy of a model that learned only the class prior.

    Attributes:
        loss: entropy of the class prior in nats (ln C when balanced).
        accuracy: accuracy of always predicting the majority class.
        num_classes: number of classes, when known.
        source: `"num_classes"`, `"class_prior"` or `"inferred"`.
    """

    loss: float
    accuracy: float
    num_classes: int | None
    source: str

    def to_dict(self) -> dict[str, object]:
        return {
            "chance_loss": round(self.loss, 6),
            "chance_accuracy": round(self.accuracy, 6),
            "num_classes": self.num_classes,
            "chance_source": self.source,
        }


def chance_level(
    num_classes: int | None = None, class_prior: Sequence[float] | None = None
) -> ChanceLevel | None:
    """Chance level from a class count or a class prior (counts or shares).

    Returns `None` when neither is given.

    Raises:
        ValueError: if `num_classes < 2` or the prior is empty, negative or all zero.
    """
    if class_prior is not None:
        from keras_bestpractice import _validation as v

        prior = np.asarray(v.check_class_prior("class_prior", class_prior), dtype=np.float64)
        prior = prior / prior.sum()
        nz = prior[prior > 0]
        return ChanceLevel(
            loss=float(-(nz * np.log(nz)).sum()),
            accuracy=float(prior.max()),
            num_classes=int(prior.size),
            source="class_prior",
        )
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, got {num_classes}.")
        return ChanceLevel(
            loss=math.log(num_classes),
            accuracy=1.0 / num_classes,
            num_classes=int(num_classes),
            source="num_classes",
        )
    return None


def infer_chance_level(loss: float, accuracy: float | None,
                       accuracy_spread: float | None = None) -> ChanceLevel | None:
    """Guess the chance level of a flat run from its loss and accuracy, or `None`.

    Almost any loss value is close to ln C for some C, so the loss alone proves
    nothing. A guess is accepted when the accuracy agrees:

    - the loss is within 4% of ln C and the accuracy at most 1.5/C, or
    - the accuracy is steady (`accuracy_spread`, max - min over the last
      epochs, at most 0.02) and within 20% of 1/C, and the loss is either just
      above ln C (at most 1.25x: the prior, slightly off) or far above it (at
      least 3x: one class predicted with confidence). A loss in between is a
      model that learned something.
    """
    if accuracy is None or not (math.isfinite(loss) and math.isfinite(accuracy)):
        return None
    if 0.5 < loss < math.log(MAX_INFERRED_CLASSES + 1):
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
    if accuracy is None or not math.isfinite(accuracy):
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
    if steadily_decreasing(window) and (
        val_window is None
        or not any(math.isfinite(v) for v in val_window)
        or steadily_decreasing(val_window, min_fraction=0.6)
    ) and (acc_window is None or steadily_increasing(acc_window)):
        # Learning slowly, not stuck. (A loss coming down from an explosion back to
        # the chance level falls too, but its accuracy does not rise.)
        return None
    # The epoch from which every epoch stayed at chance.
    start = n - 1
    acc = list(accuracy) if accuracy is not None and len(accuracy) == n else None
    while start > 0 and is_at_chance(loss[start - 1], None if acc is None else acc[start - 1],
                                     chance):
        start -= 1
    evidence: dict[str, object] = {
        "tail_loss": round(tail_loss, 6),
        "tail_accuracy": None if tail_acc is None else round(tail_acc, 6),
        "tail_epochs": t,
        "stuck_since_position": start,
        "loss_tolerance": NOT_LEARNING_LOSS_TOLERANCE,
        "accuracy_margin": NOT_LEARNING_ACCURACY_MARGIN,
    }
    evidence.update(chance.to_dict())
    return evidence
