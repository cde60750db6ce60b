"""The HTML report escapes every text, loads nothing from outside the file, and shows the strategy honestly."""

import datetime as dt
import io
import json
import re

import polars as pl
from PIL import Image

from sector_pipeline.report.html import ReportInputs, StrategyInputs, render_html, write_report
from sector_pipeline.report.pictures import CHARTS, HEATMAPS, Picture

D = dt.date(2024, 3, 26)
HOSTILE = '<script>alert("x")</script> & "quotes"'


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def strategy() -> StrategyInputs:
    skill = pl.DataFrame({
        "date": [D] * 3, "signal_date": [D - dt.timedelta(days=28)] * 3, "signal": ["model", "momentum", "composite"],
        "horizon_sessions": [20] * 3, "ic_mean": [0.05, 0.04, 0.03], "ic_t_stat": [4.1, 3.0, 2.2],
        "non_overlapping_dates": [40, 40, 40], "ic_t_stat_non_overlapping": [1.2, 0.9, 0.4],
        "hit_rate_pooled": [0.52, 0.51, 0.5], "dates_evaluated": [800, 800, 800]})
    performance = pl.DataFrame({
        "date": [D] * 2, "book": ["model", "benchmark"], "total_return_pct": [12.5, 10.0], "cagr_pct": [3.0, 2.5],
        "annualised_volatility_pct": [15.0, 16.0], "sharpe": [0.2, 0.15], "max_drawdown_pct": [-20.0, -25.0],
        "average_annual_turnover": [3.0, 0.0], "total_cost_pct": [0.6, 0.0], "hit_rate_vs_benchmark": [0.51, None]})
    weights = pl.DataFrame({
        "date": [D, D, D - dt.timedelta(days=5)], "book": ["model", "model", "momentum_top3"],
        "ticker": ["XLK", "XLU", "XLK"], "sector": [HOSTILE, "Utilities", HOSTILE], "weight": [0.2, 0.8, 1.0],
        "previous_weight": [0.25, 0.75, 0.0], "rule_group": ["top", "bottom", "top"]})
    return StrategyInputs(performance=performance, weights=weights, skill=skill)


def rotation() -> pl.DataFrame:
    return pl.DataFrame({
        "date": [D - dt.timedelta(weeks=1), D, D - dt.timedelta(weeks=1), D], "ticker": ["XLK", "XLK", "XLU", "XLU"],
        "sector": [HOSTILE] * 2 + ["Utilities"] * 2, "rs_ratio": [101.0, 102.0, None, 98.0],
        "rs_momentum": [99.0, 100.5, None, 99.0], "quadrant": ["weakening", "leading", None, "lagging"],
        "is_warming_up": [False, False, True, False]})


def inputs(source: str = "synthetic", *, with_strategy: bool = True) -> ReportInputs:
    alerts = pl.DataFrame({"date": [D], "tier": ["CRITICAL"], "alert_type": ["extreme_reading"],
                           "dimension": ["risk_appetite"], "value": [-0.62], "threshold": [0.6], "message": [HOSTILE]})
    sectors = pl.DataFrame({
        "date": [D] * 2, "ticker": ["XLK", "XLRE"], "sector": ["<b>Tech</b>", "Real Estate"],
        "relative_strength_change_20d_pct": [1.5, None], "composite_score": [0.8, None],
        "composite_rank": [1, None], "sri_total_score": [250.0, None], "sri_rank": [1, None],
        "rs_ratio": [101.0, None], "rs_momentum": [99.0, None]})
    sentiment = pl.DataFrame({"date": [D], "dimension": ["risk_appetite"], "label": ["Risk appetite"],
                              "score": [-0.62], "band": ["negative"], "interpretation": ["Risk-off: flight to quality"],
                              "top_contributors": ["XLU -0.25"]})
    pictures = {name: Picture(name, title, mart, D, tiny_png())
                for name, (title, mart) in {**HEATMAPS, **CHARTS}.items()}
    return ReportInputs(date=D, source=source, database="/tmp/<odd> path.duckdb",
                        overview={"benchmark": "SPY", "benchmark_return_1d_pct": 0.5, "leaders": "XLK",
                                  "laggards": "XLE & XLB", "source": source},
                        sentiment=sentiment, alerts_today=alerts, alerts_recent=alerts.clear(),
                        recent_from=dt.date(2024, 2, 27), sectors=sectors, pictures=pictures,
                        rotation_history=rotation(), strategy=strategy() if with_strategy else None)


def test_every_text_is_escaped():
    page = render_html(inputs())
    assert HOSTILE not in page and "<b>Tech</b>" not in page and "<odd>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "&lt;b&gt;Tech&lt;/b&gt;" in page and "XLE &amp; XLB" in page
    # in the JSON of the rotation explorer a sector name cannot close the script element
    data = re.search(r'<script type="application/json" id="rrg-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and json.loads(data)["sectors"][0]["sector"] == HOSTILE


def test_the_page_is_self_contained():
    page = render_html(inputs())
    assert not re.search(r'(src|href)\s*=\s*"(?!data:image/png;base64,)', page)
    assert "http://" not in page and "https://" not in page and "@import" not in page and "//cdn" not in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(HEATMAPS) + len(CHARTS)
    # scripts: the explorer's data and one inline script, none loaded from anywhere
    assert re.findall(r"<script[^>]*>", page) == ['<script type="application/json" id="rrg-data">', "<script>"]


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


def section(page: str, heading: str) -> str:
    start = page.index(f"<h3>{heading}")
    return page[start:page.find("<h3>", start + 4)]


def test_the_strategy_section_reads_the_skill_before_the_numbers():
    page = render_html(inputs())
    skill = section(page, "Out-of-sample skill")
    # the honest t-stat (non-overlapping) is below 2: the page says the model is not shown to work
    assert ("IC t-stat 1.20 &lt; 2 over 40 non-overlapping periods: not distinguishable from no skill" in skill)
    assert "<td class=\"num\">+1.20</td>" in skill and "<td class=\"num\">+4.10</td>" in skill
    assert skill.index("Model skill") < skill.index("<table")
    performance = section(page, "Performance")
    assert "<td class=\"num\">+12.5 %</td>" in performance and "<td class=\"num\">-25.0 %</td>" in performance
    weights = section(page, "Current weights per book")
    assert f"<th>model<br><small>{D}</small></th>" in weights
    assert f"<th>momentum_top3<br><small>{D - dt.timedelta(days=5)}</small></th>" in weights
    assert '<td class="num">80.0%</td>' in weights and '<td class="num">100.0%</td>' in weights
    assert '<td class="num">n/a</td>' in weights   # XLU is not in the momentum book's decision


def test_without_strategy_output_the_report_says_why():
    page = render_html(inputs(with_strategy=False))
    assert "no strategy output yet: the walk-forward model trains after about a year of history" in page
    assert "Model skill" not in page
