"""Member rankings of a stock-level universe: every member ranked across the universe and within its sector.

The composite is the sectors' (signals/rankings.py, seed article 004): on each date, among the members that
are not warming up and have every input, each window's relative_strength_change_{k}d is turned into a
cross-sectional z-score, the composite is their weighted mean (RankingConfig.weights) and the rank orders it,
1 = best, ties broken by ticker. It is computed twice, by the one function that ranks sectors too
(rankings.composite_ranks):

  across the universe  the cross-section is every ranked member of the date: composite_score, rank,
                       ranked_members
  within the sector    the cross-section is the ranked members of the member's sector: sector_composite_score,
                       sector_rank, sector_ranked_members. Relative strength is measured against the
                       benchmark, and standardising within the sector removes the sector's common move: this
                       ranks members against their peers.

Cost: the z-scores sum each date's values after sorting them by ticker and ranks sort the composites, so a
date of n members costs O(n log n); nothing holds one column per member. Bit for bit whatever the frame (one
date, a chunk, the whole history): the sums run in ticker order and divisions are true ones (rank_sectors).
Incremental use: no lookback and no state: a date needs its own feature rows only.
"""

from __future__ import annotations

import polars as pl

from sector_pipeline.contracts import columns
from sector_pipeline.contracts.signals import MemberRankings
from sector_pipeline.signals.config import RankingConfig
from sector_pipeline.signals.rankings import composite_ranks

# Columns of rank_members (signals.member_rankings): its contract (contracts/signals.py) lists and describes
# them. The relative performance over each window is signals.features' relative_strength_change_{k}d: it is
# not copied here under another name.
MEMBER_RANKING_COLUMNS = columns(MemberRankings)


def rank_members(features: pl.LazyFrame, members: pl.DataFrame, *, config: RankingConfig = RankingConfig()
                 ) -> pl.LazyFrame:
    """Rows (MEMBER_RANKING_COLUMNS): one per member and date of `features`, sorted by date, ticker.

    features: signals.features rows (date, ticker, is_warming_up, relative_strength_change_{k}d); other
              tickers (benchmark, sectors) are ignored.
    members:  ticker and sector of every member (``Universe.members_frame()``).
    A member without enough history stays in the table, not ranked (NULL ranks, is_ranked false).
    """
    windows = sorted(config.weights)
    inputs = [f"relative_strength_change_{k}d" for k in windows]
    # One integer per (date, sector): windows over one integer key are cheaper than over (date, sector).
    codes = members.select("ticker", "sector").with_columns(
        __sector_code=pl.col("sector").rank("dense").cast(pl.Int64))
    frame = (
        features.select("date", "ticker", "is_warming_up", *inputs)
        .join(codes.lazy(), on="ticker", how="inner")
        .with_columns(__date_sector=pl.col("date").cast(pl.Int64) * 65_536 + pl.col("__sector_code"))
    )
    across = composite_ranks(frame, by=["date"], config=config)
    within = composite_ranks(frame, by=["__date_sector"], config=config).select(
        "date", "ticker", pl.col("composite_score").alias("sector_composite_score"),
        pl.col("rank").alias("sector_rank"), pl.col("ranked").alias("sector_ranked_members"))
    return (
        across.with_columns(ranked_members=pl.col("ranked"))
        .join(within, on=["date", "ticker"], how="left")
        .select(MEMBER_RANKING_COLUMNS)
        .sort("date", "ticker")
    )
