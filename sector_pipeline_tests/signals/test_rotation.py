"""Relative rotation: the RS-Ratio / RS-Momentum approximation checked against a plain pandas implementation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from sector_pipeline.signals.config import RotationConfig
from sector_pipeline.signals.rotation import (
    ROTATION_COLUMNS,
    relative_rotation,
    rotation_heading_deg,
    rotation_lookback_sessions,
    rotation_quadrant,
)
from sector_pipeline.sources.csv_source import CsvDirectorySource
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import Universe

SMALL = RotationConfig(daily_window=10, weekly_window=6)
VALUE_COLUMNS = ("rs_ratio", "rs_momentum", "rrg_speed", "heading_deg")


# --- the reference: the formulas written out in pandas, one series at a time ---------------------------------

def pandas_rotation(rs: pd.Series, n: int) -> pd.DataFrame:
    """rs indexed by date -> rs_ratio, rs_momentum, rrg_speed, heading_deg (pandas rolling std is ddof 1)."""
    ratio = 100 + (rs - rs.rolling(n, min_periods=n).mean()) / rs.rolling(n, min_periods=n).std()
    roc = 100 * (ratio / ratio.shift(1) - 1)
    momentum = 100 + (roc - roc.rolling(n, min_periods=n).mean()) / roc.rolling(n, min_periods=n).std()
    d_ratio, d_momentum = ratio.diff(), momentum.diff()
    return pd.DataFrame({
        "rs_ratio": ratio,
        "rs_momentum": momentum,
        "rrg_speed": np.hypot(d_ratio, d_momentum),
        "heading_deg": np.degrees(np.arctan2(d_momentum, d_ratio)) % 360,
    })


def pandas_weekly(rs: pd.Series) -> pd.Series:
    """The last observation of each ISO week, keeping its date."""
    iso = rs.index.isocalendar()
    return rs.groupby([iso["year"].to_numpy(), iso["week"].to_numpy()]).tail(1)


def pandas_reference(prices: pl.DataFrame, ticker: str, benchmark: str, n: int, frequency: str) -> pd.DataFrame:
    wide = prices.to_pandas().pivot(index="date", columns="ticker", values="total_return_price")
    wide.index = pd.DatetimeIndex(wide.index)
    rs = (100 * wide[ticker] / wide[benchmark]).dropna()
    if frequency == "weekly":
        rs = pandas_weekly(rs)
    return pandas_rotation(rs, n)


def assert_matches_reference(out: pl.DataFrame, prices: pl.DataFrame, ticker: str, benchmark: str, n: int,
                             frequency: str, since: dt.date | None = None) -> int:
    """Same dates, same nulls and values to 1e-9 relative; returns the number of compared non-null rows."""
    expected = pandas_reference(prices, ticker, benchmark, n, frequency)
    got = out.filter(pl.col("ticker") == ticker, pl.col("frequency") == frequency)
    if since is not None:
        expected = expected[expected.index >= pd.Timestamp(since)]
        got = got.filter(pl.col("date") >= since)
    assert got["date"].to_list() == [d.date() for d in expected.index]
    for column in VALUE_COLUMNS:
        actual = got[column].to_numpy().astype(float)
        wanted = expected[column].to_numpy()
        assert np.array_equal(np.isnan(actual), np.isnan(wanted)), column
        np.testing.assert_allclose(actual, wanted, rtol=1e-9, atol=0, equal_nan=True, err_msg=column)
    return int(np.isfinite(got["rs_momentum"].to_numpy().astype(float)).sum())


def as_dates(index: pd.DatetimeIndex) -> pl.Series:
    return pl.Series("date", [stamp.date() for stamp in index], dtype=pl.Date)


# --- data ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hand_built() -> pl.DataFrame:
    """~2 years of weekdays minus some holidays (Fridays among them); two sectors rotating around a benchmark.

    AAA's relative strength follows a 60-session cycle, BBB starts 30 sessions late and follows a 90-session
    cycle against a random-walk benchmark, so every quadrant is visited.
    """
    days = pd.bdate_range("2020-01-01", "2021-12-31")
    holidays = pd.to_datetime(["2020-04-10", "2020-07-03", "2020-11-26", "2020-12-25", "2021-04-02",
                               "2021-05-31", "2021-07-05", "2021-12-24"])
    days = as_dates(days[~days.isin(holidays)])
    t = np.arange(len(days))
    rng = np.random.default_rng(11)
    benchmark = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(len(t))))
    aaa = benchmark * (1 + 0.08 * np.sin(2 * np.pi * t / 60)) * np.exp(np.cumsum(0.002 * rng.standard_normal(len(t))))
    bbb = benchmark * (1 + 0.05 * np.cos(2 * np.pi * t / 90)) * np.exp(np.cumsum(0.003 * rng.standard_normal(len(t))))
    frames = [
        pl.DataFrame({"date": days, "ticker": "BENCH", "total_return_price": benchmark}),
        pl.DataFrame({"date": days, "ticker": "AAA", "total_return_price": aaa}),
        pl.DataFrame({"date": days[30:], "ticker": "BBB", "total_return_price": bbb[30:]}),
    ]
    return pl.concat(frames).sort("date", "ticker")


@pytest.fixture(scope="module")
def synthetic_prices(universe: Universe) -> pl.DataFrame:
    raw = SyntheticSource(universe, seed=5).fetch_prices(universe.instruments, dt.date(2010, 1, 1), dt.date(2016, 1, 1))
    return raw.select("date", "ticker", total_return_price="adj_close")


@pytest.fixture(scope="module")
def synthetic_rotation(synthetic_prices: pl.DataFrame, universe: Universe) -> pl.DataFrame:
    return relative_rotation(synthetic_prices.lazy(), benchmark=universe.benchmark.ticker).collect()


# --- formulas ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frequency", ["daily", "weekly"])
@pytest.mark.parametrize("ticker", ["AAA", "BBB"])
def test_values_match_the_pandas_formulas(hand_built: pl.DataFrame, ticker: str, frequency: str) -> None:
    out = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    n = SMALL.daily_window if frequency == "daily" else SMALL.weekly_window
    compared = assert_matches_reference(out, hand_built, ticker, "BENCH", n, frequency)
    assert compared > (60 if frequency == "weekly" else 400)


def test_output_shape_order_and_benchmark_exclusion(hand_built: pl.DataFrame) -> None:
    out = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    assert out.columns == list(ROTATION_COLUMNS)
    assert set(out["ticker"]) == {"AAA", "BBB"}
    assert out.equals(out.sort("frequency", "date", "ticker"))
    sessions = hand_built.filter(pl.col("ticker") == "AAA").height
    weeks = hand_built.select(pl.col("date").dt.truncate("1w").n_unique()).item()
    counts = dict(out.group_by("frequency", "ticker").len().select(
        pl.concat_str("frequency", "ticker", separator="/"), "len").iter_rows())
    assert counts["daily/AAA"] == sessions and counts["daily/BBB"] == sessions - 30
    assert counts["weekly/AAA"] == weeks


def test_warm_up_needs_n_ratios_then_n_momentum_observations(hand_built: pl.DataFrame) -> None:
    out = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    for frequency, n in (("daily", SMALL.daily_window), ("weekly", SMALL.weekly_window)):
        for ticker in ("AAA", "BBB"):
            rows = out.filter(pl.col("frequency") == frequency, pl.col("ticker") == ticker)
            # ratio from the n-th observation; the first roc one later; momentum after n roc values
            assert rows["rs_ratio"].is_null().arg_true().to_list() == list(range(n - 1))
            assert rows["rs_momentum"].is_null().arg_true().to_list() == list(range(2 * n - 1))
            assert rows["is_warming_up"].arg_true().to_list() == list(range(2 * n - 1))
            assert rows["quadrant"].is_null().to_list() == rows["is_warming_up"].to_list()
            # the first complete point has nowhere to come from
            assert rows["rrg_speed"].is_null().arg_true().to_list() == list(range(2 * n))


def test_a_flat_relative_strength_has_no_ratio_rather_than_infinities() -> None:
    days = as_dates(pd.bdate_range("2021-01-04", periods=40))
    prices = pl.concat([
        pl.DataFrame({"date": days, "ticker": "BENCH", "total_return_price": np.linspace(100, 140, 40)}),
        pl.DataFrame({"date": days, "ticker": "TWIN", "total_return_price": np.linspace(50, 70, 40)}),
    ])
    out = relative_rotation(prices.lazy(), benchmark="BENCH", config=SMALL).collect()
    assert out["rs_ratio"].null_count() == out.height
    assert out["is_warming_up"].all()


def test_quadrants_of_constructed_points() -> None:
    points = pl.DataFrame({
        "rs_ratio":    [101.0, 101.0, 99.0, 99.0, 100.0, 100.0, 99.999, None, 101.0],
        "rs_momentum": [101.0, 99.0, 99.0, 101.0, 100.0, 99.999, 100.0, 101.0, None],
    })
    quadrants = points.select(rotation_quadrant(pl.col("rs_ratio"), pl.col("rs_momentum")))
    assert quadrants.to_series().to_list() == [
        "leading", "weakening", "lagging", "improving", "leading", "weakening", "improving", None, None]


def test_heading_of_pure_compass_moves() -> None:
    moves = pl.DataFrame({
        "d_ratio":    [1.0, 0.0, -2.0, 0.0, 1.0, -1.0, 1.0, 0.0, -1.0, 1.0],
        "d_momentum": [0.0, 3.0, 0.0, -0.5, 1.0, 1.0, -1.0, 0.0, -0.0, -1e-300],
    })
    heading = moves.select(rotation_heading_deg(pl.col("d_ratio"), pl.col("d_momentum"))).to_series().to_list()
    # east, north, west, south, the four diagonals' NE/NW/SE, no move, west with a negative zero, ~east
    assert heading[:7] == pytest.approx([0.0, 90.0, 180.0, 270.0, 45.0, 135.0, 315.0], abs=1e-12)
    assert heading[7] is None
    assert heading[8] == pytest.approx(180.0)
    assert 0.0 <= heading[9] < 360.0


def test_rrg_speed_and_heading_follow_the_path(hand_built: pl.DataFrame) -> None:
    out = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    rows = out.filter(pl.col("frequency") == "daily", pl.col("ticker") == "AAA", ~pl.col("is_warming_up"))
    d_ratio = np.diff(rows["rs_ratio"].to_numpy())
    d_momentum = np.diff(rows["rs_momentum"].to_numpy())
    np.testing.assert_allclose(rows["rrg_speed"].to_numpy()[1:], np.sqrt(d_ratio**2 + d_momentum**2), rtol=1e-12)
    radians = np.radians(rows["heading_deg"].to_numpy()[1:])
    np.testing.assert_allclose(np.cos(radians) * rows["rrg_speed"].to_numpy()[1:], d_ratio, atol=1e-9)
    np.testing.assert_allclose(np.sin(radians) * rows["rrg_speed"].to_numpy()[1:], d_momentum, atol=1e-9)
    heading = rows["heading_deg"].drop_nulls()
    assert heading.min() >= 0.0 and heading.max() < 360.0


# --- past data only --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cut", [dt.date(2021, 3, 17), dt.date(2021, 4, 1), dt.date(2021, 9, 3)])
def test_rows_do_not_depend_on_later_data(hand_built: pl.DataFrame, cut: dt.date) -> None:
    full = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    short = relative_rotation(hand_built.filter(pl.col("date") <= cut).lazy(), benchmark="BENCH",
                              config=SMALL).collect()
    week_start = cut - dt.timedelta(days=cut.weekday())

    def daily(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("frequency") == "daily", pl.col("date") <= cut)

    def weekly(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("frequency") == "weekly", pl.col("date") < week_start)

    assert daily(short).equals(daily(full))
    assert weekly(short).equals(weekly(full))
    assert daily(short).height > 0 and weekly(short).filter(~pl.col("is_warming_up")).height > 0
    # The week in progress has a provisional row at the cut, computed with the cut's close.
    provisional = short.filter(pl.col("frequency") == "weekly", pl.col("date") >= week_start)
    assert provisional["date"].unique().to_list() == [cut]
    last_session = hand_built.filter(pl.col("date") >= week_start, pl.col("date") < week_start + dt.timedelta(7))
    final = full.filter(pl.col("frequency") == "weekly", pl.col("date") >= week_start,
                        pl.col("date") < week_start + dt.timedelta(days=7))
    assert final["date"].unique().to_list() == [last_session["date"].max()]


def test_a_provisional_weekly_row_is_the_final_one_once_the_week_is_complete(hand_built: pl.DataFrame) -> None:
    # 2021-04-01 is a Thursday before a holiday Friday: the cut completes its week.
    cut = dt.date(2021, 4, 1)
    full = relative_rotation(hand_built.lazy(), benchmark="BENCH", config=SMALL).collect()
    short = relative_rotation(hand_built.filter(pl.col("date") <= cut).lazy(), benchmark="BENCH",
                              config=SMALL).collect()
    row = pl.col("frequency") == "weekly", pl.col("date") == cut
    assert short.filter(*row).height == 2
    assert short.filter(*row).equals(full.filter(*row))


# --- synthetic market ------------------------------------------------------------------------------------------

def test_weekly_rows_fall_on_the_last_session_of_each_week(synthetic_rotation: pl.DataFrame,
                                                          synthetic_prices: pl.DataFrame) -> None:
    last_sessions = (synthetic_prices.filter(pl.col("ticker") == "SPY")
                     .group_by(pl.col("date").dt.truncate("1w")).agg(pl.col("date").max().alias("last"))
                     ["last"].sort())
    weekly = synthetic_rotation.filter(pl.col("frequency") == "weekly", pl.col("ticker") == "XLK")
    assert weekly["date"].to_list() == last_sessions.to_list()
    dates = set(weekly["date"])
    # Holiday Fridays: Good Friday 2010, Independence Day observed 2015, Christmas 2015 -> the Thursday.
    for thursday in (dt.date(2010, 4, 1), dt.date(2015, 7, 2), dt.date(2015, 12, 24)):
        assert thursday in dates and thursday + dt.timedelta(days=1) not in dates
    assert {d.weekday() for d in dates} == {3, 4}
    # Every sector's weekly rows are the same weeks (XLRE only from its inception).
    per_ticker = synthetic_rotation.filter(pl.col("frequency") == "weekly", pl.col("ticker") != "XLRE")
    assert per_ticker.group_by("ticker").agg(pl.col("date").n_unique())["date"].unique().to_list() == [len(dates)]


def test_every_sector_visits_all_four_quadrants(synthetic_rotation: pl.DataFrame, universe: Universe) -> None:
    full_history = [s.ticker for s in universe.sectors if s.inception < dt.date(2010, 1, 1)]
    assert len(full_history) == 9
    for frequency in ("daily", "weekly"):
        visited = (synthetic_rotation.filter(pl.col("frequency") == frequency, ~pl.col("is_warming_up"))
                   .group_by("ticker").agg(pl.col("quadrant").unique()))
        quadrants = {ticker: set(q) for ticker, q in visited.iter_rows()}
        for ticker in full_history:
            assert quadrants[ticker] == {"leading", "weakening", "lagging", "improving"}, (frequency, ticker)
    # XLRE (from 2015-10-08) has fewer than 2 * 63 sessions and 2 * 14 weeks in the sample: warming up only.
    assert synthetic_rotation.filter(pl.col("ticker") == "XLRE")["is_warming_up"].all()


def test_synthetic_values_match_the_pandas_formulas(synthetic_rotation: pl.DataFrame,
                                                    synthetic_prices: pl.DataFrame) -> None:
    config = RotationConfig()
    for ticker in ("XLE", "XLU"):
        assert_matches_reference(synthetic_rotation, synthetic_prices, ticker, "SPY", config.daily_window, "daily")
        assert_matches_reference(synthetic_rotation, synthetic_prices, ticker, "SPY", config.weekly_window, "weekly")


# --- real data -------------------------------------------------------------------------------------------------

def test_real_xlk_matches_the_pandas_formulas_in_2019(realdata_dir: Path, universe: Universe) -> None:
    wanted = [i for i in universe.instruments if i.ticker in ("SPY", "XLK")]
    raw = CsvDirectorySource(realdata_dir).fetch_prices(wanted, dt.date(2018, 1, 1), dt.date(2020, 1, 1))
    prices = raw.select("date", "ticker", total_return_price="adj_close")
    out = relative_rotation(prices.lazy(), benchmark="SPY").collect()
    config = RotationConfig()
    compared = assert_matches_reference(out, prices, "XLK", "SPY", config.daily_window, "daily",
                                        since=dt.date(2019, 1, 1))
    assert compared == 252  # every 2019 session, past the warm-up
    assert_matches_reference(out, prices, "XLK", "SPY", config.weekly_window, "weekly")
    in_2019 = out.filter(pl.col("frequency") == "daily", pl.col("date") >= dt.date(2019, 1, 1))
    assert in_2019["quadrant"].n_unique() == 4


@pytest.mark.parametrize("start", [dt.date(2011, 3, 1), dt.date(2013, 7, 10), dt.date(2015, 12, 31)])
def test_rotation_over_a_bounded_lookback_equals_the_full_history(synthetic_prices, synthetic_rotation, universe,
                                                                   start) -> None:
    rows = rotation_lookback_sessions()
    before = synthetic_prices.filter(pl.col("date") < start).sort("ticker", "date").group_by(
        "ticker", maintain_order=True).tail(rows)
    bounded = pl.concat([before, synthetic_prices.filter(pl.col("date") >= start)], how="diagonal")
    out = relative_rotation(bounded.lazy(), benchmark=universe.benchmark.ticker).collect()
    expected = synthetic_rotation.filter(pl.col("date") >= start)
    assert expected.height > 0
    assert out.filter(pl.col("date") >= start).equals(expected)
