"""The investable universe as data: benchmark, sectors with their sentiment characteristics, macro series.

Loaded from a TOML file (default: ``universes/sp500_sectors.toml`` in the package) so a user can run the
pipeline on another universe without touching code. Every problem is reported as a ``UniverseError``
naming the file and the offending entry, at load time.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sector_pipeline.errors import ConfigurationError

DEFAULT_UNIVERSE_PATH = Path(__file__).parent / "universes" / "sp500_sectors.toml"
DIMENSIONS = ("cycle", "rates", "inflation", "risk")
MACRO_KINDS = ("price", "yield_pct", "index")


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


@dataclass(frozen=True)
class MacroSeries:
    series: str
    ticker: str
    kind: str
    inception: dt.date
    required: bool


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

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Benchmark first, then the sectors: everything the price sources must deliver."""
        return (self.benchmark, *self.sectors)

    @property
    def tickers(self) -> list[str]:
        return [i.ticker for i in self.instruments]

    def inception_of(self, ticker: str) -> dt.date:
        for item in (*self.instruments, *self.macro):
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

    def instruments_frame(self) -> pl.DataFrame:
        """One row per instrument with its role (benchmark, sector, macro) and inception date."""
        rows = [{"ticker": self.benchmark.ticker, "name": self.benchmark.name, "role": "benchmark",
                 "inception": self.benchmark.inception}]
        rows += [{"ticker": s.ticker, "name": s.name, "role": "sector", "inception": s.inception}
                 for s in self.sectors]
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
    sectors = []
    for i, entry in enumerate(raw_sectors):
        where = f"sector #{i + 1} ({entry.get('ticker', '?')})"
        sectors.append(Sector(
            ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
            name=str(_require(entry, "sector", where, path)),
            inception=_as_date(_require(entry, "inception", where, path), where, path),
            **{d: _characteristic(entry, d, where, path) for d in DIMENSIONS},
        ))
    macro = []
    for i, entry in enumerate(doc.get("macro", [])):
        where = f"macro series #{i + 1} ({entry.get('series', '?')})"
        kind = _require(entry, "kind", where, path)
        if kind not in MACRO_KINDS:
            raise UniverseError(f"{path}: {where} has kind {kind!r}, expected one of {', '.join(MACRO_KINDS)}")
        macro.append(MacroSeries(
            series=str(_require(entry, "series", where, path)),
            ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
            kind=kind,
            inception=_as_date(_require(entry, "inception", where, path), where, path),
            required=bool(entry.get("required", False)),
        ))
    known_moves = []
    for i, entry in enumerate(doc.get("known_moves", [])):
        where = f"known move #{i + 1}"
        known_moves.append(KnownMove(
            ticker=_as_ticker(_require(entry, "ticker", where, path), where, path),
            date=_as_date(_require(entry, "date", where, path), where, path),
            reason=str(_require(entry, "reason", where, path)),
        ))
    tickers = [benchmark.ticker, *(s.ticker for s in sectors), *(m.ticker for m in macro)]
    dupes = sorted({t for t in tickers if tickers.count(t) > 1})
    if dupes:
        raise UniverseError(f"{path}: duplicate tickers {dupes}")
    series = [m.series for m in macro]
    dupes = sorted({s for s in series if series.count(s) > 1})
    if dupes:
        raise UniverseError(f"{path}: duplicate macro series names {dupes}")
    return Universe(
        name=str(doc.get("name", Path(path).stem)),
        calendar=str(doc.get("calendar", "XNYS")),
        benchmark=benchmark,
        sectors=tuple(sectors),
        macro=tuple(macro),
        path=path,
        known_moves=tuple(known_moves),
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
