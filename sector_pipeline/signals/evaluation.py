"""How well the signals read back the regimes planted in the synthetic market (the answer key).

Figures, over the sessions where the sentiment scores exist:
- `<regime>_<dimension>_reading`: share of the regime's sessions whose score is beyond the band in the
  expected direction (expansion: cycle > +0.3; contraction: cycle < -0.3; risk_off: risk < -0.3;
  rising_rates: rates > +0.3; inflation: inflation > +0.3);
- `flight_to_safety_spells`: share of risk_off spells with at least one flight-to-safety alert inside;
  `flight_to_safety_condition_spells` (when the alert conditions are given): share of risk_off spells in
  which the flight-to-safety condition holds on at least one session, alert raised or muted by the cool-down;
  `flight_to_safety_outside`: share of those alerts dated outside any risk_off spell (and outside both
  risk_off and contraction, where defensives also lead);
- `high_detection`: share of regime switches followed by a HIGH alert within `horizon` sessions (the switch
  session included); `high_false_alarm`: share of HIGH alerts that follow no switch within `horizon` sessions;
  `high_detection_chance`: the detection as many alert days spread at random would reach,
  1 - (1 - alert days / scored sessions) ** horizon: the bar `high_detection` has to clear to mean anything.

The second part (real markets) calibrates the alerts on real 1999-2019 prices: KNOWN_TURNS, the documented
turns an alert should catch, and the helpers benchmarks/alert_calibration.py and the real-data tests share.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores
from sector_pipeline.universe import Universe, load_universe

EXPECTED_READINGS = {
    "expansion": ("cycle", 1), "contraction": ("cycle", -1), "risk_off": ("risk", -1),
    "rising_rates": ("rates", 1), "inflation": ("inflation", 1),
}


def regime_detection(scores: pl.DataFrame, alerts: pl.DataFrame, regimes: pl.DataFrame, *, band: float = 0.3,
                     horizon: int = 20, conditions: pl.DataFrame | None = None) -> dict[str, float]:
    """`regimes`: one row per session (date, regime_id, regime) as stored in raw.synthetic_regimes;
    `conditions`: the alert conditions (signals.alerts.CONDITION_SCHEMA), optional."""
    days = regimes.sort("date").with_row_index("session")
    scored = scores.pivot(on="dimension", index="date", values="score").join(days, on="date", how="inner")
    report: dict[str, float] = {}
    for regime, (dimension, sign) in EXPECTED_READINGS.items():
        spell = scored.filter(pl.col("regime") == regime)
        if spell.height:
            hits = (spell.get_column(dimension) * sign > band).fill_null(False).mean()
            report[f"{regime}_{dimension}_reading"] = float(hits)  # type: ignore[arg-type]

    flights = alerts.filter(pl.col("alert_type") == "flight_to_safety").join(days, on="date", how="inner")
    scored_spells = set(scored.filter(pl.col("regime") == "risk_off").get_column("regime_id").to_list())
    caught = set(flights.filter(pl.col("regime") == "risk_off").get_column("regime_id").to_list())
    if scored_spells:
        report["flight_to_safety_spells"] = len(caught & scored_spells) / len(scored_spells)
        if conditions is not None:
            held = (conditions.filter((pl.col("alert_type") == "flight_to_safety") & pl.col("is_on"))
                    .join(days, on="date", how="inner").filter(pl.col("regime") == "risk_off"))
            report["flight_to_safety_condition_spells"] = (
                len(set(held.get_column("regime_id").to_list()) & scored_spells) / len(scored_spells))
    if flights.height:
        report["flight_to_safety_outside"] = flights.filter(pl.col("regime") != "risk_off").height / flights.height
        report["flight_to_safety_outside_risk_off_and_contraction"] = flights.filter(
            ~pl.col("regime").is_in(["risk_off", "contraction"])).height / flights.height

    first_scored = scored.get_column("session").min()
    switches = (days.filter(pl.col("regime_id") != pl.col("regime_id").shift(1))
                .filter(pl.col("session") > first_scored).get_column("session").to_list())
    high = (alerts.filter(pl.col("tier") == "HIGH").join(days, on="date", how="inner")
            .get_column("session").unique().sort().to_list())
    if switches:
        detected = [s for s in switches if any(s <= h < s + horizon for h in high)]
        report["high_detection"] = len(detected) / len(switches)
        report["regime_switches"] = float(len(switches))
    if high:
        false = [h for h in high if not any(s <= h < s + horizon for s in switches)]
        report["high_false_alarm"] = len(false) / len(high)
        report["high_alert_days"] = float(len(high))
        report["high_detection_chance"] = 1 - (1 - len(high) / scored.height) ** horizon
    return report


# ---------------------------------------------------------------------------------------------------------
# Real markets: the alert calibration on 1999-2019 (benchmarks/alert_calibration.py, tests on real data).
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KnownTurn:
    """A documented market turn that should raise a HIGH or CRITICAL alert within `horizon` sessions."""

    start: dt.date      # first session of the turn (how it is dated: `dated_by`)
    name: str
    what: str
    dated_by: str
    # (dimension, direction): an alert on one of these dimensions, with a value of that sign, catches the turn
    expected: tuple[tuple[str, int], ...]


_EQUITY_DOWN = (("risk", -1), ("cycle", -1))  # sell-off: defensives over cyclicals and high-beta sectors
_EQUITY_UP = (("risk", 1), ("cycle", 1))
_AFTER_HIGH = "first session after the closing high of {} in the data"
_AFTER_LOW = "first session after the closing low of {} in the data"
_NEWS = "first session that traded on the news"

# Dated by one rule: a top or low by the closing extreme of the market that turned (SPY; XLK for the technology
# peak; the 10-year yield for the taper tantrum), a shock by its news day (docs/signals.md says how the rule
# came about).
# Expected dimensions: an equity sell-off or rally moves risk appetite and the economic cycle in its direction;
# the taper tantrum is a rates turn; the 2016 reflation trade moved rates, inflation and the cycle up.
KNOWN_TURNS: tuple[KnownTurn, ...] = (
    KnownTurn(dt.date(2000, 3, 28), "2000-03 tech peak",
              "XLK closes at its dot-com high on 2000-03-27 (the Nasdaq peaked on 03-10)",
              _AFTER_HIGH.format("XLK"), _EQUITY_DOWN),
    KnownTurn(dt.date(2002, 10, 10), "2002-10 bear-market low", "SPY closes at its bear-market low on 2002-10-09",
              _AFTER_LOW.format("SPY"), _EQUITY_UP),
    KnownTurn(dt.date(2007, 10, 10), "2007-10 top", "SPY closes at its pre-crisis high on 2007-10-09",
              _AFTER_HIGH.format("SPY"), _EQUITY_DOWN),
    KnownTurn(dt.date(2008, 9, 15), "2008-09 Lehman", "Lehman Brothers files for bankruptcy on Monday 2008-09-15",
              _NEWS, _EQUITY_DOWN),
    KnownTurn(dt.date(2009, 3, 10), "2009-03 low", "SPY closes at its crisis low on 2009-03-09",
              _AFTER_LOW.format("SPY"), _EQUITY_UP),
    KnownTurn(dt.date(2011, 8, 8), "2011-08 downgrade",
              "S&P downgrades US Treasury debt after the close of Friday 2011-08-05", _NEWS, _EQUITY_DOWN),
    KnownTurn(dt.date(2013, 5, 3), "2013-05 taper tantrum",
              "the 10-year yield's spring low (1.66 % on 05-01 and 05-02) before taper talk lifts it to 2.6 % "
              "by late June (Bernanke's testimony: 05-22)", _AFTER_LOW.format("the 10-year yield (DGS10)"),
              (("rates", 1),)),
    KnownTurn(dt.date(2015, 8, 11), "2015-08 devaluation",
              "the PBoC devalues the yuan on 2015-08-11; global sell-off into 08-24", _NEWS, _EQUITY_DOWN),
    KnownTurn(dt.date(2016, 11, 9), "2016-11 reflation",
              "US election result on 2016-11-09: yields, financials and industrials jump", _NEWS,
              (("rates", 1), ("inflation", 1), ("cycle", 1))),
    KnownTurn(dt.date(2018, 2, 2), "2018-02 volatility spike",
              "a wage-growth surprise lifts yields on 2018-02-02; the VIX doubles on 02-05", _NEWS, _EQUITY_DOWN),
    KnownTurn(dt.date(2018, 9, 21), "2018-Q4 sell-off",
              "SPY closes at its high on 2018-09-20, then falls 19 % into 12-24 on Fed tightening and growth fears",
              _AFTER_HIGH.format("SPY"), _EQUITY_DOWN),
)


def as_staging(prices: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Source price rows (close, adj_close, volume, source) as staging.stg_prices columns, cast as stg_prices does."""
    return prices.lazy().select(
        "date", "ticker", pl.col("close").cast(pl.Float64).alias("close_price"),
        pl.coalesce("adj_close", "close").cast(pl.Float64).alias("total_return_price"),
        pl.col("volume").cast(pl.Float64).alias("volume_shares"), "source")


