"""`diagnose()`: findings from learning curves, offline or at the end of `fit`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from keras_bestpractice._core.reference import (
    TargetSummary,
    loss_kind,
    reference_level,
    target_summary,
)
from keras_bestpractice.diagnostics import catalog
from keras_bestpractice.diagnostics.catalog import finding_order, finding_spec, make_finding
from keras_bestpractice.diagnostics.chance import ChanceLevel, chance_level
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport
from keras_bestpractice.diagnostics.finding import Finding
from keras_bestpractice.diagnostics.model_facts import ModelFacts
from keras_bestpractice.diagnostics.rules import RunView, first_best


def diagnose(
    history: Any,
    num_classes: int | Mapping[str, int] | None = None,
    *,
    class_prior: Sequence[float] | None = None,
    loss: Any = None,
    targets: Any = None,
    extra_findings: Iterable[Finding] = (),
    skipped_checks: Iterable[str] = (),
    probes: Iterable[dict] = (),
    reference: Any = None,
    predicted_classes: Sequence[int] | None = None,
    model: Any = None,
) -> DiagnosticsReport:
    """Diagnose a training run from its learning curves.

    Args:
        history: `History.history` (a dict of lists), a `keras.callbacks.History`,
            a pandas `DataFrame`, or the path of a `CSVLogger` CSV file (or a JSON
            file of `History.history`). Keys are recognised in their usual
            spellings (`accuracy`, `acc`, `sparse_categorical_accuracy`,
            `categorical_accuracy`, `binary_accuracy`, with and without `val_`).
            A multi-output model's per-output curves (`<output>_loss`,
            `<output>_accuracy`, ...) are diagnosed output by output as well.
        num_classes: number of classes, for the chance-level rules (`not_learning`,
            underfitting). When `None` (and no `loss` says otherwise) the chance
            level is inferred where the curves allow it (a flat loss at ln C with
            accuracy near 1/C), else those rules are skipped. A dict by output
            name gives each output of a multi-output model its own. Defaults to
            `None`.
        class_prior: class counts or shares, for an imbalanced data set (the
            chance level is then the entropy of the prior). Defaults to `None`.
        loss: the loss the model was trained with (a name such as `"mse"` or
            `"binary_crossentropy"`, or a Keras loss; a dict by output name for a
            multi-output model). It decides the reference level of a model that
            learned nothing (`keras_bestpractice._core.reference`); for a loss
            whose level is unknown no `not_learning` is given and no class count
            is inferred. Defaults to `None` (a classifier is assumed, as above).
        targets: the training targets (or a sample), for the reference level of
            regression (variance, mean absolute deviation) and sigmoid
            (prevalence) losses, or the class prior (a dict by output name for a
            multi-output model). Defaults to `None`.
        extra_findings: findings from in-training signals (the
            `TrainingDiagnostics` callback passes its own). Defaults to none.
        skipped_checks: names of checks that could not run, with the reason.
        probes: per-epoch probe statistics to show in the report.
        reference: for a transferred model, the history of the same architecture
            trained from scratch on the same data (any form `history` takes): a
            `negative_transfer` finding is given when the transferred run's best
            validation accuracy (else validation loss, else the training curves)
            trails the reference's by more than 0.02 (accuracy; loss: the same
            absolute margin) for 2 epochs in a row within epochs 5-10, the
            handbook's window (`keras_bestpractice._core.transfer`). Defaults to
            `None`.
        predicted_classes: the class the model predicts for each of some inputs
            at the end of training (`TrainingDiagnostics` passes its probe
            batch's). When they are all one class and the accuracy is that
            constant share every epoch with a flat loss, the run collapsed onto
            one class (the majority of imbalanced data): `not_learning`, whatever
            a uniform `num_classes` says. Defaults to `None` (the curves alone
            cannot tell such a collapse from a model whose learning rate went to
            zero).
        model: the trained Keras model (`TrainingDiagnostics` passes its own), a
            `ModelFacts`, or a mapping of its facts (`optimizer`, `learning_rate`,
            `hidden_nonlinear`; `keras_bestpractice.diagnostics.model_facts`). A
            model with no non-linear hidden layer stuck at the chance level is
            `underfitting` (capacity), not `not_learning`; a steady but slow loss
            at the optimizer's customary rate is `still_improving` (a note: train
            longer), not `slow_convergence` ("raise the rate"). Defaults to `None`
            (judged from the curves).

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
    diagnose(regression_history, loss="mse", targets=y_train)
    diagnose(fine_tuned.history, reference=scratch_history)  # negative transfer?
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
    outputs = output_names(curves)
    losses = loss if isinstance(loss, Mapping) else None
    all_targets = targets if isinstance(targets, Mapping) and \
        not isinstance(targets, TargetSummary) else None
    all_classes = _checked_classes(num_classes)
    skipped = list(skipped_checks)
    chance, infer = _reference(None if losses is not None else loss,
                               None if all_targets is not None else targets,
                               None if all_classes is not None else num_classes, class_prior,
                               skipped, multi_output=bool(outputs))
    single = _single_class(predicted_classes)
    facts = ModelFacts.from_any(model)
    findings, view = _curve_findings(curves, chance, infer, single, facts)
    if view.chance is None and view.inferred_chance is None and not any(
            s.startswith("not_learning") for s in skipped):
        skipped.append(
            "not_learning: chance level unknown (pass num_classes=... or loss=..., or the loss "
            "is not flat at ln C with accuracy near 1/C)"
        )
    if not view.has_val():
        skipped.append("overfitting, val_oscillation: no validation curves (`val_loss`)")
    for name in outputs:
        sub = output_curves(curves, name)
        sub_chance, sub_infer = _reference(
            (losses or {}).get(name), (all_targets or {}).get(name),
            (all_classes or {}).get(name), None, skipped, label=f"output {name!r}")
        findings += [_for_output(f, name) for f in _curve_findings(sub, sub_chance,
                                                                   sub_infer)[0]]
    if reference is not None:
        findings += _negative_transfer(curves, Curves.from_any(reference), skipped)
    findings.extend(extra_findings)
    problems = [f for f in findings if f.severity in ("error", "warning")]
    if not problems:
        findings.append(_healthy(view))
    findings.sort(key=finding_order)
    # The plot's chance line: the level the run was judged against (a collapse onto the
    # majority class is drawn at that class's share, not at a uniform 1/C).
    shown_chance = view.collapse_chance or view.chance
    if shown_chance is None and any(f.code == "not_learning" for f in findings):
        shown_chance = view.inferred_chance
    return DiagnosticsReport(
        findings=findings,
        curves=curves,
        chance=shown_chance,
        skipped_checks=skipped,
        probes=list(probes),
    )


