"""`plan_epochs`: from a short pretraining run, the epochs needed to meet a target.

Pure NumPy (no Keras): the learning-curve projection of `_core/projection.py`,
the same one `TrainingObjective` and the tuner's `pruner="curve"` use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keras_bestpractice import _validation as v
from keras_bestpractice._core.objective import (
    ceiling_evidence,
    check_modes,
    check_target,
    first_epoch_meeting,
    training_learns,
)
from keras_bestpractice._core.projection import MIN_POINTS, Projection, project


@dataclass(frozen=True)
class EpochPlan:
    """The planned epoch budget for a set of targets.

    Attributes:
        targets: `{metric: value}`.
        max_epochs: the budget the plan was made against.
        epochs_needed: median projected epoch (1-based, as Keras prints) at which
            every target is met; `inf` when the fitted curves never get there;
            the epoch itself when the run already met them.
        interval: its central interval at `confidence`.
        probability: that every target is met by `max_epochs` (the smallest of
            the targets' probabilities).
        verdict: a sentence for people.
        projections: each target's `Projection`.
    """

    targets: dict[str, float]
    max_epochs: int
    epochs_needed: float
    interval: tuple[float, float]
    probability: float
    verdict: str
    projections: dict[str, Projection]

    def __str__(self) -> str:
        return self.verdict


def plan_epochs(history: Any, target: Mapping[str, float] | tuple[str, float],
                max_epochs: int, confidence: float = 0.9, mode: Any = "auto") -> EpochPlan:
    """Project a short run's curves to plan the epochs that meet `target`.

    Args:
        history: a Keras `History`, its `.history` dict, a `CSVLogger` file, a
            JSON history or a DataFrame (as `diagnose()` reads them).
        target: `{metric: value}` (or `(metric, value)`), e.g. `{"val_accuracy": 0.95}`.
        max_epochs: the epoch budget to judge against (>= 1).
        confidence: the interval's coverage, in (0.5, 1). Defaults to `0.9`.
        mode: `"auto"`, `"min"`, `"max"` or a dict per metric. Defaults to `"auto"`.

    Returns:
        An `EpochPlan`; `str(plan)` is its verdict.

    Raises:
        ValueError: for a metric not in the history, fewer than 4 epochs of it,
            or bad arguments.

    Example:

    ```python
    short = model.fit(x, y, validation_split=0.2, epochs=6)
    plan = plan_epochs(short, {"val_accuracy": 0.95}, max_epochs=60)
    print(plan)   # "val_accuracy 0.95: about 23 epochs (17-35), 96% within 60 epochs: ..."
    ```
    """
    from keras_bestpractice.diagnostics.curves import Curves

    if isinstance(target, tuple) and len(target) == 2:
        target = {target[0]: target[1]}
    targets = check_target(target)
    max_epochs = v.check_int("max_epochs", max_epochs, minimum=1)
    confidence = v.check_float("confidence", confidence, low=0.5, high=1.0,
                               low_inclusive=False, high_inclusive=False)
    modes = check_modes(mode, targets, who="plan_epochs")
    curves = Curves.from_any(history)
    series: dict[str, list[float]] = {}
    for key in targets:
        values = curves.get(key)
        if values is None:
            raise ValueError(f"`history` has no {key!r}; it has {sorted(curves.series)}.")
        finite = [float(x) for x in values if math.isfinite(float(x))]
        if len(finite) < MIN_POINTS:
            raise ValueError(f"{key!r} has {len(finite)} finite epochs; plan_epochs needs "
                             f"at least {MIN_POINTS} to fit a curve.")
        series[key] = [float(x) for x in values]
    done = first_epoch_meeting(series, targets, modes)
    everything = {k: [float(x) for x in v] for k, v in curves.series.items()}
    projections = {k: project(series[k], modes[k], t, max_epochs, confidence,
                              ceiling_seen=training_learns(everything, k, modes[k]))
                   for k, t in targets.items()}
    if done is not None:
        verdict = f"every target already met at epoch {done}"
        return EpochPlan(targets, max_epochs, float(done), (float(done), float(done)), 1.0,
                         verdict, projections)
    # Out of reach when one target's curve is short of it and at its ceiling (as
    # `TrainingObjective` stops), whatever the others do; a short curve that never moved,
    # or one too flat to fit, may be a late start.
    fitted = {k: p for k, p in projections.items() if p is not None}
    short = [k for k, p in fitted.items() if p.probability < 1 - confidence]
    evidence = {k: ceiling_evidence(everything, k, targets[k], modes[k], budget=max_epochs)
                for k in short}
    capped = {k: e for k, e in evidence.items() if e}
    seen = len(next(iter(series.values())))
    unfit = sorted(k for k, p in projections.items() if p is None)
    if unfit and not capped:
        # Flat so far (a late starter sits at chance for a while): nothing to project
        # yet, and certainly no verdict that the target is out of reach.
        verdict = (f"uncertain: {', '.join(unfit)} has not improved beyond its epoch-to-epoch "
                   f"noise in {seen} epochs, so no curve can be projected yet; train a few "
                   "more epochs and plan again (a run that starts late is common)")
        return EpochPlan(targets, max_epochs, math.nan, (math.nan, math.nan), math.nan,
                         verdict, projections)
    needed = max(p.expected_epoch for p in fitted.values())
    low = max(p.interval[0] for p in fitted.values())
    high = max(p.interval[1] for p in fitted.values())
    probability = min(p.probability for p in fitted.values())
    names = ", ".join(f"{k} {t:.4g}" for k, t in targets.items() if k in fitted)
    upper = "beyond the fitted range" if math.isinf(high) else str(int(high))
    when = ("the median curve does not get there" if math.isinf(needed)
            else f"about {int(needed)} epochs ({int(low)}-{upper})")
    verdict = f"{names}: {when}, {probability:.0%} within {max_epochs} epochs"
    if capped:
        verdict += (": out of reach in this budget; change the model, the data or the "
                    "learning rate rather than training longer (at a ceiling: "
                    + "; ".join(f"{k}: {e}" for k, e in capped.items()) + ")")
    elif short:
        flat = ", ".join(k for k, e in evidence.items() if e is None)
        verdict += (f": uncertain; nothing shows {flat} at a ceiling yet (a late start, "
                    "or training still climbing toward the target, looks like this); train "
                    "a few more epochs and plan again")
    elif probability >= confidence and not math.isinf(needed):
        plan = max_epochs if math.isinf(high) else int(min(high, max_epochs))
        verdict += f": plan {plan} epochs"
    else:
        verdict += ": uncertain; train a few more epochs and plan again"
    verdict += f" (projected from {seen} epochs)"
    return EpochPlan(targets, max_epochs, float(needed), (float(low), float(high)),
                     float(probability), verdict, projections)

