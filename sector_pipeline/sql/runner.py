"""A small dbt-like runner for the SQL models in `dbt_like_sql/`. Pure code, no Dagster.

Conventions (see docs/sql_models.md):
- one `.sql` file = one model; the folder is the schema (staging, intermediate, marts) and the file name
  the table, so `dbt_like_sql/staging/stg_prices.sql` writes `staging.stg_prices`;
- upstream tables are read from the SQL itself with sqlglot (every `schema.table` reference outside the
  model's own CTEs), never listed by hand;
- the partition window enters as bound parameters `$start_date`, `$end_date` (end exclusive) and, for
  models that need history, `$lookback_start`, the session `lookback_sessions` before `$start_date`;
- `-- materialized: view` makes the model a view (no parameters allowed: it is recreated, not windowed),
  for wide, BI-friendly reshapes of a stored table;
- a header of `-- key: value` comment lines configures the model; the comment lines before it describe it:

      -- Daily simple returns per ticker from validated closes.
      -- grain: date, ticker
      -- lookback_sessions: 1
      -- date_column: date

- `-- grain: a, b` names the columns that identify a row (unique, never NULL unless the contract says so);
  the model's contract beside it (`<model>.yml`: its columns, sector_pipeline/contracts) and the table's
  blocking check are built on it;

The runner reads the lookback but writes only the window: it deletes the window and inserts the model's
rows inside the window in one transaction, so re-runs are idempotent and a crash changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.warehouse import Warehouse, WarehouseError, WriteResult, qualified

LAYERS = ("staging", "intermediate", "marts")
# Schemas written by Python assets (ingestion, signals, strategy): SQL models may read them.
SOURCE_SCHEMAS = ("raw", "validated", "signals", "strategy")
_PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.+?)\s*$")
ALLOWED_PARAMETERS = ("start_date", "end_date", "lookback_start")
HEADER_KEYS = ("lookback_sessions", "date_column", "materialized", "grain")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


class SqlModelError(ConfigurationError):
    """A model file is malformed: bad header, unparseable SQL, unknown table or parameter."""


@dataclass(frozen=True)
class SqlModel:
    """One SQL model file and what the runner derived from it."""

    schema: str
    name: str
    path: Path
    sql: str
    description: str
    depends_on: tuple[str, ...]
    parameters: tuple[str, ...]
    lookback_sessions: int = 0
    date_column: str = "date"
    materialized: str = "table"
    grain: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"


def _parse_header(text: str, path: Path) -> tuple[str, dict[str, str]]:
    lines: list[str] = []
    options: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        match = _HEADER.match(stripped)
        if match and match.group(1) in HEADER_KEYS:
            options[match.group(1)] = match.group(2)
        elif not options:
            lines.append(stripped.lstrip("-").strip())  # the description may wrap over several lines
    description = " ".join(part for part in lines if part)
    if not description:
        raise SqlModelError(f"{path}: the first line must be a '-- description' comment of the model")
    return description, options


def referenced_tables(sql: str, path: Path | str = "<sql>") -> tuple[str, ...]:
    """Every `schema.table` the SQL reads, excluding its own CTEs; unqualified tables are an error."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise SqlModelError(f"{path}: SQL does not parse: {exc}") from exc
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not table.name:
            continue
        if not table.db:
            if table.name in ctes:
                continue
            raise SqlModelError(f"{path}: table '{table.name}' needs a schema (e.g. staging.{table.name})")
        tables.add(f"{table.db}.{table.name}")
    return tuple(sorted(tables))


