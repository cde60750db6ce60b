"""Cost of a stock-level universe: members x years -> CPU seconds and peak memory of the pure signal code.

    python -m benchmarks.scale_members                       # from the repository root: every default size
    python -m benchmarks.scale_members --sizes 500x2 5000x2  # members x years; 0 members = the ETF universe
    python -m benchmarks.scale_members --sizes 500x27 --warehouse-read

Each size runs in a FRESH process (peak memory is per process: resource.getrusage's ru_maxrss), with no
Dagster and no warehouse: the synthetic source, then the stages of the incremental assets as pure functions,
each over the whole window in one call (a backfill; a nightly run computes one session from bounded reads):

    generate          SyntheticSource.fetch_prices: the benchmark and the members (or the 11 sector funds)
    total returns     daily_total_returns + total_return_index (intermediate.int_total_returns)
    aggregates        sector_aggregates: the 11 sector series from their members
    features          compute_features over members, sectors and benchmark
    sector rankings   rank_sectors over the 11 sectors
    member rankings   rank_members: across the universe and within each sector
    member rotation   member_rotation against the benchmark and the sector (ETF universe: relative_rotation)
    warehouse read    (--warehouse-read) the features' nightly lookback read of int_total_returns from DuckDB:
                      Warehouse.read_rows_before as it is, and the date-bounded query docs/scaling.md proposes

Members: 500 are universes/synthetic_500.toml; other counts repeat its members with a suffix letter (5,000 =
ten copies, so every sector keeps its share). Windows: 2 years = 2024-2025, 27 years = 1999-2025. "work CPU"
adds the stages; "process CPU" is the child's whole user + system time, imports included (~0.8 s of Python,
Polars, NumPy and exchange_calendars). Peak RSS is given after the member rankings (generation to rankings)
and at the end (rotation and the optional read included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import polars as pl

from sector_pipeline.ingest.total_return import daily_total_returns, total_return_index
from sector_pipeline.signals.aggregates import sector_aggregates
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.members import rank_members
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.rotation import member_rotation, relative_rotation
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, Universe, load_universe, parse_universe

STARTUP_CPU = time.process_time()  # imports of this module and its dependencies
DEFAULT_SIZES = ("0x2", "500x2", "1000x2", "2000x2", "5000x2", "500x27")
END = dt.date(2026, 1, 1)
MEMBERS_FILE = DEFAULT_UNIVERSE_PATH.parent / "synthetic_500.toml"
STAGES = ("generate", "total returns", "aggregates", "features", "sector rankings", "member rankings",
          "member rotation")


def scaled_universe(members: int) -> Universe:
    """The ETF universe (0 members), synthetic_500.toml (500), or its members repeated with suffix letters."""
    if members == 0:
        return load_universe()
    if members == 500:
        return load_universe(MEMBERS_FILE)
    doc = tomllib.loads(MEMBERS_FILE.read_text())
    copies = math.ceil(members / len(doc["members"]))
    doc["members"] = [dict(m, ticker=f"{m['ticker']}{chr(65 + k)}") for k in range(copies)
                      for m in doc["members"]][:members]
    return parse_universe(doc, str(MEMBERS_FILE))


def int_total_returns(prices: pl.DataFrame) -> pl.DataFrame:
    """PRICE_SCHEMA rows -> the intermediate.int_total_returns columns the signal stages read."""
    returns = daily_total_returns(prices.lazy())
    return (total_return_index(returns).rename({"close": "close_price", "volume": "volume_shares"})
            .select("date", "ticker", "close_price", "volume_shares", "total_return_1d", "total_return_price",
                    "is_total_return_estimated", "total_return_method", "source")
            .collect())


class Stopwatch:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def run(self, name: str, step):
        cpu, wall = time.process_time(), time.perf_counter()
        result = step()
        self.cpu[name] = time.process_time() - cpu
        self.wall[name] = time.perf_counter() - wall
        return result


def child(members: int, years: int, warehouse_read: bool) -> dict:
    start = dt.date(END.year - years, 1, 1)
    universe = scaled_universe(members)
    clock = Stopwatch()
    prices = clock.run("generate", lambda: SyntheticSource(universe, seed=42).fetch_prices(
        universe.instruments, start, END))
    returns = clock.run("total returns", lambda: int_total_returns(prices))
    prices = None  # frees the frame: the lambda above has run
    benchmark = universe.benchmark.ticker
    sectors = [s.ticker for s in universe.sectors]
    member_frame = universe.members_frame()
    if members:
        aggregates = clock.run("aggregates", lambda: sector_aggregates(
            returns.lazy(), universe.members_frame(aggregates_only=True)).collect())
        returns = pl.concat([returns, aggregates.select(returns.columns)])
        del aggregates
    features = clock.run("features", lambda: compute_features(returns.lazy(), benchmark=benchmark).collect())
    clock.run("sector rankings", lambda: rank_sectors(features.lazy(), sectors=sectors).collect())
    if members:
        clock.run("member rankings", lambda: rank_members(features.lazy(), member_frame).collect())
    # the brief's scope (features, aggregates, rankings) ends here; rotation and the read come on top
    ranked_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    feature_rows = features.height
    features = None  # frees the frame: the lambdas above have run
    prices_only = returns.select("date", "ticker", "total_return_price").lazy()
    clock.run("member rotation", lambda: (member_rotation(prices_only, member_frame, benchmark=benchmark)
                                          if members else relative_rotation(prices_only, benchmark=benchmark))
              .collect())
    reads = warehouse_reads(returns, start) if warehouse_read else {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"members": members, "years": years, "tickers": returns["ticker"].n_unique(),
            "feature_rows": feature_rows, "cpu": clock.cpu, "wall": clock.wall, "startup_cpu": STARTUP_CPU,
            "process_cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "peak_mib_through_rankings": ranked_peak, "reads": reads}


# The proposal of docs/scaling.md: bound the scan by the `rows`-th latest distinct date before `before`, so
# a nightly read touches the last year of row groups instead of ranking 27 years of rows. (A key with gaps in
# that span would get fewer rows: the proposal adds a second read for such keys only; not needed here.)
BOUNDED_READ = """
with floor as (
    select min(date) as first_date from (
        select distinct date from intermediate.int_total_returns where date < $before
        order by date desc limit $rows
    )
)
select * exclude (__n) from (
    select *, row_number() over (partition by ticker order by date desc) as __n
    from intermediate.int_total_returns
    where date < $before and date >= (select first_date from floor)
) where __n <= $rows
union all by name
select * from intermediate.int_total_returns where date >= $before
order by all
"""


def warehouse_reads(returns: pl.DataFrame, start: dt.date) -> dict:
    """Seconds of the features' nightly read (260 rows per ticker before the last session) from DuckDB."""
    from sector_pipeline.signals.config import FeatureConfig
    from sector_pipeline.warehouse import Warehouse

    rows = FeatureConfig().lookback_rows
    folder = Path(tempfile.mkdtemp(prefix="scale_members_"))
    store = Warehouse(folder / "warehouse.duckdb")
    frame = returns.sort("date", "ticker")  # stored in date order, as the incremental writes append it
    with store.connect() as conn:
        conn.execute("create schema intermediate")
        conn.register("frame", frame.to_arrow())
        conn.execute("create table intermediate.int_total_returns as select * from frame")
    last = frame["date"].max()
    timings = {}
    for name, read in (("read_rows_before", lambda: store.read_rows_before(
            "intermediate.int_total_returns", last, None, rows=rows, key="ticker")),
            ("bounded", lambda: store.query(BOUNDED_READ, {"before": last, "rows": rows}))):
        read()  # warm the file cache
        began = time.perf_counter()
        out = read()
        timings[name] = {"seconds": time.perf_counter() - began, "rows": out.height}
    assert timings["bounded"]["rows"] == timings["read_rows_before"]["rows"]
    return timings


