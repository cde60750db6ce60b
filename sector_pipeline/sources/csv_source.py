"""Daily prices and macro series read from a directory of CSV or Parquet files (offline runs, real data).

Directory layout
----------------
Price files, in either or both of two layouts:

* **per-ticker files** ``<TICKER>.csv`` or ``<TICKER>.parquet``: the file name without its extension is
  the ticker, verbatim (``SPY.csv``, ``^VIX.csv``, ``CL=F.parquet``), one row per date;
* **long files**: any ``*.csv`` / ``*.parquet`` that has a ``ticker`` column, one row per (date, ticker)
  and any number of tickers (the layout of ``prices.csv`` and ``market_proxies.csv`` in the real-data
  folder).

Price columns: ``date`` (ISO ``yyyy-mm-dd``; in Parquet also a Date or Datetime column), ``open``, ``high``,
``low``, ``close`` are required. Optional: ``adj_close``, ``volume``; ``dividend`` (or ``dividends``: cash
per share going ex on the row's date, in the same share units as ``close``; 0 = none); ``split_ratio`` (or
``stock_splits``: new shares per old on the ex-date; 0 or 1 = none, as Yahoo writes it); ``fetched_on``
(the day the row was downloaded: ``close`` is split-adjusted as of that day). An absent optional column is
null, except ``fetched_on``, which defaults to the file's modification date (New York time). Names are
matched case-insensitively with spaces read as underscores, so a Yahoo export header
(``Date,Open,High,Low,Close,Adj Close,Volume,Dividends,Stock Splits``) works as is.

Macro files: any file with the columns ``date``, ``series``, ``value`` (the layout of ``macro.csv`` in the
real-data folder): ``date`` is FRED's observation date, ``series`` the FRED id (the universe entry's
``ticker``), ``value`` a number; ``.`` or an empty field is a missing observation (left out). They serve
the universe's ``provider = "fred"`` series, dated by their release session (``release_sessions``). A
market macro series (``provider = "market"``) is read from the price files, ``value`` = ``close``.

Files
-----
CSV files are comma-separated with a header row, UTF-8 (a UTF-8 byte order mark is fine) or UTF-16 with
a byte order mark (what some spreadsheet programs save as "Unicode text"). Any other encoding is a
``SourceError`` naming the file, the line and the offending byte. Files that are neither price nor macro
files are skipped with a log message. A file missing a required column, holding a value that does not
parse, or a macro file repeating a (series, date) is a ``SourceError`` naming the file, the line and the
column. Rows are returned as stored: if the same (date, ticker) appears in two price files both rows are
returned and validation downstream quarantines the duplicate.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

import polars as pl

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import (
    PRICE_SCHEMA,
    closes_as_macro,
    empty_macro,
    empty_prices,
    observation_window,
    release_sessions,
    split_by_provider,
)
from sector_pipeline.universe import Instrument, MacroSeries

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close")
OPTIONAL_COLUMNS = ("adj_close", "volume", "dividend", "split_ratio", "fetched_on")
MACRO_COLUMNS = ("date", "series", "value")
_VALUE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume", "dividend", "split_ratio")
_DATE_COLUMNS = ("date", "fetched_on")
# Yahoo's export names for the action columns.
_ALIASES = {"dividends": "dividend", "stock_splits": "split_ratio"}
# A file with none of these is not a price file (macro.csv: date, series, value).
_PRICE_MARKERS = frozenset({"open", "high", "low", "close", "adj_close"})
_SUFFIXES = (".csv", ".parquet")
_MISSING_MACRO_VALUES = ("", ".")
_ROW = "__row"
_NEW_YORK = ZoneInfo("America/New_York")


def _canonical_name(column: str) -> str:
    name = column.strip().lstrip("\ufeff").lower().replace(" ", "_")
    return _ALIASES.get(name, name)


def _utf8_content(path: Path) -> bytes | None:
    """None when a CSV file can be read as it is (UTF-8); its text as UTF-8 when it is UTF-16 with a BOM.

    Raises SourceError naming the line and byte of the first thing that is not valid text.
    """
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].decode("utf-16", errors="replace").count("\n") + 1
            raise SourceError(f"{path}: line {line} is not valid UTF-16 although the file starts with a UTF-16 "
                              f"byte order mark ({exc.reason} at byte {exc.start})") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(
            f"{path}: line {line}, character {column}: byte 0x{data[exc.start]:02x} is not valid UTF-8 "
            f"({exc.reason}); the file is probably in a legacy encoding such as Latin-1 or Windows-1252: "
            "save it as UTF-8 (or UTF-16 with a byte order mark)"
        ) from None
    return None


@dataclass(frozen=True)
class DataFile:
    """One inspected file: where it is, how its columns map to canonical names, how to read it."""

    path: Path
    columns: dict[str, str]  # canonical name -> the file's own column name
    dtypes: dict[str, pl.DataType]  # canonical name -> the column's type as scanned
    modified_on: dt.date  # the file's modification date in New York: default download date of its rows
    content: bytes | None  # the file transcoded to UTF-8 when it is not UTF-8 on disk; None = read the path

    def scan(self) -> pl.LazyFrame:
        """The file's rows with `__row`, the 0-based row number (line = row + 2 in a CSV file)."""
        # CSV values are read as text and cast later, so a bad value is reported with its line and column.
        if self.content is not None:
            frame = pl.read_csv(io.BytesIO(self.content), infer_schema=False).lazy()
        elif self.path.suffix.lower() == ".csv":
            frame = pl.scan_csv(self.path, infer_schema=False)
        else:
            frame = pl.scan_parquet(self.path)
        return frame.with_row_index(_ROW)

    def where(self, row: int) -> str:
        """"line N" of a CSV file (header = line 1), "row N" of a Parquet file."""
        return f"line {row + 2}" if self.path.suffix.lower() == ".csv" else f"row {row + 1}"

    def where_expr(self) -> pl.Expr:
        """`where` of each row of `scan()`, with the file name, as an expression."""
        csv = self.path.suffix.lower() == ".csv"
        return pl.concat_str(pl.lit(f"{self.path.name} {'line' if csv else 'row'} "),
                             (pl.col(_ROW) + (2 if csv else 1)).cast(pl.String))


