"""Read the marts the pictures and the report show, from the published copy or the warehouse. No Dagster.

Every loader takes any object with `query(sql, params) -> pl.DataFrame` (a `MartsReader` on a published
`sector_rotation.duckdb`, or the pipeline's `Warehouse`): the SQL is the same because both hold the tables in
a `marts` schema. Dates enter as bound parameters only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Mapping, Protocol

import duckdb
import polars as pl

from sector_pipeline import vocabulary
from sector_pipeline.errors import SectorPipelineError
from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline.strategy.config import SIGNALS as SKILL_SIGNALS
from sector_pipeline.strategy.config import STRATEGIES

# The session calendar of the marts: market_overview has one row per session (the benchmark's), whatever
# is still warming up elsewhere.
SESSIONS_TABLE = "marts.market_overview"
# marts.sentiment.dimension in seed article 004's order: the same names as the columns of marts.sentiment_wide
DIMENSIONS = tuple(vocabulary.MART_DIMENSIONS[d] for d in vocabulary.DIMENSIONS)
DIMENSION_LABELS = {vocabulary.MART_DIMENSIONS[d]: label for d, label in vocabulary.DIMENSION_LABELS.items()}
BOOKS = STRATEGIES   # display order
SIGNALS = tuple(SKILL_SIGNALS)
# A t-statistic counts as evidence of skill only with at least this many non-overlapping periods (a year of
# 20-session periods); fewer is reported as too few to tell skill from luck.
MIN_SKILL_PERIODS = 12
SKILL_T_STAT = 2.0


class ReportDataError(SectorPipelineError):
    """The marts cannot be read, or hold no data for the requested date."""


class Queryable(Protocol):
    def query(self, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame: ...


class MartsReader:
    """Read-only access to a DuckDB file holding the `marts` schema (published copy or warehouse).

    Opens the file read-only and never creates it: a missing file is an error naming the path, not a new
    empty database.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise ReportDataError(f"no DuckDB file at {self.path}: run the pipeline (it publishes the marts) "
                                  "or pass --warehouse / --published")
        try:
            self._conn = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            raise ReportDataError(f"cannot open {self.path} read-only: {exc}") from exc

    @classmethod
    def published(cls, directory: str | Path) -> "MartsReader":
        return cls(Path(directory) / PUBLISHED_DB)

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
        return self._conn.sql(sql, params=dict(params or {})).pl()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "MartsReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def has_table(db: Queryable, table: str) -> bool:
    schema, name = table.split(".")
    return bool(db.query("select count(*) as n from information_schema.tables "
                         "where table_schema = $schema and table_name = $name",
                         {"schema": schema, "name": name}).item())


def available_dates(db: Queryable) -> tuple[dt.date, dt.date] | None:
    """(first, latest) session of the marts, or None when there is none."""
    if not has_table(db, SESSIONS_TABLE):
        return None
    first, last = db.query(f"select min(date) as first, max(date) as last from {SESSIONS_TABLE}").row(0)
    return None if last is None else (first, last)


def latest_session(db: Queryable, start: dt.date, end: dt.date) -> dt.date | None:
    """The last session in [start, end) (a partition window), or None for a window without a session."""
    if not has_table(db, SESSIONS_TABLE):
        return None
    return db.query(f"select max(date) as d from {SESSIONS_TABLE} where date >= $start and date < $end",
                    {"start": start, "end": end}).item()


def require_session(db: Queryable, date: dt.date) -> None:
    """Raise a ReportDataError naming the available range unless `date` is a session of the marts."""
    bounds = available_dates(db)
    if bounds is None:
        raise ReportDataError(f"the marts hold no sessions ({SESSIONS_TABLE} is missing or empty)")
    found = db.query(f"select count(*) as n from {SESSIONS_TABLE} where date = $date", {"date": date}).item()
    if not found:
        first, last = bounds
        raise ReportDataError(
            f"no data for {date.isoformat()} in the marts (a weekend, a market holiday or a date outside the "
            f"loaded history); available sessions run from {first.isoformat()} to {last.isoformat()}: "
            f"the latest available date is {last.isoformat()}")


def sessions_up_to(db: Queryable, date: dt.date, count: int) -> list[dt.date]:
    """The last `count` sessions up to and including `date`, oldest first."""
    frame = db.query(f"select date from {SESSIONS_TABLE} where date <= $date order by date desc limit $n",
                     {"date": date, "n": count})
    return sorted(frame.get_column("date").to_list())


def data_source(db: Queryable, start: dt.date, end: dt.date) -> str | None:
    """The source of the prices behind the marts over [start, end] ('synthetic', 'yfinance', 'csv', ...).

    Several sources in one window (a history rebuilt from another source) read as 'a + b'.
    """
    frame = db.query(f"select distinct source from {SESSIONS_TABLE} where date >= $start and date <= $end "
                     "and source is not null order by source", {"start": start, "end": end})
    sources = frame.get_column("source").to_list()
    return " + ".join(sources) if sources else None


def sector_returns_on(db: Queryable, date: dt.date) -> pl.DataFrame:
    """marts.sector_returns of one date: ticker, sector, metric, metric_order, value (%)."""
    return db.query("select date, ticker, sector, metric, metric_order, value from marts.sector_returns "
                    "where date = $date order by ticker, metric_order", {"date": date})


def sector_scores_between(db: Queryable, metric: str, first: dt.date, last: dt.date) -> pl.DataFrame:
    """One metric of marts.sector_scores over [first, last]: date, ticker, sector, value."""
    return db.query("select date, ticker, sector, value from marts.sector_scores "
                    "where metric = $metric and date >= $first and date <= $last order by date, ticker",
                    {"metric": metric, "first": first, "last": last})


