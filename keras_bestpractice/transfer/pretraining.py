"""`domain_transfer_init`: pretrain a base on your own (or a related) data, keep its weights."""

from __future__ import annotations

from typing import Any

from keras_bestpractice import _validation as v


def domain_transfer_init(base: Any, x: Any, y: Any = None, *, num_classes: int,
                         epochs: int = 3, learning_rate: float = 1e-3,
                         batch_size: int | None = None, validation_data: Any = None,
                         pooling: str | None = "avg",
                         verbose: int = 0) -> tuple[Any, dict[str, list[float]]]:
    """The handbook's domain-specific (or domain-transfer) weight initialisation.

    Trains `base` for a few epochs on `(x, y)`, your own data or data from a related
    domain, through a temporary classifier head, every layer trainable; the head is
    then discarded and `base` keeps the weights, ready for `new_classifier` and
    `fine_tune` on the task itself.

    Args:
        base: the model to initialise (e.g. a keras.applications model with
            `weights=None`, or your own convolutional base).
        x, y: the pretraining data, as for `fit` (`y` integer class ids).
        num_classes: classes of the pretraining labels (>= 1; 1 is binary).
        epochs: pretraining epochs (>= 1). Defaults to `3`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        batch_size, validation_data, verbose: as for `fit`.
        pooling: the temporary head's pooling, as in `new_classifier`: pretrain
            with the pooling the task's head will use. Defaults to `"avg"`.

    Returns:
        `(base, history)`: the same `base` object, with its pretrained weights and
        left frozen (`trainable=False`) as `new_classifier` would, and the
        pretraining's `History.history`.

    Warns:
        KerasBestPracticeWarning: when, after pretraining, the base's features are
            the same for every input (a dead base): the numbers and likely causes.

    Raises:
        TypeError: for a base that is not a Keras model.
        ValueError: for bad counts or rates.

    Example:

    ```python
    base, _ = domain_transfer_init(base, x_related, y_related, num_classes=20, epochs=3)
    model = new_classifier(base, num_classes=5)
    ```
    """
    import keras

    from keras_bestpractice.transfer.classifier import new_classifier
    from keras_bestpractice.transfer.feature_check import check_features_vary

    if not isinstance(base, keras.Model):
        raise TypeError(f"`base` must be a Keras model, got {type(base).__name__}.")
    num_classes = v.check_int("num_classes", num_classes, minimum=1)
    epochs = v.check_int("epochs", epochs, minimum=1)
    learning_rate = v.check_float("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    model = new_classifier(base, num_classes, dropout=0.0, pooling=pooling)
    base.trainable = True
    loss = "binary_crossentropy" if num_classes == 1 else "sparse_categorical_crossentropy"
    model.compile(keras.optimizers.Adam(learning_rate), loss, metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        validation_data=validation_data, verbose=verbose)
    base.trainable = False
    check_features_vary(base, x, "domain_transfer_init")
    return base, {k: [float(val) for val in vals] for k, vals in history.history.items()}
