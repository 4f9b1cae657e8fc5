"""Lazy imports of optional dependencies, with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

_EXTRAS = {
    "matplotlib": "plots",
    "sklearn": "examples",
    "PIL": "examples",
}


def import_optional(module: str, feature: str) -> ModuleType:
    """Import `module` or raise an `ImportError` that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top)
        hint = (
            f'pip install "keras-bestpractice[{extra}]"' if extra else f"pip install {top}"
        )
        raise ImportError(f"{feature} needs the optional dependency `{top}`: {hint}") from exc


def new_figure(figsize: tuple[float, float] = (10.0, 4.0), dpi: int = 100):
    """Return a matplotlib `Figure` that is not attached to pyplot.

    Using the object-oriented API with the Agg canvas leaves the user's pyplot
    backend (a notebook, a GUI) untouched and works on machines without a display.
    """
    import_optional("matplotlib", "Plotting")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig
