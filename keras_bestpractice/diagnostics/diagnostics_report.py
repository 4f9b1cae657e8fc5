"""`DiagnosticsReport`: the findings of one run, as text, a table, a plot or HTML."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from keras_bestpractice.diagnostics.chance import ChanceLevel
from keras_bestpractice.diagnostics.curves import Curves
from keras_bestpractice.diagnostics.finding import Finding


@dataclass
class DiagnosticsReport:
    """The diagnosis of one training run.

    Attributes:
        findings: `Finding`s, most severe first (never empty).
        curves: the learning curves that were read.
        chance: the chance level used by the chance-based rules, if known.
        skipped_checks: checks that could not run, each with its reason.
        probes: per-epoch statistics from `TrainingDiagnostics` probes (gradient
            norms, dead-unit fractions, update/weight ratios), one dict per probe.
    """

    findings: list[Finding]
    curves: Curves
    chance: ChanceLevel | None = None
    skipped_checks: list[str] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.findings, list) or not self.findings or not all(
                isinstance(f, Finding) for f in self.findings):
            raise ValueError("`findings` must be a non-empty list of Finding (diagnose() always "
                             "returns at least one).")
        if not isinstance(self.curves, Curves):
            raise TypeError(f"`curves` must be a Curves, got {type(self.curves).__name__}.")

    @property
    def primary(self) -> Finding:
        """The most serious finding (`findings[0]`)."""
        return self.findings[0]

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def is_healthy(self) -> bool:
        return all(f.severity == "info" for f in self.findings)

    def get(self, code: str) -> Finding | None:
        """The finding with `code`, or `None`."""
        if not isinstance(code, str):
            raise TypeError(f"`code` must be a finding code (str), got {type(code).__name__}.")
        for finding in self.findings:
            if finding.code == code:
                return finding
        return None

    # ----------------------------------------------------------------- outputs
    def to_dataframe(self):
        """Findings as a pandas `DataFrame`, one row each: `epoch` is Keras's 0-based index,
        `epoch_number` the epoch as printed (`epoch + 1`), as in `Finding.to_dict()`."""
        import pandas as pd

        rows = []
        for f in self.findings:
            rows.append({
                "severity": f.severity,
                "code": f.code,
                "epoch": f.epoch,
                "epoch_number": f.epoch_number,
                "message": f.message,
                "suggestion": f.suggestion,
                "evidence": json.dumps(f.evidence, default=_json_default),
            })
        frame = pd.DataFrame(rows, columns=["severity", "code", "epoch", "epoch_number",
                                            "message", "suggestion", "evidence"])
        frame["epoch"] = frame["epoch"].astype("Int64")
        frame["epoch_number"] = frame["epoch_number"].astype("Int64")
        return frame

    def probe_frame(self):
        """Probe statistics as a pandas `DataFrame` (empty when there were none)."""
        import pandas as pd

        return pd.DataFrame(self.probes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary": self.primary.code,
            "findings": [f.to_dict() for f in self.findings],
            "chance": None if self.chance is None else self.chance.to_dict(),
            "skipped_checks": list(self.skipped_checks),
            "epochs": [int(e) for e in self.curves.epochs],
            "probes": self.probes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    def to_markdown(self) -> str:
        """A Markdown summary: primary finding, findings table, suggestions."""
        from keras_bestpractice.diagnostics import render

        return render.markdown(self)

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """A self-contained HTML page (plots embedded as PNG); written to `path` if given.

        The file is written atomically. Without matplotlib the page has no plot
        and says how to get one.
        """
        from keras_bestpractice import _validation as v
        from keras_bestpractice._atomic import atomic_write_text
        from keras_bestpractice.diagnostics import render

        path = v.check_file_path("path", path, allow_none=True)
        html = render.html(self)
        if path is not None:
            atomic_write_text(path, html)
        return html

    def plot(self, path: str | os.PathLike | None = None, dpi: int = 110):
        """Loss and accuracy curves, train vs validation, finding epochs marked.

        Returns the matplotlib `Figure`; writes a PNG to `path` (atomically) if given.
        Needs matplotlib (`pip install "keras-bestpractice[plots]"`).
        """
        from keras_bestpractice import _validation as v
        from keras_bestpractice._atomic import save_figure
        from keras_bestpractice.diagnostics import render

        path = v.check_file_path("path", path, allow_none=True)
        v.check_int("dpi", dpi, minimum=1)
        fig = render.figure(self, dpi=dpi)
        if path is not None:
            save_figure(fig, path)
        return fig

    def __str__(self) -> str:
        from keras_bestpractice.diagnostics import render

        return render.text(self)

    def __repr__(self) -> str:
        return (f"DiagnosticsReport(primary={self.primary.code!r}, "
                f"findings={self.codes!r}, epochs={len(self.curves)})")


def _json_default(obj: Any) -> Any:
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)
