"""`lr_sweep`: the handbooks' short runs at a ladder of learning rates, then a refinement."""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keras_bestpractice import _validation as v
from keras_bestpractice._core.inputs import is_dataset as _is_dataset

HOPELESS = ("nan_loss", "not_learning", "diverging")


@dataclass
class LRSweepResult:
    """The runs of a learning-rate sweep.

    Attributes:
        best_lr: the rate with the lowest final validation loss (training loss
            without validation data) among runs that are not `nan_loss`,
            `not_learning` or `diverging`.
        histories: `{learning_rate: History.history}` for every run.
        verdicts: `{learning_rate: primary diagnose() code}` for every run.
        refined: the rates added around the best of the first ladder.
        monitor: the quantity that picked `best_lr`.
    """

    best_lr: float | None
    histories: dict[float, dict[str, list[float]]] = field(default_factory=dict)
    verdicts: dict[float, str] = field(default_factory=dict)
    refined: list[float] = field(default_factory=list)
    monitor: str = "val_loss"

    def __repr__(self) -> str:
        # A summary: the histories are every epoch of every run (`to_dataframe()`).
        best = "none" if self.best_lr is None else f"{self.best_lr:.3g}"
        verdicts = ", ".join(f"{lr:.3g}: {code}" for lr, code in sorted(self.verdicts.items()))
        return (f"LRSweepResult(best_lr={best} by {self.monitor}, {len(self.histories)} runs"
                + (f" ({verdicts})" if verdicts else "") + ")")

    __str__ = __repr__

    def to_dataframe(self):
        """One row per rate: final and best metrics, epochs, verdict, refined flag."""
        import pandas as pd

        rows = []
        for lr in sorted(self.histories):
            history = self.histories[lr]
            row: dict[str, Any] = {"learning_rate": lr}
            for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
                values = [x for x in history.get(key, []) if x is not None]
                row[f"final_{key}"] = values[-1] if values else None
            vacc = [x for x in history.get("val_accuracy", []) if math.isfinite(x)]
            row["best_val_accuracy"] = max(vacc) if vacc else None
            row["epochs"] = len(history.get("loss", []))
            row["verdict"] = self.verdicts.get(lr, "")
            row["refined"] = lr in self.refined
            row["best"] = lr == self.best_lr
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, path: str | os.PathLike | None = None):
        """Final loss/accuracy against the rate (the U shape), and every run's curves."""
        from keras_bestpractice._atomic import save_figure
        from keras_bestpractice._optional import new_figure

        path = v.check_file_path("path", path, allow_none=True)

        frame = self.to_dataframe()
        fig = new_figure(figsize=(12, 4.8), dpi=110)
        ax1, ax2, ax3 = fig.subplots(1, 3)
        key = "final_val_loss" if frame["final_val_loss"].notna().any() else "final_loss"
        finite = frame[np.isfinite(frame[key].astype(float))]
        ax1.plot(finite["learning_rate"], finite[key], "o-", color="#1565c0")
        for _, row in frame.iterrows():
            if row["verdict"] in HOPELESS:
                ax1.annotate(row["verdict"], (row["learning_rate"],
                                              finite[key].max() if len(finite) else 0),
                             fontsize=7, color="#c62828", rotation=90, va="top")
        from keras_bestpractice._plotting import (
            integer_epochs,
            legend_outside,
            readable_log,
        )

        if self.best_lr is not None:
            ax1.axvline(self.best_lr, color="#2e7d32", ls="--", label=f"best {self.best_lr:g}")
            legend_outside(ax1)
        readable_log(ax1, "x")
        ax1.set_xlabel("learning rate")
        ax1.set_title(key.replace("final_", "final "))
        acc_key = ("final_val_accuracy" if frame["final_val_accuracy"].notna().any()
                   else "final_accuracy")
        if frame[acc_key].notna().any():
            ax2.plot(frame["learning_rate"], frame[acc_key], "o-", color="#ef6c00")
        readable_log(ax2, "x")
        ax2.set_xlabel("learning rate")
        ax2.set_title(acc_key.replace("final_", "final "))
        curve = "val_loss" if key == "final_val_loss" else "loss"
        for lr in sorted(self.histories):
            values = np.asarray(self.histories[lr].get(curve, []), dtype=float)
            ax3.plot(np.arange(1, values.size + 1), values, marker=".", label=f"{lr:g}")
        readable_log(ax3, "y")
        integer_epochs(ax3)
        ax3.set_xlabel("epoch")
        ax3.set_title(f"{curve} per epoch")
        legend_outside(ax3, fontsize=7, title="learning rate")
        for ax in (ax1, ax2, ax3):
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path)
        return fig


