"""The warning category of this package.

Every warning the package raises uses `KerasBestPracticeWarning` (a `UserWarning`),
so a user can silence or escalate exactly ours with one filter:

    warnings.filterwarnings("error", category=keras_bestpractice.KerasBestPracticeWarning)
"""

from __future__ import annotations

import warnings


class KerasBestPracticeWarning(UserWarning):
    """A misconfiguration or a degraded guarantee reported by keras-bestpractice."""


def warn(message: str, stacklevel: int = 2) -> None:
    """Raise a `KerasBestPracticeWarning` attributed to the caller's caller."""
    warnings.warn(message, KerasBestPracticeWarning, stacklevel=stacklevel + 1)
