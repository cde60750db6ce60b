"""End-to-end: the real Definitions materialize small ranges in one run on a temporary warehouse."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.defs.resources import YFinanceResource
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import (
    THROUGH_INTERMEDIATE,
    THROUGH_SIGNALS,
    definitions,
    run_range,
)

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
TABLES = ["raw.prices", "raw.macro", "raw.synthetic_regimes", "validated.prices", "validated.macro",
          "validated.quarantine", "staging.stg_prices", "staging.stg_macro", "intermediate.int_total_returns",
          "intermediate.int_macro_daily"]


def table_hashes(path: Path) -> dict[str, int]:
    store = Warehouse(path)
    return {t: int(store.query(f"select * from {t} order by all").hash_rows(seed=1).sum()) if store.has_table(t)
            else -1 for t in TABLES}


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_a_range_materializes_every_asset_in_one_run(tmp_path, universe):
    path = tmp_path / "w.duckdb"
    defs = definitions(path)
    result = run_range(defs, D(2024, 1, 2), D(2024, 2, 29))
    assert result.success
    # one run covers the range: one materialization of the year partition, one of each downstream asset
    assert result.dagster_run.tags["dagster/asset_partition_range_end"] == "2024"
    events = result.get_asset_materialization_events()
    assert [e.partition for e in events if e.asset_key.to_user_string() == "raw/prices"] == ["2024"]
    assert [e.partition for e in events if e.asset_key.to_user_string() == "signals/features"] == [None]
    assert len(events) == len(list(defs.resolve_asset_graph().get_all_asset_keys()))  # one per asset
    store = Warehouse(path)
    days = sessions(D(2024, 1, 2), D(2024, 3, 1))
    assert store.query("select count(*) as n from raw.prices").item() == len(days) * 12
    assert store.query("select count(distinct date) as n from staging.stg_prices").item() == len(days) == 41
    assert store.query("select count(*) as n from validated.quarantine").item() == 0
    assert store.query("select distinct source from raw.prices").item() == "synthetic"
    # the first day of the range has no previous close: a null return, never an invented one
    first = store.query("select count(*) as n from intermediate.int_total_returns where date = '2024-01-02' "
                        "and total_return_1d is null").item()
    assert first == 12
    # a total return is (close + dividend) / previous close - 1, and the index compounds it
    r = store.query("""select r.total_return_1d, p.close_price, p.dividend_per_share, q.close_price,
            r.total_return_price, rq.total_return_price
        from intermediate.int_total_returns r join staging.stg_prices p using (date, ticker)
        join staging.stg_prices q on q.ticker = r.ticker
            and q.date = (select max(date) from staging.stg_prices where ticker = 'XLE' and date < '2024-02-15')
        join intermediate.int_total_returns rq on rq.ticker = r.ticker and rq.date = q.date
        where r.ticker = 'XLE' and r.date = '2024-02-15'""").row(0)
    assert r[0] == pytest.approx((r[1] + r[2]) / r[3] - 1, rel=1e-12)
    assert r[4] == pytest.approx(r[5] * (1 + r[0]), rel=1e-12)
    assert store.query("select count(*) from intermediate.int_total_returns "
                       "where total_return_method = 'dividends'").item() == 41 * 12 - 12
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    # every asset but the pictures checks what it wrote against its table's contract, and says how many rows
    contract = {asset: c for (asset, name), c in checks.items() if name == "matches_contract"}
    assert set(contract) == {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
                             if m.asset_key.path[0] != "heatmaps"}
    assert contract["signals/features"].metadata["rows_checked"].value == 41 * 12
    assert contract["raw/prices"].description == "raw.prices: 492 rows pass the contract (grain date, ticker; " \
                                                  "12 columns)"
    others = {k: c for k, c in checks.items() if k[1] != "matches_contract"}
    # the 4 validation checks, the allocation rules and the outbox's delivery (no hook configured: nothing due)
    assert set(others) == {("validated/prices", "no_quarantined_rows"), ("validated/prices", "all_tickers_present"),
                           ("validated/macro", "no_quarantined_rows"), ("validated/macro", "series_fresh"),
                           ("strategy/allocations", "weights_within_rules"),
                           ("signals/alert_outbox", "alerts_delivered")}
    # Every check passes but freshness: a fresh warehouse knows no FRED value released before its first day,
    # so the monthly series warn (not block) until their first release inside the range.
    fresh = checks.pop(("validated/macro", "series_fresh"))
    assert all(c.passed for c in checks.values())
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN
    stale = fresh.description
    assert "cpi_index" in stale and "us10y_yield_pct" not in stale


def test_a_holiday_run_succeeds_with_zero_rows_and_keeps_the_last_preview(tmp_path):
    path = tmp_path / "w.duckdb"
    defs, instance = definitions(path), dg.DagsterInstance.ephemeral()
    assert run_range(defs, D(2024, 12, 23), D(2024, 12, 24), selection=THROUGH_INTERMEDIATE, instance=instance).success
    result = run_range(defs, D(2024, 12, 25), D(2024, 12, 25), selection=THROUGH_INTERMEDIATE, instance=instance)
    assert result.success
    events = {e.asset_key.to_user_string(): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert events["raw/prices"]["dagster/row_count"].value == 0
    assert "market holiday" in events["raw/prices"]["note"].value
    assert events["raw/prices"]["market_holidays"].value == "2024-12-25"
    # what the UI shows is still the last real session's rows, with the reason nothing came
    assert "2024-12-24" in events["raw/prices"]["preview"].value
    assert "2024-12-24" in events["validated/prices"]["preview"].value
    assert "holiday" in events["validated/prices"]["note"].value
    assert "no input changed" in events["staging/stg_prices"]["status"].value
    assert Warehouse(path).query("select max(date) from raw.prices").item() == D(2024, 12, 24)


def test_rerun_and_day_by_day_give_identical_tables(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    run_range(definitions(a), D(2024, 3, 1), D(2024, 3, 8), selection=THROUGH_INTERMEDIATE)
    first = table_hashes(a)
    run_range(definitions(a), D(2024, 3, 1), D(2024, 3, 8), selection=THROUGH_INTERMEDIATE)
    assert table_hashes(a) == first
    defs_b = definitions(b)
    for day in sessions(D(2024, 3, 1), D(2024, 3, 9)):
        run_range(defs_b, day, day, selection=THROUGH_INTERMEDIATE)
    assert table_hashes(b) == first
    assert -1 not in first.values()


def test_partition_before_inception_has_no_rows_for_that_ticker(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2015, 10, 6), D(2015, 10, 8), selection=THROUGH_INTERMEDIATE).success
    counts = dict(Warehouse(path).query("select ticker, count(*) from validated.prices group by all").rows())
    assert counts["XLRE"] == 1 and "XLC" not in counts and counts["SPY"] == 3


def write_csv_market(directory: Path, universe, start: dt.date, end: dt.date,
                     drop: pl.Expr | None = None) -> pl.DataFrame:
    """The synthetic market as csv files: prices, market proxies, and FRED series in FRED's long layout.

    `drop`: a filter on (date, ticker) of the market proxies to leave out (a bond-market holiday, an outage).
    """
    source = SyntheticSource(universe, seed=7)
    prices = source.fetch_prices(universe.instruments, start, end)
    fred = {m.series for m in universe.macro if m.provider == "fred"}
    macro = source.fetch_macro(universe.macro, start, end)
    directory.mkdir()
    prices.drop("source").write_csv(directory / "prices.csv")
    proxies = macro.filter(~pl.col("series").is_in(fred)).rename({"value": "close"})
    if drop is not None:
        proxies = proxies.filter(~drop)
    proxies.select("date", "ticker", *(pl.col("close").alias(c) for c in ("open", "high", "low")), "close") \
        .write_csv(directory / "macro_proxies.csv")
    macro.filter(pl.col("series").is_in(fred)).select(
        pl.col("observation_date").alias("date"), pl.col("ticker").alias("series"), "value").write_csv(
        directory / "macro.csv")
    return prices


def test_bad_rows_are_quarantined_and_block_downstream(tmp_path, universe):
    csv_dir = tmp_path / "market"
    prices = write_csv_market(csv_dir, universe, D(2024, 1, 2), D(2024, 1, 6))
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(csv_dir))
    assert run_range(defs, D(2024, 1, 2), D(2024, 1, 3), selection=THROUGH_INTERMEDIATE).success
    before = table_hashes(path)
    bad = prices.with_columns(
        close=pl.when((pl.col("ticker") == "XLK") & (pl.col("date") == D(2024, 1, 4))).then(float("nan"))
        .when((pl.col("ticker") == "XLF") & (pl.col("date") == D(2024, 1, 4))).then(-3.0)
        .otherwise(pl.col("close")),
        high=pl.when((pl.col("ticker") == "XLU") & (pl.col("date") == D(2024, 1, 5))).then(pl.col("low") * 0.5)
        .otherwise(pl.col("high")),
    )
    dupe = bad.filter(ticker="XLE", date=D(2024, 1, 5)).with_columns(close=pl.col("close") * 1.01)
    pl.concat([bad, dupe]).drop("source").write_csv(csv_dir / "prices.csv")
    result = run_range(defs, D(2024, 1, 4), D(2024, 1, 5), raise_on_error=False, selection=THROUGH_INTERMEDIATE)
    store = Warehouse(path)
    quarantine = store.query("select date, ticker, reason from validated.quarantine where dataset = 'prices' "
                             "order by all").rows()
    assert [(d, t) for d, t, _ in quarantine] == [(D(2024, 1, 4), "XLF"), (D(2024, 1, 4), "XLK"),
                                                  (D(2024, 1, 5), "XLE"), (D(2024, 1, 5), "XLE"),
                                                  (D(2024, 1, 5), "XLU")]
    assert "close: greater_than(0)" in quarantine[0][2] and "close: not_nullable" in quarantine[1][2]
    assert "duplicate" in quarantine[2][2] and "high_at_least_low" in quarantine[4][2]
    # a blocking failure holds the window's valid rows back: validated keeps what downstream was computed from
    valid = store.query("select count(*) from validated.prices where date >= '2024-01-04'").item()
    assert valid == 0
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()
              if c.asset_key.to_user_string() == "validated/prices"}
    # (the rows it did write, none in the window, keep the table's contract)
    assert checks == {"no_quarantined_rows": False, "all_tickers_present": False, "matches_contract": True}
    # blocking checks: nothing downstream of validated/prices ran, every stored layer is untouched
    done = materialized(result)
    assert "validated/prices" in done and "staging/stg_prices" not in done
    assert "intermediate/int_total_returns" not in done
    after = table_hashes(path)
    for table in ("validated.prices", "staging.stg_prices", "intermediate.int_total_returns"):
        assert after[table] == before[table], table


def test_a_rejected_row_for_a_stored_day_leaves_every_layer_agreeing(tmp_path, universe):
    """A re-fetch that brings a bad row for a day already stored must not delete that day's good row."""
    csv_dir = tmp_path / "market"
    prices = write_csv_market(csv_dir, universe, D(2024, 1, 2), D(2024, 1, 6))
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(csv_dir))
    assert run_range(defs, D(2024, 1, 2), D(2024, 1, 5), selection=THROUGH_SIGNALS).success
    before = table_hashes(path)
    xlk = "select close_price from {} where ticker = 'XLK' and date = '2024-01-04'"
    stored = Warehouse(path).query(xlk.format("staging.stg_prices")).item()
    prices.with_columns(close=pl.when((pl.col("ticker") == "XLK") & (pl.col("date") == D(2024, 1, 4)))
                        .then(-1.0).otherwise(pl.col("close"))).drop("source").write_csv(csv_dir / "prices.csv")
    result = run_range(defs, D(2024, 1, 4), D(2024, 1, 4), raise_on_error=False, selection=THROUGH_SIGNALS)
    store = Warehouse(path)
    ((ticker, reason),) = store.query("select ticker, reason from validated.quarantine").rows()
    assert ticker == "XLK" and "close: greater_than(0)" in reason
    # every layer still holds the good close of that day, and signals did not move
    for table in ("validated.prices", "staging.stg_prices", "intermediate.int_total_returns", "signals.features"):
        column = "close" if table == "validated.prices" else "close_price"
        assert store.query(xlk.replace("close_price", column).format(table)).item() == stored, table
    after = table_hashes(path)
    assert {t: h for t, h in after.items() if t not in ("raw.prices", "validated.quarantine")} == \
        {t: h for t, h in before.items() if t not in ("raw.prices", "validated.quarantine")}
    assert not result.success or "signals/features" not in materialized(result)


