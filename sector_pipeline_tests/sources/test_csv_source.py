"""CsvDirectorySource: per-ticker and long CSV/Parquet layouts, errors, and the real-data folder."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sector_pipeline.errors import SourceError
from sector_pipeline.sources import csv_source
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA
from sector_pipeline.sources.csv_source import CsvDirectorySource
from sector_pipeline.universe import Instrument, Universe

HEADER = "date,open,high,low,close,adj_close,volume\n"


def instruments(*tickers: str) -> list[Instrument]:
    return [Instrument(ticker=t, name=t, inception=dt.date(1990, 1, 2)) for t in tickers]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_per_ticker_csv_files_exact_values_and_end_exclusive(tmp_path: Path) -> None:
    write(tmp_path / "XLK.csv", HEADER
          + "2024-01-02,200.5,201.25,198.75,199.875,198.0625,7000000\n"
          + "2024-01-03,199.0,199.5,196.0,197.125,195.3125,8000000\n"
          + "2024-01-04,197.0,198.0,195.5,196.25,194.4375,6500000\n")
    # Optional columns absent, an extra column, and a file for a ticker nobody asks for.
    write(tmp_path / "^VIX.csv", "date,open,high,low,close,note\n2024-01-02,13.2,14.2,13.1,13.2,calm\n")
    write(tmp_path / "XLF.csv", HEADER + "2024-01-02,37.5,37.75,37.25,37.625,36.5,40000000\n")

    rows = CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK", "^VIX"), dt.date(2024, 1, 2),
                                                     dt.date(2024, 1, 4)).sort("ticker", "date")

    assert dict(rows.schema) == PRICE_SCHEMA
    assert rows.rows() == [
        (dt.date(2024, 1, 2), "XLK", 200.5, 201.25, 198.75, 199.875, 198.0625, 7_000_000.0, "csv"),
        (dt.date(2024, 1, 3), "XLK", 199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000.0, "csv"),
        (dt.date(2024, 1, 2), "^VIX", 13.2, 14.2, 13.1, 13.2, None, None, "csv"),
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
def test_an_unparseable_value_names_the_file_and_column(tmp_path: Path, line: str, column: str,
                                                        value: str) -> None:
    write(tmp_path / "long.csv", "date,ticker,open,high,low,close,adj_close,volume\n"
          + ",".join([line.split(",")[0], "XLK", *line.split(",")[1:]]) + "\n")
    with pytest.raises(SourceError) as error:
        CsvDirectorySource(tmp_path).fetch_prices(instruments("XLK"), dt.date(2024, 1, 1), dt.date(2024, 2, 1))
    assert "long.csv" in str(error.value) and f"column {column}" in str(error.value) and value in str(error.value)


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
