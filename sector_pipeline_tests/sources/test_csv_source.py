"""CsvDirectorySource: per-ticker and long CSV/Parquet layouts, errors, and the real-data folder."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.errors import SourceError
from sector_pipeline.sources import csv_source
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA
from sector_pipeline.sources.csv_source import CsvDirectorySource
from sector_pipeline.universe import Instrument, MacroSeries, Universe

HEADER = "date,open,high,low,close,adj_close,volume\n"


def instruments(*tickers: str) -> list[Instrument]:
    return [Instrument(ticker=t, name=t, inception=dt.date(1990, 1, 2)) for t in tickers]


def write(path: Path, text: str, modified: dt.datetime | None = None) -> Path:
    path.write_text(text)
    if modified is not None:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


# 23:30 in New York on 2024-01-05 is already the 6th in UTC: the download day is New York's.
EVENING = dt.datetime(2024, 1, 5, 23, 30, tzinfo=ZoneInfo("America/New_York"))


def test_per_ticker_csv_files_exact_values_and_end_exclusive(tmp_path: Path) -> None:
    write(tmp_path / "XLK.csv", HEADER
          + "2024-01-02,200.5,201.25,198.75,199.875,198.0625,7000000\n"
          + "2024-01-03,199.0,199.5,196.0,197.125,195.3125,8000000\n"
          + "2024-01-04,197.0,198.0,195.5,196.25,194.4375,6500000\n", EVENING)
    # Optional columns absent, an extra column, and a file for a ticker nobody asks for.
    write(tmp_path / "^VIX.csv", "date,open,high,low,close,note\n2024-01-02,13.2,14.2,13.1,13.2,calm\n", EVENING)
    write(tmp_path / "XLF.csv", HEADER + "2024-01-02,37.5,37.75,37.25,37.625,36.5,40000000\n")

    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK", "^VIX"), dt.date(2024, 1, 2),
                                                     dt.date(2024, 1, 4)).sort("ticker", "date")

    assert dict(rows.schema) == PRICE_SCHEMA
    # No dividend or split column: unknown (null), not "none"; downloaded when the file was last written.
    day = dt.date(2024, 1, 5)
    assert rows.rows() == [
        (dt.date(2024, 1, 2), "XLK", 200.5, 201.25, 198.75, 199.875, 198.0625, 7_000_000.0, None, None, day, "csv"),
        (dt.date(2024, 1, 3), "XLK", 199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000.0, None, None, day, "csv"),
        (dt.date(2024, 1, 2), "^VIX", 13.2, 14.2, 13.1, 13.2, None, None, None, None, day, "csv"),
    ]


def test_per_ticker_parquet_file(tmp_path: Path) -> None:
    pl.DataFrame({
        "date": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
        "open": [71.5, 72.0], "high": [72.25, 73.0], "low": [70.0, 71.75], "close": [70.38, 72.7],
        "volume": [350_000, 380_000],
    }).write_parquet(tmp_path / "CL=F.parquet")

    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("CL=F"), dt.date(2024, 1, 1),
                                                     dt.date(2024, 2, 1)).sort("date")

    assert dict(rows.schema) == PRICE_SCHEMA
    assert rows["ticker"].to_list() == ["CL=F", "CL=F"]
    assert rows["close"].to_list() == [70.38, 72.7]
    assert rows["volume"].to_list() == [350_000.0, 380_000.0]
    assert rows["adj_close"].null_count() == 2


def test_long_files_beside_a_macro_file_and_duplicates_kept(tmp_path: Path) -> None:
    write(tmp_path / "prices.csv", "date,ticker,open,high,low,close,adj_close,volume\n"
          "2015-10-07,SPY,198.9,199.83,197.48,199.41,167.1196,124307300\n"
          "2015-10-08,SPY,198.95,201.55,198.59,201.21,168.6281,153055200\n"
          "2015-10-08,XLRE,30.01,30.21,30.01,30.21,20.8613,2000\n"
          "2015-10-08,XLK,20.475,20.69,20.375,20.65,18.3137,30749600\n")
    write(tmp_path / "macro.csv", "date,series,value\n2015-10-01,DGS10,2.05\n")  # not a price file: skipped
    # A Yahoo export header, and a second copy of SPY on 2015-10-08 with another close.
    write(tmp_path / "SPY.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n"
          "2015-10-08,198.95,201.55,198.59,201.2,168.62,153055200\n")

    source = CsvDirectorySource(tmp_path)
    rows = source.fetch_prices(instruments("SPY", "XLRE"), dt.date(2015, 10, 8), dt.date(2015, 10, 9))

    assert [f.path.name for f in source.price_files()] == ["SPY.csv", "prices.csv"]
    assert rows.height == 3 and "XLK" not in rows["ticker"].to_list()
    spy = rows.filter(pl.col("ticker") == "SPY")
    assert sorted(spy["close"].to_list()) == [201.2, 201.21]
    assert rows.filter(pl.col("ticker") == "XLRE")["adj_close"].item() == 20.8613


def test_a_missing_required_column_names_the_file_and_column(tmp_path: Path) -> None:
    write(tmp_path / "XLK.csv", "date,open,high,low,adj_close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    with pytest.raises(SourceError, match=r"XLK\.csv: missing required column\(s\) close"):
        CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))


@pytest.mark.parametrize("line, column, value", [
    ("2024-01-02,1,2,0.5,1.5x,1.4,10", "close", "1.5x"),
    ("02/01/2024,1,2,0.5,1.5,1.4,10", "date", "02/01/2024"),
])
def test_an_unparseable_value_names_the_file_line_and_column(tmp_path: Path, line: str, column: str,
                                                             value: str) -> None:
    # Line 2 is another ticker (filtered out before parsing), so the bad row is line 3.
    write(tmp_path / "long.csv", "date,ticker,open,high,low,close,adj_close,volume\n"
          "2024-01-02,XLF,1,2,0.5,1.5,1.4,10\n"
          + ",".join([line.split(",")[0], "XLK", *line.split(",")[1:]]) + "\n")
    with pytest.raises(SourceError) as error:
        CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    assert f"long.csv: line 3, column {column}: value {value!r} does not parse" in str(error.value)


def test_missing_directory_or_no_price_files_is_a_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SourceError, match="nowhere"):
        CsvDirectorySource(missing).fetch_prices(instruments("SPY"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    write(tmp_path / "macro.csv", "date,series,value\n2015-10-01,DGS10,2.05\n")
    with pytest.raises(SourceError, match=f"{tmp_path} has no price files"):
        CsvDirectorySource(tmp_path).fetch_prices(instruments("SPY"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))


def test_file_inspection_is_cached_until_a_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inspected: list[str] = []
    real_inspect = csv_source._inspect

    def counting_inspect(path: Path) -> csv_source.PriceFile | None:
        inspected.append(path.name)
        return real_inspect(path)

    monkeypatch.setattr(csv_source, "_inspect", counting_inspect)
    file = write(tmp_path / "XLK.csv", HEADER + "2024-01-02,1,2,0.5,1.5,1.4,10\n")
    source = CsvDirectorySource(tmp_path)
    window = (dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    source.fetch_prices(instruments("XLK"), *window)
    source.fetch_prices(instruments("XLK"), *window)
    assert inspected == ["XLK.csv"]

    write(file, HEADER + "2024-01-02,1,2,0.5,1.75,1.4,10\n2024-01-03,1,2,0.5,1.5,1.4,10\n")
    rows = source.fetch_prices(instruments("XLK"), *window)
    assert inspected == ["XLK.csv", "XLK.csv"] and rows["close"].to_list() == [1.75, 1.5]


def _csv_rows(path: Path, tickers: set[str], start: str, end: str) -> dict[tuple[str, str], dict[str, str]]:
    """Rows of a long real-data file read with the csv module, independently of polars."""
    with path.open(newline="") as handle:
        return {(r["ticker"], r["date"]): r for r in csv.DictReader(handle)
                if r["ticker"] in tickers and start <= r["date"] < end}


def test_real_prices_match_the_file(realdata_dir: Path, universe: Universe) -> None:
    wanted = [i for i in universe.instruments if i.ticker in ("SPY", "XLK", "XLRE")]
    rows = CsvDirectorySource(realdata_dir).fetch_prices(wanted, dt.date(2015, 10, 1), dt.date(2015, 10, 15))
    expected = _csv_rows(realdata_dir / "prices.csv", {"SPY", "XLK", "XLRE"}, "2015-10-01", "2015-10-15")

    assert rows.height == len(expected) == 10 + 10 + 5
    got = {(r["ticker"], r["date"].isoformat()): r for r in rows.iter_rows(named=True)}
    assert got.keys() == expected.keys()
    for key, row in expected.items():
        assert got[key]["close"] == float(row["close"]), key
        assert got[key]["adj_close"] == float(row["adj_close"]), key
    assert got[("SPY", "2015-10-01")]["close"] == 192.13
    assert got[("XLK", "2015-10-14")]["close"] == 20.68
    xlre = rows.filter(pl.col("ticker") == "XLRE")
    assert xlre["date"].min() == dt.date(2015, 10, 8)  # XLRE's first trading day
    assert xlre.filter(pl.col("date") == dt.date(2015, 10, 14))["volume"].item() == 0.0


def test_real_vix_macro_value_is_the_close(realdata_dir: Path, universe: Universe) -> None:
    vix = [m for m in universe.macro if m.ticker == "^VIX"]
    rows = CsvDirectorySource(realdata_dir).fetch_macro(vix, dt.date(2015, 10, 1), dt.date(2015, 10, 15))
    expected = _csv_rows(realdata_dir / "market_proxies.csv", {"^VIX"}, "2015-10-01", "2015-10-15")

    assert dict(rows.schema) == MACRO_SCHEMA
    assert rows.height == len(expected) == 10
    assert set(rows["series"]) == {"vix"} and set(rows["source"]) == {"csv"}
    assert {r["date"].isoformat(): r["value"] for r in rows.iter_rows(named=True)} == {
        date: float(r["close"]) for (_, date), r in expected.items()}
    assert rows.filter(pl.col("date") == dt.date(2015, 10, 1))["value"].item() == 22.55


# --- dividends, splits, download date ------------------------------------------------------------------------

def test_yahoo_export_with_dividends_and_stock_splits(tmp_path: Path) -> None:
    # Yahoo's export header; Stock Splits 0 means none, 4 is a 4-for-1 split.
    write(tmp_path / "AAPL.csv", "Date,Open,High,Low,Close,Adj Close,Volume,Dividends,Stock Splits\n"
          "2020-08-28,504.05,505.77,498.31,499.23,122.48,46907500,0,0\n"
          "2020-08-31,127.58,131.0,126.0,129.04,126.63,225702700,0,4\n"
          "2020-11-06,118.32,119.2,116.13,118.69,116.88,114457900,0.205,0\n", EVENING)
    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("AAPL"), dt.date(2020, 8, 1), dt.date(2020, 12, 1))
    assert rows.sort("date").select("date", "close", "dividend", "split_ratio", "fetched_on").rows() == [
        (dt.date(2020, 8, 28), 499.23, 0.0, 1.0, dt.date(2024, 1, 5)),
        (dt.date(2020, 8, 31), 129.04, 0.0, 4.0, dt.date(2024, 1, 5)),
        (dt.date(2020, 11, 6), 118.69, 0.205, 1.0, dt.date(2024, 1, 5)),
    ]


def test_canonical_columns_and_a_fetched_on_column_in_a_long_parquet_file(tmp_path: Path) -> None:
    pl.DataFrame({
        "date": [dt.date(2024, 3, 14), dt.date(2024, 3, 15)], "ticker": ["XLK", "XLK"],
        "open": [200.5, 199.0], "high": [201.25, 199.5], "low": [198.75, 196.0], "close": [199.875, 197.125],
        "dividend": [0.0, 0.3541], "split_ratio": [1.0, 1.0],
        "fetched_on": [dt.date(2024, 3, 14), dt.date(2024, 3, 18)],
    }).write_parquet(tmp_path / "stored.parquet")
    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 3, 1), dt.date(2024, 4, 1))
    assert rows.sort("date").select("dividend", "split_ratio", "fetched_on").rows() == [
        (0.0, 1.0, dt.date(2024, 3, 14)), (0.3541, 1.0, dt.date(2024, 3, 18))]


def test_a_bad_dividend_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "XLK.csv", "date,open,high,low,close,dividend\n2024-01-02,1,2,0.5,1.5,0\n"
                                "2024-01-03,1,2,0.5,1.5,$0.35\n")
    with pytest.raises(SourceError, match=r"XLK\.csv: line 3, column dividend: value '\$0\.35' does not parse"):
        CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))


# --- encodings -------------------------------------------------------------------------------------------------

def test_utf16_files_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    # What a spreadsheet's "Unicode text" export looks like: UTF-16 little-endian with a BOM, CRLF lines.
    text = HEADER.replace("\n", "\r\n") + "2024-01-02,200.5,201.25,198.75,199.875,198.0625,7000000\r\n"
    (tmp_path / "XLK.csv").write_bytes(text.encode("utf-16"))
    (tmp_path / "macro.csv").write_bytes("date,series,value\n2023-11-01,CPIAUCSL,307.531\n".encode("utf-16-be")
                                         .join([b"\xfe\xff", b""]))
    source = CsvDirectorySource(tmp_path)
    rows = source.fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    assert rows.select("date", "close", "volume").rows() == [(dt.date(2024, 1, 2), 199.875, 7_000_000.0)]
    cpi = source.fetch_macro([CPI], dt.date(2023, 12, 1), dt.date(2024, 1, 1))
    assert cpi.select("date", "observation_date", "value").rows() == [
        (dt.date(2023, 12, 19), dt.date(2023, 11, 1), 307.531)]


def test_a_file_that_is_not_utf8_names_the_file_line_and_byte(tmp_path: Path) -> None:
    # Latin-1 "é" (0xe9) on line 3: today's polars error would not name the file.
    (tmp_path / "prices.csv").write_bytes(("date,ticker,open,high,low,close\n2024-01-02,XLK,1,2,0.5,1.5\n"
                                           "2024-01-03,caf\xe9,1,2,0.5,1.5\n").encode("latin-1"))
    with pytest.raises(SourceError) as error:
        CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    message = str(error.value)
    assert f"{tmp_path / 'prices.csv'}: line 3, character 15: byte 0xe9 is not valid UTF-8" in message
    assert "Latin-1" in message


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    (tmp_path / "XLK.csv").write_bytes(b"\xef\xbb\xbf" + (HEADER + "2024-01-02,1,2,0.5,1.5,1.4,10\n").encode())
    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    assert rows["close"].to_list() == [1.5]


# --- macro files: FRED series ------------------------------------------------------------------------------------

CPI = MacroSeries("cpi_index", "CPIAUCSL", "index", dt.date(1947, 1, 1), provider="fred", frequency="monthly",
                  release_lag_days=48)
DGS10 = MacroSeries("treasury_10y_yield_pct", "DGS10", "yield_pct", dt.date(1962, 1, 2), provider="fred",
                    frequency="daily", release_lag_days=1)
MACRO = ("date,series,value\n2023-10-01,CPIAUCSL,307.653\n2023-11-01,CPIAUCSL,308.087\n"
         "2023-11-22,DGS10,4.42\n2023-11-23,DGS10,.\n2023-11-24,DGS10,4.47\n2023-11-27,DGS10,4.39\n")


def test_fred_series_from_a_macro_file_are_dated_by_release(tmp_path: Path) -> None:
    write(tmp_path / "macro.csv", MACRO)
    write(tmp_path / "^VIX.csv", "date,open,high,low,close\n2023-11-24,12.9,13.0,12.4,12.46\n")
    vix = MacroSeries("vix", "^VIX", "index", dt.date(1990, 1, 2))
    rows = CsvDirectorySource(tmp_path).fetch_macro([vix, CPI, DGS10], dt.date(2023, 11, 20), dt.date(2023, 12, 20))

    assert dict(rows.schema) == MACRO_SCHEMA
    assert rows.sort("series", "date").select("date", "series", "observation_date", "value").rows() == [
        # Oct CPI public 2023-11-18 (a Saturday) -> Mon 11-20; Nov CPI 2023-12-19.
        (dt.date(2023, 11, 20), "cpi_index", dt.date(2023, 10, 1), 307.653),
        (dt.date(2023, 12, 19), "cpi_index", dt.date(2023, 11, 1), 308.087),
        # Wed 11-22 is public on Thanksgiving (closed) -> Fri 11-24; Thanksgiving itself is '.' (no value);
        # Friday's value is public on Saturday -> Mon 11-27; Monday's on Tuesday.
        (dt.date(2023, 11, 24), "treasury_10y_yield_pct", dt.date(2023, 11, 22), 4.42),
        (dt.date(2023, 11, 27), "treasury_10y_yield_pct", dt.date(2023, 11, 24), 4.47),
        (dt.date(2023, 11, 28), "treasury_10y_yield_pct", dt.date(2023, 11, 27), 4.39),
        (dt.date(2023, 11, 24), "vix", dt.date(2023, 11, 24), 12.46),
    ]
    assert set(rows["source"]) == {"csv"}


def test_a_directory_with_only_macro_files_serves_fred_series(tmp_path: Path) -> None:
    write(tmp_path / "macro.csv", MACRO)
    rows = CsvDirectorySource(tmp_path).fetch_macro([CPI], dt.date(2023, 12, 1), dt.date(2024, 1, 1))
    assert rows["value"].to_list() == [308.087]


@pytest.mark.parametrize("line, message", [
    ("2023-11-01,CPIAUCSL,n/a", "macro.csv: line 3, column value: value 'n/a' does not parse (a number expected)"),
    ("11/01/2023,CPIAUCSL,308.087", "macro.csv: line 3, column date: value '11/01/2023' does not parse"),
    ("2023-11-01,CPIAUCSL,NaN", "macro.csv: line 3, column value: value nan for CPIAUCSL on 2023-11-01 is not"),
])
def test_a_bad_macro_row_names_file_line_and_column(tmp_path: Path, line: str, message: str) -> None:
    write(tmp_path / "macro.csv", f"date,series,value\n2023-10-01,CPIAUCSL,307.653\n{line}\n")
    with pytest.raises(SourceError) as error:
        CsvDirectorySource(tmp_path).fetch_macro([CPI], dt.date(2023, 11, 1), dt.date(2024, 1, 1))
    assert message in str(error.value)


def test_an_observation_given_twice_is_an_error_naming_both_places(tmp_path: Path) -> None:
    write(tmp_path / "macro.csv", MACRO)
    write(tmp_path / "more.csv", "Date,Series,Value\n2023-11-01,CPIAUCSL,308.1\n")
    with pytest.raises(SourceError) as error:
        CsvDirectorySource(tmp_path).fetch_macro([CPI], dt.date(2023, 12, 1), dt.date(2024, 1, 1))
    assert "CPIAUCSL (cpi_index) twice for 2023-11-01: macro.csv line 3, more.csv line 2" in str(error.value)


# --- real data -------------------------------------------------------------------------------------------------

def test_real_fred_series_are_released_after_their_lag(realdata_dir: Path) -> None:
    from sector_pipeline.universe import load_universe

    u = load_universe(Path(__file__).resolve().parents[2] / "benchmarks" / "realdata_universe.toml")
    fred = [m for m in u.macro if m.provider == "fred"]
    rows = CsvDirectorySource(realdata_dir).fetch_macro(fred, dt.date(2019, 1, 1), dt.date(2020, 1, 1))
    by_series = {name: frame.sort("date") for (name,), frame in rows.group_by("series")}
    # November 2019's CPI is public on 2019-12-19, not before; nothing is public before its observation.
    cpi = by_series["cpi_index"].select("date", "observation_date").rows()
    assert cpi[-1] == (dt.date(2019, 12, 19), dt.date(2019, 11, 1)) and len(cpi) == 12
    assert (rows.filter(pl.col("date") < pl.col("observation_date") + pl.duration(days=1))).height == 0
    # Q3 2019 GDP (observed 2019-07-01) is public from 2019-11-03 (a Sunday) -> 2019-11-04.
    assert by_series["gdp_usd_bn"].select("date", "observation_date").rows()[-1] == (
        dt.date(2019, 11, 4), dt.date(2019, 7, 1))
    # Daily yields: each value on the session after its day. The bond market was closed on Columbus Day
    # (2019-10-14) and Veterans Day (2019-11-11), NYSE sessions: the sessions after them get no new value.
    dgs10 = by_series["treasury_10y_yield_pct"]
    assert dgs10.select("date", "observation_date").row(0) == (dt.date(2019, 1, 2), dt.date(2018, 12, 31))
    assert sorted(set(sessions(dt.date(2019, 1, 1), dt.date(2020, 1, 1))) - set(dgs10["date"])) == [
        dt.date(2019, 10, 15), dt.date(2019, 11, 12)]
    assert {name: frame.height for name, frame in by_series.items()} == {
        "cpi_index": 12, "unemployment_rate_pct": 12, "gdp_usd_bn": 4, "fed_funds_rate_pct": 12,
        "treasury_10y_yield_pct": 250, "treasury_2y_yield_pct": 250, "treasury_10y_2y_spread_pct": 250,
        "breakeven_10y_inflation_pct": 250}
