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


def check_path(name: str, value: Any, *, allow_none: bool = False):
    """Return `value` as a `Path` if it is a non-empty string or `os.PathLike`."""
    import os
    from pathlib import Path

    if value is None and allow_none:
        return None
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value):
        path = Path(value)
        if str(path):
            return path
    allowed = "a path (str or os.PathLike)" + (" or None" if allow_none else "")
    raise TypeError(f"`{name}` must be {allowed}, got {_describe(value)}.")


def _existing_ancestor_file(path) -> Any:
    """The first existing ancestor of `path` that is a file (not a directory), or None."""
    for parent in path.parents:
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None


def check_dir_path(name: str, value: Any, *, allow_none: bool = False,
                   must_exist: bool = False):
    """A path that is, or can become, a directory (not an existing file)."""
    path = check_path(name, value, allow_none=allow_none)
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{name}`={str(path)!r} is an existing file, but a directory is "
                         "needed; pass a directory path.")
    blocker = _existing_ancestor_file(path)
    if blocker is not None:
        raise ValueError(f"`{name}`={str(path)!r} cannot be a directory: {str(blocker)!r} is "
                         "a file.")
    if must_exist and not path.is_dir():
        raise FileNotFoundError(f"`{name}`={str(path)!r} does not exist.")
    return path


def check_file_path(name: str, value: Any, *, allow_none: bool = False,
                    must_exist: bool = False, suffixes: Iterable[str] | None = None):
    """A path that is, or can become, a file (not an existing directory)."""
    path = check_path(name, value, allow_none=allow_none)
    if path is None:
        return None
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise ValueError(f"`{name}` must end in one of {', '.join(suffixes)}; got "
                             f"{str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"`{name}`={str(path)!r} is a directory, but a file is needed.")
    blocker = _existing_ancestor_file(path)
    if blocker is not None:
        raise ValueError(f"`{name}`={str(path)!r} cannot be written: {str(blocker)!r} is a "
                         "file, not a directory.")
    if must_exist and not path.is_file():
        raise FileNotFoundError(f"`{name}`={str(path)!r} does not exist.")
    return path


def check_callable(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """Return `value` if it is callable."""
    if value is None and allow_none:
        return None
    if not callable(value):
        allowed = "callable" + (" or None" if allow_none else "")
        raise TypeError(f"`{name}` must be {allowed}, got {_describe(value)}.")
    return value


def check_str_list(name: str, value: Any, *, allow_none: bool = False) -> list[str] | None:
    """Return `value` as a list of non-empty strings (a lone string is refused)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"`{name}` must be a list of strings, got {_describe(value)}.")
    out = list(value)
    for item in out:
        if not isinstance(item, str) or not item:
            raise TypeError(f"`{name}` must be a list of non-empty strings; it holds "
                            f"{_describe(item)}.")
    return out


def check_number_list(name: str, value: Any, *, min_length: int = 1) -> list[float]:
    """Return `value` as a list of finite floats (a lone number or string is refused)."""
    import numpy as np

    if isinstance(value, (str, bytes, numbers.Number)) or not isinstance(
            value, (Iterable, np.ndarray)):
        raise TypeError(f"`{name}` must be a list of numbers, got {_describe(value)}.")
    out = []
    for item in (np.asarray(value).ravel().tolist() if isinstance(value, np.ndarray)
                 else list(value)):
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            raise TypeError(f"`{name}` must hold numbers; it holds {_describe(item)}.")
        if not math.isfinite(float(item)):
            raise ValueError(f"`{name}` must hold finite numbers; it holds {item!r}.")
        out.append(float(item))
    if len(out) < min_length:
        raise ValueError(f"`{name}` must hold at least {min_length} number(s), got {out!r}.")
    return out


def check_class_prior(name: str, value: Any, *, allow_none: bool = True) -> list[float] | None:
    """Class counts or shares: at least two finite non-negative numbers with a positive sum."""
    if value is None and allow_none:
        return None
    prior = check_number_list(name, value, min_length=2)
    if any(p < 0 for p in prior) or sum(prior) <= 0:
        raise ValueError(f"`{name}` must hold at least two non-negative class counts or shares "
                         f"with a positive sum, got {prior!r}.")
    return prior


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """` Did you mean 'x'?` for the option closest to a mistyped `name`, else `""`."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
