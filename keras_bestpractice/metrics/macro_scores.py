"""`MacroScores`: macro precision, recall and F1 from one confusion matrix."""

from __future__ import annotations

from typing import Any

import keras

from keras_bestpractice.metrics._confusion import ConfusionMatrixMetric


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class MacroScores(ConfusionMatrixMetric):
    """Macro precision, recall and F1 at the cost of one metric.

    Its result is a dict, which Keras spreads into the logs as `precision_macro`,
    `recall_macro` and `f1_macro` (and `val_...` for validation): the same values
    as `MacroPrecision`, `MacroRecall` and `MacroF1`, from one confusion matrix
    instead of three (less graph to trace and run: the tuner uses it).

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
