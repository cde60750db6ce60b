"""Heatmap pictures of the marts (seed article 000): pure functions, frames in, PNG bytes out. No Dagster.

Each picture is built in two steps that are tested separately:
1. a data-prep function turns a long mart frame into a `HeatmapMatrix` (rows, columns, values with NaN
   where the mart holds NULL), e.g. `returns_matrix(marts.sector_returns of one date)`;
2. a render function draws the matrix with its colour scale and returns PNG bytes.

Colour scales (see docs/report.md): diverging maps centred on zero with symmetric limits (vmin = -vmax);
the SRI total is centred on 200, the neutral middle of its 0-400 scale; ranks use a sequential map;
sentiment uses the fixed range -1..+1. Missing values (warming up, not ranked) are hatched light grey.
matplotlib is imported inside the functions that need it, so importing this module (the Dagster definitions
do) costs nothing until a picture is drawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import polars as pl

from sector_pipeline.report.figures import (
    MISSING_FACE,
    MISSING_HATCH_COLOR,
    add_title,
    centered_norm,
    new_figure,
    png_bytes,
    text_color,
)
from sector_pipeline.report.marts import DIMENSION_LABELS, DIMENSIONS
from sector_pipeline.signals.config import AlertConfig, SentimentConfig

if TYPE_CHECKING:  # matplotlib is imported by the drawing functions only: loading the definitions stays light
    from matplotlib.colors import Colormap, Normalize, TwoSlopeNorm
    from matplotlib.figure import Figure

RETURN_WINDOWS = ("1D", "5D", "20D", "60D", "126D", "YTD", "252D")
DIVERGING_CMAP = "RdYlGn"   # red = negative, green = positive: the finance convention; values are printed too
SEQUENTIAL_CMAP = "viridis_r"
SCORE_SESSIONS = 60
SENTIMENT_SESSIONS = 120
# The reading band and the extreme level are the signal stage's settings, not the report's own numbers.
SENTIMENT_BAND = SentimentConfig().band
SENTIMENT_EXTREME = AlertConfig().extreme
SENTIMENT_NORM_LIMIT = 1.0
LABEL_MARGIN_IN = 2.45      # room for "XLC  Communication Services" at 9.5 pt
MISSING_LABEL = "n/a: no value yet (warming up / not ranked)"


@dataclass(frozen=True)
class HeatmapMatrix:
    """What a heatmap shows: `values[i, j]` is row `rows[i]` in column `columns[j]`, NaN where missing."""

    rows: tuple[str, ...]            # tickers or sentiment dimensions
    row_labels: tuple[str, ...]      # what the axis prints, e.g. "XLK  Technology"
    columns: tuple[object, ...]      # return windows ("1D", ...) or dates
    values: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values)

    def value(self, row: str, column: object) -> float | None:
        v = self.values[self.rows.index(row), self.columns.index(column)]
        return None if np.isnan(v) else float(v)

    def __getitem__(self, row: str) -> dict[object, float | None]:
        """matrix["XLK"]["20D"] -> the value of that cell (None when missing)."""
        return {column: self.value(row, column) for column in self.columns}

    def to_dict(self) -> dict[str, dict[object, float | None]]:
        return {row: self[row] for row in self.rows}


def _grid(frame: pl.DataFrame, row_col: str, col_col: str, rows: Sequence[str],
          columns: Sequence[object]) -> np.ndarray:
    """Place frame[value] at (row, column) of a NaN grid; rows or columns not listed are ignored."""
    dupes = frame.group_by(row_col, col_col).len().filter(pl.col("len") > 1)
    if dupes.height:
        raise ValueError(f"more than one value for some ({row_col}, {col_col}): {dupes.head(3).rows()}")
    values = np.full((len(rows), len(columns)), np.nan)
    if not rows or not columns:
        return values
    placed = (
        frame.filter(pl.col(row_col).is_in(list(rows)) & pl.col(col_col).is_in(list(columns)))
        .select(
            pl.col(row_col).replace_strict(list(rows), list(range(len(rows))), return_dtype=pl.Int64).alias("i"),
            pl.col(col_col).replace_strict(list(columns), list(range(len(columns))),
                                           return_dtype=pl.Int64).alias("j"),
            pl.col("value").cast(pl.Float64).fill_null(float("nan")),
        )
    )
    if placed.height:
        values[placed["i"].to_numpy(), placed["j"].to_numpy()] = placed["value"].to_numpy()
    return values


def _sector_labels(frame: pl.DataFrame) -> dict[str, str]:
    names = (frame.filter(pl.col("sector").is_not_null()).sort("date").group_by("ticker")
             .agg(pl.col("sector").last()))
    by_ticker = dict(names.iter_rows())
    return {t: f"{t}  {by_ticker.get(t, '')}".rstrip() for t in frame.get_column("ticker").unique().to_list()}


def returns_matrix(returns: pl.DataFrame, *, sort_by: str = "20D") -> HeatmapMatrix:
    """Sector x window matrix of ONE date of marts.sector_returns, sectors sorted by `sort_by` (best first).

    Sectors without a `sort_by` value (warming up) come last, in ticker order.
    """
    if returns.get_column("date").n_unique() > 1:
        raise ValueError("returns_matrix takes the rows of one date; filter marts.sector_returns first")
    if sort_by not in RETURN_WINDOWS:
        raise ValueError(f"sort_by must be one of {RETURN_WINDOWS}, got {sort_by!r}")
    order = (returns.filter(pl.col("metric") == sort_by).select("ticker", "value")
             .join(returns.select("ticker").unique(), on="ticker", how="right")
             .sort(["value", "ticker"], descending=[True, False], nulls_last=True))
    tickers = order.get_column("ticker").to_list()
    labels = _sector_labels(returns)
    values = _grid(returns, "ticker", "metric", tickers, RETURN_WINDOWS)
    return HeatmapMatrix(tuple(tickers), tuple(labels[t] for t in tickers), RETURN_WINDOWS, values)


def date_matrix(scores: pl.DataFrame, *, dates: Sequence[dt.date] | None = None,
                higher_is_better: bool = True) -> HeatmapMatrix:
    """Sector x date matrix of one metric of marts.sector_scores (date, ticker, sector, value).

    Columns are `dates` (the session calendar, so a session without a row shows as missing) or the frame's
    dates. Rows are sorted by the last column: best first (highest, or lowest for ranks), missing last.
    """
    columns = list(dates) if dates is not None else sorted(scores.get_column("date").unique().to_list())
    tickers = sorted(scores.get_column("ticker").unique().to_list())
    values = _grid(scores, "ticker", "date", tickers, columns)
    last = values[:, -1] if columns else np.full(len(tickers), np.nan)
    key = -last if higher_is_better else last
    order = sorted(range(len(tickers)), key=lambda i: (np.isnan(key[i]), 0.0 if np.isnan(key[i]) else key[i],
                                                       tickers[i]))
    labels = _sector_labels(scores)
    return HeatmapMatrix(tuple(tickers[i] for i in order), tuple(labels[tickers[i]] for i in order),
                         tuple(columns), values[order])


def sentiment_matrix(sentiment: pl.DataFrame, *, dates: Sequence[dt.date] | None = None) -> HeatmapMatrix:
    """Dimension x date matrix of marts.sentiment (date, dimension, label, score), dimensions in seed order."""
    columns = list(dates) if dates is not None else sorted(sentiment.get_column("date").unique().to_list())
    labels = dict(sentiment.select("dimension", "label").unique(subset="dimension").iter_rows())
    values = _grid(sentiment.rename({"score": "value"}), "dimension", "date", DIMENSIONS, columns)
    return HeatmapMatrix(DIMENSIONS, tuple(labels.get(d) or DIMENSION_LABELS[d] for d in DIMENSIONS), tuple(columns),
                         values)


# --- colour scales --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreHeatmap:
    """How one marts.sector_scores metric is pictured as a sector x date heatmap."""

    name: str                 # asset and file name
    metric: str               # marts.sector_scores.metric
    title: str
    colorbar_label: str       # with units
    kind: Literal["diverging", "sequential"] = "diverging"
    center: float = 0.0
    value_format: str = "{:+.1f}"
    higher_is_better: bool = True


SCORE_HEATMAPS: dict[str, ScoreHeatmap] = {h.name: h for h in (
    ScoreHeatmap("relative_strength_change_20d", "relative_strength_change_20d_pct",
                 "Relative strength vs SPY: 20-session change",
                 "change of (sector price / SPY price) over 20 sessions, %", value_format="{:+.1f}%"),
    ScoreHeatmap("composite_score", "composite_score", "Composite score (5/20/60-session relative performance)",
                 "weighted z-score of relative performance\n(0 = cross-sectional average)", value_format="{:+.2f}"),
    ScoreHeatmap("sri_total", "sri_total_score", "Sector Rotation Index: total score",
                 "SRI total, points (0-400)\ncentred on 200 = neutral (each component 50)", center=200.0,
                 value_format="{:.0f}"),
    ScoreHeatmap("composite_rank", "composite_rank", "Composite rank",
                 "rank among ranked sectors (1 = strongest)", kind="sequential", value_format="#{:.0f}",
                 higher_is_better=False),
)}


def returns_norms(matrix: HeatmapMatrix, *, scale: Literal["per_window", "shared"] = "per_window") -> list[Normalize]:
    """One norm per column, each centred on 0 with vmin = -vmax.

    per_window (default): each window gets the limit of its own largest |return|, so the cross-section of
    1-day returns is as readable as that of 252-day returns (whose spread is ~15x larger); the limit is
    printed under each column header. shared: one limit for the whole table.
    """
    if scale == "shared":
        norm = centered_norm(matrix.values)
        return [norm] * len(matrix.columns)
    if scale != "per_window":
        raise ValueError(f"scale must be 'per_window' or 'shared', got {scale!r}")
    return [centered_norm(matrix.values[:, j]) for j in range(len(matrix.columns))]


def score_norm(matrix: HeatmapMatrix, spec: ScoreHeatmap) -> Normalize:
    """Diverging: centred on spec.center with symmetric limits covering 98 % of cells; sequential: data range."""
    from matplotlib.colors import Normalize

    if spec.kind == "sequential":
        finite = matrix.values[np.isfinite(matrix.values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return Normalize(vmin=low, vmax=high if high > low else low + 1)
    return centered_norm(matrix.values, spec.center, quantile=0.98)


def sentiment_norm() -> TwoSlopeNorm:
    """The fixed sentiment scale: -1 .. 0 .. +1, so colours mean the same on every date."""
    from matplotlib.colors import TwoSlopeNorm

    return TwoSlopeNorm(vcenter=0.0, vmin=-SENTIMENT_NORM_LIMIT, vmax=SENTIMENT_NORM_LIMIT)


def _cmap(name: str) -> Colormap:
    import matplotlib

    return matplotlib.colormaps[name]


def cell_colours(values: np.ndarray, norms: Sequence[Normalize], cmap_name: str) -> np.ndarray:
    """RGBA of every cell (rows x columns x 4) on its column's norm; missing cells fully transparent."""
    return _rgba(values, norms, _cmap(cmap_name))


