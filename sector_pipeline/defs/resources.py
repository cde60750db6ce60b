"""Dagster resources: the warehouse and the market-data source, each a narrow ConfigurableResource."""


import datetime as dt
import functools
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, ContextManager, Optional

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from sector_pipeline.contracts import enforce_contract
from sector_pipeline.errors import ConfigurationError
from sector_pipeline.settings import Settings
from sector_pipeline.sources import SOURCE_NAMES
from sector_pipeline.sources.base import MarketDataSource
from sector_pipeline.universe import Universe, load_universe
from sector_pipeline.warehouse import Warehouse

if TYPE_CHECKING:
    from sector_pipeline.sources.synthetic import SyntheticSource


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file all assets read and write, through ONE connection per run.

    Steps of a run execute one after another in the run's process (in-process executor), so the connection is
    opened when the run starts (waiting for a lock held by another process, up to `lock_timeout_seconds`) and
    closed when it ends: a nightly run used to open the file 57 times, 55 ms each.
    """

    path: str = "data/warehouse.duckdb"
    lock_timeout_seconds: float = 60.0
    # where the SQL models and their contracts (.yml) are; None: dbt_like_sql/ of this checkout
    sql_dir: Optional[str] = None
    _store: Optional[Warehouse] = PrivateAttr(default=None)
    _session: Optional[ContextManager[Warehouse]] = PrivateAttr(default=None)

    def _warehouse(self) -> Warehouse:
        # every write is checked against its table's contract before it touches the stored rows
        return Warehouse(self.path, lock_timeout_seconds=self.lock_timeout_seconds,
                         verify=functools.partial(enforce_contract, sql_dir=self.sql_dir))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = self._warehouse()
        self._session = self._store.session()
        self._session.__enter__()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
        self._store = self._session = None

    def get(self) -> Warehouse:
        return self._store if self._store is not None else self._warehouse()


class MarketDataResource(dg.ConfigurableResource, ABC):
    """Where prices and macro series come from: one subclass per source, chosen per deployment.

    `market_data_resource(settings)` picks the subclass from SECTOR_PIPELINE_SOURCE; tests and embedders pass
    an instance of the one they want. There is deliberately no fallback from one source to another.
    """

    source: ClassVar[str]  # the name every stored row carries (SECTOR_PIPELINE_SOURCE)
    universe_path: Optional[str] = None

    def universe(self) -> Universe:
        return load_universe(self.universe_path)

    @abstractmethod
    def client(self, universe: Universe) -> MarketDataSource:
        """The pure source object that fetches the universe's prices and macro series."""

    def planted_regimes(self, start: dt.date, end: dt.date) -> pl.DataFrame | None:
        """The regime spells the source planted in [start, end) (REGIME_SCHEMA); None: real data plants none."""
        return None


class SyntheticMarketResource(MarketDataResource):
    """The offline synthetic market: reproducible from `seed`, with planted regimes as the answer key."""

    source = "synthetic"
    seed: int = 42

    def client(self, universe: Universe) -> "SyntheticSource":
        from sector_pipeline.sources.synthetic import SyntheticSource

        return SyntheticSource(universe, seed=self.seed, calendar=universe.calendar)

    def planted_regimes(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.client(self.universe()).regimes(start, end)


class YFinanceResource(MarketDataResource):
    """Yahoo Finance prices through yfinance (batched downloads with retries) and FRED macro series."""

    source = "yfinance"
    batch_size: int = 20
    max_attempts: int = 4

    def client(self, universe: Universe) -> MarketDataSource:
        from sector_pipeline.sources.yfinance_source import YFinanceSource

        return YFinanceSource(batch_size=self.batch_size, max_attempts=self.max_attempts, calendar=universe.calendar)


class CsvDirectoryResource(MarketDataResource):
    """Your own files: one csv per ticker and per macro series in `directory` (docs/data_sources.md)."""

    source = "csv"
    directory: str

    def client(self, universe: Universe) -> MarketDataSource:
        from sector_pipeline.sources.csv_source import CsvDirectorySource

        return CsvDirectorySource(self.directory, calendar=universe.calendar)


def market_data_resource(settings: Settings) -> MarketDataResource:
    """The resource of the source the settings name (SECTOR_PIPELINE_SOURCE), checked now rather than at a run."""
    if settings.source == "synthetic":
        resource: MarketDataResource = SyntheticMarketResource(universe_path=settings.universe_path, seed=settings.seed)
    elif settings.source == "yfinance":
        resource = YFinanceResource(universe_path=settings.universe_path)
    elif settings.source == "csv":
        if not settings.csv_dir:
            raise ConfigurationError("source 'csv' needs a directory: set SECTOR_PIPELINE_CSV_DIR")
        if not Path(settings.csv_dir).is_dir():
            raise ConfigurationError(f"source 'csv': directory {settings.csv_dir} does not exist")
        resource = CsvDirectoryResource(universe_path=settings.universe_path, directory=settings.csv_dir)
    else:
        raise ConfigurationError(f"unknown data source {settings.source!r}; "
                                 f"choose one of {', '.join(SOURCE_NAMES)}")
    return resource
