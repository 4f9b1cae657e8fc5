"""Macro-averaged precision, recall and F1 from one confusion matrix, for sparse labels.

The four public metrics differ only in which score they return, so they live in
one module over one base (`ConfusionMatrixMetric`).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_bestpractice import _validation as v


def _reject_bad_labels(bad, num_classes: int, who: str) -> None:
    """Fail the step when `bad` (a count of invalid labels in the batch) is above 0.

    Runs inside the compiled step on every backend: a TensorFlow assertion op, a
    JAX debug callback (its error surfaces from `fit` as a runtime error carrying
    this message), a plain check on eager backends.
    """
    message = (f"{who}: labels must be class ids in [0, {num_classes - 1}] "
               f"(num_classes={num_classes}); the batch has out-of-range, non-integer or "
               "NaN labels")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.debugging.assert_equal(tf.cast(bad, tf.float32), 0.0, message=message)
    elif backend == "jax":
        import jax

        def check(count):
            if float(count) > 0:
                raise ValueError(f"{message} ({int(count)} of them).")

        jax.debug.callback(check, bad)
    elif float(ops.convert_to_numpy(bad)) > 0:
        raise ValueError(f"{message} ({int(ops.convert_to_numpy(bad))} of them).")


class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a `[C, C]` confusion matrix (rows: true class, columns: predicted).

    Labels may be sparse integers (shape `(N,)` or `(N, 1)`) or one-hot rows;
    predictions are class probabilities or logits (argmax) or, for a single
    sigmoid unit, a probability thresholded at `threshold`. The number of
    classes is read from the predictions at the first update when not given.
    Labels outside `[0, C - 1]`, non-integer or NaN are rejected (the step
    fails with the reason) and never scored; the matrix turns NaN if a backend
    cannot stop the step.
    """

    def __init__(self, num_classes: int | None = None, threshold: float = 0.5,
                 name: str | None = None, dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
        self.threshold = v.check_float("threshold", threshold, low=0.0, high=1.0,
                                       low_inclusive=False, high_inclusive=False)
        self.num_classes = num_classes
        if num_classes is not None:
            self._build_matrix(num_classes)

    def _build_matrix(self, num_classes: int) -> None:
        self.num_classes = int(num_classes)
        self.confusion = self.add_variable(shape=(self.num_classes, self.num_classes),
                                           initializer="zeros", name="confusion",
                                           dtype="float32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        width = y_pred.shape[-1]
        if not hasattr(self, "confusion"):
            if width is None:
                raise ValueError(f"{type(self).__name__} needs a static class dimension or "
                                 "`num_classes`.")
            self._build_matrix(2 if width == 1 else int(width))
        c = self.num_classes
        if width == 1:
            pred = ops.cast(ops.reshape(y_pred, (-1,)) > self.threshold, "int32")
        else:
            pred = ops.cast(ops.argmax(ops.reshape(y_pred, (-1, width)), axis=-1), "int32")
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == width and width != 1:
            rows = ops.cast(ops.reshape(y_true, (-1, width)), "float32")
            valid = ops.all(ops.isfinite(rows), axis=-1)
            labels = ops.cast(ops.argmax(ops.where(ops.isfinite(rows), rows, 0.0), axis=-1),
                              "float32")
        else:
            labels = ops.reshape(ops.cast(y_true, "float32"), (-1,))
            valid = ops.logical_and(
                ops.logical_and(ops.isfinite(labels), labels == ops.round(labels)),
                ops.logical_and(labels >= 0.0, labels <= float(c - 1)))
        bad = ops.sum(ops.cast(ops.logical_not(valid), "float32"))
        _reject_bad_labels(bad, c, type(self).__name__)
        true = ops.cast(ops.where(valid, labels, 0.0), "int32")
        true_hot = ops.one_hot(true, c, dtype="float32")
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
            true_hot = true_hot * weight
        pred_hot = ops.one_hot(pred, c, dtype="float32")
        poison = ops.where(bad > 0, float("nan"), 0.0)  # never a score from bad labels
        self.confusion.assign_add(ops.matmul(ops.transpose(true_hot), pred_hot) + poison)

    def _per_class(self):
        cm = ops.convert_to_tensor(self.confusion)
        tp = ops.diagonal(cm)
        actual = ops.sum(cm, axis=1)
        predicted = ops.sum(cm, axis=0)
        precision = ops.divide_no_nan(tp, predicted)
        recall = ops.divide_no_nan(tp, actual)
        f1 = ops.divide_no_nan(2.0 * precision * recall, precision + recall)
        # Average over the classes that occur in the labels or the predictions,
        # as scikit-learn's average="macro" does.
        present = ops.cast((actual + predicted) > 0, "float32")
        nan = ops.any(ops.isnan(cm))
        return precision, recall, f1, present, nan

    def _macro_scores(self) -> dict:
        precision, recall, f1, present, nan = self._per_class()

        def macro(values):
            score = ops.divide_no_nan(ops.sum(values * present), ops.sum(present))
            return ops.where(nan, float("nan"), score)

        return {"precision_macro": macro(precision), "recall_macro": macro(recall),
                "f1_macro": macro(f1)}

    def reset_state(self):
        if hasattr(self, "confusion"):
            self.confusion.assign(ops.zeros(self.confusion.shape, "float32"))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "threshold": self.threshold})
        return config


