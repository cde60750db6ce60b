"""Test markets for the strategy stage, run through the real (pure) signal functions.

- `random_walk_prices`: sectors whose daily returns are independent draws (a common market factor plus
  idiosyncratic noise): nothing about the future is predictable, so any out-of-sample skill is chance.
- `synthetic_prices`: the SyntheticSource market, whose planted regimes last 60-250 sessions, so relative
  momentum persists and is predictable.
`signal_tables` computes features, rankings, sentiment (and macro regime when macro rows are given) exactly
as the signal assets do; `inputs_of` the model's inputs from them, `strategy_tables` every strategy table
in one call over the whole history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores
from sector_pipeline.signals.sri import macro_regime
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.strategy.allocation import allocations
from sector_pipeline.strategy.backtest import run_backtest
from sector_pipeline.strategy.config import ModelConfig
from sector_pipeline.strategy.metrics import performance
from sector_pipeline.strategy.model import model_inputs, walk_forward
from sector_pipeline.strategy.skill import signal_skill
from sector_pipeline.universe import Universe

BENCHMARK = "SPY"


@dataclass(frozen=True)
class SignalTables:
    prices: pl.DataFrame
    features: pl.DataFrame
    rankings: pl.DataFrame
    sentiment: pl.DataFrame
    macro: pl.DataFrame | None
    characteristics: pl.DataFrame

    @property
    def sectors(self) -> list[str]:
        return self.characteristics.get_column("ticker").to_list()


def random_walk_prices(seed: int, sectors: list[str], n_sessions: int, start: dt.date = dt.date(2000, 1, 3)
                       ) -> pl.DataFrame:
    """stg_prices-shaped rows: benchmark = equal-weight mix of the sectors, all i.i.d. daily returns."""
    days = sessions(start, start + dt.timedelta(days=int(n_sessions * 1.5) + 30))[:n_sessions]
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, len(days))
    returns = market[:, None] + rng.normal(0.0, 0.006, (len(days), len(sectors)))
    all_returns = np.column_stack([returns.mean(axis=1), returns])
    prices = 100.0 * np.cumprod(1.0 + all_returns, axis=0)
    volume = np.exp(rng.normal(14.0, 0.3, prices.shape))
    tickers = [BENCHMARK, *sectors]
    return pl.DataFrame({
        "date": np.repeat(np.array(days, dtype="datetime64[D]"), len(tickers)),
        "ticker": tickers * len(days),
        "close_price": prices.ravel(), "total_return_price": prices.ravel(), "volume_shares": volume.ravel(),
        "source": "test",
    }).with_columns(pl.col("date").cast(pl.Date))


def synthetic_prices(universe: Universe, seed: int, start: dt.date, end: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(stg_prices-shaped prices, int_macro_daily-shaped macro) of the SyntheticSource market."""
    source = SyntheticSource(universe, seed=seed)
    raw = source.fetch_prices(universe.instruments, start, end)
    prices = raw.select("date", "ticker", pl.col("close").alias("close_price"),
                        pl.col("adj_close").alias("total_return_price"), pl.col("volume").alias("volume_shares"),
                        "source")
    macro = source.fetch_macro(universe.macro, start, end).select(
        "date", "series", pl.col("value").alias("series_value"))
    return prices, macro


def signal_tables(prices: pl.DataFrame, characteristics: pl.DataFrame, macro: pl.DataFrame | None = None
                  ) -> SignalTables:
    sectors = characteristics.get_column("ticker").to_list()
    features = compute_features(prices.lazy(), benchmark=BENCHMARK).collect()
    rankings = rank_sectors(features.lazy(), sectors=sectors).collect()
    sentiment = sentiment_scores(sentiment_contributions(rankings.lazy(), characteristics),
                                 tickers=sectors).collect()
    regime = macro_regime(macro.lazy()).collect() if macro is not None else None
    return SignalTables(prices, features, rankings, sentiment, regime, characteristics)


def inputs_of(tables: SignalTables, config: ModelConfig = ModelConfig()) -> pl.DataFrame:
    """The model's inputs (model.model_inputs) over the whole history of the tables."""
    return model_inputs(tables.features.lazy(), tables.rankings.lazy(), characteristics=tables.characteristics,
                        sentiment=tables.sentiment.lazy(),
                        macro=tables.macro.lazy() if tables.macro is not None else None, config=config).collect()


def strategy_tables(tables: SignalTables, config: ModelConfig = ModelConfig()) -> dict[str, pl.DataFrame]:
    """predictions, model_runs, skill, allocations, backtest and performance in one call over the whole history."""
    model = walk_forward(inputs_of(tables, config), config=config)
    weights = allocations(model.predictions.lazy(), tables.rankings.lazy(), tables.features.lazy())
    backtest = run_backtest(weights, tables.features.lazy(), benchmark=BENCHMARK)
    return {
        "predictions": model.predictions, "model_runs": model.model_runs,
        "skill": signal_skill(model.predictions.lazy(), tables.features.lazy(), tables.rankings.lazy(),
                              horizon=config.horizon, sectors=tables.sectors),
        "allocations": weights, "backtest": backtest, "performance": performance(backtest),
    }
