import datetime as dt
import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.notify import deliver, with_alert_ids
from sector_pipeline.signals.alerts import (
    CONDITION_SCHEMA,
    alert_lookback_sessions,
    detect_alerts,
    rotation_velocity,
)
from sector_pipeline.signals.config import AlertConfig
from sector_pipeline.signals.evaluation import as_staging, sentiment_signals
from sector_pipeline.sources.synthetic import SyntheticSource

DAYS = sessions(dt.date(2023, 1, 3), dt.date(2024, 12, 31))
CHARS = pl.DataFrame({"ticker": ["XLK", "XLY", "XLU", "XLP", "XLV"], "cycle": [0.6, 1.0, -1.0, -0.9, -0.5],
                      "rates": [0.0] * 5, "inflation": [0.0] * 5, "risk": [1.0, 0.8, -1.0, -0.9, -0.5]})


def scores_frame(series: dict[str, list[float]]) -> pl.LazyFrame:
    rows = [{"date": d, "dimension": dim, "label": dim.title(), "score": v}
            for dim, values in series.items() for d, v in zip(DAYS, values)]
    return pl.DataFrame(rows).lazy()


def steady_rankings(order=("XLK", "XLY", "XLV", "XLP", "XLU"), days=DAYS) -> pl.LazyFrame:
    return pl.DataFrame([{"date": d, "ticker": t, "rank": i + 1, "is_ranked": True}
                         for d in days for i, t in enumerate(order)]).lazy()


# The seed's rules on daily scores, without the cool-downs: the tests of the latch and thresholds themselves.
RAW = AlertConfig(smoothing_sessions=1, critical_cooldown_sessions=0, high_cooldown_sessions=0)


def alerts_of(series: dict[str, list[float]], rankings: pl.LazyFrame | None = None,
              config: AlertConfig = RAW) -> pl.DataFrame:
    days = len(next(iter(series.values())))
    rankings = steady_rankings(days=DAYS[:days]) if rankings is None else rankings
    return detect_alerts(scores_frame(series), rankings, CHARS, config=config).alerts.collect()


def test_extreme_reading_fires_once_when_it_starts():
    cycle = [0.1] * 10 + [0.65] * 5 + [0.2] * 5 + [-0.7] * 3 + [0.0] * 7
    extremes = alerts_of({"cycle": cycle}).filter(alert_type="extreme_reading")
    assert extremes.select("date", "value", "threshold").rows() == [(DAYS[10], 0.65, 0.6), (DAYS[20], -0.7, -0.6)]
    assert extremes.get_column("tier").to_list() == ["CRITICAL", "CRITICAL"]
    assert "Extreme reading: Cycle at 0.65 (1-session mean beyond ±0.6)" == extremes.item(0, "message")


def test_flight_to_safety_needs_defensive_leaders():
    risk = [0.0] * 5 + [-0.7] * 10 + [0.0] * 5
    # nine ranked sectors: the leaders are the top third, 3 (vocabulary.leader_count)
    defensive_first = steady_rankings(("XLU", "XLP", "XLK", "XLY", "XLV", "XLF", "XLI", "XLB", "XLE"), DAYS[:20])
    cyclical_first = steady_rankings(("XLK", "XLY", "XLU", "XLP", "XLV", "XLF", "XLI", "XLB", "XLE"), DAYS[:20])
    flight = alerts_of({"risk": risk}, defensive_first).filter(alert_type="flight_to_safety")
    assert flight.select("date", "tier", "value", "threshold").rows() == [(DAYS[5], "CRITICAL", -0.7, -0.6)]
    assert "defensive leaders (XLU, XLP, XLK)" in flight.item(0, "message")
    assert alerts_of({"risk": risk}, cyclical_first).filter(alert_type="flight_to_safety").is_empty()


