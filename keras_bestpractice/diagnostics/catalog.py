"""The catalogue of diagnosis codes: one spec per code, everything else derived.

A code is declared once, with `@finding_spec(...)` on a small class that holds
its rule and its wording:

```python
@finding_spec("plateau", severity="warning", title="Training plateaued", rank=100)
class Plateau:
    def detect(view):          # curve codes: RunView -> (epoch index, evidence) | None
        ...
    def message(ev):           # the text is made from the evidence, and only from it
        ...
    def fix(ev):
        ...
```

The severity, title, priority order (`rank`), what a code subsumes (a
diverging run also looks underfit: only the cause is reported) and the rule
that emits it all live in that one place; `CODE_ORDER`, `TITLES`, `SEVERITY`,
`SUBSUMES` and the list of curve rules are derived from the catalogue. Because
every message and fix is rendered from the finding's evidence, the numbers a
finding cites are the numbers that triggered it. Codes whose evidence comes
from probes (`source="probes"`) are emitted by `signals.py`; `healthy` and the
comparison with a reference run (`negative_transfer`) by `diagnosis.py`. Pure
Python: no Keras or TensorFlow.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keras_bestpractice.diagnostics.finding import SEVERITIES, Finding

SOURCES = ("curves", "probes", "summary", "comparison")
# The modules that declare codes; imported once, before the catalogue is read.
_DECLARING_MODULES = ("rules", "signals", "diagnosis")


@dataclass(frozen=True)
class CodeSpec:
    """Everything about one diagnosis code.

    Attributes:
        code: machine-readable name, e.g. `"overfitting"`.
        severity: `"error"`, `"warning"` or `"info"`.
        title: short human title.
        rank: priority among codes of the same severity (lower first).
        subsumes: codes hidden when this one is found (they are consequences).
        source: `"curves"` (a rule over learning curves), `"probes"` (from the
            `TrainingDiagnostics` probes) or `"summary"` (`healthy`).
        message: `evidence -> str`, what is wrong.
        fix: `evidence -> str`, what to change.
        detect: for curve codes, `RunView -> (epoch index, evidence) | None`.
    """

    code: str
    severity: str
    title: str
    rank: int
    subsumes: frozenset[str]
    source: str
    message: Callable[[Mapping[str, Any]], str]
    fix: Callable[[Mapping[str, Any]], str]
    detect: Callable[[Any], Any] | None = None


_SPECS: dict[str, CodeSpec] = {}
_loaded = False


def finding_spec(code: str, *, severity: str, title: str, rank: int,
                 subsumes: tuple[str, ...] = (), source: str = "curves"):
    """Class decorator declaring a code (see the module docstring)."""
    if severity not in SEVERITIES:
        raise ValueError(f"`severity` must be one of {', '.join(SEVERITIES)}; got {severity!r}.")
    if source not in SOURCES:
        raise ValueError(f"`source` must be one of {', '.join(SOURCES)}; got {source!r}.")

    def register(cls):
        detect = getattr(cls, "detect", None)
        if source == "curves" and detect is None:
            raise TypeError(f"curve code {code!r} needs a `detect(view)` rule.")
        _SPECS[code] = CodeSpec(code=code, severity=severity, title=title, rank=rank,
                                subsumes=frozenset(subsumes), source=source,
                                message=cls.message, fix=cls.fix, detect=detect)
        return cls

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for name in _DECLARING_MODULES:
            importlib.import_module(f"keras_bestpractice.diagnostics.{name}")


def specs() -> list[CodeSpec]:
    """Every declared code, in priority order (severity, then rank)."""
    _load()
    return sorted(_SPECS.values(), key=lambda s: (SEVERITIES.index(s.severity), s.rank))


def get(code: str) -> CodeSpec:
    """The spec of `code`.

    Raises:
        KeyError: for an undeclared code, listing the declared ones.
    """
    _load()
    try:
        return _SPECS[code]
    except KeyError:
        raise KeyError(f"unknown diagnosis code {code!r}; declared: "
                       f"{', '.join(sorted(_SPECS))}.") from None


def curve_specs() -> list[CodeSpec]:
    """The curve rules, in the order `diagnose()` runs them (by rank)."""
    return sorted((s for s in specs() if s.source == "curves"), key=lambda s: s.rank)


def rank_of(code: str) -> int:
    """Position of `code` in `CODE_ORDER` (unknown codes sort last)."""
    _load()
    spec = _SPECS.get(code)
    return len(_SPECS) + 1 if spec is None else code_order().index(code)


def code_order() -> tuple[str, ...]:
    """Codes by rank alone (the order findings of one severity are shown in)."""
    _load()
    return tuple(s.code for s in sorted(_SPECS.values(), key=lambda s: s.rank))


def subsumed_by(codes: set[str]) -> set[str]:
    """Codes hidden by the presence of `codes`."""
    hidden: set[str] = set()
    for code in codes:
        spec = _SPECS.get(code)
        if spec is not None:
            hidden |= spec.subsumes
    return hidden


def round_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON-able evidence: floats rounded to 6 places, NumPy scalars unwrapped."""
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):
            value = value.item()
        if isinstance(value, float):
            out[key] = round(value, 6) if math.isfinite(value) else value
        else:
            out[key] = value
    return out


def make_finding(code: str, epoch: int | None, evidence: Mapping[str, Any]) -> Finding:
    """The `Finding` for `code`: severity and title from the spec, text rendered from
    `evidence`."""
    spec = get(code)
    ev = round_evidence(evidence)
    return Finding(code=code, severity=spec.severity, epoch=epoch, message=spec.message(ev),
                   suggestion=spec.fix(ev), evidence=ev, title=spec.title)


def finding_order(finding: Finding) -> tuple[int, int, float]:
    """Sort key of findings: severity first, then the catalogue's code order, then
    earlier epochs first."""
    epoch = finding.epoch if finding.epoch is not None else math.inf
    return (SEVERITIES.index(finding.severity), rank_of(finding.code), epoch)


def __getattr__(name: str) -> Any:
    # Derived tables, computed once every declaring module has been imported.
    if name == "CODE_ORDER":
        return code_order()
    if name == "CURVE_CODES":
        return tuple(s.code for s in curve_specs())
    if name == "SIGNAL_CODES":
        return tuple(s.code for s in specs() if s.source == "probes")
    if name == "TITLES":
        return {s.code: s.title for s in specs()}
    if name == "SEVERITY":
        return {s.code: s.severity for s in specs()}
    if name == "SUBSUMES":
        return {s.code: set(s.subsumes) for s in specs() if s.subsumes}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