def _reference(loss: Any, targets: Any, num_classes: int | None, class_prior: Any,
               skipped: list[str], multi_output: bool = False,
               label: str = "the run") -> tuple[ChanceLevel | None, bool]:
    """`(reference level, may a class count be inferred from the curves)`."""
    summary = None
    if targets is not None:
        try:
            summary = target_summary(targets)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"`targets`: {exc}") from None
    if loss is None:
        if multi_output and num_classes is None and class_prior is None:
            # The total of several outputs' losses has no single chance level.
            return None, False
        level = chance_level(num_classes, class_prior)
        if level is None and summary is not None and "class_counts" in summary and \
                len(summary["class_counts"]) >= 2:
            level = chance_level(class_prior=summary["class_counts"])
        return level, True
    kind = loss_kind(loss)
    level = reference_level(kind, num_classes=num_classes, class_prior=class_prior,
                            targets=summary)
    if level is None:
        why = ("give targets=... for its reference level" if kind in ("mse", "mae") else
               "its reference level is unknown")
        skipped.append(f"not_learning ({label}): loss {_loss_label(loss)!r}: {why}")
    return level, kind in ("classification", "binary")


def _checked_classes(num_classes: Any) -> dict[str, int] | None:
    """Validate `num_classes`; the per-output dict when one was given, else `None`."""
    from keras_bestpractice import _validation as v

    if isinstance(num_classes, Mapping):
        return {str(k): v.check_int(f"num_classes[{k!r}]", n, minimum=2, allow_none=True)
                for k, n in num_classes.items()}
    v.check_int("num_classes", num_classes, minimum=2, allow_none=True)
    return None


def _loss_label(loss: Any) -> str:
    return loss if isinstance(loss, str) else str(getattr(loss, "name", type(loss).__name__))


def _single_class(predicted: Any) -> tuple[int, int] | None:
    """`(class, count)` when every prediction in `predicted` is the same class (at least
    `MIN_PREDICTIONS` of them), else `None`."""
    if predicted is None:
        return None
    arr = np.asarray(predicted)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"`predicted_classes` must be a 1-D sequence of class ids, got shape "
                        f"{arr.shape} and dtype {arr.dtype}.")
    if arr.size < MIN_PREDICTIONS or np.unique(arr).size != 1:
        return None
    return int(arr[0]), int(arr.size)


