"""`Finding`: one diagnosed problem, with its evidence and a concrete fix."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")

# Codes in priority order: `DiagnosticsReport.findings` is sorted by severity, ties
# in this order, so `report.primary` is the most serious problem.
CURVE_CODES = (
    "nan_loss",
    "diverging",
    "not_learning",
    "overfitting",
    "underfitting",
    "val_oscillation",
    "slow_convergence",
    "plateau",
)
SIGNAL_CODES = (
    "exploding_gradients",
    "vanishing_gradients",
    "dead_units",
    "bad_initial_loss",
    "inputs_not_normalized",
    "logits_mismatch",
)
CODE_ORDER = (
    "nan_loss",
    "diverging",
    "not_learning",
    "logits_mismatch",
    "exploding_gradients",
    "overfitting",
    "underfitting",
    "val_oscillation",
    "slow_convergence",
    "plateau",
    "dead_units",
    "vanishing_gradients",
    "bad_initial_loss",
    "inputs_not_normalized",
    "healthy",
)
DEFAULT_SEVERITY = {
    "nan_loss": "error",
    "diverging": "error",
    "not_learning": "error",
    "logits_mismatch": "error",
    "exploding_gradients": "warning",
    "overfitting": "warning",
    "underfitting": "warning",
    "val_oscillation": "warning",
    "slow_convergence": "warning",
    "plateau": "warning",
    "vanishing_gradients": "warning",
    "dead_units": "warning",
    "bad_initial_loss": "warning",
    "inputs_not_normalized": "warning",
    "healthy": "info",
}
TITLES = {
    "nan_loss": "Loss became NaN/Inf",
    "diverging": "Training loss diverges",
    "not_learning": "Not learning (stuck at chance level)",
    "logits_mismatch": "Output activation and loss disagree",
    "exploding_gradients": "Exploding gradients",
    "overfitting": "Overfitting",
    "underfitting": "Underfitting",
    "val_oscillation": "Validation loss oscillates",
    "slow_convergence": "Slow convergence (learning rate too low?)",
    "plateau": "Training plateaued",
    "vanishing_gradients": "Vanishing gradients",
    "dead_units": "Dead units",
    "bad_initial_loss": "Suspicious initial loss",
    "inputs_not_normalized": "Inputs not normalised",
    "healthy": "Healthy",
}


def sort_key(finding: Finding) -> tuple[int, int, float]:
    """Severity first, then the code order above, then earlier epochs first."""
    rank = CODE_ORDER.index(finding.code) if finding.code in CODE_ORDER else len(CODE_ORDER)
    epoch = finding.epoch if finding.epoch is not None else math.inf
    return (SEVERITIES.index(finding.severity), rank, epoch)


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem.

    Attributes:
        code: machine-readable name, e.g. `"overfitting"`.
        severity: `"error"`, `"warning"` or `"info"`.
        epoch: the Keras epoch (0-based) where the problem starts or is best
            seen, `None` when it has no epoch. Messages print it 1-based, as
            Keras's progress bar does.
        message: what is wrong, in one or two sentences with the numbers.
        suggestion: a concrete change to make.
        evidence: the numbers that triggered the finding, thresholds included.
    """

    code: str
    severity: str
    epoch: int | None
    message: str
    suggestion: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"`severity` must be one of {', '.join(SEVERITIES)}; got {self.severity!r}."
            )

    @property
    def title(self) -> str:
        return TITLES.get(self.code, self.code.replace("_", " ").capitalize())

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "epoch": self.epoch,
            "message": self.message,
            "suggestion": self.suggestion,
            "evidence": dict(self.evidence),
        }

    def __str__(self) -> str:
        where = f" (epoch {self.epoch + 1})" if self.epoch is not None else ""
        return f"[{self.severity}] {self.code}{where}: {self.message} Fix: {self.suggestion}"
