"""Named pictures of a date read from the marts: the one place the Dagster assets and the HTML report share.

`render_picture("sector_returns", db, date)` loads what the picture needs (`marts.py`), builds its matrix
(`heatmaps.py`) or chart (`charts.py`) and returns a `Picture` with PNG bytes and a markdown/data-URI form.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from sector_pipeline.report import charts, heatmaps, marts
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


def render_picture(name: str, db: Queryable, date: dt.date, *, source: str | None = None,
                   rotation_frequency: str = "weekly") -> Picture:
    """Render picture `name` for `date` (a session of the marts). `source` defaults to the marts' own."""
    if name in HEATMAPS:
        title, mart = HEATMAPS[name]
    elif name in CHARTS:
        title, mart = CHARTS[name]
    else:
        raise ValueError(f"unknown picture {name!r}; known: {sorted({**HEATMAPS, **CHARTS})}")

    def source_since(first: dt.date) -> str | None:
        return source if source is not None else marts.data_source(db, first, date)

    if name == "sector_returns":
        matrix = heatmaps.returns_matrix(marts.sector_returns_on(db, date))
        png = heatmaps.render_returns_heatmap(matrix, date=date, source=source_since(date))
    elif name in heatmaps.SCORE_HEATMAPS:
        spec = heatmaps.SCORE_HEATMAPS[name]
        days = marts.sessions_up_to(db, date, heatmaps.SCORE_SESSIONS)
        frame = marts.sector_scores_between(db, spec.metric, days[0], date)
        matrix = heatmaps.date_matrix(frame, dates=days, higher_is_better=spec.higher_is_better)
        png = heatmaps.render_scores_heatmap(matrix, spec, date=date, source=source_since(days[0]))
    elif name == "sentiment":
        days = marts.sessions_up_to(db, date, heatmaps.SENTIMENT_SESSIONS)
        matrix = heatmaps.sentiment_matrix(marts.sentiment_between(db, days[0], date), dates=days)
        png = heatmaps.render_sentiment_heatmap(matrix, date=date, source=source_since(days[0]))
    elif name == "sentiment_gauges":
        png = charts.render_sentiment_gauges(marts.sentiment_between(db, date, date), date=date,
                                             source=source_since(date))
    else:
        tails = marts.rotation_tails(db, date, frequency=rotation_frequency, points=charts.RRG_TAIL_POINTS)
        first = min(tails.get_column("date").to_list(), default=date)
        png = charts.render_rotation_graph(tails, date=date, frequency=rotation_frequency,
                                           source=source_since(first))
    return Picture(name, title, mart, date, png)
