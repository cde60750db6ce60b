import datetime as dt

import polars as pl
import pytest

from sector_pipeline.calendar import sessions as sessions_between
from sector_pipeline.errors import MissingDataError
from sector_pipeline.ingest.validation import (
    describe_staleness,
    drop_before_inception,
    require_complete,
    stale_series,
    validate_macro,
    validate_prices,
)
from sector_pipeline.sources.base import PRICE_SCHEMA

D = dt.date
NO_PREVIOUS = pl.DataFrame(schema={"ticker": pl.String(), "close": pl.Float64()})


def bar(day, ticker, close, *, open_=None, high=None, low=None, adj=None, volume=1e6):
    o = close if open_ is None else open_
    return {"date": day, "ticker": ticker, "open": o, "high": high if high is not None else max(o, close) * 1.01,
            "low": low if low is not None else min(o, close) * 0.99, "close": close,
            "adj_close": close if adj is None else adj, "volume": volume, "source": "test"}


def frame(rows):
    return pl.DataFrame(rows, schema=PRICE_SCHEMA)


def reasons(quarantined: pl.DataFrame) -> dict[tuple[dt.date, str], str]:
    return {(d, t): r for d, t, r in quarantined.select("date", "ticker", "reason").iter_rows()}


def test_clean_rows_all_pass():
    raw = frame([bar(D(2024, 1, 2), "SPY", 470.0), bar(D(2024, 1, 3), "SPY", 468.0), bar(D(2024, 1, 2), "XLK", 190.0)])
    valid, quarantined = validate_prices(raw, NO_PREVIOUS, max_abs_move=0.25)
    assert quarantined.is_empty()
    assert valid.height == 3 and valid.columns == ["date", "ticker", "open", "high", "low", "close", "adj_close",
                                                   "volume", "dividend", "split_ratio", "fetched_on", "source"]
    assert valid.filter(date=D(2024, 1, 3)).item(0, "close") == 468.0


@pytest.mark.parametrize("row, expected", [
    (bar(D(2024, 1, 3), "XLK", float("nan")), "close: not_nullable"),
    ({**bar(D(2024, 1, 3), "XLK", 190.0), "close": None}, "close: not_nullable"),
    (bar(D(2024, 1, 3), "XLK", 0.0, open_=1.0, low=0.0), "close: greater_than(0)"),
    (bar(D(2024, 1, 3), "XLK", -5.0, open_=1.0, low=-6.0), "close: greater_than(0)"),
    (bar(D(2024, 1, 3), "XLK", 190.0, high=180.0, low=185.0), "high_at_least_low"),
    (bar(D(2024, 1, 3), "XLK", 190.0, high=189.0, low=185.0), "open_and_close_within_low_high"),
    (bar(D(2024, 1, 3), "XLK", 190.0, volume=-1.0), "volume: greater_than_or_equal_to(0)"),
])
def test_bad_rows_are_quarantined_with_their_reason(row, expected):
    good = bar(D(2024, 1, 2), "XLK", 190.0)
    valid, quarantined = validate_prices(frame([good, row]), NO_PREVIOUS, max_abs_move=10.0)
    assert valid.select("date").to_series().to_list() == [D(2024, 1, 2)]
    assert quarantined.height == 1
    assert expected in quarantined.item(0, "reason")
    assert quarantined.item(0, "dataset") == "prices" and quarantined.item(0, "source") == "test"


def test_duplicates_are_all_quarantined():
    raw = frame([bar(D(2024, 1, 2), "XLK", 190.0), bar(D(2024, 1, 2), "XLK", 191.0), bar(D(2024, 1, 2), "SPY", 470.0)])
    valid, quarantined = validate_prices(raw, NO_PREVIOUS, max_abs_move=0.25)
    assert valid.get_column("ticker").to_list() == ["SPY"]
    assert quarantined.get_column("reason").to_list() == ["duplicate (date, key) row"] * 2
    assert sorted(quarantined.get_column("row").str.json_decode().struct.field("close").to_list()) == [190.0, 191.0]


