"""Negative transfer: is the transferred model worse than one trained from scratch?

The handbook (Part 11): watch for negative transfer, "the pretrained weights make the
new task worse", within the first 5-10 epochs. `check_negative_transfer` compares the
transferred run's monitored curve with a from-scratch reference of the same
architecture trained for the same epochs: at each epoch of the window, the best value
so far of each (best-so-far, so one noisy epoch does not decide); it fires when the
transferred run trails by more than `margin` for `patience` epochs in a row.
`NegativeTransferAlarm` (in `fit`, and in `fine_tune(check_negative_transfer=True)`)
and `diagnose(history, reference=...)` both call it. Pure Python/NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._core.compare import Direction

# The handbook's "within 5-10 epochs" (1-based epoch numbers, both inclusive).
DEFAULT_WINDOW = (5, 10)
DEFAULT_MARGIN = 0.02
DEFAULT_PATIENCE = 2


@dataclass(frozen=True)
class TransferCheck:
    """Evidence that the transferred model trails the from-scratch reference.

    Attributes:
        epoch: the 0-based epoch index at which the alarm fired.
        monitor: the compared metric; `mode`: `"min"` or `"max"`.
        transferred, reference: best value so far of each run at that epoch.
        gap: how much worse the transferred run is (positive), in metric units.
        margin, patience, window: the rule's settings.
        since: the 0-based epoch from which the gap has exceeded the margin.
    """

    epoch: int
    monitor: str
    mode: Direction
    transferred: float
    reference: float
    gap: float
    margin: float
    patience: int
    window: tuple[int, int]
    since: int

    def describe(self) -> str:
        """The evidence in a sentence."""
        return (f"{self.monitor} of the transferred model is {self.transferred:.4g} (best by "
                f"epoch {self.epoch + 1}) against {self.reference:.4g} from scratch with the "
                f"same epochs: {self.gap:.4g} worse, more than the margin {self.margin:g}, "
                f"since epoch {self.since + 1}")

    def to_evidence(self) -> dict:
        return {"monitor": self.monitor, "mode": self.mode, "epoch": self.epoch + 1,
                "since": self.since + 1, "transferred": self.transferred,
                "reference": self.reference, "gap": self.gap, "margin": self.margin,
                "patience": self.patience, "window": list(self.window)}


def best_so_far(values: Sequence[float], mode: Direction | str) -> np.ndarray:
    """Running best of `values` (NaN, e.g. an epoch without validation, is skipped;
    NaN until the first number)."""
    best = Direction.of(mode).running_best(values)
    return np.where(np.isfinite(best), best, np.nan)


def check_window(window: Sequence[int]) -> tuple[int, int]:
    """`(first, last)` 1-based epochs, `1 <= first <= last`.

    Raises:
        TypeError, ValueError: naming the argument and the value.
    """
    if not isinstance(window, (tuple, list)) or len(window) != 2 or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in window):
        raise TypeError(f"`window` must be a pair of epoch numbers (first, last), got "
                        f"{window!r}.")
    first, last = int(window[0]), int(window[1])
    if not 1 <= first <= last:
        raise ValueError(f"`window`={window!r} must satisfy 1 <= first <= last (1-based epochs; "
                         "the handbook judges within 5-10).")
    return first, last


def check_settings(margin: float, window: Sequence[int],
                   patience: int) -> tuple[float, tuple[int, int], int]:
    """`(margin, window, patience)` checked: a finite margin >= 0, `check_window`,
    patience >= 1.

    Raises:
        TypeError, ValueError: naming the argument and the value.
    """
    return (v.check_float("margin", margin, low=0.0, high=float("inf"),
                          high_inclusive=False), check_window(window),
            v.check_int("patience", patience, minimum=1))


def check_negative_transfer(transferred: Sequence[float], reference: Sequence[float], *,
                            monitor: str = "val_accuracy", mode: str = "auto",
                            margin: float = DEFAULT_MARGIN, window: Sequence[int] = DEFAULT_WINDOW,
                            patience: int = DEFAULT_PATIENCE) -> TransferCheck | None:
    """The first epoch in `window` at which the transferred run has trailed the
    reference by more than `margin` for `patience` epochs, or `None`.

    Both curves are indexed by epoch (position 0 is epoch 1); the comparison runs
    over the epochs both have. Epochs before the window count toward `patience`
    only from the window's first epoch on.

    Args:
        transferred, reference: the monitored metric per epoch of each run.
        monitor: the metric's name (for `mode="auto"` and the evidence).
        mode: `"min"`, `"max"` or `"auto"` (from the name).
        margin: how much worse, in the metric's units, counts (>= 0).
        window: `(first, last)` 1-based epochs in which to judge.
        patience: consecutive epochs the gap must exceed `margin` (>= 1).
    """
    mode = Direction.resolve("check_negative_transfer", monitor, mode)
    margin, (first, last), patience = check_settings(margin, window, patience)
    n = min(len(transferred), len(reference), last)
    if n < first:
        return None
    ours = best_so_far(list(transferred)[:n], mode)
    theirs = best_so_far(list(reference)[:n], mode)
    gap = mode.sign * (theirs - ours)
    run = 0
    for i in range(first - 1, n):
        if np.isfinite(gap[i]) and gap[i] > margin:
            run += 1
            if run >= patience:
                return TransferCheck(epoch=i, monitor=monitor, mode=mode,
                                     transferred=float(ours[i]), reference=float(theirs[i]),
                                     gap=float(gap[i]), margin=float(margin), patience=patience,
                                     window=(first, last), since=i - run + 1)
        else:
            run = 0
    return None
