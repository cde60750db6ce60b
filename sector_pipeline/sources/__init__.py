"""Market-data sources behind one interface; `build_source` is the one place a source is chosen."""

from __future__ import annotations

from pathlib import Path

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA, MarketDataSource, release_sessions
from sector_pipeline.universe import Universe

SOURCE_NAMES = ("synthetic", "yfinance", "csv")


def build_source(name: str, universe: Universe, *, csv_dir: str | Path | None = None, seed: int = 42,
                 yfinance_batch_size: int = 20, yfinance_max_attempts: int = 4) -> MarketDataSource:
    """The source called `name`; an unknown name or a missing setting is a ConfigurationError.

    There is deliberately no fallback: a yfinance failure never turns into synthetic data, and FRED series
    come from FRED (yfinance source) or the directory's macro files (csv source), never from anywhere else.
    """
    if name == "synthetic":
        from sector_pipeline.sources.synthetic import SyntheticSource

        return SyntheticSource(universe, seed=seed, calendar=universe.calendar)
    if name == "yfinance":
        from sector_pipeline.sources.yfinance_source import YFinanceSource

        return YFinanceSource(batch_size=yfinance_batch_size, max_attempts=yfinance_max_attempts,
                              calendar=universe.calendar)
    if name == "csv":
        if not csv_dir:
            raise ConfigurationError("source 'csv' needs a directory: set SECTOR_PIPELINE_CSV_DIR or csv_dir")
        if not Path(csv_dir).is_dir():
            raise ConfigurationError(f"source 'csv': directory {csv_dir} does not exist")
        from sector_pipeline.sources.csv_source import CsvDirectorySource

        return CsvDirectorySource(csv_dir, calendar=universe.calendar)
    raise ConfigurationError(f"unknown data source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")


__all__ = ["build_source", "SOURCE_NAMES", "MarketDataSource", "PRICE_SCHEMA", "MACRO_SCHEMA", "release_sessions"]
