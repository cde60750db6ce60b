"""The DuckDB warehouse: all-or-nothing window writes, a change log, bounded reads. Pure code, no Dagster.

A write deletes a date window of each table it produces and inserts the new rows inside ONE transaction. A
crash or a kill at any point leaves the previous committed state; re-running the same window yields identical
tables.

Every committed write also records, in the same transaction, which dates of the table actually changed
(``meta.table_changes``: the first and last date where the new rows differ from the stored ones), and which
of its inputs' changes the writer has consumed (``meta.consumed_changes``). An incremental table recomputes
exactly the dates its inputs changed since it last ran: a nightly run touches one day, a correction of
2008 recomputes from 2008, and after any successful run every layer holds what its inputs hold.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import duckdb
import polars as pl

from sector_pipeline.errors import SectorPipelineError

# One INFO line per committed table write: the progress a terminal run shows (dagster.yaml manages this logger).
log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
CHANGES = "meta.table_changes"
CONSUMED = "meta.consumed_changes"
_LOCK_HOLDER = re.compile(r"PID (\d+)")


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
    # Rows whose column holds one of these values are left as stored (neither deleted nor compared): the series
    # of a provider that did not answer this time keep the values it delivered before.
    keep: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Side tables (e.g. the quarantine) are not inputs of anything incremental: no change record.
    track_changes: bool = True


@dataclass(frozen=True)
class WriteResult:
    rows: int
    changed_from: dt.date | None     # first date whose rows differ from what was stored (None: nothing changed)
    changed_through: dt.date | None  # last such date


@dataclass(frozen=True)
class Pending:
    """Changes of a consumer's inputs it has not consumed yet."""

    start: dt.date | None            # first changed date over all inputs (None: nothing to do)
    seqs: dict[str, int]             # input table -> its latest change sequence (0: none), to mark as consumed
    first_run: bool                  # the consumer has never consumed anything


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


