"""Shared figure plumbing: an Agg figure outside pyplot, the source label, colour norms, PNG bytes.

Figures are `matplotlib.figure.Figure` objects drawn on an Agg canvas, never pyplot: no global state, no
display, safe to call from a Dagster step or a thread.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where a figure is made: importing this module does not load matplotlib
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

DPI = 90
MAX_PNG_BYTES = 150_000
MISSING_FACE = "#ececec"
MISSING_HATCH_COLOR = "#a8a8a8"
SYNTHETIC_RED = "#b00020"


def new_figure(width_in: float, height_in: float, *, layout: str | None = None) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure, *, dpi: int = DPI, max_bytes: int = MAX_PNG_BYTES) -> bytes:
    """The figure as PNG bytes, exactly figsize x dpi pixels, without the matplotlib version stamp.

    Full colour when it fits in `max_bytes`; otherwise re-encoded with a 256-colour palette (about 3x
    smaller; the only visible cost is slight banding inside colour bars), so a picture embedded in Dagster
    metadata stays small whatever the data.
    """
    from PIL import Image  # a dependency of matplotlib itself

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    if buffer.tell() <= max_bytes:
        return buffer.getvalue()
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    smaller = io.BytesIO()
    palette.save(smaller, format="PNG", optimize=True)
    return smaller.getvalue()


def is_synthetic(source: str | None) -> bool:
    return bool(source) and "synthetic" in source.lower()


def source_text(source: str | None) -> str:
    """What to print under a title: synthetic data is named as such in capitals, every time."""
    if is_synthetic(source):
        return "SYNTHETIC DATA - seeded synthetic market, not real prices"
    return f"data source: {source}" if source else "data source: unknown"


TITLE_HEIGHT_IN = 0.95   # title, source line and subtitle: reserve this much at the top of every figure


def add_title(figure: Figure, title: str, subtitle: str, source: str | None) -> None:
    """Three lines at the top: title (with the date), the data source (a red badge for synthetic data),
    and what the picture shows and where from."""
    h = figure.get_figheight()
    figure.text(0.01, 1 - 0.08 / h, title, ha="left", va="top", fontsize=13, fontweight="bold")
    synthetic = is_synthetic(source)
    figure.text(0.01, 1 - 0.40 / h, source_text(source), ha="left", va="top", fontsize=9.5,
                fontweight="bold" if synthetic else "normal", color=SYNTHETIC_RED if synthetic else "#333333",
                bbox=dict(boxstyle="round,pad=0.25", facecolor="#fde8ec", edgecolor=SYNTHETIC_RED)
                if synthetic else None)
    figure.text(0.01, 1 - 0.67 / h, subtitle, ha="left", va="top", fontsize=9, color="#333333")


def symmetric_limit(values: np.ndarray, center: float = 0.0, *, quantile: float = 1.0) -> float:
    """Half-width of a colour range centred on `center` that covers |values - center| up to `quantile`.

    Never 0 (an all-zero column would make a degenerate norm): falls back to 1.
    """
    finite = np.abs(np.asarray(values, dtype=float) - center)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 1.0
    half = float(np.quantile(finite, quantile)) if quantile < 1 else float(finite.max())
    return half if half > 0 else 1.0


def centered_norm(values: np.ndarray, center: float = 0.0, *, quantile: float = 1.0) -> TwoSlopeNorm:
    """A diverging norm with `center` in the middle and symmetric limits: vmin - center = -(vmax - center)."""
    from matplotlib.colors import TwoSlopeNorm

    half = symmetric_limit(values, center, quantile=quantile)
    return TwoSlopeNorm(vcenter=center, vmin=center - half, vmax=center + half)


def text_color(rgba: tuple[float, float, float, float]) -> str:
    """Black on light cells, white on dark ones (relative luminance)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "white"
