"""The one comparison: is this value better than that one, given a direction.

Keras writes it once (`MonitorCallback.monitor_op(value - min_delta, reference)`)
and KerasTuner keeps the direction on `Objective.direction`; every "better" in
this package goes through `is_better`: the guard's best value, retention's best
checkpoint, the tuner's best epoch and its pruning rules, the results table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

MODES = ("auto", "min", "max")

# Metric names whose best value is the lowest / the highest, without `val_`.
MIN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
             "poisson", "divergence", "perplexity")
MAX_HINTS = ("acc", "accuracy", "auc", "precision", "recall", "f1", "iou", "r2",
             "top_k", "specificity", "sensitivity")


def resolve_mode(who: str, monitor: str, mode: str) -> str:
    """`"min"` or `"max"` for `monitor`; `"auto"` reads the name, as Keras's callbacks do.

    Raises:
        ValueError: for a mode other than "auto", "min", "max", or when "auto"
            cannot tell, saying what to pass.
    """
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"{who}: `mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    name = str(monitor).removeprefix("val_").lower()
    if any(h in name for h in MIN_HINTS):
        return "min"
    if any(h in name for h in MAX_HINTS):
        return "max"
    raise ValueError(
        f"{who} received monitor={monitor!r}, but cannot determine whether that "
        "metric should be maximized or minimized. Pass `mode='max'` in order to monitor "
        "based on the highest metric value, or pass `mode='min'` in order to use the lowest "
        "value."
    )


def mode_from_name(monitor: str) -> str | None:
    """`"min"`/`"max"` when the metric's name tells (as `mode="auto"` reads it), else
    `None` (no error: for callers that simply skip such a metric)."""
    try:
        return resolve_mode("", monitor, "auto")
    except ValueError:
        return None


def direction_of(objective: Any) -> str:
    """`"min"`/`"max"` of a KerasTuner `Objective` (its `direction`) or a mode string."""
    direction = getattr(objective, "direction", objective)
    if direction not in ("min", "max"):
        raise ValueError(f"a direction must be 'min' or 'max', got {direction!r}.")
    return direction


def is_finite_number(value: Any) -> bool:
    """True for a real number that is neither NaN nor infinite."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def is_better(value: float, reference: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """True when `value` improves on `reference` by more than `min_delta`.

    A non-finite `value` is never better; any finite value beats a `reference`
    of `None` (nothing seen yet) or NaN.
    """
    if not is_finite_number(value):
        return False
    if reference is None or not is_finite_number(reference):
        return True
    delta = abs(float(min_delta))
    if mode == "min":
        return float(value) < float(reference) - delta
    if mode == "max":
        return float(value) > float(reference) + delta
    raise ValueError(f"`mode` must be 'min' or 'max', got {mode!r}.")


def best_index(values: Sequence[float | None], mode: str) -> int | None:
    """Position of the best finite value (the first one on ties), or `None`."""
    best = None
    for i, value in enumerate(values):
        if value is None:
            continue
        if best is None and is_finite_number(value) or \
                best is not None and is_better(value, values[best], mode):
            best = i
    return best


def best_value(values: Iterable[float | None], mode: str) -> float | None:
    """The best finite value, or `None` when there is none."""
    values = list(values)
    i = best_index(values, mode)
    return None if i is None else float(values[i])


def sort_key(value: float | None, mode: str) -> float:
    """A key that sorts best first (`sorted(..., key=...)`); non-finite values last."""
    if not is_finite_number(value):
        return math.inf
    return float(value) if mode == "min" else -float(value)
