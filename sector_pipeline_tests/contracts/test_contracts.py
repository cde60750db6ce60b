"""Contracts: every table of a real run matches its contract exactly and passes it; each kind of violation fails
with its rows and a reason naming table, column and rule; the stage modules write what the contracts say."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sector_pipeline.contracts import (
    DUCKDB_TYPES,
    ContractError,
    check_contract,
    column_schema,
    contract_for,
    tables,
)
from sector_pipeline.contracts.core import _duplicated_keys
from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline.settings import PROJECT_ROOT
from sector_pipeline.signals.config import FEATURE_COLUMNS, FeatureConfig
from sector_pipeline.signals.features import feature_columns
from sector_pipeline.sql.runner import discover_models
from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, THROUGH_SIGNALS, definitions, run_range
from sector_pipeline_tests.test_member_pipeline import UNIVERSE as MEMBER_UNIVERSE

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
SQL_DIR = PROJECT_ROOT / "dbt_like_sql"
MEMBER_TABLES = {"signals.member_rankings", "signals.member_rotation"}  # written for member universes only


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """Eight months of the synthetic market through every asset, the model allowed to train early."""
    path = tmp_path_factory.mktemp("contracts") / "w.duckdb"
    assert run_range(definitions(path), D(2023, 6, 1), D(2024, 1, 31), ops=FAST_MODEL).success
    return path


def stored_objects(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """(column, DuckDB type) per stored table and view, in table order."""
    rows = conn.execute("select table_schema || '.' || table_name, column_name, data_type "
                        "from information_schema.columns where table_schema not in ('main', 'information_schema') "
                        "order by table_schema, table_name, ordinal_position").fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        found.setdefault(table, []).append((column, kind))
    return found


def assert_every_table_matches_and_passes(path: Path) -> set[str]:
    """Each stored table and view: its columns and DuckDB types, in order, are its contract's; its rows pass."""
    with duckdb.connect(str(path), read_only=True) as conn:
        stored = stored_objects(conn)
        for table, columns in stored.items():
            assert columns == [(name, kind) for name, kind, _ in column_schema(table)], table
            frame = conn.sql(f"select * from {table}").pl()
            result = check_contract(table, frame)
            assert result.passed, result.summary
            assert result.failing_rows.height == 0 and result.rows_checked == frame.height
    return set(stored)


def test_every_table_of_a_run_matches_its_contract_exactly_and_passes_it(warehouse):
    stored = assert_every_table_matches_and_passes(warehouse)
    # a contract for every table, and a table for every contract (but the published copy's and the members')
    assert stored == set(tables()) - {"marts.publish_manifest"} - MEMBER_TABLES
    # the strategy and alert tables have rows, so their value rules were exercised
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for table in ("strategy.backtest", "strategy.skill", "signals.alerts", "marts.predictions"):
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
    # the publication manifest lives in the published copy only
    with duckdb.connect(str(warehouse.parent / "published" / PUBLISHED_DB), read_only=True) as conn:
        manifest = stored_objects(conn)["marts.publish_manifest"]
        assert manifest == [(n, k) for n, k, _ in column_schema("marts.publish_manifest")]
        assert check_contract("marts.publish_manifest", conn.sql("select * from marts.publish_manifest").pl()).passed


def test_a_run_on_real_prices_matches_every_contract(tmp_path, realdata_dir):
    """The 2008 crisis and its recovery from the real files: every table's values inside its contract."""
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(realdata_dir),
                       universe_path=str(PROJECT_ROOT / "benchmarks" / "realdata_universe.toml"))
    assert run_range(defs, D(2007, 6, 1), D(2009, 6, 30), ops=FAST_MODEL).success
    stored = assert_every_table_matches_and_passes(path)
    assert stored == set(tables()) - {"marts.publish_manifest"} - MEMBER_TABLES


def test_a_member_universe_run_matches_its_contracts(tmp_path):
    """Three aggregate sectors of seven stocks: sectors from members, member rankings and rotation."""
    universe = tmp_path / "u.toml"
    universe.write_text(MEMBER_UNIVERSE.format(macro=DEFAULT_UNIVERSE_PATH))
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path, universe_path=str(universe)), D(2024, 1, 2), D(2024, 3, 28),
                     selection=THROUGH_SIGNALS.upstream() | THROUGH_SIGNALS).success
    stored = assert_every_table_matches_and_passes(path)
    assert MEMBER_TABLES <= stored
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("select count(*) from intermediate.int_total_returns "
                            "where total_return_method = 'aggregate'").fetchone()[0] > 0
        assert conn.execute("select count(*) from signals.member_rankings where is_ranked").fetchone()[0] > 0


