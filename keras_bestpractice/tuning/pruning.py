"""`PruningMixin`: pruning, per-trial records and the HParams dashboard for any KerasTuner tuner.

```python
import keras_tuner as kt
from keras_bestpractice.tuning import PruningMixin

class PrunedHyperband(PruningMixin, kt.Hyperband):
    pass

tuner = PrunedHyperband(build, objective="val_accuracy", max_epochs=9, pruner="asha")
```

The mixin rides KerasTuner's own trial machinery (`Tuner.run_trial` ->
`_build_and_fit_model` -> `HyperModel.fit`, `TunerCallback`, `SaveBestEpoch`,
executions, retries, `FatalError`, distribution strategies): it only adds its
callbacks to each execution (KerasTuner deep-copies them per execution) and
reads KerasTuner's own trial status at the end of each trial. What it adds:

- pruning: `DivergenceGuard` ends NaN, diverging and (for classifiers) stuck
  trials; the `pruner` (`"median"`, `"asha"`, `"curve"` or a `Pruner` object:
  pure, in `keras_bestpractice._core.pruners`) stops a trial that is behind its
  finished peers; a trial that ran all its epochs is never labelled pruned;
- a fail-fast check: an objective missing from the logs after the first epoch
  stops the search with the keys that were logged;
- `max_time`: a wall-clock budget for the whole search;
- per-execution directories for a user's `PeriodicCheckpoint` and
  `BackupAndRestore` (KerasTuner already does it for `TensorBoard`);
- a compile step for an uncompiled hypermodel (the learning rate and optimizer
  then become hyperparameters, because the tuner applies them);
- `results_frame()` (one row per trial), `kbp_trial.json` per trial and, with
  `logdir`, one HParams session per trial;
- resuming over damaged KerasTuner files: a truncated or empty `trial.json` is
  recorded as a failed trial, a damaged `oracle.json` is rebuilt from the
  trials, each with a warning naming the file; `get_best_models` skips a trial
  whose weights file is damaged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import log
from keras_bestpractice._core.inputs import is_dataset
from keras_bestpractice._core.pruners import PeerCurves, make_pruner
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice._warnings import warn
from keras_bestpractice.hparams.trial_sessions import TrialSessions
from keras_bestpractice.tuning import results as results_mod
from keras_bestpractice.tuning.project_repair import (
    loaded_project_problem,
    repair_project_files,
)
from keras_bestpractice.tuning.space import HANDBOOK_HYPERPARAMETERS
from keras_bestpractice.tuning.trial_callbacks import PeerPruning, TrialRecord, TrialRecorder


def trial_seed(seed: int | None, trial_id: str) -> int:
    """The seed of one trial: a pure function of the tuner's seed and the trial id."""
    text = f"{seed if seed is not None else 0}:{trial_id}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % (2**31 - 1)


PEER_RESCAN_S = 60.0  # how stale a trial's view of its finished peers may get


class _SearchTimeUp(Exception):
    """Raised between trials when `max_time` has run out."""


