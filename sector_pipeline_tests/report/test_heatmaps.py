"""Heatmap data-prep (value in the right cell, NULL masked, row order), colour norms, and the drawn pixels."""

import datetime as dt
import io

import matplotlib
import numpy as np
import polars as pl
import pytest
from matplotlib.colors import Normalize, TwoSlopeNorm
from PIL import Image

from sector_pipeline.report import heatmaps as hm
from sector_pipeline.report.figures import MISSING_FACE, png_bytes, source_text

D = dt.date(2024, 6, 28)
SECTORS = {"XLK": "Technology", "XLU": "Utilities", "XLE": "Energy", "XLRE": "Real Estate"}


def returns_frame() -> pl.DataFrame:
    """marts.sector_returns of one date; XLRE is warming up (NULL 20D and longer), XLE has no 252D."""
    values = {
        "XLK": [1.1, 2.2, 6.5, 10.0, 15.0, 12.0, 30.0],
        "XLU": [-0.4, -1.0, -2.5, 1.0, 3.0, 2.0, -4.0],
        "XLE": [0.3, 0.9, 3.25, -6.0, -8.0, -5.0, None],
        "XLRE": [0.2, -0.3, None, None, None, None, None],
    }
    rows = [{"date": D, "ticker": t, "sector": SECTORS[t], "metric": m, "metric_order": k + 1, "value": v}
            for t, vs in values.items() for k, (m, v) in enumerate(zip(hm.RETURN_WINDOWS, vs, strict=True))]
    return pl.DataFrame(rows, schema_overrides={"value": pl.Float64})


def test_returns_matrix_puts_each_mart_value_in_its_cell():
    frame = returns_frame()
    matrix = hm.returns_matrix(frame)
    for row in frame.iter_rows(named=True):
        assert matrix[row["ticker"]][row["metric"]] == row["value"]
    assert matrix["XLK"]["20D"] == 6.5
    assert matrix.columns == ("1D", "5D", "20D", "60D", "126D", "YTD", "252D")


def test_returns_rows_are_sorted_by_20d_with_warming_up_sectors_last():
    matrix = hm.returns_matrix(returns_frame())
    assert matrix.rows == ("XLK", "XLE", "XLU", "XLRE")
    assert matrix.row_labels == ("XLK  Technology", "XLE  Energy", "XLU  Utilities", "XLRE  Real Estate")


def test_null_cells_are_masked():
    matrix = hm.returns_matrix(returns_frame())
    assert matrix.missing.sum() == 6
    assert matrix.missing[matrix.rows.index("XLE"), hm.RETURN_WINDOWS.index("252D")]
    assert matrix["XLRE"]["20D"] is None and matrix["XLRE"]["1D"] == 0.2


def test_returns_matrix_refuses_several_dates():
    frame = pl.concat([returns_frame(), returns_frame().with_columns(date=pl.lit(dt.date(2024, 6, 27)))])
    with pytest.raises(ValueError, match="one date"):
        hm.returns_matrix(frame)


def test_per_window_norms_are_centred_on_zero_with_the_column_extreme_as_limit():
    matrix = hm.returns_matrix(returns_frame())
    norms = hm.returns_norms(matrix)
    assert len(norms) == 7
    for j, norm in enumerate(norms):
        assert norm.vmin == -norm.vmax
        column = matrix.values[:, j]
        if np.isfinite(column).any():
            assert norm.vmax == pytest.approx(np.nanmax(np.abs(column)))
    assert norms[hm.RETURN_WINDOWS.index("20D")].vmax == 6.5
    assert norms[hm.RETURN_WINDOWS.index("1D")](0.0) == 0.5  # zero sits in the middle of the colour map
    shared = hm.returns_norms(matrix, scale="shared")
    assert {(n.vmin, n.vmax) for n in shared} == {(-30.0, 30.0)}


def scores_frame(metric_values: dict[str, list[float | None]], days: list[dt.date]) -> pl.DataFrame:
    rows = [{"date": d, "ticker": t, "sector": SECTORS[t], "value": v}
            for t, vs in metric_values.items() for d, v in zip(days, vs, strict=True)]
    return pl.DataFrame(rows, schema_overrides={"value": pl.Float64})


def test_date_matrix_uses_the_session_calendar_and_sorts_by_the_latest_value():
    days = [dt.date(2024, 6, 25), dt.date(2024, 6, 26), dt.date(2024, 6, 27), dt.date(2024, 6, 28)]
    frame = scores_frame({"XLK": [1.0, 2.0, 3.0, -1.0], "XLU": [None, None, 0.5, 4.0],
                          "XLE": [0.0, 0.1, 0.2, None]}, days[:4])
    frame = frame.filter(pl.col("date") != days[1])  # a session without rows in the mart
    matrix = hm.date_matrix(frame, dates=days)
    assert matrix.columns == tuple(days)
    assert matrix.rows == ("XLU", "XLK", "XLE")                    # 4.0, -1.0, then missing last
    assert matrix["XLK"][days[0]] == 1.0 and matrix["XLU"][days[3]] == 4.0
    assert all(matrix[t][days[1]] is None for t in matrix.rows)    # missing session -> masked column
    assert matrix["XLU"][days[0]] is None and matrix["XLE"][days[3]] is None
    ranks = hm.date_matrix(frame, dates=days, higher_is_better=False)
    assert ranks.rows == ("XLK", "XLU", "XLE")