def test_missing_ticker_fails_the_run_and_keeps_what_was_stored(tmp_path, universe):
    csv_dir = tmp_path / "market"
    prices = write_csv_market(csv_dir, universe, D(2024, 1, 2), D(2024, 1, 6))
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(csv_dir))
    assert run_range(defs, D(2024, 1, 2), D(2024, 1, 5), selection=THROUGH_INTERMEDIATE).success
    before = table_hashes(path)
    prices.filter(pl.col("ticker") != "XLV").drop("source").write_csv(csv_dir / "prices.csv")
    result = run_range(defs, D(2024, 1, 2), D(2024, 1, 5), raise_on_error=False, selection=THROUGH_INTERMEDIATE)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause \
        else failure.step_failure_data.error.message
    assert "XLV (4 session(s): 2024-01-02, 2024-01-03, 2024-01-04, 2024-01-05)" in message
    assert table_hashes(path) == before


def test_network_down_yfinance_fails_clearly_and_writes_nothing(tmp_path, monkeypatch):
    import pandas as pd
    import yfinance

    calls = []

    def offline_download(**kwargs):
        calls.append(kwargs["tickers"])
        return pd.DataFrame()

    monkeypatch.setattr(yfinance, "download", offline_download)
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="yfinance",
                       resources={"market_data": YFinanceResource(max_attempts=1)})
    result = run_range(defs, D(2024, 1, 2), D(2024, 1, 3), raise_on_error=False, selection="raw/prices")
    assert not result.success and len(calls) == 1  # one attempt: the override reached the run
    failure = next(e for e in result.all_events if e.is_step_failure)
    text = str(failure.step_failure_data.error.to_string())
    assert "yfinance returned no data" in text and "XLK" in text and "SPY" in text
    assert not Warehouse(path).has_table("raw.prices")


