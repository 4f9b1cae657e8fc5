"""The confusion-matrix base of the macro metrics."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a `[C, C]` confusion matrix (rows: true class, columns: predicted).

    Labels may be sparse integers (shape `(N,)` or `(N, 1)`) or one-hot rows;
    predictions are class probabilities or logits (argmax) or, for a single
    sigmoid unit, a probability thresholded at `threshold`. The number of
    classes is read from the predictions at the first update when not given.
    """

    def __init__(self, num_classes: int | None = None, threshold: float = 0.5,
                 name: str | None = None, dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        if num_classes is not None and (isinstance(num_classes, bool) or
                                        not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"`threshold` must be in (0, 1), got {threshold!r}.")
        self.num_classes = num_classes
        self.threshold = float(threshold)
        self._direction = "up"
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
                raise ValueError("MacroPrecision/Recall/F1 need a static class dimension or "
                                 "`num_classes`.")
            self._build_matrix(2 if width == 1 else int(width))
        c = self.num_classes
        if width == 1:
            pred = ops.cast(ops.reshape(y_pred, (-1,)) > self.threshold, "int32")
        else:
            pred = ops.cast(ops.argmax(ops.reshape(y_pred, (-1, width)), axis=-1), "int32")
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == width and width != 1:
            true = ops.cast(ops.argmax(ops.reshape(y_true, (-1, width)), axis=-1), "int32")
        else:
            true = ops.cast(ops.round(ops.reshape(ops.cast(y_true, "float32"), (-1,))), "int32")
        true_hot = ops.one_hot(true, c, dtype="float32")
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
            true_hot = true_hot * weight
        pred_hot = ops.one_hot(pred, c, dtype="float32")
        self.confusion.assign_add(ops.matmul(ops.transpose(true_hot), pred_hot))

    def _per_class(self):
        cm = self.confusion
        tp = ops.diagonal(cm)
        actual = ops.sum(cm, axis=1)
        predicted = ops.sum(cm, axis=0)
        precision = ops.divide_no_nan(tp, predicted)
        recall = ops.divide_no_nan(tp, actual)
        f1 = ops.divide_no_nan(2.0 * precision * recall, precision + recall)
        # Average over the classes that occur in the labels or the predictions,
        # as scikit-learn's average="macro" does.
        present = ops.cast((actual + predicted) > 0, "float32")
        return precision, recall, f1, present

    def _macro(self, values, present):
        return ops.divide_no_nan(ops.sum(values * present), ops.sum(present))

    def _macro_scores(self) -> dict:
        precision, recall, f1, present = self._per_class()
        return {"precision_macro": self._macro(precision, present),
                "recall_macro": self._macro(recall, present),
                "f1_macro": self._macro(f1, present)}

    def reset_state(self):
        if hasattr(self, "confusion"):
            self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "threshold": self.threshold})
        return config


class MacroMetric(ConfusionMatrixMetric):
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
