import datetime as dt

import dagster as dg
import pytest

from sector_pipeline.defs import build_definitions
from sector_pipeline.defs.resources import (
    CsvDirectoryResource,
    MarketDataResource,
    SyntheticMarketResource,
    YFinanceResource,
)
from sector_pipeline.errors import ConfigurationError
from sector_pipeline.settings import Settings
from sector_pipeline.universe import UniverseError
from sector_pipeline_tests.dagster_helpers import definitions

EXPECTED_ASSETS = {
    "raw/prices", "raw/macro", "raw/synthetic_regimes", "validated/prices", "validated/macro",
    "staging/stg_prices", "staging/stg_macro", "intermediate/int_total_returns", "intermediate/int_macro_daily",
    "signals/features", "signals/sector_rankings", "signals/sentiment_scores", "signals/sentiment_contributions",
    "signals/alerts", "signals/alert_conditions", "signals/macro_regime", "signals/sector_rotation_index",
    "signals/relative_rotation", "signals/alert_outbox",
    "raw/universe_membership", "marts/sector_returns", "marts/sector_scores", "marts/sentiment", "marts/alerts",
    "marts/macro_indicators", "marts/sector_rotation_index", "marts/relative_rotation", "marts/market_overview",
    "marts/sector_returns_wide", "marts/sector_scores_wide", "marts/sentiment_wide", "published/marts",
    "marts/predictions", "marts/allocations", "marts/backtest", "marts/strategy_performance", "marts/skill",
    "heatmaps/sector_returns", "heatmaps/relative_strength_change_20d", "heatmaps/composite_score",
    "heatmaps/sri_total", "heatmaps/sentiment",
    "strategy/predictions", "strategy/model_runs", "strategy/skill", "strategy/allocations", "strategy/backtest",
    "strategy/performance",
}


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return definitions(tmp_path_factory.mktemp("defs") / "w.duckdb")


def test_module_entry_point_loads():
    from sector_pipeline.definitions import defs as module_defs

    assert isinstance(module_defs, dg.Definitions)