def sentiment_signals(staging: pl.LazyFrame, universe: Universe) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(rankings, contributions, scores) of stg_prices rows, by the same pure functions as the assets."""
    sectors = [s.ticker for s in universe.sectors]
    features = compute_features(staging, benchmark=universe.benchmark.ticker)
    rankings = rank_sectors(features, sectors=sectors).collect()
    contributions = sentiment_contributions(rankings.lazy(), universe.characteristics()).collect()
    scores = sentiment_scores(contributions.lazy(), tickers=sectors).collect()
    return rankings, contributions, scores


def realdata_signals(folder: Path, universe: Universe | None = None, *, first: dt.date = dt.date(1999, 1, 1),
                     last: dt.date = dt.date(2019, 12, 31)) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(rankings, contributions, scores) of the folder's prices.csv from `first` (the pipeline ingests from 1999)."""
    prices = (pl.read_csv(folder / "prices.csv", try_parse_dates=True)
              .filter(pl.col("date").is_between(first, last))
              .with_columns(source=pl.lit("realdata")))
    return sentiment_signals(as_staging(prices), universe or load_universe())


def alerts_per_year(alerts: pl.DataFrame, years: range) -> pl.DataFrame:
    """Rows: year, CRITICAL, HIGH, MEDIUM (counts; 0 where none)."""
    counts = {tier: [alerts.filter((pl.col("tier") == tier) & (pl.col("date").dt.year() == y)).height
                     for y in years] for tier in ("CRITICAL", "HIGH", "MEDIUM")}
    return pl.DataFrame({"year": list(years), **counts})


