"""Incremental assets: each declares its input tables once, with the lookback it needs; the rest is derived.

From the declaration come the asset's upstream `deps`, what a run reads, and what it writes:

    start   = the first date any input changed since this asset last ran (meta.table_changes), or the first
              input date on its first run; nothing changed -> nothing is read or written;
    read    = each input from `rows` rows (per key) before `start` on, and the asset's own stored rows before
              `start` (`state`) for what continues from the past (running sums, EWMs, latches);
    write   = every output table's rows dated >= start replace the stored ones, in ONE transaction that
              also records what changed (for the assets downstream) and what was consumed.

The computation is a pure function; a test per stage checks that computing the full history at once and
continuing night by night give the same rows bit for bit, so `start` never changes a result.
"""


import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import dagster as dg
import polars as pl

from sector_pipeline.defs.contract_checks import contract_check_spec, contract_checked, table_metadata
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run
from sector_pipeline.warehouse import Pending, Warehouse, WindowWrite

BEGINNING = dt.date(1900, 1, 1)


def asset_key(table: str) -> dg.AssetKey:
    """`signals.features` -> AssetKey(["signals", "features"]): table names and asset keys are one."""
    return dg.AssetKey(table.split("."))


@dataclass(frozen=True)
class Input:
    """An input table and how much of its past a run reads.

    rows:  each `key`'s last `rows` rows before `start` (key "date": the last `rows` distinct dates);
    since: instead, a function of (start, store) giving the first date to read (None: the whole history),
           for lookbacks that depend on stored state (a model refit, a skill horizon).
    """

    table: str
    rows: int = 0
    key: str | None = "ticker"
    since: Callable[[dt.date, Warehouse], dt.date | None] | None = None

    def read(self, store: Warehouse, start: dt.date, end: dt.date | None = None) -> pl.DataFrame:
        if self.since is not None:
            first = self.since(start, store)
            return store.read_window(self.table, first or BEGINNING, end)
        return store.read_rows_before(self.table, start, end, rows=self.rows, key=self.key)


@dataclass(frozen=True)
class Run:
    """What a computation receives besides its frames."""

    start: dt.date                       # first date to (re)compute; rows before it are context only
    inputs: Mapping[str, pl.LazyFrame]   # by table name, read as declared
    previous: pl.DataFrame | None        # the declared state: own stored rows before start (None: no state)
    store: Warehouse
    context: dg.AssetExecutionContext
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Rows per output table, and what the run observed for the UI."""

    frames: Mapping[str, pl.DataFrame]
    start: dt.date | None
    changed: Mapping[str, tuple[dt.date | None, dt.date | None]]
    rows_read: int


def dirty_start(store: Warehouse, consumer: str, inputs: Sequence[str], outputs: Sequence[str]
                ) -> tuple[dt.date | None, Pending]:
    """The first date to recompute: where an input changed since `consumer` ran (everything on its first run)."""
    pending = store.pending(consumer, inputs)
    if pending.first_run or any(not store.has_table(t) for t in outputs):
        firsts = [d for d in (store.min_date(t) for t in inputs) if d is not None]
        return (min(firsts) if firsts else None), pending
    return pending.start, pending


def run_incremental(store: Warehouse, *, outputs: Sequence[str], inputs: Sequence[Input], state: Input | None,
                    compute: Callable[[Run], Mapping[str, pl.LazyFrame | pl.DataFrame]],
                    context: dg.AssetExecutionContext, extra: Mapping[str, Any] | None = None) -> Outcome:
    """Read what changed, compute, write every output from `start` on in one transaction (module docstring)."""
    with store.session():
        start, pending = dirty_start(store, outputs[0], [i.table for i in inputs], outputs)
        if start is None:
            return Outcome({}, None, {}, 0)
        frames: dict[str, pl.LazyFrame] = {}
        rows_read = 0
        for spec in inputs:
            frame = spec.read(store, start)
            rows_read += frame.height
            frames[spec.table] = frame.lazy()
        previous = None
        if state is not None and store.has_table(state.table):
            previous = state.read(store, start, end=start)
            rows_read += previous.height
        produced = compute(Run(start, frames, previous, store, context, extra or {}))
        written = {table: (frame.lazy() if isinstance(frame, pl.DataFrame) else frame)
                   .filter(pl.col("date") >= start).collect() for table, frame in produced.items()}
        results = store.replace_windows([WindowWrite(t, f) for t, f in written.items()], start, None,
                                        run_id=context.run_id, consumer=outputs[0], consumed=pending.seqs)
    return Outcome(written, start, {t: (r.changed_from, r.changed_through) for t, r in results.items()}, rows_read)


def previous_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[str, object]:
    """The metadata of the asset's last materialization, so a run that changed nothing keeps what the UI shows."""
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event is not None else None
    return dict(materialization.metadata) if materialization is not None else {}


