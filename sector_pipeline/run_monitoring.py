"""A run launcher that lets Dagster's run monitoring see a killed run worker on this machine.

Dagster's DefaultRunLauncher cannot report whether a run's process is alive, so the monitoring daemon can only
fail a STARTED run after `max_runtime_seconds`. A run worker killed with SIGKILL (an out-of-memory kill, a
closed terminal, `kill -9` of `dagster asset materialize`) would stay STARTED in the run list for hours, and,
with runs serialised one at a time (dagster.yaml), hold up the queue as long.

Every Dagster event records the process that emitted it; the run's RUN_START event names its worker. This
launcher launches exactly as the default one and answers the monitoring daemon's health check with whether that
process still exists, so a killed run is marked failed within one monitoring interval. It assumes what a local
deployment gives: the daemon and the run workers share one machine (one process table). Named in the project's
dagster.yaml; nothing in the pipeline's code depends on it.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a killed child its parent has not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            # the state follows the command name in parentheses, which may itself hold spaces or parentheses
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher plus a worker health check: is the process that started the run still there?"""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def run_worker_pid(self, run: DagsterRun) -> int | None:
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START,
                                                     limit=1, ascending=False).records
        event = records[0].event_log_entry.dagster_event if records else None
        return event.pid if event is not None else None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self.run_worker_pid(run)
        if pid is None:
            # STARTED but its worker has not reported yet: leave it to the start and runtime timeouts
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no RUN_START event yet")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive",
                                        run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run worker process (PID {pid}) no longer exists: it was killed or crashed before the run "
            "finished. Each step commits in one transaction, so the warehouse holds every step that succeeded "
            "and nothing of the interrupted one; re-run to finish.",
            run_worker_id=str(pid))
