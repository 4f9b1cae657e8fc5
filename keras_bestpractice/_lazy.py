"""PEP 562 lazy re-exports for the public subpackages.

A subpackage `__init__` lists what users call and the module each name lives in;
the module is imported when the name is first touched, so importing a pure
module (say `keras_bestpractice.data.split`) never drags Keras in through its
package's `__init__`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`, re-exporting `name` from `exports[name]`.

    Example (in a package's `__init__.py`):

    ```python
    __all__ = ["diagnose"]
    __getattr__, __dir__ = lazy_exports(__name__, {"diagnose": "diagnosis"})
    ```
    """
    exports = dict(exports)

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_name}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