class PruningMixin:
    """Pruning, per-trial records and the HParams dashboard for a KerasTuner tuner.

    Put it first among the bases: `class Pruned(PruningMixin, kt.Hyperband): pass`.
    Everything else keeps KerasTuner's semantics (see the module docstring).

    Args:
        prune: prune hopeless trials (the guard) and trials behind their peers
            (the `pruner` rule). Defaults to `True`.
        pruner: `"median"` (behind the median of the completed trials at the
            same epoch), `"asha"` (successive halving at epochs
            `min_epochs_for_median * reduction_factor**k`), `"curve"` (the
            trial's fitted learning curve gives it under 10% to beat the best
            completed trial by its last epoch; from 4 epochs on, the projection
            of `TrainingObjective` and `plan_epochs`), or a `Pruner` object
            (`MedianPruner`, `ASHAPruner`, `CurvePruner`, or your own subclass)
            with its own settings. Defaults to `"median"`.
        min_epochs_for_median: first epoch (1-based) at which the rule may prune;
            ASHA's first rung (for a `pruner` given by name). Defaults to `1`.
        min_trials_for_median: peers needed before the median rule applies.
            Defaults to `3`.
        reduction_factor: ASHA's reduction factor (>= 2). Defaults to `3`.
        grace_epochs: epochs before the guard's not-learning rule applies.
            Defaults to `2`.
        grace_steps: optimizer steps before the guard's not-learning rule and a
            `pruner` given by name may judge a trial (an epoch of a small data set at
            a large batch is one step; a `Pruner` object has its own `min_steps`).
            Defaults to `50`.
        max_time: wall-clock budget of the whole search in seconds; the running
            trial is stopped (reason `max_time`) and no new one starts. Defaults
            to `None`.
        logdir: TensorBoard HParams log directory; `None` for none.
        num_classes: classes for the guard's chance level (else the model's
            output width). Defaults to `None`.
        tune_batch_size: when `search` gets arrays (or a function of the batch
            size) and no `batch_size`, tune `batch_size` in [32, 128]. Defaults
            to `False` (`RandomSearchTuner`: `True`).
        epochs_per_trial: epochs when `search` does not say; `None` leaves it to
            `fit` (KerasTuner's behaviour). Defaults to `None`.
    """

    def __init__(self, *args: Any, prune: bool = True, pruner: str = "median",
                 min_epochs_for_median: int = 1, min_trials_for_median: int = 3,
                 reduction_factor: int = 3, grace_epochs: int = 2, grace_steps: int = 50,
                 max_time: float | None = None, logdir: Any = None,
                 num_classes: int | None = None, tune_batch_size: bool = False,
                 epochs_per_trial: int | None = None, **kwargs: Any):
        self.prune = v.check_bool("prune", prune)
        self.min_epochs_for_median = v.check_int("min_epochs_for_median",
                                                 min_epochs_for_median, minimum=1)
        self.min_trials_for_median = v.check_int("min_trials_for_median",
                                                 min_trials_for_median, minimum=1)
        self.reduction_factor = v.check_int("reduction_factor", reduction_factor, minimum=2)
        self.grace_epochs = v.check_int("grace_epochs", grace_epochs, minimum=1)
        self.grace_steps = v.check_int("grace_steps", grace_steps, minimum=0)
        self.pruner = make_pruner(pruner, self.min_epochs_for_median,
                                  self.min_trials_for_median, self.reduction_factor,
                                  min_steps=self.grace_steps)
        self.max_time = v.check_float("max_time", max_time, low=0.0, low_inclusive=False,
                                      allow_none=True)
        self.logdir = v.check_dir_path("logdir", logdir, allow_none=True)
        self.num_classes = v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
        self.tune_batch_size = v.check_bool("tune_batch_size", tune_batch_size)
        self.epochs_per_trial = v.check_int("epochs_per_trial", epochs_per_trial, minimum=1,
                                            allow_none=True)
        self._deadline: float | None = None
        self._records: dict[str, TrialRecord] = {}
        self._peer_cache: dict[str, tuple[int, tuple]] = {}
        self._peer_pool = PeerCurves()
        self._peer_snapshot: tuple[str, float, list] | None = None
        self._building_trial: str | None = None
        self._reloaded = False
        self._tuner_compiles: bool | None = False  # None: not known yet (a reload)
        self._sessions = None if self.logdir is None else TrialSessions(self.logdir)
        # keras_tuner.Tuner sets `self.optimizer` only after BaseTuner.__init__ has
        # built the initial space, which needs to know it.
        self._given_optimizer = kwargs.get("optimizer")
        self._warned_reference = False
        hypermodel = kwargs.get("hypermodel", args[0] if args else None)
        if hypermodel is None and type(self).run_trial is PruningMixin.run_trial:
            # keras_tuner.Tuner's own check, which this class's run_trial would hide.
            raise ValueError(
                "Received `hypermodel=None`. We only allow not specifying `hypermodel` if the "
                "user defines the search space in `Tuner.run_trial()` by subclassing a `Tuner` "
                "class without using a `HyperModel` instance."
            )
        super().__init__(*args, **kwargs)

    # ---------------------------------------------------------------- the space
    def _compiles_itself(self, hp: Any) -> bool | None:
        """Whether the hypermodel returns a compiled model (`None`: cannot tell)."""
        try:
            model = self.hypermodel.build(hp)
        except Exception:  # noqa: BLE001 - a build that needs data: nothing to learn here
            return None
        return _is_compiled(model)

    def _compiles_for_the_build(self) -> bool:
        """Whether this tuner compiles the build's models (learned at the first need after
        a reload)."""
        if self._tuner_compiles is None:
            self._tuner_compiles = self._compiles_itself(self.oracle.get_space()) is False
        return self._tuner_compiles

    def _check_on_first_use(self) -> None:
        """Checks a reloaded project needs before it builds a model (a search, a best
        model); none here. `RandomSearchTuner` checks that the build still declares the
        space the project was searched with."""

    def _applied_hyperparameters(self) -> Any:
        """The hyperparameters the tuner itself applies to an uncompiled model (none when
        it was given an optimizer: then the optimizer's rate is used as it is)."""
        if self._given_optimizer is not None:
            return kt.HyperParameters()
        from keras_bestpractice.tuning.space import compile_search_space

        return compile_search_space()

    def _populate_initial_space(self):
        super()._populate_initial_space()
        if self.hypermodel is None:
            return
        hp = self.oracle.get_space()
        compiled = self._compiles_itself(hp)
        self._tuner_compiles = compiled is False
        if compiled is False:
            extra = [p for p in self._applied_hyperparameters().space
                     if p.name not in [q.name for q in hp.space]]
            if extra:
                hp.merge(extra)
                self.oracle.update_space(hp)

    # --------------------------------------------------------------- searching
    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """KerasTuner's `search`, with this package's checks, budget and results table.

        `x` may also be a function `batch_size -> tf.data.Dataset` (e.g.
        `lambda bs: stratified_dataset(*train, batch_size=bs)`).

        Raises:
            ValueError: for an already-batched dataset with a `batch_size`
                hyperparameter (Keras would silently ignore the batch size).
        """
        self._prepare_search(fit_args, fit_kwargs)
        self._deadline = None if self.max_time is None else time.monotonic() + self.max_time
        try:
            super().search(*fit_args, **fit_kwargs)
        except _SearchTimeUp:
            self.on_search_end()
        finally:
            if not _is_worker():
                self._save_results()

    def _prepare_search(self, fit_args: tuple, fit_kwargs: dict) -> None:
        self._check_on_first_use()
        x = fit_args[0] if fit_args else fit_kwargs.get("x")
        space = self.oracle.get_space()
        names = [p.name for p in space.space]
        if is_dataset(x) and "batch_size" in names:
            raise ValueError(
                "`x` is a tf.data.Dataset, which is already batched, but the search space has "
                "a `batch_size` hyperparameter that would be silently ignored. Pass `x` as a "
                "function `batch_size -> dataset` (e.g. `lambda bs: stratified_dataset(x, y, "
                "batch_size=bs)`), or arrays."
            )
        if self.tune_batch_size and self._compiles_for_the_build() and x is not None and \
                not is_dataset(x) and \
                "batch_size" not in fit_kwargs and "batch_size" not in names:
            from keras_bestpractice.tuning.space import BATCH_SIZES

            space.Choice("batch_size", list(BATCH_SIZES), ordered=True)
            self.oracle.update_space(space)

    def pre_create_trial(self):
        super().pre_create_trial()
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise _SearchTimeUp()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._records[trial.trial_id] = TrialRecord(trial.trial_id)

    def run_trial(self, trial, *args, **kwargs):
        kwargs = dict(kwargs)
        self._targets = self._target_summary(args, kwargs)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *self._trial_callbacks(trial)]
        return super().run_trial(trial, *args, **kwargs)

    def _target_summary(self, args: tuple, kwargs: dict) -> Any:
        """Summary statistics of the `y` given to `search` (arrays only), for the guard's
        reference level of regression and sigmoid losses; `None` when not at hand."""
        from keras_bestpractice._core.reference import target_summary

        y = kwargs.get("y", args[1] if len(args) > 1 else None)
        if y is None or isinstance(y, dict) or (isinstance(y, (list, tuple)) and y and
                                                 not np.isscalar(y[0])):
            return None  # a multi-output model's targets: no single level
        key = id(y)
        cached = getattr(self, "_targets_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            summary = target_summary(y)
        except (TypeError, ValueError):
            summary = None
        self._targets_cache = (key, summary)
        return summary

    def _trial_callbacks(self, trial: Any) -> list:
        from keras_bestpractice.callbacks.divergence_guard import DivergenceGuard

        record = self._records.setdefault(trial.trial_id, TrialRecord(trial.trial_id))
        guard = None
        callbacks = []
        if self.prune:
            # The not-learning rule needs a chance level: classifiers only, and never for
            # a loss objective (a loss is judged against its peers by the rule below).
            # Unknown reference level (a custom loss, regression without array
            # targets): the rule is off for every trial; one warning is enough.
            guard = DivergenceGuard(stop_if_not_learning=self._judge_not_learning(),
                                    grace_epochs=self.grace_epochs,
                                    grace_steps=self.grace_steps, restore=None,
                                    num_classes=self.num_classes,
                                    targets=getattr(self, "_targets", None),
                                    warn_unknown_reference=not self._warned_reference)
            self._warned_reference = True
            callbacks.append(guard)
        check = type(self.oracle.objective).__name__ != "DefaultObjective" \
            and type(self.hypermodel).fit is kt.HyperModel.fit
        callbacks.append(TrialRecorder(self, trial, record, guard, check_objective=check))
        if self.prune or self.max_time is not None:
            callbacks.append(PeerPruning(self, trial, record, self.pruner if self.prune
                                         else None))
        return callbacks

    def _judge_not_learning(self) -> bool:
        objective = self.oracle.objective
        return getattr(objective, "direction", "max") == "max"

    def search_time_is_up(self) -> bool:
        """The search's `max_time` has run out."""
        return self._deadline is not None and time.monotonic() >= self._deadline

    def peer_curves(self, trial_id: str) -> PeerCurves:
        """The objective per epoch of the finished trials other than `trial_id`, leaving
        out hopeless ones (a broken trial would drag the median down and let weak ones
        through). Read from their records in the project directory, which every worker
        of a distributed search shares: the directory is scanned when a trial asks first
        and again only after `PEER_RESCAN_S` seconds (peers finished by other workers in
        the meantime), each record parsed once (`_peer_cache`); every other epoch end gets
        the kept list, so a pruning check costs the same after 10 or 1000 finished trials
        (issue #24: it globbed and stat'ed every trial's record at every epoch end)."""
        now = time.monotonic()
        kept = self._peer_snapshot
        if kept is None or kept[0] != str(trial_id) or now - kept[1] >= PEER_RESCAN_S:
            self._scan_peer_curves()
            kept = (str(trial_id), now, self._peer_pool.without(str(trial_id)))
            self._peer_snapshot = kept
        return kept[2]

    def _scan_peer_curves(self) -> None:
        """Read the records that are new or changed since the last scan (each parsed once)
        into the pool of finished peers (`_peer_pool`, kept sorted per epoch)."""
        changed = False
        for path in Path(self.project_dir).glob(f"trial_*/{results_mod.SUMMARY_FILE}"):
            try:
                stamp = path.stat().st_mtime_ns
            except OSError:
                continue
            cached = self._peer_cache.get(path.parent.name)
            if cached is None or cached[0] != stamp:
                changed = changed or cached is not None
                cached = (stamp, _peer_curve(path))
                self._peer_cache[path.parent.name] = cached
                peer_id, curve = cached[1]
                if curve is not None and not changed:
                    self._peer_pool.add(curve, peer_id)
        if changed:  # a record rewritten: the pool again, from the parsed records
            pairs = [c[1] for c in self._peer_cache.values() if c[1][1] is not None]
            self._peer_pool = PeerCurves([curve for _, curve in pairs],
                                         [peer_id for peer_id, _ in pairs])

    # ----------------------------------------------------------- building, fit
    def _build_hypermodel(self, hp):
        from keras_tuner.engine.tuner import maybe_distribute

        seed = self._seed_base()
        if self._building_trial is not None and seed is not None:
            keras.utils.set_random_seed(trial_seed(seed, self._building_trial))
        with maybe_distribute(self.distribution_strategy):
            model = self.hypermodel.build(hp)
            if isinstance(model, keras.Model) and not _is_compiled(model):
                self._compile(model, hp)
                return model
        self._override_compile_args(model)
        return model

    def _seed_base(self) -> int | None:
        """The seed trial seeds derive from: the tuner's, else its oracle's."""
        seed = getattr(self, "seed", None)
        return getattr(self.oracle, "seed", None) if seed is None else seed

    def _compile(self, model: Any, hp: Any) -> None:
        from keras_bestpractice.tuning.space import default_metrics, make_optimizer

        optimizer = self.optimizer
        if optimizer is None:
            optimizer = make_optimizer(hp)
        elif not isinstance(optimizer, str):
            optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        model.compile(optimizer=optimizer, loss=self.loss or "sparse_categorical_crossentropy",
                      metrics=self.metrics if self.metrics is not None else default_metrics())

    def _build_and_fit_model(self, trial, *args, **kwargs):
        self._building_trial = trial.trial_id
        record = self._records.setdefault(trial.trial_id, TrialRecord(trial.trial_id))
        args = list(args)
        if self.epochs_per_trial is not None:
            kwargs.setdefault("epochs", self.epochs_per_trial)
        # The trial's batch size is applied here only when this tuner added it to the space
        # (a HyperModel.fit that reads it passes it itself).
        batch_size = kwargs.get("batch_size")
        if self.tune_batch_size and self._compiles_for_the_build():
            batch_size = trial.hyperparameters.values.get("batch_size", batch_size)
        for attempt in (0, 1):
            call_args, call_kwargs = list(args), dict(kwargs)
            x = call_args[0] if call_args else call_kwargs.get("x")
            if callable(x) and not is_dataset(x) and not hasattr(x, "shape"):
                x = x(int(batch_size) if batch_size is not None else 32)
                if call_args:
                    call_args[0] = x
                else:
                    call_kwargs["x"] = x
            elif batch_size is not None and not is_dataset(x) and x is not None and \
                    "batch_size" not in kwargs:
                call_kwargs["batch_size"] = int(batch_size)
            if is_dataset(x):
                call_kwargs.setdefault("shuffle", False)  # a dataset brings its own order
            record.batch_size_used = None if batch_size is None else int(batch_size)
            try:
                return super()._build_and_fit_model(trial, *call_args, **call_kwargs)
            except Exception as exc:
                if attempt == 0 and _is_oom(exc) and batch_size and int(batch_size) > 1:
                    batch_size = max(1, int(batch_size) // 2)
                    log.warning("trial %s ran out of memory; retrying it once at batch "
                                "size %s.", trial.trial_id, batch_size)
                    continue
                raise
            finally:
                self._building_trial = None
        return None  # pragma: no cover

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        super()._configure_tensorboard_dir(callbacks, trial, execution)
        from keras_bestpractice.callbacks.periodic_checkpoint import PeriodicCheckpoint

        for i, callback in enumerate(callbacks):
            if isinstance(callback, PeriodicCheckpoint):
                callback.directory = Path(callback.directory) / f"trial_{trial.trial_id}" / \
                    f"execution{execution}"
            elif type(callback) is keras.callbacks.BackupAndRestore:
                callbacks[i] = keras.callbacks.BackupAndRestore(
                    os.path.join(str(callback.backup_dir), f"trial_{trial.trial_id}",
                                 f"execution{execution}"),
                    save_freq=callback.save_freq,
                    delete_checkpoint=callback.delete_checkpoint)

    def load_model(self, trial):
        """The trial's model with the weights of its best epoch (optimizer state included:
        the optimizer is built before the weights file, which holds its variables, is read)."""
        from keras_tuner.engine.tuner import maybe_distribute

        self._check_on_first_use()
        self._building_trial = trial.trial_id
        try:
            model = self._try_build(trial.hyperparameters)
        finally:
            self._building_trial = None
        config_file = Path(self._get_build_config_fname(trial.trial_id))
        if not model.built and config_file.exists():
            config = json.loads(config_file.read_text())
            model.build_from_config(config)
            shape = config.get("input_shape") if isinstance(config, dict) else None
            if not model.built and isinstance(shape, list) and all(
                    d is None or isinstance(d, int) for d in shape):
                # A subclassed model without its own build(): one call builds it.
                model(np.zeros([1 if d is None else d for d in shape], "float32"))
        with maybe_distribute(self.distribution_strategy):
            if model.built and getattr(model, "optimizer", None) is not None and \
                    hasattr(model.optimizer, "build") and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(self._get_checkpoint_fname(trial.trial_id))
        return model

    def get_best_models(self, num_models: int = 1) -> list:
        """The best models, each with the weights of its best epoch; a trial whose
        weights file is damaged or missing is skipped for the next best, with a warning.

        Raises:
            OSError: when no trial's weights can be loaded (naming each trial's problem).
        """
        self._check_on_first_use()
        num_models = v.check_int("num_models", num_models, minimum=1)
        models, problems = [], []
        for trial in self.oracle.get_best_trials(len(self.oracle.trials) or num_models):
            if len(models) == num_models:
                break
            try:
                models.append(self.load_model(trial))
            except Exception as exc:  # noqa: BLE001 - damaged or missing weights
                problems.append(f"trial {trial.trial_id}: {type(exc).__name__}: {exc}")
                warn(f"the weights of trial {trial.trial_id} "
                     f"({self._get_checkpoint_fname(trial.trial_id)}) cannot be loaded "
                     f"({type(exc).__name__}: {exc}); using the next best trial.")
        if not models and problems:
            raise OSError("no best model could be loaded: " + "; ".join(problems))
        return models

    # -------------------------------------------------------------- trial end
    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        record = self._records.pop(trial.trial_id, None) or TrialRecord(trial.trial_id)
        if _is_worker() and not hasattr(self, "oracle"):  # pragma: no cover
            return
        status = str(trial.status).lower()
        message = trial.message or ""
        history = record.history
        summary = {
            "trial_id": trial.trial_id,
            "hyperparameters": dict(trial.hyperparameters.values),
            "objective": self.oracle.objective.name,
            "direction": getattr(self.oracle.objective, "direction", "min"),
            "seed": None if self._seed_base() is None else
            trial_seed(self._seed_base(), trial.trial_id),
            "status": "completed" if status == "completed" else "failed",
            "kerastuner_status": status,
            "error": _last_line(message),
            "prune_reason": str(record.prune_reason or ""),
            "history": history,
            "objective_history": self._objective_history(history),
            "epochs_run": len(history.get("loss", [])),
            "executions": len(record.executions),
            "seconds": round(time.time() - record.started, 3),
            "batch_size_used": record.batch_size_used,
        }
        results_mod.write_summary(self.get_trial_dir(trial.trial_id), summary)
        self._log_session(summary)

    def _objective_history(self, history: dict[str, list[float]]) -> list[float | None]:
        objective = self.oracle.objective
        n = max((len(vals) for vals in history.values()), default=0)
        out = []
        for epoch in range(n):
            logs = {k: vals[epoch] for k, vals in history.items() if epoch < len(vals)}
            try:
                value = float(objective.get_value(logs)) if objective.has_value(logs) else None
            except (KeyError, TypeError, ValueError):
                value = None
            out.append(value if value is not None and math.isfinite(value) else None)
        return out

    def _log_session(self, summary: dict) -> None:
        if self._sessions is not None:
            objective = self.oracle.objective
            self._sessions.write(self.oracle.get_space(), objective.name,
                                 getattr(objective, "direction", "min"), summary,
                                 defaults=HANDBOOK_HYPERPARAMETERS)

    # ---------------------------------------------------------------- results
    def results_frame(self):
        """One row per trial: id, status, every hyperparameter, best and last value of
        each validation metric, epoch of best, val-loss slope, epochs run, prune
        reason, seconds (a pandas `DataFrame`, also saved as `results.csv`)."""
        return self._save_results()

    def _save_results(self):
        from keras_bestpractice._atomic import atomic_write_text

        try:
            frame = results_mod.load_results_frame(self.project_dir)
        except FileNotFoundError:
            import pandas as pd

            return pd.DataFrame()
        atomic_write_text(Path(self.project_dir) / results_mod.RESULTS_FILE,
                          frame.to_csv(index=False))
        return frame

    # ------------------------------------------------------- damaged files
    def reload(self):
        self._reloaded = True
        if self._is_worker():
            super().reload()
        else:
            # KerasTuner's reload first (each trial.json read once); the repair pass and
            # a second reload only when it failed or read something inconsistent.
            try:
                super().reload()
                problem = loaded_project_problem(self.project_dir, self.oracle)
            except Exception as exc:  # noqa: BLE001 - any damage: repair, then reload
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                self.oracle.trials = {}
                repair_project_files(self.project_dir, self.oracle)
                super().reload()
        # Whether this tuner compiles the build's models is learned from a build, which
        # a reload does not need: only a search or a best model does (issue #24:
        # KerasTuner's own reload builds nothing).
        self._tuner_compiles = None if self.hypermodel is not None else False

def _peer_curve(path: Path) -> tuple[str | None, list[float | None] | None]:
    """`(trial_id, objective per epoch)` of a trial's summary file; the curve is `None`
    for a trial that does not compete (not completed, hopeless, unreadable)."""
    summary = results_mod.read_summary(path)
    if summary is None:
        return None, None
    reason = StopReason.parse(summary.get("prune_reason") or None)
    if summary.get("status") != "completed" or (reason is not None and reason.hopeless):
        return str(summary.get("trial_id")), None
    return str(summary.get("trial_id")), list(summary.get("objective_history") or [])


def _last_line(message: str) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _is_compiled(model: Any) -> bool:
    return bool(getattr(model, "compiled", False) or getattr(model, "optimizer", None))


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or \
            "resource exhausted" in str(exc).lower():
        return True
    return type(exc).__name__ == "ResourceExhaustedError"


def _is_worker() -> bool:
    return bool(os.environ.get("KERASTUNER_ORACLE_IP")) and \
        os.environ.get("KERASTUNER_TUNER_ID", "").lower() != "chief"


def with_pruning(tuner_class: type) -> type:
    """`tuner_class` (a KerasTuner tuner class) with `PruningMixin` in front.

    ```python
    PrunedHyperband = with_pruning(kt.Hyperband)
    ```

    Raises:
        TypeError: if `tuner_class` is not a subclass of `keras_tuner.Tuner`.
    """
    if not (isinstance(tuner_class, type) and issubclass(tuner_class, kt.Tuner)):
        raise TypeError(f"`tuner_class` must be a keras_tuner.Tuner subclass, got "
                        f"{tuner_class!r}.")
    return type(f"Pruned{tuner_class.__name__}", (PruningMixin, tuner_class), {})

