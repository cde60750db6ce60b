import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.notify import WebhookError, post_alerts
from sector_pipeline.signals.alerts import detect_alerts, rotation_velocity
from sector_pipeline.signals.config import AlertConfig

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


def test_extreme_reading_fires_once_when_it_starts():
    cycle = [0.1] * 10 + [0.65] * 5 + [0.2] * 5 + [-0.7] * 3 + [0.0] * 7
    alerts = detect_alerts(scores_frame({"cycle": cycle}), steady_rankings(days=DAYS[:30]), CHARS).collect()
    extremes = alerts.filter(alert_type="extreme_reading")
    assert extremes.select("date", "value").rows() == [(DAYS[10], 0.65), (DAYS[20], -0.7)]
    assert extremes.get_column("tier").to_list() == ["CRITICAL", "CRITICAL"]
    assert "Extreme reading: Cycle at 0.65" in extremes.item(0, "message")


def test_flight_to_safety_needs_defensive_leaders():
    risk = [0.0] * 5 + [-0.7] * 10 + [0.0] * 5
    defensive_first = steady_rankings(("XLU", "XLP", "XLK", "XLY", "XLV"), DAYS[:20])
    cyclical_first = steady_rankings(("XLK", "XLY", "XLU", "XLP", "XLV"), DAYS[:20])
    with_defensives = detect_alerts(scores_frame({"risk": risk}), defensive_first, CHARS).collect()
    flight = with_defensives.filter(alert_type="flight_to_safety")
    assert flight.select("date", "tier", "value", "threshold").rows() == [(DAYS[5], "CRITICAL", -0.7, -0.6)]
    assert "defensive leaders (XLU, XLP, XLK)" in flight.item(0, "message")
    without = detect_alerts(scores_frame({"risk": risk}), cyclical_first, CHARS).collect()
    assert without.filter(alert_type="flight_to_safety").is_empty()


def test_regime_change_compares_with_twenty_sessions_earlier():
    rates = [0.0] * 30 + [0.45] * 30
    raw = detect_alerts(scores_frame({"rates": rates}), steady_rankings(days=DAYS[:60]), CHARS,
                        config=AlertConfig(smoothing_sessions=1)).collect()
    change = raw.filter(alert_type="regime_change")
    assert change.select("date", "tier", "dimension").rows() == [(DAYS[30], "HIGH", "rates")]
    assert change.item(0, "value") == pytest.approx(0.45)
    # 20 sessions later the delta falls back to 0 and the condition ends; nothing else fires
    # default: 3-session means, so the step shows fully (0.45 > 0.4) on its third session
    smoothed = detect_alerts(scores_frame({"rates": rates}), steady_rankings(days=DAYS[:60]), CHARS).collect()
    assert smoothed.filter(alert_type="regime_change").select("date", "value").rows() == [(DAYS[32], 0.45)]


def test_hysteresis_keeps_a_hovering_score_to_one_alert():
    cycle = [0.0] * 5 + [0.61, 0.59, 0.62, 0.55, 0.65, 0.52, 0.61] + [0.45, 0.7]
    alerts = detect_alerts(scores_frame({"cycle": cycle}), steady_rankings(days=DAYS[:14]), CHARS).collect()
    # on at 0.61; stays on while above 0.5; off at 0.45; on again at 0.7
    assert alerts.filter(alert_type="extreme_reading").get_column("date").to_list() == [DAYS[5], DAYS[13]]


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
    alerts = detect_alerts(scores_frame({"risk": [0.0] * 80}), rankings, CHARS, config=config).collect()
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


def test_webhook_posts_the_alerts_as_json(receiver):
    alerts = pl.DataFrame({"date": [dt.date(2024, 5, 1)], "tier": ["HIGH"], "alert_type": ["regime_change"],
                           "dimension": ["rates"], "value": [0.45], "threshold": [0.4], "message": ["m"]})
    url = f"http://127.0.0.1:{receiver.server_port}/hooks/alerts"
    assert post_alerts(url, alerts, source="synthetic") == 200
    (got,) = _Receiver.received
    assert got["path"] == "/hooks/alerts" and got["type"] == "application/json"
    assert got["body"]["count"] == 1 and got["body"]["source"] == "synthetic"
    assert got["body"]["alerts"][0] == {"date": "2024-05-01", "tier": "HIGH", "alert_type": "regime_change",
                                        "dimension": "rates", "value": 0.45, "threshold": 0.4, "message": "m"}


def test_webhook_failure_is_a_clear_error(receiver):
    _Receiver.status = 500
    url = f"http://127.0.0.1:{receiver.server_port}/x"
    with pytest.raises(WebhookError, match="answered HTTP 500 to 0 alert"):
        post_alerts(url, pl.DataFrame(schema={"date": pl.Date()}), source="synthetic")
    with pytest.raises(WebhookError, match="unreachable"):
        post_alerts("http://127.0.0.1:9/nothing-listens-here", pl.DataFrame(schema={"date": pl.Date()}),
                    source="synthetic", timeout_seconds=2)
