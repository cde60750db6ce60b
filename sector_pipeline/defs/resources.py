"""Dagster resources: the warehouse and the market-data source, each a narrow ConfigurableResource."""


from typing import ContextManager, Optional

import dagster as dg
from pydantic import PrivateAttr

from sector_pipeline.sources import build_source
from sector_pipeline.sources.base import MarketDataSource
from sector_pipeline.universe import Universe, load_universe
from sector_pipeline.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file all assets read and write, through ONE connection per run.

    Steps of a run execute one after another in the run's process (in-process executor), so the connection is
    opened when the run starts (waiting for a lock held by another process, up to `lock_timeout_seconds`) and
    closed when it ends: a nightly run used to open the file 57 times, 55 ms each.
    """

    path: str = "data/warehouse.duckdb"
    lock_timeout_seconds: float = 60.0
    _store: Optional[Warehouse] = PrivateAttr(default=None)
    _session: Optional[ContextManager[Warehouse]] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = Warehouse(self.path, lock_timeout_seconds=self.lock_timeout_seconds)
        self._session = self._store.session()
        self._session.__enter__()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
        self._store = self._session = None

    def get(self) -> Warehouse:
        return self._store if self._store is not None else Warehouse(self.path, lock_timeout_seconds=self.lock_timeout_seconds)


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
