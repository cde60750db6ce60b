"""Relative rotation (RRG-style RS-Ratio and RS-Momentum) of each sector against the benchmark, daily and weekly.

The JdK RS-Ratio / RS-Momentum of StockCharts' Relative Rotation Graphs are proprietary; this is the public
rolling z-score approximation, computed from past observations only (docs/relative_rotation.md):

    rs            = 100 * total_return_price / benchmark total_return_price
    rs_ratio      = 100 + (rs - mean_n(rs)) / std_n(rs)                      (last n observations, ddof 1)
    rs_roc        = 100 * (rs_ratio / previous rs_ratio - 1)
    rs_momentum   = 100 + (rs_roc - mean_n(rs_roc)) / std_n(rs_roc)

n is ``RotationConfig.daily_window`` sessions on daily data and ``RotationConfig.weekly_window`` weeks on
weekly closes (the rs at the last available session of each ISO week). A weekly row is dated at that
session, so the row of the week still in progress is provisional: it moves to each new session of the
week and is final once the data hold a session of a later week.
"""

from __future__ import annotations

import polars as pl

from sector_pipeline.signals.config import RotationConfig
from sector_pipeline.signals.windows import exact_ratio, position_in, rolling_mean, rolling_std

QUADRANTS = ("leading", "weakening", "lagging", "improving")
FREQUENCIES = ("daily", "weekly")
# A window whose sample std is below this fraction of its mean's size (of 1 for values near 0) is flat.
FLAT_TOLERANCE = 1e-12

# Columns of the relative rotation table, one row per (frequency, date, ticker), benchmark excluded.
ROTATION_COLUMNS = (
    "date", "ticker",
    "frequency",        # 'daily' (one row per session) or 'weekly' (one row per ISO week, at its last session)
    "rs_ratio",         # JdK-style RS-Ratio approximation, centred on 100 (see module docstring)
    "rs_momentum",      # JdK-style RS-Momentum approximation, centred on 100
    "quadrant",         # leading / weakening / lagging / improving; null while warming up
    "velocity",         # distance travelled on the (rs_ratio, rs_momentum) plane since the previous row
    "heading_deg",      # direction of that move, degrees in [0, 360): 0 = east (ratio up), 90 = north
    "is_warming_up",    # rs_ratio or rs_momentum is null (not enough history yet)
)


def rotation_quadrant(rs_ratio: pl.Expr, rs_momentum: pl.Expr) -> pl.Expr:
    """The RRG quadrant of a point; a coordinate exactly on 100 counts as the strong side, null if either is null."""
    strong = rs_ratio >= 100
    rising = rs_momentum >= 100
    return (
        pl.when(rs_ratio.is_null() | rs_momentum.is_null()).then(pl.lit(None, dtype=pl.String))
        .when(strong & rising).then(pl.lit("leading"))
        .when(strong).then(pl.lit("weakening"))
        .when(rising).then(pl.lit("improving"))
        .otherwise(pl.lit("lagging"))
    )


def rotation_heading_deg(d_ratio: pl.Expr, d_momentum: pl.Expr) -> pl.Expr:
    """Direction of a move on the RRG plane, degrees in [0, 360): 0 east, 90 north; null if no move."""
    angle = pl.arctan2(d_momentum, d_ratio).degrees() % 360.0
    # A tiny negative angle wraps to exactly 360.0 in floating point; it is the same direction as 0.
    angle = pl.when(angle >= 360.0).then(0.0).otherwise(angle)
    return pl.when((d_ratio == 0) & (d_momentum == 0)).then(None).otherwise(angle)


def _zscore_around_100(column: str, window: int) -> pl.Expr:
    """100 + the value's z-score within its trailing `window` observations (ticker by ticker); null if flat.

    Exact windows (signals/windows.py): the frame is sorted by ticker, date, and `_position` numbers each
    ticker's rows, so a run over a bounded lookback reproduces the full history's values bit for bit.
    """
    value = pl.col(column)
    mean = rolling_mean(value, window, pl.col("_position"))
    std = rolling_std(value, window, pl.col("_position"))
    # A flat window has no z-score: null rather than +-inf or NaN. "Flat" allows for rounding: a sector that
    # tracks the benchmark has an rs wobbling in its last bit, whose z-scores would be pure noise.
    is_flat = std <= FLAT_TOLERANCE * pl.max_horizontal(mean.abs(), pl.lit(1.0))
    return pl.when(~is_flat).then(100.0 + (value - mean) / std)


def _previous(column: str) -> pl.Expr:
    return pl.col(column).shift(1).over("ticker")


def _rotation(relative_strength: pl.LazyFrame, window: int, frequency: str) -> pl.LazyFrame:
    """RS-Ratio, RS-Momentum, quadrant, velocity and heading from (date, ticker, rs), per ticker in date order."""
    return (
        relative_strength
        .sort("ticker", "date")
        .with_columns(_position=position_in("ticker"))
        .with_columns(rs_ratio=_zscore_around_100("rs", window))
        .with_columns(rs_roc=100.0 * (pl.col("rs_ratio") / _previous("rs_ratio") - 1.0))
        .with_columns(rs_momentum=_zscore_around_100("rs_roc", window))
        .with_columns(
            d_ratio=pl.col("rs_ratio") - _previous("rs_ratio"),
            d_momentum=pl.col("rs_momentum") - _previous("rs_momentum"),
        )
        .with_columns(
            frequency=pl.lit(frequency),
            quadrant=rotation_quadrant(pl.col("rs_ratio"), pl.col("rs_momentum")),
            velocity=(pl.col("d_ratio") ** 2 + pl.col("d_momentum") ** 2).sqrt(),
            heading_deg=rotation_heading_deg(pl.col("d_ratio"), pl.col("d_momentum")),
            is_warming_up=pl.col("rs_ratio").is_null() | pl.col("rs_momentum").is_null(),
        )
        .select(ROTATION_COLUMNS)
    )


