"""The callbacks `PruningMixin` adds to every execution of a trial, and their shared record.

KerasTuner deep-copies an execution's callbacks; the copies of one trial's
callbacks share its `TrialRecord` (and the tuner), so what each execution saw
reaches the tuner at the end of the trial.

- `TrialRecorder`: per-epoch logs (with the validation-loss slope) into the
  record, the fail-fast objective check, the guard's verdict;
- `PeerPruning`: asks the tuner's `Pruner` at each epoch end whether the trial
  is behind its finished peers, and enforces the search's time budget.
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras_tuner as kt
import numpy as np

from keras_bestpractice._callback import CopyableCallback
from keras_bestpractice._core.history import EpochHistory
from keras_bestpractice._core.pruners import Pruner
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice.tuning import results as results_mod


class TrialRecord:
    """What the executions of one trial saw; shared by the copies of its callbacks."""

    def __init__(self, trial_id: str):
        self.trial_id = trial_id
        self.executions: list[EpochHistory] = []
        self.prune_reason: StopReason | None = None
        self.batch_size_used: int | None = None
        self.started = time.time()

    def begin_execution(self) -> None:
        self.executions.append(EpochHistory())

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch values averaged over the executions that reached each epoch."""
        if not self.executions:
            return {}
        if len(self.executions) == 1:
            return self.executions[0].to_dict()
        keys = dict.fromkeys(k for e in self.executions for k in e.data)
        n = max(len(e) for e in self.executions)
        out = {}
        for key in keys:
            rows = []
            for e in self.executions:
                values = e.data.get(key, [])
                rows.append(values + [math.nan] * (n - len(values)))
            with np.errstate(all="ignore"):
                arr = np.asarray(rows, dtype=float)
                counts = np.isfinite(arr).sum(axis=0)
                sums = np.where(np.isfinite(arr), arr, 0.0).sum(axis=0)
                out[key] = [float(s / c) if c else math.nan for s, c in zip(sums, counts,
                                                                            strict=True)]
        return out


class TrialRecorder(CopyableCallback):
    """Per-epoch logs (with the validation-loss slope), the fail-fast objective check and
    the guard's verdict, into the trial's shared record."""

    # Not the guard: the copy of a trial's callbacks must read the copy of its guard.
    _SHARED = ("tuner", "trial", "record")

    def __init__(self, tuner: Any, trial: Any, record: TrialRecord, guard: Any = None,
                 check_objective: bool = True):
        super().__init__()
        self.tuner, self.trial, self.record, self.guard = tuner, trial, record, guard
        self.check_objective = check_objective
        self._history: EpochHistory | None = None

    def on_train_begin(self, logs=None):
        self.record.begin_execution()
        self._history = self.record.executions[-1]

    def on_epoch_end(self, epoch, logs=None):
        if self._history is None:  # a model that does not call on_train_begin
            self.on_train_begin()
        logs = dict(logs or {})
        objective = self.tuner.oracle.objective
        if self.check_objective and not objective.has_value(logs):
            names = getattr(objective, "name_to_direction", {objective.name: None})
            missing = [n for n in names if n not in logs]
            raise kt.errors.FatalValueError(
                f"the objective {', '.join(map(repr, missing))} is not in the logs after the "
                f"first epoch of trial {self.trial.trial_id}; logged: "
                f"{', '.join(sorted(logs)) or 'nothing'}. Fix the objective's name (or pass "
                "validation data for a `val_` objective); the search is stopped."
            )
        self.check_objective = False
        slope = results_mod.loss_slope(self._history.data.get("val_loss", []) + [
            float(logs.get("val_loss", math.nan))])
        if slope is not None:
            logs["val_loss_slope"] = slope
        self._history.append(epoch, logs)

    def on_train_end(self, logs=None):
        reason = self.guard.stop_reason if self.guard is not None else None
        if reason is not None and self.record.prune_reason is None:
            self.record.prune_reason = reason


def _steps_taken(model: Any) -> int | None:
    """The optimizer steps `model` has taken (`optimizer.iterations`), or `None`."""
    try:
        return int(model.optimizer.iterations.numpy())
    except (AttributeError, TypeError, ValueError):
        return None


class PeerPruning(CopyableCallback):
    """Stops a trial that its `pruner` says is behind its finished peers (never at its
    last epoch), or when the search's time budget is spent."""

    _SHARED = ("tuner", "trial", "record")

    def __init__(self, tuner: Any, trial: Any, record: TrialRecord, pruner: Pruner | None):
        super().__init__()
        self.tuner, self.trial, self.record, self.pruner = tuner, trial, record, pruner
        self._curve: list[float] = []

    def on_train_begin(self, logs=None):
        self._curve = []

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        epochs = (self.params or {}).get("epochs")
        if epochs is not None and epoch + 1 >= int(epochs):
            return  # the trial ran all its epochs: nothing left to prune
        if self.tuner.search_time_is_up():
            self._stop(StopReason.TIME_BUDGET)
            return
        objective = self.tuner.oracle.objective
        logs = logs or {}
        # The trial's objective placed at its epoch (NaN where it was not logged).
        self._curve.extend([math.nan] * (int(epoch) + 1 - len(self._curve)))
        if not objective.has_value(logs):
            return
        self._curve[int(epoch)] = float(objective.get_value(logs))
        if self.pruner is None:
            return
        peers = self.tuner.peer_curves(self.trial.trial_id)
        if self.pruner.prune(self._curve[:int(epoch) + 1], peers,
                             direction=objective.direction, budget=epochs,
                             steps=_steps_taken(self.model)):
            self._stop(self.pruner.reason)

    def _stop(self, reason: StopReason) -> None:
        self.record.prune_reason = reason
        self.model.stop_training = True
