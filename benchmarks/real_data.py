"""The whole lineage on real prices 1999-2019, through the README's own backfill command, as a user runs it.

    python benchmarks/real_data.py                    # reads ../shared/realdata (or $SECTOR_PIPELINE_REALDATA)
    python benchmarks/real_data.py --skip-holidays    # without the six bond-holiday nights (about 3 minutes)

1. `dagster asset materialize -m sector_pipeline.definitions --select '*' --partition-range 1999...2019` with
   the csv source on the real-data folder and its universe file (benchmarks/realdata_universe.toml: the series
   and start dates that folder holds), a persistent DAGSTER_HOME, in a fresh process;
2. from the warehouse it wrote: success and publication, quarantined rows with their reasons, alerts per year
   by tier, the documented turns caught (signals/evaluation.py KNOWN_TURNS), the sentiment readings of three
   known episodes, the flags of stale and estimated inputs;
3. each NYSE session on which the bond market was closed (no ^TNX, ^IRX close): a history through the session
   before, then the nightly run of that session as the schedule requests it (its year partition,
   ingest_dates last_date = the session, recent_sessions = 5): it must succeed, with the yield carried
   forward and flagged.
Prints markdown (docs/benchmarks.md and docs/signals.md quote it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cli_runs import PROJECT, Workspace, ingest_config, materialize  # noqa: E402
from sector_pipeline.calendar import sessions_before  # noqa: E402
from sector_pipeline.signals.evaluation import alert_rates, alerts_per_year, turn_detection  # noqa: E402

REALDATA = Path(os.environ.get("SECTOR_PIPELINE_REALDATA", PROJECT.parent / "shared" / "realdata"))
UNIVERSE = PROJECT / "benchmarks" / "realdata_universe.toml"
BOND_HOLIDAYS = (dt.date(2003, 11, 11), dt.date(2005, 10, 10), dt.date(2005, 11, 11), dt.date(2006, 10, 9),
                 dt.date(2010, 10, 11), dt.date(2016, 11, 11))
EPISODES = (  # (name, first, last, dimension, expected sign)
    ("GFC, October 2008", dt.date(2008, 10, 1), dt.date(2008, 10, 31), "cycle", -1),
    ("GFC, October 2008", dt.date(2008, 10, 1), dt.date(2008, 10, 31), "risk", -1),
    ("Recovery, April-August 2009", dt.date(2009, 4, 1), dt.date(2009, 8, 31), "cycle", 1),
    ("Taper tantrum, 2013-05-22 .. 06-24", dt.date(2013, 5, 22), dt.date(2013, 6, 24), "rates", 1),
)


def table(frame: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row)
              + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def query(path: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.sql(sql).pl()


def report(space: Workspace) -> None:
    db = space.warehouse
    published = space.root / "data" / "published" / "sector_rotation.duckdb"
    print(f"- published copy: {published.exists()} "
          f"({published.stat().st_size / 2**20:.1f} MiB)" if published.exists() else "- published copy: MISSING")
    counts = query(db, "select 'validated.prices' as table_name, count(*) as row_count from validated.prices "
                       "union all select 'validated.macro', count(*) from validated.macro "
                       "union all select 'signals.features', count(*) from signals.features "
                       "union all select 'signals.alerts', count(*) from signals.alerts "
                       "union all select 'strategy.backtest', count(*) from strategy.backtest")
    print("\n" + table(counts))
    quarantine = query(db, "select dataset, ticker, reason, count(*) as row_count, min(date) as first, "
                           "max(date) as last from validated.quarantine group by all order by all")
    print(f"\n**Quarantined rows: {int(quarantine.get_column('row_count').sum() or 0)}**\n")
    print(table(quarantine) if quarantine.height else "(none)")
    flags = query(db, """
        select 'features: total return estimated (no dividend information)' as flag,
               count(*) filter (where is_total_return_estimated) as row_count, count(*) as out_of from signals.features
        union all select 'macro regime: a used series was stale', count(*) filter (where is_stale_input), count(*)
               from signals.macro_regime
        union all select 'SRI: economic score used a stale macro series', count(*) filter (where uses_stale_macro),
               count(*) from signals.sector_rotation_index
        union all select 'int_macro_daily: value carried forward', count(*) filter (where is_carried_forward),
               count(*) from intermediate.int_macro_daily""")
    print("\n**Flags**\n\n" + table(flags))
    alerts = query(db, "select * from signals.alerts")
    days = query(db, "select distinct date from signals.sentiment_scores order by date").get_column("date").to_list()
    rates = alert_rates(alerts, days)
    print(f"\n**Alerts** over {rates['years']:.1f} years of sentiment scores: "
          f"CRITICAL {rates['critical_per_year']:.1f} "
          f"a year (at most {rates['critical_max_year']:.0f} in a year), HIGH {rates['high_per_year']:.1f} "
          f"(at most {rates['high_max_year']:.0f}), MEDIUM {rates['medium_per_year']:.1f}\n")
    print(table(alerts_per_year(alerts, range(days[0].year, days[-1].year + 1))))
    turns = turn_detection(alerts, days)
    caught = turns.filter(pl.col("alert_date").is_not_null()).height
    print(f"\n**Documented turns caught within 20 sessions: {caught} of {turns.height}**\n")
    print(table(turns.select("turn", "start", "expected", "alert_date", "sessions_after", "tier", "dimension")))
    scores = query(db, "select date, dimension, score from signals.sentiment_scores")
    rows = []
    for name, first, last, dimension, sign in EPISODES:
        mean = scores.filter(pl.col("date").is_between(first, last), dimension=dimension).get_column("score").mean()
        rows.append({"episode": name, "dimension": dimension, "mean score": mean,
                     "expected sign": "+" if sign > 0 else "-", "as expected": mean is not None and mean * sign > 0})
    print("\n**Sentiment on known episodes**\n\n" + table(pl.DataFrame(rows)))


def holiday_night(root: Path, day: dt.date, env: dict[str, str]) -> str:
    """History from about a year before `day` through the session before it, then the night of `day`."""
    space = Workspace(root / f"holiday_{day}").fresh()
    first = sessions_before(day, 300)
    history = materialize(f"history to {day}", space, f"{first.year}...{day.year}",
                          config=ingest_config(first_date=first.isoformat(),
                                               last_date=sessions_before(day, 1).isoformat()),
                          env=space.env(**env))
    night = materialize(f"night {day}", space, str(day.year),
                        config=ingest_config(last_date=day.isoformat(), recent_sessions=5), env=space.env(**env))
    carried = query(space.warehouse, f"""select series, observed_date, stale_sessions from intermediate.int_macro_daily
        where date = '{day}' and series in ('us10y_yield_pct', 'us13w_bill_yield_pct') and is_carried_forward""")
    missing = query(space.warehouse, f"select count(*) from raw.macro where date = '{day}' "
                                     "and series in ('us10y_yield_pct', 'us13w_bill_yield_pct')").item()
    shown = ", ".join(f"{s} from {o} ({n} session)" for s, o, n in carried.iter_rows())
    return (f"| {day} | {'yes' if history.ok else 'FAILED'} | {'yes' if night.ok else 'FAILED'} | {night.wall_s:.1f} "
            f"| {missing} | {shown or 'none'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="workspaces (default: a temporary folder)")
    parser.add_argument("--skip-holidays", action="store_true")
    args = parser.parse_args()
    if not (REALDATA / "prices.csv").exists():
        print(f"real data folder not found at {REALDATA} (set SECTOR_PIPELINE_REALDATA)")
        return 2
    root = args.root or Path(tempfile.mkdtemp(prefix="sector_realdata_"))
    env = {"SECTOR_PIPELINE_SOURCE": "csv", "SECTOR_PIPELINE_CSV_DIR": str(REALDATA),
           "SECTOR_PIPELINE_UNIVERSE": str(UNIVERSE)}
    space = Workspace(root / "full").fresh()
    run = materialize("real data 1999-2019", space, "1999...2019", env=space.env(**env))
    print(f"## Real data 1999-01-04 .. 2019-12-31 (csv source, {REALDATA})\n")
    print("| case | wall s | CPU s | peak RSS MiB | events | success |\n|---|---|---|---|---|---|")
    print(run.row())
    if not run.ok:
        print(f"\nthe run failed: see {space.root}")
        return 1
    report(space)
    if not args.skip_holidays:
        print("\n**Nightly runs on bond-market holidays** (history from ~300 sessions before, then the night)\n")
        print("| session | history | night | night wall s | ^TNX/^IRX rows that day | carried forward |")
        print("|---|---|---|---|---|---|")
        for day in BOND_HOLIDAYS:
            print(holiday_night(root, day, env), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
