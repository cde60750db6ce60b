"""Alerts and readings on real prices, 1999-2019 (../shared/realdata; every test skips when it is absent).

The calibration targets of issue #8: CRITICAL at most 6 a year on average and 12 in any year, HIGH at most 12
a year, on the whole sample and on each half; the documented turns (evaluation.KNOWN_TURNS) caught within 20
sessions. The figures are those of `python benchmarks/alert_calibration.py` (docs/signals.md, Alerts).
"""

import datetime as dt

import polars as pl
import pytest

from sector_pipeline.signals.alerts import detect_alerts
from sector_pipeline.signals.evaluation import (
    KNOWN_TURNS,
    alert_rates,
    alerts_per_year,
    realdata_signals,
    turn_detection,
)
from sector_pipeline.signals.sentiment import INTERPRETATIONS
from sector_pipeline_tests.signals.test_alerts import detect_in_chunks


@pytest.fixture(scope="module")
def real(realdata_dir, universe):
    rankings, contributions, scores = realdata_signals(realdata_dir, universe)
    frames = detect_alerts(scores.lazy(), rankings.lazy(), universe.characteristics())
    return rankings, contributions, scores, frames.alerts.collect(), frames.conditions.collect()


def sessions_of(scores: pl.DataFrame, first: int = 1999, last: int = 2019) -> list[dt.date]:
    return [d for d in scores.get_column("date").unique().sort().to_list() if first <= d.year <= last]


def test_alerts_stay_within_budget_on_the_whole_sample_and_each_half(real):
    _, _, scores, alerts, _ = real
    whole = alert_rates(alerts, sessions_of(scores))
    assert whole["years"] == pytest.approx(20.73, abs=0.005)  # 5,223 sessions, 1999-03-31 .. 2019-12-31
    assert whole["critical_per_year"] == pytest.approx(3.5, abs=0.05) and whole["critical_max_year"] == 6
    assert whole["high_per_year"] == pytest.approx(9.1, abs=0.05) and whole["high_max_year"] == 13
    assert whole["medium_per_year"] == pytest.approx(5.4, abs=0.05) and whole["medium_max_year"] == 8
    for first, last in ((1999, 2009), (2010, 2019)):
        # within 80 % of the budget on each half: the margin of the calibration rule (docs/signals.md)
        half = alert_rates(alerts, sessions_of(scores, first, last))
        assert half["critical_per_year"] <= 4.8 and half["critical_max_year"] <= 12 and half["high_per_year"] <= 9.6
    per_year = alerts_per_year(alerts, range(1999, 2020))
    assert per_year.filter(year=2016).row(0) == (2016, 3, 11, 8)  # calm 2016: 44 CRITICAL under the seed's rules
    assert per_year.filter(year=2012).row(0) == (2012, 6, 9, 4)  # the most CRITICAL
    assert per_year.filter(year=2005).row(0) == (2005, 4, 13, 7)  # the most HIGH (with 2009)


def test_nine_of_the_eleven_documented_turns_are_caught_within_twenty_sessions(real):
    _, _, scores, alerts, _ = real
    turns = turn_detection(alerts, sessions_of(scores))
    assert turns.height == len(KNOWN_TURNS) == 11
    caught = {t["turn"]: (t["alert_date"], t["sessions_after"], t["alert_type"], t["dimension"])
              for t in turns.iter_rows(named=True) if t["alert_date"] is not None}
    assert caught == {
        "2000-03 tech peak": (dt.date(2000, 4, 26), 20, "regime_change", "risk"),
        "2002-10 bear-market low": (dt.date(2002, 10, 25), 11, "regime_change", "risk"),
        "2008-09 Lehman": (dt.date(2008, 10, 8), 17, "regime_change", "cycle"),
        "2009-03 low": (dt.date(2009, 3, 23), 9, "regime_change", "risk"),
        "2011-08 downgrade": (dt.date(2011, 8, 8), 0, "regime_change", "risk"),
        "2013-05 taper tantrum": (dt.date(2013, 5, 21), 12, "regime_change", "rates"),
        "2015-08 devaluation": (dt.date(2015, 8, 21), 8, "regime_change", "risk"),
        "2016-11 reflation": (dt.date(2016, 11, 16), 5, "extreme_reading", "rates"),
        "2018-Q4 sell-off": (dt.date(2018, 10, 19), 20, "extreme_reading", "cycle"),
    }
    # missed (docs/signals.md says why): the 2007 top's cycle turn (10-30, 14 sessions in) started 54 sessions
    # after August 2007's, inside the cool-down, and risk turned 25 sessions in; in February 2018 the ranking
    # never turned defensive
    missed = set(turns.get_column("turn")) - set(caught)
    assert missed == {"2007-10 top", "2018-02 volatility spike"}


