"""`TrainingObjective`: stop when the objective is met, terminate when it cannot be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback, print_msg, record_stop
from keras_bestpractice._core.history import EpochHistory
from keras_bestpractice._core.objective import (
    DEFAULT_MIN_EPOCHS,
    check_modes,
    check_objective,
    check_target,
)
from keras_bestpractice._core.projection import MIN_POINTS
from keras_bestpractice._core.reasons import StopReason


class TrainingObjective(CopyableCallback):
    """The handbook's training cycle in `fit`: targets, a planned budget, early stop.

    After every epoch: when every target is met, training stops (reason
    `objective_met`, a success). Otherwise, from `min_epochs` epochs on, the
    curve of each unmet target metric is fitted (saturating exponential and
    power-law curves, weighted by how well they fit; see
    `keras_bestpractice.tuning.plan_epochs`) and projected to the budget; when
    the projection gives the target less than `1 - confidence` probability of
    being reached by then, training is terminated (reason
    `objective_unreachable`). `min_progress` adds the handbook's "rate of
    progression in reducing loss on training data": the training loss must fall
    by at least that fraction per epoch (over the last 3 epochs).

    Every epoch's projection (expected epoch to reach each target, its interval,
    the probability by the budget) is in `events` and, with `verbose=1`, printed.
    With `PeriodicCheckpoint` in the same `fit` the stopping epoch is saved (its
    final save) and the callback's state resumes with the run; it works beside
    `DivergenceGuard`, which handles NaN and divergence.

    Args:
        target: `{metric: value}`, e.g. `{"val_accuracy": 0.95}`; several
            targets must all be met at the same epoch.
        max_epochs: the epoch budget (1-based count); `None` uses `fit`'s
            `epochs`. Defaults to `None`.
        min_progress: least relative fall of the training loss per epoch, e.g.
            `0.01`; `None` turns the check off. Defaults to `None`.
        confidence: how sure the projection must be before terminating, in
            (0.5, 1). Defaults to `0.9`.
        min_epochs: epochs before the projection may terminate the run (>= 4; the
            handbook judges within 5-10 epochs). Projections are printed from the
            4th epoch on. Defaults to `8` (on the corpus of real runs of
            `benchmarks/bench_objective.py`, 4 gave 91% precision, 8 gave 97%).
        mode: `"auto"` (from each metric's name), `"min"`, `"max"`, or a dict per
            metric. Defaults to `"auto"`.
        verbose: `1` prints projections and the decision. Defaults to `1`.

    Attributes:
        stop_reason: `StopReason.OBJECTIVE_MET`, `OBJECTIVE_UNREACHABLE` or `None`.
        stopped_epoch: the Keras epoch (0-based) it stopped at, or `None`.
        events: one dict per epoch with the projections, and the decision.

    Example:

    ```python
    objective = TrainingObjective({"val_accuracy": 0.95}, min_progress=0.005)
    model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[objective])
    objective.stop_reason   # 'objective_met' / 'objective_unreachable' / None
    ```

    Raises:
        TypeError: for a `target` that is not a dict of numbers.
        ValueError: for an empty `target`, a mode "auto" cannot read from a name,
            or arguments out of range.
    """

    def __init__(self, target: Mapping[str, float], max_epochs: int | None = None,
                 min_progress: float | None = None, confidence: float = 0.9,
                 min_epochs: int = DEFAULT_MIN_EPOCHS, mode: Any = "auto", verbose: int = 1):
        super().__init__()
        self.target = check_target(target)
        self.max_epochs = v.check_int("max_epochs", max_epochs, minimum=1, allow_none=True)
        self.min_progress = None if min_progress is None else v.check_float(
            "min_progress", min_progress, low=0.0, high=1.0)
        self.confidence = v.check_float("confidence", confidence, low=0.5, high=1.0,
                                        low_inclusive=False, high_inclusive=False)
        self.min_epochs = v.check_int("min_epochs", min_epochs, minimum=MIN_POINTS)
        self.modes = check_modes(mode, self.target)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.stop_reason: StopReason | None = None
        self.stopped_epoch: int | None = None
        self.events: list[dict[str, Any]] = []
        self._history = EpochHistory()
        self._pending_state: dict[str, Any] | None = None
        self._in_fit = False
        self._warned_missing = False

    def _state_key_args(self) -> dict[str, Any]:
        return {"target": dict(sorted(self.target.items()))}

    def state_dict(self) -> dict[str, Any]:
        """The resumable state (used by `PeriodicCheckpoint`): the epochs so far."""
        return {"history": self._history.to_dict(with_epoch=True),
                "events": [dict(e) for e in self.events],
                "stop_reason": None if self.stop_reason is None else str(self.stop_reason)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output; applied at `on_train_begin` if called earlier."""
        if self._in_fit:
            self._apply_state(state)
        else:
            self._pending_state = dict(state)

    def _apply_state(self, state: dict[str, Any]) -> None:
        self._history = EpochHistory.from_dict(state.get("history", {}))
        self.events = [dict(e) for e in state.get("events", [])]

    # -------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self.stop_reason = None
        self.stopped_epoch = None
        self._warned_missing = False
        if self._pending_state is not None:
            self._apply_state(self._pending_state)
            self._pending_state = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._history.is_new_run(epoch):
            self._history = EpochHistory()
            self.events = []

    def on_train_end(self, logs=None):
        self._in_fit = False

    def _budget(self) -> int:
        if self.max_epochs is not None:
            return self.max_epochs
        epochs = (self.params or {}).get("epochs")
        return int(epochs) if epochs else 10**6

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._history.append(epoch, logs)
        missing = [k for k in self.target if k not in logs]
        if missing and not self._warned_missing:
            self._warned_missing = True
            import warnings

            from keras_bestpractice import KerasBestPracticeWarning

            warnings.warn(f"TrainingObjective: {missing} not in the epoch logs (they have "
                          f"{sorted(logs)}); a target that is never logged is never met.",
                          KerasBestPracticeWarning, stacklevel=2)
        # The targets, the losses, and each validation target's training counterpart (a
        # flat validation curve beside a learning training one is at a ceiling, unless
        # its loss falls with training's).
        keys = {*self.target, "loss", "val_loss", *(k[len("val_"):] for k in self.target
                                                    if k.startswith("val_"))}
        history = {k: self._history.get(k) or [] for k in keys}
        budget = self._budget()
        check = check_objective(history, self.target, self.modes, budget,
                                confidence=self.confidence, min_epochs=self.min_epochs,
                                min_progress=self.min_progress)
        event: dict[str, Any] = {"epoch": int(epoch), "budget": budget,
                                 "values": {k: (history[k][-1] if history[k] else None)
                                            for k in self.target}}
        event["projections"] = {
            k: {"probability": p.probability, "expected_epoch": p.expected_epoch,
                "interval": list(p.interval), "value_at_budget": p.value_at_budget}
            for k, p in check.projections.items()}
        if check.reason is not None:
            event["reason"] = str(check.reason)
            event["message"] = check.message
        self.events.append(event)
        if self.verbose and check.projections and check.reason is None:
            parts = [f"{k} {p.describe()}" for k, p in check.projections.items()]
            print_msg(f"Epoch {epoch + 1}: TrainingObjective: " + "; ".join(parts) + ".")
        if check.reason is not None:
            self.stop_reason = check.reason
            self.stopped_epoch = int(epoch)
            self.model.stop_training = True
            if check.reason is StopReason.OBJECTIVE_UNREACHABLE:
                record_stop(self.model, check.reason, source="TrainingObjective")
            if self.verbose:
                what = ("objective met, stopping" if check.reason.is_success
                        else "objective out of reach, terminating")
                print_msg(f"Epoch {epoch + 1}: TrainingObjective: {what}: {check.message}.")