def turn_detection(alerts: pl.DataFrame, sessions: list[dt.date], turns: tuple[KnownTurn, ...] = KNOWN_TURNS, *,
                   horizon: int = 20) -> pl.DataFrame:
    """One row per turn inside `sessions`: the first HIGH/CRITICAL alert on an expected dimension, in the expected
    direction, dated from the turn's start session to `horizon` sessions after it (null columns when none)."""
    index = {d: i for i, d in enumerate(sessions)}
    found = (alerts.filter(pl.col("tier").is_in(["CRITICAL", "HIGH"]) & pl.col("date").is_in(sessions))
             .with_columns(session=pl.col("date").replace_strict(index, return_dtype=pl.Int64),
                           direction=pl.col("value").sign().cast(pl.Int64)))
    rows = []
    for turn in turns:
        first = next((i for i, d in enumerate(sessions) if d >= turn.start), None)
        if first is None or sessions[0] > turn.start:
            continue
        expected = pl.DataFrame(turn.expected, schema={"dimension": pl.String, "direction": pl.Int64}, orient="row")
        hits = (found.filter(pl.col("session").is_between(first, first + horizon))
                .join(expected, on=["dimension", "direction"], how="semi").sort("session"))
        hit = hits.row(0, named=True) if hits.height else None
        rows.append({"turn": turn.name, "start": sessions[first],
                     "expected": ", ".join(f"{d} {'+' if s > 0 else '-'}" for d, s in turn.expected),
                     "alert_date": hit and hit["date"], "sessions_after": hit and hit["session"] - first,
                     "tier": hit and hit["tier"], "alert_type": hit and hit["alert_type"],
                     "dimension": hit and hit["dimension"], "value": hit and hit["value"]})
    return pl.DataFrame(rows, schema={"turn": pl.String, "start": pl.Date, "expected": pl.String,
                                      "alert_date": pl.Date, "sessions_after": pl.Int64, "tier": pl.String,
                                      "alert_type": pl.String, "dimension": pl.String, "value": pl.Float64})


def alert_rates(alerts: pl.DataFrame, sessions: list[dt.date], *, sessions_per_year: int = 252) -> dict[str, float]:
    """Alerts per year (a year = 252 sessions) over `sessions`, and the most in one calendar year, by tier."""
    inside = alerts.filter(pl.col("date").is_between(sessions[0], sessions[-1]))
    years = len(sessions) / sessions_per_year
    per_year = alerts_per_year(inside, range(sessions[0].year, sessions[-1].year + 1))
    report = {"years": years}
    for tier in ("CRITICAL", "HIGH", "MEDIUM"):
        report[f"{tier.lower()}_per_year"] = inside.filter(pl.col("tier") == tier).height / years
        report[f"{tier.lower()}_max_year"] = float(per_year.get_column(tier).max())  # type: ignore[arg-type]
    return report
