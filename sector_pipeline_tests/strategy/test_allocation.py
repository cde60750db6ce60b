"""Seed 000's allocation rule: exact weights on hand-computed examples, caps, floors, entrants, schedules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.strategy.allocation import (
    allocations,
    project_to_bounds,
    rebalance_sessions,
    rule_book,
    seed_rule,
    weight_violations,
)
from sector_pipeline.strategy.config import AllocationConfig

D = dt.date


def test_first_rebalance_of_six_sectors_by_hand():
    # N = 6, equal start 1/6. Seed slices: top = first floor(6/3) = 2 (A, B), bottom = from floor(12/3) = 4
    # on (E, F), middle = C, D.
    #   A, B: min(1/6 + 0.05, 0.20) = 0.20                    (0.21667 capped)
    #   C, D: 1/6 * (1 - 0.025) + 0.025 / 6 = 1/6            (already at 1/N: decay leaves it)
    #   E, F: max(1/6 - 0.05, 0.01) = 0.116667
    #   total = 0.4 + 0.33333 + 0.23333 = 0.966667; dividing gives A = 0.2 / 0.966667 = 0.2069 > cap, so A and B
    #   stay at the cap and the other four share 1 - 0.4 = 0.6 in proportion to 1/6, 1/6, 0.116667, 0.116667:
    #   C, D = (1/6) * 0.6 / 0.566667 = 0.176471;  E, F = 0.116667 * 0.6 / 0.566667 = 0.123529
    new = seed_rule({}, {"A": 6.0, "B": 5.0, "C": 4.0, "D": 3.0, "E": 2.0, "F": 1.0}, AllocationConfig())
    weights = {t: w for t, (w, _) in new.items()}
    assert weights["A"] == pytest.approx(0.2, abs=1e-15) and weights["B"] == pytest.approx(0.2, abs=1e-15)
    assert weights["C"] == pytest.approx((1 / 6) * 0.6 / (2 / 6 + 2 * (1 / 6 - 0.05)), abs=1e-15)
    assert weights["C"] == pytest.approx(0.176470588235294, abs=1e-12) and weights["D"] == weights["C"]
    assert weights["E"] == pytest.approx(0.123529411764706, abs=1e-12) and weights["F"] == weights["E"]
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-15)
    assert [new[t][1] for t in "ABCDEF"] == ["top", "top", "middle", "middle", "bottom", "bottom"]


def test_an_entrant_and_high_risk_tolerance_by_hand():
    # Held A .5, B .3, C .2; D enters. N = 4: D gets 1/4, the incumbents scale by 3/4: A .375, B .225, C .15.
    # Scores D > C > B > A: the top and bottom thirds are leader_count(4) = 1 each: top D, bottom A, middle C, B.
    #   D: min(0.25 + 0.05, 0.30) = 0.30;  C: 0.15 * 0.975 + 0.025 / 4 = 0.1525;  B: 0.225 * 0.975 + 0.025 / 4
    #   = 0.225625;  A: 0.375 - 0.05 = 0.325;  total 1.003125
    #   normalised: A = 0.32399 exceeds the 0.30 cap; with A at 0.30 the others share 0.70 and D would get
    #   0.30968 > cap, so D sits at 0.30 too and C, B share 0.4 in proportion 0.1525 : 0.225625
    new = seed_rule({"A": 0.5, "B": 0.3, "C": 0.2}, {"A": 1.0, "B": 2.0, "C": 3.0, "D": 4.0},
                    AllocationConfig(risk_tolerance="high"))
    weights = {t: w for t, (w, _) in new.items()}
    assert weights["D"] == pytest.approx(0.3, abs=1e-15) and weights["A"] == pytest.approx(0.3, abs=1e-15)
    assert weights["C"] == pytest.approx(0.4 * 0.1525 / 0.378125, abs=1e-15)
    assert weights["B"] == pytest.approx(0.4 * 0.225625 / 0.378125, abs=1e-15)
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-15)


def test_without_binding_bounds_the_rule_is_the_seeds_plain_normalisation():
    # 9 sectors from equal weight: top 3 get 1/9 + 0.05 = 0.16111 (< cap), bottom 3 get 1/9 - 0.05 = 0.06111,
    # middle stay 1/9; the total is exactly 1, so nothing moves in normalisation.
    scores = {t: float(9 - i) for i, t in enumerate("ABCDEFGHI")}
    weights = {t: w for t, (w, _) in seed_rule({}, scores, AllocationConfig()).items()}
    assert [round(weights[t], 12) for t in "ABCDEFGHI"] == [round(1 / 9 + 0.05, 12)] * 3 + [round(1 / 9, 12)] * 3 + [
        round(1 / 9 - 0.05, 12)] * 3


@pytest.mark.parametrize("risk_tolerance, cap", [("low", 0.2), ("medium", 0.2), ("high", 0.3)])
@pytest.mark.parametrize("n", [5, 9, 10, 11])
def test_caps_floors_and_sum_over_many_random_rebalances(risk_tolerance, cap, n):
    rng = np.random.default_rng(n)
    config = AllocationConfig(risk_tolerance=risk_tolerance)
    tickers = [f"S{i:02d}" for i in range(n)]
    current: dict[str, float] = {}
    for _ in range(300):
        scores = dict(zip(tickers, rng.normal(size=n)))
        new = seed_rule(current, scores, config)
        weights = np.array([w for w, _ in new.values()])
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert weights.max() <= cap + 1e-12 and weights.min() >= 0.01 - 1e-12
        current = {t: w for t, (w, _) in new.items()}


def test_persistent_leaders_reach_the_cap_and_laggards_the_floor():
    scores = {t: float(11 - i) for i, t in enumerate("ABCDEFGHIJK")}
    current: dict[str, float] = {}
    for _ in range(30):
        current = {t: w for t, (w, _) in seed_rule(current, scores, AllocationConfig()).items()}
    # the top and bottom thirds are leader_count(11) = 3 each: ABC reach the cap before normalisation (the
    # division by a total slightly above 1, 0.6 + 5 middle weights near 1/11 + 3 x 0.01, leaves them 0.1989),
    # IJK the floor, the middle five move together
    assert all(0.198 < current[t] <= 0.2 for t in "ABC")
    assert all(current[t] == pytest.approx(0.01, abs=1e-12) for t in "IJK")
    assert all(abs(current[t] - current["D"]) < 1e-12 for t in "EFGH")


def test_project_to_bounds_is_the_proportional_normalisation_with_bounds():
    w = np.array([0.5, 0.3, 0.1, 0.05, 0.05])
    assert project_to_bounds(w, 0.01, 0.2).tolist() == pytest.approx([0.2] * 5)
    w = np.array([0.4, 0.3, 0.2, 0.05, 0.03, 0.02])
    out = project_to_bounds(w, 0.01, 0.3)
    # capping 0.4 alone would give 0.3 a share 0.7 * 0.3 / 0.6 = 0.35 > cap, so both sit at 0.3 and the other
    # four share 0.4 in proportion to 0.2 : 0.05 : 0.03 : 0.02 (total 0.3)
    assert out.tolist() == pytest.approx([0.3, 0.3, 0.4 * 0.2 / 0.3, 0.4 * 0.05 / 0.3, 0.4 * 0.03 / 0.3,
                                          0.4 * 0.02 / 0.3], abs=1e-15)
    # a weight below the floor after scaling is lifted to it, the others give it up proportionally
    out = project_to_bounds(np.array([0.25, 0.25, 0.25, 0.245, 0.005]), 0.01, 0.3)
    assert out[4] == 0.01 and out[:4].tolist() == pytest.approx([0.99 * 0.25 / 0.995] * 3 + [0.99 * 0.245 / 0.995],
                                                                abs=1e-15)


def test_rebalance_sessions_follow_the_exchange_calendar():
    days = [D(2024, 3, 25), D(2024, 3, 26), D(2024, 3, 27), D(2024, 3, 28), D(2024, 4, 1), D(2024, 4, 2),
            D(2024, 4, 3), D(2024, 4, 4), D(2024, 4, 5)]
    # Good Friday 2024-03-29: the week ends on Thursday 28th, which also ends March.
    assert rebalance_sessions(days, "weekly") == [D(2024, 3, 28), D(2024, 4, 5)]
    assert rebalance_sessions(days, "monthly") == [D(2024, 3, 28)]
    assert rebalance_sessions(days, "daily") == days
    # the last date counts as a week end only if the calendar's next session is in another week
    assert rebalance_sessions(days[:-1], "weekly") == [D(2024, 3, 28)]


def test_a_sector_entering_the_universe_joins_at_the_next_rebalance():
    rows = []
    for i, day in enumerate([D(2024, 1, 5), D(2024, 1, 12), D(2024, 1, 19)]):
        for j, ticker in enumerate("ABCDEF"):
            rows.append({"date": day, "ticker": ticker, "score": float(6 - j)})
        if i >= 1:
            rows.append({"date": day, "ticker": "G", "score": 0.5 if i == 1 else 10.0})
    book = rule_book(pl.DataFrame(rows), [D(2024, 1, 5), D(2024, 1, 12), D(2024, 1, 19)], AllocationConfig(), "model")
    entry = book.filter(pl.col("ticker") == "G")
    assert entry.get_column("date").to_list() == [D(2024, 1, 12), D(2024, 1, 19)]
    assert entry.item(0, "previous_weight") is None
    # G enters with 1/7, is in the bottom (lowest score): max(1/7 - 0.05, 0.01) = 0.092857 before normalisation
    first = book.filter(pl.col("date") == D(2024, 1, 12))
    assert first.get_column("weight").sum() == pytest.approx(1.0, abs=1e-15)
    assert first.filter(pl.col("ticker") == "G").item(0, "group") == "bottom"
    assert book.filter(pl.col("date") == D(2024, 1, 19), pl.col("ticker") == "G").item(0, "group") == "top"


def test_all_four_books_start_on_the_first_rebalance_with_predictions():
    days = [D(2024, 1, 2) + dt.timedelta(days=i) for i in range(40)]
    days = [d for d in days if d.weekday() < 5 and d != D(2024, 1, 15)]   # MLK day
    tickers = [f"X{i}" for i in range(6)]
    rankings = pl.DataFrame([{"date": d, "ticker": t, "is_ranked": True, "composite_score": float(i)}
                             for d in days for i, t in enumerate(tickers)])
    features = rankings.select("date", "ticker", relative_strength_change_60d=-pl.col("composite_score"))
    predictions = rankings.filter(pl.col("date") >= D(2024, 1, 10)).select(
        "date", "ticker", prediction_strength=pl.col("composite_score") * 2)
    weights = allocations(predictions.lazy(), rankings.lazy(), features.lazy())
    first = weights.group_by("book").agg(pl.col("date").min()).sort("book")
    assert first.get_column("date").to_list() == [D(2024, 1, 12)] * 4   # Friday after the first prediction
    momentum = weights.filter(pl.col("book") == "momentum_top3", pl.col("date") == D(2024, 1, 12))
    assert momentum.filter(pl.col("weight") > 0).get_column("ticker").sort().to_list() == ["X0", "X1", "X2"]
    assert momentum.get_column("weight").max() == pytest.approx(1 / 3)
    # momentum decides again only at month ends (and on the first date), the rule books every Friday
    assert weights.filter(pl.col("book") == "momentum_top3").get_column("date").unique().sort().to_list() == [
        D(2024, 1, 12), D(2024, 1, 31)]
    assert weights.filter(pl.col("book") == "model").get_column("date").unique().sort().to_list() == [
        D(2024, 1, 12), D(2024, 1, 19), D(2024, 1, 26), D(2024, 2, 2), D(2024, 2, 9)]
    equal = weights.filter(pl.col("book") == "equal_weight")
    assert (equal.get_column("weight") == 1 / 6).all()


def test_bad_settings_are_refused():
    with pytest.raises(ConfigurationError, match="risk_tolerance"):
        AllocationConfig(risk_tolerance="reckless")
    with pytest.raises(ConfigurationError, match="rebalance"):
        AllocationConfig(rebalance="hourly")
    with pytest.raises(ConfigurationError, match="floor"):
        AllocationConfig(floor=0.25)


def test_weight_violations_name_the_decisions_that_break_the_rules():
    rows = [("model", "A", 0.2), ("model", "B", 0.2), ("model", "C", 0.2), ("model", "D", 0.2), ("model", "E", 0.2),
            ("composite", "A", 0.25), ("composite", "B", 0.25), ("composite", "C", 0.2), ("composite", "D", 0.2),
            ("composite", "E", 0.1),
            ("momentum_top3", "A", 0.5), ("momentum_top3", "B", 0.5), ("momentum_top3", "C", 0.0),
            ("equal_weight", "A", 0.3), ("equal_weight", "B", 0.3), ("equal_weight", "C", 0.3)]
    frame = pl.DataFrame([{"date": D(2024, 1, 5), "book": b, "ticker": t, "weight": w} for b, t, w in rows])
    found = weight_violations(frame, AllocationConfig())
    assert found.select("book", "problem").rows() == [("composite", "weight above the cap"),
                                                      ("equal_weight", "weights do not sum to 1")]
