"""The DuckDB warehouse: all-or-nothing partition writes and windowed reads. Pure code, no Dagster.

A partition write deletes the window and inserts it inside ONE transaction, for every table the step
produces (e.g. validated rows and their quarantine). A crash or a kill at any point leaves the previous
committed state; re-running the same window yields identical tables.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import duckdb
import polars as pl

from sector_pipeline.errors import SectorPipelineError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class WarehouseError(SectorPipelineError):
    """A write did not fit the stored table, or the warehouse could not be opened."""


def qualified(table: str) -> tuple[str, str]:
    """Split and check a `schema.table` name (identifiers are never user text, but check anyway)."""
    parts = table.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise WarehouseError(f"table name {table!r} must look like schema.table in lowercase snake_case")
    return parts[0], parts[1]


@dataclass(frozen=True)
class WindowWrite:
    """Replace rows of `table` whose `date_column` lies in the window (and that match `scope`) by `frame`."""

    table: str
    frame: pl.DataFrame
    date_column: str = "date"
    scope: Mapping[str, str] = field(default_factory=dict)


class Warehouse:
    """A DuckDB file (or ':memory:' for tests) with the pipeline's tables in schemas per stage."""

    def __init__(self, path: str | Path):
        self.path = str(path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(self.path, read_only=read_only and Path(self.path).exists())
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the warehouse {self.path}: {exc}") from exc
        try:
            yield conn
        finally:
            conn.close()

    def table_exists(self, conn: duckdb.DuckDBPyConnection, table: str) -> bool:
        schema, name = qualified(table)
        return bool(conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0])

    def columns(self, conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        schema, name = qualified(table)
        rows = conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, name],
        ).fetchall()
        return [r[0] for r in rows]

    def replace_windows(self, writes: list[WindowWrite], start: dt.date, end: dt.date) -> dict[str, int]:
        """Replace the window [start, end) of every table in `writes`, all in one transaction.

        Returns the number of rows inserted per table. Tables are created from the first frame's schema.
        """
        inserted: dict[str, int] = {}
        with self.connect() as conn:
            conn.execute("begin transaction")
            try:
                for write in writes:
                    inserted[write.table] = self._replace_window(conn, write, start, end)
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
        return inserted

    def _replace_window(self, conn: duckdb.DuckDBPyConnection, write: WindowWrite, start: dt.date,
                        end: dt.date) -> int:
        schema, name = qualified(write.table)
        frame = write.frame  # noqa: F841  (DuckDB's replacement scan reads the local variable `frame`)
        conn.execute(f"create schema if not exists {schema}")
        conn.execute(f"create table if not exists {schema}.{name} as select * from frame limit 0")
        stored = self.columns(conn, write.table)
        if sorted(stored) != sorted(write.frame.columns):
            raise WarehouseError(
                f"{write.table} stores columns {stored} but this write has {write.frame.columns}; "
                f"the table's definition changed: drop {write.table} and backfill it"
            )
        filters = [f'"{write.date_column}" >= $start_date', f'"{write.date_column}" < $end_date']
        params: dict[str, object] = {"start_date": start, "end_date": end}
        for i, (column, value) in enumerate(sorted(write.scope.items())):
            filters.append(f'"{column}" = $scope_{i}')
            params[f"scope_{i}"] = value
        conn.execute(f"delete from {schema}.{name} where " + " and ".join(filters), params)
        self._insert(conn, f"{schema}.{name}", write.frame)
        return write.frame.height

    def _insert(self, conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
        # BY NAME: column order of a frame never matters, only names and types.
        conn.execute(f"insert into {table} by name select * from frame")

    def has_table(self, table: str) -> bool:
        if self.path != ":memory:" and not Path(self.path).exists():
            return False
        with self.connect(read_only=True) as conn:
            return self.table_exists(conn, table)

    def read_window(self, table: str, start: dt.date, end: dt.date, *, date_column: str = "date",
                    where: Mapping[str, str] | None = None, order_by: str = "all",
                    schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
        """Rows of `table` with `date_column` in [start, end); an absent table reads as an empty frame."""
        if not self.has_table(table):
            return pl.DataFrame(schema=dict(schema or {}))
        schema_name, name = qualified(table)
        with self.connect(read_only=True) as conn:
            filters = [f'"{date_column}" >= $start_date', f'"{date_column}" < $end_date']
            params: dict[str, object] = {"start_date": start, "end_date": end}
            for i, (column, value) in enumerate(sorted((where or {}).items())):
                filters.append(f'"{column}" = $w_{i}')
                params[f"w_{i}"] = value
            sql = f"select * from {schema_name}.{name} where {' and '.join(filters)} order by {order_by}"
            return conn.sql(sql, params=params).pl()

    def last_before(self, table: str, column: str, before: dt.date, *, key: str) -> pl.DataFrame:
        """(key, column) of each key's latest row dated before `before`; empty if the table is absent."""
        if not self.has_table(table):
            return pl.DataFrame(schema={key: pl.String(), column: pl.Float64()})
        qualified(table)
        return self.query(
            f'select "{key}", arg_max("{column}", date) as "{column}" from {table} where date < $before group by all',
            {"before": before},
        )

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
        """Run a read-only query (bound parameters only) and return a Polars frame."""
        with self.connect(read_only=True) as conn:
            return conn.sql(sql, params=dict(params or {})).pl()
