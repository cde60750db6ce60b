"""Send alerts to a webhook: one HTTP POST with a JSON body per batch (stdlib only, no Dagster)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import polars as pl

from sector_pipeline.errors import SectorPipelineError


class WebhookError(SectorPipelineError):
    """The webhook did not accept the alerts."""


def alerts_payload(alerts: pl.DataFrame, *, source: str) -> dict[str, object]:
    """The JSON document posted: who sent it, how many alerts, and each alert with ISO dates."""
    rows = alerts.with_columns(pl.col("date").cast(pl.String)).to_dicts()
    return {"sender": "sector_pipeline", "source": source, "count": len(rows), "alerts": rows}


def post_alerts(url: str, alerts: pl.DataFrame, *, source: str, timeout_seconds: float = 10.0) -> int:
    """POST the alerts as JSON to `url`; returns the HTTP status. Raises WebhookError on any failure."""
    body = json.dumps(alerts_payload(alerts, source=source)).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "sector_pipeline"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"webhook {url} answered HTTP {exc.code} to {len(alerts)} alert(s)") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"webhook {url} unreachable: {getattr(exc, 'reason', exc)}") from exc
