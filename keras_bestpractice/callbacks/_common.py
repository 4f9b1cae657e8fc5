"""Helpers shared by the callbacks: monitor direction, messages, log checks."""

from __future__ import annotations

import copy
import logging
import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger("keras_bestpractice")

# Metric names whose best value is the lowest / the highest, without `val_`.
_MIN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
              "poisson", "divergence", "perplexity")
_MAX_HINTS = ("acc", "accuracy", "auc", "precision", "recall", "f1", "iou", "r2",
              "top_k", "specificity", "sensitivity")


def resolve_mode(callback_name: str, monitor: str, mode: str) -> str:
    """'min' or 'max' for `monitor`; "auto" reads the name, as Keras's callbacks do.

    Raises:
        ValueError: when "auto" cannot tell, saying what to pass.
    """
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_").lower()
    if any(h in name for h in _MIN_HINTS):
        return "min"
    if any(h in name for h in _MAX_HINTS):
        return "max"
    raise ValueError(
        f"{callback_name} received monitor={monitor!r}, but cannot determine whether that "
        "metric should be maximized or minimized. Pass `mode='max'` in order to monitor "
        "based on the highest metric value, or pass `mode='min'` in order to use the lowest "
        "value."
    )


def print_msg(message: str) -> None:
    """Print like Keras's own callbacks: stdout when interactive logging is on, else log."""
    import keras

    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        log.info(message)


def first_nonfinite(logs: Mapping[str, Any] | None) -> tuple[str, float] | None:
    """The first (key, value) in `logs` that is NaN or +-Inf, or `None`.

    Keras has already turned the logs into Python floats (or NumPy arrays for
    vector metrics), so this costs no device synchronisation.
    """
    if not logs:
        return None
    for key, value in logs.items():
        try:
            f = float(value)
        except (TypeError, ValueError):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                continue
            if arr.size and not np.isfinite(arr).all():
                bad = arr[~np.isfinite(arr)].ravel()[0]
                return key, float(bad)
            continue
        if not math.isfinite(f):
            return key, f
    return None


def accuracy_key(logs: Mapping[str, Any], prefix: str = "") -> str | None:
    from keras_bestpractice.diagnostics.curves import ACCURACY_KEYS

    for key in ACCURACY_KEYS:
        if f"{prefix}{key}" in logs:
            return f"{prefix}{key}"
    return None


def num_classes_of(model: Any) -> int | None:
    """Classes from the model's output width (1 unit: binary), or `None`."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    width = outputs[0].shape[-1]
    if width is None:
        return None
    return 2 if int(width) == 1 else int(width)


def _callback_base():
    import keras

    return keras.callbacks.Callback


_STATEFUL: list = []  # weak references to callbacks exposing state_dict()


def _register_stateful(callback: Any) -> None:
    import weakref

    _STATEFUL[:] = [ref for ref in _STATEFUL if ref() is not None]
    if not any(ref() is callback for ref in _STATEFUL):
        _STATEFUL.append(weakref.ref(callback))


def stateful_callbacks(params: Any) -> list[Any]:
    """Our callbacks with `state_dict()` that belong to the same `fit` as `params`.

    Keras hands every callback of one `CallbackList` the same `params` dict, so
    its identity tells which callbacks train together.
    """
    found = []
    for ref in list(_STATEFUL):
        callback = ref()
        if callback is not None and params is not None and callback.params is params:
            found.append(callback)
    return found


class CopyableCallback(_callback_base()):
    """A Keras callback whose deep copy does not drag the model along.

    KerasTuner deep-copies callbacks for every trial, and users copy configured
    callbacks; copying `self.model` with them would duplicate a whole network
    (and fail for models holding non-copyable state). The copy gets no model:
    Keras calls `set_model` on it when it is used.
    """

    _NOT_COPIED: tuple[str, ...] = ("_model",)

    def set_params(self, params):
        super().set_params(params)
        if hasattr(self, "state_dict"):
            _register_stateful(self)

    def __deepcopy__(self, memo):
        cls = self.__class__
        new = cls.__new__(cls)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key in self._NOT_COPIED:
                setattr(new, key, None)
            else:
                setattr(new, key, copy.deepcopy(value, memo))
        return new
