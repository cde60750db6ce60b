"""Total returns from closes, dividends and splits: the same series whatever the download dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable

import numpy as np
import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.ingest.total_return import daily_total_returns, split_events
from sector_pipeline.sources.csv_source import CsvDirectorySource
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.sources.yfinance_source import YFinanceSource
from sector_pipeline.universe import Instrument, Universe
from sector_pipeline_tests.sources.yahoo_fakes import FakeDownload, Listing, yahoo_history, yf_frame

D = dt.date
DAYS = sessions(D(2023, 1, 3), D(2024, 7, 1))  # 374 sessions


def _listing() -> Listing:
    """A fund with quarterly dividends, a 2-for-1 split and a 1-for-3 reverse split; prices as traded."""
    rng = np.random.default_rng(7)
    level, closes = 80.0, {}
    splits = {D(2023, 8, 14): 2.0, D(2024, 3, 4): 1 / 3}
    dividends = {D(2023, 3, 20): 0.41, D(2023, 6, 20): 0.43, D(2023, 9, 18): 0.24, D(2023, 12, 18): 0.25,
                 D(2024, 3, 18): 0.74, D(2024, 6, 24): 0.77}
    for day in DAYS:
        level = level / splits.get(day, 1.0) * (1 + 0.012 * rng.standard_normal()) - dividends.get(day, 0.0)
        closes[day] = round(level, 4)
    return Listing(closes=closes, dividends=dividends, splits=splits)


LISTING = _listing()
FUND = Instrument("XLQ", "Quarterly", D(2000, 1, 3))


def _download(windows: Iterable[tuple[dt.date, dt.date, dt.date]], *, with_dividends: bool = True) -> pl.DataFrame:
    """Rows stored by YFinanceSource for each (start, end, download day), as yfinance 1.7 would give them."""
    parts = []
    for start, end, as_of in windows:
        history = yahoo_history(LISTING, start, end, as_of)
        fake = FakeDownload(lambda tickers, n, history=history: yf_frame({"XLQ": history}))
        rows = YFinanceSource(download=fake, today=lambda as_of=as_of: as_of).fetch_prices([FUND], start, end)
        parts.append(rows if with_dividends else rows.with_columns(dividend=None, split_ratio=None))
    return pl.concat(parts).sort("date")


def _returns(rows: pl.DataFrame) -> pl.DataFrame:
    return daily_total_returns(rows.lazy()).collect()


def _chunks(step: int, lag_days: int, days: list[dt.date] = DAYS) -> list[tuple[dt.date, dt.date, dt.date]]:
    """Consecutive windows of `step` sessions, each downloaded `lag_days` after its last session."""
    windows = []
    for i in range(0, len(days), step):
        block = days[i:i + step]
        windows.append((block[0], block[-1] + dt.timedelta(days=1), block[-1] + dt.timedelta(days=lag_days)))
    return windows


SCHEDULES = {
    # One backfill downloaded after everything.
    "one download": [(DAYS[0], DAYS[-1] + dt.timedelta(days=1), D(2024, 9, 30))],
    # The nightly run: every session downloaded the evening of its day (Close not yet split-adjusted for
    # any later split, Adj Close not yet re-based for any later dividend).
    "nightly": [(day, day + dt.timedelta(days=1), day) for day in DAYS],
    # Monthly-ish backfills, each downloaded a week later: some before, some after a split or dividend.
    "chunks of 20": _chunks(20, 7),
    # Chunks, then the first half downloaded again much later (it is then on a newer basis than the rest,
    # so fetched_on goes backwards between neighbouring rows).
    "chunks, half re-fetched": [(DAYS[0], D(2023, 10, 2), D(2024, 8, 1))]
                               + _chunks(45, 3, [d for d in DAYS if d >= D(2023, 10, 2)]),
}


@pytest.fixture(scope="module")
def by_schedule() -> dict[str, pl.DataFrame]:
    return {name: _returns(_download(windows)) for name, windows in SCHEDULES.items()}


def test_stored_rows_really_are_on_different_bases(by_schedule: dict[str, pl.DataFrame]) -> None:
    # The premise: the same session is stored with different Close and Adj Close depending on the download.
    day = D(2023, 6, 1)  # before the split and three dividends
    once, nightly = (by_schedule[name].filter(pl.col("date") == day).row(0, named=True)
                     for name in ("one download", "nightly"))
    assert once["close"] == pytest.approx(nightly["close"] / 2 * 3)  # later split 2:1 and reverse 1:3
    assert once["adj_close"] < once["close"] and nightly["adj_close"] == nightly["close"]


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_dividends_give_the_same_total_return_whatever_the_download_dates(by_schedule: dict[str, pl.DataFrame],
                                                                           name: str) -> None:
    rows = by_schedule[name]
    assert rows.height == len(DAYS) and rows["date"].to_list() == DAYS
    truth = LISTING.true_total_returns()
    got = dict(rows.select("date", "total_return_1d").iter_rows())
    assert got[DAYS[0]] is None
    errors = [abs(got[day] - truth[day]) for day in DAYS[1:]]
    assert max(errors) < 1e-12
    reference = by_schedule["one download"]["total_return_1d"]
    assert (rows["total_return_1d"] - reference).abs().max() < 1e-12
    assert rows["total_return_method"].to_list() == [None] + ["dividends"] * (len(DAYS) - 1)
    assert not rows["is_total_return_estimated"].any()
    # The ex-dates: the split day's return is about the market move, not -50% or +200%.
    split_day = dict(rows.select("date", "total_return_1d").iter_rows())[D(2023, 8, 14)]
    assert abs(split_day) < 0.05


def test_without_dividends_the_adj_close_path_then_estimates_at_download_boundaries() -> None:
    windows = _chunks(60, 5)
    rows = _returns(_download(windows, with_dividends=False))
    boundaries = {start for start, _, _ in windows[1:]}
    estimated = set(rows.filter(pl.col("is_total_return_estimated"))["date"])
    assert estimated == boundaries
    methods = dict(rows.select("date", "total_return_method").iter_rows())
    assert methods[DAYS[0]] is None
    assert {methods[d] for d in DAYS[1:] if d not in boundaries} == {"adj_close"}
    assert {methods[d] for d in boundaries} == {"close_only"}
    # Within a download the Adj Close ratio is Yahoo's dividend convention: exact on days without a
    # dividend, within r * D / P of the true return on an ex-date.
    truth = LISTING.true_total_returns()
    got = dict(rows.select("date", "total_return_1d").iter_rows())
    for day in DAYS[1:]:
        if day in boundaries:
            continue
        tolerance = 1e-12 if day not in LISTING.dividends else 2e-4
        assert abs(got[day] - truth[day]) < tolerance, day


def test_close_only_still_undoes_a_split_between_downloads() -> None:
    # Rows without dividends or adj_close, on either side of the 2:1 split and downloaded on either side:
    # the price return is right (no -50%), and flagged as estimated.
    rows = _download([(D(2023, 8, 10), D(2023, 8, 12), D(2023, 8, 11)),
                      (D(2023, 8, 14), D(2023, 8, 15), D(2023, 8, 14))])
    rows = rows.with_columns(dividend=None, adj_close=None)
    out = _returns(rows).filter(pl.col("date") == D(2023, 8, 14)).row(0, named=True)
    closes = LISTING.closes
    assert out["total_return_method"] == "close_only" and out["is_total_return_estimated"]
    assert out["total_return_1d"] == pytest.approx(2.0 * closes[D(2023, 8, 14)] / closes[D(2023, 8, 11)] - 1,
                                                   abs=1e-12)


def test_a_window_needs_the_split_history_to_stay_on_one_basis() -> None:
    # A window of 2023 rows fetched on two days around the 2024-03-04 reverse split: the split's own row is
    # outside the window, so it is passed separately.
    full = _download(SCHEDULES["chunks of 20"])
    mixed = pl.concat([_download([(D(2023, 5, 1), D(2023, 5, 13), D(2024, 3, 1))]),
                       _download([(D(2023, 5, 15), D(2023, 5, 27), D(2024, 3, 8))])])
    expected = _returns(full).filter(pl.col("date").is_between(D(2023, 5, 2), D(2023, 5, 26)))
    windowed = daily_total_returns(mixed.lazy(), splits=split_events(full.lazy())).collect()
    assert (windowed.filter(pl.col("date") >= D(2023, 5, 2))["total_return_1d"]
            - expected["total_return_1d"]).abs().max() < 1e-12
    # Without the history the basis of 2023-05-15 is wrong by the reverse split's factor 3.
    blind = daily_total_returns(mixed.lazy()).collect().filter(pl.col("date") == D(2023, 5, 15))
    right = expected.filter(pl.col("date") == D(2023, 5, 15))["total_return_1d"].item()
    assert blind["total_return_1d"].item() == pytest.approx((1 + right) * 3 - 1, rel=1e-9)


def test_missing_values_and_several_tickers() -> None:
    frame = pl.DataFrame({
        "date": [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5), D(2024, 1, 2), D(2024, 1, 3)],
        "ticker": ["A", "A", "A", "A", "B", "B"],
        "close": [10.0, None, 11.0, 12.0, 50.0, 49.0],
        "adj_close": [9.0, None, 9.9, 10.8, None, None],
        "dividend": [0.0, 0.0, None, 0.5, None, None],
        "split_ratio": [1.0, 1.0, None, 1.0, None, None],
        "fetched_on": [D(2024, 1, 8)] * 4 + [None, None],
    }, schema_overrides={"dividend": pl.Float64, "split_ratio": pl.Float64})
    out = daily_total_returns(frame.lazy()).collect()
    assert out.columns[:7] == ["date", "ticker", "close", "adj_close", "dividend", "split_ratio", "fetched_on"]
    assert out.select("ticker", "total_return_1d", "total_return_method", "is_total_return_estimated").rows() == [
        ("A", None, None, False),  # first row
        ("A", None, None, False),  # close missing
        ("A", None, None, False),  # previous close missing
        ("A", (12.0 + 0.5) / 11.0 - 1, "dividends", False),
        ("B", None, None, False),
        ("B", 49.0 / 50.0 - 1, "close_only", True),  # nothing but closes: estimated
    ]


def test_synthetic_dividends_and_a_planted_split(universe: Universe) -> None:
    xlk = universe.sectors[0]
    window = (D(2019, 3, 1), D(2019, 7, 1))
    plain = SyntheticSource(universe, seed=42).fetch_prices([xlk], *window)
    split = SyntheticSource(universe, seed=42, splits={"XLK": [(D(2019, 5, 1), 4.0)]}).fetch_prices([xlk], *window)
    plain_returns, split_returns = _returns(plain), _returns(split)
    # The split changes nothing about what an investor earned, except that the June dividend is rounded to
    # 1/10000 of a dollar per new share (4 of them per old share): a difference below 4 * 0.00005 / close.
    difference = (split_returns["total_return_1d"] - plain_returns["total_return_1d"]).abs()
    june = split_returns["date"] == D(2019, 6, 24)
    assert difference.filter(~june).max() < 1e-12
    assert 0 < difference.filter(june).item() < 4 * 0.00005 / split["close"].min()
    # Total return = price return + the dividend on ex-dates (2019-03-18, 2019-06-24).
    closes = dict(plain.select("date", "close").iter_rows())
    got = dict(plain_returns.select("date", "total_return_1d").iter_rows())
    dividend = dict(plain.select("date", "dividend").iter_rows())
    assert dividend[D(2019, 3, 18)] > 0 and dividend[D(2019, 6, 24)] > 0
    for day, before in ((D(2019, 3, 18), D(2019, 3, 15)), (D(2019, 6, 24), D(2019, 6, 21))):
        assert got[day] == pytest.approx((closes[day] + dividend[day]) / closes[before] - 1, abs=1e-15)
    assert set(plain_returns["total_return_method"].drop_nulls()) == {"dividends"}


# --- real data ---------------------------------------------------------------------------------------------------

def test_real_spy_total_return(realdata_dir: Path, universe: Universe) -> None:
    rows = CsvDirectorySource(realdata_dir).fetch_prices([universe.benchmark], D(1993, 1, 1), D(2020, 1, 1))
    # The file has no dividend column: the Adj Close path, exact (one file, one download basis).
    out = _returns(rows)
    assert out["total_return_method"].drop_nulls().unique().to_list() == ["adj_close"]
    assert not out["is_total_return_estimated"].any()
    adj = out["adj_close"]
    assert (out["total_return_1d"] - (adj / adj.shift(1) - 1)).drop_nulls().abs().max() == 0.0

    # Dividends implied by Yahoo's own adjustment (adj/close falls by 1 - D / previous close on an ex-date):
    # the dividends path reproduces the Adj Close path's 27-year growth.
    ratio = pl.col("adj_close") / pl.col("close")
    implied = out.with_columns(
        dividend=(pl.col("close").shift(1) * (1 - ratio.shift(1) / ratio)).round(4))
    implied = implied.with_columns(dividend=pl.when(pl.col("dividend") > 0.01).then(pl.col("dividend"))
                                   .otherwise(0.0), split_ratio=pl.lit(1.0))
    paid = implied.filter(pl.col("dividend") > 0)
    # Quarterly from 1993-03-19, plus 2004-11-15 (passing on Microsoft's special dividend): 27 * 4 + 1.
    assert paid.height == 109 and paid["date"][0] == D(1993, 3, 19)
    assert paid.filter(pl.col("date").dt.year() == 2004)["date"].to_list() == [
        D(2004, 3, 19), D(2004, 6, 18), D(2004, 9, 17), D(2004, 11, 15), D(2004, 12, 17)]
    assert paid.filter(pl.col("date") == D(2019, 12, 20))["dividend"].item() == 1.5702  # SPY paid $1.570
    from_dividends = _returns(implied.select("date", "ticker", "close", "adj_close", "dividend", "split_ratio",
                                             "fetched_on"))
    assert from_dividends["total_return_method"].drop_nulls().unique().to_list() == ["dividends"]
    growth_dividends = (1 + from_dividends["total_return_1d"].drop_nulls()).product()
    growth_adj = adj[-1] / adj[0]
    assert growth_adj == pytest.approx(293.3816 / 24.1133)  # x12.17 from 1993-01-29 to 2019-12-31
    # Measured: 1.3e-4 apart after 27 years (the two ex-date conventions differ by r * D / P, at most 2.3e-4
    # on one day: 2008-09-19, +4% with a $0.69 dividend).
    assert abs(growth_dividends / growth_adj - 1) < 3e-4
    day_by_day = (from_dividends["total_return_1d"] - out["total_return_1d"]).drop_nulls().abs()
    assert day_by_day.max() < 2.5e-4
