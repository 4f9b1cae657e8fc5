"""Recognising what kind of input a user passed, without importing TensorFlow."""

from __future__ import annotations

from typing import Any


def is_dataset(obj: Any) -> bool:
    """True for a `tf.data.Dataset` (recognised by its module and `element_spec`)."""
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "element_spec")
