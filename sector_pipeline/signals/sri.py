"""The Sector Rotation Index (seed 003): four 0-100 component scores per sector and date, summed and ranked.

Two pure functions (docs/sector_rotation_index.md has the reasoning and the choices):

``macro_regime`` reads the market-implied macro series (intermediate.int_macro_daily) and scores the four
sentiment dimensions from what the macro markets price, independently of the sector ranking:
  signal     = a level, a spread or a change over ``SriConfig.macro_change_window`` sessions (MACRO_SIGNALS)
  z          = trailing z-score of the signal over its last ``macro_zscore_window`` sessions, the current one
               included (at least half the window observed; 0 when the window is flat), clipped to [-3, 3]
  macro_score_d = tanh(mean of the z of dimension d's available signals / 2), in (-1, 1); NULL with no signal.
A signal whose series is absent on a date (TIP before 2003, a series the source never delivers) is NULL
there and simply not used; ``signals_used`` counts the signals that were.

``sector_rotation_index`` scores each sector (the benchmark is not a sector) on each date:
  economic    = 50 + 50 * fit, fit = sum_d c_d * macro_score_d / sum_d |c_d| over the dimensions the regime
                can read on the date (signals/fit.py; 0 when every c_d is 0): how well the sector's
                characteristics c match the macro regime (50 = no view); economic_dimensions counts them
  performance = mean of the percentiles of composite_score and of the risk-adjusted relative return
                (return_60d - benchmark return_60d) / realized_vol_20d
  sentiment   = mean of the percentiles of relative_volume_20d and up_volume_ratio_20d (flows)
  technical   = mean of 100 * [close > sma_50], 100 * [close > sma_200], 100 * [sma_50 > sma_200] and the RSI
                score clip(100 - 2 * |rsi_14 - 60|, 0, 100), over the inputs that exist; NULL without rsi_14
  percentile  = (average rank - 1) / (n - 1) * 100 among the n sectors scored on the date (50 when n = 1)
  total_score = sum_k weight_k * component_k (SriConfig.weights; the seed's unweighted 0-400 by default)
  sri_rank    = 1 .. N by total_score, highest first, ties broken by ticker.
A sector is scored when it is ranked (rankings.is_ranked) and every input of the four components exists;
the cross-sectional components, total and rank are NULL otherwise, while economic and technical scores are
reported whenever their own inputs exist.

Past data only: every window looks back, and cross-sections use one date, so the rows up to a date do not
change when later history is appended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.signals.config import DIMENSIONS, SriConfig
from sector_pipeline.signals.fit import fit_expression
from sector_pipeline.signals.windows import exact_ratio, ordered_sum, rolling_mean, rolling_std

COMPONENTS = ("economic", "performance", "sentiment", "technical")

# Columns of the Sector Rotation Index table, one row per (date, ticker), sectors only.
SRI_COLUMNS = (
    "date", "ticker",
    "economic_score",      # 0-100: fit of the sector's characteristics to the macro regime (50 = no view)
    "performance_score",   # 0-100: percentiles of composite score and risk-adjusted 60-session relative return
    "sentiment_score",     # 0-100: percentiles of relative volume and up-volume ratio (flows)
    "technical_score",     # 0-100: price vs 50/200-session averages, their cross, RSI sweet spot
    "total_score",         # sum of the weighted components, 0 .. 100 * sum(weights)
    "sri_rank",            # 1 = highest total among the sectors scored on the date
    "is_scored",           # ranked and every component present
    "economic_dimensions",  # dimensions of the macro regime the economic score could read (0-4)
    "uses_stale_macro",    # a macro series behind the economic score was stale on the date
)

# Columns of the macro regime table, one row per (date, dimension).
MACRO_REGIME_COLUMNS = (
    "date", "dimension",
    "macro_score",       # in (-1, 1); NULL when no signal of the dimension is available (never a silent 0)
    "signals_used",      # signals with a value on the date
    "detail",            # each used signal and its z-score
    "is_stale_input",    # a used series' value is older than its normal cadence (carried forward over a gap)
    "stale_series",      # those series, comma-separated ('' when none)
)

# Macro series names of the universe file (sp500_sectors.toml) that the signals read.
US10Y = "us10y_yield_pct"
US13W = "us13w_bill_yield_pct"
VIX = "vix"
TIPS = "tips_etf"
TREASURY_7_10Y = "treasury_7_10y_etf"
COPPER = "copper_future"
GOLD = "gold_etf"
CRUDE = "crude_oil_future"
# Economic series from FRED (universe file, provider "fred"), dated by the session they were published.
UNEMPLOYMENT = "unemployment_rate_pct"
INDUSTRIAL_PRODUCTION = "industrial_production_index"
FED_FUNDS = "fed_funds_rate_pct"
TREASURY_2Y = "treasury_2y_yield_pct"
CPI = "cpi_index"
BREAKEVEN_10Y = "breakeven_10y_inflation_pct"
MACRO_SERIES = (US10Y, US13W, VIX, TIPS, TREASURY_7_10Y, COPPER, GOLD, CRUDE, UNEMPLOYMENT, INDUSTRIAL_PRODUCTION,
                FED_FUNDS, TREASURY_2Y, CPI, BREAKEVEN_10Y)

# A trailing window whose standard deviation is below this fraction of its mean level is flat: z = 0.
_FLAT_STD = 1e-9
_Z_CLIP = 3.0


@dataclass(frozen=True)
class MacroSignal:
    """One market-implied macro signal and the dimension it informs; `sign` = -1 reads it upside down."""

    name: str
    dimension: str
    kind: str                 # "level", or "change": difference over `change_sessions` sessions
    transform: str            # "value", "log" (of one price), "log_ratio" (of two prices) or "spread" (a - b)
    series: tuple[str, ...]   # the series read, in the order of the transform
    sign: float = 1.0
    change_sessions: int | None = None  # None: SriConfig.macro_change_window


MACRO_SIGNALS: tuple[MacroSignal, ...] = (
    # Growth: copper (industrial demand) against gold (fear, real-rate hedge) is the market's growth gauge.
    # The yield curve is left out: its slope leads the cycle by a year and is steepest in recessions (docs).
    MacroSignal("copper_gold_change", "cycle", "change", "log_ratio", (COPPER, GOLD)),
    # Rates: where the long end and the front end of the curve are going, in percentage points.
    MacroSignal("us10y_change", "rates", "change", "value", (US10Y,)),
    MacroSignal("us13w_change", "rates", "change", "value", (US13W,)),
    # Inflation: TIPS against nominal Treasuries of similar duration (a breakeven proxy), and crude oil.
    MacroSignal("tips_treasury_change", "inflation", "change", "log_ratio", (TIPS, TREASURY_7_10Y)),
    MacroSignal("crude_change", "inflation", "change", "log", (CRUDE,)),
    # Risk appetite: a high or rising VIX is risk-off.
    MacroSignal("vix_level", "risk", "level", "value", (VIX,), sign=-1.0),
    MacroSignal("vix_change", "risk", "change", "value", (VIX,), sign=-1.0),
    # Economic data (FRED, point in time: a value counts from the session it was published). Growth: labour
    # market and output; a rising unemployment rate is the classic recession signal.
    MacroSignal("unemployment_change", "cycle", "change", "value", (UNEMPLOYMENT,), sign=-1.0),
    MacroSignal("industrial_production_change", "cycle", "change", "log", (INDUSTRIAL_PRODUCTION,)),
    # Rates: the policy rate and the 2-year yield that prices the next moves.
    MacroSignal("fed_funds_change", "rates", "change", "value", (FED_FUNDS,)),
    MacroSignal("treasury_2y_change", "rates", "change", "value", (TREASURY_2Y,)),
    # Inflation: realised (CPI over a year, about 252 sessions) and expected (the 10-year breakeven).
    MacroSignal("cpi_inflation_yoy", "inflation", "change", "log", (CPI,), change_sessions=252),
    MacroSignal("breakeven_change", "inflation", "change", "value", (BREAKEVEN_10Y,)),
)

# The yield-curve signals, available to pass in `signals=` but not in the default set: a steep curve prices
# growth a year ahead, yet the curve is steepest in recessions (bills follow policy cuts) and flattest late in
# expansions, so read as the current regime it points the wrong way (docs/sector_rotation_index.md).
CURVE_SIGNALS: tuple[MacroSignal, ...] = (
    MacroSignal("curve_slope", "cycle", "level", "spread", (US10Y, US13W)),
    MacroSignal("curve_slope_change", "cycle", "change", "spread", (US10Y, US13W)),
)


def _change_sessions(signal: MacroSignal, default: int) -> int:
    return signal.change_sessions or default


def _signal_name(signal: MacroSignal, change_window: int) -> str:
    if signal.kind != "change":
        return signal.name
    return signal.name if signal.change_sessions else f"{signal.name}_{change_window}d"


def _signal_value(signal: MacroSignal, change_window: int) -> pl.Expr:
    """The raw signal on a frame with one column per series and one row per session, in date order."""
    columns = [pl.col(s) for s in signal.series]
    if signal.transform == "log_ratio":
        base = pl.when((columns[0] > 0) & (columns[1] > 0)).then((columns[0] / columns[1]).log())
    elif signal.transform == "log":
        base = pl.when(columns[0] > 0).then(columns[0].log())
    elif signal.transform == "spread":
        base = columns[0] - columns[1]
    else:
        base = columns[0]
    # A NULL on either date of the change (series absent, ratio leg missing) makes the change NULL.
    return base.diff(_change_sessions(signal, change_window)) if signal.kind == "change" else base


def _trailing_zscore(value: pl.Expr, mean: pl.Expr, std: pl.Expr) -> pl.Expr:
    flat = std <= _FLAT_STD * pl.max_horizontal(mean.abs(), pl.lit(1.0))
    return (
        pl.when(value.is_null() | std.is_null()).then(None)
        .when(flat).then(0.0)
        .otherwise((value - mean) / std)
        .clip(-_Z_CLIP, _Z_CLIP)
    )


def macro_lookback_dates(config: SriConfig = SriConfig(), signals: Sequence[MacroSignal] = MACRO_SIGNALS) -> int:
    """Sessions of the macro table before the first recomputed date that the z-scores of its changes need."""
    longest = max((_change_sessions(s, config.macro_change_window) for s in signals if s.kind == "change"),
                  default=0)
    return config.macro_zscore_window + longest


def macro_regime(macro: pl.LazyFrame, *, config: SriConfig = SriConfig(),
                 signals: Sequence[MacroSignal] = MACRO_SIGNALS) -> pl.LazyFrame:
    """Rows: date, dimension, macro_score in (-1, 1), signals_used, detail (each used signal and its z)."""
    if config.macro_zscore_window < 2 or config.macro_change_window < 1:
        raise ConfigurationError(
            f"SriConfig: macro_zscore_window must be >= 2 and macro_change_window >= 1, got "
            f"{config.macro_zscore_window} and {config.macro_change_window}")
    unknown = sorted({s.dimension for s in signals} - set(DIMENSIONS))
    if unknown:
        raise ConfigurationError(f"macro signals: unknown dimension(s) {unknown}, expected one of {DIMENSIONS}")
    change = config.macro_change_window
    names = [_signal_name(s, change) for s in signals]
    if len(set(names)) < len(names):
        raise ConfigurationError(f"macro signals: duplicate names in {names}")
    # One row per session of the macro table, one column per series (NULL where the series has no value):
    # windows count these sessions, so a signal's history is the same whatever the range computed.
    if "is_stale" not in macro.collect_schema().names():
        macro = macro.with_columns(pl.lit(False).alias("is_stale"))
    wide = macro.select("date").unique()
    for series in dict.fromkeys(name for signal in signals for name in signal.series):
        values = macro.filter(pl.col("series") == series).select(
            "date", pl.col("series_value").cast(pl.Float64).alias(series),
            pl.col("is_stale").alias(f"_stale_{series}"))
        wide = wide.join(values, on="date", how="left")
    wide = wide.sort("date")
    window = config.macro_zscore_window
    min_samples = max(2, window // 2)
    zscores = wide.with_columns(
        _signal_value(s, change).alias(f"_raw_{n}") for s, n in zip(signals, names)
    ).with_columns(
        # Exact trailing windows (signals/windows.py): a run reading a bounded lookback gets the same bits.
        rolling_mean(pl.col(f"_raw_{n}"), window, min_samples=min_samples).alias(f"_mean_{n}") for n in names
    ).with_columns(
        rolling_std(pl.col(f"_raw_{n}"), window, min_samples=min_samples).alias(f"_std_{n}") for n in names
    ).with_columns(
        (s.sign * _trailing_zscore(pl.col(f"_raw_{n}"), pl.col(f"_mean_{n}"), pl.col(f"_std_{n}"))).alias(n)
        for s, n in zip(signals, names)
    )
    parts = []
    for dimension in DIMENSIONS:
        chosen = [(s, n) for s, n in zip(signals, names) if s.dimension == dimension]
        if not chosen:
            parts.append(wide.select("date", dimension=pl.lit(dimension), macro_score=pl.lit(None, dtype=pl.Float64),
                                     signals_used=pl.lit(0, dtype=pl.Int32), detail=pl.lit("no signal"),
                                     is_stale_input=pl.lit(False), stale_series=pl.lit("")))
            continue
        z = [pl.col(n) for _, n in chosen]
        used = ordered_sum([c.is_not_null().cast(pl.Int32) for c in z])
        detail = pl.concat_str(
            [pl.when(pl.col(n).is_not_null()).then(pl.format("{} z={}", pl.lit(n), pl.col(n).round(2)))
             for _, n in chosen],
            separator=", ", ignore_nulls=True,
        )
        # A series is a stale input of the dimension on a date when a signal it feeds is used that date.
        feeding: dict[str, list[str]] = {}
        for signal, name in chosen:
            for series in signal.series:
                feeding.setdefault(series, []).append(name)
        stale = pl.concat_str(
            [pl.when(pl.col(f"_stale_{series}").fill_null(False)
                     & pl.any_horizontal(pl.col(n).is_not_null() for n in users)).then(pl.lit(series))
             for series, users in sorted(feeding.items())],
            separator=", ", ignore_nulls=True,
        )
        parts.append(zscores.select(
            "date",
            dimension=pl.lit(dimension),
            # an explicit left-to-right sum: mean_horizontal may regroup, and its last bits must not move
            macro_score=pl.when(used > 0).then(
                (exact_ratio(ordered_sum([c.fill_null(0.0) for c in z]), used.cast(pl.Float64)) / 2).tanh()),
            signals_used=used.cast(pl.Int32),
            detail=pl.when(detail == "").then(pl.lit("no signal")).otherwise(detail),
            is_stale_input=stale != "",
            stale_series=stale,
        ))
    return pl.concat(parts).select(MACRO_REGIME_COLUMNS).sort("date", "dimension")


def _check_weights(weights: dict[str, float]) -> None:
    if set(weights) != set(COMPONENTS):
        raise ConfigurationError(
            f"SriConfig.weights must have exactly the keys {list(COMPONENTS)}, got {sorted(weights)}")
    bad = {k: w for k, w in weights.items() if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0)}
    if bad or sum(weights.values()) <= 0:
        raise ConfigurationError(f"SriConfig.weights must be finite, >= 0 and not all 0, got {weights}")


def _percentile(value: pl.Expr, scored: pl.Expr) -> pl.Expr:
    """Cross-sectional percentile 0..100 among the scored sectors of the date (average ranks; 50 if alone)."""
    n = scored.sum().over("date")
    rank = pl.when(scored).then(value).rank("average").over("date")
    return pl.when(scored).then(
        pl.when(n > 1).then(exact_ratio(rank - 1, (n - 1).cast(pl.Float64)) * 100.0).otherwise(50.0)
    )


def _technical_score(close: pl.Expr, sma_50: pl.Expr, sma_200: pl.Expr, rsi: pl.Expr) -> pl.Expr:
    def above(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return pl.when(a.is_not_null() & b.is_not_null()).then(pl.when(a > b).then(100.0).otherwise(0.0))

    rsi_score = (100.0 - 2.0 * (rsi - 60.0).abs()).clip(0.0, 100.0)
    # The mean skips NULL inputs: a young sector is judged on the averages it already has. A left-to-right sum
    # over the inputs that exist (mean_horizontal may regroup the additions: last-bit differences).
    parts = [above(close, sma_50), above(close, sma_200), above(sma_50, sma_200), rsi_score]
    count = ordered_sum([p.is_not_null().cast(pl.Int32) for p in parts])
    return pl.when(rsi.is_not_null()).then(exact_ratio(ordered_sum([p.fill_null(0.0) for p in parts]),
                                                       count.cast(pl.Float64)))


def sector_rotation_index(features: pl.LazyFrame, rankings: pl.LazyFrame, regime: pl.LazyFrame,
                          characteristics: pl.DataFrame, *, config: SriConfig = SriConfig()) -> pl.LazyFrame:
    """Rows: date, ticker, the four 0-100 component scores, total_score, sri_rank, is_scored (sectors only)."""
    _check_weights(config.weights)
    chars = characteristics.lazy().select("ticker", *(pl.col(d).cast(pl.Float64).alias(f"_c_{d}") for d in DIMENSIONS))
    if "is_stale_input" not in regime.collect_schema().names():
        regime = regime.with_columns(pl.lit(False).alias("is_stale_input"))
    regime_wide = regime.group_by("date").agg(
        *(pl.col("macro_score").filter(pl.col("dimension") == d).first().alias(f"_m_{d}") for d in DIMENSIONS),
        pl.col("is_stale_input").any().alias("uses_stale_macro"),
    )
    frame = (
        features.select("date", "ticker", "close_price", "sma_50", "sma_200", "rsi_14", "return_60d",
                        "relative_strength_change_60d", "realized_vol_20d", "relative_volume_20d",
                        "up_volume_ratio_20d")
        .join(chars, on="ticker", how="inner")  # sectors only: the benchmark has no characteristics
        .join(rankings.select("date", "ticker", "composite_score", "is_ranked"), on=["date", "ticker"], how="left")
        .join(regime_wide, on="date", how="left")
    )

    # The fit to the dimensions the macro regime can read on the date (signals/fit.py), never a silent 0 for
    # one it cannot: economic_dimensions says how many were read.
    fit = fit_expression([pl.col(f"_c_{d}") for d in DIMENSIONS], [pl.col(f"_m_{d}") for d in DIMENSIONS],
                         partial=True)
    dimensions_read = ordered_sum([pl.col(f"_m_{d}").is_not_null().cast(pl.Int32) for d in DIMENSIONS])
    # relative_strength = price / benchmark price over the same sessions, so the benchmark's 60-session
    # return is (1 + return_60d) / (1 + relative_strength_change_60d) - 1 without knowing its ticker.
    benchmark_return = (1 + pl.col("return_60d")) / (1 + pl.col("relative_strength_change_60d")) - 1
    volatility = pl.col("realized_vol_20d")
    risk_adjusted = pl.when(volatility > 0).then((pl.col("return_60d") - benchmark_return) / volatility)

    frame = frame.with_columns(
        economic_score=50.0 + 50.0 * fit,
        economic_dimensions=dimensions_read.fill_null(0).cast(pl.Int32),
        uses_stale_macro=pl.col("uses_stale_macro").fill_null(False),
        technical_score=_technical_score(pl.col("close_price"), pl.col("sma_50"), pl.col("sma_200"),
                                         pl.col("rsi_14")),
        _risk_adjusted_return=risk_adjusted,
    )
    cross_inputs = ("composite_score", "_risk_adjusted_return", "relative_volume_20d", "up_volume_ratio_20d")
    is_scored = (
        pl.col("is_ranked").fill_null(False)
        & pl.col("economic_score").is_not_null() & pl.col("technical_score").is_not_null()
        & pl.all_horizontal(pl.col(c).is_not_null() for c in cross_inputs)
    )
    scored = pl.col("is_scored")
    frame = frame.with_columns(is_scored=is_scored).with_columns(
        performance_score=(_percentile(pl.col("composite_score"), scored)
                           + _percentile(pl.col("_risk_adjusted_return"), scored)) / 2,
        sentiment_score=(_percentile(pl.col("relative_volume_20d"), scored)
                         + _percentile(pl.col("up_volume_ratio_20d"), scored)) / 2,
    )
    total = ordered_sum([config.weights[k] * pl.col(f"{k}_score") for k in COMPONENTS])
    return (
        frame.with_columns(total_score=pl.when(scored).then(total))
        .sort("date", "ticker")
        .with_columns(
            # Ordinal ranks of rows sorted by ticker: equal totals are ranked by ticker.
            sri_rank=pl.when(scored).then(
                pl.col("total_score").rank("ordinal", descending=True).over("date")).cast(pl.Int32),
        )
        .select(SRI_COLUMNS)
    )
