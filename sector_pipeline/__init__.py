"""sector_pipeline: S&P 500 sector rotation analytics as Dagster software-defined assets."""

__version__ = "0.1.0"

import polars as _pl

# Results must be bit-identical however many dates a run computes (a backfill equals the same nights run
# one by one). Polars 2's "auto" engine may pick the streaming engine, whose morsel-wise evaluation changed
# the last bits of trailing-window sums on 23 of 55,842 real rows (measured on XLI 2013, features): keep the
# in-memory engine, which evaluates every expression over the whole column.
_pl.Config.set_engine_affinity("in-memory")
