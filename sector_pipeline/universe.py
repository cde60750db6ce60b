"""The investable universe as data: benchmark, sectors with their sentiment characteristics, members, macro series.

Loaded from a TOML file (default: ``universes/sp500_sectors.toml`` in the package) so a user can run the
pipeline on another universe without touching code. Every problem is reported as a ``UniverseError``
naming the file and the offending entry, at load time. The fields of a ``[[macro]]`` entry and their
defaults are documented in ``docs/data_sources.md``.

A stock-level universe adds ``[[members]]`` (``universes/synthetic_500.toml``; docs/scaling.md):

    [[sectors]]                       # a sector without a tradable ticker: its series is computed from its
    ticker = "AGG_XLK"                # members (signals/aggregates.py); the ticker names the aggregate's rows
    sector = "Technology"
    aggregate = true                  # inception may be left out: it is the earliest member's
    cycle = 0.6 ...                   # the four characteristics, as for any sector

    [[members]]                       # or one inline table per line: members = [{ticker = ..., ...}, ...]
    ticker = "TECH001"
    sector = "AGG_XLK"                # a [[sectors]] ticker, or a sector name ("Technology")
    inception = 1998-12-22            # first session of the stock
    name = "..."                      # optional, defaults to the ticker
    risk = 0.9                        # optional: any of cycle/rates/inflation/risk; the others are inherited
    weight = 2.5                      # optional: weight in the sector aggregate (all or none of a sector's
                                      # members give one; none = equal weight)

Members may also belong to a tradable sector (an ETF and its holdings): then only aggregate sectors are
computed from constituents, and the ETF stays the sector's series.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections import Counter
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import polars as pl

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.vocabulary import DIMENSIONS

DEFAULT_UNIVERSE_PATH = Path(__file__).parent / "universes" / "sp500_sectors.toml"

# Where a macro series comes from: "market" = the configured price source (yfinance, csv price files,
# synthetic), read as the ticker's daily close; "fred" = an economic series of the St. Louis Fed's FRED,
# dated by observation period and published later (release_lag_days).
PROVIDERS = ("market", "fred")
MACRO_KINDS = ("price", "yield_pct", "index", "rate_pct", "level")
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly")
ON_FAILURE = ("block", "warn")
# Kinds whose values are real when zero or negative unless the file says otherwise: yields and rates
# (^IRX was <= 0 in 2008-2015, T10Y2Y is negative when the curve inverts) and generic levels (spreads).
# Prices and indices are strictly positive by default; a futures price that can go negative (CL=F on
# 2020-04-20) says so with allow_negative = true.
_SIGNED_KINDS = frozenset({"yield_pct", "rate_pct", "level"})
# Sessions a value may be carried forward before it is stale: a week of sessions for daily data, about
# a month and a half for monthly releases (21-23 sessions apart), a quarter and a half for quarterly ones.
DEFAULT_MAX_STALE_SESSIONS = {"daily": 5, "weekly": 10, "monthly": 35, "quarterly": 75}
DEFAULT_UNITS = {"price": "price", "yield_pct": "percent", "index": "index", "rate_pct": "percent",
                 "level": "level"}
MEMBERS_SCHEMA: dict[str, pl.DataType] = {
    "ticker": pl.String(),
    "name": pl.String(),
    "sector": pl.String(),  # ticker of the member's sector
    "sector_name": pl.String(),
    "inception": pl.Date(),
    "weight": pl.Float64(),  # null: equal weight in the sector aggregate
    **{d: pl.Float64() for d in DIMENSIONS},
    "own_characteristics": pl.String(),  # comma-separated dimensions set by the member ('' = all inherited)
}
MACRO_SERIES_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "ticker": pl.String(),
    "provider": pl.String(),
    "kind": pl.String(),
    "units": pl.String(),
    "inception": pl.Date(),
    "end": pl.Date(),
    "frequency": pl.String(),
    "release_lag_days": pl.Int64(),
    "allow_negative": pl.Boolean(),
    "allow_zero": pl.Boolean(),
    "min_value": pl.Float64(),
    "max_value": pl.Float64(),
    "max_stale_sessions": pl.Int64(),
    "on_failure": pl.String(),
    "blocks": pl.Boolean(),
}


class UniverseError(ConfigurationError):
    """The universe file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Instrument:
    ticker: str
    name: str
    inception: dt.date


