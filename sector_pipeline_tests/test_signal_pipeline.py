"""End-to-end signal assets on the real Definitions: one run per range, past-only, holidays, bounded nights."""

import datetime as dt

import pytest

from sector_pipeline.calendar import sessions, week_end_sessions
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import (
    THROUGH_SIGNALS,
    definitions,
    run_range,
)

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
SIGNAL_TABLES = ["signals.features", "signals.sector_rankings", "signals.sentiment_scores",
                 "signals.sentiment_contributions", "signals.alerts", "signals.alert_conditions",
                 "signals.macro_regime", "signals.sector_rotation_index", "signals.relative_rotation"]
START, SPLIT, LAST = D(2023, 7, 3), D(2024, 2, 12), D(2024, 2, 22)  # Presidents' Day 2024-02-19 inside


def snapshot(path) -> dict[str, list[tuple]]:
    store = Warehouse(path)
    return {t: store.query(f"select * from {t} order by all").rows() for t in SIGNAL_TABLES}


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("one") / "w.duckdb"
    result = run_range(definitions(path), START, LAST, selection=THROUGH_SIGNALS)
    assert result.success
    return path, result


def test_a_range_in_one_run_equals_its_dates_one_by_one(one_run, tmp_path):
    path, _ = one_run
    other = tmp_path / "w.duckdb"
    defs = definitions(other)
    assert run_range(defs, START, SPLIT - dt.timedelta(days=1), selection=THROUGH_SIGNALS).success
    day = SPLIT
    while day <= LAST:
        if day.weekday() < 5:
            assert run_range(defs, day, day, selection=THROUGH_SIGNALS).success
        day += dt.timedelta(days=1)
    a, b = snapshot(path), snapshot(other)
    for table in SIGNAL_TABLES:
        assert a[table] == b[table], table
        assert len(a[table]) > 0, table


def test_signal_tables_cover_sessions_only(one_run):
    path, _ = one_run
    store = Warehouse(path)
    days = sessions(START, LAST + dt.timedelta(days=1))
    for table in SIGNAL_TABLES:
        if table == "signals.alerts":
            continue
        stored = set(store.query(f"select distinct date from {table}").get_column("date").to_list())
        assert stored <= set(days) and D(2024, 2, 19) not in stored, table
    assert store.query("select count(distinct date) from signals.features").item() == len(days)
    ranks = store.query("select date, list(rank order by rank) as r, count(*) as n from signals.sector_rankings "
                        "where is_ranked group by date")
    assert all(r == list(range(1, n + 1)) for _, r, n in ranks.rows())
    bounds = store.query("select min(score), max(score) from signals.sentiment_scores").row(0)
    assert -1 <= bounds[0] and bounds[1] <= 1
    sri = store.query("select min(least(economic_score, performance_score, flow_score, technical_score)), "
                      "max(greatest(economic_score, performance_score, flow_score, technical_score)) "
                      "from signals.sector_rotation_index").row(0)
    assert 0 <= sri[0] and sri[1] <= 100


def test_weekly_rotation_rows_are_stored_for_completed_weeks_only(one_run):
    path, _ = one_run
    weekly = Warehouse(path).query("select distinct date from signals.relative_rotation where frequency = 'weekly'")
    assert sorted(weekly.get_column("date").to_list()) == week_end_sessions(START, LAST + dt.timedelta(days=1))


def test_each_signal_asset_shows_its_latest_table(one_run):
    _, result = one_run
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events() if e.partition is None}
    for name in ("features", "sector_rankings", "sentiment_scores", "sector_rotation_index", "relative_rotation"):
        md = metadata[f"signals/{name}"]["latest"].value
        assert md.startswith("| date | ticker |") or md.startswith("| date | dimension |"), name
        assert "2024-02-22" in md
    assert "| tier | len |" in metadata["signals/alerts"]["by_tier"].value


def test_a_nightly_run_reads_a_bounded_number_of_rows(one_run, tmp_path):
    """The night after the range: each asset reads its declared lookback and its new date, not the history."""
    import shutil

    path, _ = one_run
    copy = tmp_path / "night.duckdb"
    shutil.copy(path, copy)
    night = D(2024, 2, 23)
    result = run_range(definitions(copy), night, night, selection=THROUGH_SIGNALS)
    assert result.success
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert meta["signals/features"]["recomputed_from"].value == "2024-02-23"
    # one new session: 12 feature rows in, 12 ranking rows; the cross-sectional stages read that date only
    assert meta["signals/sector_rankings"]["rows_read"].value == 12
    assert meta["signals/sector_rankings"]["rows_written"].value == 11
    assert meta["signals/sector_rotation_index"]["rows_read"].value == 12 + 11 + 4
    # features: each ticker's stored lookback (at most 260 sessions: all of them here) and the new row, plus
    # its own last stored row as state
    stored = Warehouse(path).query("select count(distinct date) from intermediate.int_total_returns").item()
    assert stored < 260
    assert meta["signals/features"]["rows_read"].value == 12 * (stored + 1) + 12
