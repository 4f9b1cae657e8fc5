"""Rendering of a `DiagnosticsReport`: plain text, Markdown, a figure and an HTML page."""

from __future__ import annotations

import base64
import html as _html
import io
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_bestpractice.diagnostics.finding import Finding

if TYPE_CHECKING:
    from keras_bestpractice.diagnostics.diagnostics_report import DiagnosticsReport

SEVERITY_COLOURS = {"error": "#c62828", "warning": "#ef6c00", "info": "#2e7d32"}
SEVERITY_ICONS = {"error": "✖", "warning": "▲", "info": "✔"}


def _epoch1(f: Finding) -> str:
    return "" if f.epoch is None else str(f.epoch + 1)


def _subtitle(report: DiagnosticsReport) -> str:
    n = len(report.curves)
    parts = [f"{n} epoch{'s' if n != 1 else ''}"]
    chance = report.chance
    if chance is not None and chance.num_classes:
        how = " (inferred)" if chance.source == "inferred" else ""
        # A sigmoid output counts its labels, not classes ("1 classes" read as nonsense).
        what = {"binary": "binary", "multilabel": f"{chance.num_classes} labels"}.get(
            chance.kind, f"{chance.num_classes} classes")
        parts.append(f"{what}{how}, chance loss {chance.loss:.3f}")
    return ", ".join(parts)


# ------------------------------------------------------------------------ text
def text(report: DiagnosticsReport) -> str:
    lines = [f"Training diagnostics ({_subtitle(report)})"]
    p = report.primary
    where = f" at epoch {p.epoch + 1}" if p.epoch is not None else ""
    lines.append(f"  PRIMARY [{p.severity}] {p.code}{where}: {p.message}")
    label = "Fix" if p.severity != "info" else "Tip"
    lines.append(f"          {label}: {p.suggestion}")
    others = report.findings[1:]
    if others:
        lines.append("  Other findings:")
        for f in others:
            where = f" (epoch {f.epoch + 1})" if f.epoch is not None else ""
            lines.append(f"    [{f.severity}] {f.code}{where}: {f.message}")
    if report.skipped_checks:
        lines.append("  Skipped checks: " + "; ".join(report.skipped_checks))
    return "\n".join(lines)


# -------------------------------------------------------------------- markdown
def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(report: DiagnosticsReport) -> str:
    p = report.primary
    out = [
        "# Training diagnostics",
        "",
        f"_{_subtitle(report)}_",
        "",
        f"**Primary finding: {p.title}** (`{p.code}`, {p.severity}"
        + (f", epoch {p.epoch + 1}" if p.epoch is not None else "") + ")",
        "",
        f"{p.message}",
        "",
        f"**Fix:** {p.suggestion}",
        "",
        "| severity | finding | epoch | what | fix |",
        "|---|---|---|---|---|",
    ]
    for f in report.findings:
        out.append(
            f"| {f.severity} | `{f.code}` | {_epoch1(f)} | {_md_cell(f.message)} | "
            f"{_md_cell(f.suggestion)} |"
        )
    out += ["", "<details><summary>Evidence</summary>", ""]
    for f in report.findings:
        out.append(f"- `{f.code}`: `{json.dumps(f.evidence, default=str)}`")
    out += ["", "</details>"]
    if report.skipped_checks:
        out += ["", "Skipped checks:", ""]
        out += [f"- {s}" for s in report.skipped_checks]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- figure
