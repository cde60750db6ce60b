"""Contracts of every stored table: one declaration per table, and what is generated from it.

    contract_for(table)          -> Contract: pandera schema, grain, description, column descriptions
    check_contract(table, frame) -> ContractCheck(passed, failing_rows (with a `reason` column), summary)
    column_schema(table)         -> [(name, DuckDB type, description)]: the column schema of the UI
    tables()                     -> every table and view that has a contract

Where contracts are declared (one place per table):
  ingest/schemas.py     raw.*, validated.* (the validation rules themselves)
  contracts/signals.py  intermediate.int_total_returns, signals.*   (Python-written tables)
  contracts/strategy.py strategy.*
  contracts/meta.py     meta.* (the change log), signals.alert_outbox, marts.publish_manifest (published copy)
  dbt_like_sql/<layer>/<model>.yml + the model's header   staging.*, intermediate.int_macro_daily, marts.*

A new Python table gets a pandera model whose `Config = table_config("schema.table", *grain)`, listed in its
module's MODELS (ingest: python_models()); a new SQL model gets a `-- grain:` header line and a .yml beside
it. Nothing else: the check and the UI schema follow. Pure code (pandera, Polars, the SQL runner's parser), no Dagster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts import meta, signals, strategy
from sector_pipeline.contracts.core import (
    DUCKDB_TYPES,
    Contract,
    ContractCheck,
    ContractError,
    duckdb_type,
    from_model,
    polars_type,
    run_check,
)
from sector_pipeline.errors import SectorPipelineError

__all__ = ["Contract", "ContractCheck", "ContractError", "ContractViolation", "DUCKDB_TYPES", "check_contract",
           "column_schema", "columns", "contract_for", "duckdb_type", "enforce_contract", "polars_type", "schema_of",
           "tables"]

SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"


def python_models() -> tuple[type[pa.DataFrameModel], ...]:
    """The models of the Python-written tables (ingest/schemas.py declares the ingest ones with their rules)."""
    # Imported here: ingest/schemas.py builds its Config with contracts.core, so it imports this package.
    from sector_pipeline.ingest import schemas as ingest

    return (ingest.RawPrices, ingest.ValidatedPrices, ingest.RawMacro, ingest.ValidatedMacro, ingest.Quarantine,
            ingest.UniverseMembership, ingest.SyntheticRegimes, *signals.MODELS, *strategy.MODELS, *meta.MODELS)


@lru_cache(maxsize=None)
def _python_contracts() -> dict[str, Contract]:
    found: dict[str, Contract] = {}
    for model in python_models():
        contract = from_model(model)
        if contract.table in found:
            raise ContractError(f"{contract.table} has two contracts: {found[contract.table].declared_in} and "
                                f"{contract.declared_in}")
        found[contract.table] = contract
    return found


@lru_cache(maxsize=None)
def _registry(sql_dir: str) -> dict[str, Contract]:
    from sector_pipeline.contracts.sql import sql_contract  # the SQL side parses files: only when asked
    from sector_pipeline.sql.runner import discover_models

    contracts = dict(_python_contracts())
    models = {m.table: m for m in discover_models(Path(sql_dir))}
    clash = sorted(set(models) & set(contracts))
    if clash:
        raise ContractError(f"{clash}: written by a SQL model and declared in Python too")
    resolving: list[str] = []

    def resolve(table: str) -> Contract:
        if table in contracts:
            return contracts[table]
        if table not in models:
            raise ContractError(f"no contract for {table}")
        if table in resolving:
            raise ContractError(f"contracts inherit in a cycle: {' -> '.join([*resolving, table])}")
        resolving.append(table)
        contracts[table] = sql_contract(models[table], resolve)
        resolving.pop()
        return contracts[table]

    for table in models:
        resolve(table)
    return contracts


def _contracts(sql_dir: str | Path | None) -> dict[str, Contract]:
    return _registry(str(Path(sql_dir or SQL_DIR).resolve()))


def contract_for(table: str, *, sql_dir: str | Path | None = None) -> Contract:
    """The contract of `table` (schema.table); SQL models are read from `sql_dir` (default: dbt_like_sql/)."""
    found = _python_contracts().get(table) or _contracts(sql_dir).get(table)
    if found is None:
        raise ContractError(f"no contract for {table}: declare one (sector_pipeline/contracts/__init__.py says where)")
    return found


def tables(*, sql_dir: str | Path | None = None) -> tuple[str, ...]:
    return tuple(sorted(_contracts(sql_dir)))


def check_contract(table: str, frame: pl.DataFrame | pl.LazyFrame, *,
                   sql_dir: str | Path | None = None) -> ContractCheck:
    """Check `frame` (the rows a run wrote, or a whole table) against the contract of `table`.

    Rules: the columns and their DuckDB types; the grain unique and its keys not NULL; non-nullable columns
    not NULL (nor NaN); floats finite (NULL, never NaN or infinity, except in raw tables); every value rule.
    A lazy frame is collected first (value rules need the rows). `failing_rows` holds each failing row once
    with every rule it breaks in `reason` ('signals.features.rsi_14: in_range(0, 100)'), and one row per
    structural problem (missing or unexpected column, wrong type) with NULL values.
    """
    return run_check(contract_for(table, sql_dir=sql_dir), frame)


class ContractViolation(SectorPipelineError):
    """Rows a run was about to write break their table's contract; nothing was written."""

    def __init__(self, table: str, check: ContractCheck):
        super().__init__(f"{table}: {check.summary}; nothing was written (the failing rows are in the step's "
                         f"metadata)")
        self.table = table
        self.check = check


def enforce_contract(table: str, frame: pl.DataFrame, *, sql_dir: str | Path | None = None) -> ContractCheck:
    """check_contract, raising ContractViolation when the rows fail: the warehouse's gate before every write."""
    verdict = check_contract(table, frame, sql_dir=sql_dir)
    if not verdict.passed:
        raise ContractViolation(table, verdict)
    return verdict


def column_schema(table: str, *, sql_dir: str | Path | None = None) -> list[tuple[str, str, str]]:
    """(name, DuckDB type, description) of each column of `table`, in table order."""
    return contract_for(table, sql_dir=sql_dir).column_schema()


def columns(model: type[pa.DataFrameModel]) -> tuple[str, ...]:
    """The columns of a Python-written table, in table order: what its stage module selects."""
    return tuple(model.to_schema().columns)


def schema_of(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """{column: Polars type} of a Python-written table: what its stage module casts an empty frame to."""
    return from_model(model).polars_schema