@dataclass(frozen=True)
class PriceFile(DataFile):
    ticker: str | None = None  # the per-ticker file's ticker; None for a long file (tickers in a column)
    missing: tuple[str, ...] = ()  # required columns the file lacks; reported when the file is read


@dataclass(frozen=True)
class MacroFile(DataFile):
    pass


def _scan_schema(path: Path, content: bytes | None) -> pl.Schema:
    try:
        if content is not None:
            return pl.read_csv(io.BytesIO(content), infer_schema=False, n_rows=0).schema
        if path.suffix.lower() == ".csv":
            return pl.scan_csv(path, infer_schema=False).collect_schema()
        return pl.scan_parquet(path).collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc


def _inspect(path: Path) -> DataFile | None:
    """The file's layout from its header (CSV) or metadata (Parquet); None when it is neither kind of file."""
    try:
        content = _utf8_content(path) if path.suffix.lower() == ".csv" else None
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, _NEW_YORK).date()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    schema = _scan_schema(path, content)
    columns: dict[str, str] = {}
    for column in schema.names():
        columns.setdefault(_canonical_name(column), column)
    dtypes = {name: schema[column] for name, column in columns.items()}
    if _PRICE_MARKERS & columns.keys():
        return PriceFile(path=path, columns=columns, dtypes=dtypes, modified_on=modified, content=content,
                         ticker=None if "ticker" in columns else path.stem,
                         missing=tuple(c for c in REQUIRED_COLUMNS if c not in columns))
    if set(MACRO_COLUMNS) <= columns.keys():
        return MacroFile(path=path, columns=columns, dtypes=dtypes, modified_on=modified, content=content)
    return None