def unchanged_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[str, object]:
    kept = {k: v for k, v in previous_metadata(context, key).items() if k not in ("status", "dagster/row_count")}
    return {**kept, "status": "up to date: no input changed since the last run (previous preview kept)"}


def outcome_metadata(context: dg.AssetExecutionContext, outcome: Outcome, table: str, *,
                     preview: pl.DataFrame | None = None, max_rows: int = 40, **extra: object) -> dict[str, object]:
    """Small per-run metadata: what was recomputed, what changed, the latest date's rows."""
    if outcome.start is None:
        return unchanged_metadata(context, asset_key(table))
    frame = outcome.frames.get(table, pl.DataFrame())
    changed_from, changed_through = outcome.changed.get(table, (None, None))
    shown = preview if preview is not None else frame
    latest = shown.filter(pl.col("date") == pl.col("date").max()) if shown.height and "date" in shown.columns \
        else shown
    return {
        "status": "recomputed",
        "recomputed_from": str(outcome.start),
        "rows_written": frame.height,
        "rows_read": outcome.rows_read,
        "changed_dates": f"{changed_from} .. {changed_through}" if changed_from else "none (identical rows)",
        "latest_date": str(latest.item(0, "date")) if latest.height and "date" in latest.columns else "none",
        "latest": markdown_table(latest, max_rows=max_rows),
        **extra,
    }


def incremental_asset(table: str, *, inputs: Sequence[Input], group: str | None = None,
                      kinds: set[str] | None = None, metadata: Mapping[str, object] | None = None,
                      **kwargs: Any) -> Callable:
    """The decorator of a one-table incremental asset: key, deps, run policy, column schema and contract check
    derived from the declaration."""
    schema, _ = table.split(".")
    decorate = dg.asset(
        key=asset_key(table),
        deps=input_deps(inputs),
        group_name=group or schema,
        backfill_policy=single_run,
        kinds=kinds or {"polars", "duckdb"},
        metadata={**table_metadata(table), **(metadata or {})},
        check_specs=[contract_check_spec(table), *kwargs.pop("check_specs", [])],
        **kwargs,
    )
    return lambda fn: decorate(contract_checked(fn))


def table_multi_asset(*specs: dg.AssetSpec, **kwargs: Any) -> Callable:
    """The decorator of an incremental asset writing several tables (specs from `table_spec`), with their checks."""
    decorate = dg.multi_asset(specs=list(specs), backfill_policy=single_run,
                              check_specs=[contract_check_spec(".".join(spec.key.path)) for spec in specs], **kwargs)
    return lambda fn: decorate(contract_checked(fn))


def input_deps(inputs: Sequence[Input]) -> list[dg.AssetKey]:
    return list(dict.fromkeys(asset_key(i.table) for i in inputs))


def table_spec(table: str, *, inputs: Sequence[Input], description: str, kinds: set[str] | None = None,
               metadata: Mapping[str, object] | None = None) -> dg.AssetSpec:
    """The spec of one table of a multi-table incremental asset."""
    return dg.AssetSpec(asset_key(table), deps=input_deps(inputs), group_name=table.split(".")[0],
                        description=description, kinds=kinds or {"polars", "duckdb"},
                        metadata={**table_metadata(table), **(metadata or {})})