def test_regime_change_compares_nine_session_means_twenty_sessions_apart():
    rates = [0.0] * 30 + [0.5] * 30
    change = alerts_of({"rates": rates}).filter(alert_type="regime_change")
    assert change.select("date", "tier", "dimension", "threshold").rows() == [(DAYS[30], "HIGH", "rates", 0.4)]
    assert change.item(0, "value") == pytest.approx(0.5)
    # default: 9-session means, so the step shows as 0.5 / 9 more each session: above 0.4 on its eighth session
    smoothed = alerts_of({"rates": rates}, config=AlertConfig()).filter(alert_type="regime_change")
    assert smoothed.select("date").to_series().to_list() == [DAYS[37]]
    assert smoothed.item(0, "value") == pytest.approx(4 / 9, abs=1e-12)
    assert smoothed.item(0, "message") == "Regime change: Rates moved 0.44 in 20 sessions, to 0.44 (9-session mean)"


def test_regime_change_must_land_beyond_the_band():
    # -0.45 in 20 sessions, but from +0.2 to -0.25: two neutral readings, no regime change
    neutral = alerts_of({"cycle": [0.2] * 25 + [-0.25] * 25}).filter(alert_type="regime_change")
    assert neutral.is_empty()
    landed = alerts_of({"cycle": [0.2] * 25 + [-0.4] * 25}).filter(alert_type="regime_change")
    assert landed.select("date", "value", "threshold").rows() == [(DAYS[25], pytest.approx(-0.6), -0.4)]
    seed = alerts_of({"cycle": [0.2] * 25 + [-0.25] * 25}, config=replace(RAW, regime_band=None))
    assert seed.filter(alert_type="regime_change").get_column("date").to_list() == [DAYS[25]]


def test_hysteresis_keeps_a_hovering_score_to_one_alert():
    cycle = [0.0] * 5 + [0.61, 0.59, 0.62, 0.55, 0.65, 0.52, 0.61] + [0.45, 0.7]
    alerts = alerts_of({"cycle": cycle})
    # on at 0.61; stays on while above 0.5; off at 0.45; on again at 0.7
    assert alerts.filter(alert_type="extreme_reading").get_column("date").to_list() == [DAYS[5], DAYS[13]]


def test_cool_down_mutes_a_repeat_in_the_same_direction_but_never_a_reversal():
    # extreme upward at 5, again at 25 and 95; downward at 40
    cycle = [0.0] * 5 + [0.7] * 5 + [0.0] * 15 + [0.7] * 5 + [0.0] * 10 + [-0.7] * 5 + [0.0] * 50 + [0.7] * 5
    config = replace(RAW, critical_cooldown_sessions=60)
    got = alerts_of({"cycle": cycle}, config=config).filter(alert_type="extreme_reading")
    # 25 is 20 sessions after the start at 5: muted; 95 is 70 after 25's start (a start, even muted, counts)
    assert got.select("date", "value").rows() == [(DAYS[5], 0.7), (DAYS[40], -0.7), (DAYS[95], 0.7)]
    assert alerts_of({"cycle": cycle}, config=replace(RAW, critical_cooldown_sessions=90)).filter(
        alert_type="extreme_reading").get_column("date").to_list() == [DAYS[5], DAYS[40]]
    conditions = detect_alerts(scores_frame({"cycle": cycle}), steady_rankings(days=DAYS[:100]), CHARS,
                               config=config).conditions.collect().filter(alert_type="extreme_reading")
    day = {d: row for d, row in zip(conditions.get_column("date"), conditions.iter_rows(named=True))}
    assert (day[DAYS[24]]["side"], day[DAYS[24]]["sessions_since_up"]) == (0, 19)
    assert (day[DAYS[25]]["side"], day[DAYS[25]]["is_on"], day[DAYS[25]]["sessions_since_up"]) == (1, True, 0)
    assert (day[DAYS[41]]["side"], day[DAYS[41]]["sessions_since_down"], day[DAYS[41]]["sessions_since_up"]) == (
        -1, 1, 16)
    assert day[DAYS[4]]["sessions_since_up"] is None


def test_lookback_covers_the_longest_read():
    assert alert_lookback_sessions(AlertConfig()) == 10 + 252 + 5  # the MEDIUM quiet sessions, history, lag
    assert alert_lookback_sessions(AlertConfig(smoothing_sessions=300)) == 299 + 20


