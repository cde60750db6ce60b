"""Composite sector rankings (seed article 004): weighted relative performance over 5, 20 and 60 sessions.

For each date, among the sectors that are not warming up and have every input:
  z_k        = cross-sectional z-score of relative_strength_change_{k}d (mean 0, sample std 1 across
               the ranked sectors; 0 when all are equal), for k in the configured windows
  composite  = sum_k w_k * z_k / sum_k w_k
  rank       = 1 for the highest composite .. N; ties are broken by ticker so ranks are a permutation.
Standardising each window first makes the weights mean what they say: a raw 60-session change is several
times larger than a 5-session one and would otherwise dominate whatever the weights.
Sectors without enough history stay in the table with `is_ranked = false` and NULL rank: never dropped,
never filled.
"""

from __future__ import annotations

from typing import Sequence

import polars as pl

from sector_pipeline.contracts import columns
from sector_pipeline.contracts.signals import SectorRankings
from sector_pipeline.signals.config import RankingConfig
from sector_pipeline.signals.windows import exact_ratio, ordered_sum


def _group_sum(value: pl.Expr, by: list[str]) -> pl.Expr:
    """The sum of the group's non-null values, added one by one in ticker order, on every row of the group."""
    return value.sort_by("ticker").drop_nulls().cum_sum().last().over(by)


def composite_ranks(features: pl.LazyFrame, *, by: Sequence[str], config: RankingConfig = RankingConfig()
                    ) -> pl.LazyFrame:
    """The composite and its rank (module docstring) with each `by` group as the cross-section.

    `features` holds date, ticker, is_warming_up, the relative_strength_change_{k}d inputs and the `by`
    columns, only for the tickers to rank. Adds is_ranked, composite_score, rank and ranked (the count).
    Every statistic is a window over the group rather than a grouped frame joined back: one sort and no join
    (joining each window's statistics onto the frame already joined with the previous ones re-plans the
    earlier joins inside every new one: 1.0 s instead of 0.04 s for 45 tickers x 1,000 dates). Sums run in
    ticker order (a cumulative sum after a sort) and divisions are true ones: the same bits whatever the frame.
    """
    windows = sorted(config.weights)
    keys = list(by)
    is_ranked = pl.col("is_ranked")
    n = pl.col("__n")
    value = {k: pl.when(is_ranked).then(pl.col(f"relative_strength_change_{k}d")) for k in windows}
    mean = {k: pl.col(f"__mean_{k}") for k in windows}
    std = {k: pl.col(f"__std_{k}") for k in windows}
    total_weight = sum(config.weights.values())
    composite = ordered_sum([pl.col(f"__z_{k}") * config.weights[k] for k in windows]) / total_weight
    inputs = [pl.col(f"relative_strength_change_{k}d").is_not_null() for k in windows]
    return (
        features.with_columns(is_ranked=~pl.col("is_warming_up") & pl.all_horizontal(inputs))
        .sort("date", "ticker")  # ties are broken by ticker: the ordinal rank follows the row order
        .with_columns(__n=is_ranked.sum().over(keys))
        .with_columns(exact_ratio(_group_sum(value[k], keys), n.cast(pl.Float64)).alias(f"__mean_{k}")
                      for k in windows)
        .with_columns(pl.when(n > 1).then(exact_ratio(_group_sum((value[k] - mean[k]) ** 2, keys),
                                                      (n - 1).cast(pl.Float64)).sqrt()).alias(f"__std_{k}")
                      for k in windows)
        .with_columns(pl.when(is_ranked).then(pl.when(std[k] > 0).then(exact_ratio(value[k] - mean[k], std[k]))
                                              .otherwise(0.0)).alias(f"__z_{k}") for k in windows)
        .with_columns(composite_score=pl.when(is_ranked).then(composite))
        .with_columns(
            rank=pl.when(is_ranked).then(
                pl.col("composite_score").rank("ordinal", descending=True).over(*keys, "is_ranked")
            ).cast(pl.Int32),
            ranked=n.cast(pl.Int32),
        )
        .drop("__n", *(f"__{name}_{k}" for name in ("mean", "std", "z") for k in windows))
    )


def rank_sectors(features: pl.LazyFrame, *, sectors: Sequence[str], config: RankingConfig = RankingConfig()
                 ) -> pl.LazyFrame:
    """Rows: date, ticker, composite_score, rank, ranked_sectors, is_ranked (signals.sector_rankings).

    The cross-section of a date is its ranked sectors. The relative performance over each window is
    signals.features' relative_strength_change_{k}d: read it there (it is not copied here under another name).
    """
    inputs = [f"relative_strength_change_{k}d" for k in sorted(config.weights)]
    frame = features.filter(pl.col("ticker").is_in(list(sectors))).select("date", "ticker", "is_warming_up", *inputs)
    return (composite_ranks(frame, by=["date"], config=config)
            .rename({"ranked": "ranked_sectors"}).select(columns(SectorRankings)))
