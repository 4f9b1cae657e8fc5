"""`HParamsLogger`: a plain `model.fit` as one session of the TensorBoard HParams dashboard."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._callback import CopyableCallback


class HParamsLogger(CopyableCallback):
    """Log one `fit` to the TensorBoard HParams dashboard.

    Writes, once per log directory, an experiment config with the hyperparameter
    domains and the metric list, then a session in `<logdir>/<trial_id>` with
    the hyperparameter values, the epoch metrics (Keras's `train`/`validation`
    layout, tags `epoch_<metric>`) and a final status (`success`, or `failure`
    when the run ended with NaN/Inf or was stopped by `DivergenceGuard`).

    Args:
        logdir: the TensorBoard log directory (`tensorboard --logdir logdir`).
        hparams: the hyperparameters: a dict `{name: value}` (each gets a
            `Discrete` domain of its value), a dict `{hp.HParam: value}` with
            real domains, or a `keras_tuner.HyperParameters` (its space gives the
            domains, its values the session's values).
        metrics: Keras log keys to list as metrics (e.g. `["val_accuracy",
            "val_loss"]`); `None` lists every key of the first epoch's logs.
            Defaults to `None`.
        trial_id: the session's name; `None` uses a timestamp. Defaults to `None`.

    Example:

    ```python
    logger = HParamsLogger("logs/hparams", {"learning_rate": 1e-3, "dropout": 0.25})
    model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[logger])
    # tensorboard --logdir logs/hparams   -> HPARAMS tab
    ```

    Raises:
        TypeError: for a `hparams` that is not a dict or a `HyperParameters`.
    """

    def __init__(self, logdir: str | os.PathLike, hparams: Any,
                 metrics: Sequence[str] | None = None, trial_id: str | None = None):
        super().__init__()
        self.logdir = v.check_dir_path("logdir", logdir)
        self.hparams = _check_hparams(hparams)
        self.metrics = v.check_str_list("metrics", metrics, allow_none=True)
        self.trial_id = _check_trial_id(trial_id)
        self._session = None
        self._bad = False

    _NOT_COPIED = ("_model", "_session")

    def _params(self):
        from keras_bestpractice.hparams.writer import hparams_from_keras_tuner, hparams_from_values

        if hasattr(self.hparams, "space"):
            return hparams_from_keras_tuner(self.hparams), dict(self.hparams.values)
        return hparams_from_values(self.hparams)

    def on_train_begin(self, logs=None):
        from keras_bestpractice.hparams.writer import SessionWriter

        self._bad = False
        self._config_written = False
        self._params_list, self._values = self._params()
        name = self.trial_id or time.strftime("run-%Y%m%d-%H%M%S")
        self._session = SessionWriter(self.logdir / name)
        self._session.start(self._values, trial_id=name, hparams=self._params_list)

    def on_epoch_end(self, epoch, logs=None):
        from keras_bestpractice.hparams.writer import metrics_for, write_experiment

        logs = logs or {}
        if not self._config_written:
            keys = self.metrics if self.metrics is not None else list(logs)
            write_experiment(self.logdir, self._params_list, metrics_for(keys))
            self._config_written = True
        for value in logs.values():
            try:
                if not math.isfinite(float(value)):
                    self._bad = True
            except (TypeError, ValueError):
                continue
        if self._session is not None:
            self._session.scalars(epoch, logs)

    def on_train_end(self, logs=None):
        if self._session is None:
            return
        stopped_badly = bool(getattr(self.model, "stop_training", False) and self._bad)
        self._session.end("failure" if (self._bad or stopped_badly) else "success")
        self._session = None


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
    return hparams


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
