"""`MacroF1`: macro-averaged F1 for sparse or one-hot labels."""

from __future__ import annotations

import keras

from keras_bestpractice.metrics._confusion import MacroMetric


@keras.saving.register_keras_serializable(package="keras_bestpractice")
class MacroF1(MacroMetric):
    """Macro-averaged F1 from a confusion matrix, logged as `f1_macro`.

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

    score = "f1_macro"
