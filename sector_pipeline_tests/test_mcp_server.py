"""The MCP server as an agent meets it: a subprocess over stdio, every answer checked against the published file.

One real publication is built for the module (the whole pipeline, 2024-01-02..2024-04-30, synthetic source);
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
from sector_pipeline_tests.dagster_helpers import definitions, run_range

D = dt.date
TOOLS = {"get_sector_heatmap", "get_sector_performance", "get_market_overview", "get_macro_indicators",
         "get_sentiment", "get_alerts"}
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
    """The real pipeline over Jan-Apr 2024 in one run; the publish asset runs last."""
    path = tmp_path_factory.mktemp("mcp") / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, D(2024, 1, 2), D(2024, 4, 30)).success
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


def test_lists_the_six_tools_with_typed_input_schemas(client: McpClient) -> None:
    tools = {tool.name: tool for tool in client.list_tools().tools}
    assert set(tools) == TOOLS
    performance = tools["get_sector_performance"].input_schema["properties"]
    assert performance["window"]["enum"] == WINDOWS and performance["window"]["default"] == "20D"
    assert {"type": "array", "items": {"type": "string"}} in performance["sectors"]["anyOf"]
    assert performance["date"]["format"] == "date"
    assert tools["get_sector_heatmap"].input_schema["properties"]["kind"]["enum"] == ["returns", "scores"]
    days = tools["get_sentiment"].input_schema["properties"]["days"]
    assert (days["type"], days["minimum"], days["maximum"], days["default"]) == ("integer", 1, 260, 1)
    assert tools["get_alerts"].input_schema["properties"]["tier"]["enum"] == ["CRITICAL", "HIGH", "MEDIUM", None]
    assert all(tool.annotations.read_only_hint and tool.description for tool in tools.values())


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
    assert rows["XLK"]["20D"] is not None


def test_heatmap_of_scores_on_a_given_date(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_heatmap", date="2024-04-15", kind="scores")
    assert answer["date"] == "2024-04-15" and answer["table"] == "marts.sector_scores"
    assert answer["metrics"][:5] == ["relative_strength_change_20d_pct", "composite_score", "composite_rank",
                                     "sri_total_score", "sri_rank"]
    expected = dict(query(published, "select ticker, value from marts.sector_scores "
                                     "where date = '2024-04-15' and metric = 'composite_rank'"))
    assert {row["ticker"]: row["composite_rank"] for row in answer["rows"]} == expected
    assert sorted(expected.values()) == list(range(1, 12))


def test_sector_performance_accepts_tickers_and_names(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_performance", sectors=["xlk", "Health Care", "XLK"], window="20D",
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
    ranks = [row["composite_rank"] for row in answer["sectors"]]
    assert ranks == sorted(ranks)


def test_sector_performance_of_all_sectors_sorted_by_composite_rank(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sector_performance", window="5d")
    assert answer["window"] == "5D" and answer["date"] == "2024-04-30"
    assert [row["composite_rank"] for row in answer["sectors"]] == list(range(1, 12))
    xlu = next(row for row in answer["sectors"] if row["sector"] == "Utilities")
    assert xlu["return_pct"] == pytest.approx(scalar(
        published, "select value from marts.sector_returns where date = '2024-04-30' and ticker = 'XLU' "
                   "and metric = '5D'"), abs=TOL)


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
    sentiment = {s["dimension"]: s for s in answer["sentiment"]}
    assert list(sentiment) == ["cycle", "rates", "inflation", "risk"]
    assert sentiment["risk"]["score"] == pytest.approx(expected["risk_appetite"], abs=TOL)
    bands = dict(query(published, "select dimension, band from marts.sentiment where date = ?", [day]))
    assert {d: s["band"] for d, s in sentiment.items()} == bands
    assert all(s["interpretation"] and s["top_contributors"] for s in sentiment.values())
    alerts = query(published, "select tier, message from marts.alerts where date = ?", [day])
    assert sorted((a["tier"], a["message"]) for a in answer["alerts"]) == sorted(alerts)
    assert len(answer["alerts"]) == expected["critical_alerts"] + expected["high_alerts"] + expected["medium_alerts"]
    assert len(answer["alerts"]) >= 1


def test_macro_indicators_of_a_date_with_observation_dates(client: McpClient, published: Path) -> None:
    answer = client.ok("get_macro_indicators", date="2024-03-15", series=["vix", "US10Y_YIELD_PCT"])
    assert_provenance(answer, published)
    expected = {series: (value, observed, carried) for series, value, observed, carried in query(
        published, "select series, value, observed_date, is_carried_forward from marts.macro_indicators "
                   "where date = '2024-03-15' and series in ('vix', 'us10y_yield_pct')")}
    assert [row["series"] for row in answer["indicators"]] == ["us10y_yield_pct", "vix"]
    for row in answer["indicators"]:
        value, observed, carried = expected[row["series"]]
        assert row["value"] == pytest.approx(value, abs=TOL)
        assert (row["observed_date"], row["is_carried_forward"]) == (observed.isoformat(), carried)
    everything = client.ok("get_macro_indicators", date="2024-03-15")
    assert len(everything["indicators"]) == scalar(
        published, "select count(*) from marts.macro_indicators where date = '2024-03-15'") == 9


def test_sentiment_over_the_last_sessions(client: McpClient, published: Path) -> None:
    answer = client.ok("get_sentiment", days=5)
    assert_provenance(answer, published)
    dates = [r[0].isoformat() for r in query(
        published, "select distinct date from marts.sentiment order by date desc limit 5")][::-1]
    assert [s["date"] for s in answer["sessions"]] == dates and answer["date"] == dates[-1]
    expected = {(d.isoformat(), dim): (score, band) for d, dim, score, band in query(
        published, "select date, dimension, score, band from marts.sentiment")}
    for session in answer["sessions"]:
        assert [d["dimension"] for d in session["dimensions"]] == ["cycle", "rates", "inflation", "risk"]
        for dim in session["dimensions"]:
            score, band = expected[(session["date"], dim["dimension"])]
            assert dim["score"] == pytest.approx(score, abs=TOL) and dim["band"] == band
            assert -1 <= dim["score"] <= 1 and dim["interpretation"] and dim["label"]
    first = scalar(published, "select min(date) from marts.sentiment")
    early = client.ok("get_sentiment", date=first.isoformat(), days=10)
    assert [s["date"] for s in early["sessions"]] == [first.isoformat()]
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
    one = client.ok("get_alerts", start="2024-01-01", end="2024-04-30", tier="critical", limit=1)
    assert (one["total"], one["returned"], one["truncated"]) == (critical, 1, True)
    assert one["alerts"][0]["date"] == scalar(
        published, "select max(date) from marts.alerts where tier = 'CRITICAL'").isoformat()
    for alert in answer["alerts"]:
        value = scalar(published, "select value from marts.alerts where date = ? and message = ?",
                       [alert["date"], alert["message"]])
        assert alert["value"] == pytest.approx(value, abs=TOL)


BAD_ARGUMENTS = [
    ("get_sector_performance", {"sectors": ["XLK", "XLZ"]}, f"unknown sector 'XLZ'; known: {SECTORS}"),
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
    ("get_sentiment", {"date": "2024-01-10"}, "no data for 2024-01-10 in marts.sentiment (before the first date"),
    ("get_sentiment", {"days": "many"}, "days"),
    ("get_alerts", {"tier": "LOW"}, "unknown tier 'LOW'; expected one of: CRITICAL, HIGH, MEDIUM"),
    ("get_alerts", {"start": "2024-04-30", "end": "2024-04-01"}, "start 2024-04-30 is after end 2024-04-01"),
    ("get_alerts", {"limit": 0}, "limit must be between 1 and 1000, got 0"),
    ("get_macro_indicators", {"series": ["gdp"]}, "unknown series 'gdp'; known: copper_future"),
]


@pytest.mark.parametrize(("tool", "arguments", "message"), BAD_ARGUMENTS,
                         ids=[f"{t}-{'-'.join(map(str, a.values()))}" for t, a, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_clear_tool_errors(client: McpClient, tool: str, arguments: dict[str, Any],
                                             message: str) -> None:
    text = client.error(tool, **arguments)
    assert text.startswith(f"Error executing tool {tool}: ")
    assert message in text
    assert "Traceback" not in text and 'File "' not in text


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
    assert run_range(defs, D(2024, 5, 1), D(2024, 5, 1)).success   # never blocked by the server
    after = client.ok("get_market_overview")
    assert after["date"] == "2024-05-01"
    assert after["publication"]["published_at"] > before["publication"]["published_at"]
    assert_provenance(after, published)
