"""The MCP server as an agent meets it: a subprocess over stdio, every answer checked against the published file.

One real publication is built for the module (the whole pipeline, 2023-06-01..2024-04-30, synthetic source,
the model allowed to train after 40 sessions of labels so that predictions, allocations and the backtest exist);
the server runs as `python -m sector_pipeline.mcp_server --published DIR` and is driven by the `mcp` client
library through an anyio blocking portal, so the tests themselves stay synchronous.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters, stdio_client

from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline.settings import PROJECT_ROOT
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
TOOLS = {"get_sector_heatmap", "get_sector_performance", "get_market_overview", "get_macro_indicators",
         "get_sentiment", "get_alerts", "get_allocation", "get_backtest"}
FIRST, LAST = D(2023, 6, 1), D(2024, 4, 30)
DIMENSIONS = ["economic_cycle", "interest_rates", "inflation", "risk_appetite"]
BOOKS = ["model", "composite", "momentum_top3", "equal_weight"]
WINDOWS = ["1D", "5D", "20D", "60D", "126D", "YTD", "252D"]
SECTORS = "XLB, XLC, XLE, XLF, XLI, XLK, XLP, XLRE, XLU, XLV, XLY"
TOL = 1e-6   # the server rounds floats to 6 decimal places


class McpClient:
    """A live stdio session, called synchronously."""

    def __init__(self, portal: BlockingPortal, session: ClientSession):
        self.portal, self.session = portal, session

    def list_tools(self) -> Any:
        return self.portal.call(self.session.list_tools)

    def call(self, name: str, **arguments: Any) -> Any:
        return self.portal.call(self.session.call_tool, name, arguments)

    def ok(self, name: str, **arguments: Any) -> dict[str, Any]:
        result = self.call(name, **arguments)
        text = result.content[0].text
        assert not result.is_error, text
        answer = json.loads(text)
        assert result.structured_content == answer   # the same dict as structured content and as JSON text
        return answer

    def error(self, name: str, **arguments: Any) -> str:
        result = self.call(name, **arguments)
        assert result.is_error, result.content
        return result.content[0].text


@asynccontextmanager
async def _session(params: StdioServerParameters, errlog: Any) -> AsyncIterator[ClientSession]:
    async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextmanager
def mcp_client(published: Path | None, log: Path, env: dict[str, str] | None = None) -> Iterator[McpClient]:
    """`python -m sector_pipeline.mcp_server [--published DIR]` from the repo root, its stderr in `log`."""
    args = ["-m", "sector_pipeline.mcp_server"] + ([] if published is None else ["--published", str(published)])
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(PROJECT_ROOT), env=env)
    with open(log, "w") as errlog, start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(_session(params, errlog)) as session:
        yield McpClient(portal, session)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The real pipeline over eleven months in one run; the publish asset runs last."""
    path = tmp_path_factory.mktemp("mcp") / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, FIRST, LAST, ops=FAST_MODEL).success
    published = path.parent / "published"
    assert (published / PUBLISHED_DB).is_file()
    return defs, published


@pytest.fixture(scope="module")
def published(pipeline: tuple[Any, Path]) -> Path:
    return pipeline[1]


@pytest.fixture(scope="module")
def server_log(published: Path) -> Path:
    return published.parent / "mcp_server.log"


@pytest.fixture(scope="module")
def client(published: Path, server_log: Path) -> Iterator[McpClient]:
    with mcp_client(published, server_log) as live:
        yield live


