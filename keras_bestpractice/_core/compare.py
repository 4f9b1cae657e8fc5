"""The one comparison: `Direction`, which way is better for a monitored value.

Keras writes "is this better" once (`MonitorCallback.monitor_op(value - min_delta,
reference)`) and KerasTuner keeps the direction on `Objective` (`better_than`,
`direction`); here the direction is one small object, resolved once (from a
`mode`, a metric's name or a KerasTuner objective) and asked everything that
depends on it: the guard's best value, retention's best checkpoint, the tuner's
best epoch, its pruners and the results table, the training objective and the
negative-transfer rule.

`Direction` is a `str`-valued enum (`Direction.MIN == "min"`), so manifests,
JSON summaries and tables keep the plain value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from keras_bestpractice._core.reasons import PlainStrEnum

# Metric names whose best value is the lowest / the highest, without `val_`.
MIN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
             "poisson", "divergence", "perplexity")
MAX_HINTS = ("acc", "accuracy", "auc", "precision", "recall", "f1", "iou", "r2",
             "top_k", "specificity", "sensitivity")


def is_finite_number(value: Any) -> bool:
    """True for a real number that is neither NaN nor infinite."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class Direction(PlainStrEnum):
    """Which way a monitored value improves: `MIN` (losses) or `MAX` (accuracies).

    Example:

    ```python
    d = Direction.resolve("EarlyStopping", "val_accuracy", "auto")   # Direction.MAX
    d.is_better(0.9, 0.8)            # True
    d.best_index([0.7, 0.9, 0.9])    # 1: the first of tied epochs, as KerasTuner
    ```
    """

    MIN = "min"
    MAX = "max"

    # ----------------------------------------------------------- resolving
    @classmethod
    def of(cls, value: Any, name: str = "mode") -> Direction:
        """A `Direction` from a `Direction`, `"min"`/`"max"`, or anything with a
        `direction` attribute (KerasTuner's `Objective`).

        Raises:
            ValueError: for anything else, naming the argument `name`.
        """
        value = getattr(value, "direction", value)
        if isinstance(value, Direction):
            return value
        if value in ("min", "max"):
            return cls(value)
        raise ValueError(f"`{name}` must be 'min' or 'max', got {value!r}.")

    @classmethod
    def resolve(cls, who: str, monitor: str, mode: str) -> Direction:
        """The direction of `monitor` under Keras's `mode` ("auto" reads the name).

        Raises:
            ValueError: for a mode other than "auto", "min", "max", or when "auto"
                cannot tell, saying what to pass (Keras's wording).
        """
        if mode in ("min", "max"):
            return cls(mode)
        if mode != "auto":
            raise ValueError(f"{who}: `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
        found = cls.from_name(monitor)
        if found is None:
            raise ValueError(
                f"{who} received monitor={monitor!r}, but cannot determine whether that "
                "metric should be maximized or minimized. Pass `mode='max'` in order to "
                "monitor based on the highest metric value, or pass `mode='min'` in order to "
                "use the lowest value."
            )
        return found

    @classmethod
    def from_name(cls, monitor: str) -> Direction | None:
        """The direction a metric's name tells (as `mode="auto"` reads it), else `None`
        (no error: for callers that simply skip such a metric)."""
        name = str(monitor).removeprefix("val_").lower()
        if any(h in name for h in MIN_HINTS):
            return cls.MIN
        if any(h in name for h in MAX_HINTS):
            return cls.MAX
        return None

    # ---------------------------------------------------------- comparing
    @property
    def sign(self) -> float:
        """`+1.0` when larger is better, `-1.0` when smaller is."""
        return 1.0 if self is Direction.MAX else -1.0

    @property
    def worst(self) -> float:
        """The value every finite value beats (`inf` when minimising)."""
        return -math.inf if self is Direction.MAX else math.inf

    def is_better(self, value: Any, reference: Any, min_delta: float = 0.0) -> bool:
        """True when `value` improves on `reference` by more than `min_delta`.

        A non-finite `value` is never better; any finite value beats a `reference`
        of `None` (nothing seen yet) or NaN.
        """
        if not is_finite_number(value):
            return False
        if reference is None or not is_finite_number(reference):
            return True
        delta = abs(float(min_delta))
        if self is Direction.MIN:
            return float(value) < float(reference) - delta
        return float(value) > float(reference) + delta

    def reached(self, value: Any, target: float) -> bool:
        """True when `value` is at least as good as `target` (a goal met)."""
        if not is_finite_number(value):
            return False
        return float(value) >= target if self is Direction.MAX else float(value) <= target

    def best_index(self, values: Sequence[Any]) -> int | None:
        """Position of the best finite value (the first one on ties, as KerasTuner's
        `Objective.better_than` keeps the first best step), or `None`."""
        best = None
        for i, value in enumerate(values):
            if self.is_better(value, None if best is None else values[best]):
                best = i
        return best

    def best_value(self, values: Iterable[Any]) -> float | None:
        """The best finite value, or `None` when there is none."""
        values = list(values)
        i = self.best_index(values)
        return None if i is None else float(values[i])

    def sort_key(self, value: Any) -> float:
        """A key that sorts best first (`sorted(..., key=d.sort_key)`); non-finite last."""
        if not is_finite_number(value):
            return math.inf
        return -self.sign * float(value)

    def running_best(self, values: Sequence[Any]) -> np.ndarray:
        """The best value so far at each position (non-finite values never count)."""
        x = np.asarray([v if is_finite_number(v) else np.nan for v in values], dtype=float)
        filled = np.where(np.isfinite(x), x, self.worst)
        if self is Direction.MAX:
            return np.maximum.accumulate(filled) if filled.size else filled
        return np.minimum.accumulate(filled) if filled.size else filled