def _parsed(file: DataFile, name: str, *, strict: bool) -> pl.Expr:
    """The canonical column `name` parsed from the file's own column (NaN is kept here)."""
    column = pl.col(file.columns[name])
    dtype = file.dtypes[name]
    if dtype == pl.String:
        column = column.str.strip_chars()
    if name not in _DATE_COLUMNS:
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
    value = _parsed(file, name, strict=True).fill_nan(None)
    if name == "split_ratio":
        # Yahoo writes "no split" as 0; the canonical frame's is a ratio of 1.
        value = pl.when(value == 0).then(1.0).otherwise(value)
    return value


def _first_bad_value(file: DataFile, frame: pl.LazyFrame,
                     names: Sequence[str]) -> tuple[int, str, str, str] | None:
    """The first (row, canonical name, file's column, value) of the frame that does not parse; used only to
    word an error."""
    for name in names:
        if name not in file.columns:
            continue
        raw = pl.col(file.columns[name])
        unparsed = raw.is_not_null() & _parsed(file, name, strict=False).is_null()
        if name == "value" and file.dtypes[name] == pl.String:
            unparsed = unparsed & ~raw.str.strip_chars().is_in(_MISSING_MACRO_VALUES)
        bad = frame.filter(unparsed).select(_ROW, raw.cast(pl.String)).head(1).collect()
        if bad.height:
            row, value = bad.row(0)
            return row, name, file.columns[name], value
    return None


def _collect(file: DataFile, query: pl.LazyFrame, frame: pl.LazyFrame, names: Sequence[str]) -> pl.DataFrame:
    """Run the query; a value that does not parse becomes a SourceError naming file, line and column."""
    try:
        return query.collect()
    except pl.exceptions.PolarsError as exc:
        bad = _first_bad_value(file, frame, names)
        if bad is None:
            raise SourceError(f"cannot read {file.path}: {exc}") from exc
        row, name, column, value = bad
        expected = "a date yyyy-mm-dd" if name in _DATE_COLUMNS else "a number"
        raise SourceError(f"{file.path}: {file.where(row)}, column {column}: value {value!r} does not parse "
                          f"({expected} expected)") from exc


