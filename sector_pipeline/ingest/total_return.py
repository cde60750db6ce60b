"""Daily total returns computed from closes, dividends and splits, on one basis whatever the download dates.

Why not Yahoo's Adj Close: Yahoo re-bases it at every dividend (all earlier adjusted closes are multiplied
by 1 - D / previous close) and re-bases Close at every split, as of the day of the download. A table filled
by nightly downloads mixes bases: a return between two rows downloaded on either side of an ex-date is off
by the dividend yield of that distribution (or by the whole split ratio). Each stored row carries
`fetched_on`, its download date, so the basis of every row is known and can be undone.

Input rows: date, ticker, close, adj_close, dividend, split_ratio, fetched_on (PRICE_SCHEMA's meaning),
sorted by ticker and date; each row is compared with the ticker's previous row (t-1 below).

Split basis. Yahoo's Close of a row fetched on f is expressed in shares as of f: every split with ex-date
on or before f is applied to it, a later one is not. With C(x) the product of the split ratios of the
ticker's splits with ex-date <= x, a price fetched on f_t converts to the share units of a row fetched on
f_(t-1) by

    basis_t = C(f_t) / C(f_(t-1))      (1.0 when both rows were fetched the same day)

Rules, the first that applies:

1. dividends (dividend_t known; exact, not estimated):
       total_return_1d = (close_t + dividend_t) * basis_t / close_(t-1) - 1
   The dividend is multiplied by the basis too because Yahoo adjusts past dividends for later splits like
   the prices: close_t and dividend_t are in the same units. On a split's ex-date fetched on that day,
   close_t is in new shares and close_(t-1), fetched the day before, in old ones: basis = the split ratio.
2. adj_close (no dividend information; adj_close known on both rows, fetched the same day; not estimated):
       total_return_1d = adj_close_t / adj_close_(t-1) - 1
   Both rows are on the same dividend basis. On an ex-date this is close_t / (close_(t-1) - D) - 1 (Yahoo's
   convention), which differs from rule 1's (close_t + D) / close_(t-1) - 1 by about r * D / close_(t-1):
   a few millionths of a percent on a normal day.
3. close_only (anything else, e.g. rows of two downloads without dividends; estimated):
       total_return_1d = close_t * basis_t / close_(t-1) - 1      (basis_t = 1 when unknown)
   The price return: a dividend paid that day is missing.

The ticker's first row, or a row where close_t or close_(t-1) is missing, gets a null return, a null
method and is_total_return_estimated = false. Splits are the rows' split_ratio values (!= 1); pass
`splits` with the ticker's whole split history when `prices` is only a window, so that the basis of rows
fetched after a split outside the window is still right.
"""

from __future__ import annotations

import polars as pl

METHODS = ("dividends", "adj_close", "close_only")
# The method of a sector series computed from its member stocks (signals/aggregates.py), not from a price.
AGGREGATE = "aggregate"
INPUT_COLUMNS = ("date", "ticker", "close", "adj_close", "dividend", "split_ratio", "fetched_on")
OUTPUT_COLUMNS = ("total_return_1d", "is_total_return_estimated", "total_return_method")


def split_events(prices: pl.LazyFrame) -> pl.LazyFrame:
    """(ticker, date, split_ratio) of every split in price rows (split_ratio known and not 1), one per ex-date."""
    return (
        prices.select("ticker", "date", "split_ratio")
        .filter(pl.col("split_ratio").is_not_null() & (pl.col("split_ratio") != 1.0))
        .unique(subset=["ticker", "date"], keep="first", maintain_order=True)
    )


def _shares_as_of(frame: pl.LazyFrame, events: pl.LazyFrame, day: str, alias: str) -> pl.LazyFrame:
    """Adds `alias` = C(frame[day]): the product of the ticker's split ratios with ex-date <= that day."""
    cumulative = (
        events.sort("ticker", "date")
        .select("ticker", pl.col("date").alias("__ex_date"),
                pl.col("split_ratio").cum_prod().over("ticker").alias(alias))
        .sort("__ex_date")
    )
    return (
        frame.sort(day)
        # Both sides are sorted by the key just above (polars cannot verify it when grouping by ticker).
        .join_asof(cumulative, left_on=day, right_on="__ex_date", by="ticker", strategy="backward",
                   check_sortedness=False)
        .with_columns(pl.when(pl.col(day).is_not_null()).then(pl.col(alias).fill_null(1.0)).alias(alias))
        .drop("__ex_date")
    )


