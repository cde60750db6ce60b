"""Alert delivery through an outbox: signals.alerts -> signals.alert_outbox -> the webhook.

Nothing depends on this asset: marts, heatmaps and the publication never wait for the hook. A hook that is
down, answers 5xx or hangs costs at most `retry_budget_seconds` of the run; the asset then succeeds with a
WARN check (`alerts_delivered`) naming the failure, and the alerts stay pending for the next run. The webhook
URL comes from the environment through `dg.EnvVar`, so the UI shows the variable's name, never the URL (which
often embeds a token). sector_pipeline/notify.py holds the pure parts and the states of an alert.
"""


import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from sector_pipeline import notify
from sector_pipeline.defs.incremental import BEGINNING, Input, dirty_start, incremental_asset
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.resources import MarketDataResource, WarehouseResource
from sector_pipeline.signals.alerts import ALERT_SCHEMA
from sector_pipeline.warehouse import Warehouse, WindowWrite

ALERTS = "signals.alerts"
OUTBOX = "signals.alert_outbox"
OUTBOX_KEY = dg.AssetKey(["signals", "alert_outbox"])
WEBHOOK_ENV = "SECTOR_PIPELINE_ALERT_WEBHOOK"
# Alert dates are New York sessions: "today" for max_age_days is the New York date.
MARKET_TZ = ZoneInfo("America/New_York")


class WebhookResource(dg.ConfigurableResource):
    """The HTTP endpoint that receives new alerts as JSON; no URL: alerts wait in signals.alert_outbox."""

    url: Optional[str] = None
    """Set from SECTOR_PIPELINE_ALERT_WEBHOOK through dg.EnvVar (see `webhook_resource`)."""
    timeout_seconds: float = 10.0
    """Longest wait for one POST's answer (a hanging hook ends here)."""
    retry_budget_seconds: float = 60.0
    """Total time a run may spend on the hook (POSTs and backoff together); then the alerts wait for the next run."""
    first_backoff_seconds: float = 1.0
    """Wait before the second POST; doubles each time (or the hook's Retry-After)."""
    max_age_days: int = 5
    """Only alerts dated within this many days of today are ever sent, so a history backfill does not flood the hook."""
    batch_size: int = 50
    """Alerts per POST."""


def webhook_resource(url_is_set: bool) -> WebhookResource:
    """The resource for the definitions: the URL through dg.EnvVar when the variable is set, else no hook.

    (An EnvVar whose variable is unset fails every run's config, and the hook is optional.)
    """
    return WebhookResource(url=dg.EnvVar(WEBHOOK_ENV)) if url_is_set else WebhookResource()


def _read_outbox(store: Warehouse) -> pl.DataFrame:
    if not store.has_table(OUTBOX):
        return pl.DataFrame(schema=notify.OUTBOX_SCHEMA)
    return store.query(f"select * from {OUTBOX}").cast(notify.OUTBOX_SCHEMA)  # type: ignore[arg-type]


def _check(passed: bool, description: str, metadata: dict[str, object]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(asset_key=OUTBOX_KEY, check_name="alerts_delivered", passed=passed,
                               severity=dg.AssetCheckSeverity.WARN, description=description, metadata=metadata)


@incremental_asset(
    OUTBOX,
    inputs=[Input(ALERTS)],
    kinds={"duckdb", "polars"},
    check_specs=[dg.AssetCheckSpec(
        "alerts_delivered", asset=OUTBOX_KEY, blocking=False,
        description="Every alert due for the webhook was accepted by it (WARN: a failing hook never blocks a run)")],
)
def alert_outbox(context: dg.AssetExecutionContext, webhook: WebhookResource, market_data: MarketDataResource,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every alert's webhook delivery state; new recent alerts are sent, undelivered ones resent each run."""
    store = warehouse.get()
    with store.session():
        start, changes = dirty_start(store, OUTBOX, [ALERTS], [OUTBOX])
        outbox = _read_outbox(store)
        waiting = notify.due(outbox)
        oldest_due = waiting.get_column("date").min() if waiting.height else None
        read_from = min((d for d in (start, oldest_due) if d is not None), default=None)
        alerts = (store.read_window(ALERTS, read_from, None, schema=ALERT_SCHEMA) if read_from is not None
                  else pl.DataFrame(schema=ALERT_SCHEMA))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    today = dt.datetime.now(MARKET_TZ).date()
    outbox = notify.reconcile(alerts, outbox, read_from=read_from or dt.date.max, today=today,
                              max_age_days=webhook.max_age_days, now=now)
    waiting = notify.due(outbox)
    payload = (notify.with_alert_ids(alerts).join(waiting.select("alert_id"), on="alert_id", how="semi",
                                                  maintain_order="left")
               .select("alert_id", *ALERT_SCHEMA))

    deliveries: list[notify.Delivery] = []
    url = (webhook.url or "").strip()
    if not url:
        problem = f"no webhook configured ({WEBHOOK_ENV} is not set)" if payload.height else None
    elif not url.startswith(("http://", "https://")):
        problem = f"{WEBHOOK_ENV} must be an http(s) URL, got {notify.redact(url)}"
    else:
        problem = None
        if payload.height:
            deliveries = notify.deliver(url, payload, source=market_data.source, batch_size=webhook.batch_size,
                                        timeout_seconds=webhook.timeout_seconds,
                                        budget_seconds=webhook.retry_budget_seconds,
                                        first_backoff_seconds=webhook.first_backoff_seconds)
    outbox = notify.record(outbox, deliveries)
    if problem and payload.height:
        outbox = outbox.with_columns(
            pl.when(pl.col("state") == notify.PENDING).then(pl.lit(problem)).otherwise(pl.col("last_error"))
            .alias("last_error"))
    # The whole outbox (one row per alert ever raised: small) in ONE transaction, with the alerts' changes it
    # took in; a run killed before this line stored nothing and the next run starts over from the same state.
    store.replace_windows([WindowWrite(OUTBOX, outbox, track_changes=False)], BEGINNING, None,
                          run_id=context.run_id, consumer=OUTBOX, consumed=changes.seqs)

    sent = sum(len(d.alert_ids) for d in deliveries if d.delivered)
    failed = next((d.error for d in deliveries if not d.delivered), None) or (problem if url else None)
    still_due = notify.due(outbox)
    states = outbox.group_by("state").len().sort("state")
    metadata: dict[str, object] = {
        "webhook": notify.redact(url) if url else f"none ({WEBHOOK_ENV} not set)",
        "delivered_this_run": sent,
        "pending": still_due.height,
        "posts_this_run": sum(d.attempts for d in deliveries),
        "by_state": markdown_table(states),
        "pending_alerts": markdown_table(still_due.select("date", "tier", "alert_type", "dimension", "attempts",
                                                          "last_error"), max_rows=30),
    }
    if failed:
        context.log.warning(f"{still_due.height} alert(s) not delivered, they stay pending for the next run: {failed}")
        metadata["last_error"] = failed
        check = _check(False, f"{still_due.height} alert(s) not delivered: {failed}", metadata)
    elif not url:
        check = _check(True, f"no webhook configured ({WEBHOOK_ENV}): {still_due.height} alert(s) wait in {OUTBOX}",
                       metadata)
    else:
        check = _check(True, f"{sent} alert(s) delivered this run, none pending", metadata)
    return dg.MaterializeResult(metadata={**metadata, "dagster/row_count": outbox.height}, check_results=[check])


DELIVERY_ASSETS = [alert_outbox]
