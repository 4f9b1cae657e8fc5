"""Axis helpers shared by every plot of the package (matplotlib, imported lazily).

- `integer_epochs`: epoch axes tick at whole epochs only, as Keras counts them;
- `readable_log`: log axes labelled with plain numbers (0.01, 0.1, 1, 10 ... and 2, 5
  in between when a decade is all there is), never "2x10^0";
- `epoch_marks` / `settle_labels`: vertical lines at epochs with one label per epoch
  (codes found at the same epoch are joined), labels moved until none overlaps another;
- `legend_outside`: a legend that never covers the curves.
"""

from __future__ import annotations

from collections.abc import Iterable


def _plain(value: float, _pos=None) -> str:
    if value == 0:
        return "0"
    text = f"{value:.6g}"
    return text if "e" not in text else f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")


def integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def readable_log(ax, axis: str = "y") -> None:
    """Log scale on `axis` with decade ticks labelled as plain numbers; with less than
    a decade of range, 2 and 5 multiples too (labelled alike)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    if axis == "y":
        ax.set_yscale("log")
        low, high = ax.get_ylim()
    else:
        ax.set_xscale("log")
        low, high = ax.get_xlim()
    narrow = low > 0 and high / low < 30
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
    target.set_major_formatter(FuncFormatter(_plain))
    target.set_minor_formatter(NullFormatter())


def epoch_marks(ax, marks: Iterable[tuple[float, str, str]], fontsize: int = 8) -> None:
    """`marks`: `(x, label, colour)`. One dotted line per x, one label per x (labels at
    the same x are joined). Call `settle_labels(fig)` once the layout is final: it moves
    labels that would overlap."""
    by_x: dict[float, tuple[list[str], str]] = {}
    for x, label, colour in marks:
        labels, _ = by_x.setdefault(float(x), ([], colour))
        if label not in labels:
            labels.append(label)
    for x in sorted(by_x):
        labels, colour = by_x[x]
        ax.axvline(x, color=colour, lw=1.2, ls=":", alpha=0.9)
        text = ax.text(x, _TOP, " " + ", ".join(labels) + " ", color=colour, fontsize=fontsize,
                       rotation=90, va="top", ha="right", transform=ax.get_xaxis_transform(),
                       bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none",
                             "pad": 0.5})
        text.set_gid(_MARK)


_MARK = "keras_bestpractice.epoch_mark"
_TOP = 0.98


def settle_labels(fig) -> None:
    """Place every `epoch_marks` label so that none overlaps another: each goes left of
    its line at the top, else lower down, else right of its line. Measured with the
    figure's renderer, so call it after `tight_layout`."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        texts = sorted((t for t in ax.texts if t.get_gid() == _MARK),
                       key=lambda t: t.get_position()[0])
        placed = []
        to_axes = ax.transAxes.inverted()
        for text in texts:
            box = _place(text, placed, renderer, to_axes)
            placed.append(box)


def _place(text, placed, renderer, to_axes):
    first = None
    for side in ("right", "left"):
        text.set_ha(side)
        y = _TOP
        while True:
            text.set_y(y)
            box = text.get_window_extent(renderer)
            if first is None:
                first = (side, y)
            clash = [b for b in placed if b.overlaps(box)]
            if not clash:
                return box
            below = min(b.y0 for b in clash) - 2.0  # 2 px under the lowest clash
            y = float(to_axes.transform((0.0, below))[1])
            bottom = float(to_axes.transform((0.0, below - box.height))[1])
            if bottom < 0.0:
                break  # no room on this side
    side, y = first  # nowhere free: the first place (a shared line is still readable)
    text.set_ha(side)
    text.set_y(y)
    return text.get_window_extent(renderer)


def legend_outside(ax, fontsize: int = 8, title: str | None = None) -> None:
    """The legend below the axes, in as many columns as fit: it never covers a curve."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(handles, labels, fontsize=fontsize, title=title, title_fontsize=fontsize,
              loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(len(labels), 3),
              frameon=False)