# Fewer predictions than this say nothing about a collapse (a batch of 4 can be one
# class by chance).
MIN_PREDICTIONS = 16


def _curve_findings(curves: Curves, chance: ChanceLevel | None, infer: bool,
                    single_class: tuple[int, int] | None = None,
                    facts: ModelFacts | None = None) -> tuple[list[Finding], RunView]:
    view = RunView.build(curves, chance, infer=infer)
    view.single_class = single_class
    view.facts = facts
    findings: list[Finding] = []
    for spec in catalog.curve_specs():
        found = spec.detect(view)
        if found is not None:
            findings.append(make_finding(spec.code, *found))
    hidden = catalog.subsumed_by({f.code for f in findings})
    return [f for f in findings if f.code not in hidden], view


def output_names(curves: Curves) -> list[str]:
    """The outputs of a multi-output model, from its `<output>_loss` training curves."""
    names = []
    for key in curves.series:
        if key.endswith("_loss") and not key.startswith("val_") and key != "loss":
            names.append(key[: -len("_loss")])
    return sorted(names)


def output_curves(curves: Curves, name: str) -> Curves:
    """One output's curves under the plain names (`loss`, `val_loss`, `accuracy`, ...)."""
    prefix = f"{name}_"
    series = {}
    for key, values in curves.series.items():
        if key.startswith(prefix):
            series[key[len(prefix):]] = values
        elif key.startswith(f"val_{prefix}"):
            series["val_" + key[len(f"val_{prefix}"):]] = values
    return Curves(epochs=curves.epochs, series=series, notes=[])


def _for_output(finding: Finding, name: str) -> Finding:
    evidence = {"output": name, **finding.evidence}
    return Finding(code=finding.code, severity=finding.severity, epoch=finding.epoch,
                   message=f"Output `{name}`: {finding.message}",
                   suggestion=finding.suggestion, evidence=evidence, title=finding.title)


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


@finding_spec("negative_transfer", severity="warning", title="Negative transfer", rank=42,
              source="comparison")
class NegativeTransfer:
    @staticmethod
    def message(ev) -> str:
        return (f"The transferred model trails the same architecture trained from scratch: "
                f"best {ev['monitor']} {ev['transferred']:.4g} by epoch {ev['epoch']} against "
                f"{ev['reference']:.4g} from scratch ({ev['gap']:.4g} worse, more than the "
                f"margin {ev['margin']:g} since epoch {ev['since']}): the pretrained weights "
                "make this task worse.")

    @staticmethod
    def fix(ev) -> str:
        return ("Train from scratch, or initialise from your own (or closer) data with "
                "transfer.domain_transfer_init; if you keep the base, unfreeze more of it "
                "sooner (fine_tune with fewer head_epochs and a larger lr_factor) and check "
                "that the inputs get the base's own preprocessing.")


def _negative_transfer(curves: Curves, reference: Curves, skipped: list[str]) -> list[Finding]:
    """The `negative_transfer` finding of a transferred run against its from-scratch one."""
    from keras_bestpractice._core.history import place_by_epoch
    from keras_bestpractice._core.transfer import check_negative_transfer

    pairs = [(curves.val_accuracy_key, reference.val_accuracy_key),
             ("val_loss", "val_loss"), (curves.accuracy_key, reference.accuracy_key),
             ("loss", "loss")]
    for ours, theirs in pairs:
        a, b = curves.get(ours), reference.get(theirs)
        if a is None or b is None or not np.isfinite(a).any() or not np.isfinite(b).any():
            continue
        check = check_negative_transfer(place_by_epoch(curves.epochs, a),
                                        place_by_epoch(reference.epochs, b), monitor=ours)
        if check is None:
            return []
        return [make_finding("negative_transfer", check.epoch, check.to_evidence())]
    skipped.append("negative_transfer: the reference shares no curve with the run")
    return []


def _healthy(view: RunView) -> Finding:
    curves = view.curves
    evidence: dict[str, Any] = {"epochs": len(curves)}
    if curves.loss is not None and len(curves) and np.isfinite(curves.loss).any():
        evidence["final_loss"] = float(curves.loss[np.isfinite(curves.loss)][-1])
    if view.has_val():
        val = curves.val_loss
        best = first_best(val)  # as `converged` counts it
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
