"""Daily prices and macro series read from a directory of CSV or Parquet files (offline runs, real data).

Directory layout
----------------
The directory holds price files in either or both of two layouts:

* **per-ticker files** ``<TICKER>.csv`` or ``<TICKER>.parquet``: the file name without its extension is
  the ticker, verbatim (``SPY.csv``, ``^VIX.csv``, ``CL=F.parquet``), one row per date;
* **long files**: any ``*.csv`` / ``*.parquet`` that has a ``ticker`` column, one row per (date, ticker)
  and any number of tickers (the layout of ``prices.csv`` and ``market_proxies.csv`` in the real-data
  folder).

Columns: ``date`` (ISO ``yyyy-mm-dd``; in Parquet also a Date or Datetime column), ``open``, ``high``,
``low``, ``close`` are required; ``adj_close`` and ``volume`` are optional (read as null when absent);
other columns are ignored. Names are matched case-insensitively with spaces read as underscores, so a
Yahoo export header (``Date,Open,High,Low,Close,Adj Close,Volume``) works as is. CSV files are
comma-separated with a header row; an empty field or ``NaN`` is a missing value (null).

Files without any price column (``open``, ``high``, ``low``, ``close``, ``adj_close``) are not price files
and are skipped with a log message: ``macro.csv`` (``date,series,value``) can sit in the same folder. A
file that has price columns but lacks a required one, or holds a value that does not parse, is an error
(``SourceError`` naming the file and the column) when it is read: long files on every fetch, a per-ticker
file when its ticker is requested.

Rows are returned as stored: if the same (date, ticker) appears in two files both rows are returned and
validation downstream quarantines the duplicate. ``fetch_macro`` returns a series' ``close`` as ``value``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import polars as pl

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import (
    PRICE_SCHEMA,
    closes_as_macro,
    empty_prices,
)
from sector_pipeline.universe import Instrument, MacroSeries

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close")
OPTIONAL_COLUMNS = ("adj_close", "volume")
_VALUE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
# A file with none of these is clearly something else (macro.csv: date, series, value) and is skipped.
_PRICE_MARKERS = frozenset({"open", "high", "low", "close", "adj_close"})
_SUFFIXES = (".csv", ".parquet")


def _canonical_name(column: str) -> str:
    return column.strip().lower().replace(" ", "_")


@dataclass(frozen=True)
class PriceFile:
    """One inspected price file: where it is, its layout and how its columns map to canonical names."""

    path: Path
    ticker: str | None  # the per-ticker file's ticker; None for a long file (tickers in a column)
    columns: dict[str, str]  # canonical name -> the file's own column name
    dtypes: dict[str, pl.DataType]  # canonical name -> the column's type as scanned
    missing: tuple[str, ...]  # required columns the file lacks; reported when the file is read

    def scan(self) -> pl.LazyFrame:
        # CSV values are read as text and cast below, so a bad value is reported with its column.
        if self.path.suffix.lower() == ".csv":
            return pl.scan_csv(self.path, infer_schema=False)
        return pl.scan_parquet(self.path)


def _scan_schema(path: Path) -> pl.Schema:
    try:
        if path.suffix.lower() == ".csv":
            return pl.scan_csv(path, infer_schema=False).collect_schema()
        return pl.scan_parquet(path).collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def _inspect(path: Path) -> PriceFile | None:
    """The file's layout from its header (CSV) or metadata (Parquet); None when it is not a price file."""
    schema = _scan_schema(path)
    columns: dict[str, str] = {}
    for column in schema.names():
        columns.setdefault(_canonical_name(column), column)
    if not _PRICE_MARKERS & columns.keys():
        return None
    return PriceFile(
        path=path,
        ticker=None if "ticker" in columns else path.stem,
        columns=columns,
        dtypes={name: schema[column] for name, column in columns.items()},
        missing=tuple(c for c in REQUIRED_COLUMNS if c not in columns),
    )


def _parsed(file: PriceFile, name: str, *, strict: bool) -> pl.Expr:
    """The canonical column `name` parsed from the file's own column (NaN is kept here)."""
    column = pl.col(file.columns[name])
    dtype = file.dtypes[name]
    if dtype == pl.String:
        column = column.str.strip_chars()
    if name != "date":
        return column.cast(pl.Float64, strict=strict)
    if dtype == pl.Date:
        return column
    if isinstance(dtype, pl.Datetime):
        return column.dt.date()
    return column.cast(pl.String).str.to_date("%Y-%m-%d", strict=strict)