def measure(size: str, warehouse_read: bool) -> dict:
    members, years = (int(x) for x in size.split("x"))
    command = [sys.executable, "-m", "benchmarks.scale_members", "--child", size]
    if warehouse_read:
        command.append("--warehouse-read")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"size {size} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    head = ["members x years", "tickers", "feature rows", *STAGES, "work CPU s", "process CPU s",
            "peak RSS MiB through rankings", "peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        label = "ETF universe (12)" if r["members"] == 0 else f"{r['members']:,}"
        cells = [f"{label} x {r['years']}", str(r["tickers"]), f"{r['feature_rows']:,}"]
        cells += [f"{r['cpu'][s]:.2f}" if s in r["cpu"] else "-" for s in STAGES]
        cells += [f"{sum(r['cpu'].values()):.2f}", f"{r['process_cpu']:.2f}",
                  f"{r['peak_mib_through_rankings']:,.0f}", f"{r['peak_mib']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="members x years, e.g. 500x27")
    parser.add_argument("--warehouse-read", action="store_true", help="also time the nightly DuckDB read")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        members, years = (int(x) for x in args.child.split("x"))
        print(json.dumps(child(members, years, args.warehouse_read)))
        return 0
    results = []
    for size in args.sizes:
        results.append(measure(size, args.warehouse_read))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(table(results))
    base = next((r for r in results if r["members"] == 0 and r["years"] == 2), None)
    for r in results:
        if base and r is not base and r["years"] == 2:
            work = sum(r["cpu"].values()) / sum(base["cpu"].values())
            print(f"{r['members']:,} x 2 vs the ETF universe x 2: work CPU x{work:.1f}, "
                  f"process CPU x{r['process_cpu'] / base['process_cpu']:.1f}")
        for name, read in r["reads"].items():
            print(f"{r['members']:,} x {r['years']}: nightly features read, {name}: {read['seconds']:.3f} s, "
                  f"{read['rows']:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