def daily_total_returns(prices: pl.LazyFrame, *, splits: pl.LazyFrame | None = None) -> pl.LazyFrame:
    """The input rows with total_return_1d, is_total_return_estimated and total_return_method (module doc).

    `prices` must hold INPUT_COLUMNS (others are kept); the output is sorted by ticker and date.
    """
    events = split_events(prices) if splits is None else splits.select("ticker", "date", "split_ratio")
    previous = {name: pl.col(name).shift(1).over("ticker") for name in ("close", "adj_close", "fetched_on")}
    frame = (
        prices.sort("ticker", "date")
        .with_columns(previous["close"].alias("__close_prev"), previous["adj_close"].alias("__adj_prev"),
                      previous["fetched_on"].alias("__fetched_prev"))
    )
    frame = _shares_as_of(frame, events, "fetched_on", "__shares")
    frame = _shares_as_of(frame, events, "__fetched_prev", "__shares_prev").sort("ticker", "date")

    same_download = pl.col("fetched_on").is_not_null() & (pl.col("fetched_on") == pl.col("__fetched_prev"))
    # Exactly 1.0 for rows of one download, so rule 1 then reads the stored numbers untouched.
    basis = pl.when(same_download).then(pl.lit(1.0)).otherwise(pl.col("__shares") / pl.col("__shares_prev"))
    computable = pl.col("close").is_not_null() & pl.col("__close_prev").is_not_null()
    by_dividends = computable & pl.col("dividend").is_not_null() & basis.is_not_null()
    by_adj_close = computable & same_download & pl.col("adj_close").is_not_null() & pl.col("__adj_prev").is_not_null()
    method = (
        pl.when(by_dividends).then(pl.lit("dividends"))
        .when(by_adj_close).then(pl.lit("adj_close"))
        .when(computable).then(pl.lit("close_only"))
    )
    total_return = (
        pl.when(by_dividends).then((pl.col("close") + pl.col("dividend")) * basis / pl.col("__close_prev") - 1)
        .when(by_adj_close).then(pl.col("adj_close") / pl.col("__adj_prev") - 1)
        .when(computable).then(pl.col("close") * basis.fill_null(1.0) / pl.col("__close_prev") - 1)
    )
    return (
        frame.with_columns(total_return.alias("total_return_1d"), method.alias("total_return_method"))
        .with_columns((pl.col("total_return_method") == "close_only").fill_null(False)
                      .alias("is_total_return_estimated"))
        .drop("__close_prev", "__adj_prev", "__fetched_prev", "__shares", "__shares_prev")
    )


def total_return_index(returns: pl.LazyFrame, *, previous: pl.DataFrame | None = None) -> pl.LazyFrame:
    """`returns` (daily_total_returns rows) with total_return_price: each ticker's total-return index.

    The index starts at the ticker's first close and compounds total_return_1d: p_t = p_(t-1) * (1 + r_t).
    `previous` (date, ticker, total_return_price): each ticker's stored index of its last session before the
    rows given; it is put in front of the new factors, so the running product continues with exactly the
    multiplications a run over the whole history performs (bit for bit). A ticker without a stored value starts
    from its first close here.
    """
    factor = (pl.when(pl.col("total_return_1d").is_null()).then(pl.col("close"))
              .otherwise(1.0 + pl.col("total_return_1d")))
    frame = returns.with_columns(factor.alias("__factor"), pl.lit(False).alias("__seed"))
    if previous is not None and previous.height:
        seeds = previous.lazy().select("date", "ticker", pl.col("total_return_price").alias("__factor"),
                                       pl.lit(True).alias("__seed"))
        frame = pl.concat([frame, seeds], how="diagonal_relaxed")
    return (
        frame.sort("ticker", "date")
        .with_columns(pl.col("__factor").cum_prod().over("ticker").alias("total_return_price"))
        .filter(~pl.col("__seed"))
        .drop("__factor", "__seed")
    )