def figure(report: DiagnosticsReport, dpi: int = 110):
    from keras_bestpractice._optional import new_figure

    curves = report.curves
    x = curves.epochs.astype(float) + 1.0  # Keras counts epochs from 1 on screen
    has_acc = curves.accuracy is not None or curves.val_accuracy is not None
    fig = new_figure(figsize=(11.0 if has_acc else 6.5, 4.8), dpi=dpi)
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    _panel(axes[0], x, curves.loss, curves.val_loss, "loss", report, log_if_wide=True)
    axes[0].set_title("Loss")
    if has_acc:
        _panel(axes[1], x, curves.accuracy, curves.val_accuracy, "accuracy", report)
        axes[1].set_title("Accuracy")
        if report.chance is not None and report.chance.accuracy is not None:
            axes[1].axhline(report.chance.accuracy, color="#888888", lw=1, ls=":",
                            label=f"chance ({report.chance.accuracy:.2f})")
    if report.chance is not None:
        label = "predict the typical target" if report.chance.kind == "regression" else "chance"
        axes[0].axhline(report.chance.loss, color="#888888", lw=1, ls=":",
                        label=f"{label} ({report.chance.loss:.3g})")
    from keras_bestpractice._plotting import legend_outside

    for ax in axes:
        legend_outside(ax)
    p = report.primary
    where = f" at epoch {p.epoch + 1}" if p.epoch is not None else ""
    fig.suptitle(f"{SEVERITY_ICONS[p.severity]} {p.title}{where}",
                 color=SEVERITY_COLOURS[p.severity], fontsize=13, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    from keras_bestpractice._plotting import settle_labels

    settle_labels(fig)
    return fig


def _panel(ax, x, train, val, name, report, log_if_wide=False):
    finite_all = []
    for series, label, style in ((train, f"train {name}", "-"), (val, f"val {name}", "--")):
        if series is None:
            continue
        mask = np.isfinite(series)
        if not mask.any() and not np.isnan(series).all():
            continue
        ax.plot(x[mask], series[mask], style, marker="o", ms=3, lw=1.6, label=label)
        finite_all.append(series[mask])
        bad = ~mask & ~np.isnan(series) | (np.isnan(series) & _after_start(series))
        if name == "loss" and bad.any():
            ax.plot(x[bad], np.zeros(int(bad.sum())), "x", color=SEVERITY_COLOURS["error"],
                    ms=9, mew=2, label=f"{label}: NaN/Inf", transform=ax.get_xaxis_transform())
    from keras_bestpractice._plotting import epoch_marks, integer_epochs, readable_log

    if finite_all:
        values = np.concatenate(finite_all)
        positive = values[values > 0]
        if log_if_wide and positive.size and positive.max() / max(positive.min(), 1e-12) > 50:
            readable_log(ax, "y")
    if name == "loss" and val is not None and np.isfinite(val).any():
        best = int(np.nanargmin(val))
        ax.plot([x[best]], [val[best]], "*", color="#6a1b9a", ms=13, zorder=5,
                label=f"best val (epoch {int(x[best])})")
    marks = []
    for f in report.findings:  # most severe first: its colour wins at a shared epoch
        if f.epoch is None or f.severity == "info":
            continue
        pos = np.where(report.curves.epochs == f.epoch)[0]
        if pos.size:
            marks.append((x[int(pos[0])], f.code, SEVERITY_COLOURS[f.severity]))
    integer_epochs(ax)
    epoch_marks(ax, marks)
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)


def _after_start(series: np.ndarray) -> np.ndarray:
    """NaN after the first finite value (a real NaN, not a missing validation)."""
    out = np.zeros(series.shape, dtype=bool)
    finite = np.where(np.isfinite(series))[0]
    if finite.size and np.isnan(series[finite[-1] + 1 :]).all() and finite[-1] + 1 < series.size:
        out[finite[-1] + 1 :] = True
    return out


