"""`Finding`: one diagnosed problem, with its evidence and a concrete fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem.

    Attributes:
        code: machine-readable name, e.g. `"overfitting"` (the codes and their
            wording are declared in `keras_bestpractice.diagnostics.catalog`).
        severity: `"error"`, `"warning"` or `"info"`.
        epoch: Keras's 0-based epoch index (as `History.epoch` and
            `on_epoch_end(epoch)` count) where the problem starts or is best seen,
            `None` when it has no epoch. Everything printed (messages, reports,
            plots, `to_dict()`'s `epoch_number`) numbers epochs as Keras's
            progress bar does, from 1: `epoch + 1`.
        message: what is wrong, in one or two sentences with the numbers.
        suggestion: a concrete change to make.
        evidence: the numbers that triggered the finding, thresholds included;
            epochs in it are numbered from 1, as printed.
        title: a short human name (the catalogue's, for the codes it declares);
            derived from `code` when not given.
    """

    code: str
    severity: str
    epoch: int | None
    message: str
    suggestion: str
    evidence: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def __post_init__(self) -> None:
        from keras_bestpractice import _validation as v

        v.check_str("code", self.code)
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"`severity` must be one of {', '.join(SEVERITIES)}; got {self.severity!r}."
            )
        v.check_int("epoch", self.epoch, minimum=0, allow_none=True)
        if not isinstance(self.message, str):
            raise TypeError(f"`message` must be a string, got {type(self.message).__name__}.")
        if not isinstance(self.suggestion, str):
            raise TypeError(f"`suggestion` must be a string, got "
                            f"{type(self.suggestion).__name__}.")
        if not isinstance(self.evidence, dict):
            raise TypeError(f"`evidence` must be a dict, got {type(self.evidence).__name__}.")
        if not isinstance(self.title, str):
            raise TypeError(f"`title` must be a string, got {type(self.title).__name__}.")
        if not self.title:
            object.__setattr__(self, "title", self.code.replace("_", " ").capitalize())

    @property
    def epoch_number(self) -> int | None:
        """The epoch as Keras prints it ("Epoch 6/20" is 6), or `None`."""
        return None if self.epoch is None else self.epoch + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "epoch": self.epoch,
            "epoch_number": self.epoch_number,
            "message": self.message,
            "suggestion": self.suggestion,
            "evidence": dict(self.evidence),
        }

    def __str__(self) -> str:
        where = f" (epoch {self.epoch_number})" if self.epoch is not None else ""
        return f"[{self.severity}] {self.code}{where}: {self.message} Fix: {self.suggestion}"
