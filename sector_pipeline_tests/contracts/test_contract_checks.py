"""The contracts in Dagster: every asset shows its table's column schema and has a blocking contract check; rows
that break a contract are refused before the write, with the failing rows in the check, and nothing downstream
runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from sector_pipeline.contracts import column_schema
from sector_pipeline.defs.contract_checks import CHECK_NAME
from sector_pipeline.signals import features as features_module
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import THROUGH_SIGNALS, definitions, run_range
from sector_pipeline_tests.faults.stored_state import table_hashes

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date


def test_every_asset_but_the_pictures_shows_its_schema_and_has_a_blocking_contract_check(tmp_path):
    defs = definitions(tmp_path / "w.duckdb")
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    checked = {c.asset_key for c in graph.asset_check_keys if c.name == CHECK_NAME}
    pictures = {k for k in keys if k.path[0] == "heatmaps"}
    assert len(pictures) == 5 and checked == keys - pictures and len(checked) == len(keys) - 5
    for key in checked:
        assert graph.get_check_spec(dg.AssetCheckKey(key, CHECK_NAME)).blocking, key
        schema = graph.get(key).metadata["dagster/column_schema"]
        table = "marts.publish_manifest" if key.path == ["published", "marts"] else ".".join(key.path)
        assert [(c.name, c.type) for c in schema.columns] == [(n, t) for n, t, _ in column_schema(table)], key
        assert all(c.description for c in schema.columns), key


def test_rows_breaking_a_contract_are_refused_before_the_write_and_block_what_follows(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, D(2024, 1, 2), D(2024, 3, 28), selection=THROUGH_SIGNALS).success
    before = table_hashes(path)
    computed = features_module.compute_features

    def rsi_out_of_range(*args, **kwargs):   # a bug that makes one RSI value impossible
        frame = computed(*args, **kwargs)
        return frame.with_columns(pl.when((pl.col("ticker") == "XLK") & (pl.col("date") == D(2024, 4, 2)))
                                  .then(150.0).otherwise(pl.col("rsi_14")).alias("rsi_14"))

    monkeypatch.setattr("sector_pipeline.defs.signal_assets.compute_features", rsi_out_of_range)
    result = run_range(defs, D(2024, 3, 29), D(2024, 4, 5), selection=THROUGH_SIGNALS, raise_on_error=False)
    assert not result.success
    (check,) = [c for c in result.get_asset_check_evaluations()
                if c.check_name == CHECK_NAME and c.asset_key.path == ["signals", "features"]]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description.startswith("signals.features: 1 rule(s) broken, 1 of ")
    assert check.description.endswith("rows fail: signals.features.rsi_14: in_range(0, 100) (1 row)")
    failing = check.metadata["failing_rows"].value
    assert "signals.features.rsi_14: in_range(0, 100)" in failing and "XLK" in failing and "2024-04-02" in failing
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "signals__features"
    assert "nothing was written" in failure.step_failure_data.error.message
    ran = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    assert "staging__stg_prices" in ran and not {"signals__sector_rankings", "sentiment"} & ran
    after = table_hashes(path)
    # the features of the last run are still those stored (the ingest and staging of the new days went in)
    assert after["signals.features"] == before["signals.features"]
    assert Warehouse(path).max_date("signals.features") == D(2024, 3, 28)
    assert Warehouse(path).max_date("staging.stg_prices") == D(2024, 4, 5)
