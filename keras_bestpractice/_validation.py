"""Up-front validation of public arguments.

Every public function checks its arguments before it does any work, and raises a
`TypeError` (wrong kind of value) or `ValueError` (right kind, wrong value) whose
message names the argument, shows the value received and says what is allowed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (type {type(value).__name__})"


def check_bool(name: str, value: Any) -> bool:
    """Return `value` if it is a bool (NumPy bools included)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise TypeError(f"`{name}` must be True or False, got {_describe(value)}.")


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Return `value` as an int after checking its type and range (bounds inclusive)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        allowed = "an integer" + (" or None" if allow_none else "")
        raise TypeError(f"`{name}` must be {allowed}, got {_describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}.")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
) -> float | None:
    """Return `value` as a finite float inside the given interval."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        allowed = "a number" + (" or None" if allow_none else "")
        raise TypeError(f"`{name}` must be {allowed}, got {_describe(value)}.")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"`{name}` must be a number, got nan.")
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        left = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        right = "inf)" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        raise ValueError(f"`{name}` must be in {left}, {right}, got {value:g}.")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return `value` if it is one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {allowed}; got {value!r}.")
    return value


def check_mode(value: Any) -> str:
    """Validate a Keras-style `mode` argument ("auto", "min" or "max")."""
    if not isinstance(value, str):
        raise TypeError(f"`mode` must be 'auto', 'min' or 'max', got {_describe(value)}.")
    return check_choice("mode", value, ("auto", "min", "max"))


def check_str(name: str, value: Any, *, allow_none: bool = False) -> str | None:
    """Return `value` if it is a non-empty string."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        allowed = "a non-empty string" + (" or None" if allow_none else "")
        raise TypeError(f"`{name}` must be {allowed}, got {_describe(value)}.")
    return value