def test_score_norms_diverge_around_their_centre_and_ranks_are_sequential():
    days = [dt.date(2024, 6, 27), dt.date(2024, 6, 28)]
    composite = hm.date_matrix(scores_frame({"XLK": [1.5, -0.5], "XLU": [-0.2, 0.3]}, days), dates=days)
    norm = hm.score_norm(composite, hm.SCORE_HEATMAPS["composite_score"])
    assert isinstance(norm, TwoSlopeNorm) and norm.vcenter == 0 and norm.vmin == -norm.vmax
    sri = hm.date_matrix(scores_frame({"XLK": [310.0, 150.0], "XLU": [90.0, 205.0]}, days), dates=days)
    norm = hm.score_norm(sri, hm.SCORE_HEATMAPS["sri_total"])
    assert norm.vcenter == 200 and norm.vmin + norm.vmax == pytest.approx(400)
    assert norm(200.0) == 0.5
    ranks = hm.date_matrix(scores_frame({"XLK": [1.0, 2.0], "XLU": [2.0, 1.0]}, days), dates=days,
                           higher_is_better=False)
    norm = hm.score_norm(ranks, hm.SCORE_HEATMAPS["composite_rank"])
    assert type(norm) is Normalize and (norm.vmin, norm.vmax) == (1.0, 2.0)
    assert hm.SCORE_HEATMAPS["composite_rank"].kind == "sequential"


def test_sentiment_matrix_keeps_the_seed_order_and_a_fixed_scale():
    days = [dt.date(2024, 6, 27), dt.date(2024, 6, 28)]
    rows = [{"date": d, "dimension": dim, "label": label, "score": s}
            for d, scores in zip(days, ([0.1, -0.2, 0.35, -0.7], [0.4, -0.1, 0.0, -0.65]), strict=True)
            for (dim, label), s in zip([("risk_appetite", "Risk appetite"),
                                        ("interest_rates", "Interest rate expectations"),
                                        ("economic_cycle", "Economic cycle"),
                                        ("inflation", "Inflation expectations")], scores, strict=True)]
    matrix = hm.sentiment_matrix(pl.DataFrame(rows), dates=[dt.date(2024, 6, 26), *days])
    assert matrix.rows == ("economic_cycle", "interest_rates", "inflation", "risk_appetite")
    assert matrix.row_labels[0] == "Economic cycle"
    assert matrix["economic_cycle"][days[0]] == 0.35 and matrix["risk_appetite"][days[1]] == 0.4
    assert matrix["inflation"][dt.date(2024, 6, 26)] is None
    norm = hm.sentiment_norm()
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-1.0, 0.0, 1.0)


def _pixel(figure, image: np.ndarray, x: float, y: float) -> np.ndarray:
    """RGB (0-1) of the PNG pixel at data point (x, y) of the heatmap axes."""
    ax = next(a for a in figure.axes if a.get_label() == "heatmap")
    px, py = ax.transData.transform((x, y))
    return image[round(image.shape[0] - py), round(px), :3]


def test_drawn_cells_have_their_colour_text_and_missing_cells_are_hatched_grey():
    matrix = hm.returns_matrix(returns_frame())
    figure = hm.draw_returns_heatmap(matrix, date=D, source="synthetic")
    png = png_bytes(figure)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    assert image.shape == (int(figure.get_figheight() * 90), int(figure.get_figwidth() * 90), 3)
    norms = hm.returns_norms(matrix)
    cmap = matplotlib.colormaps[hm.DIVERGING_CMAP]
    i, j = matrix.rows.index("XLK"), hm.RETURN_WINDOWS.index("20D")
    # a corner of the cell, away from its text
    expected = np.asarray(cmap(norms[j](6.5))[:3])
    assert np.abs(_pixel(figure, image, j - 0.38, i - 0.38) - expected).max() < 0.02
    ax = next(a for a in figure.axes if a.get_label() == "heatmap")
    cells = [t for t in ax.texts if t.get_transform() == ax.transData]   # not the row and column labels
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in cells}
    assert len(texts) == len(matrix.rows) * len(matrix.columns)
    assert texts[(j, i)] == "+6.5%"
    k = matrix.rows.index("XLRE")
    assert texts[(j, k)] == "n/a"
    grey = [_pixel(figure, image, j + dx, k + dy) for dx in np.linspace(-0.4, 0.4, 9) for dy in (-0.38, 0.38)]
    face = np.asarray(matplotlib.colors.to_rgb(MISSING_FACE))
    for rgb in grey:  # only the light face or the hatch lines: neutral greys, never a colour of the map
        assert np.ptp(rgb) < 0.03 and rgb.min() > 0.5
    assert any(np.abs(rgb - face).max() < 0.02 for rgb in grey)
    assert any(np.abs(rgb - face).max() > 0.1 for rgb in grey)  # the hatch lines are there


def test_pictures_are_png_of_the_expected_size_and_name_synthetic_data():
    days = [dt.date(2024, 4, 1) + dt.timedelta(days=k) for k in range(60)]
    values = {t: list(np.linspace(-5, 5, 60) * (k + 1)) for k, t in enumerate(SECTORS)}
    matrix = hm.date_matrix(scores_frame(values, days), dates=days)
    spec = hm.SCORE_HEATMAPS["relative_strength_change_20d"]
    figure = hm.draw_scores_heatmap(matrix, spec, date=days[-1], source="synthetic")
    assert any(t.get_text() == source_text("synthetic") for t in figure.texts)
    assert "SYNTHETIC DATA" in source_text("synthetic") and "SYNTHETIC" not in source_text("yfinance")
    assert any(days[-1].isoformat() in t.get_text() for t in figure.texts)
    png = hm.render_scores_heatmap(matrix, spec, date=days[-1], source="synthetic")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1080, int((2.25 + 0.36 * 4) * 90))
    assert len(png) < 150_000
    bar = next(a for a in figure.axes if a.get_label() != "heatmap")
    assert "%" in bar.get_ylabel()  # the colour bar says its unit

