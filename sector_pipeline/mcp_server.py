"""MCP server over the PUBLISHED marts: the seed article 000 tools for AI agents, read-only, over stdio.

    python -m sector_pipeline.mcp_server [--published DIR]

DIR defaults to $SECTOR_PIPELINE_PUBLISHED, else data/published (relative to the working directory), the
folder `published/marts` writes `sector_rotation.duckdb` into. Every tool call opens that file with
`read_only=True` and closes it before answering: a publication swapped in by the nightly run is seen by the
next call, and the server never holds a lock the pipeline could wait on (it never opens the warehouse).

Two layers, as elsewhere in the package: `PublishedMarts` is plain Python over DuckDB (it raises
`MartsQueryError` with a message meant for the caller), and `build_server` registers it as MCP tools. SQL is
constant text: user values enter as bound parameters, table names come from a fixed allow-list.
Answers are bounded (compact JSON, capped row counts) because they land in an agent's context, and every
answer that shows a prediction carries the model's measured out-of-sample skill.
See docs/mcp.md for the tools, example responses and the error policy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import duckdb
from pydantic import Field

from sector_pipeline import __version__
from sector_pipeline.errors import SectorPipelineError
from sector_pipeline.publish import MANIFEST, PUBLISHED_DB
from sector_pipeline.report.marts import DIMENSIONS, skill_reading
from sector_pipeline.settings import PREFIX, Settings
from sector_pipeline.strategy.config import BOOKS, COMPOSITE_BOOK, MODEL_BOOK, RISK_TOLERANCES
from sector_pipeline.strategy.config import SIGNALS as SKILL_SIGNALS
from sector_pipeline.strategy.config import STRATEGIES as BACKTEST_BOOKS
from sector_pipeline.vocabulary import TIERS

logger = logging.getLogger(__name__)

SERVER_NAME = "sector-rotation"
PUBLISHED_ENV = PREFIX + "PUBLISHED"          # the variable settings.py documents; read only in main()
DEFAULT_PUBLISHED_DIR = Settings.published_dir

WINDOWS = ("1D", "5D", "20D", "60D", "126D", "YTD", "252D")   # marts.sector_returns.metric, in order
HEATMAP_KINDS = ("returns", "scores")
BAND_CODES = {"positive": "+", "neutral": "0", "negative": "-"}
RULE_BOOKS = (MODEL_BOOK, COMPOSITE_BOOK)                           # seed article 000's rule books
SIGNALS = tuple(SKILL_SIGNALS)                                      # marts.skill.signal
MAX_SENTIMENT_DAYS = 260
DEFAULT_ALERT_DAYS = 30
MAX_ALERT_LIMIT = 100
MAX_CURVE_POINTS = 100
DECIMALS = 6   # floats are rounded to 6 decimal places: far below any meaningful precision of a % or a score
# Arguments are tiny (a date, a few names): anything larger is refused before it is parsed, read or logged.
MAX_ARGUMENTS_CHARS = 2_000
MAX_TOOL_NAME_CHARS = 64
SHOWN_CHARS = 40          # at most this much of a rejected value is quoted back in a message
# Valid dates of any argument: beyond these a date is a typo (0001-01-01), not a question about the data.
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
LATEST_WORDS = ("latest", "today")

SYNTHETIC_NOTICE = ("SYNTHETIC DATA: these numbers come from the seeded simulated market of sector_pipeline, "
                    "not from real prices; do not use them for investment decisions.")

# The only tables a query may name; each has a `date` column.
_DATED_TABLES = frozenset({"sector_returns", "sector_scores", "market_overview", "macro_indicators",
                           "sentiment", "alerts", "predictions", "allocations", "backtest",
                           "strategy_performance", "skill"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Common short names of the GICS sectors (keyed by the sector name the universe file gives), so that an agent
# may say "tech" or "healthcare". They apply to any universe whose sectors carry these names.
SECTOR_ALIASES: dict[str, tuple[str, ...]] = {
    "Technology": ("tech", "information technology", "infotech", "it"),
    "Communication Services": ("communications", "communication", "comm services", "telecom", "media"),
    "Consumer Discretionary": ("discretionary", "consumer cyclical", "cyclicals"),
    "Consumer Staples": ("staples", "consumer defensive"),
    "Financials": ("financial", "finance", "banks", "financial services"),
    "Industrials": ("industrial",),
    "Materials": ("basic materials", "material"),
    "Energy": ("oil and gas", "oil"),
    "Health Care": ("healthcare", "health"),
    "Utilities": ("utility",),
    "Real Estate": ("reits", "reit", "property"),
}
MIN_PREFIX = 3   # "fin" finds Financials; shorter prefixes are too ambiguous to guess from


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


def _shown(value: Any) -> str:
    """A rejected value as quoted in a message: its repr, cut to SHOWN_CHARS."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"... ({len(text)} characters)"


def parse_date(text: str | None, name: str = "date") -> dt.date | str | None:
    """'YYYY-MM-DD' -> date; 'latest' or 'today' -> 'latest'; None stays None. Anything else is refused."""
    if text is None:
        return None
    cleaned = str(text).strip()
    if cleaned.lower() in LATEST_WORDS:
        return "latest"
    if not _ISO_DATE.match(cleaned):
        raise MartsQueryError(f"malformed {name} {_shown(text)}: expected an ISO date YYYY-MM-DD, e.g. 2024-04-30, "
                              "or 'latest'")
    try:
        day = dt.date.fromisoformat(cleaned)
    except ValueError as exc:
        raise MartsQueryError(f"malformed {name} {_shown(text)}: {exc}") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise MartsQueryError(f"{name} {cleaned} is out of range: dates run from {FIRST_DATE} to {LAST_DATE}")
    return day


