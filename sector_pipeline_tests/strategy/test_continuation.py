"""Continuation: the strategy tables computed in chunks, each chunk reading its inputs from the declared lookback
and continuing from the stored rows of the chunks before it, equal the whole history in one call, bit for bit.

A chunk does what an incremental asset run does for the dates [start, end): it reads each upstream table from
the first date the pure function declares (prediction_history_start, skill_read_start, the lookback
constants) up to `end`, passes as `previous` only the last stored rows of its own table (the state), and keeps
the rows it returns. Stored rows make a round trip through DuckDB, as in the warehouse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import polars as pl
import pytest

from sector_pipeline.calendar import sessions, sessions_before
from sector_pipeline.strategy.allocation import ALLOCATION_LOOKBACK_SESSIONS, ALLOCATION_STATE_KEYS, allocations
from sector_pipeline.strategy.backtest import BACKTEST_LOOKBACK_SESSIONS, run_backtest
from sector_pipeline.strategy.config import ModelConfig
from sector_pipeline.strategy.metrics import PERFORMANCE_LOOKBACK_SESSIONS, performance
from sector_pipeline.strategy.model import (
    PREDICTION_LOOKBACK_SESSIONS,
    model_inputs,
    prediction_history_start,
    walk_forward,
)
from sector_pipeline.strategy.skill import signal_skill, skill_read_start
from sector_pipeline.strategy.state import ContinuationError, last_rows
from sector_pipeline_tests.strategy.markets import (
    SignalTables,
    inputs_of,
    signal_tables,
    strategy_tables,
    synthetic_prices,
)

START, END = dt.date(2005, 1, 3), dt.date(2008, 7, 1)
TABLES = {  # table -> its keys besides the date (the sort order of the full run)
    "predictions": ("ticker",), "model_runs": (), "skill": ("signal",), "allocations": ("book", "ticker"),
    "backtest": ("strategy",), "performance": ("strategy",),
}
STATE_KEYS = {"model_runs": (), "skill": ("signal",), "allocations": ALLOCATION_STATE_KEYS,
              "backtest": ("strategy",), "performance": ("strategy",)}


def _window(frame: pl.DataFrame | None, since: dt.date | None, end: dt.date) -> pl.DataFrame | None:
    if frame is None:
        return None
    keep = pl.col("date") < end
    return frame.filter(keep if since is None else keep & (pl.col("date") >= since))


def _through_duckdb(frame: pl.DataFrame) -> pl.DataFrame:
    return duckdb.sql("select * from frame").pl()


@dataclass
class Store:
    """The strategy tables as stored so far, and the rows each chunk read from the upstream tables."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    rows_read: list[dict[str, object]] = field(default_factory=list)

    def previous(self, table: str, start: dt.date) -> pl.DataFrame | None:
        """The state a run reads: the last stored row of each key before start."""
        stored = self.tables.get(table)
        if stored is None:
            return None
        keys = STATE_KEYS[table]
        if not keys:   # model_runs: the latest run (none: an empty frame, the table exists)
            return stored.filter(pl.col("date") < start).tail(1)
        return last_rows(stored, keys, start)

    def append(self, table: str, rows: pl.DataFrame, start: dt.date) -> None:
        rows = _through_duckdb(rows) if rows.height else rows
        stored = self.tables.get(table)
        if stored is not None:
            assert stored.filter(pl.col("date") >= start).is_empty()
            rows = pl.concat([stored, rows], how="vertical")
        self.tables[table] = rows


def run_chunk(tables: SignalTables, store: Store, start: dt.date, end: dt.date, config: ModelConfig) -> None:
    """The strategy assets' run for [start, end) on bounded reads, continuing from `store`."""
    read: dict[str, object] = {"start": start}

    def upstream(name: str, frame: pl.DataFrame | None, since: dt.date | None) -> pl.DataFrame | None:
        out = _window(frame, since, end)
        if out is not None:
            read[name] = read.get(name, 0) + out.height
        return out

    since = prediction_history_start(start, end, config=config)
    read["prediction_read_start"] = since
    inputs = model_inputs(upstream("features", tables.features, since).lazy(),
                          upstream("rankings", tables.rankings, since).lazy(),
                          characteristics=tables.characteristics,
                          sentiment=upstream("sentiment", tables.sentiment, since).lazy(),
                          macro=upstream("macro", tables.macro, since).lazy(), config=config)
    model = walk_forward(inputs, config=config, start=start, previous_runs=store.previous("model_runs", start))
    store.append("predictions", model.predictions, start)
    store.append("model_runs", model.model_runs, start)

    previous_skill = store.previous("skill", start)
    since = skill_read_start(start, previous_skill, horizon=config.horizon)
    skill = signal_skill(upstream("predictions", store.tables["predictions"], since).lazy(),
                         upstream("features", tables.features, since).lazy(),
                         upstream("rankings", tables.rankings, since).lazy(),
                         horizon=config.horizon, sectors=tables.sectors, start=start, previous=previous_skill)
    store.append("skill", skill, start)

    since = sessions_before(start, ALLOCATION_LOOKBACK_SESSIONS)
    weights = allocations(upstream("predictions", store.tables["predictions"], since).lazy(),
                          upstream("rankings", tables.rankings, since).lazy(),
                          upstream("features", tables.features, since).lazy(),
                          start=start, previous=store.previous("allocations", start))
    store.append("allocations", weights, start)

    since = sessions_before(start, BACKTEST_LOOKBACK_SESSIONS)
    backtest = run_backtest(upstream("allocations", store.tables["allocations"], since),
                            upstream("features", tables.features, since).select("date", "ticker", "return_1d"),
                            benchmark="SPY", start=start, previous=store.previous("backtest", start))
    store.append("backtest", backtest, start)

    since = sessions_before(start, PERFORMANCE_LOOKBACK_SESSIONS)
    store.append("performance", performance(upstream("backtest", store.tables["backtest"], since), start=start,
                                            previous=store.previous("performance", start)), start)
    store.rows_read.append(read)


