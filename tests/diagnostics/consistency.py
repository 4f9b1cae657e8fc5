"""The consistency check run on every `DiagnosticsReport` the test suite builds.

A report must never contradict the curves it was read from (issue #14). Each rule
below reads a finding's evidence and message against the curves themselves:

- every epoch a message cites is an epoch of the run, numbered as Keras prints it;
  a finding's own epoch is one of the run's epochs;
- "since epoch E" (`not_learning`, blown-up `diverging`) cites an epoch before the
  last, and from E on the loss stays at the level the message cites;
- "has not improved since E" / "lowest at epoch E" (`overfitting`) implies a later
  epoch with a worse validation loss;
- no fix says to raise the learning rate when any loss exceeds its first value by an
  order of magnitude, or next to a `diverging`/`nan_loss` finding.

`tests/conftest.py` installs it on `DiagnosticsReport`, so a violation fails the
test that built the report.
"""

from __future__ import annotations

import re

import numpy as np

EPOCH_RE = re.compile(r"\bepochs? (\d+)\b")
RAISE_LR = re.compile(r"raise the learning rate|multiply the learning rate", re.IGNORECASE)


def _curves_for(report, finding):
    from keras_bestpractice.diagnostics.diagnosis import output_curves

    name = finding.evidence.get("output") if isinstance(finding.evidence, dict) else None
    return output_curves(report.curves, name) if name else report.curves


def problems(report) -> list[str]:
    """Every contradiction between `report`'s findings and its curves (empty: none)."""
    out: list[str] = []
    curves = report.curves
    numbers = {int(e) + 1 for e in curves.epochs}
    codes = {f.code for f in report.findings}
    for f in report.findings:
        if f.code == "healthy" and len(report.findings) == 1 and len(curves) == 0:
            continue
        ev = f.evidence if isinstance(f.evidence, dict) else {}
        where = f"{f.code}: {f.message!r}"
        if f.epoch is not None and numbers and f.epoch + 1 not in numbers:
            out.append(f"{where}: its epoch {f.epoch + 1} is not an epoch of the run")
        for cited in EPOCH_RE.findall(f.message):
            if numbers and int(cited) > max(numbers):
                out.append(f"{where}: cites epoch {cited}, the run ends at {max(numbers)}")
        sub = _curves_for(report, f)
        loss = sub.loss
        last = max(numbers) if numbers else None
        if f.code == "not_learning" and "stuck_since_epoch" in ev and loss is not None:
            since = int(ev["stuck_since_epoch"])
            if last is not None and since >= last and len(curves) > 1:
                out.append(f"{where}: 'since epoch {since}' is the last epoch")
            start = since - (min(numbers) if numbers else 1)
            tail = float(ev["tail_loss"])
            stretch = loss[max(0, start):]
            stretch = stretch[np.isfinite(stretch)]
            if "between" in f.message:  # "stays between A and B": the stretch's range
                low, high = float(ev["stuck_min"]), float(ev["stuck_max"])
                if stretch.size and (abs(stretch.min() - low) > 1e-5 * max(1, abs(low)) or
                                     abs(stretch.max() - high) > 1e-5 * max(1, abs(high))):
                    out.append(f"{where}: from epoch {since} the loss spans "
                               f"{stretch.min():.4g}-{stretch.max():.4g}")
            else:
                band = max(0.10 * tail, 0.05 * float(ev.get("chance_loss") or tail)) + 1e-9
                if stretch.size and np.any(np.abs(stretch - tail) > band * 1.0001):
                    out.append(f"{where}: from epoch {since} the loss is not at {tail:.4g} "
                               f"({stretch.round(4).tolist()})")
        if f.code == "diverging" and ev.get("kind") == "blown_up" and loss is not None:
            since = int(ev["since_epoch"])
            start = since - (min(numbers) if numbers else 1)
            level = ev["factor"] * ev["reference_loss"]
            stretch = loss[max(0, start):]
            if np.any(stretch[np.isfinite(stretch)] < level):
                out.append(f"{where}: from epoch {since} the loss is not all above {level:.4g}")
        if f.code == "overfitting" and sub.val_loss is not None:
            best = int(ev["best_epoch"])
            position = best - (min(numbers) if numbers else 1)
            later = sub.val_loss[position + 1:]
            later = later[np.isfinite(later)]
            if later.size == 0 or not np.any(later > sub.val_loss[position]):
                out.append(f"{where}: no later epoch is worse than epoch {best}")
        if RAISE_LR.search(f.suggestion or ""):
            finite = loss[np.isfinite(loss)] if loss is not None else np.array([])
            if finite.size and finite[0] > 0 and np.any(finite >= 10.0 * finite[0]):
                out.append(f"{where}: advises a higher learning rate although the loss rose "
                           "tenfold above its first value")
            if codes & {"diverging", "nan_loss"}:
                out.append(f"{where}: advises a higher learning rate next to "
                           f"{sorted(codes & {'diverging', 'nan_loss'})}")
    return out


def install(report_class) -> None:
    """Check every report `report_class` builds, from now on."""
    original = report_class.__post_init__
    if getattr(original, "_consistency_checked", False):
        return

    def checked(self):
        original(self)
        found = problems(self)
        assert not found, "inconsistent diagnostics report:\n  " + "\n  ".join(found)

    checked._consistency_checked = True
    report_class.__post_init__ = checked
