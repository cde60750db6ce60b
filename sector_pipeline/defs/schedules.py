"""The nightly job and its schedule: the whole lineage for the day's session, weekdays after the US close."""


import dagster as dg
import pandas as pd

from sector_pipeline.calendar import closes_at, is_session, session_close
from sector_pipeline.defs.partitions import MARKET_TZ, year_partitions

# Sessions re-fetched before the newest one each night, to pick up a vendor's late corrections.
NIGHTLY_RECENT_SESSIONS = 5

daily_pipeline_job = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=year_partitions,
    description="Ingest a year partition (or a range of years, from a backfill) and bring every table up to date.",
)


def nightly_request(now: pd.Timestamp, calendar: str = "XNYS") -> dg.RunRequest | dg.SkipReason:
    """The run of the evening of `now` (a tz-aware time): today's session once it has closed, else why not."""
    day = now.tz_convert(MARKET_TZ).date()
    if not is_session(day, calendar):
        return dg.SkipReason(f"{day} is not a {calendar} session (weekend or market holiday): nothing to ingest")
    if now < session_close(day, calendar):
        return dg.SkipReason(f"the {day} session has not closed yet (it closes at {closes_at(day, calendar)})")
    return dg.RunRequest(
        run_key=day.isoformat(),
        partition_key=str(day.year),
        run_config={"resources": {"ingest_dates": {"config": {
            "last_date": day.isoformat(), "recent_sessions": NIGHTLY_RECENT_SESSIONS}}}},
        tags={"sector_pipeline/session": day.isoformat()},
    )


@dg.schedule(
    job=daily_pipeline_job,
    cron_schedule="30 18 * * 1-5",
    execution_timezone=MARKET_TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekdays 18:30 New York, after the 16:00 close and Yahoo's end-of-day update; skips holidays.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    return nightly_request(pd.Timestamp(context.scheduled_execution_time))
