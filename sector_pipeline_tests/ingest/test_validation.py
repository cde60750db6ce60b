import datetime as dt

import polars as pl
import pytest

from sector_pipeline.errors import MissingDataError
from sector_pipeline.ingest.validation import (
    drop_before_inception,
    require_complete,
    require_macro_series,
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
                                                   "volume", "source"]
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


def test_macro_yields_may_be_negative_but_prices_may_not(universe):
    raw = pl.DataFrame({
        "date": [D(2024, 1, 2)] * 4,
        "series": ["us13w_bill_yield_pct", "vix", "gold_etf", "copper_future"],
        "ticker": ["^IRX", "^VIX", "GLD", "HG=F"],
        "value": [-0.05, 13.2, -1.0, float("nan")],
        "source": ["test"] * 4,
    })
    valid, quarantined = validate_macro(raw, universe.macro)
    assert sorted(valid.get_column("series").to_list()) == ["us13w_bill_yield_pct", "vix"]
    assert reasons(quarantined) == {(D(2024, 1, 2), "copper_future"): "value: not_nullable",
                                    (D(2024, 1, 2), "gold_etf"): "positive_unless_yield"}


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


def test_required_macro_series_absent_is_an_error(universe):
    raw = pl.DataFrame({"date": [D(2024, 1, 2)], "series": ["vix"], "ticker": ["^VIX"], "value": [13.0],
                        "source": ["t"]})
    with pytest.raises(MissingDataError, match="us10y_yield_pct") as err:
        require_macro_series(raw, universe.macro, [D(2024, 1, 2)])
    assert set(err.value.missing) == {"us10y_yield_pct", "us13w_bill_yield_pct"}
