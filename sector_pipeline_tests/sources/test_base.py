"""The canonical frames and the point-in-time helpers every source shares."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sector_pipeline.sources.base import (
    MACRO_SCHEMA,
    OBSERVATION_SCHEMA,
    PRICE_SCHEMA,
    closes_as_macro,
    observation_window,
    release_sessions,
)
from sector_pipeline.universe import MacroSeries

D = dt.date


def fred(ticker: str, frequency: str, lag: int, kind: str = "level") -> MacroSeries:
    return MacroSeries(ticker.lower(), ticker, kind, D(1947, 1, 1), provider="fred", frequency=frequency,
                       release_lag_days=lag)


def observations(*rows: tuple[dt.date, float]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=OBSERVATION_SCHEMA, orient="row")


def test_schemas_have_the_new_columns() -> None:
    assert list(PRICE_SCHEMA) == ["date", "ticker", "open", "high", "low", "close", "adj_close", "volume",
                                  "dividend", "split_ratio", "fetched_on", "source"]
    assert list(MACRO_SCHEMA) == ["date", "series", "ticker", "observation_date", "value", "source"]


def test_market_closes_are_observed_on_their_session() -> None:
    prices = pl.DataFrame({"date": [D(2020, 4, 20)], "ticker": ["CL=F"], "close": [-37.63]}).with_columns(
        *(pl.lit(None, dtype=dtype).alias(name) for name, dtype in PRICE_SCHEMA.items()
          if name not in ("date", "ticker", "close")))
    crude = MacroSeries("crude_oil_future", "CL=F", "price", D(2000, 8, 23), allow_negative=True)
    rows = closes_as_macro(prices.select(list(PRICE_SCHEMA)), [crude])
    assert rows.rows() == [(D(2020, 4, 20), "crude_oil_future", "CL=F", D(2020, 4, 20), -37.63, None)]


def test_release_is_the_first_session_on_or_after_observation_plus_lag() -> None:
    monthly = fred("UNRATE", "monthly", 40, "rate_pct")
    rows = release_sessions(observations((D(2019, 11, 1), 3.5), (D(2019, 12, 1), 3.5), (D(2020, 1, 1), 3.6)),
                            monthly, "XNYS", source="test")
    # 11-01 + 40 = Wed 12-11; 12-01 + 40 = Fri 2020-01-10; 01-01 + 40 = Mon 02-10.
    assert rows.select("date", "observation_date", "value").rows() == [
        (D(2019, 12, 11), D(2019, 11, 1), 3.5), (D(2020, 1, 10), D(2019, 12, 1), 3.5),
        (D(2020, 2, 10), D(2020, 1, 1), 3.6)]
    assert dict(rows.schema) == MACRO_SCHEMA and set(rows["source"]) == {"test"}


def test_weekly_values_and_a_holiday_merge_keep_the_later_observation() -> None:
    # Weekly claims dated Saturday, lag 5 days: Sat 2019-12-21 -> Thu 12-26; Sat 12-28 -> Thu 2020-01-02.
    weekly = fred("ICSA", "weekly", 5)
    rows = release_sessions(observations((D(2019, 12, 21), 235_000.0), (D(2019, 12, 28), 222_000.0)), weekly,
                            "XNYS", source="test")
    assert rows.select("date", "observation_date").rows() == [(D(2019, 12, 26), D(2019, 12, 21)),
                                                              (D(2020, 1, 2), D(2019, 12, 28))]
    # Daily, lag 1, around 9/11: the NYSE reopened on 2001-09-17; 9-10 .. 9-14 all become public then, and
    # the latest (9-14) is the value known on the 17th.
    daily = fred("DGS10", "daily", 1, "yield_pct")
    week = observations(*((D(2001, 9, day), 4.0 + day / 100) for day in (10, 11, 12, 13, 14, 17)))
    rows = release_sessions(week, daily, "XNYS", source="test")
    assert rows.select("date", "observation_date", "value").rows() == [
        (D(2001, 9, 17), D(2001, 9, 14), 4.14), (D(2001, 9, 18), D(2001, 9, 17), 4.17)]


def test_a_window_equals_the_slice_of_the_full_history() -> None:
    daily = fred("DGS10", "daily", 1, "yield_pct")
    days = pl.date_range(D(2001, 8, 1), D(2001, 10, 31), eager=True)
    full = observations(*((d, 1.0 + i / 1000) for i, d in enumerate(days) if d.weekday() < 5))
    everything = release_sessions(full, daily, "XNYS", source="test")
    for start, end in ((D(2001, 9, 17), D(2001, 9, 19)), (D(2001, 9, 12), D(2001, 9, 18))):
        first, stop = observation_window(daily, start, end)
        part = full.filter(pl.col("observation_date").is_between(first, stop, closed="left"))
        window = release_sessions(part, daily, "XNYS", source="test", start=start, end=end)
        assert window.equals(everything.filter(pl.col("date").is_between(start, end, closed="left")))
    assert observation_window(daily, D(2001, 9, 17), D(2001, 9, 19)) == (D(2001, 9, 2), D(2001, 9, 18))


def test_values_before_the_calendar_and_repeated_observations() -> None:
    gdp = fred("GDP", "quarterly", 125)
    rows = release_sessions(observations((D(1989, 4, 1), 5_500.0), (D(1989, 10, 1), 5_600.0)), gdp, "XNYS",
                            source="test")
    # 1989-04-01 + 125 days is in 1989, before the exchange calendar starts (1990-01-02): left out.
    assert rows.select("date", "observation_date").rows() == [(D(1990, 2, 5), D(1989, 10, 1))]
    with pytest.raises(ValueError, match=r"gdp \(GDP\): observation dates occur twice: 1989-10-01"):
        release_sessions(observations((D(1989, 10, 1), 1.0), (D(1989, 10, 1), 2.0)), gdp, "XNYS", source="t")
    assert release_sessions(observations(), gdp, "XNYS", source="t").is_empty()
