"""End to end: the real pipeline with the heatmap assets, then the report command on the published marts.

The model may train after 40 labelled dates (FAST_MODEL), so the ten months hold a backtest to report.
"""

import base64
import datetime as dt
import hashlib
import html
import io
import os
import re
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from PIL import Image

from sector_pipeline.defs.heatmap_assets import HEATMAP_ASSETS, HeatmapOutputResource
from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline.report.heatmaps import returns_matrix
from sector_pipeline.report.marts import MartsReader, sector_returns_on, skill_reading
from sector_pipeline.settings import PROJECT_ROOT
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
START, LAST = D(2023, 6, 1), D(2024, 3, 28)    # Good Friday 2024-03-29 is not in the range
NAMES = ["sector_returns", "relative_strength_change_20d", "composite_score", "sri_total", "sentiment"]
IMAGE = re.compile(r"^!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)$")


def heatmap_definitions(warehouse, heatmap_dir) -> dg.Definitions:
    output = HeatmapOutputResource(directory=str(heatmap_dir))
    base = definitions(warehouse, resources={"heatmap_output": output})
    if any(key.path[0] == "heatmaps" for key in base.resolve_all_asset_keys()):
        return base  # build_definitions registers them already
    return dg.Definitions.merge(base, dg.Definitions(assets=HEATMAP_ASSETS))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    result = run_range(heatmap_definitions(root / "warehouse.duckdb", root / "heatmaps"), START, LAST,
                       ops=FAST_MODEL)
    assert result.success
    return root, result


def png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def test_each_heatmap_asset_shows_its_picture_of_the_latest_session(pipeline):
    root, result = pipeline
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "heatmaps"]
    # unpartitioned: one materialization per asset and run, whatever the length of the range
    assert sorted(e.asset_key.path[1] for e in events) == sorted(NAMES)
    for event in events:
        name, metadata = event.asset_key.path[1], event.materialization.metadata
        assert metadata["status"].value == "rendered"
        assert metadata["pictured_date"].value == LAST.isoformat()
        assert metadata["data_source"].value == "synthetic"
        match = IMAGE.match(metadata["heatmap"].value)
        assert match, name
        png = base64.b64decode(match.group(1))
        assert png_size(png)[0] in (882, 1080) and len(png) < 150_000
        assert (root / "heatmaps" / f"{name}_{LAST.isoformat()}.png").read_bytes() == png   # the same file on disk


def test_returns_matrix_of_the_real_marts_holds_the_mart_values(pipeline):
    root, _ = pipeline
    published = root / "published" / PUBLISHED_DB
    with duckdb.connect(str(published), read_only=True) as conn:
        expected = dict(conn.execute("select ticker || '/' || metric, value from marts.sector_returns "
                                     "where date = ?", [LAST]).fetchall())
    with MartsReader(published) as reader:
        matrix = returns_matrix(sector_returns_on(reader, LAST))
    assert len(matrix.rows) == 11 and len(expected) == 77
    for key, value in expected.items():
        ticker, metric = key.split("/")
        assert matrix[ticker][metric] == value
    assert matrix["XLK"]["20D"] == expected["XLK/20D"] is not None
    assert matrix["XLK"]["252D"] is None  # 209 sessions of history: the 252-session return is warming up
    twenty = [matrix[t]["20D"] for t in matrix.rows]
    assert twenty == sorted(twenty, reverse=True)


def run_report(*args: str, cwd) -> subprocess.CompletedProcess:
    # the package of this checkout, whatever the working directory (an installed copy may be another one)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "sector_pipeline.report", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False, env=env)


def section(page: str, heading: str) -> str:
    start = page.index(f"<h2>{heading}")
    end = page.find("<h2>", start + 4)
    return page[start:end if end > 0 else None]


