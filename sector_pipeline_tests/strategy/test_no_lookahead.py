"""No look-ahead: nothing dated <= t changes when the prices after t change or are not there yet."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from sector_pipeline.strategy.model import walk_forward
from sector_pipeline_tests.strategy.markets import inputs_of, signal_tables, strategy_tables, synthetic_prices

START, END = dt.date(2005, 1, 3), dt.date(2008, 7, 1)
CUT = dt.date(2007, 10, 17)   # a Wednesday in the middle of a month and of a week


def strategy_outputs(prices: pl.DataFrame, macro: pl.DataFrame, characteristics: pl.DataFrame
                     ) -> dict[str, pl.DataFrame]:
    return strategy_tables(signal_tables(prices, characteristics, macro))


def _perturb(frame: pl.DataFrame, columns: list[str], seed: int) -> pl.DataFrame:
    after = frame.get_column("date") > CUT
    noise = np.exp(np.random.default_rng(seed).normal(0.0, 0.05, frame.height))
    return frame.with_columns(pl.when(after).then(pl.col(c) * noise).otherwise(pl.col(c)).alias(c) for c in columns)


@pytest.fixture(scope="module")
def market(universe):
    prices, macro = synthetic_prices(universe, 7, START, END)
    characteristics = universe.characteristics()
    return prices, macro, characteristics, strategy_outputs(prices, macro, characteristics)


def _up_to_cut(outputs: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {name: frame.filter(pl.col("date") <= CUT) for name, frame in outputs.items()}


def test_the_whole_history_produces_every_output(market):
    *_, outputs = market
    before = _up_to_cut(outputs)
    for name, frame in before.items():
        assert frame.height > 0, name
    assert outputs["allocations"].get_column("book").n_unique() == 4
    assert outputs["backtest"].get_column("strategy").n_unique() == 5


def test_changing_prices_after_t_changes_nothing_dated_up_to_t(market):
    prices, macro, characteristics, outputs = market
    shifted = strategy_outputs(_perturb(prices, ["close_price", "total_return_price", "volume_shares"], 1),
                               _perturb(macro, ["series_value"], 2), characteristics)
    before, after = _up_to_cut(outputs), _up_to_cut(shifted)
    for name in outputs:
        assert before[name].equals(after[name]), name
    # ... while the future did change
    later = pl.col("date") > CUT
    assert not outputs["predictions"].filter(later).equals(shifted["predictions"].filter(later))


def test_history_ending_at_t_gives_the_same_rows_as_the_full_history(market):
    """What a nightly run on t computes equals what a later backfill computes for the same dates."""
    prices, macro, characteristics, outputs = market
    until_cut = strategy_outputs(prices.filter(pl.col("date") <= CUT), macro.filter(pl.col("date") <= CUT),
                                 characteristics)
    full = _up_to_cut(outputs)
    for name in outputs:
        assert until_cut[name].equals(full[name]), name


def test_a_run_from_t_predicts_with_the_stored_model_and_trains_only_new_periods(market):
    """walk_forward(start=..., previous_runs=...) (what a nightly run does) reproduces a full run, bit for bit."""
    prices, macro, characteristics, outputs = market
    inputs = inputs_of(signal_tables(prices.filter(pl.col("date") <= CUT), characteristics,
                                     macro.filter(pl.col("date") <= CUT)))
    month_start = dt.date(2007, 10, 1)
    stored = outputs["model_runs"].filter(pl.col("date") < month_start)
    # mid-month: the month's stored model predicts, nothing is trained
    nightly = walk_forward(inputs, start=CUT, previous_runs=stored.tail(1).vstack(
        outputs["model_runs"].filter(pl.col("date") == month_start)))
    assert nightly.model_runs.is_empty()
    assert nightly.predictions.equals(outputs["predictions"].filter(pl.col("date") == CUT))
    # on the month's first session the month's model is trained again, identically
    retrain = walk_forward(inputs, start=month_start, previous_runs=stored.tail(1))
    assert retrain.model_runs.equals(outputs["model_runs"].filter(pl.col("date") == month_start))
    assert retrain.predictions.equals(outputs["predictions"].filter(pl.col("date").is_between(month_start, CUT)))