def test_every_stored_row_names_its_source(tmp_path):
    path = tmp_path / "w.duckdb"
    run_range(definitions(path), D(2024, 4, 1), D(2024, 4, 5), selection=THROUGH_INTERMEDIATE)
    store = Warehouse(path)
    for table in TABLES:
        if table == "validated.quarantine":
            continue
        sources = store.query(f"select distinct source from {table}").get_column("source").to_list()
        assert sources == ["synthetic"], table


BOND_HOLIDAY = D(2010, 10, 11)  # Columbus Day: NYSE open, bond market closed: no ^TNX / ^IRX close


def nightly(defs, day: dt.date, **kwargs) -> dg.ExecuteInProcessResult:
    """The run the nightly schedule requests for `day`: its year partition, recent sessions only."""
    job = defs.resolve_job_def("daily_pipeline").get_subset(
        asset_selection=set(THROUGH_SIGNALS.resolve(defs.resolve_asset_graph())))
    return job.execute_in_process(
        partition_key=str(day.year), instance=dg.DagsterInstance.ephemeral(),
        run_config={"resources": {"ingest_dates": {"config": {"last_date": day.isoformat(), "recent_sessions": 5}}}},
        **kwargs)


def test_a_bond_holiday_nightly_carries_the_yield_forward_and_flags_it(tmp_path, universe):
    csv_dir = tmp_path / "market"
    holiday = (pl.col("date") == BOND_HOLIDAY) & pl.col("ticker").is_in(["^TNX", "^IRX"])
    write_csv_market(csv_dir, universe, D(2010, 9, 1), D(2010, 10, 13), drop=holiday)
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(csv_dir))
    assert run_range(defs, D(2010, 9, 1), D(2010, 10, 8), selection=THROUGH_SIGNALS).success
    result = nightly(defs, BOND_HOLIDAY)  # the one-session night: the same verdict as inside a range
    assert result.success
    fresh = next(c for c in result.get_asset_check_evaluations() if c.check_name == "series_fresh")
    # ^TNX is one session old, within its 5: fresh. (GDP, quarterly and not yet published inside this short
    # history, is the only series reported, as a warning.)
    assert fresh.passed or fresh.severity == dg.AssetCheckSeverity.WARN
    assert "us10y" not in (fresh.description or "") and "us13w" not in (fresh.description or "")
    row = Warehouse(path).query(
        "select series_value, observed_date, stale_sessions, is_carried_forward, is_stale "
        "from intermediate.int_macro_daily where date = $d and series = 'us10y_yield_pct'", {"d": BOND_HOLIDAY}).row(0)
    friday = Warehouse(path).query("select value from validated.macro where date = '2010-10-08' "
                                   "and series = 'us10y_yield_pct'").item()
    assert row == (friday, D(2010, 10, 8), 1, True, True)  # carried one session, flagged as stale


