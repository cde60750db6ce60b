"""Named pictures of a date read from the marts: the one place the Dagster assets and the HTML report share.

`render_picture("sector_returns", db, date)` loads what the picture needs (`marts.py`), builds its matrix
(`heatmaps.py`) or chart (`charts.py`) and returns a `Picture` with PNG bytes and a markdown/data-URI form.
`heatmap_view` stops before drawing: the report draws the same matrix twice, as a PNG and as an interactive
SVG (`interactive.py`), so both show the same cells in the same colours.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

import numpy as np

from sector_pipeline.report import charts, heatmaps, marts
from sector_pipeline.report.heatmaps import HeatmapMatrix, ScoreHeatmap
from sector_pipeline.report.marts import Queryable

HEATMAPS: dict[str, tuple[str, str]] = {   # name -> (title, mart it pictures)
    "sector_returns": ("Sector returns by window", "marts.sector_returns"),
    "relative_strength_change_20d": ("Relative strength vs SPY, 20-session change", "marts.sector_scores"),
    "composite_score": ("Composite score", "marts.sector_scores"),
    "sri_total": ("Sector Rotation Index total", "marts.sector_scores"),
    "sentiment": ("Sentiment by dimension", "marts.sentiment"),
}
CHARTS: dict[str, tuple[str, str]] = {
    "sentiment_gauges": ("Sentiment gauges", "marts.sentiment"),
    "rotation_graph": ("Relative rotation graph", "marts.relative_rotation"),
    "equity_drawdown": ("Backtest equity and drawdown", "marts.backtest"),
}


@dataclass(frozen=True)
class Picture:
    name: str
    title: str
    mart: str
    date: dt.date
    png: bytes

    @property
    def file_name(self) -> str:
        return f"{self.name}_{self.date.isoformat()}.png"

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def markdown(self) -> str:
        """A markdown image with the PNG inline, for Dagster metadata (the UI renders it)."""
        return f"![{self.title} {self.date.isoformat()}]({self.data_uri()})"


@dataclass(frozen=True)
class HeatmapView:
    """A heatmap before drawing: its matrix, how it is coloured and formatted, and the source it names."""

    name: str
    date: dt.date
    matrix: HeatmapMatrix
    source: str | None
    spec: ScoreHeatmap | None = None   # the sector x date heatmaps of marts.sector_scores

    @property
    def title(self) -> str:
        return HEATMAPS[self.name][0]

    @property
    def mart(self) -> str:
        return HEATMAPS[self.name][1]

    def colours(self) -> np.ndarray:
        """RGBA of every cell on the picture's own colour scale (missing cells transparent)."""
        n_cols = len(self.matrix.columns)
        if self.name == "sector_returns":
            return heatmaps.cell_colours(self.matrix.values, heatmaps.returns_norms(self.matrix),
                                         heatmaps.DIVERGING_CMAP)
        if self.spec is not None:
            cmap = heatmaps.DIVERGING_CMAP if self.spec.kind == "diverging" else heatmaps.SEQUENTIAL_CMAP
            return heatmaps.cell_colours(self.matrix.values, [heatmaps.score_norm(self.matrix, self.spec)] * n_cols,
                                         cmap)
        return heatmaps.cell_colours(self.matrix.values, [heatmaps.sentiment_norm()] * n_cols,
                                     heatmaps.DIVERGING_CMAP)

    def render(self) -> Picture:
        if self.name == "sector_returns":
            png = heatmaps.render_returns_heatmap(self.matrix, date=self.date, source=self.source)
        elif self.spec is not None:
            png = heatmaps.render_scores_heatmap(self.matrix, self.spec, date=self.date, source=self.source)
        else:
            png = heatmaps.render_sentiment_heatmap(self.matrix, date=self.date, source=self.source)
        return Picture(self.name, self.title, self.mart, self.date, png)


def heatmap_view(name: str, db: Queryable, date: dt.date, *, source: str | None = None) -> HeatmapView:
    """Load and shape heatmap `name` of `date`. `source` defaults to the marts' own."""
    if name not in HEATMAPS:
        raise ValueError(f"unknown heatmap {name!r}; known: {sorted(HEATMAPS)}")

    def source_since(first: dt.date) -> str | None:
        return source if source is not None else marts.data_source(db, first, date)

    if name == "sector_returns":
        return HeatmapView(name, date, heatmaps.returns_matrix(marts.sector_returns_on(db, date)), source_since(date))
    if name in heatmaps.SCORE_HEATMAPS:
        spec = heatmaps.SCORE_HEATMAPS[name]
        days = marts.sessions_up_to(db, date, heatmaps.SCORE_SESSIONS)
        frame = marts.sector_scores_between(db, spec.metric, days[0], date)
        matrix = heatmaps.date_matrix(frame, dates=days, higher_is_better=spec.higher_is_better)
        return HeatmapView(name, date, matrix, source_since(days[0]), spec)
    days = marts.sessions_up_to(db, date, heatmaps.SENTIMENT_SESSIONS)
    matrix = heatmaps.sentiment_matrix(marts.sentiment_between(db, days[0], date), dates=days)
    return HeatmapView(name, date, matrix, source_since(days[0]))


def render_picture(name: str, db: Queryable, date: dt.date, *, source: str | None = None,
                   rotation_frequency: str = "weekly") -> Picture:
    """Render picture `name` for `date` (a session of the marts). `source` defaults to the marts' own."""
    if name in HEATMAPS:
        return heatmap_view(name, db, date, source=source).render()
    if name not in CHARTS:
        raise ValueError(f"unknown picture {name!r}; known: {sorted({**HEATMAPS, **CHARTS})}")
    title, mart = CHARTS[name]

    def source_since(first: dt.date) -> str | None:
        return source if source is not None else marts.data_source(db, first, date)

    if name == "sentiment_gauges":
        png = charts.render_sentiment_gauges(marts.sentiment_between(db, date, date), date=date,
                                             source=source_since(date))
    elif name == "equity_drawdown":
        curves = marts.backtest_between(db, dt.date(1900, 1, 1), date)
        first = min(curves.get_column("date").to_list(), default=date) if curves.height else date
        png = charts.render_equity_drawdown(curves, date=date, source=source_since(first))
    else:
        tails = marts.rotation_tails(db, date, frequency=rotation_frequency, points=charts.RRG_TAIL_POINTS)
        first = min(tails.get_column("date").to_list(), default=date)
        png = charts.render_rotation_graph(tails, date=date, frequency=rotation_frequency,
                                           source=source_since(first))
    return Picture(name, title, mart, date, png)
