"""Per-trial summaries and the results table. Pure Python/pandas (no TensorFlow)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_bestpractice._core.compare import Direction

SUMMARY_FILE = "kbp_trial.json"
RESULTS_FILE = "results.csv"
VALIDATION_METRICS = ("val_loss", "val_accuracy", "val_precision_macro", "val_recall_macro",
                      "val_f1_macro")
SLOPE_EPOCHS = 3


def loss_slope(values: Sequence[float], window: int = SLOPE_EPOCHS) -> float | None:
    """Least-squares slope per epoch of the last `window` values (None if < 2)."""
    vals = [float(v) for v in values[-window:] if v is not None and math.isfinite(float(v))]
    if len(vals) < 2:
        return None
    x = np.arange(len(vals), dtype=float)
    return float(np.polyfit(x, np.asarray(vals), 1)[0])


def write_summary(trial_dir: str | os.PathLike, summary: Mapping[str, Any]) -> Path:
    from keras_bestpractice._atomic import atomic_write_text

    path = Path(trial_dir) / SUMMARY_FILE
    atomic_write_text(path, json.dumps(summary, indent=1, default=_default), fsync=False)
    return path


def read_summary(path: str | os.PathLike) -> dict[str, Any] | None:
    """One JSON record (`kbp_trial.json`, `trial.json`), or `None` when it cannot be
    read (a file being written by another worker: read it next time)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_by_trial(project_dir: str | os.PathLike, name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(Path(project_dir).glob(f"trial_*/{name}")):
        data = read_summary(path)
        if data is not None:
            out[str(data.get("trial_id"))] = data
    return out


def read_summaries(project_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Our per-trial summaries (history, prune reason, time, error)."""
    return _read_by_trial(project_dir, SUMMARY_FILE)


def read_trials(project_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """KerasTuner's own `trial.json` files (status, score, hyperparameter values)."""
    return _read_by_trial(project_dir, "trial.json")


def build_frame(trials: Mapping[str, Mapping[str, Any]],
                summaries: Mapping[str, Mapping[str, Any]], objective: str,
                direction: Direction | str):
    """One row per trial: id, status, hyperparameters, best/last metrics, pruning, time.

    Each metric's best is taken in its own direction (the objective's from the
    tuner, the others' from their names); `best_epoch` is the objective's first
    best epoch (1-based), as KerasTuner keeps the first best step.
    """
    import pandas as pd

    direction = Direction.of(direction, name="direction")

    rows = []
    for trial_id in sorted(set(trials) | set(summaries)):
        trial = trials.get(trial_id, {})
        summary = summaries.get(trial_id, {})
        hps = summary.get("hyperparameters") or trial.get("hyperparameters", {}).get("values", {})
        history = summary.get("history", {})
        status = (summary.get("status") or trial.get("status") or "").lower()
        if str(trial.get("status", "")).lower() in ("failed", "invalid") or status == "invalid":
            status = "failed"  # KerasTuner's "crashed" (retries exhausted): no result
        if summary.get("prune_reason") and status in ("completed", ""):
            status = "pruned"
        row: dict[str, Any] = {"trial_id": trial_id, "status": status,
                               "score": trial.get("score", summary.get("score"))}
        row.update({f"hp_{k}": v for k, v in hps.items()})
        for key in dict.fromkeys([*VALIDATION_METRICS, objective]):
            series = [v for v in history.get(key, []) if v is not None]
            way = direction if key == objective else (Direction.from_name(key) or Direction.MAX)
            row[f"best_{key}"] = way.best_value(series)
            row[f"last_{key}"] = series[-1] if series else None
        best_epoch = direction.best_index(history.get(objective, []))
        row["best_epoch"] = None if best_epoch is None else best_epoch + 1
        row["val_loss_slope"] = loss_slope(history.get("val_loss", []))
        row["epochs_run"] = summary.get("epochs_run", len(history.get("loss", [])))
        row["prune_reason"] = summary.get("prune_reason") or ""
        row["seconds"] = summary.get("seconds")
        row["batch_size_used"] = summary.get("batch_size_used")
        row["error"] = summary.get("error") or (trial.get("message") or "")[-300:]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values("trial_id").reset_index(drop=True)
    frame.attrs.update({"objective": objective, "direction": str(direction)})
    return frame


def column_direction(frame: Any, column: str) -> Direction | None:
    """Which way `column` of a results table improves: the objective's direction for
    `score` and its best/last columns, a metric's own (from its name) for the other
    `best_*`/`last_*` columns, `None` for the rest (ids, hyperparameters, times)."""
    objective = frame.attrs.get("objective")
    direction = frame.attrs.get("direction")
    metric = column.removeprefix("best_").removeprefix("last_") \
        if column.startswith(("best_", "last_")) else None
    if column == "score" or (metric is not None and metric == objective):
        return Direction.of(direction, name="direction") if direction else None
    if metric is not None and metric != "epoch":
        return Direction.from_name(metric)
    return None


def sort_best_first(frame: Any, column: str | None = None) -> Any:
    """The table sorted by `column`, best first in its own direction (lowest loss,
    highest accuracy; other columns ascending), missing values last; `None`: by the
    objective's best value."""
    if frame.empty:
        return frame
    if column is None:
        objective = frame.attrs.get("objective")
        column = f"best_{objective}" if f"best_{objective}" in frame.columns else "trial_id"
    direction = column_direction(frame, column)
    ascending = direction is not Direction.MAX
    attrs = dict(frame.attrs)
    out = frame.sort_values(column, ascending=ascending, na_position="last",
                            kind="stable").reset_index(drop=True)
    out.attrs.update(attrs)
    return out


def load_results_frame(project_dir: str | os.PathLike):
    """The results table of a tuner's project directory (for the CLI and offline use).

    Raises:
        TypeError: if `project_dir` is not a path.
        FileNotFoundError: if `project_dir` does not exist or holds no trials.
        ValueError: if `project_dir` is a file.
    """
    from keras_bestpractice import _validation as v

    project = v.check_dir_path("project_dir", project_dir, must_exist=True)
    trials = read_trials(project)
    summaries = read_summaries(project)
    if not trials and not summaries:
        raise FileNotFoundError(f"`project_dir`={str(project)!r} holds no trials (pass the "
                                "tuner's directory/project_name folder).")
    objective, direction = "val_accuracy", "max"
    oracle = project / "oracle.json"
    if oracle.exists():
        try:
            state = json.loads(oracle.read_text())
            obj = state.get("objective", {})
            if isinstance(obj, dict) and "name" in obj:
                objective, direction = obj["name"], obj.get("direction", "max")
            elif isinstance(obj, str):
                objective = obj
        except (OSError, ValueError):
            pass
    for summary in summaries.values():
        if summary.get("objective"):
            objective = summary["objective"]
            direction = summary.get("direction", direction)
            break
    return build_frame(trials, summaries, objective, direction)


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)
