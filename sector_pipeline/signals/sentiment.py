"""The four-dimension sentiment indicator (seed 004): what the sector ranking says investors expect.

Each sector carries four characteristics in [-1, +1] (cycle, rates, inflation, risk; universe file).
On each date, with N ranked sectors and k = N // 3 (3 of 11):
  leaders  = the k best-ranked sectors, weighted k, k-1, .., 1 from the top
  laggards = the k worst-ranked sectors, weighted k, k-1, .., 1 from the bottom
  score_d  = ( weighted mean of leaders' characteristic d - weighted mean of laggards' characteristic d ) / 2
So capital flowing into cyclicals and out of defensives reads positive on the cycle axis, and a ranking
that says nothing (leaders and laggards alike) reads 0. Each score lies in [-1, +1] by construction (each
weighted mean does). A sector's contribution is its signed term; contributions sum to the score, so the
largest ones say why the score is what it is. Fewer than 2 ranked sectors: no score row for the date.

Why leaders vs laggards rather than all sectors weighted by centred rank: the middle of the ranking is
mostly noise, and a linear weight over all 11 sectors caps the attainable score near +-0.75, which would
make the seed's +-0.6 extreme-reading alerts almost unreachable.
"""

from __future__ import annotations

from typing import Sequence

import polars as pl

from sector_pipeline.signals.config import DIMENSIONS, SentimentConfig
from sector_pipeline.signals.cross_section import cross_section_stats
from sector_pipeline.signals.windows import exact_ratio
from sector_pipeline.vocabulary import leader_count_expr

# Readings per dimension: (above +band, below -band). A score is half the gap between the weighted characteristic
# of the leading and of the lagging sectors, so each text must say which kind of sector is ahead of which.
# Seed 004's rates texts are changed: below -0.3 it read "rate-sensitive sectors penalized (real estate,
# utilities)" while a negative score means those sectors are ahead of the ones that gain from higher rates; above
# +0.3 "financials favored" was false on 30 % of such days 1999-2019 (financials not among the leaders: the
# reading came from rate-sensitive sectors lagging). Both now state the comparison the score measures. The other
# seed texts agree with their sign (and energy or materials led on every inflation > +0.3 day 1999-2019).
INTERPRETATIONS: dict[str, tuple[str, str]] = {
    "cycle": ("Expected expansion: overweight cyclicals", "Expected contraction: overweight defensives"),
    "rates": ("Rate hike expectations: sectors that gain from higher rates ahead of rate-sensitive ones",
              "Rate cut expectations: rate-sensitive sectors ahead of those that gain from higher rates"),
    "inflation": ("Inflationary pressures: energy and materials favored",
                  "Disinflation: inflation hedges penalized"),
    "risk": ("Risk-on: momentum in growth stocks", "Risk-off: flight to quality"),
}
DIMENSION_LABELS = {"cycle": "Economic cycle", "rates": "Interest rate expectations",
                    "inflation": "Inflation expectations", "risk": "Risk appetite"}


def sentiment_contributions(rankings: pl.LazyFrame, characteristics: pl.DataFrame) -> pl.LazyFrame:
    """Rows: date, dimension, ticker, rank, group (leader/laggard), weight, characteristic, contribution."""
    ranked = (
        rankings.filter(pl.col("is_ranked"))
        .select("date", "ticker", "rank", "ranked_sectors")
        .with_columns(group_size=leader_count_expr(pl.col("ranked_sectors")))
        .filter(pl.col("ranked_sectors") >= 2)
        .with_columns(
            group=pl.when(pl.col("rank") <= pl.col("group_size")).then(pl.lit("leader"))
            .when(pl.col("rank") > pl.col("ranked_sectors") - pl.col("group_size")).then(pl.lit("laggard")),
        )
        .filter(pl.col("group").is_not_null())
        .with_columns(
            weight=pl.when(pl.col("group") == "leader")
            .then(pl.col("group_size") - pl.col("rank") + 1)
            .otherwise(pl.col("rank") - (pl.col("ranked_sectors") - pl.col("group_size"))).cast(pl.Float64),
        )
        .with_columns(weight_total=pl.col("group_size") * (pl.col("group_size") + 1) / 2)
    )
    chars = characteristics.lazy().select("ticker", *DIMENSIONS).unpivot(
        index="ticker", on=list(DIMENSIONS), variable_name="dimension", value_name="characteristic")
    sign = pl.when(pl.col("group") == "leader").then(1.0).otherwise(-1.0)
    return (
        ranked.join(chars, on="ticker", how="inner")
        .with_columns(contribution=exact_ratio(sign * pl.col("weight") * pl.col("characteristic"),
                                               2 * pl.col("weight_total")))
        .select("date", "dimension", "ticker", "rank", "group", "weight", "characteristic", "contribution")
        .sort("date", "dimension", "rank")
    )


def sentiment_scores(contributions: pl.LazyFrame, *, tickers: Sequence[str],
                     config: SentimentConfig = SentimentConfig()) -> pl.LazyFrame:
    """Rows: date, dimension, label, score, band, interpretation, top_contributors.

    `tickers`: every sector that can contribute (the universe's sectors), the order of the exact sum.
    """
    top = (
        contributions.with_columns(magnitude=pl.col("contribution").abs())
        .sort("date", "dimension", "magnitude", "ticker", descending=[False, False, True, False])
        .group_by("date", "dimension", maintain_order=True)
        .agg(
            top_contributors=pl.format("{} {}", pl.col("ticker"), pl.col("contribution").round(3).cast(pl.String))
            .head(config.top_contributors).str.join(", "),
        )
    )
    sums = cross_section_stats(contributions, value="contribution", by=["date", "dimension"],
                               keys=sorted(tickers), prefix="c_")
    top = top.join(sums.select("date", "dimension", pl.col("c_sum").alias("score")), on=["date", "dimension"])
    positive = pl.col("dimension").replace_strict({d: t[0] for d, t in INTERPRETATIONS.items()})
    negative = pl.col("dimension").replace_strict({d: t[1] for d, t in INTERPRETATIONS.items()})
    return (
        top.with_columns(
            score=pl.col("score").clip(-1.0, 1.0),  # guards float round-off only: |score| <= 1 by construction
            label=pl.col("dimension").replace_strict(DIMENSION_LABELS),
        )
        .with_columns(
            band=pl.when(pl.col("score") > config.band).then(pl.lit("positive"))
            .when(pl.col("score") < -config.band).then(pl.lit("negative"))
            .otherwise(pl.lit("neutral")),
        )
        .with_columns(
            interpretation=pl.when(pl.col("band") == "positive").then(positive)
            .when(pl.col("band") == "negative").then(negative)
            .otherwise(pl.lit("Neutral: no clear signal")),
        )
        .select("date", "dimension", "label", "score", "band", "interpretation", "top_contributors")
        .sort("date", "dimension")
    )
