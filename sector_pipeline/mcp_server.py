"""MCP server over the PUBLISHED marts: the seed-000 tools for AI agents, read-only, over stdio.

    python -m sector_pipeline.mcp_server [--published DIR]

DIR defaults to $SECTOR_PIPELINE_PUBLISHED, else data/published (relative to the working directory), the
folder `published/marts` writes `sector_rotation.duckdb` into. Every tool call opens that file with
`read_only=True` and closes it before answering: a publication swapped in by the nightly run is seen by the
next call, and the server never holds a lock the pipeline could wait on (it never opens the warehouse).

Two layers, as elsewhere in the package: `PublishedMarts` is plain Python over DuckDB (it raises
`MartsQueryError` with a message meant for the caller), and `build_server` registers it as MCP tools. SQL is
constant text: user values enter as bound parameters, table names come from a fixed allow-list.
See docs/mcp.md for the tools, example responses and the error policy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import duckdb
from pydantic import Field

from sector_pipeline import __version__
from sector_pipeline.errors import SectorPipelineError
from sector_pipeline.publish import MANIFEST, PUBLISHED_DB
from sector_pipeline.settings import PREFIX, Settings

logger = logging.getLogger(__name__)

SERVER_NAME = "sector-rotation"
PUBLISHED_ENV = PREFIX + "PUBLISHED"          # the variable settings.py documents; read only in main()
DEFAULT_PUBLISHED_DIR = Settings.published_dir

WINDOWS = ("1D", "5D", "20D", "60D", "126D", "YTD", "252D")   # marts.sector_returns.metric, in order
HEATMAP_KINDS = ("returns", "scores")
TIERS = ("CRITICAL", "HIGH", "MEDIUM")
DIMENSIONS = ("cycle", "rates", "inflation", "risk")           # seed-004 order
MAX_SENTIMENT_DAYS = 260
DEFAULT_ALERT_DAYS = 30
MAX_ALERT_LIMIT = 1000
DECIMALS = 6   # floats are rounded to 6 decimal places: far below any meaningful precision of a % or a score

SYNTHETIC_NOTICE = ("SYNTHETIC DATA: these numbers come from the seeded simulated market of sector_pipeline, "
                    "not from real prices; do not use them for investment decisions.")

# The only tables a query may name; each has a `date` column.
_DATED_TABLES = frozenset({"sector_returns", "sector_scores", "market_overview", "macro_indicators",
                           "sentiment", "alerts"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class MartsQueryError(SectorPipelineError):
    """A request the published marts cannot answer (bad argument, unknown date, nothing published)."""


# --------------------------------------------------------------------------------------------- values

def _json_value(value: Any) -> Any:
    """DuckDB value -> JSON value: ISO dates, rounded finite floats (NaN/inf -> null)."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _rank(value: Any) -> int | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else int(value)


def parse_date(text: str | None, name: str = "date") -> dt.date | None:
    """'YYYY-MM-DD' -> date; None stays None. Anything else is refused with the expected form."""
    if text is None:
        return None
    cleaned = str(text).strip()
    if not _ISO_DATE.match(cleaned):
        raise MartsQueryError(f"malformed {name} {text!r}: expected an ISO date YYYY-MM-DD, e.g. 2024-04-30")
    try:
        return dt.date.fromisoformat(cleaned)
    except ValueError as exc:
        raise MartsQueryError(f"malformed {name} {text!r}: {exc}") from None


def _choice(value: str, allowed: Sequence[str], name: str) -> str:
    """Case-insensitive match against a fixed list; returns the canonical spelling."""
    by_key = {a.lower(): a for a in allowed}
    found = by_key.get(str(value).strip().lower())
    if found is None:
        raise MartsQueryError(f"unknown {name} {value!r}; expected one of: {', '.join(allowed)}")
    return found


def _bounded(value: int, low: int, high: int, name: str) -> int:
    if not low <= value <= high:
        raise MartsQueryError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _normalise_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# ------------------------------------------------------------------------------------------ queries

