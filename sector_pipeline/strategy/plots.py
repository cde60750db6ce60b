"""Equity curves and drawdowns of the backtested books as a PNG (matplotlib Agg, no pyplot, no display).

`draw_equity_drawdown` draws two stacked panels (equity on a log scale, drawdown in percent below it) into a
figure; the report adds its title and source label around it (report/charts.py), and `equity_curves_png`
makes a small stand-alone picture of strategy.backtest rows, e.g. for an asset's metadata. matplotlib is
imported when a picture is drawn, never when this module is imported.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Sequence

import polars as pl

from sector_pipeline.strategy.config import BENCHMARK, STRATEGIES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# One colour per book, the benchmark in black: the same in every picture of the report.
BOOK_COLORS = {"model": "#1f77b4", "composite": "#ff7f0e", "momentum_top3": "#2ca02c", "equal_weight": "#9467bd",
               BENCHMARK: "#000000"}


def _thinned(curve: pl.DataFrame, points: int) -> pl.DataFrame:
    """At most ~`points` rows (every k-th and the last): a line needs no more points than pixel columns."""
    every = max(1, curve.height // points)
    index = pl.int_range(pl.len())
    return curve.filter((index % every == 0) | (index == pl.len() - 1))


def draw_equity_drawdown(figure: Figure, rect: Sequence[float], curves: pl.DataFrame, *,
                         books: Sequence[str] = STRATEGIES, max_points: int = 800) -> None:
    """Equity (log scale, top 70 %) and drawdown in % (bottom 30 %) of each book, inside `rect` of `figure`.

    `curves`: rows (date, book, equity, drawdown_pct), e.g. marts.backtest.
    """
    left, bottom, width, height = rect
    equity_ax = figure.add_axes([left, bottom + 0.34 * height, width, 0.66 * height])
    drawdown_ax = figure.add_axes([left, bottom, width, 0.3 * height], sharex=equity_ax)
    for name in books:
        curve = _thinned(curves.filter(pl.col("book") == name).sort("date"), max_points)
        if curve.is_empty():
            continue
        dates = curve.get_column("date").to_list()
        style = {"color": BOOK_COLORS.get(name), "linewidth": 1.6 if name == BENCHMARK else 1.1}
        equity_ax.plot(dates, curve.get_column("equity").to_list(), label=name, **style)
        drawdown_ax.plot(dates, curve.get_column("drawdown_pct").to_list(), **style)
    equity = curves.get_column("equity").drop_nulls() if curves.height else pl.Series([1.0])
    if equity.len() and equity.min() > 0 and equity.max() / equity.min() > 3:
        # decades of compounding: a log scale, so equal percentage moves look equal
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        equity_ax.set_yscale("log")
        equity_ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        equity_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        equity_ax.yaxis.set_minor_formatter(NullFormatter())
        equity_ax.set_ylabel("equity (1.0 at the start, log scale)", fontsize=8.5)
    else:
        equity_ax.set_ylabel("equity (1.0 at the start)", fontsize=8.5)
    equity_ax.axhline(1.0, color="#999999", linewidth=0.6)
    drawdown_ax.set_ylabel("drawdown, %", fontsize=8.5)
    drawdown_ax.axhline(0.0, color="#999999", linewidth=0.6)
    for ax in (equity_ax, drawdown_ax):
        ax.grid(True, linewidth=0.3)
        ax.tick_params(labelsize=8)
    equity_ax.tick_params(labelbottom=False)
    if equity_ax.lines:
        equity_ax.legend(fontsize=8, loc="upper left", frameon=False, ncol=len(books))
    else:
        equity_ax.text(0.5, 0.5, "no backtest yet: the model trains after about a year of history",
                       transform=equity_ax.transAxes, ha="center", va="center", fontsize=10, style="italic")


def equity_curves_png(backtest: pl.DataFrame, *, width_px: int = 600, height_px: int = 360, dpi: int = 80) -> bytes:
    """A width_px x height_px PNG of strategy.backtest rows (date, strategy, equity[, drawdown as a fraction]).

    Without a drawdown column (e.g. week-end points only) the drawdown is computed from the points given, so it
    is that of the sampled curve.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    drawdown = (pl.col("drawdown") if "drawdown" in backtest.columns
                else pl.col("equity") / pl.col("equity").cum_max().over("strategy", order_by="date") - 1)
    curves = backtest.select("date", pl.col("strategy").alias("book"), "equity", (100 * drawdown).alias("drawdown_pct"))
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    draw_equity_drawdown(figure, [0.11, 0.08, 0.86, 0.88], curves, max_points=width_px)
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=dpi)
    # A 64-colour palette PNG is ~4x smaller than matplotlib's RGBA one and looks the same for line charts;
    # the picture is stored in the event log of every materialization that shows it.
    rendered.seek(0)
    small = io.BytesIO()
    Image.open(rendered).convert("RGB").quantize(colors=64).save(small, format="PNG", optimize=True)
    return small.getvalue()


def markdown_image(png: bytes, alt: str = "equity curves") -> str:
    """The PNG inlined as a markdown image (data URI), which the Dagster UI renders in metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
