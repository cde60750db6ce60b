"""What a fault must not break, checked the same way by the fault suite and the soak: every table, the publication."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Columns that record when or by which run a row was written: equal data written by two runs differs there.
RUN_COLUMNS = {"meta.table_changes": ("seq", "run_id", "written_at"),
               "signals.alert_outbox": ("queued_at_utc", "last_attempt_at_utc", "delivered_at_utc")}


def table_hashes(path: Path, *, across_runs: bool = False) -> dict[str, str]:
    """Every base table (meta.* included) -> its row count and an order-independent hash of all its rows.

    across_runs: leave out RUN_COLUMNS, to compare the tables two different runs wrote.
    """
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1").fetchall()]
        hashes = {}
        for table in tables:
            dropped = RUN_COLUMNS.get(table, ()) if across_runs else ()
            columns = f"* exclude ({', '.join(dropped)})" if dropped else "*"
            # the sum of per-row hashes (as a wide integer) ignores row order and sees every value
            rows, digest = conn.execute(f"select count(*), coalesce(sum(hash(r)::hugeint), 0) "
                                        f"from (select {columns} from {table}) as r").fetchall()[0]
            hashes[table] = f"{rows}:{digest}"
        return hashes
    finally:
        conn.close()


def publication_complete(published: Path) -> bool:
    """The published DuckDB file and the linked Parquet folder each hold every object of their manifest, whole."""
    db, folder = published / "sector_rotation.duckdb", published / "parquet"
    if not db.exists() or not folder.exists():
        return False
    conn = duckdb.connect(str(db), read_only=True)
    try:
        manifest = conn.execute("select object_name, row_count from marts.publish_manifest").fetchall()
        in_db = all(conn.execute(f"select count(*) from marts.{name}").fetchall()[0][0] == rows
                    for name, rows in manifest)
    finally:
        conn.close()
    in_parquet = all(duckdb.sql(f"select count(*) from '{folder / (name + '.parquet')}'").fetchall()[0][0] == rows
                     for name, rows in manifest)
    return bool(manifest) and in_db and in_parquet
