"""Sector aggregates from constituents: hand-computed values, entry of members, weights, continuation from
the stored level bit for bit, and the aggregate of synthetic members tracking their sector's fund."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from sector_pipeline.ingest.total_return import daily_total_returns, total_return_index
from sector_pipeline.signals.aggregates import AGGREGATE_COLUMNS, BASE_LEVEL, sector_aggregates
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, Universe, load_universe

D = [dt.date(2024, 1, day) for day in (2, 3, 4, 5, 8)]


def total_returns_of(prices: pl.DataFrame) -> pl.DataFrame:
    """PRICE_SCHEMA rows -> intermediate.int_total_returns rows (what the total_returns asset computes)."""
    returns = daily_total_returns(prices.lazy())
    return (total_return_index(returns).rename({"close": "close_price", "volume": "volume_shares"})
            .select("date", "ticker", "close_price", "volume_shares", "total_return_1d", "total_return_price",
                    "is_total_return_estimated", "total_return_method", "source")
            .sort("date", "ticker").collect())


def hand_rows() -> pl.DataFrame:
    """Three members of AGG_A (A3 from D[2]), one of AGG_B, and a ticker of no aggregate."""
    rows = [  # date, ticker, total_return_1d, volume
        (D[0], "A1", None, 100.0), (D[0], "A2", None, 200.0), (D[0], "B1", None, 50.0),
        (D[1], "A1", 0.01, 110.0), (D[1], "A2", -0.03, 210.0), (D[1], "B1", 0.02, None),
        (D[2], "A1", 0.02, 120.0), (D[2], "A2", 0.04, 220.0), (D[2], "A3", None, 1000.0), (D[2], "B1", 0.05, 60.0),
        (D[3], "A1", -0.01, 130.0), (D[3], "A3", 0.10, 900.0), (D[3], "B1", None, 70.0),  # A2 has no row
        (D[4], "A1", 0.00, 140.0), (D[4], "A2", 0.01, 230.0), (D[4], "A3", -0.02, 800.0), (D[4], "B1", 0.01, 80.0),
    ]
    frame = pl.DataFrame(rows, schema={"date": pl.Date, "ticker": pl.String, "total_return_1d": pl.Float64,
                                       "volume_shares": pl.Float64}, orient="row")
    other = pl.DataFrame({"date": D, "ticker": "SPY", "total_return_1d": 0.5, "volume_shares": 1.0})
    return pl.concat([frame, other]).with_columns(
        is_total_return_estimated=(pl.col("ticker") == "A3") & (pl.col("date") == D[4]), source=pl.lit("test"))


MEMBERS = pl.DataFrame({"ticker": ["A1", "A2", "A3", "B1"], "sector": ["AGG_A", "AGG_A", "AGG_A", "AGG_B"]})


def test_equal_weight_index_from_held_members_hand_computed():
    out = sector_aggregates(hand_rows().lazy(), MEMBERS).collect()
    assert out.columns == list(AGGREGATE_COLUMNS)
    a = out.filter(ticker="AGG_A")
    assert a["date"].to_list() == D and a["members_held"].to_list() == [0, 2, 2, 2, 3]
    returns = [None, (0.01 - 0.03) / 2, (0.02 + 0.04) / 2, (-0.01 + 0.10) / 2, (0.00 + 0.01 - 0.02) / 3]
    assert a["total_return_1d"][0] is None
    np.testing.assert_allclose(a["total_return_1d"].to_numpy()[1:], returns[1:], rtol=1e-15)
    level = np.cumprod([BASE_LEVEL] + [1 + r for r in returns[1:]])
    np.testing.assert_allclose(a["total_return_price"].to_numpy(), level, rtol=1e-15)
    assert a["close_price"].equals(a["total_return_price"], check_names=False)
    # volume of the held members only: A3's first row (no return) does not count yet
    assert a["volume_shares"].to_list() == [None, 320.0, 340.0, 1030.0, 1170.0]
    assert a["is_total_return_estimated"].to_list() == [False, False, False, False, True]
    assert set(a["total_return_method"]) == {"aggregate"} and set(a["source"]) == {"test"}

    b = out.filter(ticker="AGG_B")
    # D[3]: B1 has a row but no return: nobody held, the level is kept, the return is NULL
    assert b["members_held"].to_list() == [0, 1, 1, 0, 1]
    assert b["total_return_1d"].to_list()[3] is None
    assert b["total_return_price"][3] == b["total_return_price"][2] == BASE_LEVEL * 1.02 * 1.05
    assert b["volume_shares"][1] is None  # B1's volume is unknown that day
    assert "SPY" not in set(out["ticker"])


def test_member_weights():
    weighted = MEMBERS.with_columns(weight=pl.Series([3.0, 1.0, 4.0, 2.0]))
    out = sector_aggregates(hand_rows().lazy(), weighted).collect().filter(ticker="AGG_A")
    expected = [(3 * 0.01 + 1 * -0.03) / 4, (3 * 0.02 + 0.04) / 4, (3 * -0.01 + 4 * 0.10) / 7,
                (3 * 0.00 + 0.01 + 4 * -0.02) / 8]
    np.testing.assert_allclose(out["total_return_1d"].to_numpy()[1:], expected, rtol=1e-15)
    # a single member's aggregate is that member, whatever its weight
    alone = sector_aggregates(hand_rows().lazy(), weighted).collect().filter(ticker="AGG_B")
    assert alone["total_return_1d"].to_list()[1:3] == [0.02, 0.05]


def test_rows_in_any_order_give_the_same_bits():
    rows = hand_rows()
    expected = sector_aggregates(rows.lazy(), MEMBERS).collect()
    for seed in range(5):
        shuffled = rows.sample(fraction=1.0, shuffle=True, seed=seed)
        assert sector_aggregates(shuffled.lazy(), MEMBERS.reverse()).collect().equals(expected)


# --- synthetic members ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def member_universe() -> Universe:
    return load_universe(DEFAULT_UNIVERSE_PATH.parent / "synthetic_500.toml")


@pytest.fixture(scope="module")
def member_returns(member_universe: Universe) -> pl.DataFrame:
    """int_total_returns rows of SPY and the 500 members, 2016-2019 (every sector gains a member inside)."""
    prices = SyntheticSource(member_universe, seed=3).fetch_prices(member_universe.instruments,
                                                                   dt.date(2016, 1, 1), dt.date(2020, 1, 1))
    return total_returns_of(prices)


@pytest.fixture(scope="module")
def aggregates(member_returns: pl.DataFrame, member_universe: Universe) -> pl.DataFrame:
    return sector_aggregates(member_returns.lazy(), member_universe.members_frame(aggregates_only=True)).collect()


def test_synthetic_aggregates_hold_their_listed_members(aggregates: pl.DataFrame, member_universe: Universe,
                                                       member_returns: pl.DataFrame):
    assert set(aggregates["ticker"]) == {s.ticker for s in member_universe.sectors}
    assert aggregates.height == 11 * member_returns["date"].n_unique()
    first = aggregates.filter(pl.col("date") == aggregates["date"].min())
    assert first["members_held"].to_list() == [0] * 11 and (first["total_return_price"] == BASE_LEVEL).all()
    last = dict(aggregates.filter(pl.col("date") == aggregates["date"].max()).select("ticker", "members_held")
                .iter_rows())
    listed = {s.ticker: sum(m.inception < dt.date(2019, 12, 31) for m in member_universe.members_of(s.ticker))
              for s in member_universe.sectors}
    assert last == listed and sum(last.values()) == 497  # three members list in 2020
    # members listing inside the window join the session after their first close (Thanksgiving in between)
    late = sorted(m.inception for m in member_universe.members_of("AGG_XLK") if m.inception > dt.date(2016, 1, 4))
    assert late == [dt.date(2016, 11, 23), dt.date(2019, 2, 28)]
    joins = aggregates.filter(ticker="AGG_XLK").filter(pl.col("members_held").diff() > 0)
    assert joins["date"].to_list() == [dt.date(2016, 1, 5), dt.date(2016, 11, 25), dt.date(2019, 3, 1)]
    assert aggregates.null_count().select("total_return_price", "source").sum_horizontal().item() == 0
    assert set(aggregates["source"]) == {"synthetic"}


@pytest.mark.parametrize("starts", [[dt.date(2017, 3, 1)], [dt.date(2016, 1, 5), dt.date(2018, 6, 29),
                                                             dt.date(2018, 7, 2), dt.date(2019, 12, 30)]])
def test_continuing_from_the_stored_level_equals_one_run_bit_for_bit(aggregates, member_returns, member_universe,
                                                                      starts):
    members = member_universe.members_frame(aggregates_only=True)
    stored = aggregates.filter(pl.col("date") < starts[0])
    for start, stop in zip(starts, starts[1:] + [dt.date(2100, 1, 1)]):
        previous = stored.filter(pl.col("date") < start).sort("ticker", "date").group_by("ticker").tail(1)
        window = member_returns.filter(pl.col("date") < stop)  # rows before `start` are ignored
        stored = pl.concat([stored, sector_aggregates(window.lazy(), members, previous=previous, start=start)
                            .collect()])
    assert stored.equals(aggregates)


def test_one_session_alone_equals_that_session_in_the_history(aggregates, member_returns, member_universe):
    members = member_universe.members_frame(aggregates_only=True)
    days = aggregates["date"].unique().sort()
    for day in days.gather_every(61).to_list()[1:]:
        previous = aggregates.filter(pl.col("date") < day).sort("ticker", "date").group_by("ticker").tail(1)
        one = sector_aggregates(member_returns.filter(pl.col("date") == day).lazy(), members,
                                previous=previous).collect()
        assert one.equals(aggregates.filter(pl.col("date") == day)), day


def test_the_aggregate_of_a_funds_members_tracks_the_fund():
    """Thirty members of a tradable sector: their equal-weight aggregate follows the fund within their
    averaged-out noise (members are the sector's factor plus their own noise)."""
    from sector_pipeline.universe import parse_universe

    universe = parse_universe({
        "benchmark": {"ticker": "IDX", "inception": "1998-12-22"},
        "sectors": [{"ticker": "FUND", "sector": "Energy", "inception": "1998-12-22",
                     "cycle": 0.5, "rates": 0.4, "inflation": 1.0, "risk": 0.2}],
        "members": [{"ticker": f"E{i:02d}", "sector": "FUND", "inception": "1998-12-22"} for i in range(30)],
    })
    prices = SyntheticSource(universe, seed=8).fetch_prices(universe.instruments, dt.date(1999, 1, 1),
                                                            dt.date(2009, 1, 1))
    returns = total_returns_of(prices)
    out = sector_aggregates(returns.lazy(), universe.members_frame()).collect()
    fund = returns.filter(ticker="FUND").select("date", fund="total_return_1d")
    both = out.join(fund, on="date").drop_nulls(["total_return_1d", "fund"])
    gap = (both["total_return_1d"] - both["fund"]).to_numpy()
    # member noise 0.8-1.8% a day over 30 members: ~0.24% a day; dividends differ by a few bp a quarter
    assert 0.0015 < gap.std() < 0.0035 and abs(gap.mean()) < 2e-4
    assert np.corrcoef(both["total_return_1d"], both["fund"])[0, 1] > 0.97
    assert (out["members_held"][1:] == 30).all()


def test_aggregates_of_500_synthetic_stocks_read_the_planted_regime(member_universe: Universe):
    """End to end on sectors built from stocks: aggregates -> features -> sector rankings -> sentiment. The
    regime planted in the members' sector factors shows in the readings as it does for the sector funds."""
    from sector_pipeline.signals.features import compute_features
    from sector_pipeline.signals.rankings import rank_sectors
    from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores

    source = SyntheticSource(member_universe, seed=42)
    start, end = dt.date(2004, 1, 1), dt.date(2016, 1, 1)
    returns = total_returns_of(source.fetch_prices(member_universe.instruments, start, end))
    aggregates = sector_aggregates(returns.lazy(), member_universe.members_frame(aggregates_only=True)).collect()
    rows = pl.concat([returns.filter(ticker="SPY"), aggregates.select(returns.columns)])
    sectors = [s.ticker for s in member_universe.sectors]
    rankings = rank_sectors(compute_features(rows.lazy(), benchmark="SPY"), sectors=sectors)
    scores = sentiment_scores(sentiment_contributions(rankings, member_universe.characteristics()),
                              tickers=sectors).collect()
    spells = source.regimes(start, end).select(pl.col("start_date").alias("date"), "regime")
    wide = scores.pivot(on="dimension", index="date", values="score").sort("date").join_asof(spells, on="date")
    share = {row["regime"]: row for row in wide.group_by("regime").agg(
        cycle_high=(pl.col("cycle") > 0.3).mean(), cycle_low=(pl.col("cycle") < -0.3).mean(),
        risk_low=(pl.col("risk") < -0.3).mean(), rates_high=(pl.col("rates") > 0.3).mean()).iter_rows(named=True)}
    # Measured (seed 42, 2004-2015, every session): 90 %, 89 %, 88 %, 77 %.
    assert share["expansion"]["cycle_high"] > 0.8
    assert share["contraction"]["cycle_low"] > 0.8
    assert share["risk_off"]["risk_low"] > 0.8
    assert share["rising_rates"]["rates_high"] > 0.7
