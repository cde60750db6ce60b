"""Sentiment gauges and the rotation graph: PNGs that decode, limits, warming-up sectors."""

import datetime as dt
import io

import polars as pl
from PIL import Image

from sector_pipeline.report import charts

D = dt.date(2024, 6, 28)


def size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def test_gauges_render_every_dimension_even_without_a_score():
    frame = pl.DataFrame({
        "date": [D] * 3, "dimension": ["economic_cycle", "interest_rates", "risk_appetite"],
        "label": ["Economic cycle", "Interest rate expectations", "Risk appetite"],
        "score": [0.45, -0.62, None], "band": ["positive", "negative", None],
        "interpretation": ["Expected expansion: overweight cyclicals", "Rate cut expectations", None],
    })
    png = charts.render_sentiment_gauges(frame, date=D, source="synthetic")
    assert size(png) == (990, int((1.25 + 0.9 * 4) * 90))
    assert len(png) < 150_000


def rotation_rows(ticker: str, points: list[tuple[float | None, float | None]]) -> list[dict]:
    return [{"date": D - dt.timedelta(weeks=len(points) - 1 - k), "ticker": ticker, "sector": "S " + ticker,
             "rs_ratio": x, "rs_momentum": y, "quadrant": None, "is_warming_up": x is None or y is None}
            for k, (x, y) in enumerate(points)]


def test_rotation_window_is_square_around_100_and_holds_every_point():
    tails = pl.DataFrame(rotation_rows("XLK", [(101.0, 99.0), (102.0, 100.5), (103.0, 101.0)])
                         + rotation_rows("XLU", [(None, None), (98.5, None), (97.0, 99.5)]))
    valid = tails.drop_nulls(["rs_ratio", "rs_momentum"])
    half = charts.rotation_limits(valid)
    assert half == 3.0 * 1.15
    assert charts.rotation_limits(valid.clear()) == 2.0
    png = charts.render_rotation_graph(tails, date=D, source="yfinance")
    assert size(png) == (990, 756)


def test_rotation_graph_with_every_sector_warming_up_still_renders():
    tails = pl.DataFrame(rotation_rows("XLK", [(None, None)]) + rotation_rows("XLU", [(100.2, None)]),
                         schema_overrides={"rs_ratio": pl.Float64, "rs_momentum": pl.Float64,
                                           "quadrant": pl.String})
    assert size(charts.render_rotation_graph(tails, date=D, source="synthetic")) == (990, 756)
