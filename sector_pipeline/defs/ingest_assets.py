"""Ingestion assets: raw prices, raw macro, planted regimes, and their validated tables with blocking checks.

Each asset is thin: window in, one pure function, one all-or-nothing write, metadata out.
"""


import datetime as dt
from typing import Any, Callable, Sequence

import dagster as dg
import polars as pl

from sector_pipeline.defs.contract_checks import contract_check_spec, contract_checked, table_metadata
from sector_pipeline.defs.incremental import (
    Input,
    Run,
    asset_key,
    incremental_asset,
    outcome_metadata,
    previous_metadata,
    run_incremental,
)
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import (
    IngestDatesResource,
    ingest_window,
    single_run,
    year_partitions,
)
from sector_pipeline.defs.resources import MarketDataResource, WarehouseResource
from sector_pipeline.defs.run_config import run_config_class
from sector_pipeline.errors import SourceError
from sector_pipeline.ingest.load import (
    MacroFetch,
    ValidationOutcome,
    Window,
    daily_regimes,
    fetch_macro,
    fetch_prices,
    universe_membership,
    validate_macro_window,
    validate_price_window,
)
from sector_pipeline.ingest.validation import PriceRules, describe_staleness
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA
from sector_pipeline.warehouse import Warehouse, WindowWrite

RAW_PRICES = dg.AssetKey(["raw", "prices"])
RAW_MACRO = dg.AssetKey(["raw", "macro"])
RAW_REGIMES = dg.AssetKey(["raw", "synthetic_regimes"])
RAW_MEMBERSHIP = dg.AssetKey(["raw", "universe_membership"])
VALIDATED_PRICES = dg.AssetKey(["validated", "prices"])
VALIDATED_MACRO = dg.AssetKey(["validated", "macro"])
QUARANTINE_TABLE = "validated.quarantine"


ValidationConfig = run_config_class(PriceRules, name="ValidationConfig",
                                    description="Tunable validation rules of prices (ingest/validation.py PriceRules).")


def ingest_asset(table: str, *, check_specs: Sequence[dg.AssetCheckSpec] = (), **kwargs: Any) -> Callable:
    """The decorator of an ingest asset: partitioned by year, one run per range, its contract and checks."""
    decorate = dg.asset(key=asset_key(table), group_name="ingest", partitions_def=year_partitions,
                        backfill_policy=single_run, metadata=table_metadata(table),
                        check_specs=[contract_check_spec(table), *check_specs], **kwargs)
    return lambda fn: decorate(contract_checked(fn))


def _window(context: dg.AssetExecutionContext, dates: IngestDatesResource, calendar: str,
            last_stored: dt.date | None) -> Window:
    """The closed sessions of the run's partitions (narrowed by `ingest_dates`); a refusal is one clear line."""
    try:
        start, end = ingest_window(context, dates, calendar, last_stored=last_stored)
    except SourceError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return Window.of(start, end, calendar)


def _window_metadata(window: Window, rows: int, source: str) -> dict[str, object]:
    meta: dict[str, object] = {
        "dagster/row_count": rows,
        "window": f"{window.start} .. {window.end - dt.timedelta(days=1)}",
        "sessions": len(window.sessions),
        "source": source,
    }
    if window.holidays:
        meta["market_holidays"] = ", ".join(map(str, window.holidays[:20])) + (
            f" (+{len(window.holidays) - 20} more)" if len(window.holidays) > 20 else "")
    if not window.sessions:
        meta["note"] = "no trading session in this window (market holiday): zero rows, nothing to fetch"
    return meta


