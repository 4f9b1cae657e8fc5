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

    def __repr__(self) -> str:
        # A summary: the arrays are hundreds of values (`to_dataframe()` has them all).
        n = len(self.lrs)
        span = f"lr {self.lrs[0]:.3g} to {self.lrs[-1]:.3g}" if n else "no step"
        suggested = ", ".join(f"{k}={v:.3g}" for k, v in self.suggestions.items()
                              if v is not None) or "none"
        return (f"LRFinderResult({n} steps, {span}, suggestions: {suggested}, "
                f"stopped_early={self.stopped_early})")

    __str__ = __repr__

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

        path = v.check_file_path("path", path, allow_none=True)

        fig = new_figure(figsize=(7.5, 5.0), dpi=110)
        ax = fig.subplots()
        ax.plot(self.lrs, self.raw_losses, color="#bbbbbb", lw=1, label="batch loss")
        ax.plot(self.lrs, self.losses, color="#1565c0", lw=2, label="smoothed loss")
        from keras_bestpractice._plotting import legend_outside, readable_log

        readable_log(ax, "x")
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
        legend_outside(ax)
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
    (learning rate or schedule included), seed-generator states and
    `steps_per_execution` are put back exactly as they were.

    The rate must change at every step, so the test runs one step per execution
    (a model compiled with `steps_per_execution > 1` gets its setting back
    afterwards). A float learning rate is set before each step; a
    `LearningRateSchedule` is replaced for the test by the ramp (computed in the
    graph from the optimizer's step counter) and restored. Works on every Keras
    backend.

    Args:
        model: a compiled Keras model.
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
        ValueError: for bad ranges or counts, an uncompiled model, or a run
            whose every loss was NaN/Inf (the message says where to look).
        TypeError: for a `model` that is not a Keras model, an `x` that is not
            data, or a learning rate given as a plain function.

    Example:

    ```python
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    result = lr_range_test(model, x_train, y_train)
    result.plot("lr_finder.png")
    result.suggestion
    ```
    """
    from keras_bestpractice import _lr
    from keras_bestpractice.checkpointing.state import seed_variables

    if not hasattr(model, "fit") or not hasattr(model, "weights"):
        raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
    min_lr = v.check_float("min_lr", min_lr, low=0.0, low_inclusive=False)
    max_lr = v.check_float("max_lr", max_lr, low=0.0, low_inclusive=False)
    if max_lr <= min_lr:
        raise ValueError(f"`max_lr` ({max_lr:g}) must be greater than `min_lr` ({min_lr:g}).")
    num_steps = v.check_int("num_steps", num_steps, minimum=2)
    batch_size = v.check_int("batch_size", batch_size, minimum=1)
    smoothing = v.check_float("smoothing", smoothing, low=0.0, high=1.0, high_inclusive=False)
    stop_factor = v.check_float("stop_factor", stop_factor, low=1.0, low_inclusive=False)
    seed = v.check_int("seed", seed)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("lr_range_test needs a compiled model (model.compile(optimizer, loss)).")
    scheduled = _lr.is_schedule(model.optimizer, "lr_range_test")  # refuses a lambda clearly
    data = _as_dataset(x, y, batch_size, seed)

    if not getattr(model, "built", False):
        model(next(iter(data))[0])  # a forward pass builds a subclassed model
    snapshot = Snapshot.take(model, 0, None)
    if snapshot is None:
        raise ValueError("the model's weights are not finite before the range test.")
    seeds = [np.array(s.numpy(), copy=True) for s in seed_variables(model)]
    optimizer = model.optimizer
    original_lr = None if scheduled else _lr.current_lr(optimizer)
    original_schedule = _lr.schedule_of(optimizer, "lr_range_test") if scheduled else None
    original_spe = getattr(model, "steps_per_execution", 1)
    lrs = lr_analysis.exponential_schedule(min_lr, max_lr, num_steps)
    recorder = _RangeRecorder(lrs, smoothing, stop_factor, set_rate=not scheduled)
    try:
        model.steps_per_execution = 1
        if scheduled:
            optimizer.learning_rate = _RampSchedule(min_lr, max_lr, num_steps,
                                                   int(keras.ops.convert_to_numpy(
                                                       optimizer.iterations)))
        model.make_train_function(force=True)
        model.fit(data, epochs=1, steps_per_epoch=num_steps, verbose=0, shuffle=False,
                  callbacks=[recorder])
    finally:
        model.steps_per_execution = original_spe
        if scheduled:
            optimizer.learning_rate = original_schedule
        snapshot.restore(model)
        for variable, value in zip(seed_variables(model), seeds, strict=True):
            variable.assign(value)
        if not scheduled:
            optimizer.learning_rate = original_lr
        model.make_train_function(force=True)
        model.reset_metrics()
    n = len(recorder.raw)
    raw = np.asarray(recorder.raw, dtype=np.float64)
    if n and not np.isfinite(raw).any():
        raise ValueError(
            f"every loss of the range test was NaN/Inf, from the first step at learning rate "
            f"{lrs[0]:.3g}: the rate cannot be the cause. Check the inputs and labels for "
            "NaN/Inf (`np.isfinite(x).all()`), labels in range for the loss, and the loss "
            "itself (log(0)). The model was restored."
        )
    smoothed = lr_analysis.smooth(np.where(np.isfinite(raw), raw, np.inf), smoothing) \
        if n else np.zeros(0)
    return LRFinderResult(lrs=lrs[:n], losses=smoothed, raw_losses=raw,
                          suggestions=lr_analysis.suggestions(lrs[:n], smoothed),
                          stopped_early=recorder.stopped)


def _as_dataset(x: Any, y: Any, batch_size: int, seed: int):
    """An endless `tf.data.Dataset` of batches for the test."""
    if _is_dataset(x):
        infinite = int(x.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
        return x if infinite else x.repeat()
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"`x` must be an array or a tf.data.Dataset, got {type(x).__name__}.")
    if y is None:
        raise ValueError("`y` is required when `x` is an array.")
    if len(x) != len(y):
        raise ValueError(f"`x` has {len(x)} samples but `y` has {len(y)}.")
    if len(x) == 0:
        raise ValueError("`x` has no samples: the range test needs at least one batch.")
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size).repeat()


class _RampSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The range test's exponential ramp as a schedule (for optimizers built with one)."""

    def __init__(self, min_lr: float, max_lr: float, num_steps: int, start: int):
        self.min_lr, self.max_lr = float(min_lr), float(max_lr)
        self.num_steps, self.start = int(num_steps), int(start)

    def __call__(self, step):
        ops = keras.ops
        position = ops.clip(ops.cast(step, "float32") - self.start, 0.0, self.num_steps - 1.0)
        return self.min_lr * ops.power(self.max_lr / self.min_lr,
                                       position / (self.num_steps - 1.0))

    def get_config(self) -> dict[str, Any]:
        return {"min_lr": self.min_lr, "max_lr": self.max_lr, "num_steps": self.num_steps,
                "start": self.start}


def _constant(value: Any, dtype: Any) -> Any:
    """A value to assign at every step: a TensorFlow constant made once, or on other
    backends a host array (JAX donates the training state's buffers to each step, so a
    device array assigned twice would be used after it was donated)."""
    if keras.backend.backend() == "tensorflow":
        return tf.constant(value, dtype)
    return np.asarray(value, dtype=keras.backend.standardize_dtype(dtype))


class _RangeRecorder(keras.callbacks.Callback):
    """Sets the rate before each batch (float rates), records its loss, stops on blow-up.

    Per-step cost matters here (the test is a hundred steps), so the rate and the loss
    tracker are set with `_snapshot.assign` (on the TensorFlow variables under the Keras
    ones, without reading the value back) from values made once. Reading `self.model`
    first matters on JAX: it re-attaches the training state to the variables, so the
    next step trains with what was assigned here.
    """

    def __init__(self, lrs: np.ndarray, smoothing: float, stop_factor: float,
                 set_rate: bool = True):
        super().__init__()
        self.lrs, self.smoothing, self.stop_factor = lrs, smoothing, stop_factor
        self.set_rate = set_rate
        self.raw: list[float] = []
        self.best = math.inf
        self.avg = 0.0
        self.stopped = False

    def on_train_begin(self, logs=None):
        model = self.model
        self._lr = model.optimizer.learning_rate if self.set_rate else None
        self._lr_values = [] if self._lr is None else [
            _constant(value, self._lr.dtype) for value in self.lrs]
        # The logged loss is the running mean of Keras's loss tracker; zeroing it before
        # each batch makes the logged value that batch's own loss. A model with a custom
        # train_step may have no tracker named "loss": reset all its metrics instead.
        trackers = [m for m in model.metrics if m.name == "loss"]
        self._zeros = None
        if trackers:
            self._zeros = [(v, _constant(np.zeros(v.shape), v.dtype))
                           for v in trackers[0].variables]

    def on_train_batch_begin(self, batch, logs=None):
        model = self.model  # on JAX: sync the state so the assignments below take effect
        if self._zeros is None:
            model.reset_metrics()
        else:
            for variable, zero in self._zeros:
                assign(variable, zero)
        if self._lr is not None:
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