class Warehouse:
    """A DuckDB file (or ':memory:' for tests) with the pipeline's tables in schemas per stage.

    `with store.session():` keeps ONE connection open for everything done inside it (a step's reads and its
    write); outside a session each call opens and closes its own connection, so readers never hold the file.
    """

    def __init__(self, path: str | Path, *, lock_timeout_seconds: float = 60.0,
                 verify: Callable[[str, pl.DataFrame], object] | None = None):
        self.path = str(path)
        self.lock_timeout_seconds = lock_timeout_seconds
        # Called with every write's new rows inside its transaction, before anything stored is touched: it
        # raises to refuse the write (the pipeline passes the tables' contracts, contracts.enforce_contract).
        # What it returns for each table is kept in `verdicts` for the run to report.
        self.verify = verify
        self.verdicts: dict[str, object] = {}
        self._conn: duckdb.DuckDBPyConnection | None = None
        # Within a session: tables known to exist (a table is never dropped by the pipeline) and whether the
        # meta schema is there, so the bookkeeping of every step does not re-ask the catalog.
        self._known_tables: set[str] = set()
        self._meta_ready = False

    def verify_rows(self, table: str, frame: pl.DataFrame) -> None:
        """Apply `verify` to rows of `table` (it raises to refuse them) and keep its verdict for the run."""
        if self.verify is not None:
            self.verdicts[table] = self.verify(table, frame)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as exc:
                # Name the file that is in the way, not the folder that could not be made below it.
                blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
                raise WarehouseError(f"cannot create the warehouse folder {folder}: {blocker} is a file, not a "
                                     f"folder (set SECTOR_PIPELINE_WAREHOUSE to a path in a folder)") from exc
            except OSError as exc:
                raise WarehouseError(f"cannot create the warehouse folder {folder}: {exc.strerror} "
                                     f"({exc.filename or folder})") from exc
        started = time.monotonic()
        deadline = started + self.lock_timeout_seconds
        delay = 0.1
        while True:
            try:
                return duckdb.connect(self.path, read_only=read_only and Path(self.path).exists())
            except duckdb.Error as exc:
                left = deadline - time.monotonic()
                if _is_lock_error(exc) and left > 0:
                    # Another process (a notebook, the DuckDB CLI, a second run) holds the file: wait, it is
                    # usually a short read; give up only after the configured bound (a last try at the bound).
                    time.sleep(min(delay, left))
                    delay = min(delay * 2, 2.0)
                    continue
                raise WarehouseError(self._open_error(exc, waited=time.monotonic() - started)) from exc

    def _open_error(self, exc: BaseException, waited: float = 0.0) -> str:
        text = str(exc)
        if _is_lock_error(exc):
            holder = _LOCK_HOLDER.search(text)
            who = f"the process with PID {holder.group(1)}" if holder else "another process"
            return (f"the warehouse {self.path} is locked by {who}: still locked after waiting {waited:.1f} s "
                    f"(lock_timeout_seconds = {self.lock_timeout_seconds:g}). DuckDB admits one writer OR "
                    "readers: close that connection (a notebook, the DuckDB CLI, another run); BI tools and "
                    "notebooks should read the published copy (sector_rotation.duckdb in the published folder, "
                    "data/published by default) instead")
        if "No space left" in text:
            return (f"no space left on device while opening the warehouse {self.path}: nothing was changed; "
                    "free space there and run again")
        if "Read-only file system" in text:
            return (f"cannot open the warehouse {self.path} for writing: it is on a read-only file system; set "
                    "SECTOR_PIPELINE_WAREHOUSE to a writable location")
        if "Permission denied" in text:
            return f"cannot open the warehouse {self.path}: permission denied (the pipeline writes this file)"
        if "not a valid DuckDB database file" in text:
            return (f"cannot open the warehouse {self.path}: that file exists but is not a DuckDB database; "
                    "point SECTOR_PIPELINE_WAREHOUSE to a .duckdb file or to a path that does not exist yet")
        return f"cannot open the warehouse {self.path}: {text}"

    @contextmanager
    def session(self) -> Iterator["Warehouse"]:
        """One connection for everything done inside (reentrant)."""
        if self._conn is not None:
            yield self
            return
        self._conn = self._open(read_only=False)
        try:
            yield self
        finally:
            conn, self._conn = self._conn, None
            self._forget_catalog()
            conn.close()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._conn is not None:
            yield self._conn
            return
        conn = self._open(read_only)
        try:
            yield conn
        finally:
            conn.close()

    # -- catalog ---------------------------------------------------------------------------------------

    def _forget_catalog(self) -> None:
        """A rolled-back transaction may have created tables: ask the catalog again."""
        self._known_tables.clear()
        self._meta_ready = False

    def table_exists(self, conn: duckdb.DuckDBPyConnection, table: str) -> bool:
        if conn is self._conn and table in self._known_tables:
            return True
        schema, name = qualified(table)
        exists = bool(conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0])
        if exists and conn is self._conn:
            self._known_tables.add(table)
        return exists

    def columns(self, conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        schema, name = qualified(table)
        rows = conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, name],
        ).fetchall()
        return [r[0] for r in rows]

    def has_table(self, table: str) -> bool:
        if self._conn is None and self.path != ":memory:" and not Path(self.path).exists():
            return False
        with self.connect(read_only=True) as conn:
            return self.table_exists(conn, table)

    # -- writes ----------------------------------------------------------------------------------------

    def replace_windows(self, writes: Sequence[WindowWrite], start: dt.date, end: dt.date | None, *,
                        run_id: str = "", consumer: str | None = None,
                        consumed: Mapping[str, int] | None = None) -> dict[str, WriteResult]:
        """Replace the window [start, end) (end None: every date from start on) of every table, in one transaction.

        Also records what changed in each tracked table and, for `consumer`, the input changes it consumed.
        Tables are created from the first frame's schema.
        """
        results: dict[str, WriteResult] = {}
        with self._transaction([w.table for w in writes]) as conn:
            for write in writes:
                results[write.table] = self._replace_window(conn, write, start, end, run_id)
            if consumer is not None and consumed:
                self._mark_consumed(conn, consumer, consumed)
        for table, result in results.items():
            _log_write(table, start, end, result)
        return results

    @contextmanager
    def _transaction(self, tables: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the warehouse: committed when the block ends, rolled back on any error.

        A DuckDB or OS error becomes a WarehouseError naming the tables and the cause (disk full first).
        """
        with self.connect() as conn:
            conn.execute("begin transaction")
            try:
                yield conn
                conn.execute("commit")
            except BaseException as exc:
                self._forget_catalog()
                try:
                    conn.execute("rollback")
                except duckdb.Error:
                    pass  # a failed commit (disk full) has already ended the transaction: the cause is `exc`
                if isinstance(exc, (duckdb.Error, OSError)):
                    raise WarehouseError(self._write_error(exc, tables)) from exc
                raise

    def _write_error(self, exc: BaseException, tables: list[str]) -> str:
        text = str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "No space left" in text:
            # DuckDB names the file it could not write (the database or its .wal): that is the full disk.
            written = re.search(r'write (?:to )?file "([^"]+)"', text)
            where = written.group(1) if written else (exc.filename if isinstance(exc, OSError) and exc.filename
                                                      else self.path)
            return (f"no space left on device while writing {', '.join(tables)} to {where}: nothing was changed "
                    f"(the warehouse {self.path} keeps its previous state); free space there and run again")
        return f"writing {', '.join(tables)} to {self.path} failed, nothing was changed: {text}"

    def _replace_window(self, conn: duckdb.DuckDBPyConnection, write: WindowWrite, start: dt.date,
                        end: dt.date | None, run_id: str) -> WriteResult:
        frame = write.frame  # noqa: F841  (DuckDB's replacement scan reads the local variable `frame`)
        conn.execute("create or replace temp table __incoming as select * from frame")
        return self._replace_from_incoming(conn, write.table, start, end, run_id, date_column=write.date_column,
                                           scope=write.scope, keep=write.keep,
                                           track_changes=write.track_changes)

    def replace_from_query(self, table: str, sql: str, params: Mapping[str, object], start: dt.date,
                           end: dt.date | None, *, run_id: str = "", consumer: str | None = None,
                           consumed: Mapping[str, int] | None = None) -> WriteResult:
        """Like replace_windows for one table whose new rows are a query's rows in the window (SQL models)."""
        with self._transaction([table]) as conn:
            window = "date >= $__start" + (" and date < $__end" if end is not None else "")
            bound = {**params, "__start": start, **({"__end": end} if end is not None else {})}
            conn.execute(f"create or replace temp table __incoming as select * from ({sql}) as model "
                         f"where {window}", bound)
            result = self._replace_from_incoming(conn, table, start, end, run_id)
            if consumer is not None and consumed:
                self._mark_consumed(conn, consumer, consumed)
        _log_write(table, start, end, result)
        return result

    def _replace_from_incoming(self, conn: duckdb.DuckDBPyConnection, table: str, start: dt.date,
                               end: dt.date | None, run_id: str, *, date_column: str = "date",
                               scope: Mapping[str, str] | None = None,
                               keep: Mapping[str, tuple[str, ...]] | None = None,
                               track_changes: bool = True) -> WriteResult:
        """Replace the window of `table` by the rows of the temp table __incoming (same transaction)."""
        schema, name = qualified(table)
        if self.verify is not None:
            # the rows as DuckDB will store them (its types), whether they came from a frame or a query
            self.verify_rows(table, conn.sql("select * from __incoming").pl())
        conn.execute(f"create schema if not exists {schema}")
        conn.execute(f"create table if not exists {schema}.{name} as select * from __incoming limit 0")
        stored = self.columns(conn, table)
        incoming = [r[0] for r in conn.execute("select column_name from (describe __incoming)").fetchall()]
        if sorted(stored) != sorted(incoming):
            raise WarehouseError(
                f"{table} stores columns {stored} but this write has {incoming}; "
                f"the table's definition changed: drop {table} and backfill it"
            )
        column = f'"{date_column}"'
        filters = [f"{column} >= $start_date"]
        params: dict[str, object] = {"start_date": start}
        if end is not None:
            filters.append(f"{column} < $end_date")
            params["end_date"] = end
        for i, (key, value) in enumerate(sorted((scope or {}).items())):
            filters.append(f'"{key}" = $scope_{i}')
            params[f"scope_{i}"] = value
        for i, (key, values) in enumerate(sorted((keep or {}).items())):
            if values:
                filters.append(f'not list_contains($keep_{i}, "{key}")')
                params[f"keep_{i}"] = list(values)
        where = " and ".join(filters)
        rows = conn.execute("select count(*) from __incoming").fetchall()[0][0]
        changed: tuple[dt.date | None, dt.date | None] = (None, None)
        stored_rows = conn.execute(f"select count(*) from {schema}.{name} where {where}", params).fetchall()[0][0]
        if track_changes and not stored_rows:
            # Nothing stored in the window (a first run, new dates): every new date is a change.
            changed = conn.execute(f"select min({column}), max({column}) from __incoming").fetchall()[0]
        elif track_changes:
            # Dates whose stored rows differ from the new ones (either way): exact comparison of every column.
            listed = ", ".join(f'"{c}"' for c in stored)
            changed = conn.execute(
                f"select min(d), max(d) from ("
                f"  select {column} as d from (select {listed} from {schema}.{name} where {where} "
                f"                           except all select {listed} from __incoming)"
                f"  union all"
                f"  select {column} as d from (select {listed} from __incoming "
                f"                           except all select {listed} from {schema}.{name} where {where}))",
                params).fetchall()[0]
        if stored_rows:
            conn.execute(f"delete from {schema}.{name} where {where}", params)
        conn.execute(f"insert into {schema}.{name} by name select * from __incoming")
        conn.execute("drop table __incoming")
        if track_changes and changed[0] is not None:
            self._record_change(conn, table, changed[0], changed[1], int(rows), run_id)
        return WriteResult(int(rows), changed[0], changed[1])

    # -- change log --------------------------------------------------------------------------------------

    def _ensure_meta(self, conn: duckdb.DuckDBPyConnection) -> None:
        if conn is self._conn and self._meta_ready:
            return
        conn.execute("create schema if not exists meta")
        conn.execute(f"create table if not exists {CHANGES} (seq bigint, table_name varchar, changed_from date, "
                     "changed_through date, rows_written bigint, run_id varchar, written_at timestamptz)")
        conn.execute(f"create table if not exists {CONSUMED} (consumer varchar, input_table varchar, seq bigint)")
        if conn is self._conn:
            self._meta_ready = True

    def _record_change(self, conn: duckdb.DuckDBPyConnection, table: str, changed_from: dt.date,
                       changed_through: dt.date, rows: int, run_id: str) -> None:
        self._ensure_meta(conn)
        conn.execute(
            f"insert into {CHANGES} select coalesce(max(seq), 0) + 1, $table, $from, $through, $rows, $run, now() "
            f"from {CHANGES}",
            {"table": table, "from": changed_from, "through": changed_through, "rows": rows, "run": run_id})

    def _mark_consumed(self, conn: duckdb.DuckDBPyConnection, consumer: str, seqs: Mapping[str, int]) -> None:
        self._ensure_meta(conn)
        for table, seq in sorted(seqs.items()):
            conn.execute(f"delete from {CONSUMED} where consumer = $c and input_table = $t",
                         {"c": consumer, "t": table})
            conn.execute(f"insert into {CONSUMED} values ($c, $t, $s)", {"c": consumer, "t": table, "s": seq})

    def mark_consumed(self, consumer: str, seqs: Mapping[str, int]) -> None:
        """Record that `consumer` (an asset that writes no table: a picture, a publication) used these changes."""
        with self._transaction([CONSUMED]) as conn:
            self._mark_consumed(conn, consumer, seqs)

    def pending(self, consumer: str, inputs: Sequence[str]) -> Pending:
        """The first input date changed since `consumer` last ran, and each input's latest change sequence."""
        with self.connect() as conn:
            self._ensure_meta(conn)
            first_run = not conn.execute(f"select count(*) from {CONSUMED} where consumer = $c",
                                         {"c": consumer}).fetchall()[0][0]
            rows = conn.execute(
                f"select c.table_name, min(c.changed_from) filter (where c.seq > coalesce(k.seq, 0)), max(c.seq) "
                f"from {CHANGES} c left join {CONSUMED} k on k.consumer = $consumer and k.input_table = c.table_name "
                "where list_contains($inputs, c.table_name) group by c.table_name",
                {"consumer": consumer, "inputs": list(inputs)},
            ).fetchall()
        seqs = {table: 0 for table in inputs}
        seqs.update({r[0]: int(r[2]) for r in rows})
        starts = [r[1] for r in rows if r[1] is not None]
        return Pending(min(starts) if starts else None, seqs, first_run)

    # -- reads -----------------------------------------------------------------------------------------

    def read_window(self, table: str, start: dt.date, end: dt.date | None, *, date_column: str = "date",
                    where: Mapping[str, str] | None = None, order_by: str = "all",
                    schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
        """Rows of `table` with `date_column` in [start, end) (end None: no upper bound); absent table: no rows."""
        if not self.has_table(table):
            return pl.DataFrame(schema=dict(schema or {}))
        schema_name, name = qualified(table)
        with self.connect(read_only=True) as conn:
            filters = [f'"{date_column}" >= $start_date']
            params: dict[str, object] = {"start_date": start}
            if end is not None:
                filters.append(f'"{date_column}" < $end_date')
                params["end_date"] = end
            for i, (column, value) in enumerate(sorted((where or {}).items())):
                filters.append(f'"{column}" = $w_{i}')
                params[f"w_{i}"] = value
            sql = f"select * from {schema_name}.{name} where {' and '.join(filters)} order by {order_by}"
            return conn.sql(sql, params=params).pl()

    def read_rows_before(self, table: str, before: dt.date, end: dt.date | None, *, rows: int, key: str | None,
                         schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
        """Each key's last `rows` rows dated before `before`, and every row in [before, end).

        The lookback counts the key's own rows (its sessions), so a window function of `rows` rows reads
        exactly what it would read in the full history, whatever the gaps of the calendar. `key` "date"
        counts distinct dates instead; None counts rows.
        """
        if not self.has_table(table):
            return pl.DataFrame(schema=dict(schema or {}))
        qualified(table)
        upper = "and date < $end" if end is not None else ""
        params: dict[str, object] = {"before": before, "rows": rows}
        if end is not None:
            params["end"] = end
        if rows <= 0:
            return self.query(f"select * from {table} where date >= $before {upper} order by all",
                              {k: v for k, v in params.items() if k != "rows"})
        if key == "date":
            # the last `rows` distinct dates (tables with several rows per date, e.g. one per series)
            ranked = "dense_rank() over (order by date desc)"
        else:
            partition = f'partition by "{key}"' if key else ""
            ranked = f"row_number() over ({partition} order by date desc)"
        return self.query(
            f"select * exclude (__n) from ("
            f"  select *, {ranked} as __n from {table} where date < $before"
            f") where __n <= $rows "
            f"union all by name select * from {table} where date >= $before {upper} order by all",
            params)

    def last_before(self, table: str, column: str, before: dt.date, *, key: str) -> pl.DataFrame:
        """(key, column) of each key's latest row dated before `before`; empty if the table is absent."""
        if not self.has_table(table):
            return pl.DataFrame(schema={key: pl.String(), column: pl.Float64()})
        qualified(table)
        return self.query(
            f'select "{key}", arg_max("{column}", date) as "{column}" from {table} where date < $before group by all',
            {"before": before},
        )

    def min_date(self, table: str) -> dt.date | None:
        """The earliest date stored in `table` (None: absent or empty)."""
        if not self.has_table(table):
            return None
        qualified(table)
        return self.query(f"select min(date) as d from {table}").item()

    def max_date(self, table: str) -> dt.date | None:
        """The latest date stored in `table` (None: absent or empty)."""
        if not self.has_table(table):
            return None
        qualified(table)
        return self.query(f"select max(date) as d from {table}").item()

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
        """Run a read-only query (bound parameters only) and return a Polars frame."""
        with self.connect(read_only=True) as conn:
            return conn.sql(sql, params=dict(params or {})).pl()


def _log_write(table: str, start: dt.date, end: dt.date | None, result: WriteResult) -> None:
    window = f"{start} .. {end - dt.timedelta(days=1)}" if end is not None else f"{start} on"
    changed = (f"changed {result.changed_from} .. {result.changed_through}" if result.changed_from is not None
               else "no stored row changed")
    log.info("%s: %s rows written for %s, %s", table, f"{result.rows:,}", window, changed)
