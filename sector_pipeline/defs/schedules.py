"""The nightly job and its schedule: every asset for the day's partition, weekdays after the US close."""

import dagster as dg

from sector_pipeline.defs.partitions import MARKET_TZ, trading_day_partitions

daily_pipeline_job = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=trading_day_partitions,
    description="Materialize the whole lineage for a trading day (or, from a backfill, a range in one run).",
)


@dg.schedule(
    job=daily_pipeline_job,
    cron_schedule="30 18 * * 1-5",
    execution_timezone=MARKET_TZ,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekdays 18:30 New York, after the 16:00 close and Yahoo's end-of-day update.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    # scheduled_execution_time is in the execution timezone, so its date is the New York trading day.
    day = context.scheduled_execution_time.date()
    return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())
