"""The contract of a SQL model: its header (description, grain; sql/runner.py) and the .yml beside it (columns).

dbt keeps a model's tests beside the model; here `dbt_like_sql/<layer>/<model>.yml` lists the model's output
columns in order, each with its DuckDB type, description, nullability and value rules:

    columns:
      date: {from: signals.sector_rotation_index}            # type, description, rules of the same column
      book: {from: strategy.backtest.strategy}               # ... or of another column of that table
      sector: {type: VARCHAR, description: Sector name from the universe file}
      net_return_pct: {type: DOUBLE, nullable: true, gt: -100, description: Net return of the session (%)}

Keys of a column: `type` (DuckDB), `description`, `nullable` (default false), `from` (a contract's table, or
table.column), and rules `ge`, `gt`, `le`, `lt`, `in_range: [min, max]`, `isin: [...]`. With `from`, what the
column states replaces what it inherits; rules stated replace the inherited rules. The grain and the
description are the model's header lines (`-- grain: ...`, the first line), read by the runner: one place each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandera.polars as pa
import yaml

from sector_pipeline.contracts.core import Contract, ContractError, column_dtype, polars_type
from sector_pipeline.sql.runner import SqlModel

COLUMN_KEYS = {"type", "description", "nullable", "from", "ge", "gt", "le", "lt", "in_range", "isin"}
_RULES = {"ge": pa.Check.ge, "gt": pa.Check.gt, "le": pa.Check.le, "lt": pa.Check.lt,
          "in_range": lambda bounds: pa.Check.in_range(*bounds), "isin": pa.Check.isin}


def contract_path(model: SqlModel) -> Path:
    return model.path.with_suffix(".yml")


def sql_contract(model: SqlModel, resolve: Callable[[str], Contract]) -> Contract:
    """The contract of `model`; `resolve(table)` gives the contracts its columns inherit from."""
    path = contract_path(model)
    if not path.exists():
        raise ContractError(f"{model.table}: no contract {path} beside {model.path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or set(data) != {"columns"} or not isinstance(data["columns"], dict):
        raise ContractError(f"{path}: a model contract holds one key, `columns`, mapping each column to its spec")
    if not model.grain:
        raise ContractError(f"{model.path}: declare the model's grain in its header (-- grain: date, ticker)")
    columns = {name: _column(path, name, spec, resolve) for name, spec in data["columns"].items()}
    missing = [key for key in model.grain if key not in columns]
    if missing:
        raise ContractError(f"{path}: grain column(s) {missing} (from {model.path.name}) are not in `columns`")
    schema = pa.DataFrameSchema(columns, name=model.table, description=model.description)
    return Contract(table=model.table, description=model.description, schema=schema, grain=model.grain,
                    materialized=model.materialized, declared_in=str(path))


def _column(path: Path, name: str, spec: Any, resolve: Callable[[str], Contract]) -> pa.Column:
    where = f"{path}: column {name}"
    if not isinstance(spec, dict):
        raise ContractError(f"{where}: expected a mapping of {sorted(COLUMN_KEYS)}, got {spec!r}")
    unknown = set(spec) - COLUMN_KEYS
    if unknown:
        raise ContractError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(COLUMN_KEYS)}")
    dtype, nullable, checks, description = None, False, [], ""
    if "from" in spec:
        base = _inherited(where, str(spec["from"]), name, resolve)
        dtype, nullable, checks = column_dtype(base), base.nullable, list(base.checks)
        description = base.description or ""
    if "type" in spec:
        try:
            dtype = polars_type(str(spec["type"]))
        except ContractError as exc:
            raise ContractError(f"{where}: {exc}") from None
    if dtype is None:
        raise ContractError(f"{where}: needs a `type` (a DuckDB type) or `from`")
    stated = [key for key in _RULES if key in spec]
    if stated:
        try:
            checks = [_RULES[key](spec[key]) for key in stated]
        except (TypeError, ValueError) as exc:
            raise ContractError(f"{where}: bad rule {stated}: {exc}") from exc
    description = str(spec.get("description", description))
    if not description:
        raise ContractError(f"{where}: needs a description (or `from` a column that has one)")
    return pa.Column(dtype, checks=checks, nullable=bool(spec.get("nullable", nullable)), description=description,
                     name=name)


def _inherited(where: str, reference: str, name: str, resolve: Callable[[str], Contract]) -> pa.Column:
    parts = reference.split(".")
    if len(parts) not in (2, 3):
        raise ContractError(f"{where}: `from` names a table (schema.table) or a column (schema.table.column), "
                            f"got {reference!r}")
    table, column = ".".join(parts[:2]), (parts[2] if len(parts) == 3 else name)
    contract = resolve(table)
    if column not in contract.schema.columns:
        raise ContractError(f"{where}: {table} has no column {column}")
    return contract.schema.columns[column]
