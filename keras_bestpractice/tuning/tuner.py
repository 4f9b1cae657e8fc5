"""`RandomSearchTuner`: the handbooks' homebrew random search, pruned, tabled, on the dashboard."""

from __future__ import annotations

import copy
import hashlib
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback
from keras_bestpractice._core.compare import is_better, is_finite_number
from keras_bestpractice._core.history import EpochHistory
from keras_bestpractice._core.inputs import is_dataset as _is_dataset
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice.tuning import results as results_mod
from keras_bestpractice.tuning.space import compile_from_hp, default_metrics


def trial_seed(seed: int | None, trial_id: str) -> int:
    """The seed of one trial: a pure function of the tuner's seed and the trial id."""
    text = f"{seed if seed is not None else 0}:{trial_id}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % (2**31 - 1)


HOPELESS_METRIC = "kbp_hopeless"


class _TrialRecorder(CopyableCallback):
    """Per-epoch logs (with the validation-loss slope), HParams scalars, oracle reports."""

    def __init__(self, tuner: RandomSearchTuner, trial: Any, session: Any, guard: Any = None):
        super().__init__()
        self.tuner, self.trial, self.session, self.guard = tuner, trial, session, guard
        self._last_value = None
        self._epochs = EpochHistory()
        self.best = None
        self.best_weights_path = Path(tuner.get_trial_dir(trial.trial_id)) / "best.weights.h5"

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        self._epochs.append(epoch, logs)
        slope = results_mod.loss_slope(self.history.get("val_loss", []))
        if slope is not None:
            logs["val_loss_slope"] = slope
        if self.session is not None:
            self.session.scalars(epoch, logs)
        objective = self.tuner.oracle.objective
        value = logs.get(objective.name)
        if value is not None and math.isfinite(float(value)):
            # Every epoch's metrics go to the oracle (the median rule of other
            # trials, and of other workers in distributed mode, reads them).
            report = {k: float(val) for k, val in logs.items()
                      if is_finite_number(val)}
            self.tuner.oracle.update_trial(self.trial.trial_id, report, step=epoch)
            self._last_value = (epoch, float(value))
            if is_better(value, self.best, objective.direction):
                self.best = float(value)
                self.model.save_weights(str(self.best_weights_path))

    @property
    def history(self) -> dict[str, list[float]]:
        return self._epochs.data

    def on_train_end(self, logs=None):
        # Mark trials the guard ended as hopeless (NaN, diverged, stuck at chance):
        # the median rule leaves them out, or they would drag the median down.
        reason = self.guard.stop_reason if self.guard is not None else None
        if reason is not None and reason.hopeless and self._last_value is not None:
            epoch, value = self._last_value
            objective = self.tuner.oracle.objective.name
            self.tuner.oracle.update_trial(self.trial.trial_id,
                                           {objective: value, HOPELESS_METRIC: 1.0},
                                           step=epoch)


class _MedianPruner(CopyableCallback):
    """Stop a trial whose objective is worse than the median of earlier trials at that epoch."""

    def __init__(self, tuner: RandomSearchTuner, trial: Any, min_epochs: int,
                 min_trials: int):
        super().__init__()
        self.tuner, self.trial = tuner, trial
        self.min_epochs, self.min_trials = min_epochs, min_trials
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 < self.min_epochs or self.model.stop_training:
            return
        objective = self.tuner.oracle.objective
        value = (logs or {}).get(objective.name)
        if value is None or not math.isfinite(float(value)):
            return
        peers = []
        for trial in self.tuner.oracle.get_best_trials(self.tuner.oracle.max_trials or 1000):
            if trial.trial_id == self.trial.trial_id or trial.metrics.exists(HOPELESS_METRIC):
                continue
            name = objective.name
            if not trial.metrics.exists(name):
                continue
            for observation in trial.metrics.get_history(name):
                if int(observation.step) == epoch:
                    peers.append(float(np.mean(observation.value)))
        if len(peers) < self.min_trials:
            return
        median = float(np.median(peers))
        if is_better(median, value, objective.direction):
            self.pruned_at = epoch
            self.model.stop_training = True


