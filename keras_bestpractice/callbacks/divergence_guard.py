"""`DivergenceGuard`: catch NaN/Inf and divergence in `model.fit`, roll back, back off, retry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import (
    CopyableCallback,
    cluster_strategy,
    cluster_sum,
    print_msg,
    record_restore,
    record_stop,
    reference_for,
)
from keras_bestpractice._core.compare import Direction
from keras_bestpractice._core.divergence import GUARD_DIVERGENCE_FACTOR, GUARD_NEAR_ZERO_FRACTION
from keras_bestpractice._core.history import EpochHistory, accuracy_key, first_nonfinite
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice._snapshot import Snapshot
from keras_bestpractice._warnings import warn

RESTORE_CHOICES = ("last_good", "best", None)


class TrainingDivergedError(RuntimeError):
    """Raised by `DivergenceGuard(raise_error=True)` after it restored the last good state.

    Attributes:
        event: the detection that stopped training (a dict like `guard.events[-1]`).
    """

    def __init__(self, message: str, event: dict[str, Any]):
        super().__init__(message)
        if not isinstance(event, dict):
            raise TypeError(f"`event` must be a dict like `guard.events[-1]`, got "
                            f"{type(event).__name__}.")
        self.event = event


class DivergenceGuard(CopyableCallback):
    """Stop, roll back or back off when training produces NaN/Inf or diverges.

    Keras's `TerminateOnNaN` reads only `logs["loss"]`, keeps the NaN weights
    and stops. This guard checks every value in the logs, restores the last good
    weights *and* optimizer state, can lower the learning rate and carry on, and
    records what it did in `guard.events`.

    Detection:

    - **Non-finite**: every log value (loss and metrics at each batch, `val_*` at
      epoch end) is checked; the first NaN/Inf is caught at the first
      `on_train_batch_end` after it appears (within `check_every` batches, or
      `steps_per_execution` when that is larger).
    - **Divergence**: the monitored value as Keras puts it in `logs` (within an
      epoch, the running mean since the epoch began) above `divergence_factor`
      times the lowest value seen so far in this `fit` (the first value counts
      until a lower one appears), for `patience` consecutive batches (a check
      counts for every batch it covers: with `steps_per_execution` or
      `check_every` > 1, several; an epoch-end check counts one). Once the
      run has a settled value (an epoch end, or a running mean of at least
      `min_batches` batches), a running mean of fewer batches is checked but no
      longer becomes the lowest value: early in an epoch it is the mean of a
      batch or two, and one lucky batch would make the ordinary mean look
      "diverged" for the rest of the run. At the very start of training the
      first batches are the only reference there is, so they count (a loss that
      explodes within the first epoch is caught against the initial loss). When
      the first value seen is already above `divergence_factor` times the loss's
      reference level (below), the reference level stands in for the initial
      loss: with `steps_per_execution > 1` the first value Keras reports is the
      mean of several steps, and a blow-up inside them would otherwise become
      the best value. For a `mode="max"` metric: below the highest value divided
      by the factor.
    - **Not learning** (`stop_if_not_learning=True`): after `grace_epochs`
      epochs and at least `grace_steps` optimizer steps, the loss still at or
      above its reference level, the loss of a model that learned nothing
      (`keras_bestpractice._core.reference`): the entropy of the class prior
      for softmax classifiers (ln C when balanced), of the label prevalence
      for sigmoid outputs, the targets' variance (MSE) or mean absolute
      deviation (MAE) for regression when `targets` are given; with accuracy
      near chance where there is one. For any other loss (or regression
      without `targets`) the level is unknown and the rule is off,
      with a warning. The same rule as `diagnose()`'s.

    Action, recorded in `events` as `"stopped"`, `"rolled_back"` or `"lr_backoff"`:
    with `restore="last_good"` the weights and optimizer variables go back to the
    last snapshot taken while everything was finite (snapshots live in host
    memory: one before the first step, then every `snapshot_every`); for
    `not_learning` the snapshot from before the first step is used. With
    `lr_backoff=f` the learning rate is then multiplied by `f` and training
    continues, at most `max_backoffs` times; after that, or without
    `lr_backoff`, training stops (`model.stop_training = True`) with
    `stop_reason` set, or raises `TrainingDivergedError` with `raise_error=True`
    so that later callbacks' `on_train_end` never see bad weights.

    Args:
        monitor: quantity for the divergence rule. Defaults to `"loss"`.
        mode: `"auto"`, `"min"` or `"max"`; `"auto"` reads the name (losses are
            minimised, accuracy-like metrics maximised). Defaults to `"auto"`.
        min_delta: minimum change for a new lowest (highest) value to count.
            Defaults to `0`.
        divergence_factor: how many times the best value counts as diverged
            (> 1). Defaults to `3.0` (`_core.divergence` says why it differs from
            `diagnose()`'s 2.0).
        patience: consecutive batches above the threshold before acting (a
            check counts for the batches since the previous one). Defaults to `10`.
        min_batches: batches into an epoch before its running mean may set the
            lowest (highest) value, once the run has a settled one; `1` lets every
            value set it. Defaults to `10`.
        check_every: check every n-th `on_train_batch_end`. Defaults to `1`.
        restore: `"last_good"` (newest finite snapshot), `"best"` (the snapshot
            with the best monitored value) or `None` (stop without restoring).
            Defaults to `"last_good"`.
        lr_backoff: factor in (0, 1) applied to the learning rate after a
            roll-back, training then continues; `None` stops instead. Works
            for a float learning rate and for a `LearningRateSchedule` (its
            output is scaled). Defaults to `None`.
        max_backoffs: how many back-offs before stopping. Defaults to `3`.
        snapshot_every: `"epoch"` or a number of batches between snapshots
            (a snapshot copies weights and optimizer state to host memory: every
            batch costs ~1.5x step time on a small MLP, every 50 batches ~6%).
            Defaults to `"epoch"`.
        stop_if_not_learning: also act when the run is stuck at chance.
            Defaults to `False`.
        grace_epochs: epochs before the not-learning rule may fire. Defaults
            to `3`.
        grace_steps: optimizer steps before the not-learning rule may fire, too:
            a small data set with a large batch trains one step an epoch, and two
            steps say nothing of a run (issue #26: such trials were pruned and
            reached 0.92-1.00 later). Defaults to `50`.
        raise_error: raise `TrainingDivergedError` instead of stopping
            quietly. Defaults to `False`.
        verbose: `0` silent, `1` prints each detection and action. Defaults to `0`.
        num_classes: classes for the chance level; `None` reads the model's
            output width. Defaults to `None`.
        class_prior: class counts or shares for an imbalanced chance level.
            Defaults to `None`.
        targets: the training targets (or a representative sample), for the
            reference level of regression losses and the label prevalence of
            sigmoid outputs; only summary statistics are kept. Defaults to `None`.
        warn_unknown_reference: warn when `stop_if_not_learning=True` but the
            loss's reference level is unknown (the rule is then off). A tuner
            that makes one guard per trial warns once. Defaults to `True`.

    Attributes:
        events: one dict per detection with keys `epoch`, `epoch_number`, `batch`,
            `reason` (a plain string: `"nan"`, `"inf"`, `"diverged"`,
            `"not_learning"`), `value` and `action`. `epoch` and `batch` are
            0-based indices as Keras passes them to callbacks (`History.epoch`,
            `on_train_batch_end`); `epoch_number` is the epoch as Keras prints it
            and the guard's messages say it ("Epoch 3/10" is 3), and the message's
            step is `batch + 1`. `batch` is `None` for a detection at epoch end.
        stop_reason: the reason that stopped training, or `None`.
        lr_scale: product of the back-off factors applied so far.
        backoffs_used: number of back-offs applied.

    Example:

    ```python
    guard = DivergenceGuard(lr_backoff=0.1, verbose=1)
    model.fit(x, y, epochs=20, callbacks=[guard])
    print(guard.events, guard.stop_reason)
    ```

    Raises:
        ValueError: for an unknown `restore`, `mode` or `snapshot_every`, a
            `divergence_factor` <= 1, `lr_backoff` outside (0, 1), or negative
            counts.
        TypeError: for arguments of the wrong type.
    """

    def __init__(
        self,
        monitor: str = "loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        divergence_factor: float = GUARD_DIVERGENCE_FACTOR,
        patience: int = 10,
        min_batches: int = 10,
        check_every: int = 1,
        restore: str | None = "last_good",
        lr_backoff: float | None = None,
        max_backoffs: int = 3,
        snapshot_every: str | int = "epoch",
        stop_if_not_learning: bool = False,
        grace_epochs: int = 3,
        grace_steps: int = 50,
        raise_error: bool = False,
        verbose: int = 0,
        num_classes: int | None = None,
        class_prior: Sequence[float] | None = None,
        targets: Any = None,
        warn_unknown_reference: bool = True,
    ):
        super().__init__()
        self.warn_unknown_reference = v.check_bool("warn_unknown_reference",
                                                   warn_unknown_reference)
        self.monitor = v.check_str("monitor", monitor)
        self.mode = v.check_mode(mode)
        self.min_delta = abs(v.check_float("min_delta", min_delta))
        self.divergence_factor = v.check_float("divergence_factor", divergence_factor, low=1.0,
                                               low_inclusive=False)
        self.patience = v.check_int("patience", patience, minimum=1)
        self.min_batches = v.check_int("min_batches", min_batches, minimum=1)
        self.check_every = v.check_int("check_every", check_every, minimum=1)
        if restore is not None and not isinstance(restore, str):
            raise TypeError(f"`restore` must be 'last_good', 'best' or None, got {restore!r}.")
        self.restore = v.check_choice("restore", restore, RESTORE_CHOICES)
        self.lr_backoff = v.check_float("lr_backoff", lr_backoff, low=0.0, high=1.0,
                                        low_inclusive=False, high_inclusive=False,
                                        allow_none=True)
        self.max_backoffs = v.check_int("max_backoffs", max_backoffs, minimum=0)
        if isinstance(snapshot_every, str):
            v.check_choice("snapshot_every", snapshot_every, ("epoch",))
        else:
            v.check_int("snapshot_every", snapshot_every, minimum=1)
        self.snapshot_every = snapshot_every
        self.stop_if_not_learning = v.check_bool("stop_if_not_learning", stop_if_not_learning)
        self.grace_epochs = v.check_int("grace_epochs", grace_epochs, minimum=1)
        self.grace_steps = v.check_int("grace_steps", grace_steps, minimum=0)
        self.raise_error = v.check_bool("raise_error", raise_error)
        self.verbose = v.check_int("verbose", verbose, minimum=0)
        self.num_classes = v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
        self.class_prior = v.check_class_prior("class_prior", class_prior)
        self.targets = None if targets is None else _summary("targets", targets)
        if self.lr_backoff is not None and self.restore is None:
            raise ValueError(
                "`lr_backoff` needs a state to go back to: use restore='last_good' or 'best' "
                f"with lr_backoff={self.lr_backoff}, or lr_backoff=None."
            )
        self._direction = Direction.resolve("DivergenceGuard", self.monitor, self.mode)
        self._in_fit = False
        self._cluster = None
        self._pending_state: dict[str, Any] | None = None
        self._reset_state()

    # ------------------------------------------------------------------ state
    def _state_key_args(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "mode": self.mode}

    def _reset_state(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stop_reason: StopReason | None = None
        self.lr_scale = 1.0
        self.backoffs_used = 0
        self._best: float | None = None
        self._settled = False  # has a settled value (epoch end, >= min_batches) been seen
        self._bad_checks = 0
        self._calls = 0
        self._epoch = 0
        self._prev_batch = -1
        self._steps_since_snapshot = 0
        self._steps_since_check = 0
        self._initial: Snapshot | None = None
        self._last_good: Snapshot | None = None
        self._best_snapshot: Snapshot | None = None
        self._monitor_seen = False
        self._history = EpochHistory()
        self._history_start = 0
        self._chance = None
        self._chance_checked = False
        self._first_checked = False
        self._start_level: float | None = None  # the first settled value of the monitor
        self._steps_seen = 0  # optimizer steps of this run (the not-learning grace)

    def state_dict(self) -> dict[str, Any]:
        """The guard's resumable state (used by `PeriodicCheckpoint`)."""
        return {
            "lr_scale": self.lr_scale,
            "backoffs_used": self.backoffs_used,
            "events": [dict(e) for e in self.events],
            "stop_reason": self.stop_reason,
            "best": self._best,
            "start_level": self._start_level,
            "steps_seen": self._steps_seen,
            "history": self._history.to_dict(with_epoch=True),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output; applied at `on_train_begin` if called earlier.

        The learning-rate scale itself travels with the optimizer state that
        `PeriodicCheckpoint` restores (a float learning rate is an optimizer
        variable); for a schedule it is re-applied here.
        """
        if self._in_fit:
            self._apply_state(state)
        else:
            self._pending_state = dict(state)

    def _apply_state(self, state: dict[str, Any]) -> None:
        self.backoffs_used = int(state.get("backoffs_used", 0))
        self.events = [dict(e) for e in state.get("events", [])]
        self.stop_reason = StopReason.parse(state.get("stop_reason"))
        self._best = state.get("best")
        self._start_level = state.get("start_level")
        self._steps_seen = int(state.get("steps_seen", 0))
        self._settled = self._best is not None
        self._history = EpochHistory.from_dict(state.get("history", {}))
        scale = float(state.get("lr_scale", 1.0))
        if self.model is not None and scale != self.lr_scale:
            from keras_bestpractice import _lr

            if _lr.is_schedule(self.model.optimizer, "DivergenceGuard"):
                _lr.scale_learning_rate(self.model, scale / self.lr_scale)
        self.lr_scale = scale

    # -------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        # Allow instances to be re-used across `model.fit()` calls.
        self._reset_state()
        self._in_fit = True
        record_stop(self.model, None)
        record_restore(self.model, None)
        self._cluster = cluster_strategy(self.model)
        if self.lr_backoff is not None:
            from keras_bestpractice import _lr

            _lr.check_scalable(self.model.optimizer, "DivergenceGuard(lr_backoff=...)")
        if self._pending_state is not None:
            self._apply_state(self._pending_state)
            self._pending_state = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self._prev_batch = -1
        if self._initial is None:
            # Taken here, not in on_train_begin, so that a PeriodicCheckpoint listed
            # after this guard has already restored the weights it resumes from.
            self._initial = Snapshot.take(self.model, epoch, None, where="start")
            if self._last_good is None:
                self._last_good = self._initial

    def on_train_batch_end(self, batch, logs=None):
        self._calls += 1
        step = int(batch)
        covered = max(1, step - self._prev_batch)
        self._steps_seen += covered
        self._steps_since_snapshot += covered
        self._steps_since_check += covered
        self._prev_batch = step
        if self._calls % self.check_every:
            return
        covered, self._steps_since_check = self._steps_since_check, 0
        if self._settle(self._decide(logs, step, covered), step):
            return
        if self._initial is None:  # a model that was built by its first step
            self._initial = Snapshot.take(self.model, self._epoch, step, where="batch")
            self._last_good = self._last_good or self._initial
        if (isinstance(self.snapshot_every, int)
                and self._steps_since_snapshot >= self.snapshot_every):
            self._snapshot(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and self.stop_reason is not None:
            return
        logs = logs or {}
        decision = self._decide(logs, None)
        if decision is None and self.monitor not in logs and not self._monitor_seen:
            self._monitor_seen = True  # warn once
            warn(
                f"DivergenceGuard(monitor={self.monitor!r}): {self.monitor!r} is not in the "
                f"logs (available: {', '.join(sorted(logs)) or 'none'}); the divergence rule is "
                "off, NaN/Inf checks still run." + v.did_you_mean(self.monitor, logs)
            )
        if decision is None:
            self._history.append(epoch, logs)
            if self.stop_if_not_learning:
                decision = self._not_learning(logs)
        if self._settle(decision, None):
            return
        self._snapshot(None, logs)

    _NOT_COPIED = ("_model", "_initial", "_last_good", "_best_snapshot", "_cluster")

    def on_train_end(self, logs=None):
        self._in_fit = False
        # Free the host copies; the events and counters stay readable.
        self._initial = self._last_good = self._best_snapshot = None

    # ----------------------------------------------------------------- checks
    def _is_better(self, value: float, reference: float | None) -> bool:
        return self._direction.is_better(value, reference, self.min_delta)

    def _above_threshold(self, value: float) -> bool:
        best = self._best
        if best is None or best <= 0:
            return False
        if self._direction is Direction.MIN:
            return value > self.divergence_factor * best and value > self._near_zero_floor()
        return value < best / self.divergence_factor

    def _near_zero_floor(self) -> float:
        """The loss must also be back above half the level it started from (the loss's
        reference level, else the run's first settled value): near zero, a factor of
        the best is a wobble, not a divergence (`_core.divergence`)."""
        level = None
        if self.monitor == "loss" or self.monitor.endswith("_loss"):
            reference = self._chance_level()
            level = None if reference is None else reference.loss
        if level is None:
            level = self._start_level
        return 0.0 if level is None else GUARD_NEAR_ZERO_FRACTION * float(level)

    def _decide(self, logs: dict | None, batch: int | None, covered: int = 1) -> tuple | None:
        """`(reason, value)` when these logs call for action (NaN/Inf, diverged), else `None`."""
        bad = first_nonfinite(logs)
        if bad is not None:
            return _nonfinite_reason(bad[1]), bad[1]
        if logs and self.monitor in logs:
            self._monitor_seen = True
            value = float(logs[self.monitor])
            if self._diverged(value, batch, covered):
                return StopReason.DIVERGED, value
        return None

    def _diverged(self, value: float, batch: int | None, covered: int = 1) -> bool:
        """`covered`: the batches this check stands for (counted against `patience`)."""
        if not self._first_checked and self._best is None:
            self._first_checked = True
            reference = self._chance_level() if self._direction is Direction.MIN and \
                self.monitor == "loss" else None
            if reference is not None and value > self.divergence_factor * reference.loss:
                # Already diverged at the first report (several steps per execution):
                # the reference level stands in for the initial loss.
                self._best = reference.loss
        settled = batch is None or batch + 1 >= self.min_batches
        if settled and self._start_level is None and math.isfinite(value):
            self._start_level = value
        may_set_best = settled or not self._settled
        self._settled = self._settled or settled
        if self._is_better(value, self._best):
            if may_set_best:
                self._best = value
            self._bad_checks = 0
            return False
        diverged = self._above_threshold(value)
        self._bad_checks = self._bad_checks + covered if diverged else 0
        if self._bad_checks >= self.patience:
            self._bad_checks = 0
            return True
        return False

    def _settle(self, decision: tuple | None, batch: int | None) -> bool:
        """Agree on `decision` with the other workers (multi-worker training), then act on
        it; True when it acted. Every worker calls this at the same points."""
        strategy = self._cluster
        if strategy is not None:
            local = [1.0 if decision is not None and decision[0] is reason else 0.0
                     for reason in _AGREED]
            seen = cluster_sum(strategy, local)
            agreed = next((r for r, n in zip(_AGREED, seen, strict=True) if n > 0), None)
            if agreed is None:
                decision = None
            elif decision is None or decision[0] is not agreed:
                decision = (agreed, math.nan, "detected on another worker")
        if decision is None:
            return False
        self._act(decision[0], batch, decision[1], *decision[2:])
        return True

    def _chance_level(self):
        """The loss's reference level (`_core.reference`), or `None` when unknown."""
        if not self._chance_checked:
            self._chance_checked = True
            self._chance = reference_for(self.model, self.num_classes, self.class_prior,
                                         self.targets)
            if self._chance is None and self.stop_if_not_learning and \
                    self.warn_unknown_reference:
                warn(
                    "DivergenceGuard(stop_if_not_learning=True): the reference level of the "
                    f"loss {_loss_name(self.model)!r} is unknown (it is known for "
                    "cross-entropies, and for MSE/MAE given targets=...); the not-learning "
                    "rule is off."
                )
        return self._chance

    def _not_learning(self, logs: dict) -> tuple | None:
        """`(NOT_LEARNING, tail loss)` when the run is stuck at its reference level."""
        chance = self._chance_level()
        loss = self._history.get("loss", self._history_start)
        if chance is None or loss is None or len(loss) < self.grace_epochs or \
                self._steps_seen < self.grace_steps:
            return None
        from keras_bestpractice.diagnostics.chance import detect_not_learning

        def series(key):
            return self._history.get(key, self._history_start)

        evidence = detect_not_learning(
            loss, series(accuracy_key(logs)), chance,
            val_loss=series("val_loss"), val_accuracy=series(accuracy_key(logs, "val_")),
            grace_epochs=self.grace_epochs,
        )
        if evidence is None:
            return None
        return StopReason.NOT_LEARNING, float(evidence["tail_loss"])

    # ---------------------------------------------------------------- actions
    def _snapshot(self, batch: int | None, logs: dict | None) -> None:
        value = None
        if logs and self.monitor in logs:
            try:
                value = float(logs[self.monitor])
            except (TypeError, ValueError):
                value = None
        if self._bad_checks > 0 or (value is not None and self._above_threshold(value)):
            # Finite is not enough: a state taken while the run is diverging is not
            # one to go back to.
            self._steps_since_snapshot = 0
            return
        snap, bad = Snapshot.capture(self.model, self._epoch, batch, value,
                                     where="end" if batch is None else "batch")
        self._steps_since_snapshot = 0
        # The logs were finite but the model may not be (an Inf gradient on the last step,
        # a NaN BatchNormalization statistic): the same detection as a NaN loss.
        decision = None if bad is None else (
            StopReason.NAN, math.nan, f"a non-finite value in {bad} (every logged value was "
            "finite)")
        if self._settle(decision, batch) or snap is None:
            return
        self._last_good = snap
        if self.restore == "best" and value is not None and (
            self._best_snapshot is None or self._best_snapshot.value is None
            or self._is_better(value, self._best_snapshot.value)
        ):
            self._best_snapshot = snap

    def _restore_point(self, reason: str) -> Snapshot | None:
        if self.restore is None:
            return None
        if reason is StopReason.NOT_LEARNING:
            return self._initial
        if self.restore == "best" and self._best_snapshot is not None:
            return self._best_snapshot
        return self._last_good

    def _act(self, reason: StopReason, batch: int | None, value: float,
             detail: str | None = None) -> None:
        snapshot = self._restore_point(reason)
        restored = snapshot is not None
        if restored:
            snapshot.restore(self.model)
            record_restore(self.model, self._epoch, snapshot.epoch, snapshot.batch,
                           snapshot.where)
        else:
            # The model holds what training made of it: nothing restored to name.
            record_restore(self.model, None)
        # As Keras prints them: "Epoch 2/8", progress-bar step 11 (batch index 10).
        where = f"epoch {self._epoch + 1}" + (f", step {batch + 1}" if batch is not None
                                              else " (end)")
        what = {StopReason.NAN: f"a NaN value ({value})",
                StopReason.INF: f"an infinite value ({value})",
                StopReason.DIVERGED: f"{self.monitor} diverged ({value:.4g}, best "
                f"{self._best:.4g})" if self._best is not None
                else f"{self.monitor} diverged ({value:.4g})",
                StopReason.NOT_LEARNING: f"the loss is stuck at its reference level "
                f"({value:.4g}, {self._chance.loss:.4g} for a model that learned nothing)"
                if self._chance is not None else f"the loss is stuck ({value:.4g})"}[reason]
        what = detail or what
        # Plain values (a str reason, not the enum), and the epoch both as Keras's index
        # and as printed, so the record reads as the messages do.
        event = {"epoch": self._epoch, "epoch_number": self._epoch + 1, "batch": batch,
                 "reason": str(reason), "value": float(value), "action": "stopped"}
        if restored and self.lr_backoff is not None and self.backoffs_used < self.max_backoffs:
            from keras_bestpractice import _lr

            before = _lr.current_lr(self.model.optimizer)
            _lr.scale_learning_rate(self.model, self.lr_backoff)
            self.backoffs_used += 1
            self.lr_scale *= self.lr_backoff
            after = _lr.current_lr(self.model.optimizer)
            event["action"] = "lr_backoff"
            self.events.append(event)
            # The epoch's running metrics hold the bad values: start them afresh.
            self.model.reset_metrics()
            self._bad_checks = 0
            if reason is StopReason.NOT_LEARNING:
                self._history_start = len(self._history)
            if self.verbose:
                print_msg(
                    f"DivergenceGuard: {where}: {what}. Restored the state of "
                    f"{snapshot.describe()}; learning rate {before:.3g} -> {after:.3g} "
                    f"(back-off {self.backoffs_used}/{self.max_backoffs})."
                )
            return
        event["action"] = "rolled_back" if restored else "stopped"
        self.events.append(event)
        self.stop_reason = reason
        self.model.stop_training = True
        record_stop(self.model, reason, detail={
            "epoch": self._epoch + 1, "step": None if batch is None else batch + 1,
            "value": float(value), "what": what,
            "restored": snapshot.describe() if restored else None})
        message = f"DivergenceGuard: {where}: {what}. " + (
            f"Restored the state of {snapshot.describe()} and stopped training."
            if restored else "Stopped training (nothing restored)."
        )
        if self.verbose:
            print_msg(message)
        if self.raise_error:
            raise TrainingDivergedError(message, dict(event))


# The reasons workers agree on, most serious first.
_AGREED = (StopReason.NAN, StopReason.INF, StopReason.DIVERGED, StopReason.NOT_LEARNING)


def _nonfinite_reason(value: float) -> StopReason:
    return StopReason.NAN if math.isnan(value) else StopReason.INF


def _loss_name(model: Any) -> str:
    loss = getattr(model, "loss", None)
    return loss if isinstance(loss, str) else type(loss).__name__


def _summary(name: str, targets: Any) -> dict[str, Any]:
    from keras_bestpractice._core.reference import target_summary

    try:
        return target_summary(targets)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"`{name}`: {exc}") from None

