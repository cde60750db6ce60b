"""Publish the marts for readers that must never block the pipeline nor see a half-written run.

A DuckDB file admits one writing process OR readers. BI tools, notebooks and the MCP server therefore read
a published copy, never the warehouse:

    <out>/sector_rotation.duckdb  read-only copy of every marts table and view, plus marts.publish_manifest
    <out>/parquet/<name>.parquet   the same tables and views as Parquet (<out>/parquet is a symlink)

Each publication is built under a temporary name and swapped in with an atomic rename (the DuckDB file) and
an atomic symlink replacement (the Parquet folder). A reader that opened the previous copy keeps reading it
(POSIX keeps a renamed-over file alive while it is open); the next open sees the new one. No reader can see
a partial publication, and the pipeline never opens a published file for writing.

Clean-up. The Parquet folder the link pointed to until a swap is kept for `retired_grace_seconds` (default
10 minutes; a reader that listed its files may still be opening them), then removed. Its retirement time is
written to `<out>/.retired_parquet.json` BEFORE the swap, so a publication killed at any point never leaves a
folder that was linked without a record. Everything else in <out> that a killed publication left (a
parquet-* folder that was never linked, temporary DuckDB files, a temporary link) is removed by the next
publication, which holds `<out>/.publish.lock` (an flock, released by the kernel even on SIGKILL): whatever
it finds that is not its own belongs to a publication that is no longer running.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

from sector_pipeline.errors import SectorPipelineError
from sector_pipeline.warehouse import Warehouse, qualified

# Not "marts.duckdb": DuckDB names the catalog after the file, and "marts.x" would then be ambiguous.
PUBLISHED_DB = "sector_rotation.duckdb"
PARQUET_LINK = "parquet"
# Written in an older storage format so that BI tools and the DuckDB CLI, which often lag the library by a
# release or two, can open the copy: DuckDB >= 1.2 reads it.
STORAGE_VERSION = "v1.2.0"
MANIFEST = "publish_manifest"
LOCK_FILE = ".publish.lock"
RETIRED_LEDGER = ".retired_parquet.json"
DEFAULT_RETIRED_GRACE_SECONDS = 600.0


class PublishError(SectorPipelineError):
    """The publication could not start (another one holds the folder) or could not be written."""


@dataclass(frozen=True)
class Publication:
    path: Path
    parquet_dir: Path
    tables: dict[str, int]   # name -> rows
    views: dict[str, int]
    published_at: dt.datetime


def _objects(conn: duckdb.DuckDBPyConnection, schema: str) -> tuple[list[str], dict[str, str]]:
    tables = [r[0] for r in conn.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "order by table_name", [schema]).fetchall()]
    views = {r[0]: r[1] for r in conn.execute(
        "select view_name, sql from duckdb_views() where database_name = current_database() and schema_name = ? "
        "and not internal order by view_name", [schema]).fetchall()}
    return tables, views


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_marts(warehouse: Warehouse, out_dir: str | Path, *, run_id: str, schema: str = "marts",
                  retired_grace_seconds: float = DEFAULT_RETIRED_GRACE_SECONDS,
                  lock_timeout_seconds: float = 600.0) -> Publication:
    """Copy every table and view of `schema` into a fresh published DuckDB file and Parquet folder, then swap.

    Left-overs of killed publications are removed first (they may be what fills the disk), the retired
    Parquet folders older than `retired_grace_seconds` last.
    """
    qualified(f"{schema}.{MANIFEST}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with publication_lock(out, lock_timeout_seconds):
        remove_leftovers(out, retired_grace_seconds)
        try:
            return _publish(warehouse, out, run_id=run_id, schema=schema,
                            retired_grace_seconds=retired_grace_seconds)
        except BaseException:
            # A failed publication (disk full, a bad view) leaves nothing behind; the previous one stays served.
            remove_leftovers(out, retired_grace_seconds)
            raise


def _publish(warehouse: Warehouse, out: Path, *, run_id: str, schema: str, retired_grace_seconds: float
             ) -> Publication:
    stamp = dt.datetime.now(dt.timezone.utc)
    tag = f"{stamp:%Y%m%dT%H%M%S%fZ}-{os.getpid()}"
    tmp_db = out / f".{PUBLISHED_DB}.{tag}.tmp"
    parquet_dir = out / f"parquet-{tag}"
    parquet_dir.mkdir()
    counts: dict[str, int] = {}
    view_counts: dict[str, int] = {}
    with warehouse.connect() as conn:
        tables, views = _objects(conn, schema)
        # the path is ours (timestamp + pid), never user text
        conn.execute(f"attach '{tmp_db}' as pub (storage_version '{STORAGE_VERSION}')")
        try:
            conn.execute(f"create schema pub.{schema}")
            for table in tables:
                # date order: readers' date filters skip whole row groups; a sort on every column cost twice
                # as much on 28 years of marts (the copy is the one step of a nightly that grows with history)
                conn.execute(f"create table pub.{schema}.{table} as select * from {schema}.{table} order by date")
                counts[table] = conn.execute(f"select count(*) from pub.{schema}.{table}").fetchall()[0][0]
                conn.execute(f"copy pub.{schema}.{table} to '{parquet_dir / (table + '.parquet')}' (format parquet)")
            conn.execute(
                f"create table pub.{schema}.{MANIFEST} (published_at timestamptz, run_id varchar, "
                "object_name varchar, object_type varchar, row_count bigint, min_date date, max_date date)")
            conn.execute("use pub")
            for view, sql in views.items():
                conn.execute(sql)  # the stored `create view marts.x as ...` now resolves inside pub
                view_counts[view] = conn.execute(f"select count(*) from {schema}.{view}").fetchall()[0][0]
                conn.execute(f"copy {schema}.{view} to '{parquet_dir / (view + '.parquet')}' (format parquet)")
            for name, kind, rows in [*((t, "table", n) for t, n in counts.items()),
                                     *((v, "view", n) for v, n in view_counts.items())]:
                dates = conn.execute(f"select min(date), max(date) from {schema}.{name}").fetchall()[0]
                conn.execute(f"insert into {schema}.{MANIFEST} values ($1, $2, $3, $4, $5, $6, $7)",
                             [stamp, run_id, name, kind, rows, dates[0], dates[1]])
            # the manifest's contract, before the copy replaces the served one (a refusal leaves nothing behind)
            warehouse.verify_rows(f"marts.{MANIFEST}", conn.sql(f"select * from {schema}.{MANIFEST}").pl())
            conn.execute(f"copy {schema}.{MANIFEST} to '{parquet_dir / (MANIFEST + '.parquet')}' (format parquet)")
            conn.execute(f"use {_main_catalog(conn)}")  # detach needs pub not to be the default catalog
            conn.execute("checkpoint pub")
        finally:
            conn.execute("detach pub")
    previous = linked_folder(out)
    if previous is not None:
        # Recorded before the swap: killed after it, the folder readers were in still has its grace period.
        _retire(out, previous, time.time())
    os.replace(tmp_db, out / PUBLISHED_DB)
    link_tmp = out / f".{PARQUET_LINK}.{tag}.tmp"
    os.symlink(parquet_dir.name, link_tmp)
    os.replace(link_tmp, out / PARQUET_LINK)
    _fsync_dir(out)
    remove_leftovers(out, retired_grace_seconds)
    return Publication(out / PUBLISHED_DB, out / PARQUET_LINK, counts, view_counts, stamp)


def _main_catalog(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute(
        "select database_name from duckdb_databases() where not internal and database_name <> 'pub' "
        "order by database_oid limit 1").fetchall()[0][0]


@contextmanager
def publication_lock(out: Path, timeout_seconds: float = 600.0) -> Iterator[None]:
    """Hold <out>/.publish.lock: one publication at a time per folder, and a way to know the others are dead."""
    path = out / LOCK_FILE
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_seconds
        delay = 0.05
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() + delay > deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise PublishError(f"cannot publish into {out}: {holder} has been publishing there for more "
                                       f"than {timeout_seconds:g} s ({path} is locked)") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def linked_folder(out: Path) -> str | None:
    """The name of the Parquet folder <out>/parquet points to (None: no publication yet)."""
    try:
        return os.readlink(out / PARQUET_LINK)
    except (FileNotFoundError, OSError):
        return None


def _read_ledger(out: Path) -> dict[str, float]:
    try:
        ledger = json.loads((out / RETIRED_LEDGER).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): float(v) for k, v in ledger.items()} if isinstance(ledger, dict) else {}


def _write_ledger(out: Path, ledger: dict[str, float]) -> None:
    tmp = out / f"{RETIRED_LEDGER}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True))
    os.replace(tmp, out / RETIRED_LEDGER)


def _retire(out: Path, folder: str, at: float) -> None:
    _write_ledger(out, {**_read_ledger(out), folder: at})


def remove_leftovers(out: Path, retired_grace_seconds: float, *, now: float | None = None) -> list[str]:
    """Remove what no reader can need; returns the names removed. Call only while holding the lock.

    Kept: the folder the link points to, and folders it pointed to less than `retired_grace_seconds` ago.
    Removed: other parquet-* folders (retired long enough, or never linked: a killed publication's), and the
    temporary DuckDB files and links of killed publications.
    """
    now = time.time() if now is None else now
    current = linked_folder(out)
    ledger = {name: at for name, at in _read_ledger(out).items() if (out / name).is_dir() and name != current}
    keep = {current} | {name for name, at in ledger.items() if now - at < retired_grace_seconds}
    removed = []
    for folder in sorted(out.glob("parquet-*")):
        if folder.is_dir() and not folder.is_symlink() and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    for pattern in (f".{PUBLISHED_DB}.*.tmp*", f".{PARQUET_LINK}.*.tmp", f"{RETIRED_LEDGER}.*.tmp"):
        for stale in out.glob(pattern):
            stale.unlink(missing_ok=True)
            removed.append(stale.name)
    _write_ledger(out, {name: at for name, at in ledger.items() if name in keep})
    return removed