def _ingest(context: dg.AssetExecutionContext, market_data: MarketDataResource, warehouse: WarehouseResource,
            dates: IngestDatesResource, *, table: str, fetch: Callable[..., pl.DataFrame | MacroFetch], key: str,
            shown: int) -> dg.MaterializeResult:
    """Fetch the window from the configured source and replace it in `table` (one transaction)."""
    universe = market_data.universe()
    store = warehouse.get()
    window = _window(context, dates, universe.calendar, store.max_date(table))
    source = market_data.client(universe)
    fetched = fetch(source, universe, window)
    frame, notes, kept = (fetched.frame, fetched.unavailable, fetched.unfetched) if isinstance(fetched, MacroFetch) \
        else (fetched, {}, ())
    for provider, why in notes.items():
        context.log.warning(f"provider {provider} delivered nothing (its series only warn, their stored values are "
                            f"kept): {why}")
    write = WindowWrite(table, frame, keep={key: kept} if kept else {})
    result = store.replace_windows([write], window.start, window.end, run_id=context.run_id)[table]
    if not window.sessions:
        # A weekend or holiday run: keep what the UI showed of the last real session, and say why nothing came.
        return dg.MaterializeResult(metadata={**previous_metadata(context, context.asset_key),
                                              **_window_metadata(window, 0, source.name)})
    return dg.MaterializeResult(metadata={
        **{f"unavailable_{provider}": why for provider, why in notes.items()},
        **_window_metadata(window, frame.height, source.name),
        "changed_dates": f"{result.changed_from} .. {result.changed_through}" if result.changed_from
        else "none (identical rows)",
        "distinct_" + key: frame.get_column(key).n_unique() if frame.height else 0,
        "preview": markdown_table(frame.tail(shown)),
    })


@ingest_asset("raw.prices", kinds={"duckdb", "polars"})
def raw_prices(context: dg.AssetExecutionContext, market_data: MarketDataResource, warehouse: WarehouseResource,
               ingest_dates: IngestDatesResource) -> dg.MaterializeResult:
    """Daily OHLCV of the benchmark and sector ETFs as received from the configured source."""
    return _ingest(context, market_data, warehouse, ingest_dates, table="raw.prices", fetch=fetch_prices,
                   key="ticker", shown=12)


@ingest_asset("raw.macro", kinds={"duckdb", "polars"})
def raw_macro(context: dg.AssetExecutionContext, market_data: MarketDataResource, warehouse: WarehouseResource,
              ingest_dates: IngestDatesResource) -> dg.MaterializeResult:
    """Daily closes of the market-implied macro series (yields, VIX, inflation and growth proxies)."""
    return _ingest(context, market_data, warehouse, ingest_dates, table="raw.macro", fetch=fetch_macro,
                   key="series", shown=9)


MEMBERSHIP_INPUTS = [Input("validated.prices", key="date")]


@incremental_asset("raw.synthetic_regimes", inputs=MEMBERSHIP_INPUTS, group="ingest", kinds={"duckdb"})
def synthetic_regimes(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                      warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The regime planted in the synthetic market on each session (no rows for real sources): the answer key."""
    source = market_data.client(market_data.universe())

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        dates = run.inputs["validated.prices"].select("date").unique().collect().get_column("date").sort()
        window = Window(run.start, dates.max() + dt.timedelta(days=1), tuple(d for d in dates if d >= run.start))
        spells = market_data.planted_regimes(window.start, window.end)
        return {"raw.synthetic_regimes": daily_regimes(spells if spells is not None else pl.DataFrame(), window,
                                                       source.name)}

    outcome = run_incremental(warehouse.get(), outputs=["raw.synthetic_regimes"], inputs=MEMBERSHIP_INPUTS,
                              state=None, compute=compute, context=context)
    frame = outcome.frames.get("raw.synthetic_regimes")
    extra = {"regimes": markdown_table(frame.group_by("regime").len().sort("regime"))} if frame is not None and \
        frame.height else {"regimes": dg.MetadataValue.md(f"_source {source.name} plants no regimes_")}
    return dg.MaterializeResult(metadata={**outcome_metadata(context, outcome, "raw.synthetic_regimes"), **extra})


@incremental_asset("raw.universe_membership", inputs=MEMBERSHIP_INPUTS, group="ingest", kinds={"duckdb"})
def raw_universe_membership(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                            warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Which instruments belong to the universe on each session, with sector names and characteristics."""
    universe = market_data.universe()

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        dates = run.inputs["validated.prices"].select("date").unique().collect().get_column("date").sort()
        window = Window(run.start, dates.max() + dt.timedelta(days=1), tuple(d for d in dates if d >= run.start))
        return {"raw.universe_membership": universe_membership(universe, window)}

    outcome = run_incremental(warehouse.get(), outputs=["raw.universe_membership"], inputs=MEMBERSHIP_INPUTS,
                              state=None, compute=compute, context=context)
    return dg.MaterializeResult(metadata={**outcome_metadata(context, outcome, "raw.universe_membership"),
                                          "universe_file": universe.path})


def _quarantine_check(asset_key: dg.AssetKey, quarantined: pl.DataFrame, blocking_keys: set[str] | None = None
                      ) -> dg.AssetCheckResult:
    """Rejected rows: an ERROR (blocks downstream) if any belongs to a blocking key, else a WARN.

    `blocking_keys` None: every key blocks (prices).
    """
    blocking = quarantined if blocking_keys is None else quarantined.filter(pl.col("ticker").is_in(list(blocking_keys)))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="no_quarantined_rows",
        passed=quarantined.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR if blocking.height else dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined_rows": quarantined.height,
            "blocking_rows": blocking.height,
            "failing_rows": markdown_table(quarantined.select("date", "ticker", "reason", "row")),
        },
    )


