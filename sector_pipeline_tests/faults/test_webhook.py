"""Webhook outage: a hook that is down, answers 500 or hangs never fails a run nor blocks the publication; the
alerts stay pending in signals.alert_outbox and are delivered exactly once when the hook is back."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from sector_pipeline import notify
from sector_pipeline.defs.delivery_assets import OUTBOX, WebhookResource
from sector_pipeline.signals.alerts import ALERT_SCHEMA
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import NEXT_FIRST, NEXT_LAST, Stored, pipeline, table_hashes
from sector_pipeline_tests.faults.hooks import Hook, closed_port_url, serving

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

OUTBOX_ONLY = "signals/alert_outbox"
# Alerts dated from this day on are recent enough to send; the baseline's earlier ones are "too old".
SEND_FROM = dt.date(2024, 4, 1)


def max_age_days() -> int:
    return (dt.datetime.now(ZoneInfo("America/New_York")).date() - SEND_FROM).days


def hook_resource(url: str, **overrides: float) -> WebhookResource:
    settings = {"timeout_seconds": 0.5, "retry_budget_seconds": 1.5, "first_backoff_seconds": 0.05,
                "max_age_days": max_age_days(), **overrides}
    return WebhookResource(url=url, **settings)


def outbox(stored: Stored) -> list[tuple]:
    return Warehouse(stored.warehouse).query(
        f"select date, alert_type, dimension, state, attempts, last_error from {OUTBOX} order by date, alert_id").rows()


def check_of(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "alerts_delivered"]
    return check


def without_outbox(hashes: dict[str, str]) -> dict[str, str]:
    return {t: h for t, h in hashes.items() if t not in (OUTBOX, "meta.consumed_changes")}


def due_alerts(stored: Stored) -> list[str]:
    alerts = Warehouse(stored.warehouse).query("select * from signals.alerts where date >= $d", {"d": SEND_FROM})
    return sorted(notify.with_alert_ids(alerts).get_column("alert_id").to_list())


def test_hook_down_then_back_delivers_each_alert_exactly_once(stored: Stored) -> None:
    before = table_hashes(stored.warehouse)
    expected = due_alerts(stored)
    assert len(expected) >= 2  # the baseline raises alerts after SEND_FROM

    down = run_range(pipeline(stored.warehouse, webhook=hook_resource(closed_port_url())), NEXT_FIRST, NEXT_LAST,
                     selection=OUTBOX_ONLY)
    assert down.success  # a failing hook is a warning, never a failed step
    check = check_of(down)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "unreachable" in check.description and "Connection refused" in check.description
    assert "T0KEN" not in check.description  # the URL's path (often a token) is never shown
    rows = outbox(stored)
    pending = [r for r in rows if r[3] == notify.PENDING]
    assert len(pending) == len(expected) and all(r[0] >= SEND_FROM and r[4] >= 1 for r in pending)
    assert all(r[3] == notify.TOO_OLD and r[4] == 0 for r in rows if r[0] < SEND_FROM)  # never sent
    assert without_outbox(table_hashes(stored.warehouse)) == without_outbox(before)

    hook = Hook(200)
    with serving(hook) as url:
        back = run_range(pipeline(stored.warehouse, webhook=hook_resource(url)), NEXT_FIRST, NEXT_LAST,
                         selection=OUTBOX_ONLY)
        assert back.success and check_of(back).passed
        again = run_range(pipeline(stored.warehouse, webhook=hook_resource(url)), NEXT_FIRST, NEXT_LAST,
                          selection=OUTBOX_ONLY)
        assert again.success and check_of(again).passed
    assert sorted(hook.accepted_ids) == expected  # each due alert once, none of the old ones
    assert len(hook.posts) == 1 and hook.posts[0]["key"]  # one batch with an idempotency key, nothing resent
    sent = hook.accepted[0]
    assert sent["source"] == "synthetic" and {a["tier"] for a in sent["alerts"]} <= {"CRITICAL", "HIGH", "MEDIUM"}
    assert all(r[3] == notify.DELIVERED and r[5] is None for r in outbox(stored) if r[0] >= SEND_FROM)
    assert without_outbox(table_hashes(stored.warehouse)) == without_outbox(before)


def test_http_500_then_success_within_one_run_is_retried_with_backoff(stored: Stored) -> None:
    hook = Hook(500, 429, 200)
    with serving(hook) as url:
        result = run_range(pipeline(stored.warehouse, webhook=hook_resource(url, retry_budget_seconds=5)),
                           NEXT_FIRST, NEXT_LAST, selection=OUTBOX_ONLY)
    assert result.success and check_of(result).passed
    assert [p["answer"] for p in hook.posts] == [500, 429, 200]
    assert len({p["key"] for p in hook.posts}) == 1  # the same batch, the same key
    assert sorted(hook.accepted_ids) == due_alerts(stored)
    assert {r[4] for r in outbox(stored) if r[3] == notify.DELIVERED} == {3}


def test_a_hanging_hook_costs_at_most_the_retry_budget(stored: Stored) -> None:
    hook = Hook("hang", hang_seconds=3)
    with serving(hook) as url:
        began = time.monotonic()
        result = run_range(pipeline(stored.warehouse, webhook=hook_resource(url, timeout_seconds=0.4,
                                                                            retry_budget_seconds=1.0)),
                           NEXT_FIRST, NEXT_LAST, selection=OUTBOX_ONLY)
        spent = time.monotonic() - began
    assert result.success
    check = check_of(result)
    assert not check.passed and "timed out" in check.description
    assert len(hook.posts) in (2, 3) and spent < 15  # bounded: a few 0.4 s POSTs, not a blocked night
    assert {r[3] for r in outbox(stored) if r[0] >= SEND_FROM} == {notify.PENDING}


def test_a_failing_hook_never_blocks_marts_nor_publication(stored: Stored) -> None:
    published_before = stored.published_db.stat().st_mtime_ns
    result = run_range(pipeline(stored.warehouse, webhook=hook_resource(url="http://127.0.0.1:9/x")), NEXT_FIRST,
                       NEXT_LAST)
    assert result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"signals/alert_outbox", "marts/alerts", "marts/market_overview", "published/marts"} <= done
    assert stored.published_db.stat().st_mtime_ns != published_before
    assert not check_of(result).passed
    # the new session's rows reached every layer
    store = Warehouse(stored.warehouse)
    assert store.max_date("marts.market_overview") == NEXT_LAST == store.max_date("signals.sentiment_scores")


def test_a_history_backfill_never_floods_the_hook(stored: Stored) -> None:
    hook = Hook(200)
    with serving(hook) as url:
        result = run_range(pipeline(stored.warehouse, webhook=WebhookResource(url=url)), NEXT_FIRST, NEXT_LAST,
                           selection=OUTBOX_ONLY)
    assert result.success and check_of(result).passed
    assert hook.posts == []  # every stored alert is years old: none is sent
    assert {r[3] for r in outbox(stored)} == {notify.TOO_OLD}


def test_no_webhook_configured_keeps_alerts_pending_without_failing(stored: Stored) -> None:
    result = run_range(pipeline(stored.warehouse, webhook=WebhookResource(max_age_days=max_age_days())),
                       NEXT_FIRST, NEXT_LAST, selection=OUTBOX_ONLY)
    assert result.success and check_of(result).passed
    assert "no webhook configured" in check_of(result).description
    assert {r[3] for r in outbox(stored) if r[0] >= SEND_FROM} == {notify.PENDING}


# --- the outbox's pure parts (sector_pipeline/notify.py) -----------------------------------------------------

def alert_rows(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame([dict(zip(("date", "tier", "alert_type", "dimension"), r), value=0.7, threshold=0.6,
                              message="m") for r in rows], schema=ALERT_SCHEMA)


NOW = dt.datetime(2024, 5, 10, 22, 0)


def test_reconcile_queues_recent_alerts_ages_out_old_ones_and_withdraws_vanished_ones() -> None:
    first = alert_rows((dt.date(2024, 5, 9), "CRITICAL", "extreme", "risk"),
                       (dt.date(2024, 5, 2), "HIGH", "regime_change", "rates"),
                       (dt.date(2024, 4, 1), "MEDIUM", "rotation_velocity", None))
    box = notify.reconcile(first, pl.DataFrame(schema=notify.OUTBOX_SCHEMA), read_from=None,
                           today=dt.date(2024, 5, 10), max_age_days=10, now=NOW)
    assert box.select("date", "state").rows() == [(dt.date(2024, 4, 1), notify.TOO_OLD),
                                                  (dt.date(2024, 5, 2), notify.PENDING),
                                                  (dt.date(2024, 5, 9), notify.PENDING)]
    # a recomputation from May 5 no longer raises the May 9 alert; five days later the May 2 one is too old
    second = notify.reconcile(first.filter(pl.col("date") < dt.date(2024, 5, 5)), box, read_from=dt.date(2024, 5, 5),
                              today=dt.date(2024, 5, 15), max_age_days=10, now=NOW)
    assert second.select("date", "state").rows() == [(dt.date(2024, 4, 1), notify.TOO_OLD),
                                                     (dt.date(2024, 5, 2), notify.TOO_OLD),
                                                     (dt.date(2024, 5, 9), notify.WITHDRAWN)]
    assert second.get_column("alert_id").to_list() == box.get_column("alert_id").to_list()  # identity, not value


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(*answers: notify.HookAnswer, clock: FakeClock, post_seconds: float = 0.0):
    calls = []

    def post(url, body, headers, timeout):
        calls.append(timeout)
        clock.now += min(post_seconds, timeout)
        return answers[min(len(calls), len(answers)) - 1]

    return post, calls


def test_retries_back_off_and_stop_within_the_budget() -> None:
    clock = FakeClock()
    batch = notify.with_alert_ids(alert_rows((dt.date(2024, 5, 9), "CRITICAL", "extreme", "risk")))
    post, calls = scripted(notify.HookAnswer(None, "timed out"), clock=clock, post_seconds=10)
    delivery, left = notify.post_with_retries("https://h/x", batch, source="synthetic", timeout_seconds=10,
                                              budget_seconds=30, post=post, sleep=clock.sleep, clock=clock)
    # POST 10 s, wait 1, POST 10 s, wait 2, POST clipped to the 7 s left: never past the budget
    assert calls == [10, 10, 7] and clock.now == 30 and left == 0 and not delivery.delivered
    assert delivery.attempts == 3 and "unreachable: timed out" in delivery.error


def test_a_refusal_a_retry_cannot_fix_is_not_retried_and_retry_after_is_honoured() -> None:
    clock = FakeClock()
    batch = notify.with_alert_ids(alert_rows((dt.date(2024, 5, 9), "CRITICAL", "extreme", "risk")))
    post, calls = scripted(notify.HookAnswer(404, "no such hook"), clock=clock)
    delivery, _ = notify.post_with_retries("https://h/x", batch, source="s", timeout_seconds=5, budget_seconds=60,
                                           post=post, sleep=clock.sleep, clock=clock)
    assert len(calls) == 1 and delivery.error == "webhook https://h/… answered HTTP 404: no such hook"
    clock = FakeClock()
    post, calls = scripted(notify.HookAnswer(429, None, 7.0), notify.HookAnswer(200), clock=clock)
    delivery, _ = notify.post_with_retries("https://h/x", batch, source="s", timeout_seconds=5, budget_seconds=60,
                                           post=post, sleep=clock.sleep, clock=clock)
    assert delivery.delivered and delivery.attempts == 2 and clock.now == 7.0


def test_an_answer_that_is_not_http_or_a_url_that_does_not_parse_is_a_failure_not_an_exception() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def answer_garbage() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(b"garbage\r\n\r\n")
            conn.close()

        threading.Thread(target=answer_garbage, daemon=True).start()
        answer = notify.urllib_post(f"http://127.0.0.1:{server.getsockname()[1]}/x", b"{}", {}, 5)
    assert answer.status is None and answer.error.startswith("BadStatusLine")
    assert notify.urllib_post("http://[::1/x", b"{}", {}, 5).error == "ValueError: Invalid IPv6 URL"
    assert notify.redact("http://[::1/x") == "(a URL that does not parse)"
