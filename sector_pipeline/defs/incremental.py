"""Incremental assets: each declares its input tables once, with the lookback it needs; the rest is derived.

From the declaration come the asset's upstream `deps`, what a run reads, and what it writes:

    start   = the first date any input changed since this asset last ran (meta.table_changes), or the first
              input date on its first run; nothing changed -> nothing is read or written;
    read    = each input from `lookback` rows (per key) before `start` on, and the asset's own last stored
              rows before `start` (`state`) for what continues from the past (running sums, EWMs, latches);
    write   = every output table's rows dated >= start replace the stored ones, in ONE transaction that
              also records what changed (for the assets downstream) and what was consumed.

The computation is a pure function; a test per stage checks that computing the full history at once and
continuing night by night give the same rows bit for bit, so `start` never changes a result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import dagster as dg
import polars as pl

from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run
from sector_pipeline.warehouse import Warehouse, WindowWrite


def asset_key(table: str) -> dg.AssetKey:
    """`signals.features` -> AssetKey(["signals", "features"]): table names and asset keys are one."""
    return dg.AssetKey(table.split("."))


@dataclass(frozen=True)
class Input:
    """An input table and how much of its past a run needs: `rows` rows of each `key` before `start`."""

    table: str
    rows: int = 0
    key: str | None = "ticker"
    all_history: bool = False  # read every stored row (only for what truly needs it, e.g. a model refit)


@dataclass(frozen=True)
class State:
    """The asset's own stored rows a run continues from: the last `rows` rows of each `key` before `start`."""

    table: str
    rows: int = 1
    key: str | None = "ticker"


@dataclass(frozen=True)
class Run:
    """What a computation receives besides its frames."""

    start: dt.date                       # first date to (re)compute; rows before it are context only
    inputs: Mapping[str, pl.LazyFrame]   # by table name, read as declared
    previous: pl.DataFrame | None        # the declared state (None when the asset has no state)
    first_run: bool
    context: dg.AssetExecutionContext
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """Rows per output table, and what the run observed for the UI."""

    frames: Mapping[str, pl.DataFrame]
    start: dt.date | None
    changed: Mapping[str, tuple[dt.date | None, dt.date | None]]
    rows_read: int


def _first_input_date(store: Warehouse, inputs: Sequence[Input]) -> dt.date | None:
    dates = [d for d in (store.min_date(i.table) for i in inputs) if d is not None]
    return min(dates) if dates else None


def run_incremental(store: Warehouse, *, outputs: Sequence[str], inputs: Sequence[Input], state: State | None,
                    compute: Callable[[Run], Mapping[str, pl.LazyFrame | pl.DataFrame]],
                    context: dg.AssetExecutionContext, extra: Mapping[str, Any] | None = None,
                    force_from: dt.date | None = None) -> Outcome:
    """Read what changed, compute, write every output from `start` on in one transaction (see module docstring)."""
    consumer = outputs[0]
    with store.session():
        pending = store.pending(consumer, [i.table for i in inputs])
        missing_output = any(not store.has_table(t) for t in outputs)
        if pending.first_run or missing_output:
            start = _first_input_date(store, inputs)
        else:
            start = pending.start
        if force_from is not None and start is not None:
            start = min(start, force_from)
        if start is None:
            return Outcome({}, None, {}, 0)
        frames: dict[str, pl.LazyFrame] = {}
        rows_read = 0
        for spec in inputs:
            if spec.all_history:
                frame = store.read_window(spec.table, dt.date.min, None)
            else:
                frame = store.read_rows_before(spec.table, start, None, rows=spec.rows, key=spec.key)
            rows_read += frame.height
            frames[spec.table] = frame.lazy()
        previous = None
        if state is not None:
            previous = store.read_rows_before(state.table, start, start, rows=state.rows, key=state.key)
            rows_read += previous.height
        produced = compute(Run(start, frames, previous, pending.first_run, context, extra or {}))
        written = {table: (frame.lazy() if isinstance(frame, pl.DataFrame) else frame)
                   .filter(pl.col("date") >= start).collect() for table, frame in produced.items()}
        results = store.replace_windows([WindowWrite(t, f) for t, f in written.items()], start, None,
                                        run_id=context.run_id, consumer=consumer, consumed=pending.seqs)
    return Outcome(written, start, {t: (r.changed_from, r.changed_through) for t, r in results.items()}, rows_read)


def outcome_metadata(outcome: Outcome, table: str, *, preview: pl.DataFrame | None = None,
                     max_rows: int = 40) -> dict[str, object]:
    """Small per-run metadata: what was recomputed, what changed, the latest date's rows."""
    if outcome.start is None:
        return {"status": "up to date: no input changed since the last run", "dagster/row_count_written": 0}
    frame = outcome.frames.get(table, pl.DataFrame())
    changed_from, changed_through = outcome.changed.get(table, (None, None))
    shown = preview if preview is not None else frame
    latest = shown.filter(pl.col("date") == pl.col("date").max()) if shown.height and "date" in shown.columns \
        else shown
    return {
        "recomputed_from": str(outcome.start),
        "rows_written": frame.height,
        "rows_read": outcome.rows_read,
        "changed_dates": f"{changed_from} .. {changed_through}" if changed_from else "none (identical rows)",
        "latest_date": str(latest.item(0, "date")) if latest.height and "date" in latest.columns else "none",
        "latest": markdown_table(latest, max_rows=max_rows),
    }


def incremental_asset(table: str, *, inputs: Sequence[Input], group: str | None = None, state: State | None = None,
                      kinds: set[str] | None = None, metadata: Mapping[str, object] | None = None,
                      **kwargs: Any) -> Callable:
    """The decorator of a one-table incremental asset: key, deps and run policy derived from the declaration."""
    schema, _ = table.split(".")
    return dg.asset(
        key=asset_key(table),
        deps=[asset_key(i.table) for i in inputs],
        group_name=group or schema,
        backfill_policy=single_run,
        kinds=kinds or {"polars", "duckdb"},
        metadata={"dagster/table_name": table, **(metadata or {})},
        **kwargs,
    )


def input_deps(inputs: Sequence[Input]) -> list[dg.AssetKey]:
    return [asset_key(i.table) for i in inputs]
