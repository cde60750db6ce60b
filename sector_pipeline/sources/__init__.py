"""Market-data sources behind one interface (base.MarketDataSource); the Dagster resource of each source
in sector_pipeline/defs/resources.py chooses one per deployment, never falling back to another."""

from __future__ import annotations

from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA, MarketDataSource, release_sessions

SOURCE_NAMES = ("synthetic", "yfinance", "csv")


__all__ = ["SOURCE_NAMES", "MarketDataSource", "PRICE_SCHEMA", "MACRO_SCHEMA", "release_sessions"]