def lr_sweep(
    build_model: Callable[..., Any],
    x: Any,
    y: Any = None,
    learning_rates: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
    epochs: int = 5,
    refine: bool = True,
    validation_data: Any = None,
    batch_size: int = 32,
    seed: int = 0,
    optimizer: str = "adam",
    loss: Any = "sparse_categorical_crossentropy",
    metrics: Sequence[Any] = ("accuracy",),
    num_classes: int | None = None,
    verbose: int = 0,
) -> LRSweepResult:
    """Short runs at a ladder of learning rates, one fresh model each, then refine.

    The handbooks' way: train several instances for a few epochs at
    [0.1, 0.01, 0.001, 0.0001, 0.00001], look at loss and accuracy per rate (the
    U shape), keep the best rate on the converging side, then try x2 and /2
    around it. Every run gets a `diagnose()` verdict, so a rate whose run is
    `nan_loss`, `diverging` or `not_learning` is labelled so and never chosen.

    Args:
        build_model: returns a fresh model; it is called with the learning rate
            when it takes an argument (build your own optimizer then), else the
            model is compiled with `optimizer`, `loss` and `metrics`.
        x: training inputs (arrays or a `tf.data.Dataset`).
        y: training targets for arrays. Defaults to `None`.
        learning_rates: the ladder. Defaults to `(1e-1, 1e-2, 1e-3, 1e-4, 1e-5)`.
        epochs: epochs per run. Defaults to `5`.
        refine: also run x2 and /2 around the best. Defaults to `True`.
        validation_data: `(x_val, y_val)` to judge by validation loss.
        batch_size: batch size for arrays. Defaults to `32`.
        seed: `keras.utils.set_random_seed` before every run. Defaults to `0`.
        optimizer: optimizer name for uncompiled models. Defaults to `"adam"`.
        loss: loss for uncompiled models.
        metrics: metrics for uncompiled models. Defaults to `("accuracy",)`.
        num_classes: classes for the verdicts' chance level. Defaults to `None`.
        verbose: passed to `fit`. Defaults to `0`.

    Returns:
        An `LRSweepResult` (`.best_lr`, `.histories`, `.to_dataframe()`, `.plot()`).

    Raises:
        ValueError: for an empty ladder, non-positive rates or counts.
    """
    import keras

    from keras_bestpractice.diagnostics.diagnosis import diagnose
    from keras_bestpractice.tuning.space import OPTIMIZER_NAMES, make_optimizer

    v.check_callable("build_model", build_model)
    rates = v.check_number_list("learning_rates", learning_rates, min_length=1)
    for lr in rates:
        v.check_float("learning_rates", lr, low=0.0, low_inclusive=False)
    v.check_int("epochs", epochs, minimum=1)
    v.check_bool("refine", refine)
    v.check_int("batch_size", batch_size, minimum=1)
    v.check_int("seed", seed)
    v.check_choice("optimizer", optimizer, OPTIMIZER_NAMES)
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise TypeError(f"`metrics` must be a list of metrics, got {metrics!r}.")
    v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
    v.check_int("verbose", verbose, minimum=0)
    takes_lr = len(inspect.signature(build_model).parameters) >= 1
    is_dataset = _is_dataset(x)
    result = LRSweepResult(best_lr=None,
                           monitor="val_loss" if validation_data is not None else "loss")

    class _HP:  # what make_optimizer reads
        def __init__(self, lr):
            self.values = {"optimizer": optimizer, "learning_rate": lr}

    def run(lr: float) -> None:
        keras.utils.set_random_seed(seed)
        keras.backend.clear_session()
        model = build_model(lr) if takes_lr else build_model()
        if not hasattr(model, "fit") or not hasattr(model, "compile"):
            raise TypeError(
                f"`build_model` must return a Keras model, got {type(model).__name__} "
                f"(for learning rate {lr:g}); did it forget to `return model`?")
        if getattr(model, "optimizer", None) is None:
            model.compile(make_optimizer(_HP(lr)), loss, metrics=list(metrics))
        elif not takes_lr:
            model.optimizer.learning_rate = lr
        fit_kwargs: dict[str, Any] = {"epochs": epochs, "verbose": verbose,
                                      "validation_data": validation_data}
        if is_dataset:
            fit_kwargs["shuffle"] = False
        else:
            fit_kwargs["batch_size"] = batch_size
        history = model.fit(x, y, **fit_kwargs) if y is not None else model.fit(x, **fit_kwargs)
        hist = {k: [float(val) for val in vals] for k, vals in history.history.items()}
        result.histories[lr] = hist
        result.verdicts[lr] = diagnose(hist, num_classes=num_classes).primary.code

    for lr in rates:
        run(lr)
    result.best_lr = _pick(result)
    if refine and result.best_lr is not None:
        for lr in (result.best_lr * 2.0, result.best_lr / 2.0):
            if not any(math.isclose(lr, done, rel_tol=1e-9) for done in result.histories):
                run(lr)
                result.refined.append(lr)
        result.best_lr = _pick(result)
    return result


def _pick(result: LRSweepResult) -> float | None:
    best, best_value = None, math.inf
    for lr, history in result.histories.items():
        if result.verdicts.get(lr) in HOPELESS:
            continue
        values = [x for x in history.get(result.monitor, []) if math.isfinite(x)]
        if values and values[-1] < best_value:
            best, best_value = lr, values[-1]
    return best
