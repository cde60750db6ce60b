"""Dagster resources: the warehouse and the market-data source, each a narrow ConfigurableResource."""


from typing import Optional

import dagster as dg

from sector_pipeline.sources import build_source
from sector_pipeline.sources.base import MarketDataSource
from sector_pipeline.universe import Universe, load_universe
from sector_pipeline.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file all assets read and write."""

    path: str = "data/warehouse.duckdb"

    def get(self) -> Warehouse:
        return Warehouse(self.path)


class MarketDataResource(dg.ConfigurableResource):
    """Where prices and macro series come from: synthetic (offline), yfinance (real) or csv (your files)."""

    source: str = "synthetic"
    universe_path: Optional[str] = None
    csv_dir: Optional[str] = None
    synthetic_seed: int = 42
    yfinance_batch_size: int = 20
    yfinance_max_attempts: int = 4

    def universe(self) -> Universe:
        return load_universe(self.universe_path)

    def client(self, universe: Universe) -> MarketDataSource:
        return build_source(self.source, universe, csv_dir=self.csv_dir, seed=self.synthetic_seed,
                            yfinance_batch_size=self.yfinance_batch_size,
                            yfinance_max_attempts=self.yfinance_max_attempts)
