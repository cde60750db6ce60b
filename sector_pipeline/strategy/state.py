"""Continuing a strategy computation from its own stored rows instead of recomputing all of history.

Every stage of the strategy follows the contract of the incremental assets:

    f(inputs read from a declared lookback before `start`, previous = own stored rows dated before `start`,
      start) -> the rows dated >= start

equal, bit for bit, to f over the whole history restricted to dates >= start. Path-dependent quantities
(running sums, peaks, weights, equity) are seeded with the last stored value and continued with the same
sequence of operations as the full computation: a running sum is np.cumsum over [stored sum, new values...],
which adds the same numbers in the same order as np.cumsum over the whole history (a cumulative sum is a
left-to-right accumulation, not a pairwise reduction). The full computation is itself the continuation from
an empty state, so there is one code path.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import numpy as np
import polars as pl

from sector_pipeline.errors import SectorPipelineError


class ContinuationError(SectorPipelineError):
    """The stored state and the inputs read do not fit together (a read that starts too late, a gap in a table)."""


def last_rows(previous: pl.DataFrame | pl.LazyFrame | None, keys: Sequence[str], start: dt.date | None
              ) -> pl.DataFrame | None:
    """The last stored row of each key dated before `start` (None when nothing is stored or start is None)."""
    if previous is None or start is None:
        return None
    frame = previous.collect() if isinstance(previous, pl.LazyFrame) else previous
    frame = frame.filter(pl.col("date") < start)
    if frame.is_empty():
        return None
    return frame.sort([*keys, "date"]).group_by(list(keys), maintain_order=True).last()


def running_sum(seed: float | int, values: np.ndarray) -> np.ndarray:
    """seed + v0, seed + v0 + v1, ...: the cumulative sum continued from a stored total."""
    values = np.asarray(values)
    return np.cumsum(np.concatenate([np.array([seed], dtype=values.dtype), values]))[1:]


def check_after(stored_last: dt.date, first_new: dt.date | None, start: dt.date, what: str) -> None:
    """The first session computed must follow the stored rows with nothing in between that is not computed."""
    if first_new is not None and stored_last < first_new < start:
        raise ContinuationError(
            f"{what}: the stored rows end on {stored_last} but the inputs have the session {first_new} before "
            f"start {start}: the table has a gap; recompute it from {stored_last}")
