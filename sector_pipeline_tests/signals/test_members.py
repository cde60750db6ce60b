"""Member analytics of a stock-level universe: rankings across the universe and within each sector, and
relative rotation against the benchmark and against the member's own sector, on hand-computed frames and
on the synthetic 500-member universe (bit for bit whatever the frame)."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pandas as pd
import polars as pl
import pytest

from sector_pipeline.signals.aggregates import sector_aggregates
from sector_pipeline.signals.config import RankingConfig, RotationConfig
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.members import member_ranking_columns, rank_members
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.rotation import (
    MEMBER_ROTATION_COLUMNS,
    member_rotation,
    relative_rotation,
    rotation_lookback_sessions,
)
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, Universe, load_universe
from sector_pipeline_tests.signals.test_aggregates import total_returns_of
from sector_pipeline_tests.signals.test_features import bounded_read
from sector_pipeline_tests.signals.test_rotation import pandas_rotation

D = dt.date(2024, 3, 1)
WEIGHTS = RankingConfig().weights


def features_frame(rows: dict[str, tuple[float | None, float | None, float | None]], warming=(), day=D
                   ) -> pl.LazyFrame:
    return pl.DataFrame([
        {"date": day, "ticker": t, "relative_strength_change_5d": a, "relative_strength_change_20d": b,
         "relative_strength_change_60d": c, "is_warming_up": t in warming}
        for t, (a, b, c) in rows.items()
    ], schema_overrides={f"relative_strength_change_{k}d": pl.Float64 for k in (5, 20, 60)}).lazy()


def composite(rows: dict[str, tuple], tickers: str) -> dict[str, float]:
    """The weighted mean of cross-sectional z-scores, written out with the statistics module."""
    scores = dict.fromkeys(tickers, 0.0)
    for i, k in enumerate(sorted(WEIGHTS)):
        xs = [rows[t][i] for t in tickers]
        mean, std = statistics.mean(xs), statistics.stdev(xs)
        for t in tickers:
            scores[t] += WEIGHTS[k] * (rows[t][i] - mean) / std / sum(WEIGHTS.values())
    return scores


HAND = {  # A*: sector SA, B*: sector SB; W warms up; B3 lacks an input
    "A1": (0.01, 0.02, 0.05), "A2": (0.00, 0.01, 0.00), "A3": (-0.02, -0.03, -0.02), "A4": (0.03, -0.01, 0.01),
    "B1": (0.02, 0.04, 0.03), "B2": (-0.01, 0.00, -0.04), "B3": (0.05, None, 0.0), "W": (0.5, 0.5, 0.5),
}
HAND_MEMBERS = pl.DataFrame({"ticker": list(HAND), "sector": ["SA"] * 4 + ["SB"] * 3 + ["SA"]})


def test_ranks_across_the_universe_and_within_each_sector_hand_computed():
    frame = pl.concat([features_frame(HAND, warming={"W"}).collect(),
                       features_frame({"SPY": (0.0, 0.0, 0.0), "SA": (0.1, 0.1, 0.1)}).collect()])
    out = rank_members(frame.lazy(), HAND_MEMBERS).collect()
    assert out.columns == list(member_ranking_columns())
    assert set(out["ticker"]) == set(HAND)  # the benchmark and sectors in `features` are not members
    got = {row["ticker"]: row for row in out.iter_rows(named=True)}
    ranked = ["A1", "A2", "A3", "A4", "B1", "B2"]
    across = composite(HAND, ranked)
    for t in ranked:
        assert got[t]["composite_score"] == pytest.approx(across[t], rel=1e-12)
        assert got[t]["ranked_members"] == 6 and got[t]["is_ranked"]
    assert [t for t, _ in sorted(across.items(), key=lambda kv: -kv[1])] == sorted(ranked, key=lambda t: got[t]["rank"])
    within_a, within_b = composite(HAND, ["A1", "A2", "A3", "A4"]), composite(HAND, ["B1", "B2"])
    for t, score in {**within_a, **within_b}.items():
        assert got[t]["sector_composite_score"] == pytest.approx(score, rel=1e-12)
    assert [got[t]["sector_rank"] for t in ("A1", "A2", "A3", "A4")] == [1, 3, 4, 2]
    assert [got[t]["sector_rank"] for t in ("B1", "B2")] == [1, 2]
    assert got["A1"]["sector_ranked_members"] == 4 and got["B1"]["sector_ranked_members"] == 2
    # two members: z = +-1/sqrt(2) on each window, so the composites are exactly opposite
    assert got["B1"]["sector_composite_score"] == -got["B2"]["sector_composite_score"]
    for t in ("W", "B3"):  # in the table, never ranked
        assert not got[t]["is_ranked"] and got[t]["rank"] is None and got[t]["sector_rank"] is None
        assert got[t]["composite_score"] is None and got[t]["sector"] == HAND_MEMBERS.filter(ticker=t)["sector"][0]
    assert got["B3"]["relative_performance_5d"] == 0.05 and got["B3"]["relative_performance_20d"] is None


def test_a_sector_with_one_ranked_member_ranks_it_first_with_a_zero_composite():
    rows = {"A1": (0.01, 0.02, 0.03), "A2": (0.02, 0.01, 0.0), "B1": (-0.5, -0.5, -0.5)}
    out = rank_members(features_frame(rows).lazy(), pl.DataFrame({"ticker": list(rows), "sector": ["SA", "SA", "SB"]}))
    b1 = out.collect().filter(ticker="B1").row(0, named=True)
    assert (b1["sector_rank"], b1["sector_composite_score"], b1["sector_ranked_members"], b1["rank"]) == (1, 0.0, 1, 3)


def test_ties_are_broken_by_ticker_across_and_within():
    rows = {t: (0.01, 0.01, 0.01) for t in ("Q2", "P1", "Q1", "P2")}
    out = rank_members(features_frame(rows).lazy(),
                       pl.DataFrame({"ticker": list(rows), "sector": ["Q", "P", "Q", "P"]})).collect()
    assert out["ticker"].to_list() == ["P1", "P2", "Q1", "Q2"]
    assert out["rank"].to_list() == [1, 2, 3, 4] and out["sector_rank"].to_list() == [1, 2, 1, 2]
    assert out["composite_score"].to_list() == [0.0] * 4


# --- the synthetic 500-member universe -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def universe500() -> Universe:
    return load_universe(DEFAULT_UNIVERSE_PATH.parent / "synthetic_500.toml")


@pytest.fixture(scope="module")
def returns500(universe500: Universe) -> pl.DataFrame:
    """int_total_returns rows of SPY, the 500 members and the 11 aggregates, 2017-2019."""
    prices = SyntheticSource(universe500, seed=9).fetch_prices(universe500.instruments, dt.date(2017, 1, 1),
                                                               dt.date(2020, 1, 1))
    members = total_returns_of(prices)
    aggregates = sector_aggregates(members.lazy(), universe500.members_frame(aggregates_only=True)).collect()
    return pl.concat([members, aggregates.select(members.columns)]).sort("date", "ticker")


@pytest.fixture(scope="module")
def features500(returns500: pl.DataFrame) -> pl.DataFrame:
    return compute_features(returns500.lazy(), benchmark="SPY").collect()


@pytest.fixture(scope="module")
def rankings500(features500: pl.DataFrame, universe500: Universe) -> pl.DataFrame:
    return rank_members(features500.lazy(), universe500.members_frame()).collect()


def test_member_ranks_are_rank_sectors_numbers_across_and_within(rankings500, features500, universe500):
    members = universe500.members_frame()
    across = rank_sectors(features500.lazy(), sectors=members["ticker"].to_list()).collect()
    assert rankings500.select("date", "ticker", "composite_score", "rank", "is_ranked").equals(
        across.select("date", "ticker", "composite_score", "rank", "is_ranked"))
    for sector in ("AGG_XLK", "AGG_XLE", "AGG_XLRE"):
        tickers = [m.ticker for m in universe500.members_of(sector)]
        alone = rank_sectors(features500.lazy(), sectors=tickers).collect()
        mine = rankings500.filter(pl.col("sector") == sector)
        assert mine.select("date", "ticker", "sector_composite_score", "sector_rank").equals(
            alone.select("date", "ticker", sector_composite_score="composite_score", sector_rank="rank"))


def test_member_rank_invariants(rankings500, features500):
    ranked = rankings500.filter("is_ranked")
    # one row per member row of the features (members listing later have fewer), 60 warm-up sessions each
    assert rankings500.height == features500.filter(pl.col("ticker").str.contains(r"\d$")).height
    rows = rankings500.group_by("ticker").len()["len"].cast(pl.Int64)
    assert ranked.height == (rows - 60).clip(lower_bound=0).sum()
    per_date = ranked.group_by("date").agg(pl.col("rank").sort(), pl.len(), pl.col("ranked_members").first())
    assert all(r == list(range(1, n + 1)) and n == m for r, n, m in per_date.select("rank", "len", "ranked_members")
               .iter_rows())
    per_sector = ranked.group_by("date", "sector").agg(pl.col("sector_rank").sort(), pl.len(),
                                                       pl.col("sector_ranked_members").first())
    assert all(r == list(range(1, n + 1)) and n == m for r, n, m in per_sector.select(
        "sector_rank", "len", "sector_ranked_members").iter_rows())
    # within a sector the composites are centred (each z-score is)
    centred = ranked.group_by("date", "sector").agg(pl.col("sector_composite_score").mean().abs())
    assert centred["sector_composite_score"].max() < 1e-12
    unranked = rankings500.filter(~pl.col("is_ranked"))
    assert unranked["rank"].null_count() == unranked["sector_rank"].null_count() == unranked.height


def test_one_date_a_chunk_or_shuffled_rows_give_the_history_bits(rankings500, features500, universe500):
    members = universe500.members_frame()
    days = features500["date"].unique().sort()
    for day in days.gather_every(97).to_list()[1:]:
        one = rank_members(features500.filter(pl.col("date") == day).lazy(), members).collect()
        assert one.equals(rankings500.filter(pl.col("date") == day)), day
    cut = days[400]
    chunk = rank_members(features500.filter(pl.col("date") >= cut).lazy(), members.reverse()).collect()
    assert chunk.equals(rankings500.filter(pl.col("date") >= cut))
    shuffled = features500.filter(pl.col("date") < days[30]).sample(fraction=1.0, shuffle=True, seed=4)
    assert rank_members(shuffled.lazy(), members).collect().equals(rankings500.filter(pl.col("date") < days[30]))


# --- member rotation -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rotation500(returns500: pl.DataFrame, universe500: Universe) -> pl.DataFrame:
    return member_rotation(returns500.select("date", "ticker", "total_return_price").lazy(),
                           universe500.members_frame(), benchmark="SPY").collect()


def test_member_rotation_against_the_benchmark_is_relative_rotation(rotation500, returns500, universe500):
    assert rotation500.columns == list(MEMBER_ROTATION_COLUMNS)
    members = universe500.members_frame()
    prices = returns500.filter(pl.col("ticker").is_in(members["ticker"]) | (pl.col("ticker") == "SPY"))
    expected = relative_rotation(prices.select("date", "ticker", "total_return_price").lazy(),
                                 benchmark="SPY").collect()
    against = rotation500.filter(against="benchmark")
    assert set(against["reference"]) == {"SPY"}
    assert against.drop("against", "reference").equals(expected)


@pytest.mark.parametrize("ticker", ["TECH001", "UTIL009"])
def test_member_rotation_against_its_sector_matches_the_pandas_formulas(rotation500, returns500, universe500,
                                                                       ticker):
    member = next(m for m in universe500.members if m.ticker == ticker)
    wide = returns500.filter(pl.col("ticker").is_in([ticker, member.sector])).to_pandas().pivot(
        index="date", columns="ticker", values="total_return_price")
    rs = (100 * wide[ticker] / wide[member.sector]).dropna()
    expected = pandas_rotation(rs, RotationConfig().daily_window)
    got = rotation500.filter(against="sector", frequency="daily", ticker=ticker)
    assert set(got["reference"]) == {member.sector}
    assert got["date"].to_list() == [pd.Timestamp(d).date() for d in expected.index]
    for column in ("rs_ratio", "rs_momentum", "velocity", "heading_deg"):
        np.testing.assert_allclose(got[column].to_numpy().astype(float), expected[column].to_numpy(), rtol=1e-9,
                                   equal_nan=True, err_msg=column)
    assert got.filter(~pl.col("is_warming_up"))["quadrant"].n_unique() == 4


def test_a_member_that_is_its_whole_sector_has_no_rotation_against_it(returns500):
    one = pl.DataFrame({"ticker": ["TECH002"], "sector": ["ALONE"]})
    alone = sector_aggregates(returns500.lazy(), one).collect()
    prices = pl.concat([returns500.select("date", "ticker", "total_return_price"),
                        alone.select("date", "ticker", "total_return_price")])
    out = member_rotation(prices.lazy(), one, benchmark="SPY").collect()
    # the aggregate compounds the member's own returns: the ratio is flat up to rounding, never a signal
    assert out.filter(against="sector")["rs_ratio"].null_count() == out.filter(against="sector").height
    assert out.filter(against="benchmark", frequency="daily")["rs_ratio"].null_count() < 100


@pytest.mark.parametrize("start", [dt.date(2018, 6, 1), dt.date(2019, 11, 29)])
def test_member_rotation_over_a_bounded_lookback_equals_the_full_history(rotation500, returns500, universe500, start):
    prices = bounded_read(returns500.select("date", "ticker", "total_return_price"), start,
                          rotation_lookback_sessions())
    out = member_rotation(prices.lazy(), universe500.members_frame(), benchmark="SPY").collect()
    expected = rotation500.filter(pl.col("date") >= start)
    assert expected.height > 0 and out.filter(pl.col("date") >= start).equals(expected)
