"""`NegativeTransferAlarm`: warn when a transferred model trails one trained from scratch."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback, print_msg, record_stop
from keras_bestpractice._core.compare import Direction
from keras_bestpractice._core.history import EpochHistory, as_float, history_dict
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice._core.transfer import (
    DEFAULT_MARGIN,
    DEFAULT_PATIENCE,
    DEFAULT_WINDOW,
    TransferCheck,
    check_negative_transfer,
    check_settings,
)


def reference_curve(reference: Any, monitor: str) -> list[float]:
    """The `monitor` curve of a reference run given as a `History`, a
    `History.history`-like dict, a pandas `DataFrame` or the values themselves.

    Raises:
        TypeError: for anything else; ValueError: when `monitor` is not in it or it is empty.
    """
    history = history_dict(reference)
    if history is not None:
        if monitor not in history:
            raise ValueError(f"`reference` has no {monitor!r} (it has {sorted(history)}); "
                             "pass the from-scratch run's history with the monitored metric.")
        values = history[monitor]
    elif isinstance(reference, Sequence) and not isinstance(reference, (str, bytes)):
        values = reference
    else:
        raise TypeError("`reference` must be a keras History, a dict of lists, a DataFrame or "
                        f"a list of {monitor} values, got {type(reference).__name__}.")
    curve = [as_float(x) for x in values]
    if not curve:
        raise ValueError("`reference` holds no epochs.")
    return curve


class NegativeTransferAlarm(CopyableCallback):
    """Warn (or stop) when the transferred model trails a from-scratch reference.

    The handbook's negative-transfer check: within the first 5-10 epochs, compare
    the transferred model with the same architecture trained from scratch for the
    same epochs. At every epoch end in `window` the best `monitor` value so far of
    this run is compared with the reference's at the same epoch; when this run
    trails by more than `margin` for `patience` epochs in a row, a
    `KerasBestPracticeWarning` names the numbers (and with `stop=True` training
    stops, reason `negative_transfer`). Epochs are Keras's epoch indices, so the
    phases of `fine_tune` (which number their epochs on) are one run.
    `fine_tune(check_negative_transfer=True)` trains the reference and adds this
    callback for you.

    Args:
        reference: the from-scratch run: a `History`, a `History.history` dict, a
            DataFrame, or the list of its `monitor` values per epoch.
        monitor: the compared metric. Defaults to `"val_accuracy"`.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        margin: how much worse counts, in the metric's units (>= 0). Defaults to
            `0.02`.
        window: `(first, last)` 1-based epochs to judge in. Defaults to `(5, 10)`.
        patience: consecutive epochs the gap must last (>= 1). Defaults to `2`.
        stop: stop training when the alarm fires. Defaults to `False`.
        verbose: `1` prints the alarm Keras-style. Defaults to `1`.

    Attributes:
        alarm: the `TransferCheck` evidence once fired, else `None`.

    Example:

    ```python
    scratch = clone.fit(x, y, validation_data=val, epochs=10)
    alarm = NegativeTransferAlarm(scratch, monitor="val_accuracy", margin=0.02)
    model.fit(x, y, validation_data=val, epochs=10, callbacks=[alarm])
    alarm.alarm   # None, or the evidence
    ```

    Raises:
        TypeError, ValueError: for a bad reference or settings, naming the argument.
    """

    def __init__(self, reference: Any, monitor: str = "val_accuracy", mode: str = "auto",
                 margin: float = DEFAULT_MARGIN, window: Sequence[int] = DEFAULT_WINDOW,
                 patience: int = DEFAULT_PATIENCE, stop: bool = False, verbose: int = 1):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"`monitor` must be a metric name, got {monitor!r}.")
        self.monitor = monitor
        self.mode = Direction.resolve("NegativeTransferAlarm", monitor, mode)
        self.reference = reference_curve(reference, monitor)
        self.margin, self.window, self.patience = check_settings(margin, window, patience)
        self.stop = v.check_bool("stop", stop)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.alarm: TransferCheck | None = None
        self._history = EpochHistory()
        self._warned_missing = False

    def _state_key_args(self) -> dict[str, Any]:
        return {"monitor": self.monitor}

    def state_dict(self) -> dict[str, Any]:
        """The resumable state (used by `PeriodicCheckpoint`): the epochs so far and the
        alarm, so a resumed run compares its whole curve."""
        alarm = None if self.alarm is None else dict(vars(self.alarm), window=list(
            self.alarm.window))
        return {"history": self._history.to_dict(with_epoch=True), "alarm": alarm}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output."""
        self._history = EpochHistory.from_dict(state.get("history", {}))
        alarm = state.get("alarm")
        self.alarm = None if alarm is None else TransferCheck(
            **dict(alarm, window=tuple(alarm["window"])))

    def on_train_begin(self, logs=None):
        self._warned_missing = False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # A fit that numbers its epochs on (fine_tune's next phase) continues the run;
        # one that starts again at an epoch already seen is a new run.
        if self._history.is_new_run(epoch):
            self._history = EpochHistory()
            self.alarm = None
        self._history.append(epoch, logs)
        if self.monitor not in logs and not self._warned_missing:
            self._warned_missing = True
            from keras_bestpractice import KerasBestPracticeWarning

            warnings.warn(f"NegativeTransferAlarm: {self.monitor!r} is not in the epoch logs "
                          f"(they have {sorted(logs)}); nothing is compared.",
                          KerasBestPracticeWarning, stacklevel=2)
        if self.alarm is not None:
            return
        check = check_negative_transfer(self._history.by_epoch(self.monitor), self.reference,
                                        monitor=self.monitor, mode=self.mode,
                                        margin=self.margin, window=self.window,
                                        patience=self.patience)
        if check is None:
            return
        self.alarm = check
        from keras_bestpractice import KerasBestPracticeWarning

        message = (f"Epoch {epoch + 1}: NegativeTransferAlarm: negative transfer: "
                   f"{check.describe()}. Train from scratch, or unfreeze more of the base "
                   "sooner.")
        warnings.warn(message, KerasBestPracticeWarning, stacklevel=2)
        if self.verbose:
            print_msg(message)
        if self.stop:
            self.model.stop_training = True
            record_stop(self.model, StopReason.NEGATIVE_TRANSFER, source="NegativeTransferAlarm")
