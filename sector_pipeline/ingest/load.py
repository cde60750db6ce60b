"""Ingestion steps as pure functions: fetch a window from a source, then validate it. No Dagster here."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.contracts import schema_of
from sector_pipeline.errors import SourceError
from sector_pipeline.ingest.schemas import SyntheticRegimes, UniverseMembership
from sector_pipeline.ingest.validation import (
    STALENESS_SCHEMA,
    drop_before_inception,
    expected_rows,
    missing_rows,
    require_complete,
    stale_series,
    validate_macro,
    validate_prices,
)
from sector_pipeline.sources.base import (
    MACRO_SCHEMA,
    PRICE_SCHEMA,
    REGIME_SCHEMA,
    MarketDataSource,
    split_by_provider,
)
from sector_pipeline.universe import Universe
from sector_pipeline.vocabulary import DIMENSIONS

logger = logging.getLogger(__name__)

REGIME_DAILY_SCHEMA = schema_of(SyntheticRegimes)


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date  # exclusive
    sessions: tuple[dt.date, ...]

    @classmethod
    def of(cls, start: dt.date, end: dt.date, calendar: str = "XNYS") -> "Window":
        return cls(start, end, tuple(sessions(start, end, calendar)))

    @property
    def holidays(self) -> list[dt.date]:
        """Weekdays of the window that are not sessions (market holidays, closures)."""
        days = [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days)]
        open_days = set(self.sessions)  # built once: inside the comprehension it cost O(days x sessions)
        return [d for d in days if d.weekday() < 5 and d not in open_days]


def fetch_prices(source: MarketDataSource, universe: Universe, window: Window) -> pl.DataFrame:
    """Raw prices of the window for the benchmark and sectors, complete or a MissingDataError.

    Rows outside sessions or before inception are dropped (sources pad them); any expected
    (session, ticker) the source left out raises, naming the tickers and sessions, before anything is stored.
    """
    if not window.sessions:
        return pl.DataFrame(schema=PRICE_SCHEMA)
    frame = source.fetch_prices(universe.instruments, window.start, window.end)
    frame = frame.filter(pl.col("date").is_in(list(window.sessions)))
    frame = drop_before_inception(frame, {i.ticker: i.inception for i in universe.instruments})
    require_complete(frame, universe.instruments, window.sessions)
    return frame.select(list(PRICE_SCHEMA)).cast(PRICE_SCHEMA).sort("date", "ticker")  # type: ignore[arg-type]


@dataclass(frozen=True)
class MacroFetch:
    frame: pl.DataFrame
    unavailable: dict[str, str]  # provider -> why it delivered nothing (only providers whose series all warn)
    unfetched: tuple[str, ...] = ()  # the series of those providers: their stored rows must stay as they are


def fetch_macro(source: MarketDataSource, universe: Universe, window: Window) -> MacroFetch:
    """Raw macro series of the window, as received; whether they are complete enough is validation's call.

    Each provider is asked on its own: FRED being down must not cost the market-implied series, and when
    every FRED series only warns (the default), its outage is reported, not fatal.
    """
    if not window.sessions or not universe.macro:
        return MacroFetch(pl.DataFrame(schema=MACRO_SCHEMA), {})
    frames, unavailable, unfetched = [], {}, []
    for group in split_by_provider(universe.macro):
        if not group:
            continue
        try:
            frames.append(source.fetch_macro(group, window.start, window.end))
        except SourceError as exc:
            if any(s.blocks for s in group):
                raise
            logger.warning("macro provider %s delivered nothing: %s", group[0].provider, exc)
            unavailable[group[0].provider] = str(exc)
            unfetched += [s.series for s in group]
    frame = pl.concat([f.select(list(MACRO_SCHEMA)).cast(MACRO_SCHEMA) for f in frames]) if frames \
        else pl.DataFrame(schema=MACRO_SCHEMA)  # type: ignore[arg-type]
    frame = frame.filter(pl.col("date").is_in(list(window.sessions)))
    frame = drop_before_inception(frame, {m.series: m.inception for m in universe.macro}, key="series")
    return MacroFetch(frame.sort("date", "series"), unavailable, tuple(unfetched))


def daily_regimes(spells: pl.DataFrame, window: Window, source: str) -> pl.DataFrame:
    """Planted regime spells (REGIME_SCHEMA) as one label per session of the window."""
    days = pl.DataFrame({"date": list(window.sessions)}, schema={"date": pl.Date()})
    if spells.is_empty() or days.is_empty():
        return pl.DataFrame(schema=REGIME_DAILY_SCHEMA)
    labelled = days.join_where(
        spells.cast(REGIME_SCHEMA),  # type: ignore[arg-type]
        pl.col("date") >= pl.col("start_date"),
        pl.col("date") <= pl.col("end_date"),
    )
    return labelled.select("date", "regime_id", "regime", pl.lit(source).alias("source")).sort("date")


@dataclass(frozen=True)
class ValidationOutcome:
    valid: pl.DataFrame
    quarantined: pl.DataFrame
    missing: dict[str, list[dt.date]]  # expected (ticker -> sessions) with no valid row
    # macro series past their staleness bound on some session of the window
    stale: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STALENESS_SCHEMA))


def validate_price_window(raw: pl.DataFrame, previous_close: pl.DataFrame, universe: Universe, window: Window,
                          *, max_abs_move: float, known_moves: pl.DataFrame | None = None) -> ValidationOutcome:
    valid, quarantined = validate_prices(raw, previous_close, max_abs_move=max_abs_move, known_moves=known_moves)
    missing = missing_rows(valid, expected_rows(universe.instruments, window.sessions))
    return ValidationOutcome(valid, quarantined, missing)


def validate_macro_window(raw: pl.DataFrame, universe: Universe, window: Window, stored_last: pl.DataFrame
                          ) -> ValidationOutcome:
    """Range rules per series, then staleness: `stored_last` = (series, date) of each series' last stored value."""
    valid, quarantined = validate_macro(raw, universe.macro_series_frame())
    if window.sessions:
        oldest = stored_last.get_column("date").min() if stored_last.height else None
        first = min(oldest, window.sessions[0]) if oldest else window.sessions[0]
        stale = stale_series(valid, stored_last, universe.macro, window.sessions,
                             sessions(first, window.end, universe.calendar))
    else:
        stale = pl.DataFrame(schema=STALENESS_SCHEMA)
    return ValidationOutcome(valid, quarantined, {}, stale)


UNIVERSE_MEMBERSHIP_SCHEMA = schema_of(UniverseMembership)


def universe_membership(universe: Universe, window: Window) -> pl.DataFrame:
    """Point-in-time membership: one row per session and instrument already trading.

    Roles: the benchmark, every sector (an aggregate sector of a member universe included, from its first
    member's inception), and member stocks with the sector they belong to. Sector and member rows carry the
    four sentiment characteristics, so marts and BI tools can label and explain them as of each date without
    the universe file.
    """
    entries = [(universe.benchmark, "benchmark", None), *((s, "sector", None) for s in universe.sectors),
               *((m, "member", m.sector) for m in universe.members)]
    rows = [
        {"date": day, "ticker": item.ticker, "name": item.name, "role": role, "sector": sector,
         **{d: (getattr(item, d) if role != "benchmark" else None) for d in DIMENSIONS},
         "universe": universe.name}
        for day in window.sessions for item, role, sector in entries if day >= item.inception
    ]
    return pl.DataFrame(rows, schema=UNIVERSE_MEMBERSHIP_SCHEMA)