def chunked_run(tables: SignalTables, splits: list[dt.date], config: ModelConfig) -> Store:
    store = Store()
    bounds = [START, *splits, END]
    for start, end in zip(bounds, bounds[1:]):
        run_chunk(tables, store, start, end, config)
    return store


def assert_equal_tables(full: dict[str, pl.DataFrame], store: Store, until: dt.date = END) -> None:
    for table, keys in TABLES.items():
        expected = full[table].filter(pl.col("date") < until).sort("date", *keys)
        got = store.tables[table].sort("date", *keys)
        assert expected.height > 0, table
        assert got.equals(expected), table


@pytest.fixture(scope="module")
def market(universe) -> tuple[SignalTables, dict[str, pl.DataFrame]]:
    prices, macro = synthetic_prices(universe, 7, START, END)
    tables = signal_tables(prices, universe.characteristics(), macro)
    return tables, strategy_tables(tables)


def _key_dates(full: dict[str, pl.DataFrame]) -> dict[str, dt.date]:
    runs = full["model_runs"].get_column("date").to_list()
    model_book = full["allocations"].filter(pl.col("book") == "model").get_column("date").unique().sort()
    momentum = full["allocations"].filter(pl.col("book") == "momentum_top3").get_column("date").unique().sort()
    backtest = full["backtest"].get_column("date").unique().sort()
    return {"first_model": runs[0], "a_retrain": runs[9], "t0": model_book[0], "a_rebalance": model_book[20],
            "backtest_start": backtest[0], "month_end": momentum[5], "first_skill": full["skill"].item(0, "date")}


def test_the_model_and_the_books_start_inside_the_test_market(market):
    """The chunk tests below cross every start: first model, first decision t0, first backtest row, first skill."""
    tables, full = market
    days = _key_dates(full)
    assert START < days["first_model"] < days["t0"] < days["backtest_start"] < days["first_skill"] < END
    assert full["model_runs"].height >= 20 and full["model_runs"].get_column("zscore_clip").unique().to_list() == [3.0]


@pytest.mark.parametrize("pick", [
    # a split on a date before anything starts, then inside the first month of predictions and of the books
    lambda d: [d["first_model"] - dt.timedelta(days=30), d["t0"], d["backtest_start"] + dt.timedelta(days=1)],
    # splits on a retrain (first session of a month), a rebalance (Friday), a month end (momentum book)
    lambda d: [d["a_retrain"], d["a_rebalance"], d["month_end"]],
    # the session after each of them: a mid-month day, the trade session of a decision
    lambda d: [d["first_skill"], d["a_retrain"] + dt.timedelta(days=1), d["month_end"] + dt.timedelta(days=1)],
], ids=["starts", "decisions", "after_decisions"])
def test_chunks_continuing_from_stored_rows_equal_one_call_over_the_whole_history(market, pick):
    tables, full = market
    splits = [d for d in pick(_key_dates(full)) if START < d < END]
    assert_equal_tables(full, chunked_run(tables, sorted(set(splits)), ModelConfig()))