def sentiment_between(db: Queryable, first: dt.date, last: dt.date) -> pl.DataFrame:
    """marts.sentiment over [first, last]: date, dimension, label, score, band, interpretation, top_contributors."""
    return db.query("select date, dimension, label, score, band, interpretation, top_contributors "
                    "from marts.sentiment where date >= $first and date <= $last "
                    "order by date, dimension_order nulls last, dimension",
                    {"first": first, "last": last})


def market_overview_on(db: Queryable, date: dt.date) -> pl.DataFrame:
    return db.query(f"select * from {SESSIONS_TABLE} where date = $date", {"date": date})


def sector_table_on(db: Queryable, date: dt.date) -> pl.DataFrame:
    """Every sector's scores on `date` (marts.sector_scores_wide), best composite rank first, unranked last."""
    return db.query("select * from marts.sector_scores_wide where date = $date "
                    "order by composite_rank nulls last, ticker", {"date": date})


def alerts_between(db: Queryable, first: dt.date, last: dt.date) -> pl.DataFrame:
    """marts.alerts dated in [first, last], newest first, CRITICAL before HIGH before MEDIUM."""
    return db.query(
        "select date, tier, alert_type, dimension, value, threshold, message from marts.alerts "
        "where date >= $first and date <= $last "
        "order by date desc, case tier when 'CRITICAL' then 0 when 'HIGH' then 1 else 2 end, alert_type, dimension",
        {"first": first, "last": last})


def rotation_tails(db: Queryable, date: dt.date, *, frequency: str = "weekly", points: int = 5) -> pl.DataFrame:
    """The last `points` rows per sector of marts.relative_rotation dated on or before `date`.

    Weekly rows exist for completed weeks only, so on a mid-week date the head is the previous week's close.
    """
    return db.query(
        "select date, ticker, sector, rs_ratio, rs_momentum, quadrant, is_warming_up from ("
        "  select *, row_number() over (partition by ticker order by date desc) as age "
        "  from marts.relative_rotation where frequency = $frequency and date <= $date"
        ") where age <= $points order by ticker, date",
        {"frequency": frequency, "date": date, "points": points})


def rotation_history(db: Queryable, date: dt.date, *, frequency: str = "weekly", points: int = 52) -> pl.DataFrame:
    """Every sector's last `points` rows of marts.relative_rotation up to `date` (the rotation explorer's data)."""
    return rotation_tails(db, date, frequency=frequency, points=points)


def _empty_unless(db: Queryable, table: str, frame: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """A strategy mart's rows, or an empty frame for a publication made before the strategy marts existed."""
    return frame() if has_table(db, table) else pl.DataFrame()


def backtest_between(db: Queryable, first: dt.date, last: dt.date) -> pl.DataFrame:
    """marts.backtest over [first, last]: date, book, equity, drawdown_pct."""
    return _empty_unless(db, "marts.backtest", lambda: db.query(
        "select date, book, equity, drawdown_pct from marts.backtest where date >= $first and date <= $last "
        "order by book, date", {"first": first, "last": last}))


def performance_on(db: Queryable, date: dt.date) -> pl.DataFrame:
    """Each book's marts.strategy_performance row as of the latest date <= `date`, in BOOKS order."""
    return _empty_unless(db, "marts.strategy_performance", lambda: db.query(
        "select * from marts.strategy_performance "
        "where date = (select max(date) from marts.strategy_performance where date <= $date) "
        "order by list_position($books, book)", {"date": date, "books": list(BOOKS)}))


def latest_allocations(db: Queryable, date: dt.date) -> pl.DataFrame:
    """Each book's last decision on or before `date` (marts.allocations): decision date, sector, weight."""
    return _empty_unless(db, "marts.allocations", lambda: db.query(
        "select allocations.date, allocations.book, allocations.ticker, allocations.sector, allocations.weight, "
        "allocations.previous_weight, allocations.rule_group from marts.allocations "
        "inner join (select book, max(date) as date from marts.allocations where date <= $date group by book) "
        "as last using (book, date) order by list_position($books, book), ticker",
        {"date": date, "books": list(BOOKS)}))


def skill_on(db: Queryable, date: dt.date) -> pl.DataFrame:
    """Each signal's latest marts.skill row on or before `date` (model, momentum, composite)."""
    return _empty_unless(db, "marts.skill", lambda: db.query(
        "select * from marts.skill where date <= $date "
        "qualify row_number() over (partition by signal order by date desc) = 1 "
        "order by list_position($signals, signal)", {"date": date, "signals": list(SIGNALS)}))


def skill_reading(periods: int | None, t_stat: float | None) -> str:
    """One sentence on what the model's measured skill allows one to say (the report and the MCP answers)."""
    if not periods:
        return ("no out-of-sample skill measured yet: prediction_strength is an untested model output, not a "
                "forecast")
    if periods < MIN_SKILL_PERIODS or t_stat is None:
        return (f"only {periods} non-overlapping period(s) evaluated (fewer than {MIN_SKILL_PERIODS}): too few "
                "to tell skill from luck; treat prediction_strength as a hypothesis, not a forecast")
    if t_stat < SKILL_T_STAT:
        return (f"IC t-stat {t_stat:.2f} < {SKILL_T_STAT:g} over {periods} non-overlapping periods: not "
                "distinguishable from no skill; treat prediction_strength as a hypothesis, not a forecast")
    return (f"IC t-stat {t_stat:.2f} >= {SKILL_T_STAT:g} over {periods} non-overlapping periods: positive "
            "out-of-sample rank skill so far (past skill, not a guarantee; compare with the momentum baseline)")