class _MacroMetric(ConfusionMatrixMetric):
    """One macro score (`score` names it) from the confusion matrix."""

    score = "f1_macro"

    def __init__(self, num_classes: int | None = None, threshold: float = 0.5,
                 name: str | None = None, dtype: Any = None):
        super().__init__(num_classes=num_classes, threshold=threshold,
                         name=name or self.score, dtype=dtype)

    def result(self):
        if not hasattr(self, "confusion"):
            return ops.convert_to_tensor(0.0)
        return self._macro_scores()[self.score]


_COMMON_DOC = """

    Works with sparse integer labels (shape `(N,)` or `(N, 1)`, where Keras's
    `F1Score` silently gives wrong values) and one-hot labels; predictions are
    probabilities or logits (argmax), or one sigmoid unit thresholded at
    `threshold`. Equals scikit-learn's `{sk}(average="macro")` (classes absent
    from both labels and predictions are left out of the average; a class never
    predicted counts as 0). Labels outside `[0, num_classes - 1]`, non-integer
    or NaN fail the step with the reason instead of being scored.

    Args:
        num_classes: number of classes; `None` reads it from the predictions.
            Defaults to `None`.
        threshold: decision threshold of a single sigmoid output, in (0, 1).
            Defaults to `0.5`.
        name: metric name. Defaults to `"{score}"`.
        dtype: result dtype. Defaults to `None`.

    Example:

    ```python
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", {cls}()])      # logs val_{score}
    ```

    Raises:
        TypeError: for a `num_classes` or `threshold` of the wrong type.
        ValueError: for `num_classes < 2` or a `threshold` outside (0, 1).
    """


def _document(cls, summary: str, sk: str):
    cls.__doc__ = summary + _COMMON_DOC.format(sk=sk, score=cls.score, cls=cls.__name__)
    return keras.saving.register_keras_serializable(package="keras_bestpractice")(cls)


class MacroPrecision(_MacroMetric):
    score = "precision_macro"


class MacroRecall(_MacroMetric):
    score = "recall_macro"


class MacroF1(_MacroMetric):
    score = "f1_macro"


MacroPrecision = _document(MacroPrecision, "Macro-averaged precision, logged as "
                           "`precision_macro`.", "precision_score")
MacroRecall = _document(MacroRecall, "Macro-averaged recall, logged as `recall_macro`.",
                        "recall_score")
MacroF1 = _document(MacroF1, "Macro-averaged F1, logged as `f1_macro`.", "f1_score")


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class MacroScores(ConfusionMatrixMetric):
    """Macro precision, recall and F1 at the cost of one metric.

    Its result is a dict, which Keras spreads into the logs as `precision_macro`,
    `recall_macro` and `f1_macro` (and `val_...` for validation): the same values
    as `MacroPrecision`, `MacroRecall` and `MacroF1`, from one confusion matrix
    instead of three (less graph to trace and run: the tuner uses it). Labels
    are checked as in those metrics.

    Args:
        num_classes: number of classes; `None` reads it from the predictions.
        threshold: decision threshold of a single sigmoid output. Defaults to `0.5`.
        name: metric name. Defaults to `"macro_scores"`.
        dtype: result dtype. Defaults to `None`.

    Example:

    ```python
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", MacroScores()])
    history.history["val_f1_macro"]
    ```
    """

    def __init__(self, num_classes: int | None = None, threshold: float = 0.5,
                 name: str = "macro_scores", dtype: Any = None):
        super().__init__(num_classes=num_classes, threshold=threshold, name=name, dtype=dtype)

    def result(self):
        if not hasattr(self, "confusion"):
            zero = keras.ops.convert_to_tensor(0.0)
            return {"precision_macro": zero, "recall_macro": zero, "f1_macro": zero}
        return self._macro_scores()
