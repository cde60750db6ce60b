"""Calendar-year partitions of the ingest layer, and the date window a run ingests.

Why years, not days: Dagster records its bookkeeping (a planned and a materialization event) per asset and
per partition, about 25 ms each on the persistent SQLite instance `dagster dev` uses. Daily partitions made a
28-year backfill of 41 assets cost 298,000 events, over an hour, before any data work; four ingest assets
partitioned by year cost 112. Only the ingest layer is partitioned (it is where a data correction is
re-fetched); everything downstream is incremental and recomputes exactly the dates that changed
(docs/architecture.md).

A run ingests the sessions of its partition range that have closed, optionally narrowed to a date range by
the `ingest_dates` resource (the nightly schedule re-fetches only the last few sessions; an analyst re-fetches
2008-10-01..2008-10-31 after a vendor correction without touching the rest of 2008).
"""


import datetime as dt
from typing import Optional

import dagster as dg
import pandas as pd

from sector_pipeline.calendar import PARTITIONS_START, closes_at, last_closed_session, sessions_before
from sector_pipeline.errors import SourceError

MARKET_TZ = "America/New_York"

# end_offset=1 makes the current year a partition, so the nightly schedule can run it.
year_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *",
    start=str(PARTITIONS_START.year),
    fmt="%Y",
    timezone=MARKET_TZ,
    end_offset=1,
)

# A partition range of any length is ONE run; the unpartitioned incremental assets carry the same policy so
# `dagster asset materialize --select '*' --partition-range 1999...2026` runs the whole lineage at once.
single_run = dg.BackfillPolicy.single_run()


class IngestDatesResource(dg.ConfigurableResource):
    """Narrows what a run ingests inside its partitions; by default a run ingests its whole partitions."""

    first_date: Optional[str] = None
    """First session to ingest (ISO date); default: the partitions' first."""
    last_date: Optional[str] = None
    """Last session to ingest (ISO date); default: the last closed session."""
    recent_sessions: Optional[int] = None
    """Ingest only what the table does not hold yet, plus this many sessions before it to pick up vendor
    corrections (the nightly schedule uses 5); default: the whole partitions."""


def _parse(text: Optional[str], name: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise SourceError(f"ingest_dates.{name} must be an ISO date like 2008-10-31, got {text!r}") from exc


def ingest_window(context: dg.AssetExecutionContext, dates: IngestDatesResource, calendar: str, *,
                  last_stored: dt.date | None = None, now: pd.Timestamp | None = None) -> tuple[dt.date, dt.date]:
    """[start, end) of the sessions this run ingests: its partitions, narrowed, up to the last closed session.

    `last_stored`: the table's latest stored date, for `recent_sessions` (each table catches up on its own gap).
    """
    window = context.partition_time_window
    start, end = max(window.start.date(), PARTITIONS_START), window.end.date()
    first, last = _parse(dates.first_date, "first_date"), _parse(dates.last_date, "last_date")
    if first and last and first > last:
        raise SourceError(f"ingest_dates: first_date {first} is after last_date {last}")
    for name, day in (("first_date", first), ("last_date", last)):
        if day is not None and not start <= day < end:
            raise SourceError(f"ingest_dates.{name} {day} lies outside the partitions of this run "
                              f"({start} .. {end - dt.timedelta(days=1)})")
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    closed = last_closed_session(now, calendar)
    if last is not None and last > closed:
        # One line, not a traceback: a bar read before the close would be intraday.
        raise SourceError(f"{last} is not a closed session yet (the last closed session is {closed}; "
                          f"{calendar} closes at {closes_at(last, calendar)}): run after the close")
    last_day = min(end - dt.timedelta(days=1), last or closed)
    if first is None and dates.recent_sessions is not None and last_stored is not None and last_stored >= start:
        recent = sessions_before(last_day, dates.recent_sessions, calendar)
        first = max(start, min(recent, last_stored + dt.timedelta(days=1)))
    start = first or start
    end = last_day + dt.timedelta(days=1)
    return start, max(start, end)
