"""`HParamsLogger`: a plain `model.fit` as one session of the TensorBoard HParams dashboard."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import (
    CopyableCallback,
    is_chief,
    record_stop,
    stop_reason_of,
)
from keras_bestpractice._core.compare import Direction
from keras_bestpractice._core.history import EpochHistory


class HParamsLogger(CopyableCallback):
    """Log one `fit` to the TensorBoard HParams dashboard.

    Writes a session in `<logdir>/<trial_id>`: the hyperparameter values, the epoch
    metrics (Keras's `train`/`validation` layout, tags `epoch_<metric>`, plus
    `best_<metric>`, the best value so far, for every metric whose direction its
    name tells) and a final status that tells the truth:

    - `Success` only for a run that finished (all its epochs, or stopped by
      `EarlyStopping`) and whose curves `diagnose()` finds no error in;
    - `Failure` for a run stopped by `DivergenceGuard` (any reason), with a NaN/Inf
      in its logs, or whose curves show an error (`nan_loss`, `diverging`,
      `not_learning`: a loss going 4529 -> 20.9 at chance accuracy); the reason is
      written as the session's `outcome` text (TEXT tab) and warned about.

    No experiment config is written: TensorBoard derives it from every session in
    the log directory, so any number of runs, from any number of processes, show
    as one consistent experiment (each string or boolean hyperparameter's domain is
    the set of values logged, each number's the interval they span; the metric
    list is what was logged), with nothing to lock and nothing to go stale in a
    running TensorBoard. A log directory that already holds a tuner's experiment
    config (`RandomSearchTuner(logdir=...)`) shows only the tuner's columns: log
    plain runs elsewhere (a warning says so).

    Args:
        logdir: the TensorBoard log directory (`tensorboard --logdir logdir`).
        hparams: the hyperparameters: a dict `{name: value}`, a dict
            `{hp.HParam: value}` (the value must lie in the HParam's domain), or a
            `keras_tuner.HyperParameters` (its values). Values are bools, ints,
            floats or strings.
        metrics: Keras log keys to log (e.g. `["val_accuracy", "val_loss"]`);
            `None` logs every key. A key never logged is warned about at the end of
            `fit`, with the keys that were. Defaults to `None`.
        trial_id: the session's name (its sub-directory). `None` makes a fresh,
            unique one per `fit` (`run-<date>-<time>-<pid>-<n>`). A name whose
            directory already holds a run is refused (`ValueError`): reusing it
            would silently append to the old run. Defaults to `None`.
        judge: end a run as `Failure` when `diagnose()` finds an error in its
            curves (single-output models). Defaults to `True`.

    Example:

    ```python
    logger = HParamsLogger("logs/hparams", {"learning_rate": 1e-3, "dropout": 0.25})
    model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[logger])
    # tensorboard --logdir logs/hparams   -> HPARAMS tab
    ```

    On a multi-worker run (`tf.distribute.MultiWorkerMirroredStrategy`, or a JAX
    multi-process run) only the chief writes the session: one row in the dashboard
    per run, not one per worker; every worker's logger still has `status`/`outcome`.

    Raises:
        TypeError: for a `hparams` that is not a dict or a `HyperParameters`.
        ValueError: for a value outside its `hp.HParam`'s domain, or a `trial_id`
            that names an existing run.
    """

    def __init__(self, logdir: str | os.PathLike, hparams: Any,
                 metrics: Sequence[str] | None = None, trial_id: str | None = None,
                 judge: bool = True):
        super().__init__()
        self.logdir = v.check_dir_path("logdir", logdir)
        self.hparams = _check_hparams(hparams)
        self.metrics = v.check_str_list("metrics", metrics, allow_none=True)
        self.trial_id = _check_trial_id(trial_id)
        self.judge = v.check_bool("judge", judge)
        if self.trial_id is not None:
            _refuse_existing_run(self.logdir / self.trial_id, self.trial_id)
        self.session_name: str | None = None
        self.status: str | None = None
        self.outcome: str | None = None
        self._session = None
        self._bad_keys: set[str] = set()
        self._history = EpochHistory()
        self._best: dict[str, float] = {}
        self._writes = True

    _NOT_COPIED = ("_model", "_session")

    def _params(self):
        from keras_bestpractice.hparams.writer import hparams_from_values

        if hasattr(self.hparams, "space"):
            return hparams_from_values(dict(self.hparams.values))
        return hparams_from_values(self.hparams)

    def on_train_begin(self, logs=None):
        record_stop(self.model, None)  # a stop recorded by an earlier fit is not this one's
        self.status = self.outcome = None
        self._params_list, self._values = self._params()
        # One session per run: on a multi-worker run only the chief writes (every worker
        # still judges the run, so `status` and `outcome` are the same everywhere).
        self._writes = is_chief(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        if self._session is not None:
            return
        if not self._writes:
            if self._history.is_new_run(epoch):
                self._history = EpochHistory()
                self._bad_keys = set()
            return
        from keras_bestpractice.hparams.writer import SessionWriter

        if self.session_name is not None and not self._history.is_new_run(epoch):
            # A fit that numbers its epochs on (`fine_tune`'s next phase, a resumed
            # run) continues the same run: one session, its best values carried on.
            self._session = SessionWriter(self.logdir / self.session_name, best=self._best)
            return
        self._history = EpochHistory()  # aligned per epoch (NaN where a key is missing)
        self._bad_keys: set[str] = set()
        self._warn_if_tuner_dir()
        self.session_name = self._claim_session_dir()
        self._session = SessionWriter(self.logdir / self.session_name)
        self._session.start(self._values, trial_id=self.session_name)

    def _warn_if_tuner_dir(self) -> None:
        from keras_bestpractice.hparams.writer import has_experiment_config

        if self.logdir.is_dir() and has_experiment_config(self.logdir):
            warnings.warn(
                f"HParamsLogger: {str(self.logdir)!r} holds a tuner's experiment config; "
                "TensorBoard shows only the tuner's hyperparameters and metrics there. Log "
                "plain runs to another directory.", stacklevel=3)

    def _claim_session_dir(self) -> str:
        self.logdir.mkdir(parents=True, exist_ok=True)
        if self.trial_id is not None:
            _refuse_existing_run(self.logdir / self.trial_id, self.trial_id)
            return self.trial_id
        stamp = time.strftime("run-%Y%m%d-%H%M%S")
        for n in range(1000):
            name = f"{stamp}-{os.getpid()}-{n}"
            try:
                (self.logdir / name).mkdir()  # atomic: one process gets each name
                return name
            except FileExistsError:
                continue
        raise RuntimeError(f"HParamsLogger: no free run name under {self.logdir}")  # noqa

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        selected = {k: val for k, val in logs.items()
                    if self.metrics is None or k in self.metrics}
        numbers = {}
        for key, value in logs.items():
            try:
                numbers[key] = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(numbers[key]):
                self._bad_keys.add(key)
        self._history.append(epoch, numbers)
        if self._session is not None:
            best = {k: d for k in selected if (d := Direction.from_name(k)) is not None}
            self._session.scalars(epoch, selected, best=best)

    def on_train_end(self, logs=None):
        if not self._writes:
            if len(self._history):
                self.status, self.outcome = self._verdict()
            return
        if self._session is None:  # no epoch ran
            return
        status, outcome = self._verdict()
        self.status, self.outcome = status, outcome
        if outcome:
            self._session.text("outcome", outcome)
        self._best = self._session.best_values
        self._session.end(status)
        self._session = None
        if status == "failure":
            warnings.warn(f"HParamsLogger: run {self.session_name!r} ends as Failure: "
                          f"{outcome}", stacklevel=2)
        if self.metrics is not None:
            missing = [m for m in self.metrics if m not in self._history.data]
            if missing:
                warnings.warn(
                    f"HParamsLogger: metrics {missing} were never logged, so they have no "
                    f"column; the logs had {sorted(self._history.data)}.", stacklevel=2)

    def _verdict(self) -> tuple[str, str]:
        stopped = stop_reason_of(self.model)
        if stopped is not None and getattr(self.model, "stop_training", False):
            source, reason = stopped
            return "failure", f"stopped by {source}: {reason}"
        if self._bad_keys:
            return "failure", f"non-finite values in {sorted(self._bad_keys)}"
        if self.judge:
            finding = self._diagnosis()
            if finding is not None and finding.severity == "error":
                return "failure", f"{finding.code}: {finding.message}"
        return "success", "completed"

    def _diagnosis(self):
        """`diagnose()`'s primary finding for this run's curves, or `None` when it
        cannot judge them (a multi-output model, no loss, an unreadable history)."""
        from keras_bestpractice._callback import output_losses, reference_for
        from keras_bestpractice.diagnostics import diagnose

        if "loss" not in self._history.data or output_losses(self.model) is not None:
            return None
        try:
            reference = reference_for(self.model)
            loss = getattr(self.model, "loss", None)
            num_classes = reference.num_classes if reference is not None and \
                reference.kind == "classification" else None
            report = diagnose(self._history.to_dict(), num_classes=num_classes,
                              loss=loss if loss is not None else "unknown")
        except (ValueError, TypeError):
            return None
        return report.primary


def _refuse_existing_run(path: Path, trial_id: str) -> None:
    if path.is_dir() and any(path.rglob("events.out.tfevents.*")):
        raise ValueError(
            f"HParamsLogger: `trial_id`={trial_id!r} names an existing run ({str(path)!r}); "
            "logging into it would append to the old run. Pass another `trial_id`, or None "
            "for a fresh name per fit.")


_PLAIN = (bool, int, float, str)


def _check_hparams(hparams: Any) -> Any:
    """A dict `{name or hp.HParam: value}` with values the dashboard can show, or a
    `keras_tuner.HyperParameters`."""
    if hasattr(hparams, "space") and hasattr(hparams, "values"):
        return hparams
    if not isinstance(hparams, Mapping):
        raise TypeError("`hparams` must be a dict of values or a keras_tuner.HyperParameters, "
                        f"got {type(hparams).__name__}.")
    for key, value in hparams.items():
        if not (isinstance(key, str) and key) and type(key).__name__ != "HParam":
            raise TypeError(f"`hparams` keys must be names (str) or hp.HParam, got {key!r}.")
        plain = value.item() if hasattr(value, "item") and not isinstance(value, _PLAIN) \
            else value
        if not isinstance(plain, _PLAIN):
            raise TypeError(f"`hparams`[{key!r}] must be a bool, int, float or str (what the "
                            f"dashboard shows), got {type(value).__name__}.")
        domain = getattr(key, "domain", None)
        if domain is not None and not _in_domain(plain, domain):
            raise ValueError(f"`hparams`[{key.name!r}]={plain!r} is outside its domain "
                             f"{domain!r}.")
    return hparams


def _in_domain(value: Any, domain: Any) -> bool:
    values = getattr(domain, "values", None)
    if values is not None:
        return value in values
    low, high = getattr(domain, "min_value", None), getattr(domain, "max_value", None)
    if low is None or high is None or isinstance(value, (bool, str)):
        return True
    return low <= value <= high


def _check_trial_id(trial_id: Any) -> str | None:
    if trial_id is None:
        return None
    if not isinstance(trial_id, str) or not trial_id:
        raise TypeError(f"`trial_id` must be a non-empty string or None, got {trial_id!r}.")
    if "/" in trial_id or "\\" in trial_id or trial_id in (".", "..") or \
            trial_id.startswith("."):
        raise ValueError(f"`trial_id`={trial_id!r} must be a plain name (it becomes a "
                         "sub-directory of `logdir`): no path separators, no leading '.'.")
    return trial_id