class _Reader:
    """One read-only connection to one publication; helpers that turn rows into JSON-ready dicts."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, directory: Path):
        self.conn = conn
        self.directory = directory

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [{n: _json_value(v) for n, v in zip(names, row)} for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        return self.conn.execute(sql, list(params)).fetchone()

    def publication(self) -> dict[str, Any]:
        stamp_us, run_id = self.one(
            f"select epoch_us(max(published_at)), arg_max(run_id, published_at) from marts.{MANIFEST}")
        if stamp_us is None:
            raise MartsQueryError(f"no published marts at {self.directory}: the publication is empty; "
                                  "run the pipeline first")
        published_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=stamp_us)
        return {"published_at": published_at.isoformat(), "run_id": run_id}

    def session(self, table: str, requested: str | None) -> dt.date:
        """The date to answer for: `requested` if `table` has rows that day, else its latest date (None).

        Policy: exact dates only. A date without rows is refused with the nearest earlier date and the
        latest one in the message, rather than silently answered for another day.
        """
        if table not in _DATED_TABLES:
            raise ValueError(f"{table} is not an allowed table")
        day = parse_date(requested)
        first, latest, earlier, exact = self.one(
            f"select min(date), max(date), max(date) filter (where date < $1), "
            f"count(*) filter (where date = $1) from marts.{table}", [day])
        if latest is None:
            raise MartsQueryError(f"marts.{table} has no rows in the publication at {self.directory}: "
                                  "run the pipeline over a longer range")
        if day is None:
            return latest
        if exact:
            return day
        if day > latest:
            why = "after the latest published date"
        elif day < first:
            why = f"before the first date in marts.{table}, {first.isoformat()}"
        else:
            why = f"no session that day: weekend or market holiday; nearest earlier: {earlier.isoformat()}"
        raise MartsQueryError(f"no data for {day.isoformat()} in marts.{table} ({why}; "
                              f"latest: {latest.isoformat()})")

    def sources(self, sql: str, params: Sequence[Any]) -> list[str]:
        return sorted(r[0] for r in self.conn.execute(sql, list(params)).fetchall() if r[0] is not None)

    def sources_of_sessions(self, start: dt.date, end: dt.date) -> list[str]:
        """Source of a date range, for the marts without a source column (the benchmark row carries it)."""
        found = self.sources("select distinct source from marts.market_overview where date between $1 and $2",
                             [start, end])
        return found or self.sources("select distinct source from marts.market_overview", [])


class PublishedMarts:
    """Read-only answers from `<directory>/sector_rotation.duckdb`, opened afresh for every request."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.path = self.directory / PUBLISHED_DB

    @contextmanager
    def reader(self) -> Iterator[_Reader]:
        if not self.path.is_file():
            raise MartsQueryError(f"no published marts at {self.directory}: run the pipeline first")
        try:
            conn = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise MartsQueryError(f"cannot open the published marts {self.path}: {exc}") from None
        try:
            try:
                conn.execute(f"select 1 from marts.{MANIFEST} limit 1")
            except duckdb.CatalogException:
                raise MartsQueryError(f"no published marts at {self.directory}: {self.path.name} has no "
                                      f"marts.{MANIFEST}; run the pipeline first") from None
            yield _Reader(conn, self.directory)
        finally:
            conn.close()

    @staticmethod
    def _answer(reader: _Reader, sources: list[str], payload: dict[str, Any]) -> dict[str, Any]:
        """Every answer starts with where it came from: the publication and the data source."""
        answer: dict[str, Any] = {
            "publication": reader.publication(),
            "source": ", ".join(sources) if sources else "unknown",
            "is_synthetic": "synthetic" in sources,
        }
        if answer["is_synthetic"]:
            answer["notice"] = SYNTHETIC_NOTICE
        answer.update(payload)
        return answer

    # -- sectors

    @staticmethod
    def _sector_catalogue(reader: _Reader) -> dict[str, str]:
        return {r["ticker"]: r["sector"] for r in reader.rows(
            "select ticker, any_value(sector order by date desc) as sector from marts.sector_returns "
            "group by ticker order by ticker")}

    @classmethod
    def _resolve_sectors(cls, reader: _Reader, requested: Sequence[str] | str | None) -> list[str] | None:
        """Tickers or names (case-insensitive, spaces/punctuation ignored) -> tickers; None = all."""
        if requested is None:
            return None
        raw = requested.split(",") if isinstance(requested, str) else requested
        items = [str(s).strip() for s in raw if str(s).strip()]
        if not items:
            raise MartsQueryError("sectors is empty: pass tickers (XLK) or names (Technology), or omit it for all")
        catalogue = cls._sector_catalogue(reader)
        lookup = {_normalise_name(t): t for t in catalogue}
        lookup.update({_normalise_name(n): t for t, n in catalogue.items() if n})
        tickers: list[str] = []
        for item in items:
            ticker = lookup.get(_normalise_name(item))
            if ticker is None:
                example = next((name for name in catalogue.values() if name), "Technology")
                raise MartsQueryError(f"unknown sector {item!r}; known: {', '.join(catalogue)} "
                                      f"(tickers, or names such as {example})")
            if ticker not in tickers:
                tickers.append(ticker)
        return tickers

    # -- tools

    def sector_heatmap(self, date: str | None = None, kind: str = "returns") -> dict[str, Any]:
        kind = _choice(kind, HEATMAP_KINDS, "kind")
        table = "sector_returns" if kind == "returns" else "sector_scores"
        with self.reader() as reader:
            day = reader.session(table, date)
            if kind == "returns":
                cells = reader.rows("select ticker, sector, metric, metric_order, value from marts.sector_returns "
                                    "where date = $1 order by ticker, metric_order", [day])
                sources = reader.sources("select distinct source from marts.sector_returns where date = $1", [day])
                units = "percent (simple return over the window)"
            else:
                cells = reader.rows("select ticker, sector, metric, metric_order, value from marts.sector_scores "
                                    "where date = $1 order by ticker, metric_order", [day])
                sources = reader.sources_of_sessions(day, day)
                units = ("relative_strength_change_20d_pct in percent; composite_score and rs_* unitless; "
                         "ranks 1 = best; sri_total_score 0-400")
            metrics = [m for m, _ in sorted({(c["metric"], c["metric_order"]) for c in cells}, key=lambda x: x[1])]
            by_ticker: dict[str, dict[str, Any]] = {}
            for cell in cells:
                row = by_ticker.setdefault(cell["ticker"], {"ticker": cell["ticker"], "sector": cell["sector"]})
                is_rank = cell["metric"].endswith("_rank")   # stored as double in the long mart
                row[cell["metric"]] = _rank(cell["value"]) if is_rank else cell["value"]
            return self._answer(reader, sources, {
                "date": day.isoformat(), "kind": kind, "table": f"marts.{table}", "units": units,
                "metrics": metrics, "rows": list(by_ticker.values()),
            })

    def sector_performance(self, sectors: Sequence[str] | str | None = None, window: str = "20D",
                           date: str | None = None) -> dict[str, Any]:
        window = _choice(window, WINDOWS, "window")
        with self.reader() as reader:
            tickers = self._resolve_sectors(reader, sectors)
            day = reader.session("sector_returns", date)
            rows = reader.rows("""
                with
                returns as (
                    select ticker, sector, value as return_pct
                    from marts.sector_returns
                    where date = $1 and metric = $2
                ),
                scores as (
                    select
                        ticker,
                        max(value) filter (where metric = 'relative_strength_change_20d_pct')
                            as relative_strength_change_20d_pct,
                        max(value) filter (where metric = 'composite_score') as composite_score,
                        max(value) filter (where metric = 'composite_rank') as composite_rank,
                        max(value) filter (where metric = 'sri_total_score') as sri_total_score,
                        max(value) filter (where metric = 'sri_rank') as sri_rank,
                    from marts.sector_scores
                    where date = $1
                    group by ticker
                )
                select returns.*, scores.* exclude (ticker)
                from returns
                left join scores using (ticker)
                where $3::varchar[] is null or list_contains($3::varchar[], returns.ticker)
                order by scores.composite_rank nulls last, returns.ticker
            """, [day, window, tickers])
            for row in rows:
                row["composite_rank"] = _rank(row["composite_rank"])
                row["sri_rank"] = _rank(row["sri_rank"])
                row["is_ranked"] = row["composite_rank"] is not None
            absent = [t for t in tickers or () if t not in {r["ticker"] for r in rows}]
            catalogue = self._sector_catalogue(reader) if absent else {}
            for ticker in absent:   # a sector outside the universe that day (e.g. XLC before 2018): say so
                rows.append({"ticker": ticker, "sector": catalogue.get(ticker), "return_pct": None,
                             "relative_strength_change_20d_pct": None, "composite_score": None,
                             "composite_rank": None, "sri_total_score": None, "sri_rank": None,
                             "is_ranked": False, "note": f"not in the universe on {day.isoformat()}"})
            sources = reader.sources("select distinct source from marts.sector_returns where date = $1", [day])
            return self._answer(reader, sources, {
                "date": day.isoformat(), "window": window,
                "units": {"return_pct": "percent", "relative_strength_change_20d_pct": "percent",
                          "composite_score": "weighted relative performance (5/20/60 sessions)",
                          "sri_total_score": "0-400 (four 0-100 components)"},
                "sectors": rows,
            })

    def market_overview(self, date: str | None = None) -> dict[str, Any]:
        with self.reader() as reader:
            day = reader.session("market_overview", date)
            overview = reader.rows("select * from marts.market_overview where date = $1", [day])[0]
            sentiment = self._sentiment_rows(reader, day, day)
            alerts = reader.rows("select date, tier, alert_type, dimension, value, threshold, message "
                                 "from marts.alerts where date = $1 order by "
                                 "list_position(['CRITICAL', 'HIGH', 'MEDIUM'], tier), dimension, alert_type", [day])
            payload: dict[str, Any] = {
                "date": day.isoformat(),
                "overview": overview,
                "sentiment": [{k: v for k, v in r.items() if k != "date"} for r in sentiment],
                "alerts": alerts,
            }
            if not sentiment:
                payload["sentiment_note"] = "no sentiment scores on this date (warming up: not enough history yet)"
            sources = [overview["source"]] if overview.get("source") else reader.sources_of_sessions(day, day)
            return self._answer(reader, sources, payload)

    def macro_indicators(self, date: str | None = None, series: Sequence[str] | str | None = None) -> dict[str, Any]:
        with self.reader() as reader:
            wanted: list[str] | None = None
            if series is not None:
                items = series.split(",") if isinstance(series, str) else list(series)
                items = [str(s).strip() for s in items if str(s).strip()]
                known = [r[0] for r in reader.conn.execute(
                    "select distinct series from marts.macro_indicators order by series").fetchall()]
                by_key = {k.lower(): k for k in known}
                wanted = []
                for item in items:
                    if item.lower() not in by_key:
                        raise MartsQueryError(f"unknown series {item!r}; known: {', '.join(known)}")
                    wanted.append(by_key[item.lower()])
                if not wanted:
                    raise MartsQueryError(f"series is empty; known: {', '.join(known)} (omit it for all)")
            day = reader.session("macro_indicators", date)
            rows = reader.rows("select series, series_kind, value, observed_date, is_carried_forward, source "
                               "from marts.macro_indicators where date = $1 "
                               "and ($2::varchar[] is null or list_contains($2::varchar[], series)) "
                               "order by series", [day, wanted])
            sources = sorted({r.pop("source") for r in rows if r.get("source")})
            return self._answer(reader, sources, {
                "date": day.isoformat(),
                "note": "value is the latest observation on or before date (carried forward at most 5 sessions); "
                        "observed_date is when it was observed",
                "indicators": rows,
            })

    @staticmethod
    def _sentiment_rows(reader: _Reader, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        return reader.rows(
            "select date, dimension, label, score, band, interpretation, top_contributors from marts.sentiment "
            "where date between $1 and $2 "
            "order by date, coalesce(list_position($3::varchar[], dimension), 99), dimension",
            [start, end, list(DIMENSIONS)])

    def sentiment(self, date: str | None = None, days: int = 1) -> dict[str, Any]:
        days = _bounded(days, 1, MAX_SENTIMENT_DAYS, "days")
        with self.reader() as reader:
            day = reader.session("sentiment", date)
            first = reader.one("select min(date) from (select distinct date from marts.sentiment where date <= $1 "
                               "order by date desc limit $2)", [day, days])[0]
            by_date: dict[str, list[dict[str, Any]]] = {}
            for row in self._sentiment_rows(reader, first, day):
                by_date.setdefault(row.pop("date"), []).append(row)
            sessions = [{"date": d, "dimensions": dims} for d, dims in by_date.items()]
            payload: dict[str, Any] = {"date": day.isoformat(), "days": days, "sessions": sessions}
            if len(sessions) < days:
                payload["note"] = (f"only {len(sessions)} session(s) of sentiment are published up to "
                                   f"{day.isoformat()} (earlier sessions are warming up or not published)")
            return self._answer(reader, reader.sources_of_sessions(first, day), payload)

    def alerts(self, start: str | None = None, end: str | None = None, tier: str | None = None,
               limit: int = 100) -> dict[str, Any]:
        start_day, end_day = parse_date(start, "start"), parse_date(end, "end")
        tier = None if tier is None else _choice(tier, TIERS, "tier")
        limit = _bounded(limit, 1, MAX_ALERT_LIMIT, "limit")
        with self.reader() as reader:
            latest = reader.one("select max(date) from marts.market_overview")[0]
            if end_day is None:
                end_day = latest if latest is not None else dt.date.today()
            if start_day is None:
                start_day = end_day - dt.timedelta(days=DEFAULT_ALERT_DAYS)
            if start_day > end_day:
                raise MartsQueryError(f"start {start_day.isoformat()} is after end {end_day.isoformat()}")
            where = "from marts.alerts where date between $1 and $2 and ($3::varchar is null or tier = $3::varchar)"
            total = reader.one(f"select count(*) {where}", [start_day, end_day, tier])[0]
            rows = reader.rows(
                f"select date, tier, alert_type, dimension, value, threshold, message {where} "
                "order by date desc, list_position(['CRITICAL', 'HIGH', 'MEDIUM'], tier), dimension, alert_type "
                "limit $4", [start_day, end_day, tier, limit])
            return self._answer(reader, reader.sources_of_sessions(start_day, end_day), {
                "start": start_day.isoformat(), "end": end_day.isoformat(), "tier": tier,
                "latest_published_date": _json_value(latest),
                "total": total, "returned": len(rows), "truncated": total > len(rows),
                "order": "most recent first, then CRITICAL, HIGH, MEDIUM",
                "alerts": rows,
            })


# ---------------------------------------------------------------------------------------- MCP wiring

DateArg = Annotated[str | None, Field(
    description="Session date YYYY-MM-DD; omit for the latest published session. A date without data is "
                "refused with the nearest earlier session in the message.",
    json_schema_extra={"format": "date"})]
KindArg = Annotated[str, Field(
    description="returns: windows 1D..252D in percent (marts.sector_returns); scores: RS change, composite "
                "score/rank, SRI total/rank, RS-Ratio/Momentum (marts.sector_scores)",
    json_schema_extra={"enum": list(HEATMAP_KINDS)})]
SectorsArg = Annotated[list[str] | str | None, Field(
    description="Sectors as tickers (XLK) or names (Technology), case-insensitive; a list or a comma-separated "
                "string; omit for all sectors")]
WindowArg = Annotated[str, Field(description="Return window (sessions, or YTD)",
                                 json_schema_extra={"enum": list(WINDOWS)})]
SeriesArg = Annotated[list[str] | str | None, Field(
    description="Macro series names (e.g. vix, us10y_yield_pct); omit for all")]
DaysArg = Annotated[int, Field(description=f"Number of sessions up to date, 1..{MAX_SENTIMENT_DAYS}",
                               json_schema_extra={"minimum": 1, "maximum": MAX_SENTIMENT_DAYS})]
StartArg = Annotated[str | None, Field(
    description=f"First date YYYY-MM-DD (inclusive); default: {DEFAULT_ALERT_DAYS} days before end",
    json_schema_extra={"format": "date"})]
EndArg = Annotated[str | None, Field(description="Last date YYYY-MM-DD (inclusive); default: latest published session",
                                     json_schema_extra={"format": "date"})]
TierArg = Annotated[str | None, Field(description="Only this tier; omit for all",
                                      json_schema_extra={"enum": [*TIERS, None]})]
LimitArg = Annotated[int, Field(description=f"Most alerts returned (most recent first), 1..{MAX_ALERT_LIMIT}",
                                json_schema_extra={"minimum": 1, "maximum": MAX_ALERT_LIMIT})]

_T = TypeVar("_T")


def build_server(published_dir: str | Path, *, log_level: str = "INFO") -> Any:
    """The MCPServer with the six tools over `published_dir`; `run()` it for stdio."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    marts = PublishedMarts(published_dir)
    server = MCPServer(
        SERVER_NAME,
        title="S&P 500 sector rotation",
        version=__version__,
        log_level=log_level,  # type: ignore[arg-type]
        instructions=(
            "Read-only sector rotation analytics (S&P 500 SPDR sectors vs SPY) from the latest publication of "
            "the sector_pipeline marts. Every answer names its publication (published_at) and its data source; "
            "source 'synthetic' means simulated data, never real prices. Dates are trading sessions, ISO "
            "YYYY-MM-DD; omit date for the latest session."),
    )
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)

    def tool(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """Register `fn` read-only, its docstring on one line as the description the agent reads."""
        server.add_tool(fn, description=" ".join((fn.__doc__ or "").split()), annotations=read_only)
        return fn

    def answer(call: Callable[[], _T]) -> _T:
        """Anticipated failures reach the caller as their message; anything else as one line, traceback logged."""
        try:
            return call()
        except MartsQueryError as exc:
            raise ToolError(str(exc)) from None
        except duckdb.Error as exc:
            logger.exception("reading %s failed", marts.path)
            raise ToolError(f"could not read the published marts at {marts.directory} ({type(exc).__name__}); "
                            "if a publication was being swapped in, retry") from None

    @tool
    def get_sector_heatmap(date: DateArg = None, kind: KindArg = "returns") -> dict[str, Any]:
        """Sector x metric matrix of one session: returns over 1D..252D and YTD in percent (kind=returns) or the
        scores (kind=scores). Rows per sector, with `metrics` giving the column order."""
        return answer(lambda: marts.sector_heatmap(date, kind))

    @tool
    def get_sector_performance(sectors: SectorsArg = None, window: WindowArg = "20D",
                               date: DateArg = None) -> dict[str, Any]:
        """Per sector on one session: return over the window (percent), 20-session relative strength change vs
        SPY (percent), composite score and rank, Sector Rotation Index total and rank; sorted by composite rank."""
        return answer(lambda: marts.sector_performance(sectors, window, date))

    @tool
    def get_market_overview(date: DateArg = None) -> dict[str, Any]:
        """One session's market overview: benchmark returns, breadth, leaders and laggards, the four sentiment
        scores with band and interpretation, and that day's alerts."""
        return answer(lambda: marts.market_overview(date))

    @tool
    def get_macro_indicators(date: DateArg = None, series: SeriesArg = None) -> dict[str, Any]:
        """Macro series on one session (yields, VIX, dollar, commodities, inflation proxies) with the date each
        value was observed and whether it was carried forward."""
        return answer(lambda: marts.macro_indicators(date, series))

    @tool
    def get_sentiment(date: DateArg = None, days: DaysArg = 1) -> dict[str, Any]:
        """The four sentiment dimensions (economic cycle, interest rates, inflation, risk appetite), each in
        [-1, +1] with band, interpretation and top contributing sectors, for the last `days` sessions up to date
        (oldest first)."""
        return answer(lambda: marts.sentiment(date, days))

    @tool
    def get_alerts(start: StartArg = None, end: EndArg = None, tier: TierArg = None,
                   limit: LimitArg = 100) -> dict[str, Any]:
        """Alerts raised between start and end (inclusive; default the last 30 days of data): tier, type,
        dimension, value, threshold and message, most recent first."""
        return answer(lambda: marts.alerts(start, end, tier, limit))

    return server


def default_published_dir(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(PUBLISHED_ENV) or DEFAULT_PUBLISHED_DIR


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sector_pipeline.mcp_server",
        description="MCP server (stdio) over the published sector rotation marts, read-only.")
    parser.add_argument("--published", metavar="DIR", default=None,
                        help=f"folder holding {PUBLISHED_DB} (default: ${PUBLISHED_ENV} or {DEFAULT_PUBLISHED_DIR})")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="stderr log level (stdout carries the protocol)")
    args = parser.parse_args(argv)
    directory = Path(args.published or default_published_dir()).expanduser().resolve()
    server = build_server(directory, log_level=args.log_level)
    logger.info("serving the published marts at %s (%s)", directory,
                "present" if (directory / PUBLISHED_DB).is_file() else "not published yet")
    server.run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
