"""Cross-sectional statistics that are bit-identical whatever the frame's size or memory layout.

Polars' vectorised float sums (SIMD lanes, chunk boundaries) may group the same few numbers differently
depending on where they sit in memory, which changes the last bit of a mean. That would make a date's
value depend on how many dates were computed in the run. Here each group's values are laid out as
columns in a fixed key order and folded horizontally, element by element, so the arithmetic is always the
same sequence of operations.
"""

from __future__ import annotations

from typing import Sequence

import polars as pl


def cross_section_stats(frame: pl.LazyFrame, *, value: str, by: Sequence[str], keys: Sequence[str],
                        key: str = "ticker", prefix: str = "") -> pl.LazyFrame:
    """Per group `by`: {prefix}n, {prefix}sum, {prefix}mean and {prefix}std (ddof 1) of `value`, nulls ignored.

    `keys` lists every possible value of `key` (e.g. the sector tickers); a group has at most one row per key.
    """
    columns = [pl.col(f"__k{i}") for i in range(len(keys))]
    wide = frame.group_by(*by).agg(
        pl.col(value).filter(pl.col(key) == k).first().alias(f"__k{i}") for i, k in enumerate(keys))
    n = pl.sum_horizontal(c.is_not_null() for c in columns)
    total = pl.sum_horizontal(columns)
    mean = pl.when(n > 0).then(total / n)
    variance = pl.sum_horizontal((c - mean) ** 2 for c in columns) / (n - 1)
    return wide.select(
        *by,
        n.alias(f"{prefix}n"),
        pl.when(n > 0).then(total).alias(f"{prefix}sum"),
        mean.alias(f"{prefix}mean"),
        pl.when(n > 1).then(variance.sqrt()).alias(f"{prefix}std"),
    )