def test_every_sql_model_has_a_grain_header_and_a_contract_beside_it():
    for model in discover_models(SQL_DIR):
        assert model.grain, model.path
        assert model.path.with_suffix(".yml").exists(), model.path
        contract = contract_for(model.table)
        assert contract.grain == model.grain and contract.description == model.description
        assert contract.materialized == model.materialized


def test_every_asset_of_the_definitions_that_writes_a_table_has_a_contract(tmp_path):
    """The assets are named after their tables; the pictures write none, the publication writes a manifest."""
    graph = definitions(tmp_path / "w.duckdb").resolve_asset_graph()
    keys = {".".join(key.path) for key in graph.get_all_asset_keys()}
    pictures = {k for k in keys if k.startswith("heatmaps.")}
    assert pictures and all(contract_for(k) for k in keys - pictures - {"published.marts"})
    assert contract_for("marts.publish_manifest").grain == ("object_name",)


def test_every_column_of_every_contract_has_a_duckdb_type_and_a_description():
    for table in tables():
        contract = contract_for(table)
        assert contract.description and contract.grain, table
        assert set(contract.grain) <= set(contract.columns), table
        for name, kind, description in column_schema(table):
            assert kind in DUCKDB_TYPES and description, (table, name)


def test_the_stage_modules_write_the_columns_their_contracts_declare():
    assert feature_columns(FeatureConfig()) == FEATURE_COLUMNS
    assert (*FEATURE_COLUMNS, "source") == contract_for("signals.features").columns
    from sector_pipeline.signals.alerts import ALERT_SCHEMA, CONDITION_SCHEMA
    from sector_pipeline.strategy.backtest import BACKTEST_COLUMNS

    assert ALERT_SCHEMA == contract_for("signals.alerts").polars_schema
    assert CONDITION_SCHEMA["side"] == pl.Int8 and list(CONDITION_SCHEMA) == list(
        contract_for("signals.alert_conditions").columns)
    assert BACKTEST_COLUMNS[-2:] == ("held_tickers", "held_weights")


# ---------------------------------------------------------------------------------------------------------------
# Violations, each on a small hand-made frame of a real contract

def allocations(**changes) -> pl.DataFrame:
    """Three valid rows of strategy.allocations (one decision of the model book), with `changes` applied."""
    frame = pl.DataFrame({
        "date": [D(2024, 1, 5)] * 3, "book": ["model"] * 3, "ticker": ["XLB", "XLE", "XLK"],
        "weight": [0.5, 0.3, 0.2], "previous_weight": [0.4, None, 0.3], "score": [0.02, 0.01, -0.01],
        "score_rank": [1, 2, 3], "group": ["top", "middle", "bottom"],
    }, schema=contract_for("strategy.allocations").polars_schema)
    return frame.with_columns(**changes) if changes else frame


def test_valid_rows_pass():
    result = check_contract("strategy.allocations", allocations())
    assert result.passed and result.failing_rows.is_empty()
    assert result.summary == "strategy.allocations: 3 rows pass the contract (grain date, book, ticker; 8 columns)"


def test_a_duplicate_grain_fails_with_both_rows():
    frame = pl.concat([allocations(), allocations().tail(1).with_columns(weight=pl.lit(0.25))])
    result = check_contract("strategy.allocations", frame)
    assert not result.passed
    rows = result.failing_rows
    assert rows.get_column("reason").to_list() == ["strategy.allocations: grain (date, book, ticker) not unique"] * 2
    assert rows.get_column("ticker").to_list() == ["XLK", "XLK"]
    assert rows.get_column("weight").to_list() == [0.2, 0.25]
    assert result.failures == {"strategy.allocations: grain (date, book, ticker) not unique": 2}


def test_a_null_grain_key_fails_naming_the_key():
    result = check_contract("strategy.allocations", allocations(
        ticker=pl.when(pl.col("ticker") == "XLE").then(None).otherwise("ticker")))
    assert result.failing_rows.select("reason", "weight").rows() == [
        ("strategy.allocations.ticker: not null (grain key)", 0.3)]


