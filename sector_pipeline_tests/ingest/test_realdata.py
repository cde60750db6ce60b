"""The validation rules against 21 years of real SPY and sector ETF prices (skipped without the folder)."""

import csv
import datetime as dt

import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.ingest.load import Window, fetch_prices
from sector_pipeline.ingest.validation import validate_prices
from sector_pipeline.sources.csv_source import CsvDirectorySource

NO_PREVIOUS = pl.DataFrame(schema={"ticker": pl.String(), "close": pl.Float64()})


def test_real_history_passes_every_rule_and_is_complete(realdata_dir, universe):
    window = Window.of(dt.date(1999, 1, 4), dt.date(2020, 1, 1))
    raw = fetch_prices(CsvDirectorySource(realdata_dir), universe, window)  # raises if any session is missing
    valid, quarantined = validate_prices(raw, NO_PREVIOUS, max_abs_move=0.25)
    assert quarantined.is_empty(), quarantined.head()
    assert valid.height == raw.height
    per_ticker = dict(valid.group_by("ticker").len().iter_rows())
    assert per_ticker["SPY"] == len(sessions(dt.date(1999, 1, 4), dt.date(2020, 1, 1))) == 5283
    assert per_ticker["XLRE"] == len(sessions(dt.date(2015, 10, 8), dt.date(2020, 1, 1)))
    assert per_ticker["XLC"] == len(sessions(dt.date(2018, 6, 19), dt.date(2020, 1, 1)))


def test_a_tighter_move_limit_flags_exactly_the_real_crash_days(realdata_dir, universe):
    raw = fetch_prices(CsvDirectorySource(realdata_dir), universe, Window.of(dt.date(2008, 9, 2), dt.date(2008, 12, 1)))
    _, quarantined = validate_prices(raw, NO_PREVIOUS, max_abs_move=0.12)
    flagged = set(quarantined.filter(pl.col("reason").str.contains("one_day_move")).select("date", "ticker").rows())
    # independent oracle: plain Python over the CSV file
    with open(realdata_dir / "prices.csv") as f:
        rows = sorted((r["ticker"], r["date"], float(r["close"])) for r in csv.DictReader(f)
                      if "2008-09-02" <= r["date"] < "2008-12-01")
    expected = {(dt.date.fromisoformat(d), t) for (t0, _, c0), (t, d, c) in zip(rows, rows[1:])
                if t0 == t and abs(c / c0 - 1) > 0.12}
    assert flagged == expected and len(expected) >= 5  # autumn 2008 had several >12 % sector days