def test_previous_conditions_need_a_start():
    with pytest.raises(ValueError, match="need the `start` date"):
        detect_alerts(scores_frame({"cycle": [0.0] * 5}), steady_rankings(days=DAYS[:5]), CHARS,
                      previous=pl.DataFrame(schema=CONDITION_SCHEMA))


def detect_in_chunks(scores: pl.DataFrame, rankings: pl.DataFrame, characteristics: pl.DataFrame,
                     starts: list[dt.date], config: AlertConfig = AlertConfig()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the incremental asset does: each chunk [start, next start) reads its inputs from `lookback` sessions
    before `start` and continues from the conditions the previous chunk stored for its last session."""
    sessions = rankings.get_column("date").unique().sort().to_list()
    lookback = alert_lookback_sessions(config)
    alerts, conditions, previous = [], [], None
    for start, end in zip(starts, [*starts[1:], None]):
        first = sessions[max(0, sessions.index(start) - lookback)]
        window = pl.col("date").is_between(first, end or sessions[-1], closed="both" if end is None else "left")
        frames = detect_alerts(scores.filter(window).lazy(), rankings.filter(window).lazy(), characteristics,
                               config=config, previous=previous, start=start)
        chunk_alerts, chunk_conditions = frames.alerts.collect(), frames.conditions.collect()
        alerts.append(chunk_alerts)
        conditions.append(chunk_conditions)
        previous = chunk_conditions.filter(pl.col("date") == pl.col("date").max())
    return pl.concat(alerts), pl.concat(conditions)


@pytest.fixture(scope="module")
def synthetic(universe):
    prices = SyntheticSource(universe, seed=5).fetch_prices(universe.instruments, dt.date(2012, 1, 3),
                                                            dt.date(2016, 12, 30))
    rankings, _, scores = sentiment_signals(as_staging(prices), universe)
    return scores, rankings, universe.characteristics()


@pytest.mark.parametrize("starts", [
    [dt.date(2013, 6, 3)],
    [dt.date(2012, 7, 2), dt.date(2014, 2, 3), dt.date(2016, 11, 1)],
])
def test_chunks_continue_the_full_history_bit_for_bit(synthetic, starts):
    scores, rankings, characteristics = synthetic
    full = detect_alerts(scores.lazy(), rankings.lazy(), characteristics)
    full_alerts, full_conditions = full.alerts.collect(), full.conditions.collect()
    first = scores.get_column("date").min()
    alerts, conditions = detect_in_chunks(scores, rankings, characteristics, [first, *starts])
    # per date: 4 extreme-reading, 4 regime-change and 1 flight-to-safety conditions
    assert full_alerts.height > 20 and full_conditions.height == scores.height // 4 * 9
    assert alerts.equals(full_alerts) and conditions.equals(full_conditions)
    # and chunks that start on a day a condition holds, the day after it started (inside its cool-down)
    held = full_conditions.filter(pl.col("is_on") & (pl.col("sessions_since_up") == 1)
                                  & (pl.col("date") > dt.date(2013, 1, 1)))
    on = held.item(0, "date")
    alerts, conditions = detect_in_chunks(scores, rankings, characteristics, [first, on])
    assert alerts.equals(full_alerts) and conditions.equals(full_conditions)


def test_rotation_velocity_is_mean_absolute_rank_change_over_five_sessions():
    order_a = ("XLK", "XLY", "XLV", "XLP", "XLU")
    order_b = ("XLU", "XLP", "XLV", "XLY", "XLK")  # ranks change by 4, 2, 0, 2, 4 -> mean 2.4
    days = DAYS[:10]
    rankings = pl.concat([steady_rankings(order_a, days[:5]), steady_rankings(order_b, days[5:])])
    v = rotation_velocity(rankings).collect()
    assert v.get_column("velocity").to_list()[:5] == [None] * 5
    assert v.get_column("velocity").to_list()[5:] == pytest.approx([2.4] * 5)


def test_medium_alert_when_velocity_breaks_its_trailing_90th_percentile():
    config = AlertConfig(velocity_history=40, velocity_min_history=20)
    orders = [("XLK", "XLY", "XLV", "XLP", "XLU"), ("XLY", "XLK", "XLV", "XLP", "XLU")]  # small swaps
    days = DAYS[:80]
    rows = [steady_rankings(orders[(i // 3) % 2], [d]) for i, d in enumerate(days[:60])]
    rows += [steady_rankings(("XLU", "XLP", "XLV", "XLY", "XLK") if i % 5 < 3 else orders[0], [d])
             for i, d in enumerate(days[60:])]
    rankings = pl.concat(rows)
    alerts = detect_alerts(scores_frame({"risk": [0.0] * 80}), rankings, CHARS, config=config).alerts.collect()
    medium = alerts.filter(tier="MEDIUM")
    v = rotation_velocity(rankings, config=config).collect()
    assert medium.height >= 1
    first = medium.row(0, named=True)
    assert first["date"] >= days[60] and first["value"] > first["threshold"]
    # the threshold is the 90th percentile of the previous 40 velocities, today excluded
    idx = days.index(first["date"])
    past = v.get_column("velocity").to_list()[idx - 40:idx]
    assert first["threshold"] == pytest.approx(pl.Series([x for x in past if x is not None]).quantile(
        0.9, interpolation="linear"), rel=1e-12)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server API)
        length = int(self.headers["Content-Length"])
        type(self).received.append({"path": self.path, "type": self.headers["Content-Type"],
                                    "body": json.loads(self.rfile.read(length))})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _deliver(url: str, alerts: pl.DataFrame, **kwargs):
    settings = {"source": "synthetic", "batch_size": 50, "timeout_seconds": 2.0, "budget_seconds": 2.0,
                "first_backoff_seconds": 5.0, **kwargs}  # a backoff beyond the budget: one POST per batch
    return deliver(url, with_alert_ids(alerts), **settings)


def test_webhook_posts_the_alerts_as_json(receiver):
    alerts = pl.DataFrame({"date": [dt.date(2024, 5, 1)], "tier": ["HIGH"], "alert_type": ["regime_change"],
                           "dimension": ["rates"], "value": [0.45], "threshold": [0.4], "message": ["m"]})
    url = f"http://127.0.0.1:{receiver.server_port}/hooks/alerts"
    (delivery,) = _deliver(url, alerts)
    assert delivery.delivered and delivery.attempts == 1 and delivery.error is None
    (got,) = _Receiver.received
    assert got["path"] == "/hooks/alerts" and got["type"] == "application/json"
    assert got["body"]["count"] == 1 and got["body"]["source"] == "synthetic"
    sent = got["body"]["alerts"][0]
    assert {k: v for k, v in sent.items() if k != "alert_id"} == {
        "date": "2024-05-01", "tier": "HIGH", "alert_type": "regime_change", "dimension": "rates", "value": 0.45,
        "threshold": 0.4, "message": "m"}
    assert sent["alert_id"] == delivery.alert_ids[0]


def test_webhook_failure_is_a_clear_error(receiver):
    _Receiver.status = 500
    alerts = pl.DataFrame({"date": [dt.date(2024, 5, 1)], "tier": ["HIGH"], "alert_type": ["regime_change"],
                           "dimension": ["rates"], "value": [0.45], "threshold": [0.4], "message": ["m"]})
    (refused,) = _deliver(f"http://127.0.0.1:{receiver.server_port}/x", alerts)
    assert not refused.delivered and refused.attempts == 1
    # the path is redacted (hooks often carry a token in it)
    assert refused.error == (f"webhook http://127.0.0.1:{receiver.server_port}/… answered HTTP 500 "
                             "(gave up after 1 attempt(s) within the 2 s retry budget)")
    (unreachable,) = _deliver("http://127.0.0.1:9/nothing-listens-here", alerts)
    assert not unreachable.delivered and unreachable.error.startswith("webhook http://127.0.0.1:9/… unreachable: ")