def test_past_the_staleness_bound_a_blocking_series_stops_the_night_with_its_dates(tmp_path, universe):
    csv_dir = tmp_path / "market"
    outage = (pl.col("date") >= BOND_HOLIDAY) & (pl.col("ticker") == "^TNX")
    write_csv_market(csv_dir, universe, D(2010, 9, 1), D(2010, 10, 20), drop=outage)
    path = tmp_path / "w.duckdb"
    defs = definitions(path, source="csv", csv_dir=str(csv_dir))
    assert run_range(defs, D(2010, 9, 1), D(2010, 10, 8), selection=THROUGH_SIGNALS).success
    before = table_hashes(path)
    result = nightly(defs, D(2010, 10, 19), raise_on_error=False)
    fresh = next(c for c in result.get_asset_check_evaluations() if c.check_name == "series_fresh")
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.ERROR
    assert fresh.description == ("us10y_yield_pct: last value 2010-10-08, stale on 2 session(s) "
                                 "2010-10-18 .. 2010-10-19 (bound 5 sessions)")
    # blocked: validated macro held the window back, nothing downstream ran, nothing stored changed there
    assert "staging/stg_macro" not in materialized(result)
    after = table_hashes(path)
    for table in ("validated.macro", "staging.stg_macro", "intermediate.int_macro_daily"):
        assert after[table] == before[table], table