def figure_png_base64(report: DiagnosticsReport) -> str | None:
    try:
        fig = figure(report)
    except ImportError:
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ------------------------------------------------------------------------ html
_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#212121;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.primary{border-left:8px solid var(--c);background:#fafafa;padding:1rem 1.2rem;margin:1.2rem 0;
border-radius:4px}
.primary h2{margin:.1rem 0 .5rem;color:var(--c)}.fix{background:#e8f5e9;padding:.5rem .8rem;
border-radius:4px}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.92rem}
th,td{border-bottom:1px solid #e0e0e0;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.badge{color:#fff;border-radius:3px;padding:1px 7px;font-size:.8rem;
white-space:nowrap}
code{background:#f1f1f1;padding:0 3px;border-radius:3px;overflow-wrap:anywhere}
code.name{overflow-wrap:normal}
img{max-width:100%;height:auto}
details{margin:.3rem 0}pre{background:#f6f6f6;padding:.6rem;overflow:auto;font-size:.82rem;
white-space:pre-wrap;overflow-wrap:anywhere}
.muted{color:#777;font-size:.85rem}.scroll{overflow-x:auto;max-width:100%}
@media (max-width:600px){body{margin:.8rem auto;padding:0 .6rem}h1{font-size:1.5rem}
.primary{padding:.7rem .8rem}table.findings,table.findings tbody,table.findings tr,
table.findings td{display:block;width:auto}table.findings tr:first-child{display:none}
table.findings tr{border-bottom:2px solid #e0e0e0;padding:.3rem 0}
table.findings td{border:0;padding:.15rem .2rem}}
"""


def _esc(s: Any) -> str:
    return _html.escape(str(s))


def _badge(severity: str) -> str:
    return (f'<span class="badge" style="background:{SEVERITY_COLOURS[severity]}">'
            f"{SEVERITY_ICONS[severity]} {severity}</span>")


def _name_html(code: str) -> str:
    """A finding code that breaks only after its underscores (`not_<wbr>learning`)."""
    return f"<code class='name'>{_esc(code).replace('_', '_<wbr>')}</code>"


def _code_html(s: str) -> str:
    """Escape, then show `backticked` spans as code."""
    parts = _esc(s).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def html(report: DiagnosticsReport) -> str:
    from keras_bestpractice import __version__

    p = report.primary
    where = f" &middot; epoch {p.epoch + 1}" if p.epoch is not None else ""
    png = figure_png_base64(report)
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Training diagnostics: {_esc(p.title)}</title><style>{_CSS}</style></head><body>",
        "<h1>Training diagnostics</h1>",
        f"<p class='sub'>{_esc(_subtitle(report))}</p>",
        f"<div class='primary' style='--c:{SEVERITY_COLOURS[p.severity]}'>",
        f"<div>{_badge(p.severity)} <code>{_esc(p.code)}</code>{where}</div>",
        f"<h2>{_esc(p.title)}</h2><p>{_code_html(p.message)}</p>",
        f"<p class='fix'><b>Fix:</b> {_code_html(p.suggestion)}</p></div>",
    ]
    if png:
        out.append(f"<img alt='learning curves' src='data:image/png;base64,{png}'>")
    else:
        out.append("<p class='muted'>Install matplotlib for the learning-curve plot: "
                   "<code>pip install \"keras-bestpractice[plots]\"</code></p>")
    out.append("<h3>All findings</h3><table class='findings'><tr><th>severity</th>"
               "<th>finding</th><th>epoch</th><th>what</th><th>fix</th></tr>")
    for f in report.findings:
        evidence = _esc(json.dumps(f.evidence, indent=1, default=str))
        out.append(
            f"<tr><td>{_badge(f.severity)}</td><td><b>{_esc(f.title)}</b><br>"
            f"{_name_html(f.code)}</td><td>{_epoch_cell(f)}</td>"
            f"<td>{_code_html(f.message)}<details><summary class='muted'>evidence</summary>"
            f"<pre>{evidence}</pre></details></td><td>{_code_html(f.suggestion)}</td></tr>"
        )
    out.append("</table>")
    if report.probes:
        out.append("<h3>Probes</h3>" + _table(report.probes))
    out.append("<details><summary>Per-epoch values</summary>" + _curves_table(report) +
               "</details>")
    if report.skipped_checks:
        out.append("<h3>Skipped checks</h3><ul>")
        out += [f"<li>{_code_html(s)}</li>" for s in report.skipped_checks]
        out.append("</ul>")
    if report.curves.notes:
        out.append("<p class='muted'>" + "<br>".join(_esc(n) for n in report.curves.notes) +
                   "</p>")
    out.append(f"<p class='muted'>keras-bestpractice {_esc(__version__)}. Epochs are shown "
               "1-based, as in Keras's progress bar.</p></body></html>")
    return "\n".join(out)


def _epoch_cell(f: Finding) -> str:
    text = _epoch1(f)
    return f"<span class='muted'>epoch </span>{text}" if text and text != "-" else text


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    return _esc(v)


def _table(rows: list[dict]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows
    )
    return f"<div class='scroll'><table><tr>{head}</tr>{body}</table></div>"


def _curves_table(report: DiagnosticsReport) -> str:
    curves = report.curves
    rows = []
    for i, e in enumerate(curves.epochs):
        row: dict[str, Any] = {"epoch": int(e) + 1}
        for k, v in curves.series.items():
            row[k] = float(v[i])
        rows.append(row)
    return _table(rows)
