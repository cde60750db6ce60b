"""Send alerts to a webhook through an outbox: pure Python and Polars (stdlib HTTP), no Dagster, no DuckDB.

The outbox is one row per alert ever raised, keyed by `alert_id` (a hash of date, alert type and dimension, so
a recomputed alert keeps its key), with its delivery state:

    pending             due: sent at the next delivery, and again at every later run until the hook accepts it
    delivered           the hook answered 2xx (`delivered_at_utc`); never sent again
    not sent: too old   dated more than `max_age_days` before today when first seen or while still pending,
                        so a history backfill never floods the hook
    withdrawn           a pending alert that a recomputation of signals.alerts no longer raises

The asset `signals/alert_outbox` (defs/delivery_assets.py) reconciles new alerts into the outbox, delivers
what is due with `deliver`, and stores the outbox back in one transaction. Each POST carries the alerts'
`alert_id`s and an `Idempotency-Key` header: a receiver that keeps the ids it has seen gets every alert once
even in the one case the pipeline cannot rule out, a run killed after the hook accepted a batch and before the
outbox was stored (the next run sends that batch again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable

import polars as pl

from sector_pipeline.contracts import schema_of
from sector_pipeline.contracts.meta import AlertOutbox
from sector_pipeline.vocabulary import DELIVERED, PENDING, TIER_ORDER, TOO_OLD, WITHDRAWN

# The outbox's columns and types: its contract (contracts/meta.py AlertOutbox)
OUTBOX_SCHEMA: dict[str, pl.DataType] = schema_of(AlertOutbox)
_IDENTITY = ("date", "alert_type", "dimension")


def redact(url: str) -> str:
    """scheme://host[:port]/… : webhook paths and queries often embed a secret token, so messages omit them."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "?", f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that does not parse)"
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path not in ("", "/") or parts.query else "")


def with_alert_ids(alerts: pl.DataFrame) -> pl.DataFrame:
    """The alerts with `alert_id`: sha256 of date|alert_type|dimension (the alert's identity, not its value)."""
    identity = (alerts.select(pl.concat_str([pl.col("date").cast(pl.String), pl.col("alert_type"),
                                             pl.col("dimension").fill_null("-")], separator="|"))
                .to_series().to_list())
    ids = [hashlib.sha256(text.encode()).hexdigest()[:24] for text in identity]
    return alerts.with_columns(pl.Series("alert_id", ids, dtype=pl.String))


def _ordered(outbox: pl.DataFrame) -> pl.DataFrame:
    return outbox.sort(pl.col("date"), pl.col("tier").replace_strict(TIER_ORDER, default=9, return_dtype=pl.Int8),
                       pl.col("alert_type"), pl.col("dimension"), nulls_last=True)