def _completeness_check(asset_key: dg.AssetKey, missing: dict[str, list[dt.date]]) -> dg.AssetCheckResult:
    missing_rows = [{"ticker": k, "sessions": len(v), "first": v[0], "last": v[-1]} for k, v in missing.items()]
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="all_tickers_present",
        passed=not missing,
        metadata={"missing": markdown_table(pl.DataFrame(missing_rows)) if missing_rows
                  else dg.MetadataValue.md("_complete_")},
    )


def _freshness_check(asset_key: dg.AssetKey, stale: pl.DataFrame, note: str | None) -> dg.AssetCheckResult:
    blocking = stale.filter(pl.col("blocks"))
    metadata: dict[str, object] = {
        "stale_series": markdown_table(stale) if stale.height else dg.MetadataValue.md("_every series is fresh_"),
        "blocking_series": blocking.height,
    }
    if blocking.height:
        metadata["error"] = describe_staleness(blocking)
    if note:
        metadata["provider_note"] = note
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="series_fresh",
        passed=stale.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR if blocking.height else dg.AssetCheckSeverity.WARN,
        # the headline names what blocks; the warning-only series are in the metadata table
        description=describe_staleness(blocking if blocking.height else stale) or None,
        metadata=metadata,
    )


def _holiday_result(context: dg.AssetExecutionContext, window: Window,
                    checks: list[dg.AssetCheckResult]) -> dg.MaterializeResult:
    """No session in the window: nothing to validate; the UI keeps the last real session's preview."""
    return dg.MaterializeResult(
        metadata={**previous_metadata(context, context.asset_key), "sessions": 0,
                  "note": f"no trading session in {window.start} .. {window.end - dt.timedelta(days=1)} "
                          "(weekend or market holiday): nothing validated, the preview is the last session's"},
        check_results=checks)


def _store_validated(store: Warehouse, outcome: ValidationOutcome, window: Window, *, dataset: str,
                     checks: list[dg.AssetCheckResult], shown: int, run_id: str,
                     extra: dict[str, object] | None = None) -> dg.MaterializeResult:
    """Write valid rows and their quarantine in ONE transaction, and report both with the check results.

    When a blocking check failed (an ERROR among `checks`), the window's valid rows are held back and only the
    quarantine is written: what validated holds stays what every layer downstream was computed from, and a
    re-run after the fix accepts the whole window at once.
    """
    blocked = any(not c.passed and c.severity == dg.AssetCheckSeverity.ERROR for c in checks)
    writes = [WindowWrite(QUARANTINE_TABLE, outcome.quarantined, scope={"dataset": dataset}, track_changes=False)]
    if not blocked:
        writes.insert(0, WindowWrite(f"validated.{dataset}", outcome.valid))
    results = store.replace_windows(writes, window.start, window.end, run_id=run_id)
    changed = results.get(f"validated.{dataset}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": outcome.valid.height,
            "quarantined_rows": outcome.quarantined.height,
            "sessions": len(window.sessions),
            "window": f"{window.start} .. {window.end - dt.timedelta(days=1)}",
            "status": "held back: a blocking check failed, validated rows unchanged" if blocked else "written",
            "changed_dates": f"{changed.changed_from} .. {changed.changed_through}" if changed and changed.changed_from
            else "none",
            "preview": markdown_table(outcome.valid.tail(shown)),
            **(extra or {}),
        },
        check_results=checks,
    )


