"""The whole lineage through the README's command, as a user runs it: full history, nightly runs, scale.

    python benchmarks/backfill_benchmark.py                    # every case, synthetic source
    python benchmarks/backfill_benchmark.py --cases full nightly28 --repeat 3
    python benchmarks/backfill_benchmark.py --root /tmp/bench  # where workspaces go (default: a temp folder)

Each case runs `dagster asset materialize -m sector_pipeline.definitions --select '*' ...` in a fresh process
with a persistent DAGSTER_HOME (benchmarks/cli_runs.py) and prints one table row: history, members, wall,
CPU, peak RSS, events written.

Cases (D = the last closed session):
  full        1999-01-04 .. D in one run (`--partition-range 1999...<year of D>`)
  nightly28   the history through the session before D, then the nightly run of D as the schedule requests
              it (`--partition <year>` with ingest_dates last_date = D, recent_sessions = 5); its tables must
              equal the full run's, bit for bit
  nightly1    the same night on one year of history
  members2    the 500-member universe (universes/synthetic_500.toml), two years, one run
  members27   the same, 1999 .. D
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cli_runs import (  # noqa: E402
    PROJECT,
    Measure,
    Workspace,
    ingest_config,
    last_closed_session,
    materialize,
)
from sector_pipeline.calendar import sessions_before  # noqa: E402
from sector_pipeline_tests.faults.stored_state import table_hashes as all_table_hashes  # noqa: E402

MEMBERS_UNIVERSE = PROJECT / "sector_pipeline" / "universes" / "synthetic_500.toml"


def table_hashes(path: Path) -> dict[str, str]:
    """Every data table's hash; the bookkeeping (meta.*) differs between one run and several by design."""
    return {t: h for t, h in all_table_hashes(path, across_runs=True).items() if not t.startswith("meta.")}


def emit(row: Measure) -> Measure:
    print(row.row(), flush=True)
    return row


def median_of(runs: list[Measure], label: str) -> Measure:
    return Measure(label, statistics.median(m.wall_s for m in runs), statistics.median(m.cpu_s for m in runs),
                   max(m.peak_rss_mib for m in runs), runs[0].events, all(m.ok for m in runs))


def nightly(root: Path, label: str, first_year: int, first_date: str | None, day, repeat: int,
            reference: dict[str, str] | None) -> list[Measure]:
    """History through the session before `day`, then the nightly run of `day` (median of `repeat` nights)."""
    previous = sessions_before(day, 1)
    history = Workspace(root / f"{label}_history").fresh()
    dates = {"last_date": previous.isoformat(), **({"first_date": first_date} if first_date else {})}
    built = emit(materialize(f"{label} history", history, f"{first_year}...{day.year}",
                             config=ingest_config(**dates)))
    nights = []
    for i in range(repeat):
        space = history.copy_to(root / f"{label}_night{i}")
        nights.append(materialize(f"{label} night", space, str(day.year),
                                  config=ingest_config(last_date=day.isoformat(), recent_sessions=5)))
    result = [built, emit(median_of(nights, f"{label}: nightly of {day} ({repeat} runs, median)"))]
    if reference is not None:
        same = table_hashes(space.warehouse) == reference
        print(f"# {label}: tables after the nightly equal the one-run history: {same}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["full", "nightly28", "nightly1", "members2", "members27"])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the full history and of each nightly "
                                                              "(median)")
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="sector_bench_"))
    day = last_closed_session()
    rows: list[Measure] = []
    reference = None
    print(f"# workspaces in {root}; last closed session {day}", flush=True)
    print("| case | wall s | CPU s | peak RSS MiB | events | success |\n|---|---|---|---|---|---|", flush=True)
    if "full" in args.cases:
        runs = []
        for _ in range(args.repeat):
            space = Workspace(root / "full").fresh()
            runs.append(materialize("full", space, f"1999...{day.year}"))
        rows.append(emit(median_of(runs, f"full history 1999-01-04 .. {day} ({args.repeat} runs, median)")))
        reference = table_hashes(space.warehouse)
    if "nightly28" in args.cases:
        rows += nightly(root, "28 years", 1999, None, day, args.repeat, reference)
    if "nightly1" in args.cases:
        first = sessions_before(day, 252).isoformat()
        rows += nightly(root, "1 year", day.year - 1, first, day, args.repeat, None)
    members_env = {"SECTOR_PIPELINE_UNIVERSE": str(MEMBERS_UNIVERSE)}
    for case, years in (("members2", 2), ("members27", None)):
        if case not in args.cases:
            continue
        space = Workspace(root / case).fresh()
        first_year = day.year - 1 if years else 1999
        rows.append(emit(materialize(f"500 members, {first_year} .. {day}", space, f"{first_year}...{day.year}",
                                     env=space.env(**members_env))))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
