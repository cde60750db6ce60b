"""Date x sector arrays and cross-sectional statistics that are bit-identical whatever the history's length.

The strategy stage works on wide arrays (one row per session, one column per sector in a fixed order, NaN
where a sector has no value). Cross-sectional sums fold the columns one by one in that order with
element-wise operations, never a vectorised reduction over a row, so a date's value does not depend on how
many other dates are in the array (the same reason as signals/cross_section.py). That is what makes a
prediction or a weight computed in a 25-year backfill equal, bit for bit, the one computed in a nightly run.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np
import polars as pl


def session_grid(frame: pl.DataFrame | pl.LazyFrame) -> list[dt.date]:
    """Sorted distinct dates of a frame: the sessions the strategy stage counts in."""
    lazy = frame.lazy() if isinstance(frame, pl.DataFrame) else frame
    return lazy.select(pl.col("date").unique().sort()).collect().get_column("date").to_list()


def to_wide(frame: pl.DataFrame, value: str, dates: Sequence[dt.date], tickers: Sequence[str]) -> np.ndarray:
    """(len(dates), len(tickers)) float array of `value` from long rows (date, ticker, value); NaN where absent."""
    if frame.is_empty():
        return np.full((len(dates), len(tickers)), np.nan)
    wide = (
        pl.DataFrame({"date": list(dates)}, schema={"date": pl.Date})
        .join(frame.filter(pl.col("ticker").is_in(list(tickers)))
              .pivot(on="ticker", index="date", values=value, aggregate_function=None),
              on="date", how="left")
    )
    columns = [wide.get_column(t).cast(pl.Float64) if t in wide.columns else pl.Series(t, [None] * len(dates),
                                                                                          dtype=pl.Float64)
               for t in tickers]
    out = np.column_stack([c.fill_null(np.nan).to_numpy() for c in columns]) if tickers else np.empty((len(dates), 0))
    return out.astype(float, copy=True)


def to_long(values: np.ndarray, dates: Sequence[dt.date], tickers: Sequence[str], name: str) -> pl.DataFrame:
    """Rows (date, ticker, name) of the non-NaN cells of a wide array, sorted by date, ticker."""
    d_idx, t_idx = np.nonzero(~np.isnan(values))
    return pl.DataFrame({
        "date": [dates[i] for i in d_idx],
        "ticker": [tickers[j] for j in t_idx],
        name: values[d_idx, t_idx],
    }, schema={"date": pl.Date, "ticker": pl.String, name: pl.Float64})


def row_count(a: np.ndarray) -> np.ndarray:
    return (~np.isnan(a)).sum(axis=1)


def row_sum(a: np.ndarray) -> np.ndarray:
    """Sum of each row's non-NaN values, folded column by column (0.0 for an all-NaN row)."""
    total = np.zeros(a.shape[0])
    for j in range(a.shape[1]):
        total = total + np.where(np.isnan(a[:, j]), 0.0, a[:, j])
    return total


def row_mean(a: np.ndarray) -> np.ndarray:
    n = row_count(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, row_sum(a) / np.maximum(n, 1), np.nan)


def row_std(a: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof 1) of each row's non-NaN values; NaN with fewer than 2."""
    n = row_count(a)
    deviations = a - row_mean(a)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, np.sqrt(row_sum(deviations * deviations) / np.maximum(n - 1, 1)), np.nan)


def row_zscores(a: np.ndarray, clip: float | None = None) -> np.ndarray:
    """Cross-sectional z-scores of each row (NaN stays NaN; 0 where the row is flat or has one value)."""
    std = row_std(a)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > 0, (a - row_mean(a)[:, None]) / std, 0.0)
    z = np.where(np.isnan(a), np.nan, z)
    return np.clip(z, -clip, clip) if clip is not None else z


def row_ranks(a: np.ndarray) -> np.ndarray:
    """Average ranks (1 = smallest) of each row's non-NaN values, ties sharing the mean rank; NaN stays NaN."""
    valid = ~np.isnan(a)
    below = np.zeros(a.shape)
    equal = np.zeros(a.shape)
    for k in range(a.shape[1]):
        other = a[:, k][:, None]
        other_valid = valid[:, k][:, None]
        below += (other_valid & (other < a)).astype(float)
        equal += (other_valid & (other == a)).astype(float)
    return np.where(valid, 1.0 + below + (equal - 1.0) / 2.0, np.nan)


def row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation per row over the cells where both are non-NaN; NaN with < 3 pairs or no variance."""
    both = ~np.isnan(a) & ~np.isnan(b)
    a = np.where(both, a, np.nan)
    b = np.where(both, b, np.nan)
    da = a - row_mean(a)[:, None]
    db = b - row_mean(b)[:, None]
    sxy, sxx, syy = row_sum(da * db), row_sum(da * da), row_sum(db * db)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    return np.where((both.sum(axis=1) >= 3) & (sxx > 0) & (syy > 0), r, np.nan)


def row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per row (Pearson of average ranks over the jointly non-NaN cells)."""
    both = ~np.isnan(a) & ~np.isnan(b)
    return row_pearson(row_ranks(np.where(both, a, np.nan)), row_ranks(np.where(both, b, np.nan)))