def test_implausible_move_uses_the_last_stored_close_and_respects_known_events():
    previous = pl.DataFrame({"ticker": ["XLK"], "close": [100.0]})
    raw = frame([bar(D(2024, 1, 2), "XLK", 140.0), bar(D(2024, 1, 3), "XLK", 141.0),
                 bar(D(2024, 1, 4), "XLK", 60.0)])
    valid, quarantined = validate_prices(raw, previous, max_abs_move=0.25)
    # +40% vs the stored 100 and -57% vs 141 are implausible; +0.7% is fine.
    assert reasons(quarantined) == {(D(2024, 1, 2), "XLK"): "one_day_move_within_limit",
                                    (D(2024, 1, 4), "XLK"): "one_day_move_within_limit"}
    known = pl.DataFrame({"date": [D(2024, 1, 2)], "ticker": ["XLK"], "reason": ["reverse split"]})
    valid, quarantined = validate_prices(raw, previous, max_abs_move=0.25, known_moves=known)
    assert list(reasons(quarantined)) == [(D(2024, 1, 4), "XLK")]


def test_a_bad_row_does_not_condemn_the_next_day():
    raw = frame([bar(D(2024, 1, 2), "XLK", 100.0), bar(D(2024, 1, 3), "XLK", float("nan")),
                 bar(D(2024, 1, 4), "XLK", 101.0)])
    valid, quarantined = validate_prices(raw, NO_PREVIOUS, max_abs_move=0.25)
    assert list(reasons(quarantined)) == [(D(2024, 1, 3), "XLK")]
    assert valid.height == 2


