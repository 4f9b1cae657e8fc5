"""`lr_range_test`: the one-pass learning-rate range test (fastai / Lightning style)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_bestpractice import _validation as v
from keras_bestpractice._core.inputs import is_dataset as _is_dataset
from keras_bestpractice._snapshot import Snapshot, assign
from keras_bestpractice.tuning import lr_analysis


@dataclass
class LRFinderResult:
    """What a learning-rate range test saw.

    Attributes:
        lrs: the learning rate of every step run.
        losses: the smoothed loss at each step (bias-corrected moving average).
        raw_losses: the loss of each batch.
        suggestions: rates by method: `valley` (fastai's default), `steepest`
            (fastest fall against log lr), `minimum/10`.
        suggestion: the `valley` suggestion (else `steepest`, else `minimum/10`).
        stopped_early: True when the loss passed `stop_factor` x its best.
    """

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestions: dict[str, float | None] = field(default_factory=dict)
    stopped_early: bool = False

    @property
    def smoothed_losses(self) -> np.ndarray:
        return self.losses

    @property
    def suggestion(self) -> float | None:
        for method in ("valley", "steepest", "minimum/10"):
            value = self.suggestions.get(method)
            if value is not None:
                return value
        return None

    def to_dataframe(self):
        """One row per step: `lr`, `loss` (raw), `smoothed_loss`."""
        import pandas as pd

        return pd.DataFrame({"lr": self.lrs, "loss": self.raw_losses,
                             "smoothed_loss": self.losses})

    def plot(self, path: str | os.PathLike | None = None):
        """Smoothed loss against the learning rate (log scale), suggestions marked."""
        from keras_bestpractice._atomic import save_figure
        from keras_bestpractice._optional import new_figure

        fig = new_figure(figsize=(7.5, 4.5), dpi=110)
        ax = fig.subplots()
        ax.plot(self.lrs, self.raw_losses, color="#bbbbbb", lw=1, label="batch loss")
        ax.plot(self.lrs, self.losses, color="#1565c0", lw=2, label="smoothed loss")
        ax.set_xscale("log")
        colours = {"valley": "#2e7d32", "steepest": "#ef6c00", "minimum/10": "#6a1b9a"}
        for method, lr in self.suggestions.items():
            if lr is None:
                continue
            ax.axvline(lr, color=colours[method], ls="--", lw=1.3,
                       label=f"{method}: {lr:.2g}")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:
            low, high = float(finite.min()), float(finite[: max(3, finite.size // 10)].max())
            ax.set_ylim(low - 0.1 * abs(low), max(high * 1.5, low + 1e-3))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        title = "Learning-rate range test"
        if self.suggestion is not None:
            title += f": suggested {self.suggestion:.2g}"
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path)
        return fig


def lr_range_test(
    model: Any,
    x: Any,
    y: Any = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    stop_factor: float = 4.0,
    seed: int = 0,
) -> LRFinderResult:
    """Train `num_steps` batches with the learning rate growing exponentially.

    The handbooks call the learning rate the most influential hyperparameter;
    this is the one-pass way to find it: the loss first barely moves, then
    falls, then blows up. The test stops once the smoothed loss exceeds
    `stop_factor` times its best, and the model's weights, optimizer state
    (learning rate included) and seed-generator states are put back exactly as
    they were.

    Args:
        model: a compiled Keras model with a float learning rate.
        x: inputs (an array), or a `tf.data.Dataset` of `(x, y)` batches.
        y: targets when `x` is an array. Defaults to `None`.
        min_lr: first learning rate. Defaults to `1e-7`.
        max_lr: last learning rate. Defaults to `10.0`.
        num_steps: steps (batches) from `min_lr` to `max_lr`. Defaults to `100`.
        batch_size: batch size for array inputs. Defaults to `32`.
        smoothing: moving-average factor in [0, 1). Defaults to `0.98`.
        stop_factor: stop when the smoothed loss exceeds this times its best
            (> 1). Defaults to `4.0`.
        seed: shuffling seed for array inputs. Defaults to `0`.

    Returns:
        An `LRFinderResult` (`.suggestion`, `.plot(path)`, `.to_dataframe()`).

    Raises:
        ValueError: for bad ranges or counts, or an uncompiled model.
        TypeError: for a model whose learning rate is a schedule or a callable.

    Example:

    ```python
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    result = lr_range_test(model, x_train, y_train)
    result.plot("lr_finder.png")
    keras.ops.convert_to_numpy(result.suggestion)
    ```
    """
    from keras_bestpractice import _lr
    from keras_bestpractice.checkpointing.state import seed_variables

    min_lr = v.check_float("min_lr", min_lr, low=0.0, low_inclusive=False)
    max_lr = v.check_float("max_lr", max_lr, low=0.0, low_inclusive=False)
    if max_lr <= min_lr:
        raise ValueError(f"`max_lr` ({max_lr:g}) must be greater than `min_lr` ({min_lr:g}).")
    num_steps = v.check_int("num_steps", num_steps, minimum=2)
    batch_size = v.check_int("batch_size", batch_size, minimum=1)
    smoothing = v.check_float("smoothing", smoothing, low=0.0, high=1.0, high_inclusive=False)
    stop_factor = v.check_float("stop_factor", stop_factor, low=1.0, low_inclusive=False)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("lr_range_test needs a compiled model (model.compile(optimizer, loss)).")
    if _lr.is_schedule(model.optimizer, "lr_range_test"):
        raise TypeError("lr_range_test sets the learning rate at every step, so the optimizer "
                        "needs a float learning rate, not a LearningRateSchedule.")
    if _is_dataset(x):
        infinite = int(x.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
        data = x if infinite else x.repeat()
    else:
        if y is None:
            raise ValueError("`y` is required when `x` is an array.")
        if len(x) != len(y):
            raise ValueError(f"`x` has {len(x)} samples but `y` has {len(y)}.")
        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
            len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size).repeat()

    if not getattr(model, "built", False):
        model(next(iter(data))[0])  # a forward pass builds a subclassed model
    snapshot = Snapshot.take(model, 0, None)
    if snapshot is None:
        raise ValueError("the model's weights are not finite before the range test.")
    seeds = [np.array(s.numpy(), copy=True) for s in seed_variables(model)]
    original_lr = _lr.current_lr(model.optimizer)
    lrs = lr_analysis.exponential_schedule(min_lr, max_lr, num_steps)
    recorder = _RangeRecorder(lrs, smoothing, stop_factor)
    try:
        model.fit(data, epochs=1, steps_per_epoch=num_steps, verbose=0, shuffle=False,
                  callbacks=[recorder])
    finally:
        snapshot.restore(model)
        for variable, value in zip(seed_variables(model), seeds, strict=True):
            variable.assign(value)
        model.optimizer.learning_rate = original_lr
        model.reset_metrics()
    n = len(recorder.raw)
    raw = np.asarray(recorder.raw, dtype=np.float64)
    smoothed = lr_analysis.smooth(np.where(np.isfinite(raw), raw, np.inf), smoothing) \
        if n else np.zeros(0)
    result = LRFinderResult(lrs=lrs[:n], losses=smoothed, raw_losses=raw,
                            suggestions=lr_analysis.suggestions(lrs[:n], smoothed),
                            stopped_early=recorder.stopped)
    return result


class _RangeRecorder(keras.callbacks.Callback):
    """Sets the rate before each batch, records its loss, stops on blow-up.

    Per-step cost matters here (the test is a hundred steps), so the rate and the loss
    tracker are set with `_snapshot.assign` (on the TensorFlow variables under the Keras
    ones, without reading the value back) from tensors made once: a few times cheaper
    than `Variable.assign` and `Model.reset_metrics()` in eager mode.
    """

    def __init__(self, lrs: np.ndarray, smoothing: float, stop_factor: float):
        super().__init__()
        self.lrs, self.smoothing, self.stop_factor = lrs, smoothing, stop_factor
        self.raw: list[float] = []
        self.best = math.inf
        self.avg = 0.0
        self.stopped = False

    def on_train_begin(self, logs=None):
        self._lr = self.model.optimizer.learning_rate
        self._lr_values = [tf.constant(value, self._lr.dtype) for value in self.lrs]
        # The logged loss is the running mean of Keras's loss tracker; zeroing it before
        # each batch makes the logged value that batch's own loss. A model with a custom
        # train_step may have no tracker named "loss": reset all its metrics instead.
        trackers = [m for m in self.model.metrics if m.name == "loss"]
        self._zeros = None
        if trackers:
            self._zeros = [(v, tf.zeros(v.shape, v.dtype)) for v in trackers[0].variables]

    def on_train_batch_begin(self, batch, logs=None):
        if self._zeros is None:
            self.model.reset_metrics()
        else:
            for variable, zero in self._zeros:
                assign(variable, zero)
        assign(self._lr, self._lr_values[batch])

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        self.raw.append(loss)
        if not math.isfinite(loss):
            self.stopped = True
            self.model.stop_training = True
            return
        i = len(self.raw)
        self.avg = self.smoothing * self.avg + (1 - self.smoothing) * loss
        smoothed = self.avg / (1 - self.smoothing ** i)
        if i > 1 and smoothed > self.stop_factor * self.best:
            self.stopped = True
            self.model.stop_training = True
        self.best = min(self.best, smoothed)