def test_report_command_writes_the_date_from_the_published_marts(pipeline):
    root, _ = pipeline
    published = root / "published" / PUBLISHED_DB
    with duckdb.connect(str(published), read_only=True) as conn:
        # the latest session with alerts once the backtest runs: every section of the report has rows
        report_date = conn.execute("select max(date) from marts.alerts where date > "
                                   "(select min(date) from marts.backtest)").fetchone()[0]
    assert report_date is not None, "this synthetic history should hold alerts after the backtest starts"
    before = hashlib.sha256(published.read_bytes()).hexdigest()
    out = root / "reports" / "report.html"
    done = run_report("--date", report_date.isoformat(), "--published", str(root / "published"), "--out", str(out),
                      cwd=root)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(published.read_bytes()).hexdigest() == before  # read-only
    page = out.read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 8   # five heatmaps, gauges, rotation graph, equity and drawdown
    assert all(png_size(base64.b64decode(b)) for b in images)
    assert "http://" not in page and "https://" not in page

    with duckdb.connect(str(published), read_only=True) as conn:
        alerts = conn.execute("select tier, alert_type, message from marts.alerts where date = ? order by all",
                              [report_date]).fetchall()
        sentiment = conn.execute("select score, band, interpretation from marts.sentiment where date = ?",
                                 [report_date]).fetchall()
        leader = conn.execute("select ticker from marts.sector_scores_wide where date = ? and composite_rank = 1",
                              [report_date]).fetchone()[0]
    assert alerts, "the fixture date should hold alerts"
    today = section(page, f"Alerts on {report_date.isoformat()}")
    assert today.count("<tr class=") == len(alerts)
    for tier, alert_type, message in alerts:
        assert f'<tr class="{tier}"><td class="">{report_date.isoformat()}</td><td class="">{tier}</td>' \
               f'<td class="">{alert_type}</td>' in today
        assert html.escape(message) in today
    readings = section(page, "Sentiment")
    assert len(sentiment) == 4
    for score, band, interpretation in sentiment:
        assert f"{score:+.3f}" in readings and html.escape(interpretation) in readings and band in readings
    top = section(page, "Top and bottom sectors")
    assert f'<td class="num">1</td><td class="">{leader}</td>' in top.split("<h3>Bottom</h3>")[0]

    strategy = section(page, "Strategy")
    with duckdb.connect(str(published), read_only=True) as conn:
        skill = conn.execute("select signal, ic_mean, ic_t_stat_non_overlapping, non_overlapping_dates "
                             "from marts.skill where date = (select max(date) from marts.skill where date <= ?)",
                             [report_date]).fetchall()
        weights = conn.execute("select ticker, weight from marts.allocations where book = 'model' and date = "
                               "(select max(date) from marts.allocations where book = 'model' and date <= ?)",
                               [report_date]).fetchall()
        cagr = conn.execute("select cagr_pct from marts.strategy_performance where book = 'model' and date = ?",
                            [report_date]).fetchone()[0]
    assert len(skill) == 3 and len(weights) == 11
    model = next(row for row in skill if row[0] == "model")
    assert html.escape(skill_reading(model[3], model[2])) in strategy   # the honest reading, first
    for _, ic_mean, t_stat, _ in skill:
        assert f'<td class="num">{ic_mean:+.3f}</td>' in strategy and f'<td class="num">{t_stat:+.2f}</td>' in strategy
    assert f'<td class="num">{cagr:+.1f} %</td>' in strategy
    table = strategy[strategy.index('<table class="weights">'):]
    for ticker, weight in weights:
        assert re.search(rf'<td class="">{ticker}</td><td class="">[^<]*</td><td class="num">{weight:.1%}</td>', table)

    heatmaps = section(page, "Heatmaps")
    with duckdb.connect(str(published), read_only=True) as conn:
        value = conn.execute("select value from marts.sector_returns where date = ? and ticker = 'XLK' "
                             "and metric = '20D'", [report_date]).fetchone()[0]
    assert f'data-row="XLK" data-col="20D" data-t="XLK  Technology, 20D: {value:+.1f}%"' in heatmaps
    assert heatmaps.count('<svg class="hm"') == 5 and '<input type="range" id="rrg-slider"' in page


def test_a_date_without_data_names_the_latest_available_date(pipeline):
    root, _ = pipeline
    done = run_report("--date", "2024-03-30", "--published", str(root / "published"), cwd=root)
    assert done.returncode == 2
    assert "no data for 2024-03-30" in done.stderr and "latest available date is 2024-03-28" in done.stderr
    assert not (root / "data").exists()
