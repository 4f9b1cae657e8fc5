"""What the rules may know about the model besides its curves (pure: no Keras import).

`TrainingDiagnostics` reads them off the model it watches; `diagnose(model=...)` takes a
Keras model, a `ModelFacts` or a mapping with the same keys. Two judgments need them
(issue #23):

- A run at the chance level whose loss moved (no blow-up, no freeze) is `not_learning`
  for a network, but `underfitting` for a model with no non-linear hidden layer: a
  linear model on classes that are not linearly separable converges to the class prior
  because that is the best it can represent. Its fix is capacity, not the data or the
  rate.
- A loss that falls steadily but slowly is `slow_convergence` ("raise the learning
  rate") only when the rate is unknown or low for its optimizer; at the optimizer's
  customary rate the advice would contradict the evidence, and the run is still
  improving (`still_improving`, a note: train longer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The customary learning rate of each optimizer: Keras's default, except plain SGD, whose
# default 0.01 is the bottom of the range SGD runs use (0.01-0.1, the handbooks' 0.1
# with momentum): below 0.3x of it a slow run's rate is the first suspect.
CUSTOMARY_RATE = {
    "sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "nadam": 1e-3, "adamax": 1e-3,
    "rmsprop": 1e-3, "adagrad": 1e-3, "adadelta": 1e-3, "ftrl": 1e-3, "lion": 1e-4,
    "lamb": 1e-3, "adafactor": 1e-3,
}
LOW_RATE_FRACTION = 0.3

# Layers that are affine (or the identity) at inference: a model built only of these
# (plus one output activation) draws straight decision boundaries.
_LINEAR_LAYERS = frozenset({
    "InputLayer", "Dense", "EinsumDense", "Flatten", "Reshape", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "BatchNormalization", "LayerNormalization", "Normalization", "Rescaling",
    "Permute", "RepeatVector", "Identity", "ActivityRegularization", "Masking",
    "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "Add", "Subtract", "Average", "Concatenate",
})
_LINEAR_ACTIVATIONS = frozenset({"linear", "identity", None})
_NONLINEAR_LAYERS = frozenset({
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "LSTM",
    "GRU", "SimpleRNN", "MultiHeadAttention",
})


@dataclass(frozen=True)
class ModelFacts:
    """`optimizer`: its class name, lower case; `learning_rate`: the largest rate the run
    used as far as known; `hidden_nonlinear`: does any layer before the output apply a
    non-linearity (`None`: unknown, e.g. a custom layer)?"""

    optimizer: str | None = None
    learning_rate: float | None = None
    hidden_nonlinear: bool | None = None

    @classmethod
    def from_any(cls, model: Any) -> ModelFacts | None:
        """From `None`, a `ModelFacts`, a mapping of its fields, or a (Keras) model."""
        if model is None or isinstance(model, ModelFacts):
            return model
        if isinstance(model, Mapping):
            unknown = set(model) - {"optimizer", "learning_rate", "hidden_nonlinear"}
            if unknown:
                raise ValueError(f"`model` facts take optimizer, learning_rate and "
                                 f"hidden_nonlinear; got {sorted(unknown)}.")
            rate = model.get("learning_rate")
            if rate is not None and (isinstance(rate, bool) or
                                     not isinstance(rate, (int, float))):
                raise TypeError(f"`model['learning_rate']` must be a number, got "
                                f"{type(rate).__name__}.")
            name = model.get("optimizer")
            return cls(None if name is None else str(name).lower(),
                       None if rate is None else float(rate), model.get("hidden_nonlinear"))
        if not hasattr(model, "layers"):
            raise TypeError(f"`model` must be a Keras model, a ModelFacts or a mapping of "
                            f"its facts, got {type(model).__name__}.")
        optimizer = getattr(model, "optimizer", None)
        return cls(optimizer_name(optimizer), current_rate(optimizer),
                   has_hidden_nonlinearity(model))

    @property
    def customary_rate(self) -> float | None:
        return CUSTOMARY_RATE.get(self.optimizer or "")

    @property
    def rate_is_low(self) -> bool | None:
        """Is the rate under `LOW_RATE_FRACTION` of the optimizer's customary one (`None`
        when either is unknown)?"""
        if self.learning_rate is None or self.customary_rate is None:
            return None
        return self.learning_rate < LOW_RATE_FRACTION * self.customary_rate

    def to_dict(self) -> dict:
        return {"optimizer": self.optimizer, "learning_rate": self.learning_rate,
                "hidden_nonlinear": self.hidden_nonlinear}


def optimizer_name(optimizer: Any) -> str | None:
    """The optimizer's class name in lower case, through a loss-scale wrapper."""
    if optimizer is None:
        return None
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        optimizer = inner
    return type(optimizer).__name__.lower()


def current_rate(optimizer: Any) -> float | None:
    """The optimizer's learning rate now (a schedule's value at the current step)."""
    if optimizer is None:
        return None
    inner = getattr(optimizer, "inner_optimizer", None)
    try:
        rate = float(np.asarray((inner or optimizer).learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) else None


def has_hidden_nonlinearity(model: Any) -> bool | None:
    """Does any layer before the last apply a non-linearity? `None` when none is known to
    and a layer we do not know (a custom or nested one) might: never a guess."""
    layers = [layer for layer in getattr(model, "layers", [])
              if type(layer).__name__ != "InputLayer"]
    if not layers:
        return None
    unknown = False
    for layer in layers[:-1]:
        kind = type(layer).__name__
        activation = _activation_name(getattr(layer, "activation", None))
        if kind in _NONLINEAR_LAYERS or activation not in _LINEAR_ACTIVATIONS:
            return True
        if kind not in _LINEAR_LAYERS and kind != "Activation":
            unknown = True
    return None if unknown else False


def _activation_name(activation: Any) -> str | None:
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", type(activation).__name__).lower()
