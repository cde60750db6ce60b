"""Publish the marts for readers that must never block the pipeline nor see a half-written run.

A DuckDB file admits one writing process OR readers. BI tools, notebooks and the MCP server therefore read
a published copy, never the warehouse:

    <out>/sector_rotation.duckdb  read-only copy of every marts table and view, plus marts.publish_manifest
    <out>/parquet/<name>.parquet   the same tables and views as Parquet (<out>/parquet is a symlink)

Each publication is built under a temporary name and swapped in with an atomic rename (the DuckDB file) and
an atomic symlink replacement (the Parquet folder). A reader that opened the previous copy keeps reading it
(POSIX keeps a renamed-over file alive while it is open); the next open sees the new one. No reader can see
a partial publication, and the pipeline never opens a published file for writing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sector_pipeline.warehouse import Warehouse, qualified

# Not "marts.duckdb": DuckDB names the catalog after the file, and "marts.x" would then be ambiguous.
PUBLISHED_DB = "sector_rotation.duckdb"
PARQUET_LINK = "parquet"
# Written in an older storage format so that BI tools and the DuckDB CLI, which often lag the library by a
# release or two, can open the copy: DuckDB >= 1.2 reads it.
STORAGE_VERSION = "v1.2.0"
MANIFEST = "publish_manifest"


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


def publish_marts(warehouse: Warehouse, out_dir: str | Path, *, run_id: str, schema: str = "marts") -> Publication:
    """Copy every table and view of `schema` into a fresh published DuckDB file and Parquet folder, then swap."""
    qualified(f"{schema}.{MANIFEST}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
                conn.execute(f"create table pub.{schema}.{table} as select * from {schema}.{table} order by all")
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
            conn.execute(f"copy {schema}.{MANIFEST} to '{parquet_dir / (MANIFEST + '.parquet')}' (format parquet)")
            conn.execute(f"use {_main_catalog(conn)}")  # detach needs pub not to be the default catalog
            conn.execute("checkpoint pub")
        finally:
            conn.execute("detach pub")
    os.replace(tmp_db, out / PUBLISHED_DB)
    link_tmp = out / f".{PARQUET_LINK}.{tag}.tmp"
    os.symlink(parquet_dir.name, link_tmp)
    os.replace(link_tmp, out / PARQUET_LINK)
    _fsync_dir(out)
    _prune(out, keep={parquet_dir.name})
    return Publication(out / PUBLISHED_DB, out / PARQUET_LINK, counts, view_counts, stamp)


def _main_catalog(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute(
        "select database_name from duckdb_databases() where not internal and database_name <> 'pub' "
        "order by database_oid limit 1").fetchall()[0][0]


def _prune(out: Path, keep: set[str], previous_to_keep: int = 1) -> None:
    """Remove old Parquet folders, keeping the current one and the one before (a reader may still be in it)."""
    folders = sorted((p for p in out.glob("parquet-*") if p.is_dir() and p.name not in keep), reverse=True)
    for old in folders[previous_to_keep:]:
        shutil.rmtree(old, ignore_errors=True)
    an_hour_ago = dt.datetime.now().timestamp() - 3600
    for stale in out.glob(f".{PUBLISHED_DB}.*.tmp*"):  # left by a publication killed mid-way
        if stale.stat().st_mtime < an_hour_ago:
            stale.unlink(missing_ok=True)