def test_values_out_of_range_fail_with_every_rule_they_break():
    result = check_contract("strategy.allocations", allocations(
        weight=pl.Series([1.5, 0.3, -0.1]), group=pl.Series(["top", "sideways", "bottom"]),
        score_rank=pl.Series([0, 2, 3], dtype=pl.Int32)))
    reasons = dict(result.failing_rows.select("ticker", "reason").rows())
    assert reasons == {
        "XLB": "strategy.allocations.weight: in_range(0, 1); strategy.allocations.score_rank: ge(1)",
        "XLE": "strategy.allocations.group: isin(['bottom', 'equal', 'middle', 'out', 'top'])",
        "XLK": "strategy.allocations.weight: in_range(0, 1)",
    }
    assert "3 rule(s) broken, 3 of 3 rows fail" in result.summary


def test_nan_and_null_fail_where_the_contract_says_not_null_or_finite():
    result = check_contract("strategy.allocations", allocations(
        weight=pl.Series([float("nan"), 0.3, 0.2]), score=pl.Series([0.02, float("inf"), None])))
    reasons = dict(result.failing_rows.select("ticker", "reason").rows())
    assert reasons == {
        "XLB": "strategy.allocations.weight: not null; strategy.allocations.weight: finite (NULL, never NaN or "
               "infinity)",
        "XLE": "strategy.allocations.score: finite (NULL, never NaN or infinity)",
    }  # XLK's NULL score is allowed: the equal-weight book has none


def test_a_wrong_type_a_missing_and_an_unexpected_column_fail_as_structure():
    frame = allocations().with_columns(pl.col("score_rank").cast(pl.Int64), note=pl.lit("x")).drop("group")
    result = check_contract("strategy.allocations", frame)
    assert not result.passed
    structural = result.failing_rows.filter(pl.col("date").is_null()).get_column("reason").to_list()
    assert structural == ["strategy.allocations.score_rank: type INTEGER expected, found BIGINT",
                          "strategy.allocations.group: missing column (VARCHAR expected)",
                          "strategy.allocations.note: unexpected column (not in the contract)"]
    # the rows themselves are still checked on the columns that are right
    bad = frame.with_columns(weight=pl.Series([0.5, 0.3, 2.0]))
    rows = check_contract("strategy.allocations", bad).failing_rows.filter(pl.col("date").is_not_null())
    assert rows.select("ticker", "reason").rows() == [("XLK", "strategy.allocations.weight: in_range(0, 1)")]


def test_a_lazy_frame_is_collected_and_checked_for_values():
    result = check_contract("strategy.allocations", allocations(weight=pl.Series([0.5, 0.3, 1.2])).lazy())
    assert result.failing_rows.get_column("reason").to_list() == ["strategy.allocations.weight: in_range(0, 1)"]


def test_a_nullable_grain_key_counts_null_as_one_value():
    alert = {"date": D(2024, 1, 5), "tier": "MEDIUM", "alert_type": "rotation_velocity", "dimension": None,
             "value": 2.5, "threshold": 2.1, "message": "High rotation velocity"}
    schema = contract_for("signals.alerts").polars_schema
    assert check_contract("signals.alerts", pl.DataFrame([alert], schema=schema)).passed
    twice = check_contract("signals.alerts", pl.DataFrame([alert, alert], schema=schema))
    assert twice.failures == {"signals.alerts: grain (date, alert_type, dimension) not unique": 2}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_hashed_grain_check_marks_exactly_the_duplicated_rows(seed):
    # The grain rule compares 64-bit hashes first and the keys only where hashes meet; its answer must be
    # is_duplicated's over the key itself, NULL keys and swapped values (a, b) / (b, a) included.
    rng = random.Random(seed)
    values = ["XLK", "XLE", None]
    frame = pl.DataFrame({"date": [D(2024, 1, rng.randint(1, 9)) for _ in range(400)],
                          "ticker": [rng.choice(values) for _ in range(400)],
                          "against": [rng.choice(values) for _ in range(400)]})
    for keys in (["date"], ["ticker", "against"], ["date", "ticker", "against"]):
        expected = frame.select(pl.struct(keys).is_duplicated()).to_series()
        marked = _duplicated_keys(keys)(frame)
        assert marked.to_list() == expected.to_list() and expected.any(), keys
        unique = frame.unique(keys, keep="first", maintain_order=True)
        assert not _duplicated_keys(keys)(unique).any() and unique.height > 1


