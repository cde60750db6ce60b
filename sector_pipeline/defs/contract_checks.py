"""Every table's contract (sector_pipeline/contracts) in Dagster: its column schema in the UI and a blocking check.

The check is not a separate step that reads the table afterwards: the warehouse runs the contract on every
write's rows inside the write's transaction, before anything stored is touched (WarehouseResource passes
`enforce_contract` as the warehouse's `verify`). So rows that break a contract are never stored, and the check
costs one Polars pass over the rows the run wrote (docs/architecture.md, Contracts).

`contract_checked` wraps an asset's function so that it reports the verdict as the `matches_contract` check of
each table it wrote: passed, with the rows checked; or failed, with the failing rows and the rule each breaks,
and then the step fails (nothing was written, nothing downstream runs).
"""


import functools
import inspect
from typing import Any, Callable, Iterator

import dagster as dg

from sector_pipeline.contracts import ContractCheck, ContractViolation, column_schema
from sector_pipeline.defs.metadata import markdown_table

CHECK_NAME = "matches_contract"


# asset -> the table its contract check reads the verdict of (the asset key, except the publication's manifest)
_CHECKED_TABLE: dict[dg.AssetKey, str] = {}


def table_schema(table: str, *, sql_dir: str | None = None) -> dg.TableSchema:
    """The table's columns with their DuckDB types and descriptions, from its contract."""
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=kind, description=text)
                                   for name, kind, text in column_schema(table, sql_dir=sql_dir)])


def table_metadata(table: str, *, sql_dir: str | None = None) -> dict[str, object]:
    return {"dagster/table_name": table, "dagster/column_schema": table_schema(table, sql_dir=sql_dir)}


def contract_check_spec(table: str, *, asset: dg.AssetKey | None = None) -> dg.AssetCheckSpec:
    """The blocking check of `table`'s contract, on the asset of the same name unless `asset` is given."""
    key = asset or dg.AssetKey(table.split("."))
    _CHECKED_TABLE[key] = table
    return dg.AssetCheckSpec(
        CHECK_NAME, asset=key, blocking=True,
        description="The rows written this run match the table's contract (grain unique, keys and required "
                    "columns not null, floats finite, value ranges, column types); checked before the write")


def _result(key: dg.AssetKey, verdict: ContractCheck | None) -> dg.AssetCheckResult:
    if verdict is None:
        return dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=True,
                                   description="nothing written this run (the stored rows passed when written)",
                                   metadata={"rows_checked": 0})
    metadata: dict[str, Any] = {"rows_checked": verdict.rows_checked}
    if not verdict.passed:
        metadata["failures"] = dg.MetadataValue.json(dict(verdict.failures))
        metadata["failing_rows"] = markdown_table(verdict.failing_rows, max_rows=25)
    return dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=verdict.passed,
                               description=verdict.summary, metadata=metadata)


def _with_checks(context: dg.AssetExecutionContext, result: Any) -> Any:
    """`result` with the contract check of its asset, when that check is part of the run."""
    if not isinstance(result, dg.MaterializeResult):
        return result
    key = result.asset_key or context.asset_key
    if dg.AssetCheckKey(key, CHECK_NAME) not in context.selected_asset_check_keys:
        return result
    verdict = context.resources.warehouse.get().verdicts.pop(_CHECKED_TABLE[key], None)
    return dg.MaterializeResult(asset_key=result.asset_key, metadata=result.metadata,
                                check_results=[*(result.check_results or []), _result(key, verdict)],
                                data_version=result.data_version, tags=result.tags)


def contract_checked(fn: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
    """Wrap an asset function (returning or yielding MaterializeResults) to report its tables' contract checks."""

    @functools.wraps(fn)
    def wrapper(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            produced = fn(context, *args, **kwargs)
            for result in (produced if inspect.isgenerator(produced) else [produced]):
                yield _with_checks(context, result)
        except ContractViolation as refused:
            for key in (k for k, table in _CHECKED_TABLE.items() if table == refused.table):
                if dg.AssetCheckKey(key, CHECK_NAME) in context.selected_asset_check_keys:
                    yield _result(key, refused.check)
            raise dg.Failure(description=str(refused), allow_retries=False, metadata={
                "failing_rows": markdown_table(refused.check.failing_rows, max_rows=25)}) from None

    return wrapper
