"""`new_classifier`: a new head on a frozen pre-built model."""

from __future__ import annotations

from typing import Any

from keras_bestpractice import _validation as v


def new_classifier(base: Any, num_classes: int, dropout: float = 0.2,
                   pooling: str = "avg", name: str | None = None) -> Any:
    """Freeze `base` and add a classifier: pooling, dropout, a Dense output.

    The base is called with `training=False`, so its BatchNormalization layers
    stay in inference mode even when `fine_tune` unfreezes them (as Keras's
    transfer-learning guide requires: otherwise their statistics would be
    overwritten by the first batches of the new task).

    Args:
        base: a pre-built Keras model without its top (e.g.
            `keras.applications.ResNet50(include_top=False, weights=...)`), or
            one you pretrained.
        num_classes: classes of the new task; `1` gives a sigmoid output for a
            binary task, more a softmax.
        dropout: dropout rate before the output, in [0, 1). Defaults to `0.2`.
        pooling: `"avg"` or `"max"` global pooling of a 4-D feature map,
            `"flatten"`, or `None` for a base that already gives vectors.
            Defaults to `"avg"`.
        name: the new model's name. Defaults to `None`.

    Returns:
        An uncompiled `keras.Model` whose layers are the input, the frozen base
        and the head.

    Raises:
        TypeError: for a base that is not a Keras model.
        ValueError: for bad `num_classes`, `dropout` or `pooling`.

    Example:

    ```python
    model = new_classifier(base, num_classes=5)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    ```
    """
    import keras

    if not isinstance(base, keras.Model):
        raise TypeError(f"`base` must be a Keras model, got {type(base).__name__}.")
    num_classes = v.check_int("num_classes", num_classes, minimum=1)
    dropout = v.check_float("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
    if pooling not in ("avg", "max", "flatten", None):
        raise ValueError(f"`pooling` must be 'avg', 'max', 'flatten' or None, got {pooling!r}.")
    base.trainable = False
    inputs = keras.Input(tuple(base.input.shape[1:]), name="new_classifier_input")
    x = base(inputs, training=False)
    if len(x.shape) == 4 and pooling is not None:
        x = {"avg": keras.layers.GlobalAveragePooling2D(name="head_pool"),
             "max": keras.layers.GlobalMaxPooling2D(name="head_pool"),
             "flatten": keras.layers.Flatten(name="head_flatten")}[pooling](x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    activation = "sigmoid" if num_classes == 1 else "softmax"
    outputs = keras.layers.Dense(num_classes, activation=activation, name="head_output")(x)
    return keras.Model(inputs, outputs, name=name)