def test_raw_tables_keep_repeated_rows_and_nan_and_check_types_and_keys():
    row = {"date": D(2024, 1, 5), "ticker": "XLE", "open": 1.0, "high": 1.0, "low": 1.0, "close": float("nan"),
           "adj_close": None, "volume": None, "dividend": None, "split_ratio": None, "fetched_on": None,
           "source": "csv"}
    schema = contract_for("raw.prices").polars_schema
    assert check_contract("raw.prices", pl.DataFrame([row, row], schema=schema)).passed
    keyless = check_contract("raw.prices", pl.DataFrame([{**row, "ticker": None}], schema=schema))
    assert keyless.failures == {"raw.prices.ticker: not null (grain key)": 1}


def test_rules_across_columns_of_the_ingest_models_are_evaluated():
    row = {"date": D(2024, 1, 5), "ticker": "XLE", "open": 10.0, "high": 9.0, "low": 11.0, "close": 10.0,
           "adj_close": 10.0, "volume": 100.0, "dividend": 0.0, "split_ratio": 1.0, "fetched_on": D(2024, 1, 6),
           "source": "csv"}
    frame = pl.DataFrame([row], schema=contract_for("validated.prices").polars_schema)
    assert set(check_contract("validated.prices", frame).failures) == {
        "validated.prices: high_at_least_low", "validated.prices: open_and_close_within_low_high"}


def test_the_check_is_fast_enough_for_a_nightly_run(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        frame = conn.sql("select * from signals.features order by date desc limit 600").pl()
    timings = []
    for _ in range(7):
        started = time.process_time()
        assert check_contract("signals.features", frame).passed
        timings.append(time.process_time() - started)
    # ~2 ms measured (31 columns, 60 rules, one Polars pass); pandera's validate took ~80 ms on such a frame
    assert statistics.median(timings) < 0.03, timings


# ---------------------------------------------------------------------------------------------------------------
# Malformed contracts are configuration errors naming the file

def sql_dir_with(tmp_path: Path, yml: str | None, header: str = "-- grain: date, ticker") -> Path:
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "m.sql").write_text(f"-- A model.\n{header}\nselect date, ticker from validated.prices")
    if yml is not None:
        (tmp_path / "staging" / "m.yml").write_text(yml)
    return tmp_path


@pytest.mark.parametrize("yml, header, message", [
    (None, "-- grain: date, ticker", "no contract"),
    ("columns: {date: {from: validated.prices}}", "-- grain: date, ticker", "grain column(s) ['ticker']"),
    ("columns: {date: {from: validated.prices}, ticker: {type: TEXT, description: t}}", "-- grain: date, ticker",
     "unknown column type 'TEXT'"),
    ("columns: {date: {from: validated.prices}, ticker: {from: validated.prices.symbol}}", "-- grain: date",
     "validated.prices has no column symbol"),
    ("columns: {date: {from: validated.prices, min: 1}}", "-- grain: date", "unknown key(s) ['min']"),
    ("columns: {date: {type: DATE}}", "-- grain: date", "needs a description"),
    ("grain: [date]\ncolumns: {date: {from: validated.prices}}", "-- grain: date", "one key, `columns`"),
    ("columns: {date: {from: validated.prices}}", "", "declare the model's grain"),
])
def test_a_malformed_model_contract_is_an_error_naming_its_file(tmp_path, yml, header, message):
    folder = sql_dir_with(tmp_path, yml, header)
    with pytest.raises(ContractError, match="m.yml|m.sql") as err:
        contract_for("staging.m", sql_dir=folder)
    assert message in str(err.value)


def test_a_model_contract_inherits_and_overrides_columns(tmp_path):
    folder = sql_dir_with(tmp_path, "columns:\n  date: {from: validated.prices}\n"
                                    "  ticker: {from: validated.prices, description: The ticker, isin: [XLE]}\n")
    contract = contract_for("staging.m", sql_dir=folder)
    assert contract.column_schema() == [("date", "DATE", "Trading session (exchange local date)"),
                                        ("ticker", "VARCHAR", "The ticker")]
    frame = pl.DataFrame({"date": [D(2024, 1, 5)] * 2, "ticker": ["XLE", "XLK"]})
    assert check_contract("staging.m", frame, sql_dir=folder).failures == {"staging.m.ticker: isin(['XLE'])": 1}


def test_an_unknown_table_has_no_contract():
    with pytest.raises(ContractError, match="no contract for signals.nowhere"):
        contract_for("signals.nowhere")
