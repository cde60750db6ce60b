"""How well the signals read back the regimes planted in the synthetic market (the answer key).

Figures, over the sessions where the sentiment scores exist:
- `<regime>_<dimension>_reading`: share of the regime's sessions whose score is beyond the band in the
  expected direction (expansion: cycle > +0.3; contraction: cycle < -0.3; risk_off: risk < -0.3;
  rising_rates: rates > +0.3; inflation: inflation > +0.3);
- `flight_to_safety_spells`: share of risk_off spells with at least one flight-to-safety alert inside;
  `flight_to_safety_outside`: share of those alerts dated outside any risk_off spell (and outside both
  risk_off and contraction, where defensives also lead);
- `high_detection`: share of regime switches followed by a HIGH alert within `horizon` sessions (the switch
  session included); `high_false_alarm`: share of HIGH alerts that follow no switch within `horizon` sessions;
  `high_detection_chance`: the detection as many alert days spread at random would reach,
  1 - (1 - alert days / scored sessions) ** horizon: the bar `high_detection` has to clear to mean anything.
"""

from __future__ import annotations

import polars as pl

EXPECTED_READINGS = {
    "expansion": ("cycle", 1), "contraction": ("cycle", -1), "risk_off": ("risk", -1),
    "rising_rates": ("rates", 1), "inflation": ("inflation", 1),
}


def regime_detection(scores: pl.DataFrame, alerts: pl.DataFrame, regimes: pl.DataFrame, *, band: float = 0.3,
                     horizon: int = 20) -> dict[str, float]:
    """`regimes`: one row per session (date, regime_id, regime) as stored in raw.synthetic_regimes."""
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