def _choice(value: str | None, allowed: Sequence[str], name: str) -> str:
    """Case-insensitive match against a fixed list; returns the canonical spelling."""
    by_key = {a.lower(): a for a in allowed}
    found = by_key.get(str(value).strip().lower())
    if found is None:
        raise MartsQueryError(f"unknown {name} {_shown(value)}; expected one of: {', '.join(allowed)}")
    return found


def _choices(values: Sequence[str] | str | None, allowed: Sequence[str], name: str) -> list[str]:
    """A list (or comma-separated string) of choices; None = all of them, in their canonical order."""
    if values is None:
        return list(allowed)
    items = [v for v in (values.split(",") if isinstance(values, str) else values) if str(v).strip()]
    if not items:
        raise MartsQueryError(f"{name} is empty; expected some of: {', '.join(allowed)} (omit it for all)")
    chosen = {_choice(v, allowed, name.rstrip("s")) for v in items}
    return [a for a in allowed if a in chosen]


def _bounded(value: int, low: int, high: int, name: str) -> int:
    if not low <= value <= high:
        raise MartsQueryError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _normalise_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def argument_size(arguments: dict[str, Any]) -> int:
    """Characters of the arguments as JSON: what a call asks the server to read."""
    return len(json.dumps(arguments, default=str, ensure_ascii=False))


def compact_json(answer: dict[str, Any]) -> str:
    """The answer as the text an agent reads: JSON without indentation (half the size of pretty-printed)."""
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


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
        # fetchall: a partly fetched result would keep the connection busy for the next query
        return self.conn.execute(sql, list(params)).fetchall()[0]

    def has_table(self, table: str) -> bool:
        return bool(self.one("select count(*) from duckdb_tables() where schema_name = 'marts' "
                             "and table_name = $1", [table])[0])

    def publication(self) -> dict[str, Any]:
        stamp_us, run_id = self.one(
            f"select epoch_us(max(published_at)), arg_max(run_id, published_at) from marts.{MANIFEST}")
        if stamp_us is None:
            raise MartsQueryError(f"no published marts at {self.directory}: the publication is empty; "
                                  "run the pipeline first")
        published_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=stamp_us)
        return {"published_at": published_at.isoformat(), "run_id": run_id}

    def bounds(self, table: str) -> tuple[dt.date | None, dt.date | None]:
        if table not in _DATED_TABLES:
            raise ValueError(f"{table} is not an allowed table")
        if not self.has_table(table):
            raise MartsQueryError(f"the publication at {self.directory} has no marts.{table}: it was published "
                                  "by an older version of the pipeline; run the pipeline again")
        return self.one(f"select min(date), max(date) from marts.{table}")

    def session(self, table: str, requested: str | None, *, name: str = "date") -> dt.date:
        """The date to answer for: `requested` if `table` has rows that day; its latest date for None/'latest'.

        Policy: exact dates only. A date without rows is refused with the nearest earlier date and the
        latest one in the message, rather than silently answered for another day.
        """
        day = parse_date(requested, name)
        first, latest = self.bounds(table)
        if latest is None:
            raise MartsQueryError(f"marts.{table} has no rows in the publication at {self.directory}: "
                                  "run the pipeline over a longer range")
        if day is None or day == "latest":
            return latest
        earlier, exact = self.one(f"select max(date) filter (where date < $1), count(*) filter (where date = $1) "
                                  f"from marts.{table}", [day])
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
        return sorted({s.strip() for r in self.conn.execute(sql, list(params)).fetchall() if r[0] is not None
                       for s in str(r[0]).split(",")})

    def table_sources(self, table: str, start: dt.date, end: dt.date) -> list[str]:
        """The data sources of a mart's rows over [start, end] (every mart has a `source` column)."""
        if table not in _DATED_TABLES:
            raise ValueError(f"{table} is not an allowed table")
        return self.sources(f"select distinct source from marts.{table} where date between $1 and $2", [start, end])

    def skill(self, day: dt.date) -> dict[str, Any]:
        """The out-of-sample skill of the model and its baselines known on `day` (marts.skill), with a reading.

        Every answer that shows a prediction carries this, so that prediction_strength is never mistaken for a
        forecast that has been shown to work.
        """
        rows = {r.pop("signal"): r for r in self.rows(
            "select signal, max(date) as as_of, arg_max(horizon_sessions, date) as horizon_sessions, "
            "arg_max(ic_mean, date) as ic_mean, arg_max(ic_t_stat_non_overlapping, date) as ic_t_stat, "
            "arg_max(non_overlapping_dates, date) as non_overlapping_periods, "
            "arg_max(hit_rate_pooled, date) as hit_rate "
            "from marts.skill where date <= $1 group by signal", [day])} if self.has_table("skill") else {}
        model = rows.get("model")
        block: dict[str, Any] = {
            "what": "out-of-sample rank IC of prediction_strength vs the forward relative return of each sector "
                    "(Spearman, across sectors, per date); ic_t_stat from non-overlapping periods",
            "model": _skill_figures(model),
            "momentum_baseline": _skill_figures(rows.get("momentum")),
            "composite_baseline": _skill_figures(rows.get("composite")),
        }
        if model is not None:
            block["as_of"] = model["as_of"]
            block["horizon_sessions"] = model["horizon_sessions"]
        block["reading"] = skill_reading(model and model["non_overlapping_periods"], model and model["ic_t_stat"])
        return block


