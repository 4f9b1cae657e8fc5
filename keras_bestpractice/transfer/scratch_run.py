"""The from-scratch reference of the negative-transfer check."""

from __future__ import annotations

from typing import Any


def scratch_model(model: Any) -> Any:
    """The architecture of `model` with fresh weights, every layer trainable, compiled
    from `model`'s own compile configuration (`keras.models.clone_model`); `model`
    itself is not touched.

    A base that `new_classifier` calls with `training=False` (to keep a pretrained
    base's BatchNormalization statistics) is called without it in the clone: a
    network trained from scratch updates its BatchNormalization statistics as usual.
    """
    import keras

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(layer, keras.Model) and kwargs.get("training") is False:
            del kwargs["training"]
        return layer(*args, **kwargs)

    if isinstance(model, keras.Sequential):  # call_function is for functional models
        clone = keras.models.clone_model(model)
    else:
        clone = keras.models.clone_model(model, call_function=call)
    _all_trainable(clone)
    clone.compile_from_config(model.get_compile_config())
    return clone


def train_reference(model: Any, x: Any, y: Any = None, *, epochs: int, **fit_kwargs: Any
                    ) -> dict[str, list[float]]:
    """Train `scratch_model(model)` for `epochs` and return its `History.history`."""
    history = scratch_model(model).fit(x, y, epochs=epochs, **fit_kwargs)
    return {k: [float(val) for val in vals] for k, vals in history.history.items()}


def _all_trainable(model: Any) -> None:
    """Every layer trainable, nested models' layers too (the clone copies the frozen
    base's `trainable=False`, and setting it on the outer model does not reach it)."""
    model.trainable = True
    for layer in getattr(model, "layers", []):
        layer.trainable = True
        if getattr(layer, "layers", None):
            _all_trainable(layer)