def load_model(path: Path, root: Path) -> SqlModel:
    relative = path.relative_to(root)
    if len(relative.parts) != 2 or relative.parts[0] not in LAYERS:
        raise SqlModelError(f"{path}: models live in one of {LAYERS} directly under {root}")
    text = path.read_text()
    description, options = _parse_header(text, path)
    sql = text.strip().rstrip(";").strip()
    parameters = tuple(sorted(set(_PARAMETER.findall(sql))))
    unknown = [p for p in parameters if p not in ALLOWED_PARAMETERS]
    if unknown:
        raise SqlModelError(f"{path}: unknown parameter(s) {unknown}; allowed: {ALLOWED_PARAMETERS}")
    try:
        lookback = int(options.get("lookback_sessions", "0"))
    except ValueError as exc:
        raise SqlModelError(f"{path}: lookback_sessions must be a whole number") from exc
    if lookback and "lookback_start" not in parameters:
        raise SqlModelError(f"{path}: declares lookback_sessions but never reads $lookback_start")
    materialized = options.get("materialized", "table")
    if materialized not in ("table", "view"):
        raise SqlModelError(f"{path}: materialized must be 'table' or 'view', not {materialized!r}")
    if materialized == "view" and parameters:
        raise SqlModelError(f"{path}: a view cannot use parameters ({', '.join(parameters)}): it is not windowed")
    grain = tuple(c.strip() for c in options.get("grain", "").split(",") if c.strip())
    bad = [c for c in grain if not _COLUMN.match(c)] + [c for c in set(grain) if grain.count(c) > 1]
    if bad or ("grain" in options and not grain):
        raise SqlModelError(f"{path}: grain must list column names separated by commas, got {options.get('grain')!r}")
    model = SqlModel(
        schema=relative.parts[0], name=path.stem, path=path, sql=sql, description=description,
        depends_on=referenced_tables(sql, path), parameters=parameters, lookback_sessions=lookback,
        date_column=options.get("date_column", "date"),
        materialized=materialized, grain=grain,
    )
    qualified(model.table)
    if model.table in model.depends_on:
        raise SqlModelError(f"{path}: a model cannot read its own table {model.table}")
    return model


def discover_models(root: Path) -> list[SqlModel]:
    """All models under `root`, checked: known upstream schemas, no cycles."""
    models = [load_model(p, root) for p in sorted(root.glob("*/*.sql"))]
    tables = {m.table for m in models}
    for model in models:
        for dep in model.depends_on:
            if dep.split(".")[0] not in SOURCE_SCHEMAS and dep not in tables:
                raise SqlModelError(f"{model.path}: reads {dep}, which no model or ingestion asset produces")
    _check_acyclic(models)
    return models


def _check_acyclic(models: list[SqlModel]) -> None:
    graph = {m.table: [d for d in m.depends_on if d in {x.table for x in models}] for m in models}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 1:
            raise SqlModelError(f"SQL models form a cycle: {' -> '.join([*trail, node])}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in graph[node]:
            visit(dep, [*trail, node])
        state[node] = 2

    for table in graph:
        visit(table, [])


# Bound for `$end_date` when a run recomputes every date from its start on (incremental models).
OPEN_END = dt.date(9999, 12, 31)


def run_model(warehouse: Warehouse, model: SqlModel, start: dt.date, end: dt.date | None,
              lookback_start: dt.date | None = None, *, run_id: str = "",
              consumed: dict[str, int] | None = None) -> WriteResult:
    """Materialize the window [start, end) of `model` (end None: every date from start on).

    Rows are replaced in one transaction that also records which dates changed and, when `consumed` is
    given, the input changes the model consumed (warehouse.py). A view is recreated instead.
    """
    if model.materialized == "view":
        return WriteResult(_create_view(warehouse, model, start, end or OPEN_END), None, None)
    params = {"start_date": start, "end_date": end or OPEN_END, "lookback_start": lookback_start or start}
    bound = {k: v for k, v in params.items() if k in model.parameters}
    if model.date_column != "date":
        raise SqlModelError(f"{model.path}: incremental models partition by a column named 'date'")
    try:
        return warehouse.replace_from_query(model.table, model.sql, bound, start, end, run_id=run_id,
                                            consumer=model.table if consumed is not None else None,
                                            consumed=consumed)
    except WarehouseError as exc:
        if isinstance(exc.__cause__, duckdb.Error) and "stores columns" not in str(exc):
            # the warehouse's message leads (disk full, lock), with DuckDB's own text (a SQL error) inside it
            raise SqlModelError(f"model {model.table} ({model.path}) failed: {exc}") from exc
        raise


def _create_view(warehouse: Warehouse, model: SqlModel, start: dt.date, end: dt.date) -> int:
    column = f'"{model.date_column}"'
    with warehouse.connect() as conn:
        try:
            conn.execute(f"create schema if not exists {model.schema}")
            conn.execute(f"create or replace view {model.table} as {model.sql}")
            return int(conn.execute(
                f"select count(*) from {model.table} where {column} >= $window_start and {column} < $window_end",
                {"window_start": start, "window_end": end}).fetchall()[0][0])
        except duckdb.Error as exc:
            raise SqlModelError(f"view {model.table} ({model.path}) failed: {exc}") from exc
