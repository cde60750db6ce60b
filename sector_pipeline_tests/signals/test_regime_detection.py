"""The signals find the regimes planted in the synthetic market (1999-2026), and keep their invariants."""

import datetime as dt

import polars as pl
import pytest

from benchmarks.regime_detection import evaluate
from sector_pipeline.calendar import sessions
from sector_pipeline.signals.evaluation import as_staging, sentiment_signals
from sector_pipeline.sources.synthetic import SyntheticSource


@pytest.mark.parametrize("seed", [42, 7])
def test_planted_regimes_are_found(seed):
    report = evaluate(seed)
    assert report["expansion_cycle_reading"] > 0.8       # cycle > +0.3 most of every expansion
    assert report["contraction_cycle_reading"] > 0.8
    assert report["risk_off_risk_reading"] > 0.75       # risk < -0.3 through risk-off
    assert report["rising_rates_rates_reading"] > 0.65
    # the flight-to-safety condition holds in (nearly) every risk-off spell; its CRITICAL alert is muted when the
    # same condition started within the 120-session cool-down (often in the contraction before the spell)
    assert report["flight_to_safety_condition_spells"] >= 0.85
    assert report["flight_to_safety_spells"] >= 0.4
    assert report["flight_to_safety_outside_risk_off_and_contraction"] < 0.05
    # HIGH alerts read 10-session means of scores built on 60-session performance: most come 20-60 sessions
    # after a switch. Within 60 sessions they follow most switches, well above what as many random days would
    # (within 20 sessions neither these nor the seed's far more frequent alerts beat chance: docs/signals.md)
    assert report["high_detection_60"] >= 0.65
    # measured 10-17 points above chance; seed 7 sits at 9.8 since the features' arithmetic became exact
    # (near-equal sectors swap ranks on last bits), so the bar is 8 points
    assert report["high_detection_60"] >= report["high_detection_chance_60"] + 0.08
    assert report["high_false_alarm_60"] <= 0.35
    assert report["regime_switches"] >= 40


@pytest.fixture(scope="module")
def signals(universe):
    prices = SyntheticSource(universe, seed=11).fetch_prices(universe.instruments, dt.date(2014, 1, 2),
                                                             dt.date(2019, 12, 31))
    rankings, _, scores = sentiment_signals(as_staging(prices), universe)
    return rankings, scores


def test_scores_stay_in_bounds_and_ranks_are_permutations(signals):
    rankings, scores = signals
    assert scores.get_column("score").min() >= -1 and scores.get_column("score").max() <= 1
    assert scores.group_by("date").len().get_column("len").unique().to_list() == [4]
    per_date = rankings.filter("is_ranked").group_by("date").agg(pl.col("rank").sort(), pl.len())
    for ranks, n in per_date.select("rank", "len").iter_rows():
        assert ranks == list(range(1, n + 1))


def test_new_sectors_are_unranked_until_they_have_sixty_sessions(signals):
    rankings, _ = signals
    xlre = rankings.filter(ticker="XLRE").sort("date")
    first = sessions(dt.date(2015, 10, 8), dt.date(2019, 12, 31))
    assert xlre.get_column("date").to_list() == first
    assert xlre.get_column("is_ranked").to_list()[:60] == [False] * 60
    assert xlre.get_column("is_ranked").to_list()[60:] == [True] * (len(first) - 60)
    assert rankings.filter(ticker="XLC", date=dt.date(2018, 9, 12)).item(0, "is_ranked") is False
    counts = dict(rankings.filter("is_ranked").group_by("date").len().iter_rows())
    assert counts[dt.date(2015, 12, 31)] == 9 and counts[dt.date(2019, 6, 3)] == 11