def reconcile(alerts: pl.DataFrame, outbox: pl.DataFrame, *, read_from: dt.date | None, today: dt.date,
              max_age_days: int, now: dt.datetime) -> pl.DataFrame:
    """The outbox after taking in `alerts` (signals.alerts rows dated >= `read_from`; None: every row).

    New alerts are queued, or marked too old when dated before today - max_age_days; pending alerts age out the
    same way; a pending alert dated >= read_from that `alerts` no longer holds is withdrawn. Delivered, too old
    and withdrawn rows never change.
    """
    cutoff = today - dt.timedelta(days=max_age_days)
    stored = outbox.cast(OUTBOX_SCHEMA)  # type: ignore[arg-type]
    keyed = with_alert_ids(alerts)
    new = keyed.join(stored.select("alert_id"), on="alert_id", how="anti").select(
        "alert_id", "date", "tier", "alert_type", "dimension",
        pl.when(pl.col("date") < cutoff).then(pl.lit(TOO_OLD)).otherwise(pl.lit(PENDING)).alias("state"),
        pl.lit(0, dtype=pl.Int64).alias("attempts"),
        pl.lit(None, dtype=pl.String).alias("last_error"),
        pl.lit(now).cast(pl.Datetime("us")).alias("queued_at_utc"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("last_attempt_at_utc"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("delivered_at_utc"),
    )
    pending = pl.col("state") == PENDING
    in_read = pl.lit(True) if read_from is None else pl.col("date") >= read_from
    gone = ~pl.col("alert_id").is_in(keyed.get_column("alert_id").implode())
    updated = stored.with_columns(
        pl.when(pending & in_read & gone).then(pl.lit(WITHDRAWN))
        .when(pending & (pl.col("date") < cutoff)).then(pl.lit(TOO_OLD))
        .otherwise(pl.col("state")).alias("state"))
    return _ordered(pl.concat([updated, new.cast(OUTBOX_SCHEMA)]))  # type: ignore[arg-type]


def due(outbox: pl.DataFrame) -> pl.DataFrame:
    """The pending rows, oldest first."""
    return _ordered(outbox.filter(pl.col("state") == PENDING))


# --- HTTP -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HookAnswer:
    """One POST's outcome: an HTTP status, or no status and the network error."""

    status: int | None
    error: str | None = None
    retry_after_seconds: float | None = None  # the hook's Retry-After (429 / 503), when it gave seconds

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Worth another try within this run: no answer, a timeout, a rate limit or a server error.

        Other 4xx (400, 401, 403, 404, 410) say the request or the configuration is wrong: retrying at once
        cannot help; the alerts stay pending and the next run tries again.
        """
        return self.status is None or self.status in (408, 425, 429) or self.status >= 500

    def describe(self, url: str) -> str:
        if self.status is None:
            return f"webhook {redact(url)} unreachable: {self.error}"
        return f"webhook {redact(url)} answered HTTP {self.status}" + (f": {self.error}" if self.error else "")


Post = Callable[[str, bytes, dict[str, str], float], HookAnswer]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: our own backoff applies


def urllib_post(url: str, body: bytes, headers: dict[str, str], timeout_seconds: float) -> HookAnswer:
    """POST with the stdlib; every failure is an answer, never an exception (a hang ends at the timeout)."""
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (configured URL)
            return HookAnswer(int(response.status))
    except urllib.error.HTTPError as exc:  # a subclass of URLError: first
        text = exc.read(200).decode("utf-8", errors="replace").strip() if exc.fp is not None else ""
        return HookAnswer(exc.code, text[:200] or None, _retry_after(exc.headers.get("Retry-After")))
    except urllib.error.URLError as exc:
        return HookAnswer(None, str(getattr(exc, "reason", exc)))
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        # a read timeout (hang), a reset connection, an answer that is not HTTP, a URL that does not parse
        return HookAnswer(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def alerts_payload(alerts: pl.DataFrame, *, source: str) -> dict[str, object]:
    """The JSON document posted: who sent it, how many alerts, and each alert with ISO dates."""
    rows = alerts.with_columns(pl.col("date").cast(pl.String)).to_dicts()
    return {"sender": "sector_pipeline", "source": source, "count": len(rows), "alerts": rows}


def _body_and_headers(alerts: pl.DataFrame, source: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(alerts_payload(alerts, source=source)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "sector_pipeline"}
    if "alert_id" in alerts.columns:
        ids = ",".join(sorted(alerts.get_column("alert_id").to_list()))
        headers["Idempotency-Key"] = hashlib.sha256(ids.encode()).hexdigest()[:32]
    return body, headers


@dataclass(frozen=True)
class Delivery:
    """What one batch's delivery did: accepted or not, after how many POSTs, and the last failure."""

    alert_ids: tuple[str, ...]
    delivered: bool
    attempts: int
    error: str | None
    at: dt.datetime  # UTC, naive: when the last POST was made


def post_with_retries(url: str, alerts: pl.DataFrame, *, source: str, timeout_seconds: float,
                      budget_seconds: float, first_backoff_seconds: float = 1.0, max_backoff_seconds: float = 30.0,
                      post: Post = urllib_post, sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic,
                      utcnow: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None),
                      ) -> tuple[Delivery, float]:
    """POST one batch until the hook accepts it or `budget_seconds` are spent; returns (delivery, seconds left).

    Each POST's timeout is clipped to the time left, and a backoff (doubling from `first_backoff_seconds`, or
    the hook's Retry-After) is only slept when another POST can still start before the budget ends: a hook that
    hangs or is down costs at most the budget, never more.
    """
    deadline = clock() + budget_seconds
    body, headers = _body_and_headers(alerts, source)
    ids = tuple(alerts.get_column("alert_id").to_list())
    attempts, delay, error = 0, first_backoff_seconds, None
    while True:
        left = deadline - clock()
        if left <= 0 and attempts:
            break
        attempts += 1
        answer = post(url, body, headers, max(0.001, min(timeout_seconds, left)))
        if answer.accepted:
            return Delivery(ids, True, attempts, None, utcnow()), max(0.0, deadline - clock())
        error = answer.describe(url)
        if not answer.retryable:
            break
        wait = answer.retry_after_seconds if answer.retry_after_seconds is not None else delay
        if clock() + wait >= deadline:
            error += f" (gave up after {attempts} attempt(s) within the {budget_seconds:g} s retry budget)"
            break
        sleep(wait)
        delay = min(delay * 2, max_backoff_seconds)
    return Delivery(ids, False, attempts, error, utcnow()), max(0.0, deadline - clock())


def deliver(url: str, alerts: pl.DataFrame, *, source: str, batch_size: int, timeout_seconds: float,
            budget_seconds: float, first_backoff_seconds: float = 1.0, post: Post = urllib_post,
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> list[Delivery]:
    """Deliver due alerts (rows of signals.alerts with `alert_id`) in batches sharing one time budget.

    Stops at the first batch the hook refuses: the hook is down or misconfigured, and the later batches wait in
    the outbox for the next run rather than spending the budget again.
    """
    deliveries: list[Delivery] = []
    left = budget_seconds
    for offset in range(0, alerts.height, max(1, batch_size)):
        batch = alerts.slice(offset, batch_size)
        delivery, left = post_with_retries(url, batch, source=source, timeout_seconds=timeout_seconds,
                                           budget_seconds=left, first_backoff_seconds=first_backoff_seconds,
                                           post=post, sleep=sleep, clock=clock)
        deliveries.append(delivery)
        if not delivery.delivered:
            break
    return deliveries


def record(outbox: pl.DataFrame, deliveries: list[Delivery]) -> pl.DataFrame:
    """The outbox with each delivery's outcome: attempts added, state, last error and times set."""
    if not deliveries:
        return outbox
    outcome = pl.DataFrame(
        [{"alert_id": i, "ok": d.delivered, "tries": d.attempts, "error": d.error, "at": d.at}
         for d in deliveries for i in d.alert_ids],
        schema={"alert_id": pl.String, "ok": pl.Boolean, "tries": pl.Int64, "error": pl.String,
                "at": pl.Datetime("us")})
    return _ordered(
        outbox.join(outcome, on="alert_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("ok")).then(pl.lit(DELIVERED)).otherwise(pl.col("state")).alias("state"),
            (pl.col("attempts") + pl.col("tries").fill_null(0)).alias("attempts"),
            pl.when(pl.col("ok").is_null()).then(pl.col("last_error")).otherwise(pl.col("error")).alias("last_error"),
            pl.coalesce("at", "last_attempt_at_utc").alias("last_attempt_at_utc"),
            pl.when(pl.col("ok")).then(pl.col("at")).otherwise(pl.col("delivered_at_utc")).alias("delivered_at_utc"),
        )
        .select(list(OUTBOX_SCHEMA))
    )
