"""Soak: kill a whole-lineage backfill with SIGKILL at random moments; every re-run must equal an uninterrupted run.

    python benchmarks/soak_kill.py                      # 2021..2023, 20 kills, seed 11 (about 20 minutes on 2 cores)
    python benchmarks/soak_kill.py --first-year 2023 --last-year 2023 --kills 2      # a quick try

Runs through the README's command line, `dagster asset materialize -m sector_pipeline.definitions --select '*'
--partition-range FIRST...LAST`, each in its own process, with a persistent DAGSTER_HOME holding the project's
dagster.yaml and `dagster-daemon run` beside it (run monitoring, the run queue), on the synthetic market:

1. reference: one uninterrupted run into its own warehouse; every table hashed;
2. twenty times: a fresh warehouse, the backfill started and SIGKILLed after a random delay (uniform over the
   reference's wall time), then the same command re-run to the end; every table hashed and compared with the
   reference (columns that record which run wrote a row, and when, are left out: meta.table_changes' seq,
   run_id, written_at; the outbox's timestamps), and the published folder checked: complete, and nothing left
   over from the killed publication;
3. the killed runs: how many the daemon's run monitoring marked failed (none may stay STARTED);
4. the queue: two runs launched at once with `dagster job launch`; the second must wait QUEUED until the first
   ends, and both must succeed.

Prints one line per kill and a summary; --json writes everything to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this checkout's package and tests, whatever is installed

from sector_pipeline_tests.faults.stored_state import publication_complete, table_hashes  # noqa: E402


def published_state(folder: Path) -> dict[str, object]:
    """Is the publication complete, and what did the killed publication leave that the next one did not remove?"""
    if not publication_complete(folder):
        return {"complete": False, "leftovers": []}
    linked = os.readlink(folder / "parquet")
    leftovers = [p.name for p in folder.iterdir()
                 if p.name.endswith((".tmp", ".tmp.wal")) or (p.name.startswith("parquet-") and p.name != linked
                                                             and not _retired_recently(folder, p.name))]
    return {"complete": True, "leftovers": sorted(leftovers)}


def _retired_recently(folder: Path, name: str) -> bool:
    try:
        return name in json.loads((folder / ".retired_parquet.json").read_text())
    except (FileNotFoundError, ValueError):
        return False


class Soak:
    def __init__(self, workdir: Path, first_year: int, last_year: int):
        self.workdir = workdir
        self.home = workdir / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        self.partitions = f"{first_year}...{last_year}"
        self.daemon: subprocess.Popen | None = None

    def env(self, name: str) -> dict[str, str]:
        place = self.workdir / name
        return {**os.environ, "DAGSTER_HOME": str(self.home), "PYTHONPATH": str(ROOT),
                "SECTOR_PIPELINE_SOURCE": "synthetic", "SECTOR_PIPELINE_WAREHOUSE": str(place / "warehouse.duckdb"),
                "SECTOR_PIPELINE_PUBLISHED": str(place / "published"),
                "SECTOR_PIPELINE_REPORTS": str(place / "reports")}

    def backfill(self, name: str) -> subprocess.Popen:
        """The README's command, in its own process group (SIGKILL reaches every process it started)."""
        command = ["dagster", "asset", "materialize", "-m", "sector_pipeline.definitions", "--select", "*",
                   "--partition-range", self.partitions]
        log = open(self.workdir / f"{name}.log", "ab")
        return subprocess.Popen(command, cwd=ROOT, env=self.env(name), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_daemon(self) -> None:
        log = open(self.workdir / "daemon.log", "ab")
        self.daemon = subprocess.Popen(["dagster-daemon", "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT,
                                       env=self.env("queued"), stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)

    def stop_daemon(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)

    def instance(self):
        import dagster as dg

        os.environ["DAGSTER_HOME"] = str(self.home)
        return dg.DagsterInstance.get()


def last_step(instance, run_id: str) -> str:
    """The step a run was executing (its last STEP_START), for the report."""
    import dagster as dg

    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START, limit=1,
                                           ascending=False).records
    return records[0].event_log_entry.step_key if records else "(before the first step)"


def run_ids(instance) -> list[str]:
    return [r.run_id for r in instance.get_runs()]


def wait_monitoring(instance, killed: list[str], timeout: float) -> dict[str, str]:
    """Status of each killed run once the daemon has had `timeout` seconds to look at them."""
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + timeout
    while True:
        statuses = {rid: instance.get_run_by_id(rid).status for rid in killed}
        if all(s != DagsterRunStatus.STARTED for s in statuses.values()) or time.monotonic() > deadline:
            return {rid: s.value for rid, s in statuses.items()}
        time.sleep(2)


def check_queue(soak: Soak, instance, year: int) -> dict[str, object]:
    """Launch two runs of the nightly job at once through the queue; record what states they were seen in."""
    from dagster import DagsterRunStatus

    before = set(run_ids(instance))
    command = ["dagster", "job", "launch", "-w", str(ROOT / "workspace.yaml"), "-j", "daily_pipeline",
               "--tags", json.dumps({"dagster/partition": str(year)})]
    launches = [subprocess.Popen(command, cwd=ROOT, env=soak.env("queued"), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for _ in range(2)]
    for launch in launches:
        launch.wait(timeout=300)
    new: list[str] = []
    deadline = time.monotonic() + 60
    while len(new) < 2 and time.monotonic() < deadline:
        new = [rid for rid in run_ids(instance) if rid not in before]
        time.sleep(0.5)
    seen_together, queued_while_other_started, statuses = 0, 0, {}
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        statuses = {rid: instance.get_run_by_id(rid).status for rid in new}
        started = [s for s in statuses.values() if s == DagsterRunStatus.STARTED]
        seen_together = max(seen_together, len(started))
        if started and DagsterRunStatus.QUEUED in statuses.values():
            queued_while_other_started += 1
        if all(s.value in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses.values()) and len(new) == 2:
            break
        time.sleep(0.5)
    return {"runs": len(new), "most_started_at_once": seen_together,
            "polls_with_one_queued_behind_a_started_one": queued_while_other_started,
            "final": sorted(s.value for s in statuses.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first-year", type=int, default=2021)
    parser.add_argument("--last-year", type=int, default=2023)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the full result here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sector_soak_"))
    soak = Soak(workdir, args.first_year, args.last_year)
    rng = random.Random(args.seed)
    print(f"workdir {workdir}; partitions {soak.partitions}; {args.kills} kills, seed {args.seed}", flush=True)

    soak.start_daemon()
    try:
        began = time.monotonic()
        reference = soak.backfill("reference")
        assert reference.wait() == 0, f"the uninterrupted run failed: see {workdir / 'reference.log'}"
        wall = time.monotonic() - began
        expected = table_hashes(workdir / "reference" / "warehouse.duckdb", across_runs=True)
        print(f"reference: {wall:.0f} s, {len(expected)} tables", flush=True)

        instance = soak.instance()
        kills, killed_runs = [], []
        for i in range(1, args.kills + 1):
            name = f"kill_{i:02d}"
            known = set(run_ids(instance))
            delay = rng.uniform(0.02, 0.98) * wall
            victim = soak.backfill(name)
            time.sleep(delay)
            finished_first = victim.poll() is not None
            if not finished_first:
                os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            started = [rid for rid in run_ids(instance) if rid not in known]
            step = last_step(instance, started[0]) if started else "(no run created yet)"
            killed_runs += started if not finished_first else []
            rerun = soak.backfill(name)
            rerun_ok = rerun.wait() == 0
            hashes = table_hashes(workdir / name / "warehouse.duckdb", across_runs=True)
            differing = sorted(t for t in set(expected) | set(hashes) if expected.get(t) != hashes.get(t))
            publication = published_state(workdir / name / "published")
            identical = rerun_ok and not differing and publication["complete"] and not publication["leftovers"]
            kills.append({"kill": i, "after_seconds": round(delay, 1), "during": step, "rerun_succeeded": rerun_ok,
                          "finished_before_kill": finished_first, "differing_tables": differing, **publication,
                          "identical": identical})
            print(f"kill {i:2d} after {delay:5.1f} s during {step:<40} rerun {'ok' if rerun_ok else 'FAILED'}; "
                  f"{'identical' if identical else 'DIFFERENT: ' + ', '.join(differing or ['publication'])}",
                  flush=True)
            if identical:
                shutil.rmtree(workdir / name, ignore_errors=True)   # keep the disk small; failures are kept

        monitoring = wait_monitoring(instance, killed_runs, timeout=120)
        queue = check_queue(soak, instance, args.last_year)
    finally:
        soak.stop_daemon()

    same = sum(k["identical"] for k in kills)
    left_started = sum(1 for s in monitoring.values() if s == "STARTED")
    print(f"\nresult: {same}/{len(kills)} re-runs identical to the uninterrupted run "
          f"({args.first_year}..{args.last_year}, reference {wall:.0f} s)")
    print(f"run monitoring: {len(monitoring)} killed runs, {sum(s == 'FAILURE' for s in monitoring.values())} "
          f"marked FAILURE, {left_started} still STARTED")
    print(f"queue: {queue}")
    if args.json:
        args.json.write_text(json.dumps({"range": soak.partitions, "reference_seconds": round(wall, 1),
                                         "kills": kills, "monitoring": monitoring, "queue": queue}, indent=1))
    ok = same == len(kills) and left_started == 0 and queue["most_started_at_once"] == 1 and \
        queue["final"] == ["SUCCESS", "SUCCESS"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
