"""compute_features against independent pandas / `ta` oracles on real and synthetic prices, and hand-computed frames."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from ta.momentum import RSIIndicator

from sector_pipeline.signals.config import FEATURE_COLUMNS, FeatureConfig
from sector_pipeline.signals.features import compute_features, feature_columns
from sector_pipeline.sources.synthetic import SyntheticSource

BENCHMARK = "SPY"
RTOL = 1e-9


def as_staging(raw: pl.DataFrame) -> pl.DataFrame:
    """Raw PRICE_SCHEMA-shaped rows renamed and cast like staging.stg_prices."""
    return raw.select(
        pl.col("date").cast(pl.Date),
        "ticker",
        pl.col("open").cast(pl.Float64).alias("open_price"),
        pl.col("high").cast(pl.Float64).alias("high_price"),
        pl.col("low").cast(pl.Float64).alias("low_price"),
        pl.col("close").cast(pl.Float64).alias("close_price"),
        pl.coalesce("adj_close", "close").cast(pl.Float64).alias("total_return_price"),
        pl.col("adj_close").is_null().alias("is_total_return_estimated"),
        pl.col("volume").cast(pl.Float64).alias("volume_shares"),
        pl.col("source").cast(pl.String),
    )


def features_of(staging: pl.DataFrame, **kwargs) -> pl.DataFrame:
    return compute_features(staging.lazy(), benchmark=BENCHMARK, **kwargs).collect()


@pytest.fixture(scope="module")
def real_staging(realdata_dir) -> pl.DataFrame:
    raw = pl.read_csv(realdata_dir / "prices.csv", try_parse_dates=True).with_columns(source=pl.lit("csv"))
    return as_staging(raw.filter(pl.col("date") < dt.date(2020, 1, 1)))


@pytest.fixture(scope="module")
def real_features(real_staging) -> pl.DataFrame:
    return features_of(real_staging)


@pytest.fixture(scope="module")
def synthetic_staging(universe) -> pl.DataFrame:
    raw = SyntheticSource(universe, seed=3).fetch_prices(universe.instruments, dt.date(2014, 1, 2),
                                                         dt.date(2019, 12, 31))
    return as_staging(raw)


@pytest.fixture(scope="module")
def synthetic_features(synthetic_staging) -> pl.DataFrame:
    return features_of(synthetic_staging)


def pandas_oracle(staging: pl.DataFrame, ticker: str) -> tuple[pd.DataFrame, pd.Series]:
    """Expected features of one ticker, computed with pandas and `ta` on its own rows; and its ta RSI."""
    rows = staging.filter(pl.col("ticker") == ticker).sort("date")
    bench = staging.filter(pl.col("ticker") == BENCHMARK).select("date", pl.col("total_return_price").alias("bench"))
    rows = rows.join(bench, on="date", how="left").sort("date")
    close = pd.Series(rows["close_price"].to_numpy())
    adj = pd.Series(rows["total_return_price"].to_numpy())
    rs = adj / pd.Series(rows["bench"].to_numpy())
    expected = {f"return_{n}d": adj / adj.shift(n) - 1 for n in (1, 5, 20, 60, 126, 252)}
    expected |= {f"relative_strength_change_{n}d": rs / rs.shift(n) - 1 for n in (5, 20, 60)}
    expected["relative_strength"] = rs
    expected["relative_strength_trend"] = rs / rs.rolling(50).mean() - 1
    for n in (50, 200):
        expected[f"sma_{n}"] = close.rolling(n).mean()
        expected[f"distance_from_sma_{n}"] = close / close.rolling(n).mean() - 1
    expected["realized_vol_20d"] = np.log(adj).diff().rolling(20).std() * math.sqrt(252)
    year = pd.Series(rows["date"].dt.year().to_numpy())
    year_end = adj.groupby(year).last()
    expected["return_ytd"] = adj / (year - 1).map(year_end) - 1
    volume = pd.Series(rows["volume_shares"].to_numpy())
    previous_mean = volume.shift(1).rolling(20).mean()
    expected["relative_volume_20d"] = (volume / previous_mean).where(previous_mean != 0)
    daily = expected["return_1d"]
    total = volume.where(daily.notna()).rolling(20).sum()
    up = volume.where(daily > 0, 0.0).where(daily.notna()).rolling(20).sum()
    expected["up_volume_ratio_20d"] = (up / total).where(total != 0)
    return pd.DataFrame(expected), RSIIndicator(close, window=14).rsi()


def assert_matches(actual: pl.Series, expected: pd.Series | np.ndarray, label: str) -> None:
    """Same NULL positions (pandas NaN), and values equal to RTOL relative."""
    assert actual.dtype == pl.Float64 and not actual.is_nan().any(), f"{label}: NaN in output"
    got = actual.to_numpy()  # NULL -> NaN
    want = np.asarray(expected, dtype=float)
    assert len(got) == len(want), label
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{label}: NULL positions")
    # a ratio - 1 near 0 differs in the last bit
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=RTOL, atol=1e-12, err_msg=label)


def check_against_pandas(staging: pl.DataFrame, features: pl.DataFrame, ticker: str) -> None:
    mine = features.filter(pl.col("ticker") == ticker)
    expected, ta_rsi = pandas_oracle(staging, ticker)
    assert mine["sessions_of_history"].to_list() == list(range(1, mine.height + 1))
    for column in expected.columns:
        assert_matches(mine[column], expected[column], f"{ticker} {column}")
    # ta reports RSI from the 14th session (13 changes plus the zero seed); ours starts at the 15th.
    assert ta_rsi.iloc[:13].isna().all() and ta_rsi.iloc[13:].notna().all()
    assert mine["rsi_14"].head(14).null_count() == 14
    assert_matches(mine["rsi_14"].slice(14), ta_rsi.iloc[14:], f"{ticker} rsi_14")


@pytest.mark.parametrize("ticker", ["XLK", "XLE", "XLRE", "XLI", "SPY"])
def test_real_features_match_pandas_and_ta(real_staging, real_features, ticker):
    check_against_pandas(real_staging, real_features, ticker)


def test_real_history_spot_values(real_features):
    xlre = real_features.filter(pl.col("ticker") == "XLRE")
    assert xlre["date"][0] == dt.date(2015, 10, 8)
    assert xlre.filter(pl.col("sessions_of_history") == 15)["rsi_14"].is_not_null().all()
    # Benchmark rows: relative strength 1 and no relative-strength change.
    spy = real_features.filter(pl.col("ticker") == BENCHMARK)
    assert (spy["relative_strength"] == 1.0).all()
    assert (spy["relative_strength_change_20d"].drop_nulls() == 0.0).all()
    # Zero-volume days (README): relative volume 0 once 20 previous sessions exist, NULL before.
    zero_volume = real_features.filter(pl.col("volume_shares") == 0).sort("ticker", "date")
    assert zero_volume.select("ticker", "sessions_of_history", "relative_volume_20d").rows() == [
        ("XLI", 23, 0.0), ("XLRE", 5, None), ("XLRE", 35, 0.0), ("XLRE", 36, 0.0), ("XLRE", 42, 0.0),
        ("XLRE", 74, 0.0)]
    assert not real_features.select(pl.selectors.float().is_nan().any()).row(0).count(True)


@pytest.mark.parametrize("ticker", ["XLK", "XLE", "XLRE", "XLC", "SPY"])
def test_synthetic_features_match_pandas_and_ta(synthetic_staging, synthetic_features, ticker):
    check_against_pandas(synthetic_staging, synthetic_features, ticker)


def test_output_contract(synthetic_staging, synthetic_features):
    assert tuple(synthetic_features.columns) == (*FEATURE_COLUMNS, "source")
    assert feature_columns() == FEATURE_COLUMNS
    assert synthetic_features.height == synthetic_staging.height
    assert synthetic_features.equals(synthetic_features.sort("date", "ticker"))
    # Input order does not matter.
    shuffled = synthetic_staging.sample(fraction=1.0, shuffle=True, seed=11)
    assert features_of(shuffled).equals(synthetic_features)


def test_return_ytd_and_relative_strength_on_a_hand_computed_frame():
    d = dt.date
    rows = [  # (date, ticker, total_return_price)
        (d(2019, 12, 30), "SPY", 50.0), (d(2019, 12, 31), "SPY", 40.0), (d(2020, 1, 2), "SPY", 44.0),
        (d(2020, 6, 1), "SPY", 50.0), (d(2020, 12, 31), "SPY", 60.0), (d(2021, 1, 4), "SPY", 66.0),
        (d(2020, 6, 1), "XLB", 10.0), (d(2020, 12, 31), "XLB", 12.0), (d(2021, 1, 4), "XLB", 15.0),
        # a ticker with a gap year: a 2018 price says nothing about 2020's start; no SPY row on 2018-12-31
        (d(2018, 12, 31), "XLC", 1.0), (d(2020, 1, 2), "XLC", 2.0),
    ]
    frame = pl.DataFrame(rows, schema={"date": pl.Date, "ticker": pl.String, "total_return_price": pl.Float64},
                         orient="row")
    staging = frame.with_columns(close_price=pl.col("total_return_price"), volume_shares=pl.lit(1.0),
                                 source=pl.lit("test"))
    out = features_of(staging)
    got = {(r["ticker"], r["date"]): r for r in out.iter_rows(named=True)}

    ytd = {key: row["return_ytd"] for key, row in got.items()}
    assert ytd == {
        ("SPY", d(2019, 12, 30)): None, ("SPY", d(2019, 12, 31)): None,
        ("SPY", d(2020, 1, 2)): 44.0 / 40.0 - 1, ("SPY", d(2020, 6, 1)): 50.0 / 40.0 - 1,
        ("SPY", d(2020, 12, 31)): 60.0 / 40.0 - 1, ("SPY", d(2021, 1, 4)): 66.0 / 60.0 - 1,
        ("XLB", d(2020, 6, 1)): None, ("XLB", d(2020, 12, 31)): None, ("XLB", d(2021, 1, 4)): 15.0 / 12.0 - 1,
        ("XLC", d(2018, 12, 31)): None, ("XLC", d(2020, 1, 2)): None,
    }
    assert got["XLB", d(2021, 1, 4)]["relative_strength"] == 15.0 / 66.0
    assert got["XLB", d(2021, 1, 4)]["relative_strength_change_5d"] is None
    assert got["SPY", d(2020, 1, 2)]["relative_strength"] == 1.0
    assert got["XLC", d(2018, 12, 31)]["relative_strength"] is None  # benchmark missing on that date
    assert got["XLC", d(2020, 1, 2)]["relative_strength"] == 2.0 / 44.0
    assert got["XLC", d(2020, 1, 2)]["return_1d"] == 1.0  # windows count sessions, not calendar days


def test_relative_volume_and_up_volume_ratio_on_a_hand_computed_frame():
    config = dataclasses.replace(FeatureConfig(), volume_window=3)
    dates = [dt.date(2021, 3, day) for day in (1, 2, 3, 4, 5, 8)]
    spy_price = [10.0, 11.0, 10.5, 10.5, 12.0, 13.0]  # returns: -, up, down, flat, up, up
    spy_volume = [100.0, 200.0, 300.0, 400.0, 0.0, 600.0]
    staging = pl.DataFrame({
        "date": dates * 2,
        "ticker": ["SPY"] * 6 + ["XLU"] * 6,
        "total_return_price": spy_price + [5.0, 5.5, 6.0, 6.5, 7.0, 7.5],
        "volume_shares": spy_volume + [0.0, 0.0, 0.0, 0.0, 10.0, 0.0],
    }).with_columns(close_price=pl.col("total_return_price"), source=pl.lit("test"))
    out = features_of(staging, config=config)
    assert "relative_volume_3d" in out.columns and "relative_volume_20d" not in out.columns
    spy = out.filter(pl.col("ticker") == "SPY")
    assert spy["relative_volume_3d"].to_list()[:5] == [None, None, None, 400 / 200, 0.0]
    assert spy["relative_volume_3d"][5] == pytest.approx(600 / (700 / 3), rel=1e-15)
    assert spy["up_volume_ratio_3d"].to_list() == [None, None, None, 200 / 900, 0 / 700, 600 / 1000]
    xlu = out.filter(pl.col("ticker") == "XLU")
    # previous mean volume 0 -> NULL; then 10 / mean(0, 0, 0) NULL; then 0 / mean(0, 0, 10)
    assert xlu["relative_volume_3d"].to_list() == [None, None, None, None, None, 0.0]
    # every day is up: NULL while the window's total volume is 0
    assert xlu["up_volume_ratio_3d"].to_list() == [None, None, None, None, 1.0, 1.0]


def test_relative_volume_and_up_volume_ratio_with_the_default_20_session_window():
    n = 25
    price = [100.0 + (i % 2) for i in range(n)]  # up on odd sessions (2nd, 4th, ...), down on even ones
    volume = [100.0 if i % 2 else 300.0 for i in range(n)]
    staging = pl.DataFrame({
        "date": pl.date_range(dt.date(2021, 1, 1), dt.date(2021, 1, n), eager=True),
        "ticker": "SPY", "total_return_price": price, "close_price": price, "volume_shares": volume,
        "source": "test",
    })
    out = features_of(staging)
    relative = out["relative_volume_20d"].to_list()
    ratio = out["up_volume_ratio_20d"].to_list()
    assert relative[:20] == [None] * 20 and ratio[:20] == [None] * 20
    # session 21 (300 shares) against sessions 1-20: ten of 300 and ten of 100
    assert relative[20] == 300.0 / 200.0
    # sessions 2-21: ten up days of 100 shares, ten down days of 300
    assert ratio[20] == 1000.0 / 4000.0
    assert relative[21] == 100.0 / 200.0 and ratio[21] == 1000.0 / 4000.0


@pytest.mark.parametrize("cut", [dt.date(2018, 9, 14), dt.date(2019, 1, 2)])
def test_features_use_past_data_only(synthetic_staging, synthetic_features, cut):
    shorter = features_of(synthetic_staging.filter(pl.col("date") <= cut))
    assert shorter.height > 0
    assert shorter.equals(synthetic_features.filter(pl.col("date") <= cut))


def test_real_features_use_past_data_only(real_staging, real_features):
    cut = dt.date(2016, 1, 4)  # a first session of a year, XLRE in its warm-up
    assert features_of(real_staging.filter(pl.col("date") <= cut)).equals(
        real_features.filter(pl.col("date") <= cut))


def test_xlc_warm_up(synthetic_features):
    xlc = synthetic_features.filter(pl.col("ticker") == "XLC")
    assert xlc["date"][0] == dt.date(2018, 6, 19)
    assert xlc["is_warming_up"].to_list() == [True] * 60 + [False] * (xlc.height - 60)
    assert xlc["return_60d"].head(60).null_count() == 60
    assert xlc["return_60d"][60] is not None
    assert xlc["relative_strength_change_60d"].head(60).null_count() == 60
    assert xlc["relative_strength_change_60d"][60] is not None


def bounded_read(frame: pl.DataFrame, start: dt.date, rows: int, key: str = "ticker") -> pl.DataFrame:
    """What the incremental assets read: each key's last `rows` rows before `start`, and every row from it."""
    before = frame.filter(pl.col("date") < start).sort(key, "date").group_by(key, maintain_order=True).tail(rows)
    return pl.concat([before, frame.filter(pl.col("date") >= start)], how="diagonal").sort("date", key)


def last_rows_before(frame: pl.DataFrame, start: dt.date, key: str = "ticker") -> pl.DataFrame:
    return frame.filter(pl.col("date") < start).sort(key, "date").group_by(key, maintain_order=True).tail(1)


@pytest.mark.parametrize("start", [dt.date(2000, 1, 3), dt.date(2015, 10, 9), dt.date(2016, 11, 14),
                                   dt.date(2019, 12, 31)])
def test_continuing_from_stored_rows_equals_the_full_history_bit_for_bit(real_staging, real_features, start):
    config = FeatureConfig()
    continued = compute_features(bounded_read(real_staging, start, config.lookback_rows).lazy(), benchmark=BENCHMARK,
                                 previous=last_rows_before(real_features, start), start=start).collect()
    expected = real_features.filter(pl.col("date") >= start)
    assert continued.height == expected.height > 0
    assert continued.equals(expected)  # XLRE (2015-10-08) starts inside the 2015 read: counted from its first row