@dataclass(frozen=True)
class Sector(Instrument):
    cycle: float
    rates: float
    inflation: float
    risk: float
    # True: no tradable ticker; the sector's daily series is the aggregate of its members' total returns.
    aggregate: bool = False


@dataclass(frozen=True)
class Member(Instrument):
    """A stock of a member universe: its sector, its characteristics (its own or its sector's), its weight."""

    sector: str  # ticker of its sector
    cycle: float
    rates: float
    inflation: float
    risk: float
    weight: float | None = None  # weight in the sector aggregate; None = equal weight
    own_characteristics: tuple[str, ...] = ()  # dimensions the member sets itself (the others are inherited)


@dataclass(frozen=True)
class MacroSeries:
    """One macro series and its validation policy.

    Defaults that depend on other fields (``allow_negative``/``allow_zero`` from ``kind``,
    ``max_stale_sessions`` from ``frequency``, ``units`` from ``kind``) are resolved at construction, so
    every instance carries concrete values. An inconsistent combination raises ValueError (the universe
    loader turns it into a UniverseError naming the file and the entry).
    """

    series: str  # name used in tables, e.g. us10y_yield_pct
    ticker: str  # the provider's id: ^TNX, CL=F, CPIAUCSL
    kind: str  # one of MACRO_KINDS
    inception: dt.date  # first date the series is expected
    provider: str = "market"
    units: str = ""  # free text for marts and MCP; "" = the kind's default
    end: dt.date | None = None  # last date expected (a discontinued series); None = still published
    frequency: str = "daily"
    release_lag_days: int = 0  # calendar days after the observation date before the value is public
    allow_negative: bool | None = None  # None = the kind's default
    allow_zero: bool | None = None  # None = allow_negative if it was given, else the kind's default
    min_value: float | None = None
    max_value: float | None = None
    max_stale_sessions: int | None = None  # None = the frequency's default
    on_failure: str = "warn"  # "block": a failure stops downstream assets; "warn": flagged, run continues

    def __post_init__(self) -> None:
        for name, allowed in (("provider", PROVIDERS), ("kind", MACRO_KINDS), ("frequency", FREQUENCIES),
                              ("on_failure", ON_FAILURE)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"has {name} = {value!r}, expected one of {', '.join(allowed)}")
        if self.end is not None and self.end < self.inception:
            raise ValueError(f"has end = {self.end} before its inception {self.inception}")
        if isinstance(self.release_lag_days, bool) or not isinstance(self.release_lag_days, int) \
                or self.release_lag_days < 0:
            raise ValueError(f"has release_lag_days = {self.release_lag_days!r}, expected a whole number >= 0")
        if self.provider == "market" and self.release_lag_days != 0:
            raise ValueError(f"has release_lag_days = {self.release_lag_days} but a market series is public "
                             "at the close of its session (only provider = \"fred\" series have a lag)")
        signed = self.kind in _SIGNED_KINDS
        allow_negative = signed if self.allow_negative is None else self.allow_negative
        if self.allow_zero is not None:
            allow_zero = self.allow_zero
        else:
            allow_zero = allow_negative if self.allow_negative is not None else signed
        if allow_negative and not allow_zero:
            raise ValueError("has allow_negative = true and allow_zero = false: a series that can be negative "
                             "can also be zero")
        for name in ("min_value", "max_value"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ValueError(f"has {name} = {value!r}, expected a finite number")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"has min_value = {self.min_value} > max_value = {self.max_value}")
        if self.min_value is not None and self.min_value < 0 and not allow_negative:
            raise ValueError(f"has min_value = {self.min_value} below zero but allow_negative is false")
        if self.max_value is not None and not allow_negative and (
                self.max_value < 0 or (self.max_value == 0 and not allow_zero)):
            raise ValueError(f"has max_value = {self.max_value} but allows no value <= 0: nothing would be valid")
        stale = self.max_stale_sessions
        if stale is None:
            stale = DEFAULT_MAX_STALE_SESSIONS[self.frequency]
        elif isinstance(stale, bool) or not isinstance(stale, int) or stale < 0:
            raise ValueError(f"has max_stale_sessions = {stale!r}, expected a whole number >= 0")
        # Frozen dataclass: resolved defaults are written once, here.
        object.__setattr__(self, "allow_negative", allow_negative)
        object.__setattr__(self, "allow_zero", allow_zero)
        object.__setattr__(self, "max_stale_sessions", stale)
        object.__setattr__(self, "units", self.units or DEFAULT_UNITS[self.kind])
        if self.min_value is not None:
            object.__setattr__(self, "min_value", float(self.min_value))
        if self.max_value is not None:
            object.__setattr__(self, "max_value", float(self.max_value))

    @property
    def blocks(self) -> bool:
        """True when a failure of this series (absent, quarantined rows, stale) must stop downstream assets."""
        return self.on_failure == "block"

    @property
    def required(self) -> bool:
        """Legacy name of ``blocks`` (universe files before on_failure said ``required = true``)."""
        return self.blocks