def _skill_figures(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: row[k] for k in ("ic_mean", "ic_t_stat", "non_overlapping_periods", "hit_rate")}


class PublishedMarts:
    """Read-only answers from `<directory>/sector_rotation.duckdb`, opened afresh for every request."""

    def __init__(self, directory: str | Path, *, today: Callable[[], dt.date] = dt.date.today):
        self.directory = Path(directory)
        self.path = self.directory / PUBLISHED_DB
        self.today = today

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

    def _answer(self, reader: _Reader, sources: list[str], payload: dict[str, Any],
                requested: str | None = None) -> dict[str, Any]:
        """Every answer starts with where it came from: the publication and the data source."""
        answer: dict[str, Any] = {
            "publication": reader.publication(),
            "source": ", ".join(sources) if sources else "unknown",
            "is_synthetic": "synthetic" in sources,
        }
        if answer["is_synthetic"]:
            answer["notice"] = SYNTHETIC_NOTICE
        if requested is not None and str(requested).strip().lower() == "today" and "date" in payload:
            today = self.today()
            if payload["date"] != today.isoformat():
                answer["date_note"] = (f"'today' is {today.isoformat()}; the latest published session is "
                                       f"{payload['date']}, which this answer is for")
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
        """Tickers, sector names or their common short names (case, spaces, punctuation ignored); None = all."""
        if requested is None:
            return None
        raw = requested.split(",") if isinstance(requested, str) else requested
        items = [str(s).strip() for s in raw if str(s).strip()]
        if not items:
            raise MartsQueryError("sectors is empty: pass tickers (XLK) or names (Technology), or omit it for all")
        catalogue = cls._sector_catalogue(reader)
        lookup = sector_lookup(catalogue)
        tickers: list[str] = []
        for item in items:
            ticker = resolve_sector(item, lookup, catalogue)
            if ticker not in tickers:
                tickers.append(ticker)
        return tickers

    # -- tools

    def _sector_extras(self, reader: _Reader, day: dt.date) -> dict[str, dict[str, Any]]:
        """prediction_strength, its rank and the relative volume of each sector on `day`."""
        volume = {r["ticker"]: r["relative_volume_20d"] for r in reader.rows(
            "select ticker, value as relative_volume_20d from marts.sector_scores "
            "where date = $1 and metric = 'relative_volume_20d'", [day])}
        predictions = {r.pop("ticker"): r for r in reader.rows(
            "select ticker, prediction_strength, prediction_rank from marts.predictions where date = $1",
            [day])} if reader.has_table("predictions") else {}
        return {t: {"prediction_strength": predictions.get(t, {}).get("prediction_strength"),
                    "prediction_rank": predictions.get(t, {}).get("prediction_rank"),
                    "relative_volume_20d": volume.get(t)}
                for t in {*volume, *predictions}}

    def sector_heatmap(self, date: str | None = None, kind: str = "returns") -> dict[str, Any]:
        kind = _choice(kind, HEATMAP_KINDS, "kind")
        table = "sector_returns" if kind == "returns" else "sector_scores"
        with self.reader() as reader:
            day = reader.session(table, date)
            cells = reader.rows(f"select ticker, sector, metric, metric_order, value, is_total_return_estimated "
                                f"from marts.{table} where date = $1 and metric <> 'relative_volume_20d' "
                                "order by ticker, metric_order", [day])
            if kind == "returns":
                units = "percent (total return over the window)"
            else:
                units = ("relative_strength_change_20d_pct in percent; composite_score and rs_* unitless; "
                         "ranks 1 = best; sri_total_score 0-400")
            metrics = [m for m, _ in sorted({(c["metric"], c["metric_order"]) for c in cells}, key=lambda x: x[1])]
            extras = self._sector_extras(reader, day)
            by_ticker: dict[str, dict[str, Any]] = {}
            for cell in cells:
                row = by_ticker.setdefault(cell["ticker"], {"ticker": cell["ticker"], "sector": cell["sector"]})
                is_rank = cell["metric"].endswith("_rank")   # the long mart stores every value as a double
                row[cell["metric"]] = None if cell["value"] is None else (
                    int(cell["value"]) if is_rank else cell["value"])
                row["is_total_return_estimated"] = bool(row.get("is_total_return_estimated")
                                                        or cell["is_total_return_estimated"])
            for ticker, row in by_ticker.items():
                row.update(extras.get(ticker, {"prediction_strength": None, "prediction_rank": None,
                                               "relative_volume_20d": None}))
            return self._answer(reader, reader.table_sources(table, day, day), {
                "date": day.isoformat(), "kind": kind, "table": f"marts.{table}", "units": units,
                "metrics": metrics, "extra_columns": EXTRA_COLUMNS, "rows": list(by_ticker.values()),
                "prediction_skill": reader.skill(day),
            }, date)

    def sector_performance(self, sectors: Sequence[str] | str | None = None, window: str = "20D",
                           date: str | None = None) -> dict[str, Any]:
        window = _choice(window, WINDOWS, "window")
        with self.reader() as reader:
            tickers = self._resolve_sectors(reader, sectors)
            day = reader.session("sector_returns", date)
            rows = reader.rows("""
                with
                returns as (
                    select ticker, sector, value as return_pct, is_total_return_estimated
                    from marts.sector_returns
                    where date = $1 and metric = $2
                ),
                scores as (
                    select * exclude (date, sector, source, is_total_return_estimated)
                    from marts.sector_scores_wide
                    where date = $1
                )
                select returns.* exclude (is_total_return_estimated),
                    scores.relative_strength_change_20d_pct, scores.composite_score, scores.composite_rank,
                    scores.sri_total_score, scores.sri_rank, scores.relative_volume_20d,
                    returns.is_total_return_estimated,
                from returns
                left join scores using (ticker)
                where $3::varchar[] is null or list_contains($3::varchar[], returns.ticker)
                order by scores.composite_rank nulls last, returns.ticker
            """, [day, window, tickers])
            extras = self._sector_extras(reader, day)
            for row in rows:
                row["is_ranked"] = row["composite_rank"] is not None
                extra = extras.get(row["ticker"], {})
                row["prediction_strength"] = extra.get("prediction_strength")
                row["prediction_rank"] = extra.get("prediction_rank")
            absent = [t for t in tickers or () if t not in {r["ticker"] for r in rows}]
            catalogue = self._sector_catalogue(reader) if absent else {}
            for ticker in absent:   # a sector outside the universe that day (e.g. XLC before 2018): say so
                rows.append({"ticker": ticker, "sector": catalogue.get(ticker), "return_pct": None,
                             "relative_strength_change_20d_pct": None, "composite_score": None,
                             "composite_rank": None, "sri_total_score": None, "sri_rank": None,
                             "relative_volume_20d": None, "is_total_return_estimated": None, "is_ranked": False,
                             "prediction_strength": None, "prediction_rank": None,
                             "note": f"not in the universe on {day.isoformat()}"})
            return self._answer(reader, reader.table_sources("sector_returns", day, day), {
                "date": day.isoformat(), "window": window,
                "units": {"return_pct": "percent (total return)", "relative_strength_change_20d_pct": "percent",
                          "composite_score": "weighted relative performance (5/20/60 sessions)",
                          "sri_total_score": "0-400 (four 0-100 components)",
                          **EXTRA_COLUMNS},
                "sectors": rows,
                "prediction_skill": reader.skill(day),
            }, date)

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
            return self._answer(reader, reader.table_sources("market_overview", day, day), payload, date)

    def macro_indicators(self, date: str | None = None, series: Sequence[str] | str | None = None) -> dict[str, Any]:
        with self.reader() as reader:
            wanted: list[str] | None = None
            if series is not None:
                items = series.split(",") if isinstance(series, str) else list(series)
                items = [str(s).strip() for s in items if str(s).strip()]
                known = [r[0] for r in reader.conn.execute(
                    "select distinct series from marts.macro_indicators order by series").fetchall()]
                by_key = {_normalise_name(k): k for k in known}
                wanted = []
                for item in items:
                    if _normalise_name(item) not in by_key:
                        raise MartsQueryError(f"unknown series {_shown(item)}; known: {', '.join(known)}")
                    wanted.append(by_key[_normalise_name(item)])
                if not wanted:
                    raise MartsQueryError(f"series is empty; known: {', '.join(known)} (omit it for all)")
            day = reader.session("macro_indicators", date)
            rows = reader.rows("select series, series_kind, series_units as units, value, change_1d, change_20d, "
                               "change_1d_pct, change_20d_pct, observed_date, observation_date, stale_sessions, "
                               "is_carried_forward, is_stale "
                               "from marts.macro_indicators where date = $1 "
                               "and ($2::varchar[] is null or list_contains($2::varchar[], series)) "
                               "order by series", [day, wanted])
            return self._answer(reader, reader.table_sources("macro_indicators", day, day), {
                "date": day.isoformat(),
                "note": ("value is the latest published observation on or before date, in its units; change_1d and "
                         "change_20d are differences over 1 and 20 sessions in those units (percentage points for "
                         "yields and rates), change_*_pct relative changes in percent (prices, indices, levels "
                         "only); observed_date is the session the value became public, observation_date the period "
                         "it describes; is_carried_forward: no new value that session (stale_sessions old); "
                         "is_stale: older than the series' normal cadence allows"),
                "indicators": rows,
            }, date)

    @staticmethod
    def _sentiment_rows(reader: _Reader, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        return reader.rows(
            "select date, dimension, label, score, band, interpretation, top_contributors from marts.sentiment "
            "where date between $1 and $2 "
            "order by date, coalesce(list_position($3::varchar[], dimension), 99), dimension",
            [start, end, list(DIMENSIONS)])

    def sentiment(self, date: str | None = None, days: int = 1) -> dict[str, Any]:
        """One compact row per session (scores and band codes), the texts once, the latest day in full."""
        days = _bounded(days, 1, MAX_SENTIMENT_DAYS, "days")
        with self.reader() as reader:
            day = reader.session("sentiment", date)
            first = reader.one("select min(date) from (select distinct date from marts.sentiment where date <= $1 "
                               "order by date desc limit $2)", [day, days])[0]
            rows = self._sentiment_rows(reader, first, day)
            labels: dict[str, str] = {}
            readings: dict[str, dict[str, str]] = {}
            by_date: dict[str, dict[str, dict[str, Any]]] = {}
            for row in rows:
                labels[row["dimension"]] = row["label"]
                readings.setdefault(row["dimension"], {})[row["band"]] = row["interpretation"]
                by_date.setdefault(row["date"], {})[row["dimension"]] = row
            scores = []
            for session, dims in by_date.items():
                present = [dims.get(d) for d in DIMENSIONS]
                scores.append([session, *(None if r is None else r["score"] for r in present),
                               "".join("." if r is None else BAND_CODES.get(r["band"], "?") for r in present)])
            # the latest session in full, but its texts are in labels and readings already
            latest = [{k: v for k, v in r.items() if k not in ("date", "label", "interpretation")}
                      for r in by_date.get(day.isoformat(), {}).values()]
            payload: dict[str, Any] = {
                "date": day.isoformat(), "days": days,
                "dimensions": list(DIMENSIONS),
                "labels": labels,
                "columns": ["date", *DIMENSIONS, "bands"],
                "band_codes": {"+": "positive", "0": "neutral", "-": "negative", ".": "no score"},
                "readings": readings,
                "scores": scores,
                "latest": latest,
            }
            if len(scores) < days:
                payload["note"] = (f"only {len(scores)} session(s) of sentiment are published up to "
                                   f"{day.isoformat()} (earlier sessions are warming up or not published)")
            return self._answer(reader, reader.table_sources("sentiment", first, day), payload, date)

    def alerts(self, start: str | None = None, end: str | None = None, tier: str | None = None,
               limit: int = 50) -> dict[str, Any]:
        start_day, end_day = parse_date(start, "start"), parse_date(end, "end")
        tier = None if tier is None else _choice(tier, TIERS, "tier")
        limit = _bounded(limit, 1, MAX_ALERT_LIMIT, "limit")
        with self.reader() as reader:
            latest = reader.one("select max(date) from marts.market_overview")[0]
            if start_day == "latest":
                start_day = latest
            if end_day is None or end_day == "latest":
                end_day = latest if latest is not None else self.today()
            if start_day is None:
                start_day = max(end_day - dt.timedelta(days=DEFAULT_ALERT_DAYS), FIRST_DATE)
            if start_day > end_day:
                raise MartsQueryError(f"start {start_day.isoformat()} is after end {end_day.isoformat()}")
            where = "from marts.alerts where date between $1 and $2 and ($3::varchar is null or tier = $3::varchar)"
            total = reader.one(f"select count(*) {where}", [start_day, end_day, tier])[0]
            rows = reader.rows(
                f"select date, tier, alert_type, dimension, value, threshold, message {where} "
                "order by date desc, list_position(['CRITICAL', 'HIGH', 'MEDIUM'], tier), dimension, alert_type "
                "limit $4", [start_day, end_day, tier, limit])
            sources = reader.table_sources("market_overview", start_day, end_day) \
                or reader.sources("select distinct source from marts.market_overview", [])
            answer = self._answer(reader, sources, {
                "start": start_day.isoformat(), "end": end_day.isoformat(), "tier": tier,
                "latest_published_date": _json_value(latest),
                "total": total, "returned": len(rows), "truncated": total > len(rows),
                "order": "most recent first, then CRITICAL, HIGH, MEDIUM",
                "alerts": rows,
            })
            return answer

    # -- strategy

    def allocation(self, books: Sequence[str] | str | None = None, risk_tolerance: str | None = None,
                   date: str | None = None) -> dict[str, Any]:
        """Each book's latest decision on or before date; a risk tolerance replays the rule books with its cap."""
        chosen = _choices(books, BOOKS, "books")
        tolerance = None if risk_tolerance is None else _choice(risk_tolerance, RISK_TOLERANCES, "risk_tolerance")
        with self.reader() as reader:
            # any session (decisions exist on rebalance sessions only): each book's last decision up to it
            day = reader.session("market_overview", date)
            if reader.bounds("allocations")[1] is None:
                raise MartsQueryError("marts.allocations has no rows yet: the model has not predicted "
                                      "(it trains after about a year of history)")
            settings = allocation_settings(tolerance)
            answers = []
            for book in chosen:
                decided = reader.one("select max(date) from marts.allocations where book = $1 and date <= $2",
                                     [book, day])[0]
                if decided is None:
                    answers.append({"book": book, "rule": BOOK_RULES[book], "decision_date": None, "weights": [],
                                    "note": f"no decision of {book} on or before {day.isoformat()}"})
                    continue
                if tolerance is not None and book in RULE_BOOKS:
                    weights = replay_rule_book(reader, book, decided, settings)
                    origin = (f"replayed: the seed rule re-run over every published decision of the book with "
                              f"risk_tolerance {tolerance} (cap {settings['cap']:g})")
                else:
                    weights = reader.rows(
                        "select ticker, sector, weight, previous_weight, score, score_rank, rule_group "
                        "from marts.allocations where book = $1 and date = $2 order by weight desc, ticker",
                        [book, decided])
                    origin = "stored: marts.allocations as the pipeline decided"
                answers.append({"book": book, "rule": BOOK_RULES[book], "decision_date": decided.isoformat(),
                                "weights_from": origin, "weights": weights})
            payload = {
                "date": day.isoformat(),
                "risk_tolerance": tolerance,
                "rule": SEED_RULE,
                "settings": settings,
                "books": answers,
                "units": {"weight": "fraction of the book (weights of a decision sum to 1)",
                          "score": "model: prediction_strength; composite: composite_score; momentum_top3: "
                                   "60-session relative strength change"},
                "prediction_skill": reader.skill(day),
            }
            return self._answer(reader, reader.table_sources("allocations", day, day)
                                or reader.table_sources("market_overview", day, day), payload, date)

    def backtest(self, books: Sequence[str] | str | None = None, points: int = MAX_CURVE_POINTS,
                 start: str | None = None, end: str | None = None) -> dict[str, Any]:
        """Performance to date per book and the equity curves, downsampled to at most `points` dates."""
        chosen = _choices(books, BACKTEST_BOOKS, "books")
        points = _bounded(points, 2, MAX_CURVE_POINTS, "points")
        with self.reader() as reader:
            end_day = reader.session("backtest", end, name="end")
            first = reader.bounds("backtest")[0]
            start_day = parse_date(start, "start")
            if start_day is None:
                start_day = first
            elif start_day == "latest":
                start_day = end_day
            if start_day > end_day:
                raise MartsQueryError(f"start {start_day.isoformat()} is after end {end_day.isoformat()}")
            metrics = reader.rows(
                "select book, date as as_of, days, total_return_pct, cagr_pct, annualised_volatility_pct, sharpe, "
                "sortino, max_drawdown_pct, average_annual_turnover, total_cost_pct, hit_rate_vs_benchmark "
                "from marts.strategy_performance where date = $1 and list_contains($2::varchar[], book) "
                "order by list_position($2::varchar[], book)", [end_day, chosen]) \
                if reader.has_table("strategy_performance") else []
            curve_rows = reader.rows(
                "select date, book, equity, drawdown_pct from marts.backtest where date between $1 and $2 "
                "and list_contains($3::varchar[], book) order by date", [start_day, end_day, chosen])
            dates = sorted({r["date"] for r in curve_rows})
            kept = set(downsample(dates, points))
            curves: dict[str, list[list[Any]]] = {b: [] for b in chosen}
            for row in curve_rows:
                if row["date"] in kept:
                    curves[row["book"]].append([row["date"], row["equity"], row["drawdown_pct"]])
            cost_bps = reader.one("select median(cost_bps / turnover) from marts.backtest "
                                  "where is_trade_day and turnover > 1e-9")[0]
            payload = {
                "start": start_day.isoformat(), "end": end_day.isoformat(),
                "setup": ("decisions at the close of a rebalance session trade at the close of the next session; "
                          "costs in basis points of turnover; no look-ahead; every book starts with equity 1.0 on "
                          "the same session; the benchmark is bought and held"),
                "cost_bps_per_unit_turnover": _json_value(cost_bps),
                "metrics": metrics,
                "units": {"*_pct": "percent", "equity": "growth of 1.0 invested at the start",
                          "average_annual_turnover": "fraction of the book traded per year (2.0 = switched once)",
                          "hit_rate_vs_benchmark": "fraction of sessions beating the benchmark"},
                "curve_columns": ["date", "equity", "drawdown_pct"],
                "curve_points": len(kept),
                "curve_sessions": len(dates),
                "curves": curves,
                "curve_note": (f"{len(dates)} sessions shown as {len(kept)} evenly spaced dates (first and last "
                               "kept); the exact max drawdown is in metrics"),
                "prediction_skill": reader.skill(end_day),
            }
            return self._answer(reader, reader.table_sources("backtest", start_day, end_day), payload, end)


EXTRA_COLUMNS = {
    "prediction_strength": "the walk-forward model's predicted forward return vs the benchmark over horizon_sessions "
                           "(a fraction); read with prediction_skill",
    "prediction_rank": "1 = highest prediction_strength that day",
    "relative_volume_20d": "volume relative to its 20-session average (1.0 = normal): the seed's volume_change",
}

SEED_RULE = ("seed article 000's rule at each rebalance: sort sectors by score; the top third gains step up to the "
             "cap, the bottom third loses step down to the floor, the middle decays toward 1/N by middle_decay; then "
             "the weights are normalised to sum 1 within [floor, cap]")
BOOK_RULES = {
    "model": "seed article 000's rule on prediction_strength (the walk-forward model)",
    "composite": "seed article 000's rule on the composite score (seed article 004's ranking)",
    "momentum_top3": "equal weight of the top 3 sectors by 60-session relative momentum, rebalanced monthly "
                     "(Faber 2010 baseline; risk tolerance does not apply)",
    "equal_weight": "1/N over the ranked sectors (baseline; risk tolerance does not apply)",
}


def allocation_settings(risk_tolerance: str | None) -> dict[str, Any]:
    """The rule's numbers: the package defaults, with the cap of `risk_tolerance` when one is asked for."""
    from sector_pipeline.strategy.config import AllocationConfig

    config = AllocationConfig() if risk_tolerance is None else AllocationConfig(risk_tolerance=risk_tolerance)
    return {
        "risk_tolerance": config.risk_tolerance, "cap": config.cap, "caps_by_risk_tolerance": dict(config.caps),
        "floor": config.floor, "step": config.step, "middle_decay": config.middle_decay,
        "rebalance": config.rebalance, "momentum_top_n": config.momentum_top_n,
        "momentum_rebalance": config.momentum_rebalance,
        "settings_from": "the package defaults (sector_pipeline.strategy.config.AllocationConfig); the publication "
                         "does not record a run's own settings",
    }


def replay_rule_book(reader: _Reader, book: str, last: dt.date, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed rule re-run from the book's first published decision to `last` with other settings.

    Uses the book's own decision dates and scores (marts.allocations), so with the pipeline's settings it gives
    back the stored weights (tested); the loop is the pipeline's own `rule_book`.
    """
    import polars as pl

    from sector_pipeline.strategy.allocation import rule_book
    from sector_pipeline.strategy.config import AllocationConfig

    frame = reader.conn.sql(
        "select date, ticker, score from marts.allocations where book = $1 and date <= $2 and score is not null "
        "order by date, ticker", params=[book, last]).pl()
    names = dict(reader.conn.execute("select ticker, any_value(sector) from marts.allocations where book = $1 "
                                     "and date = $2 group by ticker", [book, last]).fetchall())
    config = AllocationConfig(risk_tolerance=settings["risk_tolerance"], step=settings["step"],
                              floor=settings["floor"], middle_decay=settings["middle_decay"])
    decisions = frame.get_column("date").unique().sort().to_list()
    replayed = rule_book(frame, decisions, config, book).filter(pl.col("date") == last)
    return [{"ticker": r["ticker"], "sector": names.get(r["ticker"]), "weight": _json_value(r["weight"]),
             "previous_weight": _json_value(r["previous_weight"]), "score": _json_value(r["score"]),
             "score_rank": r["score_rank"], "rule_group": r["group"]}
            for r in replayed.sort(["weight", "ticker"], descending=[True, False]).iter_rows(named=True)]


def downsample(dates: Sequence[str], points: int) -> list[str]:
    """At most `points` evenly spaced dates of `dates` (sorted), the first and the last always kept."""
    n = len(dates)
    if n <= points:
        return list(dates)
    return [dates[round(i * (n - 1) / (points - 1))] for i in range(points)]


def sector_lookup(catalogue: dict[str, str]) -> dict[str, str]:
    """Normalised ticker, sector name and common short names -> ticker."""
    lookup: dict[str, str] = {}
    for ticker, name in catalogue.items():
        for alias in (ticker, name or "", *SECTOR_ALIASES.get(name or "", ())):
            if alias:
                lookup.setdefault(_normalise_name(alias), ticker)
    return lookup


def resolve_sector(item: str, lookup: dict[str, str], catalogue: dict[str, str]) -> str:
    """One sector argument -> its ticker: an exact name or alias, else a unique prefix of at least 3 letters."""
    key = _normalise_name(item)
    if key in lookup:
        return lookup[key]
    found = sorted({t for alias, t in lookup.items() if len(key) >= MIN_PREFIX and alias.startswith(key)})
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise MartsQueryError(f"ambiguous sector {_shown(item)}: "
                              f"{', '.join(f'{catalogue[t]} ({t})' for t in found)}; say which")
    example = next((name for name in catalogue.values() if name), "Technology")
    raise MartsQueryError(f"unknown sector {_shown(item)}; known: {', '.join(catalogue)} "
                          f"(tickers, or names such as {example}, or short names such as tech, staples)")


# ---------------------------------------------------------------------------------------- MCP wiring

DateArg = Annotated[str | None, Field(
    description="Session date YYYY-MM-DD, or 'latest' / 'today' (the latest published session); omit for the "
                "latest. A date without data is refused with the nearest earlier session in the message.")]
KindArg = Annotated[str, Field(
    description="returns: windows 1D..252D in percent (marts.sector_returns); scores: RS change, composite "
                "score/rank, SRI total/rank, RS-Ratio/Momentum (marts.sector_scores)",
    json_schema_extra={"enum": list(HEATMAP_KINDS)})]
SectorsArg = Annotated[list[str] | str | None, Field(
    description="Sectors as tickers (XLK), names (Technology) or short names (tech, staples, healthcare), "
                "case-insensitive; a list or a comma-separated string; omit for all sectors")]
WindowArg = Annotated[str, Field(description="Return window (sessions, or YTD)",
                                 json_schema_extra={"enum": list(WINDOWS)})]
SeriesArg = Annotated[list[str] | str | None, Field(
    description="Macro series names (e.g. vix, us10y_yield_pct); omit for all")]
DaysArg = Annotated[int, Field(description=f"Number of sessions up to date, 1..{MAX_SENTIMENT_DAYS}",
                               json_schema_extra={"minimum": 1, "maximum": MAX_SENTIMENT_DAYS})]
StartArg = Annotated[str | None, Field(
    description="First date YYYY-MM-DD (inclusive), or 'latest'; default: "
                f"{DEFAULT_ALERT_DAYS} days before end for alerts, the backtest start for get_backtest")]
EndArg = Annotated[str | None, Field(
    description="Last date YYYY-MM-DD (inclusive), or 'latest' / 'today'; default: latest published session")]
TierArg = Annotated[str | None, Field(description="Only this tier; omit for all",
                                      json_schema_extra={"enum": [*TIERS, None]})]
LimitArg = Annotated[int, Field(description=f"Most alerts returned (most recent first), 1..{MAX_ALERT_LIMIT}",
                                json_schema_extra={"minimum": 1, "maximum": MAX_ALERT_LIMIT})]
BooksArg = Annotated[list[str] | str | None, Field(
    description=f"Books: {', '.join(BOOKS)} (get_backtest also: benchmark); omit for all")]
RiskArg = Annotated[str | None, Field(
    description="Risk tolerance of the seed rule: low and medium cap a sector at 20%, high at 30%. Given, the two "
                "rule books are replayed with it; omitted, the weights the pipeline stored are returned",
    json_schema_extra={"enum": [*RISK_TOLERANCES, None]})]
PointsArg = Annotated[int, Field(description=f"Most dates of each equity curve, 2..{MAX_CURVE_POINTS}",
                                 json_schema_extra={"minimum": 2, "maximum": MAX_CURVE_POINTS})]


def build_server(published_dir: str | Path, *, log_level: str = "INFO") -> Any:
    """The MCPServer with the tools over `published_dir`; `run()` it for stdio."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, TextContent, ToolAnnotations

    class BoundedServer(MCPServer):
        """Refuses oversized arguments before the SDK parses them, so they are never echoed or logged."""

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            if len(name) > MAX_TOOL_NAME_CHARS:
                raise ToolError(f"unknown tool (a name of {len(name)} characters; the tools are listed by "
                                "tools/list)")
            size = argument_size(arguments or {})
            if size > MAX_ARGUMENTS_CHARS:
                # the SDK's prefix, as on every other refused call
                raise ToolError(f"Error executing tool {name}: arguments too large ({size} characters; at most "
                                f"{MAX_ARGUMENTS_CHARS}): refused unread; pass dates, names and numbers only")
            return await super().call_tool(name, arguments, context)

    marts = PublishedMarts(published_dir)
    server = BoundedServer(
        SERVER_NAME,
        title="S&P 500 sector rotation",
        version=__version__,
        log_level=log_level,  # type: ignore[arg-type]
        instructions=(
            "Read-only sector rotation analytics (S&P 500 SPDR sectors vs SPY) from the latest publication of "
            "the sector_pipeline marts. Every answer names its publication (published_at) and its data source; "
            "source 'synthetic' means simulated data, never real prices. Dates are trading sessions, ISO "
            "YYYY-MM-DD, or 'latest'. prediction_strength is a model output: read it with prediction_skill, the "
            "model's measured out-of-sample skill, which every answer showing it carries."),
    )
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)

    def tool(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """Register `fn` read-only, its docstring on one line as the description the agent reads."""
        server.add_tool(fn, description=" ".join((fn.__doc__ or "").split()), annotations=read_only)
        return fn

    def answer(call: Callable[[], dict[str, Any]]) -> Any:
        """The answer as compact JSON text and structured content; anticipated failures as their message."""
        try:
            result = call()
        except MartsQueryError as exc:
            raise ToolError(str(exc)) from None
        except duckdb.Error as exc:
            logger.exception("reading %s failed", marts.path)
            raise ToolError(f"could not read the published marts at {marts.directory} ({type(exc).__name__}); "
                            "if a publication was being swapped in, retry") from None
        return CallToolResult(content=[TextContent(type="text", text=compact_json(result))],
                              structured_content=result)

    @tool
    def get_sector_heatmap(date: DateArg = None, kind: KindArg = "returns") -> dict[str, Any]:
        """Sector x metric matrix of one session: returns over 1D..252D and YTD in percent (kind=returns) or the
        scores (kind=scores), each row with prediction_strength, its rank and the relative volume; the model's
        out-of-sample skill in prediction_skill."""
        return answer(lambda: marts.sector_heatmap(date, kind))

    @tool
    def get_sector_performance(sectors: SectorsArg = None, window: WindowArg = "20D",
                               date: DateArg = None) -> dict[str, Any]:
        """Per sector on one session: return over the window (percent), relative volume, prediction_strength and
        its rank, 20-session relative strength change vs SPY, composite score and rank, Sector Rotation Index
        total and rank; sorted by composite rank; the model's out-of-sample skill in prediction_skill."""
        return answer(lambda: marts.sector_performance(sectors, window, date))

    @tool
    def get_market_overview(date: DateArg = None) -> dict[str, Any]:
        """One session's market overview: benchmark returns, breadth, leaders and laggards, the four sentiment
        scores with band and interpretation, that day's alerts, and flags for estimated or stale inputs."""
        return answer(lambda: marts.market_overview(date))

    @tool
    def get_macro_indicators(date: DateArg = None, series: SeriesArg = None) -> dict[str, Any]:
        """Macro series on one session (yields, VIX, dollar, commodities, inflation, FRED data): level with its
        units, 1- and 20-session changes, when it was published, the period it describes, and how stale it is."""
        return answer(lambda: marts.macro_indicators(date, series))

    @tool
    def get_sentiment(date: DateArg = None, days: DaysArg = 1) -> dict[str, Any]:
        """The four sentiment dimensions (economic cycle, interest rates, inflation, risk appetite), each in
        [-1, +1], for the last `days` sessions up to date (oldest first): one compact row per session (scores and
        band codes), the readings once, and the latest session in full with its top contributing sectors."""
        return answer(lambda: marts.sentiment(date, days))

    @tool
    def get_alerts(start: StartArg = None, end: EndArg = None, tier: TierArg = None,
                   limit: LimitArg = 50) -> dict[str, Any]:
        """Alerts raised between start and end (inclusive; default the last 30 days of data): tier, type,
        dimension, value, threshold and message, most recent first."""
        return answer(lambda: marts.alerts(start, end, tier, limit))

    @tool
    def get_allocation(books: BooksArg = None, risk_tolerance: RiskArg = None,
                       date: DateArg = None) -> dict[str, Any]:
        """Latest target weights per book on or before date (model and composite: seed article 000's rule; momentum
        top-3; equal weight), with the rule, its settings and the model's out-of-sample skill. risk_tolerance
        replays the rule books with that cap."""
        return answer(lambda: marts.allocation(books, risk_tolerance, date))

    @tool
    def get_backtest(books: BooksArg = None, points: PointsArg = MAX_CURVE_POINTS, start: StartArg = None,
                     end: EndArg = None) -> dict[str, Any]:
        """Backtest per book and the benchmark up to end: total return, CAGR, volatility, Sharpe, Sortino, max
        drawdown, turnover, costs, hit rate, and the equity and drawdown curves downsampled to at most `points`
        dates; with the model's out-of-sample skill."""
        return answer(lambda: marts.backtest(books, points, start, end))

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