def test_night_by_night_equals_one_call_and_reads_a_bounded_number_of_rows(market):
    """Nightly runs over three weeks that cross a week end, a month end and a retrain: each night's rows equal
    the full run's, and a night that trains no model reads a few sessions of each input, not the history."""
    tables, full = market
    nights = sessions(dt.date(2007, 9, 24), dt.date(2007, 10, 13))
    store = Store()
    run_chunk(tables, store, START, nights[0], ModelConfig())
    for night, following in zip(nights, [*nights[1:], nights[-1] + dt.timedelta(days=1)]):
        run_chunk(tables, store, night, following, ModelConfig())
    assert_equal_tables(full, store, until=nights[-1] + dt.timedelta(days=1))
    # 2007: nine sectors (XLRE and XLC come later) and SPY
    tickers = tables.features.filter(pl.col("date") == nights[0]).height
    sectors = tables.rankings.filter(pl.col("date") == nights[0]).height
    assert (tickers, sectors) == (10, 9)
    history_rows = tables.features.filter(pl.col("date") < nights[0]).height
    horizon = ModelConfig().horizon
    for read in store.rows_read[1:]:
        if read["start"] == dt.date(2007, 10, 1):   # the month's first session: the expanding window retrains
            assert read["prediction_read_start"] is None and read["features"] > history_rows
            continue
        # sessions read per input: predictions the night and the one before (2); skill the night and horizon + 1
        # before (22); allocations the night (1); backtest and performance the night and the one before (2)
        assert read["prediction_read_start"] == sessions_before(read["start"], PREDICTION_LOOKBACK_SESSIONS)
        assert read["features"] == (2 + (horizon + 2) + 1 + 2) * tickers, read
        assert read["rankings"] == (2 + (horizon + 2) + 1) * sectors, read
        assert read["sentiment"] == 2 * 4 and read["macro"] == 2 * 4, read
        assert read["predictions"] == ((horizon + 2) + 1) * sectors, read
        assert read["allocations"] <= 4 * sectors, read     # the decisions of the night before, if any
        assert read["backtest"] == 2 * 5, read               # five strategies


def test_a_trailing_window_retrains_on_a_bounded_read(market):
    """With a trailing training window even a retrain reads a bounded history, and the models are the same."""
    tables, _ = market
    config = ModelConfig(training_dates=300, min_training_dates=300, retrain="quarterly")
    inputs = inputs_of(tables, config)
    full = walk_forward(inputs, config=config)
    assert full.model_runs.height >= 5
    store = Store()
    splits = [dt.date(2006, 8, 15), *full.model_runs.get_column("date").to_list()[2:5], dt.date(2008, 1, 2)]
    for start, end in zip([START, *splits], [*splits, END]):
        since = prediction_history_start(start, end, config=config)
        assert since is not None   # bounded, even when a quarter starts in the chunk
        model = walk_forward(_window(inputs, since, end), config=config, start=start,
                             previous_runs=store.previous("model_runs", start))
        store.append("predictions", model.predictions, start)
        store.append("model_runs", model.model_runs, start)
    assert store.tables["model_runs"].equals(full.model_runs)
    assert store.tables["predictions"].equals(full.predictions)


def test_a_read_too_short_for_the_state_is_refused(market):
    tables, full = market
    retrain = full["model_runs"].item(5, "date")
    inputs = inputs_of(tables)
    stored_runs = full["model_runs"].filter(pl.col("date") < retrain)
    # a retrain on the last few months only would fit fewer samples than the expanding window
    with pytest.raises(ContinuationError, match="needs the whole history"):
        walk_forward(_window(inputs, retrain - dt.timedelta(days=400), END), start=retrain,
                     previous_runs=stored_runs)
    # a mid-month start without the session before it looks like the month's first session
    mid_month = retrain + dt.timedelta(days=14)
    with pytest.raises(ContinuationError, match="has a stored model"):
        walk_forward(_window(inputs, mid_month, END), start=mid_month,
                     previous_runs=full["model_runs"].filter(pl.col("date") < mid_month))
    # ... and without the stored model the month cannot be predicted
    with pytest.raises(ContinuationError, match="pass its stored model"):
        walk_forward(_window(inputs, sessions_before(mid_month, 1), END), start=mid_month)
    # a backtest or performance whose stored rows end before the sessions read has a gap
    gap_start = full["backtest"].get_column("date").unique().sort()[40]
    stale = gap_start - dt.timedelta(days=10)
    with pytest.raises(ContinuationError, match="has a gap"):
        run_backtest(full["allocations"], tables.features, benchmark="SPY", start=gap_start,
                     previous=last_rows(full["backtest"], ["strategy"], stale))
    with pytest.raises(ContinuationError, match="has a gap"):
        performance(full["backtest"].filter(pl.col("date") >= stale), start=gap_start,
                    previous=last_rows(full["performance"], ["strategy"], stale))


def test_a_stored_model_trained_with_other_settings_is_refused(market):
    tables, full = market
    inputs = inputs_of(tables)
    mid_month = full["model_runs"].item(5, "date") + dt.timedelta(days=14)
    stored = full["model_runs"].filter(pl.col("date") < mid_month).tail(1)
    for config in (ModelConfig(horizon=10), ModelConfig(retrain="quarterly"), ModelConfig(ridge_penalty=1.0),
                   ModelConfig(features=ModelConfig().features[:-1])):
        with pytest.raises(ContinuationError, match="re-materialize strategy/predictions"):
            walk_forward(_window(inputs, sessions_before(mid_month, 1), END), config=config, start=mid_month,
                         previous_runs=stored)
