"""`MacroF1`: macro-averaged f1 for sparse or one-hot labels."""

from __future__ import annotations

from typing import Any

import keras

from keras_bestpractice.metrics._confusion import ConfusionMatrixMetric


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class MacroF1(ConfusionMatrixMetric):
    """Macro-averaged f1 from a confusion matrix, logged as `f1_macro`.

    Works with sparse integer labels (shape `(N,)` or `(N, 1)`, where Keras's
    `F1Score` silently gives wrong values) and one-hot labels; predictions are
    probabilities or logits (argmax), or one sigmoid unit thresholded at
    `threshold`. Equals scikit-learn's `f1_score(average="macro")` (classes
    absent from both labels and predictions are left out of the average; a class
    never predicted counts as 0).

    Args:
        num_classes: number of classes; `None` reads it from the predictions.
            Defaults to `None`.
        threshold: decision threshold of a single sigmoid output. Defaults to `0.5`.
        name: metric name. Defaults to `"f1_macro"`.
        dtype: result dtype. Defaults to `None`.

    Example:

    ```python
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", MacroF1()])      # logs val_f1_macro
    ```
    """

    def __init__(self, num_classes: int | None = None, threshold: float = 0.5,
                 name: str = "f1_macro", dtype: Any = None):
        super().__init__(num_classes=num_classes, threshold=threshold, name=name, dtype=dtype)

    def result(self):
        if not hasattr(self, "confusion"):
            return keras.ops.convert_to_tensor(0.0)
        parts = self._per_class()
        return self._macro(parts[2], parts[3])
