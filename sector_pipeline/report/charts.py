"""The report's other pictures: sentiment gauges with their reading bands, the relative rotation graph, and the
backtest's equity and drawdown curves.

Pure functions, frames in, PNG bytes out; no Dagster. matplotlib is imported when a picture is drawn.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import polars as pl

from sector_pipeline.report.figures import (
    MISSING_FACE,
    MISSING_HATCH_COLOR,
    add_title,
    new_figure,
    png_bytes,
)
from sector_pipeline.report.heatmaps import SENTIMENT_BAND, SENTIMENT_EXTREME
from sector_pipeline.report.marts import DIMENSION_LABELS, DIMENSIONS

RRG_TAIL_POINTS = 5
BAND_COLORS = {"negative": "#f6cfcc", "neutral": "#e9e9e9", "positive": "#cfe9cf"}
QUADRANTS = {  # name -> (x sign, y sign, face, label colour)
    "leading": (1, 1, "#dcf0dc", "#1b7a1b"),
    "weakening": (1, -1, "#fbf1cc", "#8a6d00"),
    "lagging": (-1, -1, "#f8dcdb", "#a3231b"),
    "improving": (-1, 1, "#dce7f6", "#1f4e96"),
}
SECTOR_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf", "#000000", "#6a3d9a"]


def _reading(score: float | None) -> str:
    if score is None:
        return "n/a"
    return "positive" if score > SENTIMENT_BAND else "negative" if score < -SENTIMENT_BAND else "neutral"


def render_sentiment_gauges(sentiment: pl.DataFrame, *, date: dt.date, source: str | None) -> bytes:
    """One bullet gauge per dimension: the -1..+1 scale with the reading bands, the score, its reading."""
    from matplotlib.patches import Rectangle

    rows = {r["dimension"]: r for r in sentiment.filter(pl.col("date") == date).iter_rows(named=True)}
    figure = new_figure(11.0, 1.25 + 0.9 * len(DIMENSIONS))
    add_title(figure, f"Sentiment gauges - {date.isoformat()}",
              f"marts.sentiment; bands: negative < -{SENTIMENT_BAND}, neutral, positive > +{SENTIMENT_BAND}; "
              f"dashed: extreme ±{SENTIMENT_EXTREME}", source)
    width, height = figure.get_size_inches()
    left, gauge_w, row_h = 2.55, 4.5, 0.9
    for i, dimension in enumerate(DIMENSIONS):
        row = rows.get(dimension)
        score = None if row is None or row["score"] is None else float(row["score"])
        label = (row or {}).get("label") or DIMENSION_LABELS[dimension]
        bottom = height - 1.0 - (i + 1) * row_h + 0.3
        ax = figure.add_axes([left / width, bottom / height, gauge_w / width, 0.36 / height])
        ax.set_xlim(-1, 1)
        ax.set_ylim(-0.5, 0.5)
        for low, high, band in ((-1, -SENTIMENT_BAND, "negative"), (-SENTIMENT_BAND, SENTIMENT_BAND, "neutral"),
                                (SENTIMENT_BAND, 1, "positive")):
            ax.axvspan(low, high, color=BAND_COLORS[band], zorder=0)
        for level in (-SENTIMENT_EXTREME, SENTIMENT_EXTREME):
            ax.axvline(level, color="#555555", linestyle="--", linewidth=0.8, zorder=1)
        ax.axvline(0, color="#333333", linewidth=0.8, zorder=1)
        if score is None:
            ax.add_patch(Rectangle((-1, -0.5), 2, 1, facecolor=MISSING_FACE, edgecolor=MISSING_HATCH_COLOR,
                                   hatch="///", linewidth=0, zorder=2))
            ax.text(0, 0, "n/a (warming up)", ha="center", va="center", fontsize=9, style="italic", zorder=3)
        else:
            ax.barh(0, score, height=0.34, color="#2b2b2b", zorder=2)
            ax.plot([score], [0], marker="D", markersize=8, color="#2b2b2b", markeredgecolor="white", zorder=3)
        ax.set_yticks([])
        ticks = [-1, -SENTIMENT_EXTREME, -SENTIMENT_BAND, 0, SENTIMENT_BAND, SENTIMENT_EXTREME, 1]
        ax.set_xticks(ticks)
        ax.tick_params(axis="x", labelsize=8, length=2)
        ax.set_xticklabels([f"{t:+g}" if t else "0" for t in ticks])
        for spine in ax.spines.values():
            spine.set_color("#999999")
        figure.text((left - 0.15) / width, (bottom + 0.18) / height, label, ha="right", va="center",
                    fontsize=10.5, fontweight="bold")
        band = (row or {}).get("band") or _reading(score)
        headline = "n/a" if score is None else f"{score:+.2f}  {band}"
        figure.text((left + gauge_w + 0.25) / width, (bottom + 0.36) / height, headline, ha="left", va="top",
                    fontsize=11, fontweight="bold",
                    color={"positive": "#1b7a1b", "negative": "#a3231b"}.get(band, "#333333"))
        reading = (row or {}).get("interpretation") or ("no score yet" if score is None else "")
        figure.text((left + gauge_w + 0.25) / width, (bottom + 0.02) / height, textwrap.fill(reading, 46),
                    ha="left", va="top", fontsize=8.5, color="#333333")
    return png_bytes(figure)


def rotation_limits(points: pl.DataFrame) -> float:
    """Half-width of the square plotting window around (100, 100) that holds every point, with a margin."""
    if points.is_empty():
        return 2.0
    spread = max(float((points["rs_ratio"] - 100).abs().max()), float((points["rs_momentum"] - 100).abs().max()))
    return max(1.0, spread * 1.15)


def render_rotation_graph(tails: pl.DataFrame, *, date: dt.date, frequency: str = "weekly",
                          source: str | None) -> bytes:
    """RRG scatter of RS-Ratio (x) vs RS-Momentum (y) around 100 with quadrant shading and short tails.

    `tails`: rows of marts.relative_rotation (date, ticker, sector, rs_ratio, rs_momentum), a few per sector.
    """
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    valid = tails.filter(pl.col("rs_ratio").is_not_null() & pl.col("rs_momentum").is_not_null()).sort("ticker",
                                                                                                       "date")
    tickers = sorted(tails.get_column("ticker").unique().to_list())
    heads = valid.group_by("ticker").agg(pl.all().last())
    plotted = set(heads.get_column("ticker").to_list())
    warming = [t for t in tickers if t not in plotted]
    head_date = max(valid.get_column("date").to_list(), default=None)

    figure = new_figure(11.0, 8.4)
    unit = "weekly points" if frequency == "weekly" else "sessions"
    add_title(figure, f"Relative rotation graph ({frequency}) - {date.isoformat()}",
              f"marts.relative_rotation vs SPY; tails: last {RRG_TAIL_POINTS} {unit}, big dot = latest"
              + (f" ({head_date.isoformat()})" if head_date else ""), source)
    width, height = figure.get_size_inches()
    ax = figure.add_axes([0.8 / width, 0.75 / height, 6.7 / width, 6.7 / height])
    half = rotation_limits(valid)
    ax.set_xlim(100 - half, 100 + half)
    ax.set_ylim(100 - half, 100 + half)
    for name, (sx, sy, face, text) in QUADRANTS.items():
        ax.add_patch(Rectangle((100, 100), sx * half, sy * half, facecolor=face, edgecolor="none", zorder=0))
        ax.text(100 + sx * half * 0.96, 100 + sy * half * 0.96, name.upper(), color=text, fontsize=11,
                fontweight="bold", ha="right" if sx > 0 else "left", va="top" if sy > 0 else "bottom", zorder=1)
    ax.axhline(100, color="#666666", linewidth=0.8, zorder=1)
    ax.axvline(100, color="#666666", linewidth=0.8, zorder=1)
    ax.set_xlabel("RS-Ratio (trend of relative strength, 100 = in line with SPY)", fontsize=9.5)
    ax.set_ylabel("RS-Momentum (rate of change of RS-Ratio, 100 = steady)", fontsize=9.5)
    ax.tick_params(labelsize=8.5)
    ax.set_aspect("equal")

    handles = []
    for k, ticker in enumerate(tickers):
        color = SECTOR_COLORS[k % len(SECTOR_COLORS)]
        path = valid.filter(pl.col("ticker") == ticker)
        if path.is_empty():
            continue
        x, y = path["rs_ratio"].to_numpy(), path["rs_momentum"].to_numpy()
        ax.plot(x, y, color=color, linewidth=1.4, alpha=0.75, zorder=3)
        ax.scatter(x[:-1], y[:-1], s=np.linspace(8, 22, len(x))[:-1], color=color, alpha=0.75, zorder=3)
        (dot,) = ax.plot(x[-1:], y[-1:], marker="o", markersize=10, color=color, markeredgecolor="white",
                         linestyle="none", zorder=4)
        ax.annotate(ticker, (x[-1], y[-1]), xytext=(6, 5), textcoords="offset points", fontsize=9,
                    fontweight="bold", color=color, zorder=5,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
        sector = path["sector"][-1] or ""
        quadrant = path["quadrant"][-1] if "quadrant" in path.columns else None
        dot.set_label(f"{ticker}  {sector}" + (f" ({quadrant})" if quadrant else ""))
        handles.append(dot)
    if handles:
        figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(7.75 / width, 7.45 / height),
                      frameon=False, fontsize=9, title="sector (quadrant)", title_fontsize=9.5,
                      alignment="left")
    else:
        ax.text(100, 100, "no rotation points yet:\nevery sector is warming up", ha="center", va="center",
                fontsize=12, style="italic", bbox=dict(facecolor="white", edgecolor="#999999"), zorder=6)
    if warming:
        figure.text(7.8 / width, 0.9 / height,
                    textwrap.fill("warming up (not plotted): " + ", ".join(warming), 40),
                    ha="left", va="bottom", fontsize=8.5, style="italic", color="#555555")
    figure.text(7.8 / width, 0.75 / height, "clockwise: leading > weakening > lagging > improving",
                ha="left", va="top", fontsize=8, color="#555555")
    return png_bytes(figure)


def render_equity_drawdown(curves: pl.DataFrame, *, date: dt.date, source: str | None) -> bytes:
    """Equity (log scale) and drawdown of every book and the benchmark from the backtest start to `date`.

    `curves`: marts.backtest rows (date, book, equity, drawdown_pct).
    """
    from sector_pipeline.strategy.plots import draw_equity_drawdown

    if curves.is_empty():   # a publication without a backtest yet: the picture says so
        curves = pl.DataFrame(schema={"date": pl.Date, "book": pl.String, "equity": pl.Float64,
                                      "drawdown_pct": pl.Float64})
    figure = new_figure(11.0, 6.2)
    first = min(curves.get_column("date").to_list(), default=None)
    add_title(figure, f"Backtest: equity and drawdown - {date.isoformat()}",
              "marts.backtest: every book starts at 1.0 on the same session; decisions trade at the next close, "
              "costs included" + (f"; from {first.isoformat()}" if first else ""), source)
    width, height = figure.get_size_inches()
    draw_equity_drawdown(figure, [1.0 / width, 0.45 / height, (width - 1.3) / width, (height - 1.55) / height],
                         curves)
    return png_bytes(figure)