class CsvDirectorySource:
    """Prices and macro series from CSV/Parquet files in one directory (layout in the module docstring)."""

    name = "csv"

    def __init__(self, directory: str | Path, *, calendar: str = "XNYS") -> None:
        self.directory = Path(directory)
        self.calendar = calendar
        # Inspection per file with the (mtime, size) it was made at: a changed file is inspected again.
        self._inspected: dict[Path, tuple[tuple[int, int], DataFile | None]] = {}

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in PRICE_SCHEMA for the instruments on dates in [start, end), ``source`` = "csv"."""
        return self._read([i.ticker for i in instruments], start, end)

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA with release dates in [start, end).

        Market series: the ticker's ``close`` from the price files. FRED series: the macro files' values,
        dated by the session they became public.
        """
        market, fred = split_by_provider(series)
        frames = []
        if market:
            frames.append(closes_as_macro(self._read([s.ticker for s in market], start, end), market))
        if fred:
            frames.append(self._read_macro(fred, start, end))
        return pl.concat(frames) if frames else empty_macro()

    def _files(self) -> list[DataFile]:
        """Every price and macro file of the directory in name order; inspection is cached until a file changes."""
        if not self.directory.is_dir():
            raise SourceError(f"data directory {self.directory} does not exist or is not a directory")
        files: list[DataFile] = []
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
            logger.info("csv source: skipped %s in %s (neither price nor macro columns)", ", ".join(skipped),
                        self.directory)
        return files

    def price_files(self) -> list[PriceFile]:
        """The directory's price files in name order."""
        files = [f for f in self._files() if isinstance(f, PriceFile)]
        if not files:
            raise SourceError(
                f"price directory {self.directory} has no price files "
                f"(*.csv / *.parquet with columns {', '.join(REQUIRED_COLUMNS)})"
            )
        return files

    def macro_files(self) -> list[MacroFile]:
        """The directory's macro files (columns date, series, value) in name order."""
        return [f for f in self._files() if isinstance(f, MacroFile)]

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
        fetched_on = (_parsed(file, "fetched_on", strict=True) if "fetched_on" in file.columns
                      else pl.lit(file.modified_on, dtype=pl.Date))
        query = (
            frame.select(_parsed(file, "date", strict=True).alias("date"), ticker.alias("ticker"),
                         *(_value_expr(file, name).alias(name) for name in _VALUE_COLUMNS),
                         fetched_on.alias("fetched_on"))
            .filter((pl.col("date") >= start) & (pl.col("date") < end))
            .with_columns(pl.lit(self.name, dtype=pl.String).alias("source"))
            .select([pl.col(name).cast(dtype) for name, dtype in PRICE_SCHEMA.items()])
        )
        return _collect(file, query, frame, ("date", *_VALUE_COLUMNS, "fetched_on"))

    def _read_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        files = self.macro_files()
        if not files:
            logger.warning("csv source: %s has no macro file (columns date, series, value); no rows for %s",
                           self.directory, ", ".join(s.ticker for s in series))
            return empty_macro()
        frames = []
        for s in dict.fromkeys(series):
            first, stop = observation_window(s, start, end)
            observed = [self._read_observations(file, s.ticker, first, stop) for file in files]
            rows = pl.concat(observed)
            self._check_unique(rows, s)
            if rows.is_empty():
                logger.warning("csv source: no observation of %s (%s) dated %s..%s in %s", s.ticker, s.series,
                               first, stop, ", ".join(f.path.name for f in files))
            frames.append(release_sessions(rows.select("observation_date", "value"), s, self.calendar,
                                           source=self.name, start=start, end=end))
        return pl.concat(frames) if frames else empty_macro()

    def _read_observations(self, file: MacroFile, ticker: str, first: dt.date, stop: dt.date) -> pl.DataFrame:
        """(observation_date, value, __row, place) of one series dated in [first, stop); missing values left out."""
        frame = file.scan().filter(pl.col(file.columns["series"]).cast(pl.String).str.strip_chars() == ticker)
        value = pl.col(file.columns["value"])
        if file.dtypes["value"] == pl.String:
            # FRED writes a missing observation as "." (or an empty field): not data, never zero.
            frame = frame.filter(value.is_not_null() & ~value.str.strip_chars().is_in(_MISSING_MACRO_VALUES))
        query = (
            frame.select(_parsed(file, "date", strict=True).alias("observation_date"),
                         _parsed(file, "value", strict=True).alias("value"), pl.col(_ROW),
                         file.where_expr().alias("place"))
            .filter(pl.col("observation_date").is_between(first, stop, closed="left"))
        )
        rows = _collect(file, query, frame, ("date", "value"))
        nan = rows.filter(pl.col("value").is_nan() | pl.col("value").is_infinite())
        if nan.height:
            row = nan.row(0, named=True)
            raise SourceError(f"{file.path}: {file.where(row[_ROW])}, column {file.columns['value']}: value "
                              f"{row['value']} for {ticker} on {row['observation_date']} is not a finite number")
        return rows

    @staticmethod
    def _check_unique(rows: pl.DataFrame, series: MacroSeries) -> None:
        repeated = rows.filter(pl.col("observation_date").is_duplicated()).sort("observation_date")
        if repeated.height:
            day = repeated["observation_date"][0]
            places = repeated.filter(pl.col("observation_date") == day)["place"].to_list()
            raise SourceError(f"macro files give {series.ticker} ({series.series}) twice for {day}: "
                              f"{', '.join(places)}; keep one row per (series, date)")