def _rgba(values: np.ndarray, norms: Sequence[Normalize], cmap: Colormap) -> np.ndarray:
    """Cell colours column by column; missing cells fully transparent so the hatched background shows."""
    rgba = np.zeros((*values.shape, 4))
    if values.size and all(norm is norms[0] for norm in norms):   # one scale: colour the matrix at once
        rgba[:] = cmap(norms[0](np.ma.masked_invalid(values)))
    else:
        for j, norm in enumerate(norms):
            rgba[:, j] = cmap(norm(np.ma.masked_invalid(values[:, j])))
    rgba[np.isnan(values)] = 0.0
    return rgba


def _draw_cells(ax, rgba: np.ndarray, *, grid_width: float) -> None:
    from matplotlib.patches import Rectangle

    n_rows, n_cols = rgba.shape[:2]
    ax.set_label("heatmap")
    if n_rows == 0 or n_cols == 0:
        ax.text(0.5, 0.5, "no rows in the mart for this date", transform=ax.transAxes, ha="center",
                va="center", fontsize=11, style="italic")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.add_patch(Rectangle((-0.5, -0.5), n_cols, n_rows, facecolor=MISSING_FACE, edgecolor=MISSING_HATCH_COLOR,
                           hatch="///", linewidth=0, zorder=0))
    ax.imshow(rgba, aspect="auto", interpolation="nearest", zorder=1,
              extent=(-0.5, n_cols - 0.5, n_rows - 0.5, -0.5))
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    if grid_width:
        # two line collections: minor ticks would make one Tick artist (two lines, a label) per cell edge
        ax.hlines(np.arange(0.5, n_rows - 1), -0.5, n_cols - 0.5, colors="white", linewidth=grid_width, zorder=2)
        ax.vlines(np.arange(0.5, n_cols - 1), -0.5, n_rows - 0.5, colors="white", linewidth=grid_width, zorder=2)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _missing_legend(figure, x: float, y: float) -> None:
    from matplotlib.patches import Patch

    figure.legend(handles=[Patch(facecolor=MISSING_FACE, edgecolor=MISSING_HATCH_COLOR, hatch="///",
                                 label=MISSING_LABEL)],
                  loc="lower left", bbox_to_anchor=(x, y), frameon=False, fontsize=8.5, handlelength=2.2,
                  handleheight=1.2)


