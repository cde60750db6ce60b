"""The walk-forward model: labels, embargo, the fitted Ridge, and honest skill on markets with and without signal."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import Ridge

from sector_pipeline.strategy.config import ModelConfig
from sector_pipeline.strategy.model import forward_relative_returns, walk_forward
from sector_pipeline.strategy.skill import signal_skill, skill_summary
from sector_pipeline_tests.strategy.markets import (
    inputs_of,
    random_walk_prices,
    signal_tables,
    synthetic_prices,
)

CONFIG = ModelConfig()


def run_model(tables, config: ModelConfig = CONFIG):
    inputs = inputs_of(tables, config)
    return inputs, walk_forward(inputs, config=config)


@pytest.fixture(scope="module")
def random_walk(universe):
    """10 sectors (XLC left out) and their equal-weight benchmark, 4,000 sessions of i.i.d. returns, seed 0."""
    characteristics = universe.characteristics().filter(pl.col("ticker") != "XLC")
    tables = signal_tables(random_walk_prices(0, characteristics.get_column("ticker").to_list(), 4000),
                           characteristics)
    inputs, result = run_model(tables)
    return tables, inputs, result


@pytest.fixture(scope="module")
def planted(universe):
    """The synthetic market (seed 42) 2005-2012: regimes of 60-250 sessions make relative momentum persist."""
    prices, macro = synthetic_prices(universe, 42, dt.date(2005, 1, 3), dt.date(2013, 1, 2))
    tables = signal_tables(prices, universe.characteristics(), macro)
    inputs, result = run_model(tables)
    return tables, inputs, result


def summary(tables, result) -> dict[str, dict[str, float]]:
    rows = signal_skill(result.predictions.lazy(), tables.features.lazy(), tables.rankings.lazy(),
                        horizon=CONFIG.horizon, sectors=tables.sectors)
    return {r["signal"]: r for r in skill_summary(rows).iter_rows(named=True)}


def test_label_is_the_forward_relative_return_over_the_horizon(random_walk):
    tables, _, _ = random_walk
    labels = forward_relative_returns(tables.features.lazy(), horizon=20).collect()
    wide = tables.prices.pivot(on="ticker", index="date", values="total_return_price").sort("date")
    dates = wide.get_column("date").to_list()
    xlk, spy = wide.get_column("XLK").to_numpy(), wide.get_column("SPY").to_numpy()
    for i in (0, 100, 3979):
        row = labels.filter((pl.col("date") == dates[i]) & (pl.col("ticker") == "XLK")).row(0, named=True)
        expected = (xlk[i + 20] / xlk[i]) / (spy[i + 20] / spy[i]) - 1
        assert row["forward_relative_return"] == pytest.approx(expected, rel=1e-12)
        assert row["label_end_date"] == dates[i + 20]
    last = labels.filter(pl.col("date") == dates[3980])
    assert last.get_column("forward_relative_return").is_null().all()  # 19 sessions left: not known yet


def test_each_month_is_predicted_by_a_model_trained_before_it_with_a_horizon_embargo(random_walk):
    tables, _, result = random_walk
    dates = sorted(set(tables.features.get_column("date").to_list()))
    index = {d: i for i, d in enumerate(dates)}
    runs = result.model_runs
    assert runs.height > 100
    for run in runs.iter_rows(named=True):
        trained = index[run["date"]]
        assert dates[trained - 1].month != run["date"].month  # the first session of its month
        # the last sample's label ends on the session before the training date: s + 20 < training date
        assert index[run["last_label_end_date"]] == trained - 1
        assert index[run["training_last_date"]] == trained - 1 - CONFIG.horizon
        assert run["training_first_date"] == runs.item(0, "training_first_date")  # expanding window
    months = result.predictions.with_columns(month=pl.col("date").dt.strftime("%Y-%m"),
                                             model_month=pl.col("model_date").dt.strftime("%Y-%m"))
    assert (months.get_column("month") == months.get_column("model_month")).all()
    assert runs.item(0, "training_dates") >= CONFIG.min_training_dates


def _independent_zscores(inputs: pl.DataFrame, features: tuple[str, ...]) -> pl.DataFrame:
    ranked = inputs.filter(pl.col("is_ranked"))
    return ranked.with_columns(
        pl.when(pl.col(f).std().over("date") > 0)
        .then(((pl.col(f) - pl.col(f).mean().over("date")) / pl.col(f).std().over("date")).clip(-3, 3))
        .otherwise(0.0).fill_null(0.0).alias(f)
        for f in features
    )


def test_the_model_is_sklearns_ridge_on_cross_sectional_zscores_of_the_embargoed_samples(random_walk):
    _, inputs, result = random_walk
    run = result.model_runs.filter(pl.col("date") == dt.date(2012, 6, 1)).row(0, named=True)
    z = _independent_zscores(inputs, CONFIG.features)
    train = z.filter(pl.col("label_end_date") < run["date"]).drop_nulls("forward_relative_return")
    x = train.select(CONFIG.features).to_numpy()
    y = train.get_column("forward_relative_return").to_numpy()
    expected = Ridge(alpha=0.1 * len(y)).fit(x, y)
    assert run["training_samples"] == len(y)
    assert np.allclose(run["coefficients"], expected.coef_, rtol=1e-8, atol=1e-12)
    assert run["intercept"] == pytest.approx(expected.intercept_, rel=1e-8)
    # prediction_strength = intercept + coefficients . z on every session of the month
    day = dt.date(2012, 6, 15)
    today = z.filter(pl.col("date") == day).sort("ticker")
    predicted = result.predictions.filter(pl.col("date") == day).sort("ticker")
    expected_prediction = run["intercept"] + today.select(CONFIG.features).to_numpy() @ np.array(run["coefficients"])
    assert predicted.get_column("ticker").to_list() == today.get_column("ticker").to_list()
    assert np.allclose(predicted.get_column("prediction_strength").to_numpy(), expected_prediction, atol=1e-12)
    assert predicted.sort("prediction_rank").get_column("prediction_strength").is_sorted(descending=True)


def test_no_skill_on_a_random_walk_market(random_walk):
    """Nothing is predictable, so out-of-sample IC must be indistinguishable from zero (non-overlapping t)."""
    tables, _, result = random_walk
    skill = summary(tables, result)
    for signal in ("model", "momentum", "composite"):
        assert abs(skill[signal]["ic_t_stat_non_overlapping"]) < 2, signal
        assert abs(skill[signal]["ic_mean"]) < 0.03, signal
        assert abs(skill[signal]["hit_rate_pooled"] - 0.5) < 0.015, signal
    assert skill["model"]["non_overlapping_dates"] >= 180


def test_clear_skill_where_momentum_persists(planted):
    """On the regime market the model finds the planted persistence out of sample, as do the baselines."""
    tables, _, result = planted
    skill = summary(tables, result)
    assert skill["model"]["ic_t_stat_non_overlapping"] > 3
    assert skill["model"]["ic_mean"] > 0.2
    assert skill["model"]["hit_rate_pooled"] > 0.6
    assert skill["momentum"]["ic_t_stat_non_overlapping"] > 3


def test_a_trailing_window_and_quarterly_retraining(random_walk):
    _, inputs, _ = random_walk
    config = ModelConfig(training_dates=500, retrain="quarterly", min_training_dates=500)
    result = walk_forward(inputs, config=config)
    runs = result.model_runs
    assert (runs.get_column("training_dates") == 500).all()
    assert set(runs.get_column("date").dt.month().to_list()) <= {1, 4, 7, 10}
    assert runs.get_column("period").str.contains("-Q").all()
