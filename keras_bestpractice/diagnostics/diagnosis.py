"""`diagnose()`: findings from learning curves, offline or at the end of `fit`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from keras_bestpractice.diagnostics import catalog
from keras_bestpractice.diagnostics.catalog import finding_spec, make_finding
from keras_bestpractice.diagnostics.chance import ChanceLevel, chance_level
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport
from keras_bestpractice.diagnostics.finding import Finding, sort_key
from keras_bestpractice.diagnostics.rules import RunView


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
        TypeError: if `history` is none of the accepted forms, or an argument
            has the wrong type.
        ValueError: if `history` has no `loss`, no epochs, training columns of
            different lengths, a value that is not a number, or is a directory
            or a file that is not a CSV/JSON history; if `num_classes < 2`.
        FileNotFoundError: if a history path does not exist.

    Example:

    ```python
    history = model.fit(x, y, validation_split=0.2, epochs=30)
    report = diagnose(history, num_classes=10)
    print(report.primary)
    report.to_html("report.html")
    ```
    """
    curves = Curves.from_any(history)
    if curves.loss is None:
        keys = ", ".join(sorted(curves.series)) or "none"
        raise ValueError(f"`history` has no `loss` (keys: {keys}): diagnose() reads the "
                         "training loss Keras logs for every run.")
    if len(curves) == 0:
        raise ValueError("`history` has no epochs (a run that trained 0 epochs, e.g. a resumed "
                         "run that was already finished): there is nothing to diagnose.")
    extra_findings = _checked_list("extra_findings", extra_findings, Finding)
    skipped_checks = _checked_list("skipped_checks", skipped_checks, str)
    probes = _checked_list("probes", probes, dict)
    chance: ChanceLevel | None = chance_level(num_classes, class_prior)
    view = RunView.build(curves, chance)
    skipped = list(skipped_checks)
    if view.chance is None and view.inferred_chance is None:
        skipped.append(
            "not_learning: chance level unknown (pass num_classes=..., or the loss is not flat "
            "at ln C with accuracy near 1/C)"
        )
    if not view.has_val():
        skipped.append("overfitting, val_oscillation: no validation curves (`val_loss`)")
    findings: list[Finding] = []
    for spec in catalog.curve_specs():
        found = spec.detect(view)
        if found is not None:
            findings.append(make_finding(spec.code, *found))
    hidden = catalog.subsumed_by({f.code for f in findings})
    findings = [f for f in findings if f.code not in hidden]
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


@finding_spec("healthy", severity="info", title="Healthy", rank=1000, source="summary")
class Healthy:
    @staticmethod
    def message(ev) -> str:
        parts = []
        if ev.get("final_loss") is not None:
            parts.append(f"final training loss {ev['final_loss']:.4g}")
        if ev.get("best_val_loss") is not None:
            parts.append(f"best validation loss {ev['best_val_loss']:.4g} at epoch "
                         f"{ev['best_epoch']}")
        if ev.get("best_val_accuracy") is not None:
            parts.append(f"best validation accuracy {ev['best_val_accuracy']:.4f}")
        detail = "; ".join(parts) if parts else "no curves to judge"
        if ev["epochs"] < 3:
            return f"No problem found, but {ev['epochs']} epoch(s) say little: {detail}."
        return f"No problem found in the curves: {detail}."

    @staticmethod
    def fix(ev) -> str:
        return ("Keep the settings; for a final model, train with EarlyStopping("
                "restore_best_weights=True) and checkpoint (PeriodicCheckpoint).")


def _healthy(view: RunView) -> Finding:
    curves = view.curves
    evidence: dict[str, Any] = {"epochs": len(curves)}
    if curves.loss is not None and len(curves) and np.isfinite(curves.loss).any():
        evidence["final_loss"] = float(curves.loss[np.isfinite(curves.loss)][-1])
    if view.has_val():
        val = curves.val_loss
        best = int(np.nanargmin(val))
        evidence["best_val_loss"] = float(val[best])
        evidence["best_epoch"] = curves.epoch_at(best) + 1
    if curves.val_accuracy is not None and np.isfinite(curves.val_accuracy).any():
        evidence["best_val_accuracy"] = float(np.nanmax(curves.val_accuracy))
    return make_finding("healthy", None, evidence)


def _checked_list(name: str, values: Any, kind: type) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"`{name}` must be a list of {kind.__name__}, got "
                        f"{type(values).__name__}.")
    values = list(values)
    for item in values:
        if not isinstance(item, kind):
            raise TypeError(f"`{name}` must hold {kind.__name__} items, got "
                            f"{type(item).__name__}.")
    return values
