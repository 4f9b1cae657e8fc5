"""`diagnose()`: findings from learning curves, offline or at the end of `fit`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from keras_bestpractice.diagnostics.chance import ChanceLevel, chance_level
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport
from keras_bestpractice.diagnostics.finding import Finding, sort_key
from keras_bestpractice.diagnostics.rules import CURVE_RULES, RunView


def diagnose(
    history: Any,
    num_classes: int | None = None,
    *,
    class_prior: Sequence[float] | None = None,
    extra_findings: Iterable[Finding] = (),
    skipped_checks: Iterable[str] = (),
    probes: Iterable[dict] = (),
) -> DiagnosticsReport:
    """Diagnose a training run from its learning curves.

    Args:
        history: `History.history` (a dict of lists), a `keras.callbacks.History`,
            a pandas `DataFrame`, or the path of a `CSVLogger` CSV file. Keys are
            recognised in their usual spellings (`accuracy`, `acc`,
            `sparse_categorical_accuracy`, `categorical_accuracy`, with and
            without `val_`).
        num_classes: number of classes, for the chance-level rules (`not_learning`,
            underfitting). When `None` the chance level is inferred where the
            curves allow it (a flat loss at ln C with accuracy near 1/C), else
            those rules are skipped. Defaults to `None`.
        class_prior: class counts or shares, for an imbalanced data set (the
            chance level is then the entropy of the prior). Defaults to `None`.
        extra_findings: findings from in-training signals (the
            `TrainingDiagnostics` callback passes its own). Defaults to none.
        skipped_checks: names of checks that could not run, with the reason.
        probes: per-epoch probe statistics to show in the report.

    Returns:
        A `DiagnosticsReport`; `report.primary` is the most serious finding and
        there is always at least one (`healthy` when nothing is wrong).

    Raises:
        TypeError: if `history` is none of the accepted forms.
        ValueError: if `num_classes < 2`, or a value in `history` is not a number.
        FileNotFoundError: if a CSV path does not exist.

    Example:

    ```python
    history = model.fit(x, y, validation_split=0.2, epochs=30)
    report = diagnose(history, num_classes=10)
    print(report.primary)
    report.to_html("report.html")
    ```
    """
    curves = Curves.from_any(history)
    chance: ChanceLevel | None = chance_level(num_classes, class_prior)
    view = RunView.build(curves, chance)
    skipped = list(skipped_checks)
    if view.chance is None and view.inferred_chance is None:
        skipped.append(
            "not_learning: chance level unknown (pass num_classes=..., or the loss is not flat "
            "at ln C with accuracy near 1/C)"
        )
    if curves.loss is None:
        skipped.append("all curve rules: no `loss` key in the history")
    elif not view.has_val():
        skipped.append("overfitting, val_oscillation: no validation curves (`val_loss`)")
    findings: list[Finding] = []
    if curves.loss is not None and len(curves) > 0:
        for rule in CURVE_RULES:
            found = rule(view)
            if found is not None:
                findings.append(found)
    findings = _drop_consequences(findings)
    findings.extend(extra_findings)
    problems = [f for f in findings if f.severity in ("error", "warning")]
    if not problems:
        findings.append(_healthy(view))
    findings.sort(key=sort_key)
    shown_chance = view.chance
    if shown_chance is None and any(f.code == "not_learning" for f in findings):
        shown_chance = view.inferred_chance
    return DiagnosticsReport(
        findings=findings,
        curves=curves,
        chance=shown_chance,
        skipped_checks=skipped,
        probes=list(probes),
    )


# A stuck or diverging run also looks "underfit", "plateaued" or "slow"; those
# are consequences, not separate problems, and listing them would only distract
# from the cause.
SUBSUMES = {
    "not_learning": {"underfitting", "plateau", "slow_convergence"},
    "diverging": {"underfitting", "plateau", "slow_convergence", "not_learning"},
    "underfitting": {"plateau"},
}


def _drop_consequences(findings: list[Finding]) -> list[Finding]:
    codes = {f.code for f in findings}
    hidden: set[str] = set()
    for code in codes:
        hidden |= SUBSUMES.get(code, set())
    return [f for f in findings if f.code not in hidden]


def _healthy(view: RunView) -> Finding:
    curves = view.curves
    evidence: dict[str, Any] = {"epochs": len(curves)}
    parts = []
    if curves.loss is not None and len(curves) and np.isfinite(curves.loss).any():
        last = float(curves.loss[np.isfinite(curves.loss)][-1])
        evidence["final_loss"] = round(last, 6)
        parts.append(f"final training loss {last:.4g}")
    if view.has_val():
        val = curves.val_loss
        best = int(np.nanargmin(val))
        evidence["best_val_loss"] = round(float(val[best]), 6)
        evidence["best_epoch"] = curves.epoch_at(best)
        parts.append(f"best validation loss {val[best]:.4g} at epoch {curves.epoch_at(best) + 1}")
    if curves.val_accuracy is not None and np.isfinite(curves.val_accuracy).any():
        acc = float(np.nanmax(curves.val_accuracy))
        evidence["best_val_accuracy"] = round(acc, 6)
        parts.append(f"best validation accuracy {acc:.4f}")
    detail = "; ".join(parts) if parts else "no curves to judge"
    short = len(curves) < 3
    message = (
        "No problem found in the curves: " + detail + "."
        if not short
        else f"No problem found, but {len(curves)} epoch(s) say little: " + detail + "."
    )
    return Finding(
        code="healthy",
        severity="info",
        epoch=None,
        message=message,
        suggestion=(
            "Keep the settings; for a final model, train with EarlyStopping("
            "restore_best_weights=True) and checkpoint (PeriodicCheckpoint)."
        ),
        evidence=evidence,
    )
