"""How signal and strategy assets read and write: the stored history up to the window end in, the window out.

Values dated t use rows dated <= t only, so reading everything stored before the window's end and writing
only the window makes a range computed in one run equal the same dates computed night by night.
"""

import datetime as dt
from typing import Mapping, Sequence

import dagster as dg
import polars as pl

from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run, trading_day_partitions
from sector_pipeline.warehouse import Warehouse, WindowWrite

BEGINNING = dt.date(1900, 1, 1)


def read_history(store: Warehouse, table: str, end: dt.date, columns: Sequence[str] | None = None,
                 schema: Mapping[str, pl.DataType] | None = None) -> pl.LazyFrame:
    """Every stored row of `table` dated before `end` (an absent table reads as no rows, with `schema`)."""
    frame = store.read_window(table, BEGINNING, end, schema=schema)
    if columns is not None and not frame.is_empty():
        frame = frame.select(columns)
    return frame.lazy()


def write_windows(store: Warehouse, tables: dict[str, pl.LazyFrame], start: dt.date,
                  end: dt.date) -> dict[str, pl.DataFrame]:
    """Keep only the window of each frame and replace it in its table, all in one transaction."""
    frames = {t: f.filter((pl.col("date") >= start) & (pl.col("date") < end)).collect() for t, f in tables.items()}
    store.replace_windows([WindowWrite(t, f) for t, f in frames.items()], start, end)
    return frames


def latest_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("date") == pl.col("date").max()) if frame.height else frame


def summary_metadata(frame: pl.DataFrame, **extra: object) -> dict[str, object]:
    """Row count, the latest date and its rows as a markdown table: what every signal asset shows."""
    latest = latest_rows(frame)
    return {
        "dagster/row_count": frame.height,
        "latest_date": str(latest.item(0, "date")) if latest.height else "none",
        "latest": markdown_table(latest, max_rows=60),
        **extra,
    }


def window_asset(group: str, name: str, deps: list[dg.AssetKey], **kwargs):
    """The decorator of a daily-partitioned asset that writes table `<group>.<name>`, one run per range."""
    return dg.asset(key=dg.AssetKey([group, name]), deps=deps, group_name=group,
                    partitions_def=trading_day_partitions, backfill_policy=single_run, kinds={"polars", "duckdb"},
                    metadata={"dagster/table_name": f"{group}.{name}"}, **kwargs)