def macro_rows(day, values: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame({
        "date": [day] * len(values), "series": list(values), "ticker": [f"T_{k}" for k in values],
        "observation_date": [day] * len(values), "value": list(values.values()), "source": ["test"] * len(values),
    }, schema={"date": pl.Date, "series": pl.String, "ticker": pl.String, "observation_date": pl.Date,
               "value": pl.Float64, "source": pl.String})


def test_each_series_has_its_own_valid_range(universe):
    raw = macro_rows(D(2020, 4, 20), {"us13w_bill_yield_pct": -0.05, "vix": 13.2, "gold_etf": -1.0,
                                      "copper_future": float("nan"), "crude_oil_future": -37.63, "vix_zero": 0.0})
    raw = raw.with_columns(series=pl.col("series").replace({"vix_zero": "us_dollar_index"}))
    valid, quarantined = validate_macro(raw, universe.macro_series_frame())
    # WTI settled at -37.63 on 2020-04-20: a real price, allowed for crude by the universe file; bill yields
    # may be negative too. A gold ETF cannot, and a dollar index cannot be zero.
    assert sorted(valid.get_column("series").to_list()) == ["crude_oil_future", "us13w_bill_yield_pct", "vix"]
    assert valid.filter(series="crude_oil_future").item(0, "value") == -37.63
    assert valid.filter(series="crude_oil_future").item(0, "units") != ""
    assert reasons(quarantined) == {(D(2020, 4, 20), "copper_future"): "value: not_nullable",
                                    (D(2020, 4, 20), "gold_etf"): "negative_allowed_for_series",
                                    (D(2020, 4, 20), "us_dollar_index"): "zero_allowed_for_series"}


def test_a_negative_settlement_is_quarantined_where_the_universe_forbids_it(universe):
    strict = universe.macro_series_frame().with_columns(
        allow_negative=pl.when(pl.col("series") == "crude_oil_future").then(False)
        .otherwise(pl.col("allow_negative")))
    valid, quarantined = validate_macro(macro_rows(D(2020, 4, 20), {"crude_oil_future": -37.63}), strict)
    assert valid.is_empty()
    assert reasons(quarantined) == {(D(2020, 4, 20), "crude_oil_future"): "negative_allowed_for_series"}


def test_bounds_of_a_series_are_enforced(universe):
    bounded = universe.macro_series_frame().with_columns(
        min_value=pl.when(pl.col("series") == "vix").then(5.0).otherwise(pl.col("min_value")),
        max_value=pl.when(pl.col("series") == "vix").then(150.0).otherwise(pl.col("max_value")))
    valid, quarantined = validate_macro(macro_rows(D(2024, 1, 2), {"vix": 180.0}), bounded)
    assert valid.is_empty() and reasons(quarantined) == {(D(2024, 1, 2), "vix"): "within_series_bounds"}


BOND_HOLIDAY = D(2010, 10, 11)  # Columbus Day: NYSE open, bond market closed, no ^TNX / ^IRX close


def test_a_bond_holiday_is_a_carried_value_within_its_bound(universe):
    tnx = next(m for m in universe.macro if m.series == "us10y_yield_pct")
    days = sessions_between(D(2010, 10, 4), D(2010, 10, 13))
    valid = macro_rows(BOND_HOLIDAY, {"vix": 20.0}).clear()
    stored = pl.DataFrame({"series": ["us10y_yield_pct"], "date": [D(2010, 10, 8)]})
    # the one-session window of the holiday: ^TNX's last value is one session old, within its 5 sessions
    stale = stale_series(valid, stored, [tnx], [BOND_HOLIDAY], days)
    assert stale.is_empty()


def test_past_the_staleness_bound_a_blocking_series_is_named_with_its_dates(universe):
    tnx = next(m for m in universe.macro if m.series == "us10y_yield_pct")
    assert tnx.blocks and tnx.max_stale_sessions == 5
    days = sessions_between(D(2010, 9, 27), D(2010, 10, 16))
    window = [d for d in days if d >= D(2010, 10, 4)]
    stored = pl.DataFrame({"series": ["us10y_yield_pct"], "date": [D(2010, 10, 1)]})
    valid = macro_rows(D(2010, 10, 4), {"vix": 20.0}).clear()
    stale = stale_series(valid, stored, [tnx], window, days)
    assert stale.rows(named=True) == [{
        "series": "us10y_yield_pct", "blocks": True, "max_stale_sessions": 5, "first_stale": D(2010, 10, 11),
        "last_stale": D(2010, 10, 15), "stale_sessions": 5, "last_observed": D(2010, 10, 1)}]
    assert describe_staleness(stale) == ("us10y_yield_pct: last value 2010-10-01, stale on 5 session(s) "
                                         "2010-10-11 .. 2010-10-15 (bound 5 sessions)")
    # the same sessions judged one night at a time give the same verdict: the window's length does not matter
    nightly = [d for d in window if not stale_series(valid, stored, [tnx], [d], days).is_empty()]
    assert nightly == [D(2010, 10, d) for d in (11, 12, 13, 14, 15)]


def test_missing_tickers_and_sessions_are_named(universe):
    sessions = [D(2024, 1, 2), D(2024, 1, 3)]
    rows = [bar(d, i.ticker, 50.0) for d in sessions for i in universe.instruments if i.ticker != "XLE"]
    rows = [r for r in rows if not (r["ticker"] == "XLU" and r["date"] == D(2024, 1, 3))]
    with pytest.raises(MissingDataError) as err:
        require_complete(frame(rows), universe.instruments, sessions)
    assert err.value.missing == {"XLE": sessions, "XLU": [D(2024, 1, 3)]}
    assert "XLE (2 session(s): 2024-01-02, 2024-01-03)" in str(err.value) and "XLU" in str(err.value)


def test_before_inception_no_rows_expected_and_padding_dropped(universe):
    sessions = [D(2015, 10, 7), D(2015, 10, 8)]
    rows = [bar(d, i.ticker, 50.0) for d in sessions for i in universe.instruments
            if i.ticker != "XLC" and not (i.ticker == "XLRE" and d < D(2015, 10, 8))]
    require_complete(frame(rows), universe.instruments, sessions)  # no XLC, no early XLRE: not an error
    padded = frame([*rows, bar(D(2015, 10, 7), "XLRE", 50.0)])
    kept = drop_before_inception(padded, {i.ticker: i.inception for i in universe.instruments})
    assert kept.height == len(rows)
