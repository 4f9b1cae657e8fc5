"""Learning curves from any of the forms Keras users keep them in.

`Curves.from_any` accepts a `dict` of lists (`History.history`), a
`keras.callbacks.History`, a pandas `DataFrame`, or the path of a `CSVLogger`
file, and returns one normalised, NumPy-backed object that the rules read. No
TensorFlow import: a `History` is recognised by its attributes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice._core.history import accuracy_key

LEARNING_RATE_KEYS = ("learning_rate", "lr")


@dataclass
class Curves:
    """Per-epoch training curves, aligned on `epochs`.

    Attributes:
        epochs: Keras epoch numbers (0-based, as `History.epoch` and the `epoch`
            column of a `CSVLogger` file give them).
        series: every metric by its key, as float arrays the length of `epochs`
            (NaN where a value is missing, e.g. validation every other epoch).
        notes: remarks made while reading (duplicated epochs, ragged lists).
    """

    epochs: np.ndarray
    series: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.epochs.shape[0])

    def get(self, key: str | None) -> np.ndarray | None:
        if key is None:
            return None
        return self.series.get(key)

    @property
    def loss(self) -> np.ndarray | None:
        return self.series.get("loss")

    @property
    def val_loss(self) -> np.ndarray | None:
        return self.series.get("val_loss")

    @property
    def accuracy_key(self) -> str | None:
        return accuracy_key(self.series)

    @property
    def val_accuracy_key(self) -> str | None:
        return accuracy_key(self.series, "val_")

    @property
    def accuracy(self) -> np.ndarray | None:
        return self.get(self.accuracy_key)

    @property
    def val_accuracy(self) -> np.ndarray | None:
        return self.get(self.val_accuracy_key)

    @property
    def learning_rate(self) -> np.ndarray | None:
        for key in LEARNING_RATE_KEYS:
            if key in self.series:
                return self.series[key]
        return None

    @property
    def is_binary_accuracy(self) -> bool:
        return self.accuracy_key == "binary_accuracy"

    def epoch_at(self, position: int | None) -> int | None:
        """The Keras epoch number at list position `position`."""
        if position is None:
            return None
        return int(self.epochs[int(position)])

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [float(x) for x in v] for k, v in self.series.items()}

    # ------------------------------------------------------------ construction
    @classmethod
    def from_any(cls, history: Any) -> Curves:
        """Normalise `history` (dict, `History`, `DataFrame`, or a CSV or JSON path)."""
        if isinstance(history, Curves):
            return history
        if isinstance(history, (str, os.PathLike)):
            path = Path(history)
            if path.suffix.lower() == ".json":
                return cls._from_json(path)
            return cls._from_csv(path)
        if _is_dataframe(history):
            return cls._from_frame(history)
        if not isinstance(history, Mapping) and isinstance(getattr(history, "history", None),
                                                           Mapping):
            epochs = getattr(history, "epoch", None)
            return cls._from_mapping(history.history, epochs)
        if isinstance(history, Mapping):
            return cls._from_mapping(history, None)
        raise TypeError(
            "`history` must be a dict of lists (History.history), a keras.callbacks.History, "
            "a pandas DataFrame or the path of a CSVLogger file; got "
            f"{type(history).__name__}."
        )

    @classmethod
    def _from_mapping(cls, mapping: Mapping, epochs: Any) -> Curves:
        notes: list[str] = []
        data: dict[str, list[float]] = {}
        if "epoch" in mapping and epochs is None:
            epochs = mapping["epoch"]
        for key, values in mapping.items():
            if key == "epoch":
                continue
            if not isinstance(key, str):
                raise TypeError(f"`history` keys must be metric names (str), got {key!r}.")
            if _is_label_column(values):
                notes.append(f"`{key}` holds labels, not numbers (e.g. fine_tune's phase): "
                             "left out.")
                continue
            data[key] = _to_float_list(key, values)
        _check_lengths(data)
        lengths = {len(v) for v in data.values()}
        n = max(lengths) if lengths else 0
        if epochs is not None and len(epochs) > 0:
            epochs_arr = np.asarray(list(epochs), dtype=np.int64)
            n = max(n, int(epochs_arr.shape[0]))
            if epochs_arr.shape[0] < n:
                epochs_arr = np.arange(n, dtype=np.int64)
                notes.append("`epoch` was shorter than the metric lists; epochs renumbered.")
        else:
            epochs_arr = np.arange(n, dtype=np.int64)
        series: dict[str, np.ndarray] = {}
        for key, values in data.items():
            arr = np.full(n, np.nan, dtype=np.float64)
            m = len(values)
            if m == n:
                arr[:] = values
            elif m > 0:
                k = validation_every(n, m)
                if k is None:
                    raise ValueError(
                        f"`{key}` has {m} values for {n} epochs, and they cannot be placed on "
                        "their epochs (no single validation_freq gives that count). Pass a "
                        "CSVLogger file (it writes every epoch), or the lists with NaN at the "
                        "epochs without validation."
                    )
                # Validation every k-th epoch (`validation_freq=k`) gives shorter lists:
                # Keras evaluates after epochs k, 2k, ... (indices k-1, 2k-1, ...).
                arr[k - 1 : k * m : k] = values
                notes.append(f"`{key}` has {m} values for {n} epochs: placed as "
                             f"validation_freq={k} logs them (after epochs {k}, {2 * k}, ...).")
            series[key] = arr
        return cls(epochs=epochs_arr[:n], series=series, notes=notes)

    @classmethod
    def _from_frame(cls, frame: Any) -> Curves:
        notes: list[str] = []
        frame = frame.copy()
        if "epoch" in frame.columns:
            frame = frame[frame["epoch"].notna()]
            epoch_col = frame["epoch"].astype("int64")
            if epoch_col.duplicated().any():
                # A resumed run appends to the same CSVLogger file: the later row of
                # an epoch is the one the model that continued actually trained.
                notes.append("duplicated epochs (a resumed run?): kept the last row of each.")
                frame = frame.assign(epoch=epoch_col).drop_duplicates("epoch", keep="last")
                frame = frame.sort_values("epoch")
            epochs = frame["epoch"].astype("int64").to_numpy()
            frame = frame.drop(columns=["epoch"])
        else:
            epochs = np.arange(len(frame), dtype=np.int64)
        series: dict[str, np.ndarray] = {}
        for column in frame.columns:
            if _is_label_column(frame[column].tolist()):
                notes.append(f"`{column}` holds labels, not numbers: left out.")
                continue
            values = _to_float_array(str(column), frame[column].to_numpy())
            series[str(column)] = values
        return cls(epochs=np.asarray(epochs, dtype=np.int64), series=series, notes=notes)

    @classmethod
    def _from_json(cls, path: Path) -> Curves:
        import json

        _check_readable(path)
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"`history`={str(path)!r} is not a JSON file ({exc}).") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"`history`={str(path)!r} must hold a JSON object of lists "
                             f"(History.history), got {type(data).__name__}.")
        return cls._from_mapping(data, None)

    @classmethod
    def _from_csv(cls, path: Path) -> Curves:
        _check_readable(path)
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"`history`={str(path)!r} is empty.") from exc
        except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
            raise ValueError(f"`history`={str(path)!r} is not a CSVLogger CSV file "
                             f"({type(exc).__name__}: {exc}).") from exc
        # CSVLogger repeats nothing, but a restarted run with append=False and a
        # hand-concatenated file can repeat the header row: drop such rows.
        if "epoch" in frame.columns:
            frame = frame[frame["epoch"].astype(str) != "epoch"]
        return cls._from_frame(frame)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"`history`={str(path)!r} does not exist.")
    if path.is_dir():
        raise ValueError(f"`history`={str(path)!r} is a directory; pass a CSVLogger CSV file "
                         "or a JSON file of History.history.")


def _check_lengths(data: Mapping[str, list[float]]) -> None:
    """Training metrics have one value per epoch; validation lists may be shorter
    (`validation_freq`) but never longer."""
    train = {k: len(v) for k, v in data.items() if not k.startswith("val_")}
    if len(set(train.values())) > 1:
        raise ValueError(f"`history` columns differ in length ({train}): every training "
                         "metric needs one value per epoch.")
    n = max(train.values(), default=0)
    longer = {k: len(v) for k, v in data.items() if k.startswith("val_") and len(v) > n}
    if train and longer:
        raise ValueError(f"`history` has more validation values than epochs ({longer} for "
                         f"{n} epochs).")


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


def _is_label_column(values: Any) -> bool:
    """A column of text labels only (such as `fine_tune`'s `phase`), not a metric."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        return False
    values = list(values)
    return bool(values) and all(isinstance(v, str) for v in values) and not any(
        _is_number_text(v) for v in values)


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_float_list(key: str, values: Any) -> list[float]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"`history[{key!r}]` must be a list of numbers, got {values!r}.")
    return [float(v) for v in _to_float_array(key, np.asarray(list(values), dtype=object))]


def _to_float_array(key: str, values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = float(v) if v is not None else math.nan
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"`history[{key!r}]` has a value that is not a number at position {i}: {v!r}."
            ) from exc
    return out


def validation_every(epochs: int, values: int) -> int | None:
    """The `validation_freq` k that logs `values` validation values in `epochs` epochs
    (`epochs // k == values`), or `None` when there is none or more than one."""
    if values <= 0 or values > epochs:
        return None
    # epochs // k == values  <=>  epochs / (values + 1) < k <= epochs / values
    candidates = [k for k in range(1, epochs + 1) if epochs // k == values]
    return candidates[0] if len(candidates) == 1 else None
