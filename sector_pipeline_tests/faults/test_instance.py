"""The project's Dagster instance (dagster.yaml): runs queued one at a time, killed runs marked failed.

The template is loaded into a real SQLite instance; the daemon's own monitoring function is run against a run
whose worker is alive, then SIGKILLed. (benchmarks/soak_kill.py checks the same with `dagster-daemon run`.)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.dagster_run import RunsFilter
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from sector_pipeline.run_monitoring import LocalRunLauncher, process_alive

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as loaded:
        yield loaded


def test_the_template_serialises_runs_and_monitors_them(instance: dg.DagsterInstance) -> None:
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 1
    assert instance.run_monitoring_enabled and instance.run_monitoring_poll_interval_seconds == 15
    assert instance.run_monitoring_max_resume_run_attempts == 0
    assert isinstance(instance.run_launcher, LocalRunLauncher)
    assert instance.run_launcher.supports_check_run_worker_health


def test_the_template_logs_the_pipelines_progress_at_info_level(instance, tmp_path) -> None:
    from sector_pipeline.warehouse import Warehouse, WindowWrite

    assert instance.python_log_level == "INFO" and instance.managed_python_loggers == ["sector_pipeline"]

    @dg.op
    def write_one_row() -> None:
        frame = pl.DataFrame({"date": [dt.date(2024, 1, 2)], "value": [1.0]})
        Warehouse(tmp_path / "w.duckdb").replace_windows([WindowWrite("raw.t", frame)], dt.date(2024, 1, 2), None)

    @dg.job
    def one_write():
        write_one_row()

    result = one_write.execute_in_process(instance=instance)
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    assert logged == ["raw.t: 1 rows written for 2024-01-02 on, changed 2024-01-02 .. 2024-01-02"]


SLOW_RUN = textwrap.dedent("""
    import time
    import dagster as dg

    @dg.op
    def wait_a_minute():
        print("running", flush=True)
        time.sleep(60)

    @dg.job
    def slow():
        wait_a_minute()

    slow.execute_in_process(instance=dg.DagsterInstance.get())
""")


def test_a_killed_run_is_marked_failed_by_run_monitoring(instance: dg.DagsterInstance) -> None:
    worker = subprocess.Popen([sys.executable, "-c", SLOW_RUN], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert worker.stdout.readline().strip() == "running"
        (record,) = instance.get_run_records(filters=RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        logger = logging.getLogger("run_monitoring_test")
        monitor_started_run(instance, None, record, logger)   # what the daemon does every poll_interval_seconds
        assert instance.get_run_by_id(record.dagster_run.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert not process_alive(worker.pid)
    monitor_started_run(instance, None, instance.get_run_record_by_id(record.dagster_run.run_id), logger)
    run = instance.get_run_by_id(record.dagster_run.run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert f"the run worker process (PID {worker.pid}) no longer exists" in \
        failure[0].event_log_entry.dagster_event.message


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
def test_process_alive_treats_an_unreaped_child_as_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)   # exited but not waited for: a zombie still has a PID
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid) and process_alive(os.getpid())
