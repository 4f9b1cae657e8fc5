"""Why a run stopped or a trial was pruned: one vocabulary for every part.

`StopReason` is a `str`-valued enum (as Lightning's `EarlyStoppingReason` and
Optuna's `TrialState`): `DivergenceGuard.stop_reason`, the tuner's pruning, the
results table's `prune_reason` column, the HParams status and
`TrainingObjective` all use it, and it compares equal to its plain string
(`StopReason.NAN == "nan"`), so JSON files and tables hold the plain value.
"""

from __future__ import annotations

import enum


class PlainStrEnum(str, enum.Enum):
    """A `str`-valued enum that prints and formats as its plain value (`f"{x}"` is
    `"nan"`, not `"StopReason.NAN"`), so messages, JSON and tables hold the value."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class StopReason(PlainStrEnum):
    """Why training stopped early (or a trial was pruned)."""

    NAN = "nan"
    INF = "inf"
    DIVERGED = "diverged"
    NOT_LEARNING = "not_learning"
    MEDIAN = "median"
    ASHA = "asha"
    CURVE = "curve"
    OBJECTIVE_MET = "objective_met"
    OBJECTIVE_UNREACHABLE = "objective_unreachable"
    TIME_BUDGET = "max_time"
    NEGATIVE_TRANSFER = "negative_transfer"

    @property
    def hopeless(self) -> bool:
        """The run itself is broken (NaN, Inf, diverged, stuck), not just behind its peers."""
        return self in HOPELESS

    @property
    def is_success(self) -> bool:
        """Stopping for this reason is a success (the objective was met)."""
        return self is StopReason.OBJECTIVE_MET

    @property
    def message(self) -> str:
        """A readable sentence for reports and dashboards."""
        return _MESSAGES[self]

    @classmethod
    def parse(cls, value: str | StopReason | None) -> StopReason | None:
        """The member for `value` (`None` and `""` give `None`).

        Raises:
            ValueError: for a string that is not a reason, listing the reasons.
        """
        if value is None or value == "":
            return None
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(r.value) for r in cls)
            raise ValueError(f"unknown stop reason {value!r}; one of {allowed}.") from None


HOPELESS = frozenset({StopReason.NAN, StopReason.INF, StopReason.DIVERGED,
                      StopReason.NOT_LEARNING})

_MESSAGES = {
    StopReason.NAN: "a value became NaN",
    StopReason.INF: "a value became infinite",
    StopReason.DIVERGED: "the monitored value diverged",
    StopReason.NOT_LEARNING: "the loss stayed at its reference level (not learning)",
    StopReason.MEDIAN: "worse than the median of earlier trials at the same epoch",
    StopReason.ASHA: "not in the top fraction of its rung (successive halving)",
    StopReason.CURVE: "its learning curve projects below the best trial's value",
    StopReason.OBJECTIVE_MET: "the training objective was met",
    StopReason.OBJECTIVE_UNREACHABLE: "the training objective cannot be met in the epoch budget",
    StopReason.TIME_BUDGET: "the search's time budget ran out",
    StopReason.NEGATIVE_TRANSFER: "the transferred model trails a from-scratch reference "
                                  "(negative transfer)",
}