class RandomSearchTuner(kt.Tuner):
    """The handbooks' random search as a KerasTuner `Tuner`: pruned, tabled, on TensorBoard.

    Random combinations from the search space (by default the handbooks' learning
    rate x dropout x batch size x optimizer, `handbook_search_space()`), a short
    training run each (`epochs_per_trial`), and:

    - **pruning** (`prune=True`): a `DivergenceGuard(stop_if_not_learning=True)`
      ends NaN, diverging and stuck-at-chance trials early; from
      `min_epochs_for_median` epochs on, a trial whose objective is worse than
      the median of earlier trials at the same epoch is stopped. Pruned trials
      keep their score and their reason (`nan`, `inf`, `diverged`,
      `not_learning`, `median`);
    - **every metric**: an uncompiled hypermodel is compiled with the trial's
      optimizer and learning rate, `loss` and `metrics` (default: accuracy and
      macro precision, recall and F1); per epoch the trial records validation
      loss, accuracy, macro metrics and the slope of the validation loss;
    - **a table**: `results_frame()` (pandas; also `results.csv` in the project);
    - **the HParams dashboard** (`logdir`): the experiment config with the real
      domains and the metric list, one session per trial with values, epoch
      scalars and final status;
    - **seeds**: each trial's seed derives from `seed` and its id and is set
      before the model is built: same seed, same trials, same results on CPU;
    - **robustness**: a trial that raises is recorded as failed with its error
      and the search goes on; an out-of-memory trial is retried once at half
      the batch size; `overwrite=False` resumes a killed search (only unfinished
      trials run again) and refuses a changed search space.

    Works in KerasTuner's distributed mode (`KERASTUNER_TUNER_ID`,
    `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`).

    Args:
        hypermodel: a `build(hp)` function or `keras_tuner.HyperModel`; the model
            may be left uncompiled.
        objective: metric to optimise. Defaults to `"val_accuracy"`.
        max_trials: trials to run. Defaults to `10`.
        epochs_per_trial: epochs per trial (`search(epochs=...)` overrides).
            Defaults to `5`.
        seed: seed of the search and of every trial. Defaults to `None`.
        prune: prune diverging, stuck and below-median trials. Defaults to `True`.
        logdir: TensorBoard HParams log directory; `None` for none.
        hyperparameters: the search space; `None` uses `handbook_search_space()`.
        loss: loss for uncompiled hypermodels. Defaults to
            `"sparse_categorical_crossentropy"`.
        metrics: metrics for uncompiled hypermodels; `None` uses accuracy and
            `MacroPrecision`, `MacroRecall`, `MacroF1`.
        directory: where trials are stored. Defaults to `"kbp_tuning"`.
        project_name: sub-folder of `directory`. Defaults to `"random_search"`.
        overwrite: start over instead of resuming. Defaults to `False`.
        min_epochs_for_median: epochs a trial runs before the median rule applies.
            Defaults to `1`.
        min_trials_for_median: earlier viable trials (not NaN, diverged or stuck) that
            reached the same epoch, needed before the rule applies. Defaults to `3`.
        grace_epochs: epochs before the not-learning rule applies. Defaults to `2`.
        num_classes: classes for the chance level (else the model's output width).
        **kwargs: passed to `keras_tuner.Tuner` (e.g. `max_consecutive_failed_trials`
            goes to the oracle).

    Example:

    ```python
    def build(hp):
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(16, 3, "relu"),
                                 keras.layers.Flatten(), dropout_layer(hp),
                                 keras.layers.Dense(10, activation="softmax")])

    tuner = RandomSearchTuner(build, max_trials=20, seed=0, logdir="logs/hparams")
    tuner.search(x, y, validation_data=(x_val, y_val))
    tuner.results_frame().sort_values("best_val_accuracy", ascending=False)
    ```

    Raises:
        ValueError: for bad counts, or a search space that changed on `overwrite=False`.
    """

    def __init__(
        self,
        hypermodel: Any,
        objective: Any = "val_accuracy",
        max_trials: int = 10,
        epochs_per_trial: int = 5,
        seed: int | None = None,
        prune: bool = True,
        logdir: str | os.PathLike | None = None,
        hyperparameters: Any = None,
        loss: Any = None,
        metrics: Any = None,
        directory: str | os.PathLike = "kbp_tuning",
        project_name: str = "random_search",
        overwrite: bool = False,
        min_epochs_for_median: int = 1,
        min_trials_for_median: int = 3,
        grace_epochs: int = 2,
        num_classes: int | None = None,
        **kwargs: Any,
    ):
        from keras_bestpractice.tuning.space import handbook_search_space

        if hypermodel is not None and not callable(hypermodel) and not isinstance(
                hypermodel, kt.HyperModel):
            raise TypeError("`hypermodel` must be a build(hp) function or a "
                            f"keras_tuner.HyperModel, got {type(hypermodel).__name__}.")
        if not isinstance(objective, (str, kt.Objective, list, tuple)) and objective is not None:
            raise TypeError("`objective` must be a metric name, a keras_tuner.Objective or a "
                            f"list of them, got {type(objective).__name__}.")
        v.check_dir_path("directory", directory)
        logdir = v.check_dir_path("logdir", logdir, allow_none=True)
        v.check_int("max_trials", max_trials, minimum=1)
        self.epochs_per_trial = v.check_int("epochs_per_trial", epochs_per_trial, minimum=1)
        self.seed = v.check_int("seed", seed, allow_none=True)
        self.prune = v.check_bool("prune", prune)
        self.min_epochs_for_median = v.check_int("min_epochs_for_median",
                                                 min_epochs_for_median, minimum=1)
        self.min_trials_for_median = v.check_int("min_trials_for_median",
                                                 min_trials_for_median, minimum=1)
        self.grace_epochs = v.check_int("grace_epochs", grace_epochs, minimum=1)
        self.num_classes = v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
        self.logdir = None if logdir is None else Path(logdir)
        if hyperparameters is None:
            hyperparameters = handbook_search_space()
        requested = {hp.name: hp.get_config() for hp in hyperparameters.space}
        oracle_kwargs = {k: kwargs.pop(k) for k in ("max_retries_per_trial",
                                                    "max_consecutive_failed_trials",
                                                    "tune_new_entries", "allow_new_entries")
                         if k in kwargs}
        oracle_kwargs.setdefault("max_consecutive_failed_trials", max(3, max_trials))
        # KerasTuner treats seed=0 as "no seed" (`seed or random...`): shift it.
        oracle = kt.oracles.RandomSearchOracle(
            objective=objective, max_trials=max_trials,
            seed=None if self.seed is None else self.seed + 1,
            hyperparameters=hyperparameters, **oracle_kwargs)
        # `loss`/`metrics` stay with this class: keras_tuner.Tuner's own compile
        # override would fail on an uncompiled model.
        self.trial_loss = loss or "sparse_categorical_crossentropy"
        self.trial_metrics = metrics
        super().__init__(oracle=oracle, hypermodel=hypermodel, directory=str(directory),
                         project_name=project_name, overwrite=overwrite, **kwargs)
        self._check_space(requested)
        self._experiment_written = False

    # ------------------------------------------------------------------ space
    def _check_space(self, requested: dict[str, dict]) -> None:
        current = {hp.name: hp.get_config() for hp in self.oracle.get_space().space}
        changed = []
        for name, config in requested.items():
            if name not in current:
                changed.append(f"{name!r} is new")
            elif _comparable(current[name]) != _comparable(config):
                changed.append(f"{name!r} was {_comparable(current[name])}, now "
                               f"{_comparable(config)}")
        if changed:
            raise ValueError(
                f"the search space of the existing project {str(self.project_dir)!r} differs: "
                + "; ".join(changed)
                + ". Pass overwrite=True to start over, or use another project_name."
            )

    # ----------------------------------------------------------------- search
    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Run the search: `search(x, y, validation_data=..., epochs=...)`.

        `x` may be arrays, a `tf.data.Dataset`, or a callable `batch_size ->
        tf.data.Dataset` (e.g. `lambda bs: stratified_dataset(*train, batch_size=bs)`).

        Raises:
            ValueError: for an already-batched dataset with a `batch_size`
                hyperparameter (Keras would silently ignore the batch size).
        """
        x = fit_args[0] if fit_args else fit_kwargs.get("x")
        if _is_dataset(x) and "batch_size" in [hp.name for hp in self.oracle.get_space().space]:
            raise ValueError(
                "`x` is a tf.data.Dataset, which is already batched, but the search space has "
                "a `batch_size` hyperparameter that Keras would silently ignore: pass a callable "
                "`lambda batch_size: make_dataset(batch_size)` instead, or drop batch_size "
                "from the space."
            )
        if "epochs" in fit_kwargs:
            v.check_int("epochs", fit_kwargs["epochs"], minimum=1)
        self._write_experiment()
        with warnings.catch_warnings():
            # The trials report their metrics to the oracle at every epoch (for the
            # median rule); KerasTuner then calls that use case deprecated.
            warnings.filterwarnings("ignore", message="The use case of calling",
                                    category=DeprecationWarning)
            super().search(*fit_args, **fit_kwargs)
        if self.oracle is not None and not _is_worker():
            self._save_results()

    def _write_experiment(self) -> None:
        if self.logdir is None or self._experiment_written:
            return
        from keras_bestpractice.hparams.writer import hparams_from_keras_tuner, metrics_for

        metric_keys = ["val_loss", "val_accuracy", "val_precision_macro", "val_recall_macro",
                       "val_f1_macro", "val_loss_slope", "loss", "accuracy"]
        objective = self.oracle.objective.name
        if objective not in metric_keys:
            metric_keys.insert(0, objective)
        from keras_bestpractice.hparams.writer import write_experiment

        write_experiment(self.logdir, hparams_from_keras_tuner(self.oracle.get_space()),
                         metrics_for(metric_keys))
        self._experiment_written = True

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any):
        hp = trial.hyperparameters
        started = time.time()
        epochs = kwargs.pop("epochs", self.epochs_per_trial)
        user_callbacks = kwargs.pop("callbacks", [])
        batch_size = hp.values.get("batch_size", kwargs.pop("batch_size", None))
        kwargs.pop("batch_size", None)
        session = self._open_session(trial)
        summary: dict[str, Any] = {
            "trial_id": trial.trial_id, "hyperparameters": dict(hp.values),
            "objective": self.oracle.objective.name,
            "direction": self.oracle.objective.direction,
            "seed": trial_seed(self.seed, trial.trial_id), "prune_reason": "",
        }
        attempt_batch = batch_size
        try:
            for attempt in (0, 1):
                try:
                    history, recorder, reason = self._fit_once(
                        trial, args, dict(kwargs), epochs, attempt_batch, user_callbacks,
                        session)
                    break
                except Exception as exc:  # noqa: BLE001 - every failure is recorded
                    if attempt == 0 and _is_oom(exc) and attempt_batch and attempt_batch > 1:
                        attempt_batch = max(1, int(attempt_batch) // 2)
                        continue
                    raise
        except Exception as exc:  # noqa: BLE001
            summary.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                            "seconds": round(time.time() - started, 3), "history": {},
                            "epochs_run": 0, "batch_size_used": attempt_batch})
            results_mod.write_summary(self.get_trial_dir(trial.trial_id), summary)
            if session is not None:
                session.end("failure")
            raise kt.errors.FailedTrialError(summary["error"]) from exc
        summary.update({
            "status": "completed", "history": recorder.history,
            "epochs_run": len(recorder.history.get("loss", [])), "prune_reason": reason,
            "seconds": round(time.time() - started, 3), "batch_size_used": attempt_batch,
        })
        results_mod.write_summary(self.get_trial_dir(trial.trial_id), summary)
        if session is not None:
            if reason:
                session.text("prune_reason", reason)
            session.end("success")
        return history

    def _open_session(self, trial: Any):
        if self.logdir is None:
            return None
        from keras_bestpractice.hparams.writer import SessionWriter, hparams_from_keras_tuner

        session = SessionWriter(self.logdir / f"trial_{trial.trial_id}")
        session.start(dict(trial.hyperparameters.values), trial_id=f"trial_{trial.trial_id}",
                      hparams=hparams_from_keras_tuner(self.oracle.get_space()))
        return session

    def _fit_once(self, trial, args, kwargs, epochs, batch_size, user_callbacks, session):
        from keras_bestpractice.callbacks.divergence_guard import DivergenceGuard

        hp = trial.hyperparameters
        keras.backend.clear_session()
        keras.utils.set_random_seed(trial_seed(self.seed, trial.trial_id))
        model = self.hypermodel.build(hp)
        if not isinstance(model, keras.Model):
            raise kt.errors.FatalTypeError(
                f"the hypermodel must return a keras.Model, got {type(model).__name__}.")
        if getattr(model, "optimizer", None) is None:
            compile_from_hp(model, hp, loss=self.trial_loss,
                            metrics=self.trial_metrics if self.trial_metrics is not None
                            else default_metrics())
        args = list(args)
        x = args[0] if args else kwargs.get("x")
        if callable(x) and not _is_dataset(x) and not hasattr(x, "shape"):
            x = x(batch_size)
            if args:
                args[0] = x
            else:
                kwargs["x"] = x
        elif batch_size is not None and not _is_dataset(x):
            kwargs["batch_size"] = int(batch_size)
        callbacks = [copy.deepcopy(cb) for cb in user_callbacks]
        guard = pruner = None
        if self.prune:
            guard = DivergenceGuard(stop_if_not_learning=True, grace_epochs=self.grace_epochs,
                                    restore=None, num_classes=self.num_classes)
            pruner = _MedianPruner(self, trial, self.min_epochs_for_median,
                                   self.min_trials_for_median)
            callbacks += [guard, pruner]
        recorder = _TrialRecorder(self, trial, session, guard)
        callbacks.append(recorder)
        kwargs.setdefault("verbose", 0)
        if _is_dataset(x):
            kwargs.setdefault("shuffle", False)  # a dataset brings its own order
        history = model.fit(*args, epochs=epochs, callbacks=callbacks, **kwargs)
        reason = ""
        if guard is not None and guard.stop_reason:
            reason = guard.stop_reason
        elif pruner is not None and pruner.pruned_at is not None:
            reason = StopReason.MEDIAN
        return history, recorder, reason

    def load_model(self, trial: Any):
        """The trial's model with the weights of its best epoch."""
        keras.backend.clear_session()
        model = self.hypermodel.build(trial.hyperparameters)
        if getattr(model, "optimizer", None) is None:
            compile_from_hp(model, trial.hyperparameters, loss=self.trial_loss,
                            metrics=self.trial_metrics if self.trial_metrics is not None
                            else default_metrics())
        path = Path(self.get_trial_dir(trial.trial_id)) / "best.weights.h5"
        # The weights file holds the optimizer's variables too: build it first.
        model.optimizer.build(model.trainable_variables)
        model.load_weights(str(path))
        return model

    # ---------------------------------------------------------------- results
    def results_frame(self):
        """One row per trial: id, status, every hyperparameter, best and last value of
        each validation metric, epoch of best, val-loss slope, epochs run, prune
        reason, seconds (a pandas `DataFrame`, also saved as `results.csv`)."""
        return self._save_results()

    def _save_results(self):
        from keras_bestpractice._atomic import atomic_write_text

        frame = results_mod.load_results_frame(self.project_dir)
        atomic_write_text(Path(self.project_dir) / results_mod.RESULTS_FILE,
                          frame.to_csv(index=False))
        return frame


def _comparable(config: dict) -> dict:
    return {k: val for k, val in config.items() if k not in ("default", "conditions")}


def _is_oom(exc: BaseException) -> bool:
    import tensorflow as tf

    return isinstance(exc, (tf.errors.ResourceExhaustedError, MemoryError)) or \
        "out of memory" in str(exc).lower()


def _is_worker() -> bool:
    return bool(os.environ.get("KERASTUNER_ORACLE_IP")) and \
        os.environ.get("KERASTUNER_TUNER_ID", "").lower() != "chief"
