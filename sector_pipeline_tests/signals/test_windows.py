"""Exact trailing windows: equal to numpy on every full window, and independent of where the series starts."""

import numpy as np
import polars as pl
import pytest

from sector_pipeline.signals.windows import position_in, rolling_mean, rolling_std, rolling_sum


@pytest.fixture(scope="module")
def prices() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.exp(np.cumsum(rng.normal(0, 0.01, 3000))) * 100


def _apply(values: np.ndarray, window: int) -> pl.DataFrame:
    frame = pl.DataFrame({"x": values}).with_columns(
        sum=rolling_sum(pl.col("x"), window), mean=rolling_mean(pl.col("x"), window))
    if window > 1:
        frame = frame.with_columns(std=rolling_std(pl.col("x"), window))
    return frame.drop("x")


@pytest.mark.parametrize("window", [1, 3, 20, 200])
def test_windows_match_numpy_and_are_null_before_the_first_full_window(prices, window):
    out = _apply(prices, window)
    assert out.get_column("sum").head(window - 1).null_count() == window - 1
    full = np.lib.stride_tricks.sliding_window_view(prices, window)
    np.testing.assert_allclose(out.get_column("sum").to_numpy()[window - 1:], full.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(out.get_column("mean").to_numpy()[window - 1:], full.mean(axis=1), rtol=1e-12)
    if window > 1:
        np.testing.assert_allclose(out.get_column("std").to_numpy()[window - 1:], full.std(axis=1, ddof=1),
                                   rtol=1e-9)


@pytest.mark.parametrize("window", [20, 200])
def test_a_window_value_does_not_depend_on_where_the_series_starts(prices, window):
    whole = _apply(prices, window).slice(2000)
    suffix = _apply(prices[1500:], window).slice(500)
    assert whole.equals(suffix)  # bit for bit; rolling_mean differs in the last bit on ~30 % of rows
    shifted = pl.Series(prices).rolling_mean(window).to_numpy()
    assert not np.array_equal(shifted[2000:], pl.Series(prices[1500:]).rolling_mean(window).to_numpy()[500:])


def test_groups_never_read_each_others_rows():
    frame = pl.DataFrame({"ticker": ["A"] * 4 + ["B"] * 3, "x": [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, None]})
    out = frame.with_columns(s=rolling_sum(pl.col("x"), 2, position_in("ticker")))
    assert out.get_column("s").to_list() == [None, 3.0, 5.0, 7.0, None, 30.0, None]


def test_min_samples_skips_nulls_like_polars():
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    x[rng.random(400) < 0.3] = np.nan
    frame = pl.DataFrame({"x": x}).with_columns(pl.col("x").fill_nan(None))
    out = frame.select(
        mean=rolling_mean(pl.col("x"), 30, min_samples=15), std=rolling_std(pl.col("x"), 30, min_samples=15),
        sum=rolling_sum(pl.col("x"), 30, min_samples=15),
        ref_mean=pl.col("x").rolling_mean(30, min_samples=15), ref_std=pl.col("x").rolling_std(30, min_samples=15),
        ref_sum=pl.col("x").rolling_sum(30, min_samples=15))
    for name in ("mean", "std", "sum"):
        mine, ref = out.get_column(name).to_numpy(), out.get_column(f"ref_{name}").to_numpy()
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(ref))
        np.testing.assert_allclose(mine[~np.isnan(mine)], ref[~np.isnan(ref)], rtol=1e-10, atol=1e-12)


def test_an_empty_series_has_no_windows():
    empty = pl.DataFrame({"x": []}, schema={"x": pl.Float64})
    out = empty.select(s=rolling_sum(pl.col("x"), 5), m=rolling_mean(pl.col("x"), 5), d=rolling_std(pl.col("x"), 5))
    assert out.height == 0 and out.dtypes == [pl.Float64] * 3


@pytest.mark.parametrize("window", [2, 20, 63, 252])
def test_std_is_each_windows_own_two_pass_sum_whatever_the_block_size(monkeypatch, window):
    """Each row's squared deviations are added by NumPy's reduction of that row alone (NaN counted as 0), so
    the block size (a cache and memory setting) never changes a bit."""
    from sector_pipeline.signals import windows

    rng = np.random.default_rng(window)
    x = np.exp(np.cumsum(rng.normal(0, 0.02, 2_000)))
    x[rng.random(2_000) < 0.05] = np.nan
    frame = pl.DataFrame({"x": x}).with_columns(pl.col("x").fill_nan(None))
    expected = frame.select(rolling_std(pl.col("x"), window, min_samples=2)).to_series().to_numpy()
    for block in (1, 7, 1 << 12):
        monkeypatch.setattr(windows, "_BLOCK_VALUES", block)
        again = frame.select(rolling_std(pl.col("x"), window, min_samples=2)).to_series().to_numpy()
        np.testing.assert_array_equal(again, expected)
    # the definition, row by row
    padded = np.concatenate([np.full(window - 1, np.nan), x])
    for i in rng.integers(0, 2_000, 40):
        row = padded[i:i + window]
        present = ~np.isnan(row)
        if present.sum() < 2:
            assert np.isnan(expected[i])
            continue
        mean = np.add.reduce(np.where(present, row, 0.0)) / present.sum()
        squares = np.add.reduce(np.where(present, (row - mean) ** 2, 0.0))
        assert expected[i] == np.sqrt(squares / (present.sum() - 1))