def _inches(figure, left: float, bottom: float, right: float, top: float) -> list[float]:
    """Axes rectangle from margins in inches (fixed layout: pixel size = figsize x dpi)."""
    w, h = figure.get_size_inches()
    return [left / w, bottom / h, 1 - (left + right) / w, 1 - (bottom + top) / h]


def _date_label(day: object) -> str:
    return day.strftime("%Y-%m-%d") if isinstance(day, (dt.date, dt.datetime)) else str(day)


def _row_labels(ax, labels: Sequence[str], *, fontsize: float) -> None:
    """Row labels left of the cells, as plain texts: a tick per row would add two lines and a label artist each."""
    ax.set_yticks([])
    for i, label in enumerate(labels):
        ax.annotate(label, xy=(0, i), xycoords=("axes fraction", "data"), xytext=(-5, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=fontsize, annotation_clip=False)


def _date_ticks(ax, columns: Sequence[object], *, every: int) -> None:
    """Label every `every`-th session counted back from the last one, so the pictured date is labelled."""
    n = len(columns)
    ax.set_xticks([])
    for i in list(range(n - 1, -1, -every))[::-1]:
        ax.annotate(_date_label(columns[i]), xy=(i, 0), xycoords=("data", "axes fraction"), xytext=(0, -4),
                    textcoords="offset points", rotation=45, ha="right", va="top", rotation_mode="anchor",
                    fontsize=8, annotation_clip=False)


def _latest_values(ax, matrix: HeatmapMatrix, date: dt.date, value_format: str) -> None:
    """The pictured date's value of each row, printed right of the heatmap (n/a when missing)."""
    n_rows, n_cols = matrix.values.shape
    ax.annotate(date.strftime("%m-%d"), xy=(n_cols - 0.5, -0.5), xytext=(5, 3), textcoords="offset points",
                ha="left", va="bottom", fontsize=8.5, fontweight="bold", annotation_clip=False)
    for i in range(n_rows):
        v = matrix.values[i, -1] if n_cols else np.nan
        ax.annotate("n/a" if np.isnan(v) else format_value(value_format, v), xy=(n_cols - 0.5, i), xytext=(6, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=9.5,
                    fontstyle="italic" if np.isnan(v) else "normal", annotation_clip=False)


def format_value(value_format: str, value: float) -> str:
    """`value_format.format(value)`; a value that rounds to zero prints unsigned ("0.0%", never "-0.0%")."""
    text = value_format.format(value)
    if not any(c in "123456789" for c in text):
        text = text.replace("-", "").replace("+", "")
    return text


# --- pictures -------------------------------------------------------------------------------------------


def draw_returns_heatmap(matrix: HeatmapMatrix, *, date: dt.date, source: str | None,
                         scale: Literal["per_window", "shared"] = "per_window") -> Figure:
    """Sector x window returns of one date, value in % in each cell, sectors sorted by 20D."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    width = 9.8
    figure = new_figure(width, 2.0 + 0.42 * max(len(matrix.rows), 3))
    add_title(figure, f"Sector returns by window - {date.isoformat()}",
              "marts.sector_returns: total return in % over each window; rows sorted by 20D return",
              source)
    ax = figure.add_axes(_inches(figure, LABEL_MARGIN_IN, 0.45, 1.35, 1.55))
    norms = returns_norms(matrix, scale=scale)
    cmap = _cmap(DIVERGING_CMAP)
    rgba = _rgba(matrix.values, norms, cmap)
    _draw_cells(ax, rgba, grid_width=1.5)
    if scale == "per_window":
        headers = [f"{c}\n±{n.vmax:.1f}%" if np.isfinite(matrix.values[:, j]).any() else f"{c}\nn/a"
                   for j, (c, n) in enumerate(zip(matrix.columns, norms, strict=True))]
    else:
        headers = list(matrix.columns)
    ax.set_xticks([])
    for j, header in enumerate(headers):
        ax.annotate(header, xy=(j, 1), xycoords=("data", "axes fraction"), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9.5, fontweight="bold",
                    annotation_clip=False)
    _row_labels(ax, matrix.row_labels, fontsize=9.5)
    for i in range(len(matrix.rows)):
        for j in range(len(matrix.columns)):
            v = matrix.values[i, j]
            if np.isnan(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=9, color="#555555", style="italic",
                        zorder=3, bbox=dict(boxstyle="square,pad=0.1", facecolor=MISSING_FACE, linewidth=0))
            else:
                ax.text(j, i, format_value("{:+.1f}%", v), ha="center", va="center", fontsize=9.5, zorder=3,
                        color=text_color(tuple(rgba[i, j])))
    cax = figure.add_axes(_inches(figure, width - 1.05, 0.45, 0.8, 1.55))
    if scale == "per_window":
        bar = figure.colorbar(ScalarMappable(norm=Normalize(-1, 1), cmap=cmap), cax=cax)
        bar.set_ticks([-1, -0.5, 0, 0.5, 1], labels=["-limit", "", "0 %", "", "+limit"])
        bar.set_label("return, %\n(±limit per column, in its header)", fontsize=8.5)
    else:
        bar = figure.colorbar(ScalarMappable(norm=norms[0], cmap=cmap), cax=cax)
        bar.set_label("return, %", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    _missing_legend(figure, 0.01, 0.0)
    return figure


def draw_scores_heatmap(matrix: HeatmapMatrix, spec: ScoreHeatmap, *, date: dt.date,
                        source: str | None) -> Figure:
    """Sector x date heatmap of one score over the last sessions; the latest value printed at the right."""
    from matplotlib.cm import ScalarMappable

    n_rows, n_cols = matrix.values.shape
    width = 12.0
    figure = new_figure(width, 2.25 + 0.36 * max(n_rows, 3))
    first = _date_label(matrix.columns[0]) if n_cols else "-"
    add_title(figure, f"{spec.title} - {n_cols} sessions to {date.isoformat()}",
              f"marts.sector_scores, metric {spec.metric}, {first} .. {date.isoformat()}; "
              f"rows sorted by the latest value, best ({'highest' if spec.higher_is_better else 'rank 1'}) first",
              source)
    ax = figure.add_axes(_inches(figure, LABEL_MARGIN_IN, 1.05, 2.05, 1.2))
    norm = score_norm(matrix, spec)
    cmap = _cmap(DIVERGING_CMAP if spec.kind == "diverging" else SEQUENTIAL_CMAP)
    rgba = _rgba(matrix.values, [norm] * n_cols, cmap)
    _draw_date_grid(ax, matrix, rgba, date=date, grid_width=0.6 if n_cols <= 80 else 0, label_size=9.5,
                    tick_every=5, value_format=spec.value_format)
    cax = figure.add_axes(_inches(figure, width - 1.25, 1.05, 1.03, 1.2))
    extend = "neither"
    if spec.kind == "diverging":
        finite = matrix.values[np.isfinite(matrix.values)]
        if finite.size and (finite.max() > norm.vmax or finite.min() < norm.vmin):
            extend = "both"
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, extend=extend)
    if spec.kind == "sequential" and not spec.higher_is_better:
        bar.ax.invert_yaxis()
    bar.set_label(spec.colorbar_label, fontsize=8.5)
    bar.ax.tick_params(labelsize=8)
    _missing_legend(figure, 0.01, 0.0)
    return figure


def _draw_date_grid(ax, matrix: HeatmapMatrix, rgba: np.ndarray, *, date: dt.date, grid_width: float,
                    label_size: float, tick_every: int, value_format: str) -> None:
    """Cells of a row x date heatmap, row labels, date ticks, a box around the latest column and its values."""
    from matplotlib.patches import Rectangle

    n_rows, n_cols = matrix.values.shape
    _draw_cells(ax, rgba, grid_width=grid_width)
    _row_labels(ax, matrix.row_labels, fontsize=label_size)
    _date_ticks(ax, matrix.columns, every=tick_every)
    if n_cols:
        ax.add_patch(Rectangle((n_cols - 1.5, -0.5), 1, n_rows, fill=False, edgecolor="black", linewidth=1.2,
                               zorder=4, clip_on=False))
    _latest_values(ax, matrix, date, value_format)


def draw_sentiment_heatmap(matrix: HeatmapMatrix, *, date: dt.date, source: str | None) -> Figure:
    """Dimension x date sentiment on the fixed -1..+1 scale; the reading bands are marked on the colour bar."""
    from matplotlib.cm import ScalarMappable

    n_rows, n_cols = matrix.values.shape
    width = 12.0
    figure = new_figure(width, 3.9)
    first = _date_label(matrix.columns[0]) if n_cols else "-"
    add_title(figure, f"Sentiment by dimension - {n_cols} sessions to {date.isoformat()}",
              f"marts.sentiment score in [-1, +1], {first} .. {date.isoformat()}; "
              f"|score| > {SENTIMENT_BAND} is a signal, > {SENTIMENT_EXTREME} extreme", source)
    ax = figure.add_axes(_inches(figure, LABEL_MARGIN_IN, 1.05, 2.05, 1.2))
    norm = sentiment_norm()
    cmap = _cmap(DIVERGING_CMAP)
    rgba = _rgba(matrix.values, [norm] * n_cols, cmap)
    _draw_date_grid(ax, matrix, rgba, date=date, grid_width=0.4 if n_cols <= 130 else 0, label_size=10,
                    tick_every=10, value_format="{:+.2f}")
    cax = figure.add_axes(_inches(figure, width - 1.25, 1.05, 1.03, 1.2))
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    bar.set_ticks([-1, -SENTIMENT_EXTREME, -SENTIMENT_BAND, 0, SENTIMENT_BAND, SENTIMENT_EXTREME, 1])
    for level in (-SENTIMENT_BAND, SENTIMENT_BAND):
        bar.ax.axhline(level, color="black", linewidth=1.0)
    bar.set_label(f"score (unitless, -1..+1)\nlines: ±{SENTIMENT_BAND:g} bands", fontsize=8.5)
    bar.ax.tick_params(labelsize=8)
    _missing_legend(figure, 0.01, 0.0)
    return figure


def render_returns_heatmap(matrix: HeatmapMatrix, *, date: dt.date, source: str | None,
                           scale: Literal["per_window", "shared"] = "per_window") -> bytes:
    return png_bytes(draw_returns_heatmap(matrix, date=date, source=source, scale=scale))


def render_scores_heatmap(matrix: HeatmapMatrix, spec: ScoreHeatmap, *, date: dt.date,
                          source: str | None) -> bytes:
    return png_bytes(draw_scores_heatmap(matrix, spec, date=date, source=source))


def render_sentiment_heatmap(matrix: HeatmapMatrix, *, date: dt.date, source: str | None) -> bytes:
    return png_bytes(draw_sentiment_heatmap(matrix, date=date, source=source))
