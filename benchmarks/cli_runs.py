"""Run the README's own command in a fresh process and measure it: wall, CPU, peak memory, Dagster events.

Shared by the benchmarks: every figure comes from `dagster asset materialize ...` in a subprocess with a
persistent DAGSTER_HOME (an SQLite instance on disk, as `dagster dev` and the nightly schedule use), never from
an in-memory instance inside the benchmark's own process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


@dataclass(frozen=True)
class Measure:
    label: str
    wall_s: float
    cpu_s: float         # user + system CPU of the process and its children
    peak_rss_mib: float  # the largest resident set of the process (or a child)
    events: int          # events the run wrote to its Dagster event log
    ok: bool

    def row(self) -> str:
        return (f"| {self.label} | {self.wall_s:.1f} | {self.cpu_s:.1f} | {self.peak_rss_mib:,.0f} | {self.events:,} "
                f"| {'yes' if self.ok else 'FAILED'} |")


@dataclass(frozen=True)
class Workspace:
    """A DAGSTER_HOME and the pipeline's folders (warehouse, published copy, pictures) for one scenario."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "DAGSTER_HOME": str(self.home),
               "SECTOR_PIPELINE_WAREHOUSE": str(self.warehouse),
               "SECTOR_PIPELINE_PUBLISHED": str(self.root / "data" / "published"),
               "SECTOR_PIPELINE_REPORTS": str(self.root / "data" / "reports"), **extra}
        return env

    def fresh(self) -> "Workspace":
        shutil.rmtree(self.root, ignore_errors=True)
        self.home.mkdir(parents=True)
        shutil.copy(PROJECT / "dagster.yaml", self.home / "dagster.yaml") if (PROJECT / "dagster.yaml").exists() \
            else None
        return self

    def copy_to(self, other: Path) -> "Workspace":
        shutil.rmtree(other, ignore_errors=True)
        shutil.copytree(self.root, other, symlinks=True)
        return Workspace(other)


def ingest_config(**dates: str | int) -> str:
    return json.dumps({"resources": {"ingest_dates": {"config": dates}}})


def materialize(label: str, space: Workspace, partitions: str, *, config: str | None = None,
                env: dict[str, str] | None = None) -> Measure:
    """`dagster asset materialize -m sector_pipeline.definitions --select '*' --partition(-range) ...`."""
    option = "--partition-range" if "..." in partitions else "--partition"
    command = [DAGSTER, "asset", "materialize", "-m", "sector_pipeline.definitions", "--select", "*",
               option, partitions]
    if config:
        command += ["--config-json", config]
    runs_before = set(_run_databases(space.home))
    log = space.root / f"{label.replace(' ', '_')}.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=PROJECT, env=env or space.env(), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    new_runs = [p for p in _run_databases(space.home) if p not in runs_before]
    events = sum(_count_events(p) for p in new_runs)
    return Measure(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, events,
                   os.waitstatus_to_exitcode(status) == 0)


def _run_databases(home: Path) -> list[Path]:
    runs = home / "history" / "runs"
    return sorted(p for p in runs.glob("*.db") if p.name != "index.db") if runs.is_dir() else []


def _count_events(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("select count(*) from event_logs").fetchone()[0]


def last_closed_session(calendar: str = "XNYS") -> dt.date:
    from sector_pipeline.calendar import last_closed_session as closed

    return closed(pd.Timestamp.now(tz="UTC"), calendar)
