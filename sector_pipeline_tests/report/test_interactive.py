"""The interactive charts' data: each SVG cell has the PNG's colour and the mart's value; the rotation explorer's
points are aligned with its dates. The browser side is checked in test_ui_browser.py."""

import datetime as dt
import html
import json
import re

import matplotlib
import polars as pl

from sector_pipeline.report import heatmaps as hm
from sector_pipeline.report import interactive
from sector_pipeline.report.charts import rotation_limits
from sector_pipeline.report.pictures import HeatmapView
from sector_pipeline_tests.report.test_heatmaps import D, returns_frame, scores_frame


def cells(svg: str) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    for rect in re.findall(r"<rect ([^>]*)/>", svg):
        attributes = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', rect)}
        found[(attributes["data-row"], attributes["data-col"])] = attributes
    return found


def hex_of(rgba) -> str:
    return matplotlib.colors.to_hex(rgba[:3])


def test_returns_cells_have_the_png_colour_and_the_mart_value():
    matrix = hm.returns_matrix(returns_frame())
    svg = interactive.heatmap_svg(HeatmapView("sector_returns", D, matrix, "synthetic"))
    found = cells(svg)
    assert len(found) == len(matrix.rows) * len(matrix.columns)
    norms = hm.returns_norms(matrix)
    cmap = matplotlib.colormaps[hm.DIVERGING_CMAP]
    j = hm.RETURN_WINDOWS.index("20D")
    xlk = found[("XLK", "20D")]
    assert xlk["fill"] == hex_of(cmap(norms[j](6.5)))
    assert xlk["data-t"] == "XLK  Technology, 20D: +6.5%"
    assert found[("XLRE", "20D")]["data-t"] == "XLRE  Real Estate, 20D: n/a (no value yet)"
    assert found[("XLRE", "20D")]["fill"] == "#ececec"
    assert ">+6.5%</text>" in svg   # the value printed in its cell, as in the PNG


def test_date_heatmap_cells_follow_the_session_columns_and_the_score_scale():
    days = [dt.date(2024, 6, 26), dt.date(2024, 6, 27), dt.date(2024, 6, 28)]
    matrix = hm.date_matrix(scores_frame({"XLK": [310.0, 150.0, 260.0], "XLU": [90.0, None, 205.0]}, days),
                            dates=days)
    spec = hm.SCORE_HEATMAPS["sri_total"]
    svg = interactive.heatmap_svg(HeatmapView("sri_total", days[-1], matrix, "synthetic", spec))
    found = cells(svg)
    norm = hm.score_norm(matrix, spec)
    cmap = matplotlib.colormaps[hm.DIVERGING_CMAP]
    assert found[("XLK", "2024-06-27")]["fill"] == hex_of(cmap(norm(150.0)))
    assert found[("XLK", "2024-06-27")]["data-t"] == "XLK  Technology, 2024-06-27: 150"
    assert found[("XLU", "2024-06-27")]["data-t"].endswith("n/a (no value yet)")
    # rows in the PNG's order (latest value, best first), the latest value printed at the right
    assert svg.index('data-row="XLK"') < svg.index('data-row="XLU"') and ">260</text>" in svg


def test_the_rotation_explorer_aligns_every_sector_with_the_dates():
    days = [dt.date(2024, 4, 12), dt.date(2024, 4, 19), dt.date(2024, 4, 26)]
    history = pl.DataFrame({
        "date": days + days[1:], "ticker": ["XLK"] * 3 + ["XLC"] * 2, "sector": ["Technology"] * 3 + ["Comm"] * 2,
        "rs_ratio": [101.0, 102.5, 103.25, None, 99.0], "rs_momentum": [99.0, 100.0, 101.0, None, 98.5],
        "quadrant": ["weakening", "leading", "leading", None, "lagging"]})
    payload = interactive.rotation_payload(history)
    assert payload["dates"] == [d.isoformat() for d in days] and payload["tail"] == 5
    xlc, xlk = payload["sectors"]
    assert xlk["points"] == [[101.0, 99.0], [102.5, 100.0], [103.25, 101.0]]
    assert xlc["points"] == [None, None, [99.0, 98.5]] and xlc["quadrants"] == [None, None, "lagging"]
    assert payload["half"] == round(rotation_limits(history.drop_nulls(["rs_ratio"])), 3)
    page = interactive.rotation_explorer(history)
    assert 'max="2" value="2"' in page and ">2024-04-26</output>" in page
    data = re.search(r'id="rrg-data">(.*?)</script>', page).group(1)
    assert json.loads(data) == payload
    assert "no rotation points yet" in interactive.rotation_explorer(history.clear())