def test_a_quarantined_row_of_an_optional_series_warns_and_the_signals_go_on(tmp_path, universe):
    csv_dir = tmp_path / "market"
    write_csv_market(csv_dir, universe, D(2024, 1, 2), D(2024, 1, 13))
    proxies = pl.read_csv(csv_dir / "macro_proxies.csv", try_parse_dates=True)
    bad = (pl.col("ticker") == "GLD") & (pl.col("date") == D(2024, 1, 10))
    proxies.with_columns(*(pl.when(bad).then(-1.0).otherwise(pl.col(c)).alias(c)
                           for c in ("open", "high", "low", "close"))).write_csv(csv_dir / "macro_proxies.csv")
    path = tmp_path / "w.duckdb"
    result = run_range(definitions(path, source="csv", csv_dir=str(csv_dir)), D(2024, 1, 2), D(2024, 1, 12),
                       selection=THROUGH_SIGNALS)
    assert result.success
    check = next(c for c in result.get_asset_check_evaluations()
                 if c.asset_key.to_user_string() == "validated/macro" and c.check_name == "no_quarantined_rows")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "signals/features" in materialized(result) and "signals/macro_regime" in materialized(result)
    store = Warehouse(path)
    assert store.query("select ticker, reason from validated.quarantine").rows() == [
        ("gold_etf", "negative_allowed_for_series")]
    assert store.query("select count(*) from validated.macro where series = 'gold_etf' "
                       "and date = '2024-01-10'").item() == 0