def _value_expr(file: PriceFile, name: str) -> pl.Expr:
    if name not in file.columns:
        return pl.lit(None, dtype=pl.Float64)
    # NaN (written by pandas, or the text "NaN") is a missing value like an empty field.
    return _parsed(file, name, strict=True).fill_nan(None)


def _first_bad_value(file: PriceFile, frame: pl.LazyFrame) -> tuple[str, str] | None:
    """The first (column, value) of the frame that does not parse; used only to word an error."""
    for name in ("date", *_VALUE_COLUMNS):
        if name not in file.columns:
            continue
        raw = pl.col(file.columns[name])
        unparsed = raw.is_not_null() & _parsed(file, name, strict=False).is_null()
        bad = frame.filter(unparsed).select(raw.cast(pl.String)).head(1).collect()
        if bad.height:
            return file.columns[name], bad.item()
    return None


class CsvDirectorySource:
    """Prices from per-ticker and long CSV/Parquet files in one directory (layout in the module docstring)."""

    name = "csv"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        # Inspection per file with the (mtime, size) it was made at: a changed file is inspected again.
        self._inspected: dict[Path, tuple[tuple[int, int], PriceFile | None]] = {}

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in PRICE_SCHEMA for the instruments on dates in [start, end), ``source`` = "csv"."""
        return self._read([i.ticker for i in instruments], start, end)

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA on dates in [start, end); ``value`` is the ticker's ``close``."""
        return closes_as_macro(self._read([s.ticker for s in series], start, end), series)

    def price_files(self) -> list[PriceFile]:
        """The directory's price files in name order; inspection is cached until a file changes."""
        if not self.directory.is_dir():
            raise SourceError(f"price directory {self.directory} does not exist or is not a directory")
        files: list[PriceFile] = []
        skipped: list[str] = []
        for path in sorted(p for p in self.directory.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()):
            stat = path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
            cached = self._inspected.get(path)
            if cached is None or cached[0] != version:
                cached = (version, _inspect(path))
                self._inspected[path] = cached
                if cached[1] is None:
                    skipped.append(path.name)
            if cached[1] is not None:
                files.append(cached[1])
        if skipped:
            logger.info("csv source: skipped %s in %s (no price columns)", ", ".join(skipped), self.directory)
        if not files:
            raise SourceError(
                f"price directory {self.directory} has no price files "
                f"(*.csv / *.parquet with columns {', '.join(REQUIRED_COLUMNS)})"
            )
        return files

    def _read(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        files = self.price_files()  # checked even for an empty request: a bad directory is a setup error
        wanted = list(dict.fromkeys(tickers))
        if not wanted or start >= end:
            return empty_prices()
        # Per-ticker files of tickers not requested are not opened at all.
        files = [f for f in files if f.ticker is None or f.ticker in wanted]
        frames = [self._read_file(file, wanted, start, end) for file in files]
        return pl.concat(frames) if frames else empty_prices()

    def _read_file(self, file: PriceFile, tickers: list[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        if file.missing:
            raise SourceError(f"{file.path}: missing required column(s) {', '.join(file.missing)}")
        frame = file.scan()
        if file.ticker is None:
            ticker = pl.col(file.columns["ticker"]).cast(pl.String)
            frame = frame.filter(ticker.is_in(tickers))
        else:
            ticker = pl.lit(file.ticker, dtype=pl.String)
        query = (
            frame.select(_parsed(file, "date", strict=True).alias("date"), ticker.alias("ticker"),
                         *(_value_expr(file, name).alias(name) for name in _VALUE_COLUMNS))
            .filter((pl.col("date") >= start) & (pl.col("date") < end))
            .with_columns(pl.lit(self.name, dtype=pl.String).alias("source"))
            .select([pl.col(name).cast(dtype) for name, dtype in PRICE_SCHEMA.items()])
        )
        try:
            return query.collect()
        except pl.exceptions.PolarsError as exc:
            bad = _first_bad_value(file, frame)
            if bad is None:
                raise SourceError(f"cannot read {file.path}: {exc}") from exc
            column, value = bad
            raise SourceError(f"{file.path}: column {column} has a value that does not parse: {value!r}") from exc
