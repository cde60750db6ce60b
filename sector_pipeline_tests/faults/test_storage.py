"""Storage faults: a full disk, a reader holding the warehouse, two runs at once, an unusable warehouse path."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
import pytest

from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.warehouse import Warehouse, WarehouseError
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import (
    NEXT_FIRST,
    NEXT_LAST,
    Stored,
    failure_messages,
    headlines,
    pipeline,
    table_hashes,
)
from sector_pipeline_tests.faults.test_kills import nightly

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

INGEST = dg.AssetSelection.assets(["raw", "prices"], ["raw", "macro"])


@contextmanager
def small_filesystem(folder: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of the given size mounted on `folder` (skips the test where mounting is not permitted)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (the injected ENOSPC test covers the same path)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_disk_full_names_the_cause_and_the_file_and_changes_nothing(stored: Stored, tmp_path: Path) -> None:
    size_mb = stored.warehouse.stat().st_size // 2**20 + 4
    with small_filesystem(tmp_path / "small", size_mb) as small:
        warehouse = small / "w.duckdb"
        shutil.copy2(stored.warehouse, warehouse)
        before = table_hashes(warehouse)
        filler = fill(small)
        result = run_range(pipeline(warehouse, published_dir=str(small / "published")), NEXT_FIRST, NEXT_LAST,
                           raise_on_error=False, selection=INGEST)
        assert not result.success
        message = failure_messages(result)
        headline = headlines(result)[0]
        assert headline.startswith("no space left on device while writing raw.")
        assert f"{warehouse}" in headline and "nothing was changed" in headline
        assert "cannot rollback" not in message
        filler.unlink()
        assert table_hashes(warehouse) == before
        assert run_range(pipeline(warehouse, published_dir=str(small / "published")), NEXT_FIRST, NEXT_LAST,
                         selection=INGEST).success   # space freed: the same run goes through


class FullDiskConnection:
    """A DuckDB connection whose COMMIT fails as DuckDB's does when the disk is full (the WAL cannot be written)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: str):
        self._conn, self._path, self._failed = conn, path, False

    def execute(self, sql: str, *args: object):
        if sql.strip() == "commit":
            self._conn.execute("rollback")
            self._failed = True
            raise duckdb.TransactionException(f'TransactionContext Error: Failed to commit: Could not write file '
                                              f'"{self._path}.wal": No space left on device')
        if sql.strip() == "rollback" and self._failed:
            raise duckdb.TransactionException("TransactionContext Error: cannot rollback - no transaction is active")
        scanned = sys._getframe(1).f_locals.get("frame")  # DuckDB's replacement scan looks in the caller's locals
        if scanned is not None and "from frame" in sql:
            self._conn.register("frame", scanned)
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def test_injected_enospc_at_commit_is_the_headline_not_the_failed_rollback(stored: Stored, monkeypatch) -> None:
    opened = Warehouse._open
    monkeypatch.setattr(Warehouse, "_open",
                        lambda self, read_only: FullDiskConnection(opened(self, read_only), self.path))
    before = table_hashes(stored.warehouse)
    result = run_range(pipeline(stored.warehouse), NEXT_FIRST, NEXT_LAST, raise_on_error=False, selection=INGEST)
    assert not result.success
    headline = headlines(result)[0]
    assert headline == (f"no space left on device while writing raw.macro to {stored.warehouse}.wal: nothing was "
                        f"changed (the warehouse {stored.warehouse} keeps its previous state); free space there "
                        "and run again")
    monkeypatch.undo()
    assert table_hashes(stored.warehouse) == before


HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('held', flush=True); " \
       "time.sleep(float(sys.argv[2]))"


def hold_warehouse(path: Path, seconds: float) -> subprocess.Popen:
    """A BI reader (a notebook, the DuckDB CLI) holding the warehouse open for `seconds`."""
    reader = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "held"
    return reader


def test_a_reader_holding_the_warehouse_for_a_while_delays_the_run_but_does_not_fail_it(stored: Stored) -> None:
    reader = hold_warehouse(stored.warehouse, 2.0)
    began = time.monotonic()
    result = run_range(pipeline(stored.warehouse), NEXT_FIRST, NEXT_LAST, selection=INGEST)
    assert result.success and time.monotonic() - began > 1.0   # it waited for the reader
    assert reader.wait(timeout=30) == 0
    assert Warehouse(stored.warehouse).max_date("raw.prices") == NEXT_LAST


def test_a_reader_holding_the_warehouse_too_long_fails_naming_its_pid_and_the_published_copy(stored: Stored) -> None:
    before = table_hashes(stored.warehouse)
    reader = hold_warehouse(stored.warehouse, 60)
    try:
        patient = WarehouseResource(path=str(stored.warehouse), lock_timeout_seconds=1.0)
        result = run_range(pipeline(stored.warehouse, resources={"warehouse": patient}), NEXT_FIRST, NEXT_LAST,
                           raise_on_error=False, selection=INGEST)
    finally:
        reader.kill()
        reader.wait(timeout=30)
    assert not result.success
    message = failure_messages(result)
    assert f"is locked by the process with PID {reader.pid}: still locked after waiting 1.0 s" in message
    assert "should read the published copy (sector_rotation.duckdb" in message
    assert table_hashes(stored.warehouse) == before


def test_two_runs_started_together_both_succeed_and_equal_one_run(stored: Stored,
                                                                  nightly_reference: dict[str, str]) -> None:
    first, second = nightly(stored), nightly(stored)
    outputs = [p.communicate(timeout=900)[0].strip() for p in (first, second)]
    assert [o.splitlines()[-1] for o in outputs] == ["success", "success"], outputs
    assert table_hashes(stored.warehouse, across_runs=True) == nightly_reference


def test_a_warehouse_path_below_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(WarehouseError, match=rf"{tmp_path / 'data'} is a file, not a folder"):
        Warehouse(tmp_path / "data" / "sub" / "w.duckdb").query("select 1")
    with pytest.raises(WarehouseError, match="exists but is not a DuckDB database"):
        Warehouse(tmp_path / "data").query("select 1")
    assert (tmp_path / "data").read_text() == "not a folder"


def test_a_warehouse_on_a_read_only_filesystem_is_named_and_still_readable(stored: Stored, tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "ro", stored.warehouse.stat().st_size // 2**20 + 4) as folder:
        warehouse = folder / "w.duckdb"
        shutil.copy2(stored.warehouse, warehouse)
        before = table_hashes(warehouse)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        result = run_range(pipeline(warehouse, published_dir=str(tmp_path / "published")), NEXT_FIRST, NEXT_LAST,
                           raise_on_error=False, selection=INGEST)
        assert not result.success
        assert f"cannot open the warehouse {warehouse} for writing: it is on a read-only file system" in \
            failure_messages(result)
        assert table_hashes(warehouse) == before   # readers still read it
        with pytest.raises(WarehouseError, match="cannot create the warehouse folder .*Read-only file system"):
            Warehouse(folder / "new" / "w.duckdb").query("select 1")