def _weekly(relative_strength: pl.LazyFrame) -> pl.LazyFrame:
    """The rs at the last available session of each ISO week, dated at that session."""
    return (
        relative_strength
        .group_by("ticker", pl.col("date").dt.truncate("1w").alias("week_start"))  # Monday of the ISO week
        .agg(pl.col("rs").sort_by("date").last(), pl.col("date").max())
        .select("date", "ticker", "rs")
    )


def rotation_lookback_sessions(config: RotationConfig = RotationConfig()) -> int:
    """Sessions of prices before the first recomputed date a run needs.

    RS-Momentum at t is a z-score over `n` RS rates of change, each needing two RS-Ratios, each a z-score
    over `n` RS values, and the move since the previous row one more: 2n + 2 observations. Weekly
    observations are ISO weeks (at most 5 sessions each, plus the partial week the read starts in).
    """
    daily = 2 * config.daily_window + 2
    weekly = (2 * config.weekly_window + 3) * 5
    return max(daily, weekly)


def relative_rotation(
    prices: pl.LazyFrame, *, benchmark: str, config: RotationConfig = RotationConfig()
) -> pl.LazyFrame:
    """Daily and weekly RS-Ratio / RS-Momentum of every ticker but `benchmark`, in ROTATION_COLUMNS.

    `prices` holds date, ticker, total_return_price for the full stored history (benchmark included).
    Sessions where the ticker or the benchmark has no usable price are not observations. Sorted by
    frequency, date, ticker.
    """
    benchmark_price = (
        prices.filter(pl.col("ticker") == benchmark)
        .select("date", benchmark_price=pl.col("total_return_price"))
    )
    relative_strength = (
        prices.filter(pl.col("ticker") != benchmark)
        .join(benchmark_price, on="date", how="inner")
        .select("date", "ticker", rs=100.0 * pl.col("total_return_price") / pl.col("benchmark_price"))
        .filter(pl.col("rs").is_finite() & (pl.col("rs") > 0))  # also drops null prices
    )
    daily = _rotation(relative_strength, config.daily_window, "daily")
    weekly = _rotation(_weekly(relative_strength), config.weekly_window, "weekly")
    return pl.concat([daily, weekly]).sort("frequency", "date", "ticker")


# Columns of the member rotation table, one row per (frequency, date, ticker, against): a member of a stock-level
# universe against the benchmark and against its own sector's series (its aggregate, or its fund).
MEMBER_ROTATION_COLUMNS = (
    "date", "ticker",
    "against",          # 'benchmark' or 'sector'
    "reference",        # the ticker the member is measured against (the benchmark, or its sector)
    *ROTATION_COLUMNS[2:],
)
AGAINST = ("benchmark", "sector")  # in sort order: member_rotation concatenates its parts in this order


def member_rotation(prices: pl.LazyFrame, members: pl.DataFrame, *, benchmark: str,
                    config: RotationConfig = RotationConfig()) -> pl.LazyFrame:
    """RS-Ratio / RS-Momentum of every member against the benchmark and against its sector, daily and weekly.

    `prices`: date, ticker, total_return_price of the members, their sectors' series and the benchmark (the
    int_total_returns rows, aggregates included). `members`: ticker, sector (``Universe.members_frame()``).
    The formulas, warm-up and weekly convention are relative_rotation's, with rs = 100 * member / reference;
    against the benchmark a member's rows equal relative_rotation's for it, bit for bit. A session where the
    member or its reference has no usable price is not an observation. Same lookback as relative_rotation
    (rotation_lookback_sessions rows of every ticker), no state. Sorted by against, frequency, date, ticker.
    """
    pairs = {"benchmark": members.lazy().select("ticker", reference=pl.lit(benchmark)),
             "sector": members.lazy().select("ticker", reference=pl.col("sector"))}
    reference = prices.select("date", reference=pl.col("ticker"), reference_price=pl.col("total_return_price"))
    parts = []
    for against in AGAINST:
        relative_strength = (
            prices.join(pairs[against], on="ticker", how="inner")
            .join(reference, on=["date", "reference"], how="inner")
            .select("date", "ticker",
                    rs=exact_ratio(100.0 * pl.col("total_return_price"), pl.col("reference_price")))
            .filter(pl.col("rs").is_finite() & (pl.col("rs") > 0))  # also drops null prices
        )
        for frame, window, frequency in ((relative_strength, config.daily_window, "daily"),
                                         (_weekly(relative_strength), config.weekly_window, "weekly")):
            parts.append(_rotation(frame, window, frequency).join(pairs[against], on="ticker", how="left")
                         .with_columns(against=pl.lit(against)).select(MEMBER_ROTATION_COLUMNS)
                         .sort("date", "ticker"))
    # The parts come in (against, frequency) order: concatenated, they are sorted without sorting millions
    # of rows on four keys again.
    return pl.concat(parts)
