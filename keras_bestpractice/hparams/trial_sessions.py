"""`TrialSessions`: one TensorBoard HParams session per tuner trial.

The tuner writes its true search space once as the experiment config (with the
`outcome` column and the free-text `error` column, and a column for each metric the
first trial with a history logged), then one session per trial
when the trial ends: its hyperparameter values, every epoch's metrics, best and
last value columns for the objective and the validation metrics, and a status
that is Success only for a trial that ran to its end (or met its objective).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keras_bestpractice._core.compare import Direction
from keras_bestpractice._core.reasons import StopReason
from keras_bestpractice.hparams.writer import (
    OUTCOME_COMPLETED,
    OUTCOME_FAILED,
    SessionWriter,
    hparams_from_keras_tuner,
    metrics_for,
    outcome_values,
    write_experiment,
)

# The metric columns of a trial, after the objective's.
TRIAL_METRICS = ("val_loss", "val_accuracy", "val_precision_macro", "val_recall_macro",
                 "val_f1_macro", "val_loss_slope", "loss", "accuracy")


def outcome_of(summary: dict[str, Any]) -> str:
    """The `outcome` column of a trial: completed, failed, or `pruned: <reason>`."""
    if summary["prune_reason"]:
        return f"pruned: {summary['prune_reason']}"
    return OUTCOME_COMPLETED if summary["status"] == "completed" else OUTCOME_FAILED


# TensorBoard's HParams dashboard shows the first five hyperparameter columns.
SHOWN_COLUMNS = 5


def shown_first(hparams: list[Any], defaults: Iterable[str] = ()) -> list[str]:
    """The columns the dashboard shows: the user's own searched hyperparameters, the
    `outcome`, then the searched ones in `defaults`, up to five (more when the user
    has more); a hyperparameter with one value is not searched and comes after."""
    defaults = set(defaults)

    def searched(param: Any) -> bool:
        values = getattr(param.domain, "values", None)
        return values is None or len(values) > 1

    own = [p.name for p in hparams if p.name != "outcome" and p.name not in defaults
           and searched(p)]
    rest = [p.name for p in hparams if p.name in defaults and searched(p)]
    return (own + ["outcome"] + rest)[:max(SHOWN_COLUMNS, len(own) + 1)]


class TrialSessions:
    """Writes the experiment config once and one session per finished trial.

    Args:
        logdir: the TensorBoard log directory.
    """

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = Path(logdir)
        self._experiment_written = False

    def write(self, space: Any, objective: str, direction: Direction | str,
              summary: dict[str, Any], defaults: Iterable[str] = ()) -> Path:
        """Write the session of the trial `summary` describes (`trial_id`,
        `hyperparameters`, `history`, `epochs_run`, `status`, `prune_reason`,
        `error`); `space` is the tuner's `HyperParameters`; `defaults`: the names of
        the hyperparameters the tuner adds itself (the handbook's), shown after the
        user's own. Returns its directory."""
        from tensorboard.plugins.hparams import api as hp

        direction = Direction.of(direction, name="direction")
        # The objective first: the dashboard colours the parallel-coordinates view by
        # the first metric column and shows the first five.
        # Only the metrics the trials log (a build compiled without the macro metrics
        # gets no six empty columns); the first trial with a history decides, a failed
        # trial before it writes its session without the experiment config.
        history = summary["history"]
        keys = [objective, *(k for k in TRIAL_METRICS if k != objective and k in history)]
        # Best and last value columns for the objective and the validation metrics
        # (the tuner scores a trial by its best epoch; the last one is what it ended at).
        best = {k: (direction if k == objective else Direction.from_name(k)) for k in keys
                if k.startswith("val_") and k != "val_loss_slope" or k == objective}
        best = {k: d for k, d in best.items() if d is not None}
        outcome = hp.HParam("outcome", hp.Discrete(outcome_values()),
                            description="completed, failed, or pruned and why")
        hparams = [*hparams_from_keras_tuner(space), outcome]
        if not self._experiment_written and any(len(v) for v in history.values()):
            write_experiment(self.logdir, hparams, metrics_for(keys, best=best),
                             text_hparams=("error",), shown=shown_first(hparams, defaults))
            self._experiment_written = True
        ended = outcome_of(summary)
        name = f"trial_{summary['trial_id']}"
        session = SessionWriter(self.logdir / name)
        values = dict(summary["hyperparameters"])
        values.update({"outcome": ended, "error": summary["error"] or ""})
        session.start(values, trial_id=name, hparams=hparams)
        for epoch in range(summary["epochs_run"]):
            session.scalars(epoch, {k: vals[epoch] for k, vals in history.items()
                                    if epoch < len(vals)}, best=best)
        if summary["prune_reason"]:
            session.text("prune_reason", summary["prune_reason"])
        if summary["error"]:
            session.text("error", summary["error"])
        try:
            reason = StopReason.parse(summary["prune_reason"] or None)
        except ValueError:
            reason = None
        met = reason is not None and reason.is_success
        session.end("success" if ended == OUTCOME_COMPLETED or met else "failure")
        return self.logdir / name
