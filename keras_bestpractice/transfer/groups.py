"""`layer_groups`: the convolutional groups of a pre-built model, stem and head named."""

from __future__ import annotations

from typing import Any

from keras_bestpractice.transfer.group_rules import group_names


def find_base(model: Any) -> Any | None:
    """The pre-built model nested in `model` (the first layer that is itself a model)."""
    import keras

    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.Model):
            return layer
    return None


def layer_groups(model: Any) -> dict[str, list[Any]]:
    """The layers of a pre-built model in groups, bottom-most first.

    keras.applications naming is read where it is known (VGG `block<N>`, ResNet
    `conv<N>`, EfficientNet `block<N>` and `top`); any other functional model is
    cut where the spatial resolution falls (`stage1`, `stage2`, ...; MobileNetV2
    too). The layers before the first group are `"stem"`. Given a model made by
    `new_classifier` (a base nested in it), the base's groups come first and the
    classifier's own layers are `"head"`.

    Args:
        model: a functional or Sequential Keras model, or a model holding one.

    Returns:
        An ordered dict `{group: [layers]}` (input layers left out).

    Raises:
        TypeError: for something that is not a Keras model.
        ValueError: for a model without layers (a subclassed model not yet built).

    Example:

    ```python
    base = keras.applications.ResNet50(weights=None, include_top=False)
    list(layer_groups(base))   # ['stem', 'conv2', 'conv3', 'conv4', 'conv5']
    ```
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
    base = find_base(model)
    if base is not None:
        groups = layer_groups(base)
        head = [layer for layer in model.layers if layer is not base
                and not isinstance(layer, keras.layers.InputLayer)]
        if head:
            groups["head"] = head
        return groups
    layers = list(model.layers)
    if not layers:
        raise ValueError("`model` has no layers to group (build it first).")
    names = [layer.name for layer in layers]
    resolutions = [_resolution(layer) for layer in layers]
    out: dict[str, list[Any]] = {}
    for layer, group in zip(layers, group_names(names, resolutions), strict=True):
        if group is None or isinstance(layer, keras.layers.InputLayer):
            continue
        out.setdefault(group, []).append(layer)
    return out


def _resolution(layer: Any) -> tuple[int, int] | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]), int(shape[2])
