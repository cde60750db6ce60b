"""How well a sector's characteristics fit a market-wide reading of the four dimensions (one formula, one place).

Each sector has characteristics c_d on the dimensions d = cycle, rates, inflation, risk (universe file), and a
market-wide reading s_d(t) per dimension on each date (the sentiment scores, or the macro regime's scores):

    fit(sector, t) = sum_d c_d * s_d(t) / sum_d |c_d|          in [-1, +1] when every s_d is in [-1, +1]

i.e. the reading projected onto the sector's exposures, normalised by its total exposure. Used by the Sector
Rotation Index (economic score = 50 + 50 * fit, on the macro regime) and by the strategy model (the
`sentiment_fit` and `macro_fit` inputs).

Edge cases, chosen once for every user:
- a dimension without a reading on a date (a score not computed yet): the fit is NULL, the regime is unknown;
- a sector with no exposure at all (every c_d = 0): the fit is 0. Such a sector has no view on the regime, so
  the regime neither favours nor hurts it: 0 is the neutral value (the SRI's 50 = "no view"), not a missing
  one. NULL would wrongly mark the reading as unknown and, in the model, drop the sector from the
  cross-section its z-scores are computed on, changing the other sectors' inputs.
The additions run left to right in DIMENSIONS order, so the same inputs give the same bits in every caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sector_pipeline.signals.config import DIMENSIONS
from sector_pipeline.signals.windows import ordered_sum


def fit_expression(characteristics: Sequence[pl.Expr], readings: Sequence[pl.Expr], *, partial: bool = False
                   ) -> pl.Expr:
    """sum_d c_d * s_d / sum_d |c_d| per dimension (same order); 0 without exposure, NULL if an s_d is.

    `partial`: the sums run over the dimensions with a reading only (the fit to what is known), NULL when none
    has one; callers say how many were used (the SRI's economic_dimensions), so a missing dimension is never a
    silent 0.
    """
    if len(characteristics) != len(readings) or not readings:
        raise ValueError(f"fit_expression: need one reading per characteristic, got {len(characteristics)} "
                         f"characteristics and {len(readings)} readings")
    if partial:
        exposure = ordered_sum([pl.when(s.is_not_null()).then(c.abs()).otherwise(0.0)
                                for c, s in zip(characteristics, readings)])
        projection = ordered_sum([(c * s).fill_null(0.0) for c, s in zip(characteristics, readings)])
        known = pl.any_horizontal(s.is_not_null() for s in readings)
    else:
        exposure = ordered_sum([c.abs() for c in characteristics])
        projection = ordered_sum([c * s for c, s in zip(characteristics, readings)])
        known = pl.all_horizontal(s.is_not_null() for s in readings)
    return pl.when(known).then(pl.when(exposure > 0).then(projection / exposure).otherwise(0.0))


def characteristic_fit(scores: pl.LazyFrame, characteristics: pl.DataFrame | pl.LazyFrame, *, value: str,
                       name: str) -> pl.LazyFrame:
    """Rows (date, ticker, name) for every date of `scores` and every sector of `characteristics`.

    `scores`: long rows (date, dimension, value), one per date and dimension (e.g. signals.sentiment_scores
    with value "score", signals.macro_regime with value "macro_score"); `characteristics`: one row per sector
    with a column per dimension.
    """
    wide = scores.group_by("date").agg(
        pl.col(value).filter(pl.col("dimension") == d).first().cast(pl.Float64).alias(f"_s_{d}") for d in DIMENSIONS
    )
    chars = characteristics.lazy().select("ticker", *(pl.col(d).cast(pl.Float64).alias(f"_c_{d}") for d in DIMENSIONS))
    fit = fit_expression([pl.col(f"_c_{d}") for d in DIMENSIONS], [pl.col(f"_s_{d}") for d in DIMENSIONS])
    return wide.join(chars, how="cross").select("date", "ticker", fit.alias(name))
