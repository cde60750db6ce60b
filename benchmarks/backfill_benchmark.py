"""Backfill the whole history on the synthetic source in ONE run and report wall time and peak memory.

    python benchmarks/backfill_benchmark.py                       # 1999-01-04 .. last closed session
    python benchmarks/backfill_benchmark.py --start 2020-01-02 --end 2020-12-31

Materializes every asset of the daily_pipeline job (raw, validated, staging, intermediate, signals) into a
fresh DuckDB file, then prints one line per figure, then times a nightly run (the last partition again, on
top of the full history). Peak memory is the process's maximum resident set size
(the run executes in this process), so it includes Python, Dagster and DuckDB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from sector_pipeline.calendar import sessions, unclosed_sessions
from sector_pipeline.defs import build_definitions
from sector_pipeline.settings import Settings
from sector_pipeline.warehouse import Warehouse


def last_closed_session(today: dt.date) -> dt.date:
    days = sessions(today - dt.timedelta(days=10), today + dt.timedelta(days=1))
    pending = set(unclosed_sessions(days, pd.Timestamp.now(tz="UTC")))
    return [d for d in days if d not in pending][-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(1999, 1, 4))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None, help="last partition (inclusive)")
    parser.add_argument("--warehouse", type=Path, default=None, help="DuckDB file (default: a temporary one)")
    args = parser.parse_args()
    end = args.end or last_closed_session(dt.date.today())
    workdir = Path(tempfile.mkdtemp(prefix="sector_bench_"))
    warehouse = args.warehouse or workdir / "warehouse.duckdb"

    defs = build_definitions(Settings(source="synthetic", warehouse_path=str(warehouse)))
    job = defs.resolve_job_def("daily_pipeline")
    started = time.perf_counter()
    result = job.execute_in_process(
        tags={"dagster/asset_partition_range_start": args.start.isoformat(),
              "dagster/asset_partition_range_end": end.isoformat()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store = Warehouse(warehouse)
    counts = {t: store.query(f"select count(*) from {t}").item() for t in (
        "raw.prices", "raw.macro", "validated.prices", "validated.quarantine", "staging.stg_prices",
        "intermediate.int_daily_returns", "intermediate.int_macro_daily", "signals.features",
        "signals.sector_rankings", "signals.sentiment_scores", "signals.alerts", "signals.sector_rotation_index",
        "signals.relative_rotation")}
    steps = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events
             if e.event_type_value == "STEP_SUCCESS" and e.step_key}
    print(f"range        {args.start} .. {end} ({len(sessions(args.start, end + dt.timedelta(days=1)))} sessions)")
    print(f"success      {result.success} (one run: {result.run_id})")
    print(f"wall_time_s  {wall:.1f}")
    print(f"peak_rss_mib {peak_mib:.0f}")
    print(f"warehouse_mb {warehouse.stat().st_size / 2**20:.1f}")
    for table, n in counts.items():
        print(f"rows         {table:32s} {n}")
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"step_s       {step:32s} {seconds:.1f}")

    # The nightly case: one more partition on top of the whole history (signal assets reread it).
    started = time.perf_counter()
    nightly = job.execute_in_process(partition_key=end.isoformat(), instance=dg.DagsterInstance.ephemeral())
    print(f"nightly_s    {time.perf_counter() - started:.1f} (re-run of {end} on the full history, "
          f"success {nightly.success})")
    return 0 if result.success and nightly.success else 1


if __name__ == "__main__":
    sys.exit(main())
