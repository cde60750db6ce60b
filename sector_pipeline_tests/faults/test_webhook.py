"""Webhook outage: a hook that is down, answers 500 or hangs never fails a run nor blocks the publication; the
alerts stay pending in signals.alert_outbox and are delivered exactly once when the hook is back."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import dagster as dg

from sector_pipeline import notify
from sector_pipeline.defs.delivery_assets import OUTBOX, WebhookResource
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import NEXT_FIRST, NEXT_LAST, Stored, pipeline, table_hashes
from sector_pipeline_tests.faults.hooks import Hook, closed_port_url, serving

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
