"""Per-epoch log accumulation, the one way every part turns Keras logs into curves."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def as_float(value: Any) -> float:
    """`float(value)`, or NaN for a value that is not a number (a string, a vector)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class EpochHistory:
    """Keras epoch logs as aligned lists, one per key (`History.history`'s shape).

    Every list has one entry per appended epoch: a key missing from an epoch's
    logs (validation every k-th epoch, a metric added late) is NaN there, and so
    is a value that is not a number. `epochs` holds the Keras epoch indices
    (0-based, as `on_epoch_end` receives them).
    """

    def __init__(self) -> None:
        self.data: dict[str, list[float]] = {}
        self.epochs: list[int] = []

    def __len__(self) -> int:
        return len(self.epochs)

    def append(self, epoch: int, logs: Mapping[str, Any] | None) -> None:
        logs = logs or {}
        n = len(self.epochs)
        for key in list(self.data) + [k for k in logs if k not in self.data]:
            series = self.data.setdefault(key, [math.nan] * n)
            series.append(as_float(logs[key]) if key in logs else math.nan)
        self.epochs.append(int(epoch))

    def is_new_run(self, epoch: int) -> bool:
        """`epoch` was already recorded: a `fit` that starts again is a new run (one that
        numbers its epochs on, `fine_tune`'s next phase or a resumed run, continues)."""
        return bool(self.epochs) and int(epoch) <= self.epochs[-1]

    def by_epoch(self, key: str) -> list[float]:
        """The values of `key` placed at their epoch indices (see `place_by_epoch`)."""
        return place_by_epoch(self.epochs, self.get(key) or [math.nan] * len(self.epochs))

    def get(self, key: str | None, start: int = 0) -> list[float] | None:
        """The values of `key` from position `start` on, or `None` when never logged."""
        if key is None or key not in self.data:
            return None
        return self.data[key][start:]

    def to_dict(self, with_epoch: bool = False) -> dict[str, list[float]]:
        out = {k: list(v) for k, v in self.data.items()}
        if with_epoch:
            out = {"epoch": list(self.epochs), **out}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochHistory:
        history = cls()
        lists = {k: [as_float(x) for x in v] for k, v in data.items() if k != "epoch"}
        n = max((len(v) for v in lists.values()), default=0)
        history.data = {k: v + [math.nan] * (n - len(v)) for k, v in lists.items()}
        epochs = data.get("epoch")
        history.epochs = [int(e) for e in epochs] if epochs is not None and len(epochs) == n \
            else list(range(n))
        return history


def place_by_epoch(epochs: Any, values: Any) -> list[float]:
    """`values` at their Keras epoch indices (position e is epoch e), NaN at epochs
    without one; as long as the last epoch + 1."""
    epochs = [int(e) for e in epochs]
    out = [math.nan] * (max(epochs) + 1 if epochs else 0)
    for epoch, value in zip(epochs, values, strict=True):
        out[epoch] = as_float(value)
    return out


def history_dict(history: Any) -> dict[str, list[float]] | None:
    """A run given as a Keras `History`, a `History.history`-like dict or a pandas
    DataFrame, as `{key: [float, ...]}` (NaN for a value that is not a number);
    `None` for anything else (e.g. a bare list of values)."""
    history = getattr(history, "history", history)
    if hasattr(history, "columns") and hasattr(history, "to_dict"):  # a DataFrame
        history = {str(c): list(history[c]) for c in history.columns}
    if isinstance(history, Mapping):
        return {str(k): [as_float(x) for x in vals] for k, vals in history.items()}
    return None


# The spellings of the accuracy metric Keras users meet, most common first.
ACCURACY_KEYS = (
    "accuracy",
    "acc",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
)


def accuracy_key(keys: Any, prefix: str = "") -> str | None:
    """The accuracy key among `keys` (a dict or a list of log keys), `prefix` + spelling."""
    for key in ACCURACY_KEYS:
        if f"{prefix}{key}" in keys:
            return f"{prefix}{key}"
    return None


def first_nonfinite(logs: Mapping[str, Any] | None) -> tuple[str, float] | None:
    """The first `(key, value)` in `logs` that is NaN or +-Inf, or `None`.

    Keras has already turned the logs into Python floats (or NumPy arrays for
    vector metrics), so this costs no device synchronisation.
    """
    if not logs:
        return None
    import numpy as np

    for key, value in logs.items():
        try:
            f = float(value)
        except (TypeError, ValueError):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                continue
            if arr.size and not np.isfinite(arr).all():
                return key, float(arr[~np.isfinite(arr)].ravel()[0])
            continue
        if not math.isfinite(f):
            return key, f
    return None
