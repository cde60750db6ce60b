"""Composite sector rankings (seed 004): weighted relative performance over 5, 20 and 60 sessions.

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

from sector_pipeline.signals.config import RankingConfig
from sector_pipeline.signals.cross_section import cross_section_stats
from sector_pipeline.signals.windows import exact_ratio, ordered_sum


def rank_sectors(features: pl.LazyFrame, *, sectors: Sequence[str], config: RankingConfig = RankingConfig()
                 ) -> pl.LazyFrame:
    """Rows: date, ticker, relative_performance_{k}d, composite_score, rank, ranked_sectors, is_ranked."""
    windows = sorted(config.weights)
    inputs = [f"relative_strength_change_{k}d" for k in windows]
    frame = (
        features.filter(pl.col("ticker").is_in(list(sectors)))
        .select("date", "ticker", "is_warming_up", *inputs)
        .with_columns(is_ranked=~pl.col("is_warming_up") & pl.all_horizontal(pl.col(c).is_not_null() for c in inputs))
    )
    sector_list = sorted(sectors)
    for k, column in zip(windows, inputs):
        stats = cross_section_stats(
            frame.filter("is_ranked"), value=column, by=["date"], keys=sector_list, prefix=f"cs_{k}_")
        frame = frame.join(stats.select("date", f"cs_{k}_mean", f"cs_{k}_std"), on="date", how="left")
    zscores = [
        pl.when(pl.col("is_ranked")).then(
            pl.when(pl.col(f"cs_{k}_std") > 0)
            .then(exact_ratio(pl.col(column) - pl.col(f"cs_{k}_mean"), pl.col(f"cs_{k}_std")))
            .otherwise(0.0)
        ).alias(f"z_{k}d")
        for k, column in zip(windows, inputs)
    ]
    total_weight = sum(config.weights.values())
    # a strictly left-to-right sum (sum_horizontal regrouped these three terms differently for a frame of one
    # date than for the history: last-bit differences): bit-identical whatever the frame's layout
    composite = ordered_sum([pl.col(f"z_{k}d") * config.weights[k] for k in windows]) / total_weight
    composite = pl.when(pl.col("is_ranked")).then(composite)
    return (
        frame.with_columns(zscores)
        .with_columns(composite_score=composite)
        .sort("date", "ticker")
        .with_columns(
            rank=pl.when(pl.col("is_ranked")).then(
                pl.col("composite_score").rank("ordinal", descending=True).over("date", "is_ranked")
            ).cast(pl.Int32),
            ranked_sectors=pl.col("is_ranked").sum().over("date").cast(pl.Int32),
        )
        .select(
            "date", "ticker",
            *(pl.col(c).alias(f"relative_performance_{k}d") for k, c in zip(windows, inputs)),
            "composite_score", "rank", "ranked_sectors", "is_ranked",
        )
    )