def test_known_turns_are_dated_by_the_closing_extremes_in_the_data(realdata_dir):
    prices = pl.read_csv(realdata_dir / "prices.csv", try_parse_dates=True)
    macro = pl.read_csv(realdata_dir / "macro.csv", try_parse_dates=True).drop_nulls("value")
    sessions = prices.filter(ticker="SPY").get_column("date").sort().to_list()

    def after(frame: pl.DataFrame, first: str, last: str, highest: bool) -> dt.date:
        window = frame.filter(pl.col("date").is_between(dt.date.fromisoformat(first), dt.date.fromisoformat(last)))
        value = window.get_column("value")
        extreme = window.filter(pl.col("value") == (value.max() if highest else value.min()))
        return sessions[sessions.index(extreme.get_column("date").max()) + 1]  # the later of tied extremes

    def closes(ticker: str) -> pl.DataFrame:
        return prices.filter(ticker=ticker).select("date", pl.col("adj_close").alias("value"))

    starts = {t.name: t.start for t in KNOWN_TURNS}
    assert starts["2000-03 tech peak"] == after(closes("XLK"), "2000-01-01", "2000-12-31", True)
    assert starts["2002-10 bear-market low"] == after(closes("SPY"), "2002-07-01", "2003-03-31", False)
    assert starts["2007-10 top"] == after(closes("SPY"), "2007-01-01", "2007-12-31", True)
    assert starts["2009-03 low"] == after(closes("SPY"), "2008-11-01", "2009-06-30", False)
    assert starts["2018-Q4 sell-off"] == after(closes("SPY"), "2018-07-01", "2018-12-31", True)
    assert starts["2013-05 taper tantrum"] == after(macro.filter(series="DGS10"), "2013-03-01", "2013-06-30", False)


@pytest.mark.parametrize("starts", [
    [dt.date(2008, 10, 1)],
    [dt.date(2003, 6, 2), dt.date(2011, 8, 9), dt.date(2016, 11, 10)],
])
def test_chunks_continue_the_full_history_bit_for_bit(real, universe, starts):
    rankings, _, scores, alerts, conditions = real
    first = scores.get_column("date").min()
    chunk_alerts, chunk_conditions = detect_in_chunks(scores, rankings, universe.characteristics(),
                                                      [first, *starts])
    assert chunk_alerts.equals(alerts) and chunk_conditions.equals(conditions)
    assert alerts.height == 371 and conditions.height == 5223 * 9


def test_readings_agree_with_the_sign_and_the_leading_sectors(real):
    rankings, contributions, scores, _, _ = real
    weighted = pl.col("weight") * pl.col("characteristic")
    sides = (
        contributions.group_by("date", "dimension")
        .agg(leaders=weighted.filter(pl.col("group") == "leader").sum()
             / pl.col("weight").filter(pl.col("group") == "leader").sum(),
             laggards=weighted.filter(pl.col("group") == "laggard").sum()
             / pl.col("weight").filter(pl.col("group") == "laggard").sum(),
             leading=pl.col("ticker").filter(pl.col("group") == "leader"))
    )
    read = scores.filter(pl.col("band") != "neutral").join(sides, on=["date", "dimension"])
    sign = pl.when(pl.col("band") == "positive").then(1.0).otherwise(-1.0)
    # (the calibration's figures moved by one alert and 26 banded days when the features became exact:
    # rankings of near-equal sectors swap on last bits; docs/signals.md quotes the current ones)
    assert read.height == 10_020
    # every text says which kind of sector is ahead of which: the leaders carry more of the characteristic
    # than the laggards in the direction of the sign, on every day
    assert read.filter((pl.col("leaders") - pl.col("laggards")) * sign <= 0).is_empty()
    for dimension, (positive, negative) in INTERPRETATIONS.items():
        texts = read.filter(dimension=dimension)
        assert set(texts.filter(band="positive").get_column("interpretation")) == {positive}
        assert set(texts.filter(band="negative").get_column("interpretation")) == {negative}
    # the day: utilities rank first and rates read below -0.3 -> rate-sensitive sectors are ahead
    utilities_first = rankings.filter((pl.col("ticker") == "XLU") & (pl.col("rank") == 1)).select("date")
    example = read.filter(dimension="rates", band="negative").join(utilities_first, on="date")
    assert example.height == 507
    assert set(example.get_column("interpretation")) == {
        "Rate cut expectations: rate-sensitive sectors ahead of those that gain from higher rates"}
    # the one text that names sectors as favoured: energy or materials is among the leaders on each such day
    inflation = read.filter(dimension="inflation", band="positive")
    assert inflation.height == 842
    assert inflation.filter(~pl.col("leading").list.eval(pl.element().is_in(["XLE", "XLB"])).list.any()).is_empty()


def test_sentiment_signs_on_known_episodes(real):
    scores = real[2]

    def mean(dimension: str, first: dt.date, last: dt.date) -> float:
        return scores.filter(pl.col("date").is_between(first, last) & (pl.col("dimension") == dimension)).get_column(
            "score").mean()  # type: ignore[return-value]

    # GFC, October 2008: contraction and risk-off
    assert mean("cycle", dt.date(2008, 10, 1), dt.date(2008, 10, 31)) == pytest.approx(-0.618, abs=5e-4)
    assert mean("risk", dt.date(2008, 10, 1), dt.date(2008, 10, 31)) == pytest.approx(-0.448, abs=5e-4)
    # recovery, April-August 2009: expansion
    assert mean("cycle", dt.date(2009, 4, 1), dt.date(2009, 8, 31)) == pytest.approx(0.381, abs=5e-4)
    # taper tantrum, Bernanke's testimony to the June FOMC: rate-hike expectations
    assert mean("rates", dt.date(2013, 5, 22), dt.date(2013, 6, 24)) == pytest.approx(0.335, abs=5e-4)