@dataclass(frozen=True)
class KnownMove:
    """A real event that explains a one-day price move beyond the plausibility limit."""

    ticker: str
    date: dt.date
    reason: str


@dataclass(frozen=True)
class Universe:
    name: str
    calendar: str
    benchmark: Instrument
    sectors: tuple[Sector, ...]
    macro: tuple[MacroSeries, ...]
    path: str
    known_moves: tuple[KnownMove, ...] = ()
    members: tuple[Member, ...] = ()

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Benchmark first, then the tradable sectors, then the members: everything the price sources must
        deliver (an aggregate sector has no prices of its own)."""
        return (self.benchmark, *(s for s in self.sectors if not s.aggregate), *self.members)

    @property
    def aggregate_sectors(self) -> tuple[Sector, ...]:
        """The sectors whose series is computed from their members."""
        return tuple(s for s in self.sectors if s.aggregate)

    def members_of(self, sector: str) -> tuple[Member, ...]:
        """The members of the sector with this ticker, in file order."""
        return tuple(m for m in self.members if m.sector == sector)

    def members_frame(self, *, aggregates_only: bool = False) -> pl.DataFrame:
        """One row per member (MEMBERS_SCHEMA); `aggregates_only` keeps the members of aggregate sectors,
        i.e. the constituents signals/aggregates.py builds sector series from."""
        names = {s.ticker: s.name for s in self.sectors}
        wanted = {s.ticker for s in self.aggregate_sectors} if aggregates_only else set(names)
        return pl.DataFrame(
            [{"ticker": m.ticker, "name": m.name, "sector": m.sector, "sector_name": names[m.sector],
              "inception": m.inception, "weight": m.weight, **{d: getattr(m, d) for d in DIMENSIONS},
              "own_characteristics": ",".join(m.own_characteristics)}
             for m in self.members if m.sector in wanted],
            schema=MEMBERS_SCHEMA,
        )

    @property
    def tickers(self) -> list[str]:
        return [i.ticker for i in self.instruments]

    def inception_of(self, ticker: str) -> dt.date:
        for item in (*self.instruments, *self.aggregate_sectors, *self.macro):
            if item.ticker == ticker:
                return item.inception
        raise KeyError(ticker)

    def characteristics(self) -> pl.DataFrame:
        """One row per sector: ticker, sector name and the four sentiment characteristics."""
        return pl.DataFrame(
            [
                {"ticker": s.ticker, "sector": s.name, "inception": s.inception,
                 **{d: float(getattr(s, d)) for d in DIMENSIONS}}
                for s in self.sectors
            ],
            schema={"ticker": pl.String, "sector": pl.String, "inception": pl.Date,
                    **{d: pl.Float64 for d in DIMENSIONS}},
        )

    def known_moves_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [{"date": m.date, "ticker": m.ticker, "reason": m.reason} for m in self.known_moves],
            schema={"date": pl.Date(), "ticker": pl.String(), "reason": pl.String()},
        )

    def macro_series_frame(self) -> pl.DataFrame:
        """One row per macro series with its provider and every validation policy field (MACRO_SERIES_SCHEMA).

        Stored by the pipeline so the UI and the marts show which failures block and which warn.
        """
        return pl.DataFrame(
            [{**{f.name: getattr(m, f.name) for f in fields(m)}, "blocks": m.blocks} for m in self.macro],
            schema=MACRO_SERIES_SCHEMA,
        )

    def instruments_frame(self) -> pl.DataFrame:
        """One row per instrument with its role (benchmark, sector, member, macro) and inception date; an
        aggregate sector is a sector (its inception is its earliest member's)."""
        rows = [{"ticker": self.benchmark.ticker, "name": self.benchmark.name, "role": "benchmark",
                 "inception": self.benchmark.inception}]
        rows += [{"ticker": s.ticker, "name": s.name, "role": "sector", "inception": s.inception}
                 for s in self.sectors]
        rows += [{"ticker": m.ticker, "name": m.name, "role": "member", "inception": m.inception}
                 for m in self.members]
        rows += [{"ticker": m.ticker, "name": m.series, "role": "macro", "inception": m.inception}
                 for m in self.macro]
        return pl.DataFrame(rows, schema={"ticker": pl.String, "name": pl.String, "role": pl.String,
                                          "inception": pl.Date})


def _require(entry: dict[str, Any], key: str, where: str, path: str) -> Any:
    if key not in entry:
        raise UniverseError(f"{path}: {where} is missing the field '{key}'")
    return entry[key]


def _as_date(value: Any, where: str, path: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UniverseError(f"{path}: {where} has date {value!r}, expected a date like 1998-12-22")


def _as_ticker(value: Any, where: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip() or "/" in value:
        raise UniverseError(f"{path}: {where} has an invalid ticker {value!r}")
    return value


def _characteristic(entry: dict[str, Any], dim: str, where: str, path: str) -> float:
    value = _require(entry, dim, where, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= float(value) <= 1.0:
        raise UniverseError(f"{path}: {where} has {dim} = {value!r}, expected a number in [-1, +1]")
    return float(value)


@lru_cache(maxsize=1)
def _calendar_names() -> frozenset[str]:
    import exchange_calendars  # loaded on demand: importing it builds its registry of ~100 calendars

    return frozenset(exchange_calendars.get_calendar_names(include_aliases=True))


def _calendar_name(value: Any, path: str) -> str:
    """The exchange calendar's name, checked now so a typo fails when the file loads, not in the first run."""
    if not isinstance(value, str) or value not in _calendar_names():
        raise UniverseError(f"{path}: calendar {value!r} is not an exchange_calendars name "
                            "(e.g. XNYS for the New York Stock Exchange, XLON, XTKS)")
    return value


_MACRO_FIELDS = frozenset(f.name for f in fields(MacroSeries)) | {"required"}


def _typed(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], expected: str, where: str,
           path: str) -> Any:
    """entry[key] when present and of the given TOML type (a bool is never taken for a number), else None."""
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise UniverseError(f"{path}: {where} has {key} = {value!r}, expected {expected}")
    if not isinstance(value, kind):
        raise UniverseError(f"{path}: {where} has {key} = {value!r}, expected {expected}")
    return value


def _entry_label(entry: Any, what: str, index: int, name_key: str, known: frozenset[str], path: str,
                 hints: dict[str, str] | None = None) -> str:
    """`what #n (name)` for error messages, once the entry is checked to be a table of known fields only."""
    if not isinstance(entry, dict):
        raise UniverseError(f"{path}: {what} #{index + 1} must be a table")
    where = f"{what} #{index + 1} ({entry.get(name_key, '?')})"
    unknown = sorted(set(entry) - known)
    if unknown:
        hint = "".join(text for key, text in (hints or {}).items() if key in unknown)
        raise UniverseError(f"{path}: {where} has unknown field(s) {unknown}{hint}; "
                            f"known fields: {', '.join(sorted(known))}")
    return where


def _macro_series(entry: Any, index: int, path: str) -> MacroSeries:
    """One [[macro]] entry, every field checked; errors name the file and the entry."""
    where = _entry_label(entry, "macro series", index, "series", _MACRO_FIELDS, path)
    provider = _typed(entry, "provider", str, "a string", where, path) or "market"
    if provider == "fred":
        # A FRED value is dated by the period it describes and published weeks later: without an explicit
        # lag the pipeline would use it before it existed.
        for key in ("frequency", "release_lag_days"):
            _require(entry, key, where, path)
    on_failure = _typed(entry, "on_failure", str, "a string", where, path)
    required = _typed(entry, "required", bool, "true or false", where, path)
    if required is not None:
        legacy = "block" if required else "warn"
        if on_failure is not None and on_failure != legacy:
            raise UniverseError(f"{path}: {where} has required = {str(required).lower()} and "
                                f"on_failure = {on_failure!r}, which disagree (required is the legacy name: "
                                "keep on_failure only)")
        on_failure = legacy
    end = entry.get("end")
    number = (int, float)
    try:
        return MacroSeries(
            series=str(_require(entry, "series", where, path)),
            ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
            kind=_require(entry, "kind", where, path),
            inception=_as_date(_require(entry, "inception", where, path), where, path),
            provider=provider,
            units=_typed(entry, "units", str, "a string", where, path) or "",
            end=None if end is None else _as_date(end, where, path),
            frequency=_typed(entry, "frequency", str, "a string", where, path) or "daily",
            release_lag_days=_typed(entry, "release_lag_days", int, "a whole number of days", where, path) or 0,
            allow_negative=_typed(entry, "allow_negative", bool, "true or false", where, path),
            allow_zero=_typed(entry, "allow_zero", bool, "true or false", where, path),
            min_value=_typed(entry, "min_value", number, "a number", where, path),
            max_value=_typed(entry, "max_value", number, "a number", where, path),
            max_stale_sessions=_typed(entry, "max_stale_sessions", int, "a whole number of sessions", where, path),
            on_failure=on_failure or "warn",
        )
    except ValueError as exc:
        raise UniverseError(f"{path}: {where} {exc}") from exc


_SECTOR_FIELDS = frozenset({"ticker", "sector", "inception", "aggregate", *DIMENSIONS})


def _sector(entry: Any, index: int, path: str) -> Sector:
    """One [[sectors]] entry; an aggregate sector may leave its inception out (its earliest member's)."""
    # TOML puts a key written after a [[sectors]] header into that sector: a `members = [...]` list must come
    # before the first table header.
    where = _entry_label(entry, "sector", index, "ticker", _SECTOR_FIELDS, path, hints={
        "members": " (a top-level `members = [...]` must come before the first [table] header)"})
    aggregate = _typed(entry, "aggregate", bool, "true or false", where, path) or False
    inception = entry.get("inception")
    if inception is None and not aggregate:
        _require(entry, "inception", where, path)
    return Sector(
        ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
        name=str(_require(entry, "sector", where, path)),
        # dt.date.min marks "derive from the members" until _with_member_inceptions replaces it.
        inception=dt.date.min if inception is None else _as_date(inception, where, path),
        **{d: _characteristic(entry, d, where, path) for d in DIMENSIONS},
        aggregate=aggregate,
    )


_MEMBER_FIELDS = frozenset({"ticker", "sector", "inception", "name", "weight", *DIMENSIONS})


def _sector_finder(sectors: list[Sector], path: str) -> Callable[[Any, str], Sector]:
    """Finds a member's sector by ticker, else by name; an unknown or ambiguous reference is an error."""
    by_ticker = {s.ticker: s for s in sectors}
    by_name: dict[str, list[Sector]] = {}
    for sector in sectors:
        by_name.setdefault(sector.name, []).append(sector)
    choices = ", ".join(f"{s.ticker} ({s.name})" for s in sectors)

    def find(reference: Any, where: str) -> Sector:
        if isinstance(reference, str):
            if reference in by_ticker:
                return by_ticker[reference]
            named = by_name.get(reference, [])
            if len(named) == 1:
                return named[0]
            if named:
                raise UniverseError(f"{path}: {where} has sector = {reference!r}, the name of several sectors "
                                    f"({', '.join(s.ticker for s in named)}): use the sector's ticker")
        raise UniverseError(f"{path}: {where} has sector = {reference!r}, expected the ticker or name of a "
                            f"[[sectors]] entry: {choices}")

    return find


def _members(raw: list[Any], sectors: list[Sector], path: str) -> list[Member]:
    """The [[members]] entries, every field checked; characteristics not given are the sector's."""
    find = _sector_finder(sectors, path)
    members = []
    for i, entry in enumerate(raw):
        where = _entry_label(entry, "member", i, "ticker", _MEMBER_FIELDS, path)
        ticker = _as_ticker(_require(entry, "ticker", where, path), where, path)
        sector = find(_require(entry, "sector", where, path), where)
        weight = _typed(entry, "weight", (int, float), "a positive number", where, path)
        if weight is not None and not (math.isfinite(weight) and weight > 0):
            raise UniverseError(f"{path}: {where} has weight = {weight!r}, expected a positive number")
        own = tuple(d for d in DIMENSIONS if d in entry)
        members.append(Member(
            ticker=ticker,
            name=_typed(entry, "name", str, "a string", where, path) or ticker,
            inception=_as_date(_require(entry, "inception", where, path), where, path),
            sector=sector.ticker,
            **{d: _characteristic(entry, d, where, path) if d in own else getattr(sector, d) for d in DIMENSIONS},
            weight=None if weight is None else float(weight),
            own_characteristics=own,
        ))
    weighted: dict[str, set[bool]] = {}
    for m in members:
        weighted.setdefault(m.sector, set()).add(m.weight is not None)
    mixed = sorted(sector for sector, kinds in weighted.items() if len(kinds) > 1)
    if mixed:
        raise UniverseError(f"{path}: some members of {', '.join(mixed)} have a weight and others not: give "
                            "every member of a sector a weight, or none (equal weight)")
    return members


def _with_member_inceptions(sectors: list[Sector], members: list[Member], path: str) -> list[Sector]:
    """Aggregate sectors get their earliest member's inception; one without members is an error."""
    first: dict[str, dt.date] = {}
    for m in members:
        first[m.sector] = min(first.get(m.sector, m.inception), m.inception)
    resolved = []
    for i, sector in enumerate(sectors):
        if sector.aggregate:
            where = f"sector #{i + 1} ({sector.ticker})"
            if sector.ticker not in first:
                raise UniverseError(f"{path}: {where} is an aggregate without members: list its stocks as "
                                    f"[[members]] with sector = \"{sector.ticker}\", or give it a tradable ticker")
            if sector.inception not in (dt.date.min, first[sector.ticker]):
                raise UniverseError(f"{path}: {where} has inception = {sector.inception} but its earliest member "
                                    f"starts on {first[sector.ticker]}: an aggregate starts with its first member "
                                    "(leave inception out)")
            sector = replace(sector, inception=first[sector.ticker])
        resolved.append(sector)
    return resolved


def _macro_entries(doc: dict[str, Any], path: str) -> tuple[str, list[Any]]:
    """(file the entries come from, the [[macro]] entries): the file's own, or those of `macro_from`.

    `macro_from = "sp500_sectors.toml"` (relative to the universe file) shares another file's macro series,
    so a stock-level universe does not copy the same eighteen series and their policies.
    """
    source = doc.get("macro_from")
    if source is None:
        return path, doc.get("macro", [])
    if not isinstance(source, str):
        raise UniverseError(f"{path}: macro_from = {source!r}, expected the path of another universe file")
    if "macro" in doc:
        raise UniverseError(f"{path}: has both macro_from and [[macro]] entries: keep one")
    other = Path(path).parent / source
    try:
        shared = tomllib.loads(other.read_text())
    except OSError as exc:
        raise UniverseError(f"{path}: macro_from: cannot read {other}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UniverseError(f"{path}: macro_from: {other} is not valid TOML: {exc}") from exc
    if "macro_from" in shared:
        raise UniverseError(f"{path}: macro_from: {other} takes its macro series from another file itself: "
                            "point to the file that lists them")
    return str(other), shared.get("macro", [])


def parse_universe(doc: dict[str, Any], path: str = "<universe>") -> Universe:
    """Build a Universe from a parsed TOML document, checking every field."""
    bench = _require(doc, "benchmark", "the file", path)
    if not isinstance(bench, dict):
        raise UniverseError(f"{path}: [benchmark] must be a table")
    benchmark = Instrument(
        ticker=_as_ticker(_require(bench, "ticker", "[benchmark]", path), "[benchmark]", path),
        name=str(bench.get("name", bench["ticker"])),
        inception=_as_date(_require(bench, "inception", "[benchmark]", path), "[benchmark]", path),
    )
    raw_sectors = _require(doc, "sectors", "the file", path)
    if not isinstance(raw_sectors, list) or not raw_sectors:
        raise UniverseError(f"{path}: [[sectors]] must list at least one sector")
    sectors = [_sector(entry, i, path) for i, entry in enumerate(raw_sectors)]
    raw_members = doc.get("members", [])
    if not isinstance(raw_members, list):
        raise UniverseError(f"{path}: members must be a list of tables ([[members]] or members = [{{...}}, ...])")
    members = _members(raw_members, sectors, path)
    sectors = _with_member_inceptions(sectors, members, path)
    macro_path, raw_macro = _macro_entries(doc, path)
    macro = [_macro_series(entry, i, macro_path) for i, entry in enumerate(raw_macro)]
    known_moves = []
    for i, entry in enumerate(doc.get("known_moves", [])):
        where = f"known move #{i + 1}"
        known_moves.append(KnownMove(
            ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
            date=_as_date(_require(entry, "date", where, path), where, path),
            reason=str(_require(entry, "reason", where, path)),
        ))
    # A FRED id and a market ticker live in different namespaces (the stock GDP is not FRED's GDP).
    tickers = [benchmark.ticker, *(s.ticker for s in sectors), *(m.ticker for m in macro if m.provider == "market")]
    tickers += [f"{m.ticker} (fred)" for m in macro if m.provider == "fred"]
    tickers += [m.ticker for m in members]
    # Counted once (list.count per ticker would be quadratic: seconds for 5,000 members).
    dupes = sorted(t for t, n in Counter(tickers).items() if n > 1)
    if dupes:
        raise UniverseError(f"{path}: duplicate tickers {dupes}")
    dupes = sorted(name for name, n in Counter(m.series for m in macro).items() if n > 1)
    if dupes:
        raise UniverseError(f"{path}: duplicate macro series names {dupes}")
    return Universe(
        name=str(doc.get("name", Path(path).stem)),
        calendar=_calendar_name(doc.get("calendar", "XNYS"), path),
        benchmark=benchmark,
        sectors=tuple(sectors),
        macro=tuple(macro),
        path=path,
        known_moves=tuple(known_moves),
        members=tuple(members),
    )


def load_universe(path: str | Path | None = None) -> Universe:
    """Read and check a universe file; ``None`` means the packaged S&P 500 sector universe."""
    file = Path(path) if path else DEFAULT_UNIVERSE_PATH
    try:
        text = file.read_text()
    except OSError as exc:
        raise UniverseError(f"cannot read universe file {file}: {exc.strerror or exc}") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UniverseError(f"{file}: not valid TOML: {exc}") from exc
    return parse_universe(doc, str(file))