@ingest_asset(
    "validated.prices",
    deps=[RAW_PRICES],
    kinds={"duckdb", "pandera"},
    check_specs=[
        dg.AssetCheckSpec("no_quarantined_rows", asset=VALIDATED_PRICES, blocking=True,
                          description="No raw price row of the window was rejected (see validated.quarantine)"),
        dg.AssetCheckSpec("all_tickers_present", asset=VALIDATED_PRICES, blocking=True,
                          description="Every session has a valid row for every ticker past its inception"),
    ],
)
def validated_prices(context: dg.AssetExecutionContext, config: ValidationConfig, market_data: MarketDataResource,
                     warehouse: WarehouseResource, ingest_dates: IngestDatesResource) -> dg.MaterializeResult:
    """Prices that pass the Pandera rules; rejected rows go to validated.quarantine with their reasons."""
    universe = market_data.universe()
    store = warehouse.get()
    window = _window(context, ingest_dates, universe.calendar, store.max_date("validated.prices"))
    start, end = window.start, window.end
    raw = store.read_window("raw.prices", start, end, schema=PRICE_SCHEMA)
    previous_close = store.last_before("validated.prices", "close", start, key="ticker")
    outcome = validate_price_window(raw, previous_close, universe, window,
                                    max_abs_move=config.max_abs_one_day_move,
                                    known_moves=universe.known_moves_frame())
    if not window.sessions:
        return _holiday_result(context, window, [_quarantine_check(VALIDATED_PRICES, outcome.quarantined),
                                                 _completeness_check(VALIDATED_PRICES, outcome.missing)])
    checks = [_quarantine_check(VALIDATED_PRICES, outcome.quarantined),
              _completeness_check(VALIDATED_PRICES, outcome.missing)]
    return _store_validated(store, outcome, window, dataset="prices", checks=checks,
                            shown=len(universe.instruments), run_id=context.run_id)


@ingest_asset(
    "validated.macro",
    deps=[RAW_MACRO],
    kinds={"duckdb", "pandera"},
    check_specs=[
        dg.AssetCheckSpec("no_quarantined_rows", asset=VALIDATED_MACRO, blocking=True,
                          description="No raw macro value outside its series' valid range (universe file); "
                                      "blocks only for series with on_failure = block, warns otherwise"),
        dg.AssetCheckSpec("series_fresh", asset=VALIDATED_MACRO, blocking=True,
                          description="Every series has a value no older than its max_stale_sessions on every "
                                      "session; blocks only for series with on_failure = block"),
    ],
)
def validated_macro(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                    warehouse: WarehouseResource, ingest_dates: IngestDatesResource) -> dg.MaterializeResult:
    """Macro series values that pass the rules of their kind; rejected rows go to validated.quarantine."""
    universe = market_data.universe()
    store = warehouse.get()
    window = _window(context, ingest_dates, universe.calendar, store.max_date("validated.macro"))
    start, end = window.start, window.end
    raw = store.read_window("raw.macro", start, end, schema=MACRO_SCHEMA)
    stored_last = (store.query("select series, max(date) as date from validated.macro where date < $start "
                               "group by series", {"start": start}) if store.has_table("validated.macro")
                   else pl.DataFrame(schema={"series": pl.String, "date": pl.Date}))
    outcome = validate_macro_window(raw, universe, window, stored_last)
    policies = universe.macro_series_frame()
    blocking_series = set(policies.filter("blocks").get_column("series").to_list())
    checks = [_quarantine_check(VALIDATED_MACRO, outcome.quarantined, blocking_series),
              _freshness_check(VALIDATED_MACRO, outcome.stale, None)]
    if not window.sessions:
        return _holiday_result(context, window, checks)
    return _store_validated(store, outcome, window, dataset="macro", checks=checks, shown=len(universe.macro),
                            run_id=context.run_id, extra={"series_policies": markdown_table(policies.select(
                                "series", "ticker", "provider", "kind", "units", "frequency", "release_lag_days",
                                "allow_negative", "allow_zero", "min_value", "max_value", "max_stale_sessions",
                                "on_failure"), max_rows=40)})


INGEST_ASSETS = [raw_prices, raw_macro, synthetic_regimes, raw_universe_membership, validated_prices,
                 validated_macro]