def query(published: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(published / PUBLISHED_DB), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def scalar(published: Path, sql: str, params: list[Any] | None = None) -> Any:
    return query(published, sql, params)[0][0]


def assert_provenance(answer: dict[str, Any], published: Path) -> None:
    published_at, run_id = query(published, "select max(published_at), arg_max(run_id, published_at) "
                                            "from marts.publish_manifest")[0]
    assert dt.datetime.fromisoformat(answer["publication"]["published_at"]) == published_at
    assert answer["publication"]["run_id"] == run_id
    assert answer["source"] == "synthetic" and answer["is_synthetic"] is True
    assert answer["notice"].startswith("SYNTHETIC DATA")


def test_lists_the_tools_with_typed_input_schemas(client: McpClient) -> None:
    tools = {tool.name: tool for tool in client.list_tools().tools}
    assert set(tools) == TOOLS
    performance = tools["get_sector_performance"].input_schema["properties"]
    assert performance["window"]["enum"] == WINDOWS and performance["window"]["default"] == "20D"
    assert {"type": "array", "items": {"type": "string"}} in performance["sectors"]["anyOf"]
    assert "latest" in performance["date"]["description"]
    assert tools["get_sector_heatmap"].input_schema["properties"]["kind"]["enum"] == ["returns", "scores"]
    days = tools["get_sentiment"].input_schema["properties"]["days"]
    assert (days["type"], days["minimum"], days["maximum"], days["default"]) == ("integer", 1, 260, 1)
    assert tools["get_alerts"].input_schema["properties"]["tier"]["enum"] == ["CRITICAL", "HIGH", "MEDIUM", None]
    allocation = tools["get_allocation"].input_schema["properties"]
    assert allocation["risk_tolerance"]["enum"] == ["low", "medium", "high", None]
    points = tools["get_backtest"].input_schema["properties"]["points"]
    assert (points["minimum"], points["maximum"], points["default"]) == (2, 100, 100)
    assert all(tool.annotations.read_only_hint and tool.description for tool in tools.values())


def assert_skill(answer: dict[str, Any], published: Path) -> None:
    """prediction_skill is the model's latest row of marts.skill on or before the answer's date, with a reading."""
    day = answer.get("date") or answer["end"]
    as_of, ic_mean, t_stat, periods, hit_rate = query(
        published, "select date, ic_mean, ic_t_stat_non_overlapping, non_overlapping_dates, hit_rate_pooled "
                   "from marts.skill where signal = 'model' and date <= ? order by date desc limit 1", [day])[0]
    skill = answer["prediction_skill"]
    assert skill["as_of"] == as_of.isoformat() and skill["horizon_sessions"] == 20
    assert skill["model"] == {"ic_mean": pytest.approx(ic_mean, abs=TOL), "ic_t_stat": pytest.approx(t_stat, abs=TOL),
                              "non_overlapping_periods": periods, "hit_rate": pytest.approx(hit_rate, abs=TOL)}
    assert skill["momentum_baseline"]["ic_t_stat"] == pytest.approx(scalar(
        published, "select ic_t_stat_non_overlapping from marts.skill where signal = 'momentum' and date = ?",
        [as_of]), abs=TOL)
    # eleven months of history give fewer than 12 non-overlapping 20-session periods: said, not hidden
    assert periods < 12 and skill["reading"].startswith(f"only {periods} non-overlapping period(s) evaluated")


def test_heatmap_of_returns_is_the_published_matrix_of_the_latest_session(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_heatmap")
    assert_provenance(answer, published)
    latest = scalar(published, "select max(date) from marts.sector_returns")
    assert answer["date"] == latest.isoformat() == "2024-04-30"
    assert answer["metrics"] == WINDOWS
    expected = query(published, "select ticker, sector, metric, value from marts.sector_returns where date = ?",
                     [latest])
    rows = {row["ticker"]: row for row in answer["rows"]}
    assert ", ".join(rows) == SECTORS
    assert len(expected) == 11 * 7
    for ticker, sector, metric, value in expected:
        assert rows[ticker]["sector"] == sector
        assert rows[ticker][metric] == (None if value is None else pytest.approx(value, abs=TOL))
    assert rows["XLK"]["20D"] is not None and rows["XLK"]["252D"] is None   # 252 sessions not loaded yet
    assert_sector_extras(answer["rows"], latest, published)
    assert_skill(answer, published)


def assert_sector_extras(rows: list[dict[str, Any]], day: dt.date, published: Path) -> None:
    """Each sector row carries the mart's prediction_strength, its rank and the relative volume of that day."""
    predictions = {t: (s, r) for t, s, r in query(
        published, "select ticker, prediction_strength, prediction_rank from marts.predictions where date = ?",
        [day])}
    volume = dict(query(published, "select ticker, value from marts.sector_scores "
                                   "where date = ? and metric = 'relative_volume_20d'", [day]))
    assert len(predictions) == len(volume) == 11
    for row in rows:
        strength, rank = predictions[row["ticker"]]
        assert row["prediction_strength"] == pytest.approx(strength, abs=TOL)
        assert row["prediction_rank"] == rank
        assert row["relative_volume_20d"] == pytest.approx(volume[row["ticker"]], abs=TOL)
    assert sorted(row["prediction_rank"] for row in rows) == list(range(1, 12))


def test_heatmap_of_scores_on_a_given_date(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_heatmap", date="2024-04-15", kind="scores")
    assert answer["date"] == "2024-04-15" and answer["table"] == "marts.sector_scores"
    assert answer["metrics"] == ["relative_strength_change_20d_pct", "composite_score", "composite_rank",
                                 "sri_total_score", "sri_rank", "rs_ratio", "rs_momentum"]
    expected = dict(query(published, "select ticker, value from marts.sector_scores "
                                     "where date = '2024-04-15' and metric = 'composite_rank'"))
    assert {row["ticker"]: row["composite_rank"] for row in answer["rows"]} == expected
    assert sorted(expected.values()) == list(range(1, 12))
    assert all(isinstance(row["sri_rank"], int) for row in answer["rows"])
    assert_sector_extras(answer["rows"], D(2024, 4, 15), published)


def test_sector_performance_accepts_tickers_names_and_short_names(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_performance", sectors=["xlk", "Health Care", "XLK", "tech"], window="20D",
                       date="2024-04-15")
    assert_provenance(answer, published)
    assert answer["window"] == "20D" and answer["date"] == "2024-04-15"
    rows = {row["ticker"]: row for row in answer["sectors"]}
    assert set(rows) == {"XLK", "XLV"}
    for ticker, row in rows.items():
        ret = scalar(published, "select value from marts.sector_returns where date = '2024-04-15' "
                                "and ticker = ? and metric = '20D'", [ticker])
        scores = dict(query(published, "select metric, value from marts.sector_scores "
                                       "where date = '2024-04-15' and ticker = ?", [ticker]))
        assert row["return_pct"] == pytest.approx(ret, abs=TOL)
        assert row["relative_strength_change_20d_pct"] == pytest.approx(
            scores["relative_strength_change_20d_pct"], abs=TOL)
        assert row["composite_score"] == pytest.approx(scores["composite_score"], abs=TOL)
        assert row["composite_rank"] == int(scores["composite_rank"]) and row["is_ranked"]
        assert row["sri_total_score"] == pytest.approx(scores["sri_total_score"], abs=TOL)
        assert row["sri_rank"] == int(scores["sri_rank"])
        assert row["relative_volume_20d"] == pytest.approx(scores["relative_volume_20d"], abs=TOL)
        assert row["prediction_strength"] == pytest.approx(scalar(
            published, "select prediction_strength from marts.predictions where date = '2024-04-15' and ticker = ?",
            [ticker]), abs=TOL)
        assert row["is_total_return_estimated"] is False
    ranks = [row["composite_rank"] for row in answer["sectors"]]
    assert ranks == sorted(ranks)
    assert_skill(answer, published)
    aliases = client.ok("get_sector_performance", sectors="healthcare, staples, Fin, comm services, reits")
    assert {row["ticker"] for row in aliases["sectors"]} == {"XLV", "XLP", "XLF", "XLC", "XLRE"}


def test_sector_performance_of_all_sectors_sorted_by_composite_rank(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_performance", window="5d")
    assert answer["window"] == "5D" and answer["date"] == "2024-04-30"
    assert [row["composite_rank"] for row in answer["sectors"]] == list(range(1, 12))
    xlu = next(row for row in answer["sectors"] if row["sector"] == "Utilities")
    assert xlu["return_pct"] == pytest.approx(scalar(
        published, "select value from marts.sector_returns where date = '2024-04-30' and ticker = 'XLU' "
                   "and metric = '5D'"), abs=TOL)
    assert_sector_extras(answer["sectors"], D(2024, 4, 30), published)


def test_latest_and_today_name_the_latest_session(client: McpClient) -> None:
    default = client.ok("get_sector_heatmap")
    latest = client.ok("get_sector_heatmap", date="latest")
    assert latest["rows"] == default["rows"] and latest["date"] == "2024-04-30"
    today = client.ok("get_market_overview", date="Today")
    assert today["date"] == "2024-04-30"
    # the calendar's today is later than the published data: the answer says which day it is for
    assert today["date_note"].endswith("the latest published session is 2024-04-30, which this answer is for")


def test_market_overview_with_sentiment_and_the_days_alerts(client: McpClient, published: Path) -> None:
    day = scalar(published, "select date from marts.alerts group by date order by count(*) desc, date limit 1")
    answer = client.ok("get_market_overview", date=day.isoformat())
    assert_provenance(answer, published)
    with duckdb.connect(str(published / PUBLISHED_DB), read_only=True) as conn:
        cursor = conn.execute("select * from marts.market_overview where date = ?", [day])
        expected = dict(zip([d[0] for d in cursor.description], cursor.fetchone()))
    overview = answer["overview"]
    assert overview["date"] == day.isoformat() and overview["source"] == "synthetic"
    for column in ("benchmark_return_1d_pct", "benchmark_return_20d_pct", "economic_cycle", "risk_appetite"):
        assert overview[column] == pytest.approx(expected[column], abs=TOL)
    assert (overview["leaders"], overview["sectors_ranked"]) == (expected["leaders"], expected["sectors_ranked"])
    assert (overview["is_benchmark_return_estimated"], overview["uses_stale_macro"]) == (
        expected["is_benchmark_return_estimated"], expected["uses_stale_macro"])
    sentiment = {s["dimension"]: s for s in answer["sentiment"]}
    assert list(sentiment) == DIMENSIONS   # the same names as the overview's columns
    for dimension in DIMENSIONS:
        assert sentiment[dimension]["score"] == pytest.approx(expected[dimension], abs=TOL)
    bands = dict(query(published, "select dimension, band from marts.sentiment where date = ?", [day]))
    assert {d: s["band"] for d, s in sentiment.items()} == bands
    assert all(s["interpretation"] and s["top_contributors"] for s in sentiment.values())
    alerts = query(published, "select tier, message from marts.alerts where date = ?", [day])
    assert sorted((a["tier"], a["message"]) for a in answer["alerts"]) == sorted(alerts)
    assert len(answer["alerts"]) == expected["critical_alerts"] + expected["high_alerts"] + expected["medium_alerts"]
    assert len(answer["alerts"]) >= 1
    assert {a["dimension"] for a in answer["alerts"]} <= {*DIMENSIONS, None}


def test_macro_indicators_with_units_changes_and_age(client: McpClient, published: Path) -> None:
    answer = client.ok("get_macro_indicators", date="2024-03-15", series=["vix", "US10Y_YIELD_PCT", "crude oil future"])
    assert_provenance(answer, published)
    rows = {row["series"]: row for row in answer["indicators"]}
    assert list(rows) == ["crude_oil_future", "us10y_yield_pct", "vix"]
    sessions = [d for (d,) in query(published, "select distinct date from marts.macro_indicators "
                                               "where date <= '2024-03-15' order by date desc limit 21")]
    for series, row in rows.items():
        value, units, observed, carried = query(
            published, "select value, series_units, observed_date, is_carried_forward from marts.macro_indicators "
                       "where date = '2024-03-15' and series = ?", [series])[0]
        day_before, month_before = (scalar(published, "select value from marts.macro_indicators "
                                                      "where date = ? and series = ?", [d, series])
                                    for d in (sessions[1], sessions[20]))
        assert row["value"] == pytest.approx(value, abs=TOL) and row["units"] == units and units
        assert row["change_1d"] == pytest.approx(value - day_before, abs=TOL)
        assert row["change_20d"] == pytest.approx(value - month_before, abs=TOL)
        assert (row["observed_date"], row["is_carried_forward"]) == (observed.isoformat(), carried)
        if row["series_kind"] == "yield_pct":   # a yield moves in percentage points: no relative change
            assert row["change_1d_pct"] is None and row["change_20d_pct"] is None
        else:
            assert row["change_20d_pct"] == pytest.approx(100 * (value / month_before - 1), abs=TOL)
    everything = client.ok("get_macro_indicators", date="2024-03-15")
    assert len(everything["indicators"]) == scalar(
        published, "select count(*) from marts.macro_indicators where date = '2024-03-15'") > 9


def test_a_year_of_sentiment_is_one_compact_row_per_session(client: McpClient, published: Path) -> None:
    result = client.call("get_sentiment", days=260)
    text = result.content[0].text
    assert not result.is_error and len(text.encode()) <= 30_000
    answer = json.loads(text)
    assert_provenance(answer, published)
    expected = query(published, "select date, dimension, score, band, interpretation from marts.sentiment "
                                "order by date, dimension_order")
    dates = sorted({d.isoformat() for d, *_ in expected})
    assert [row[0] for row in answer["scores"]] == dates and answer["date"] == dates[-1]
    assert len(dates) < 260 and "only" in answer["note"]   # eleven months: the warm-up is said
    # a full year would add (260 - n) rows no longer than the longest one here: still within 30 KB
    longest_row = max(len(json.dumps(row, separators=(",", ":"))) + 1 for row in answer["scores"])
    assert len(text.encode()) + (260 - len(dates)) * longest_row <= 30_000
    assert answer["columns"] == ["date", *DIMENSIONS, "bands"]
    by_key = {(d.isoformat(), dim): (score, band) for d, dim, score, band, _ in expected}
    codes = {"positive": "+", "neutral": "0", "negative": "-"}
    for date, *scores, bands in answer["scores"]:
        for dimension, score, code in zip(DIMENSIONS, scores, bands, strict=True):
            assert score == pytest.approx(by_key[(date, dimension)][0], abs=TOL)
            assert code == codes[by_key[(date, dimension)][1]]
    readings = {(dimension, band): text for _, dimension, _, band, text in expected}
    for (dimension, band), reading in readings.items():   # each reading once, whatever the number of days
        assert answer["readings"][dimension][band] == reading
        assert text.count(json.dumps(reading)) == list(readings.values()).count(reading)
    assert [row["dimension"] for row in answer["latest"]] == DIMENSIONS
    assert all(row["top_contributors"] for row in answer["latest"])


def test_sentiment_over_a_few_sessions_and_during_warm_up(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sentiment", days=5)
    dates = [r[0].isoformat() for r in query(
        published, "select distinct date from marts.sentiment order by date desc limit 5")][::-1]
    assert [row[0] for row in answer["scores"]] == dates
    first = scalar(published, "select min(date) from marts.sentiment")
    early = client.ok("get_sentiment", date=first.isoformat(), days=10)
    assert [row[0] for row in early["scores"]] == [first.isoformat()]
    assert "only 1 session(s)" in early["note"]


def test_alerts_default_to_the_last_30_days_and_filter_by_tier(client: McpClient, published: Path) -> None:
    answer = client.ok("get_alerts")
    assert_provenance(answer, published)
    assert (answer["start"], answer["end"]) == ("2024-03-31", "2024-04-30")
    expected = query(published, "select date, tier, message from marts.alerts "
                                "where date between '2024-03-31' and '2024-04-30' order by date desc")
    assert [(a["date"], a["tier"], a["message"]) for a in answer["alerts"]] == [
        (d.isoformat(), t, m) for d, t, m in expected]
    assert answer["total"] == len(expected) and not answer["truncated"]
    critical = scalar(published, "select count(*) from marts.alerts where tier = 'CRITICAL'")
    assert critical >= 2
    one = client.ok("get_alerts", start="2023-01-01", end="latest", tier="critical", limit=1)
    assert (one["total"], one["returned"], one["truncated"]) == (critical, 1, True)
    assert one["alerts"][0]["date"] == scalar(
        published, "select max(date) from marts.alerts where tier = 'CRITICAL'").isoformat()
    for alert in answer["alerts"]:
        value = scalar(published, "select value from marts.alerts where date = ? and message = ?",
                       [alert["date"], alert["message"]])
        assert alert["value"] == pytest.approx(value, abs=TOL)


def test_allocation_returns_each_books_latest_decision_with_the_rule(client: McpClient, published: Path) -> None:
    answer = client.ok("get_allocation")
    assert_provenance(answer, published)
    assert answer["date"] == "2024-04-30" and [b["book"] for b in answer["books"]] == BOOKS
    assert answer["settings"]["cap"] == 0.2 and answer["settings"]["floor"] == 0.01
    for book in answer["books"]:
        decided = scalar(published, "select max(date) from marts.allocations where book = ?", [book["book"]])
        assert book["decision_date"] == decided.isoformat() and book["weights_from"].startswith("stored")
        expected = {t: w for t, w in query(published, "select ticker, weight from marts.allocations "
                                                      "where book = ? and date = ?", [book["book"], decided])}
        assert {w["ticker"]: w["weight"] for w in book["weights"]} == pytest.approx(expected, abs=TOL)
        assert sum(w["weight"] for w in book["weights"]) == pytest.approx(1.0, abs=1e-5)
    model = answer["books"][0]["weights"]
    assert max(w["weight"] for w in model) <= 0.2 + TOL and min(w["weight"] for w in model) >= 0.01 - TOL
    assert_skill(answer, published)
    # an earlier session (not a rebalance day) gets each book's decision on or before it
    earlier = client.ok("get_allocation", books="model", date="2024-04-15")
    assert earlier["books"][0]["decision_date"] == scalar(
        published, "select max(date) from marts.allocations where book = 'model' and date <= '2024-04-15'"
    ).isoformat()


def test_allocation_replays_the_rule_books_at_another_risk_tolerance(client: McpClient) -> None:
    stored = {b["book"]: {w["ticker"]: w["weight"] for w in b["weights"]} for b in client.ok("get_allocation")["books"]}
    # the pipeline ran with the default (medium): replaying medium gives back the stored weights
    medium = client.ok("get_allocation", risk_tolerance="medium", books=["model", "composite"])
    for book in medium["books"]:
        assert book["weights_from"].startswith("replayed")
        assert {w["ticker"]: w["weight"] for w in book["weights"]} == pytest.approx(stored[book["book"]], abs=TOL)
    high = client.ok("get_allocation", risk_tolerance="HIGH")
    assert high["risk_tolerance"] == "high" and high["settings"]["cap"] == 0.3
    replayed = {b["book"]: b for b in high["books"]}
    model = [w["weight"] for w in replayed["model"]["weights"]]
    assert sum(model) == pytest.approx(1.0, abs=1e-5) and max(model) <= 0.3 + TOL
    assert max(model) > 0.2 + TOL   # the top sectors outgrow the medium cap
    # the baselines do not depend on risk tolerance
    assert replayed["momentum_top3"]["weights_from"].startswith("stored")


def test_backtest_metrics_and_a_downsampled_equity_curve(client: McpClient, published: Path) -> None:
    result = client.call("get_backtest")
    answer = json.loads(result.content[0].text)
    assert not result.is_error and len(result.content[0].text.encode()) <= 30_000
    assert_provenance(answer, published)
    last = scalar(published, "select max(date) from marts.backtest")
    first = scalar(published, "select min(date) from marts.backtest")
    assert (answer["start"], answer["end"]) == (first.isoformat(), last.isoformat())
    metrics = {m["book"]: m for m in answer["metrics"]}
    assert list(metrics) == [*BOOKS, "benchmark"]
    for book, cagr, sharpe, drawdown in query(
            published, "select book, cagr_pct, sharpe, max_drawdown_pct from marts.strategy_performance "
                       "where date = ?", [last]):
        assert metrics[book]["cagr_pct"] == pytest.approx(cagr, abs=TOL)
        assert metrics[book]["sharpe"] == pytest.approx(sharpe, abs=TOL)
        assert metrics[book]["max_drawdown_pct"] == pytest.approx(drawdown, abs=TOL)
    sessions = scalar(published, "select count(distinct date) from marts.backtest")
    assert answer["curve_sessions"] == sessions > 100 and answer["curve_points"] == 100
    for book, curve in answer["curves"].items():
        assert len(curve) == 100 and curve[0][0] == first.isoformat() and curve[-1][0] == last.isoformat()
        assert curve[0][1] == 1.0
        equity, drawdown = query(published, "select equity, drawdown_pct from marts.backtest "
                                            "where book = ? and date = ?", [book, last])[0]
        assert curve[-1][1:] == [pytest.approx(equity, abs=TOL), pytest.approx(drawdown, abs=TOL)]
    assert answer["cost_bps_per_unit_turnover"] == pytest.approx(5.0)
    assert_skill(answer, published)
    small = client.ok("get_backtest", books="model, benchmark", points=10, start="2024-01-02", end="2024-03-28")
    assert list(small["curves"]) == ["model", "benchmark"]
    assert [len(c) for c in small["curves"].values()] == [10, 10]
    assert small["curves"]["model"][-1][0] == "2024-03-28" and small["curves"]["model"][0][0] == "2024-01-02"


BAD_ARGUMENTS = [
    ("get_sector_performance", {"sectors": ["XLK", "XLZ"]}, f"unknown sector 'XLZ'; known: {SECTORS}"),
    ("get_sector_performance", {"sectors": "consumer"},
     "ambiguous sector 'consumer': Consumer Staples (XLP), Consumer Discretionary (XLY); say which"),
    ("get_sector_heatmap", {"date": "2024-03-29"},
     ("no data for 2024-03-29 in marts.sector_returns (no session that day: weekend or market holiday; "
      "nearest earlier: 2024-03-28; latest: 2024-04-30)")),
    ("get_market_overview", {"date": "2024-12-25"},
     ("no data for 2024-12-25 in marts.market_overview (after the latest published date; latest: 2024-04-30)")),
    ("get_macro_indicators", {"date": "2024-01-13"}, "nearest earlier: 2024-01-12"),
    ("get_sector_heatmap", {"date": "30/04/2024"}, "malformed date '30/04/2024': expected an ISO date YYYY-MM-DD"),
    ("get_sector_performance", {"date": "2024-02-30"}, "malformed date '2024-02-30'"),
    ("get_sector_performance", {"window": "7D"}, "unknown window '7D'; expected one of: " + ", ".join(WINDOWS)),
    ("get_sector_heatmap", {"kind": "volume"}, "unknown kind 'volume'; expected one of: returns, scores"),
    ("get_sentiment", {"days": 0}, "days must be between 1 and 260, got 0"),
    ("get_sentiment", {"days": 261}, "days must be between 1 and 260, got 261"),
    ("get_sentiment", {"date": "2023-06-05"}, "no data for 2023-06-05 in marts.sentiment (before the first date"),
    ("get_sentiment", {"days": "many"}, "days"),
    ("get_alerts", {"tier": "LOW"}, "unknown tier 'LOW'; expected one of: CRITICAL, HIGH, MEDIUM"),
    ("get_alerts", {"start": "2024-04-30", "end": "2024-04-01"}, "start 2024-04-30 is after end 2024-04-01"),
    ("get_alerts", {"limit": 0}, "limit must be between 1 and 100, got 0"),
    ("get_alerts", {"end": "0001-01-01"}, "end 0001-01-01 is out of range: dates run from 1900-01-01 to 2199-12-31"),
    ("get_alerts", {"start": "9999-12-31"}, "start 9999-12-31 is out of range"),
    ("get_macro_indicators", {"series": ["gdp"]}, "unknown series 'gdp'; known: breakeven_10y_inflation_pct"),
    ("get_allocation", {"risk_tolerance": "reckless"},
     "unknown risk_tolerance 'reckless'; expected one of: low, medium, high"),
    ("get_allocation", {"books": ["model", "hedge"]},
     "unknown book 'hedge'; expected one of: model, composite, momentum_top3, equal_weight"),
    ("get_allocation", {"date": "2024-03-29"}, "no data for 2024-03-29 in marts.market_overview"),
    ("get_backtest", {"points": 101}, "points must be between 2 and 100, got 101"),
    ("get_backtest", {"end": "2023-06-01"}, "no data for 2023-06-01 in marts.backtest (before the first date"),
    ("get_backtest", {"start": "2024-04-30", "end": "2024-04-01"}, "start 2024-04-30 is after end 2024-04-01"),
]


@pytest.mark.parametrize(("tool", "arguments", "message"), BAD_ARGUMENTS,
                         ids=[f"{t}-{'-'.join(map(str, a.values()))}" for t, a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_clear_tool_errors(client: McpClient, tool: str, arguments: dict[str, Any],
                                             message: str) -> None:
    text = client.error(tool, **arguments)
    assert text.startswith(f"Error executing tool {tool}: ")
    assert message in text
    assert "Traceback" not in text and 'File "' not in text


def test_oversized_arguments_are_refused_unread_and_not_echoed(client: McpClient, server_log: Path) -> None:
    huge = "A" * 1_000_000
    for tool, arguments in (("get_sector_performance", {"sectors": huge}), ("get_alerts", {"end": huge}),
                            ("get_sentiment", {"date": "2024-04-30", "unknown": huge})):
        text = client.error(tool, **arguments)
        assert text == (f"Error executing tool {tool}: arguments too large ({len(json.dumps(arguments))} "
                        "characters; at most 2000): refused unread; pass dates, names and numbers only")
    # a long but admissible value is quoted back cut short
    text = client.error("get_sector_performance", sectors="B" * 1_500)
    assert "unknown sector 'BBBB" in text and "(1502 characters)" in text and len(text) < 400
    assert "A" * 100 not in server_log.read_text() and "B" * 100 not in server_log.read_text()


def test_no_call_so_far_crashed_the_server(client: McpClient, server_log: Path) -> None:
    assert client.ok("get_sector_heatmap", date="2024-01-02")["date"] == "2024-01-02"
    log = server_log.read_text()
    assert "Tool 'get_sector_heatmap' failed" in log      # the anticipated errors are logged, one line each
    assert "Traceback" not in log and "unexpected exception" not in log


def test_missing_publication_is_reported_by_every_tool(tmp_path: Path) -> None:
    """The folder comes from SECTOR_PIPELINE_PUBLISHED here (no --published): the server starts anyway."""
    missing = tmp_path / "never_published"
    with mcp_client(None, tmp_path / "log", env={"SECTOR_PIPELINE_PUBLISHED": str(missing)}) as empty:
        for tool in sorted(TOOLS):
            assert empty.error(tool) == (f"Error executing tool {tool}: no published marts at {missing}: "
                                         "run the pipeline first")


def test_a_new_publication_is_served_without_restart(client: McpClient, pipeline: tuple[Any, Path]) -> None:
    """Runs last: the nightly run publishes while the server is up; the next call sees the new day."""
    defs, published = pipeline
    before = client.ok("get_market_overview")
    assert before["date"] == "2024-04-30"
    assert run_range(defs, D(2024, 5, 1), D(2024, 5, 1), ops=FAST_MODEL).success   # never blocked by the server
    after = client.ok("get_market_overview")
    assert after["date"] == "2024-05-01"
    assert after["publication"]["published_at"] > before["publication"]["published_at"]
    assert_provenance(after, published)
    assert client.ok("get_backtest", books="model", points=2)["end"] == "2024-05-01"
