"""The HTML report escapes every text and loads nothing from outside the file."""

import datetime as dt
import io
import re

import polars as pl
from PIL import Image

from sector_pipeline.report.html import ReportInputs, render_html, write_report
from sector_pipeline.report.pictures import CHARTS, HEATMAPS, Picture

D = dt.date(2024, 3, 26)


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def inputs(source: str = "synthetic") -> ReportInputs:
    hostile = '<script>alert("x")</script> & "quotes"'
    alerts = pl.DataFrame({"date": [D], "tier": ["CRITICAL"], "alert_type": ["extreme_reading"],
                           "dimension": ["risk"], "value": [-0.62], "threshold": [0.6], "message": [hostile]})
    sectors = pl.DataFrame({
        "date": [D] * 2, "ticker": ["XLK", "XLRE"], "sector": ["<b>Tech</b>", "Real Estate"],
        "relative_strength_change_20d_pct": [1.5, None], "composite_score": [0.8, None],
        "composite_rank": [1.0, None], "sri_total_score": [250.0, None], "sri_rank": [1.0, None],
        "rs_ratio": [101.0, None], "rs_momentum": [99.0, None]})
    sentiment = pl.DataFrame({"date": [D], "dimension": ["risk"], "label": ["Risk appetite"], "score": [-0.62],
                              "band": ["negative"], "interpretation": ["Risk-off: flight to quality"],
                              "top_contributors": ["XLU -0.25"]})
    pictures = {name: Picture(name, title, mart, D, tiny_png())
                for name, (title, mart) in {**HEATMAPS, **CHARTS}.items()}
    return ReportInputs(date=D, source=source, database="/tmp/<odd> path.duckdb",
                        overview={"benchmark": "SPY", "benchmark_return_1d_pct": 0.5, "leaders": "XLK",
                                  "laggards": "XLE & XLB", "source": source},
                        sentiment=sentiment, alerts_today=alerts, alerts_recent=alerts.clear(),
                        recent_from=dt.date(2024, 2, 27), sectors=sectors, pictures=pictures)


def test_every_text_is_escaped():
    page = render_html(inputs())
    assert "<script>" not in page and "<b>Tech</b>" not in page and "<odd>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "&lt;b&gt;Tech&lt;/b&gt;" in page and "XLE &amp; XLB" in page


def test_the_page_is_self_contained():
    page = render_html(inputs())
    assert not re.search(r'(src|href)\s*=\s*"(?!data:image/png;base64,)', page)
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(HEATMAPS) + len(CHARTS)


def test_synthetic_data_is_announced_and_real_data_is_not_called_synthetic():
    assert 'class="synthetic">SYNTHETIC DATA' in render_html(inputs())
    real = render_html(inputs("yfinance"))
    assert "SYNTHETIC" not in real and "data source: yfinance" in real


def test_warming_up_sectors_are_named_and_the_write_is_complete(tmp_path):
    page = render_html(inputs())
    assert "Not ranked yet (warming up): XLRE." in page
    out = write_report(page, tmp_path / "sub" / "report.html")
    assert out.read_text(encoding="utf-8") == page
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary file left behind