def test_assets_checks_job_and_schedule_exist(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    # besides each table's contract check (contracts/test_contract_checks.py)
    checks = {f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys
              if c.name != "matches_contract"}
    assert checks == {"validated/prices:no_quarantined_rows", "validated/prices:all_tickers_present",
                      "validated/macro:no_quarantined_rows", "validated/macro:series_fresh",
                      "strategy/allocations:weights_within_rules", "signals/alert_outbox:alerts_delivered"}
    for key in graph.asset_check_keys:  # a failing webhook warns; it never stops the lineage
        assert graph.get_check_spec(key).blocking == (key.name != "alerts_delivered")
    assert defs.resolve_job_def("daily_pipeline") is not None
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "30 18 * * 1-5" and schedule.execution_timezone == "America/New_York"


def test_lineage_is_derived_from_sql(defs):
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["validated/prices"] == {"raw/prices"}
    assert parents["staging/stg_prices"] == {"validated/prices"}
    assert parents["intermediate/int_macro_daily"] == {"staging/stg_macro", "staging/stg_prices"}
    assert parents["intermediate/int_total_returns"] == {"staging/stg_prices"}
    assert parents["signals/features"] == {"intermediate/int_total_returns"}
    assert parents["signals/sector_rotation_index"] == {"signals/features", "signals/sector_rankings",
                                                        "signals/macro_regime"}
    assert parents["signals/alerts"] == {"signals/sentiment_scores", "signals/sector_rankings"}
    assert parents["marts/sector_returns_wide"] == {"marts/sector_returns"}
    assert parents["published/marts"] == {k for k in parents if k.startswith("marts/")}


INGEST_PARTITIONED = {"raw/prices", "raw/macro", "validated/prices", "validated/macro"}


def test_ingest_is_partitioned_by_year_and_everything_runs_as_one_run(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        # only the layer where corrections are re-fetched carries Dagster partitions (docs/architecture.md)
        assert (node.partitions_def is not None) == (key.to_user_string() in INGEST_PARTITIONED), key
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
        assert node.group_name in {"ingest", "staging", "intermediate", "marts", "signals", "published",
                                   "heatmaps", "strategy"}
        assert all(graph.has(parent) and graph.get(parent).is_materializable for parent in node.parent_keys), key
        assert node.description, f"{key} has no description for the UI"
    partitions = graph.get(dg.AssetKey(["raw", "prices"])).partitions_def
    assert partitions.get_partition_keys_in_range(dg.PartitionKeyRange("1999", "2002")) == [
        "1999", "2000", "2001", "2002"]
    assert partitions.get_first_partition_key() == "1999"


def _tick(defs, when: dt.datetime):
    schedule = defs.resolve_schedule_def("nightly_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=defs.get_repository_def())
    return schedule.evaluate_tick(context)


NEW_YORK_EVENING = dt.timezone(dt.timedelta(hours=-4))


def test_schedule_requests_the_session_of_the_evening(defs):
    result = _tick(defs, dt.datetime(2024, 3, 15, 18, 30, tzinfo=NEW_YORK_EVENING))
    (request,) = result.run_requests
    assert request.partition_key == "2024" and request.run_key == "2024-03-15"
    assert request.run_config["resources"]["ingest_dates"]["config"] == {"last_date": "2024-03-15",
                                                                        "recent_sessions": 5}


def test_schedule_skips_holidays_and_unclosed_sessions_with_a_reason(defs):
    holiday = _tick(defs, dt.datetime(2024, 7, 4, 18, 30, tzinfo=NEW_YORK_EVENING))
    assert not holiday.run_requests and "2024-07-04 is not a XNYS session" in holiday.skip_message
    early = _tick(defs, dt.datetime(2024, 7, 3, 12, 30, tzinfo=NEW_YORK_EVENING))  # 13:00 early close
    assert not early.run_requests and "has not closed yet (it closes at 13:00 America/New_York)" in early.skip_message


def test_unknown_source_is_a_configuration_error_at_load():
    with pytest.raises(ConfigurationError,
                       match="unknown data source 'bloomberg'; choose one of synthetic, yfinance, csv"):
        build_definitions(Settings.from_env({"SECTOR_PIPELINE_SOURCE": "bloomberg"}))


def test_each_source_is_its_own_resource_with_only_its_settings(tmp_path):
    def chosen(**env: str) -> MarketDataResource:
        settings = Settings.from_env({f"SECTOR_PIPELINE_{k.upper()}": v for k, v in env.items()})
        return build_definitions(settings).resources["market_data"]

    synthetic = chosen(seed="7")
    assert type(synthetic) is SyntheticMarketResource and (synthetic.source, synthetic.seed) == ("synthetic", 7)
    regimes = synthetic.planted_regimes(dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    assert regimes.height > 0 and regimes["start_date"].min() < dt.date(2024, 3, 1)
    files = chosen(source="csv", csv_dir=str(tmp_path))
    assert type(files) is CsvDirectoryResource and (files.source, files.directory) == ("csv", str(tmp_path))
    assert files.planted_regimes(dt.date(2024, 1, 1), dt.date(2024, 3, 1)) is None  # real data plants nothing
    yahoo = chosen(source="yfinance")
    assert type(yahoo) is YFinanceResource and (yahoo.batch_size, yahoo.max_attempts) == (20, 4)
    with pytest.raises(ConfigurationError, match="source 'csv' needs a directory: set SECTOR_PIPELINE_CSV_DIR"):
        chosen(source="csv")


def test_malformed_universe_is_a_configuration_error_at_load(tmp_path):
    bad = tmp_path / "u.toml"
    bad.write_text("[benchmark]\nticker = 'SPY'\n")
    with pytest.raises(UniverseError, match="u.toml"):
        Settings.from_env({"SECTOR_PIPELINE_UNIVERSE": str(bad)})


def test_csv_source_needs_an_existing_directory(tmp_path):
    with pytest.raises(ConfigurationError, match=f"source 'csv': directory {tmp_path / 'nope'} does not exist"):
        build_definitions(Settings.from_env({"SECTOR_PIPELINE_SOURCE": "csv",
                                             "SECTOR_PIPELINE_CSV_DIR": str(tmp_path / "nope")}))


def test_workspace_loads_with_the_dagster_cli(tmp_path):
    """What `dagster dev` does first: load the code location from workspace.yaml in the repo root."""
    import os
    import subprocess

    from sector_pipeline.settings import PROJECT_ROOT

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "SECTOR_PIPELINE_WAREHOUSE": str(tmp_path / "w.duckdb")}
    done = subprocess.run(["dagster", "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr
