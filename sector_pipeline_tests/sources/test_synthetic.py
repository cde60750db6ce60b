"""The synthetic source: determinism, range independence, calendar and inceptions, realistic magnitudes, and
the planted regimes showing up in sector returns and macro series."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.errors import ConfigurationError, SourceError
from sector_pipeline.sources import synthetic
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA, REGIME_SCHEMA
from sector_pipeline.sources.synthetic import (
    CAP_WEIGHTS,
    REGIMES,
    SPELL_SESSIONS,
    SYNTHETIC_ORIGIN,
    SyntheticSource,
)
from sector_pipeline.universe import (
    DIMENSIONS,
    Instrument,
    Universe,
    parse_universe,
)

END = dt.date(2026, 1, 1)
CYCLICALS = ("XLY", "XLB", "XLI")
DEFENSIVES = ("XLU", "XLP", "XLV")
ORIGINAL_NINE = ("XLK", "XLY", "XLF", "XLI", "XLB", "XLE", "XLV", "XLP", "XLU")


@pytest.fixture(scope="module")
def source(universe: Universe) -> SyntheticSource:
    return SyntheticSource(universe, seed=42)


@pytest.fixture(scope="module")
def prices(source: SyntheticSource, universe: Universe) -> pl.DataFrame:
    return source.fetch_prices(universe.instruments, dt.date(1990, 1, 1), END)


@pytest.fixture(scope="module")
def macro(source: SyntheticSource, universe: Universe) -> pl.DataFrame:
    return source.fetch_macro(universe.macro, dt.date(1990, 1, 1), END)


@pytest.fixture(scope="module")
def spells(source: SyntheticSource) -> pl.DataFrame:
    return source.regimes(SYNTHETIC_ORIGIN, END)


@pytest.fixture(scope="module")
def regime_by_date(prices: pl.DataFrame, spells: pl.DataFrame) -> pl.DataFrame:
    """date, regime, and how many sessions into its spell the date is (0 = first session)."""
    dates = prices.select("date").unique().sort("date")
    return (
        dates.join_asof(spells.select(pl.col("start_date").alias("date"), "regime", "regime_id"), on="date")
        .with_columns(day_in_spell=pl.int_range(pl.len()).over("regime_id"))
    )


@pytest.fixture(scope="module")
def closes(prices: pl.DataFrame) -> pl.DataFrame:
    return prices.pivot(on="ticker", index="date", values="close").sort("date")


def _daily_returns(closes: pl.DataFrame, tickers: tuple[str, ...], since: dt.date) -> np.ndarray:
    return (closes.select(pl.col("date"), *(pl.col(t).pct_change() for t in tickers))
            .filter(pl.col("date") >= since).drop("date").drop_nulls().to_numpy())


def _regenerate() -> None:
    """Drop the cached paths so the next fetch draws every random number again."""
    for cached in (synthetic._spells, synthetic._core, synthetic._price_path, synthetic._macro_values,
                   synthetic._fred_observations, synthetic._ex_dividend_positions):
        cached.cache_clear()


# --- determinism and range independence -------------------------------------------------------------------

def test_same_seed_gives_identical_frames_and_another_seed_differs(universe: Universe) -> None:
    window = (dt.date(2010, 1, 1), dt.date(2012, 1, 1))
    first = SyntheticSource(universe, seed=42).fetch_prices(universe.instruments, *window)
    first_macro = SyntheticSource(universe, seed=42).fetch_macro(universe.macro, *window)
    _regenerate()
    again = SyntheticSource(universe, seed=42).fetch_prices(universe.instruments, *window)
    assert again.equals(first)
    assert SyntheticSource(universe, seed=42).fetch_macro(universe.macro, *window).equals(first_macro)
    other = SyntheticSource(universe, seed=7).fetch_prices(universe.instruments, *window)
    assert other.select("date", "ticker").equals(first.select("date", "ticker"))
    assert not other.equals(first)
    assert (other["close"] - first["close"]).abs().max() > 1.0


def test_a_subrange_equals_the_slice_of_the_full_range(source: SyntheticSource, universe: Universe,
                                                       prices: pl.DataFrame, macro: pl.DataFrame) -> None:
    start, end = dt.date(2005, 1, 1), dt.date(2006, 1, 1)
    in_window = (pl.col("date") >= start) & (pl.col("date") < end)
    # A 2005 request generates a shorter path (fewer blocks) than the 1990-2025 one: same rows all the same.
    small = source.fetch_prices(universe.instruments, start, end)
    assert small.height == 10 * len(sessions(start, end))  # SPY and the nine sectors trading in 2005
    assert small.equals(prices.filter(in_window))
    assert source.fetch_macro(universe.macro, start, end).equals(macro.filter(in_window))
    # Nor does a row depend on which other instruments were requested.
    alone = source.fetch_prices([universe.sectors[0]], start, end)
    assert alone.equals(prices.filter(in_window & (pl.col("ticker") == universe.sectors[0].ticker)))


# --- calendar, inception, schema, bars --------------------------------------------------------------------

def test_rows_only_on_exchange_sessions(prices: pl.DataFrame, macro: pl.DataFrame) -> None:
    expected = set(sessions(SYNTHETIC_ORIGIN, END))
    assert set(prices.filter(pl.col("ticker") == "SPY")["date"]) == expected
    assert set(macro.filter(pl.col("ticker") == "^TNX")["date"]) == expected
    for frame in (prices, macro):
        assert frame.filter(pl.col("date") == dt.date(2024, 12, 25)).height == 0
        assert frame.filter(pl.col("date") == dt.date(2001, 9, 11)).height == 0  # the market was closed
        assert frame["date"].dt.weekday().max() <= 5
    assert prices.select("date", "ticker").is_duplicated().sum() == 0


def test_rows_start_at_each_inception(prices: pl.DataFrame, macro: pl.DataFrame) -> None:
    first = dict(prices.group_by("ticker").agg(pl.col("date").min()).iter_rows())
    assert first["SPY"] == SYNTHETIC_ORIGIN
    assert first["XLK"] == dt.date(1998, 12, 22)
    assert first["XLRE"] == dt.date(2015, 10, 8)
    assert first["XLC"] == dt.date(2018, 6, 19)
    first_macro = dict(macro.group_by("ticker").agg(pl.col("date").min()).iter_rows())
    assert first_macro["GLD"] == dt.date(2004, 11, 18)
    assert first_macro["^TNX"] == SYNTHETIC_ORIGIN  # inception 1990, but nothing exists before the origin


def test_frames_have_the_canonical_schemas(prices: pl.DataFrame, macro: pl.DataFrame, spells: pl.DataFrame,
                                           source: SyntheticSource, universe: Universe) -> None:
    assert dict(prices.schema) == PRICE_SCHEMA
    assert dict(macro.schema) == MACRO_SCHEMA
    assert dict(spells.schema) == REGIME_SCHEMA
    assert prices.null_count().sum_horizontal().item() == 0
    assert set(prices["source"]) == set(macro["source"]) == {"synthetic"}
    empty = source.fetch_prices(universe.instruments, dt.date(2020, 1, 2), dt.date(2020, 1, 2))
    assert empty.height == 0 and dict(empty.schema) == PRICE_SCHEMA
    before_origin = source.fetch_macro(universe.macro, dt.date(1990, 1, 1), dt.date(1993, 1, 1))
    assert before_origin.height == 0 and dict(before_origin.schema) == MACRO_SCHEMA


def test_bars_are_consistent(prices: pl.DataFrame) -> None:
    bad = prices.filter(
        (pl.col("high") < pl.max_horizontal("open", "close")) | (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("low") <= 0) | (pl.col("volume") <= 0) | (pl.col("adj_close") != pl.col("close"))
    )
    assert bad.height == 0
    # Levels stay in a plausible band despite 33 years of planted rotation.
    assert prices["close"].min() > 1.0 and prices["close"].max() < 5_000.0


def test_unknown_instrument_and_bad_seed_are_rejected(source: SyntheticSource, universe: Universe) -> None:
    with pytest.raises(SourceError, match="ZZZ"):
        source.fetch_prices([Instrument("ZZZ", "Nope", dt.date(2000, 1, 3))], dt.date(2020, 1, 1), END)
    with pytest.raises(ConfigurationError):
        SyntheticSource(universe, seed=-1)
    with pytest.raises(ConfigurationError, match="planted split of XLK on 2024-01-06"):
        SyntheticSource(universe, splits={"XLK": [(dt.date(2024, 1, 6), 2.0)]})  # a Saturday


def test_generating_the_full_history_is_fast(universe: Universe) -> None:
    sessions(SYNTHETIC_ORIGIN, END)  # the exchange calendar is loaded once per process: not the generator's cost
    started = time.perf_counter()
    fresh = SyntheticSource(universe, seed=20_240_101)
    fetched = fresh.fetch_prices(universe.instruments, SYNTHETIC_ORIGIN, END)
    fresh.fetch_macro(universe.macro, SYNTHETIC_ORIGIN, END)
    assert fetched.height > 70_000
    assert time.perf_counter() - started < 2.0  # ~0.3 s measured


# --- realistic magnitudes ----------------------------------------------------------------------------------

def test_sector_volatility_and_correlation_are_realistic(closes: pl.DataFrame) -> None:
    returns = _daily_returns(closes, ORIGINAL_NINE, dt.date(1999, 1, 1))
    vols = returns.std(axis=0)
    assert vols.min() > 0.007 and vols.max() < 0.025
    corr = np.corrcoef(returns.T)[np.triu_indices(len(ORIGINAL_NINE), 1)]
    assert 0.55 < np.median(corr) < 0.92
    spy = _daily_returns(closes, ("SPY",), SYNTHETIC_ORIGIN)[:, 0]
    assert 0.008 < spy.std() < 0.02
    years = len(spy) / 252
    assert 0.02 < (closes["SPY"][-1] / closes["SPY"][0]) ** (1 / years) - 1 < 0.12  # ~7%/yr on average


@pytest.mark.parametrize("day", [dt.date(2010, 6, 15), dt.date(2019, 3, 15)])
def test_benchmark_is_the_cap_weighted_mix_of_trading_sectors(closes: pl.DataFrame, universe: Universe,
                                                              day: dt.date) -> None:
    returns = closes.select(pl.col("date"), *(pl.col(t).pct_change() for t in universe.tickers))
    row = returns.filter(pl.col("date") == day).row(0, named=True)
    trading = [s.ticker for s in universe.sectors if s.inception <= day]
    assert len(trading) == (9 if day.year == 2010 else 11)
    total = sum(CAP_WEIGHTS[t] for t in trading)
    mix = sum(CAP_WEIGHTS[t] * row[t] for t in trading) / total
    assert abs(row["SPY"] - mix) < 1e-9


def test_a_custom_universe_works_with_unknown_tickers() -> None:
    custom = parse_universe({
        "name": "custom", "benchmark": {"ticker": "IDX", "inception": "2000-01-03"},
        "sectors": [
            {"ticker": "AAA", "sector": "A", "inception": "2000-01-03",
             "cycle": 1, "rates": 0, "inflation": 0, "risk": 1},
            {"ticker": "BBB", "sector": "B", "inception": "2000-01-03",
             "cycle": -1, "rates": 0, "inflation": 0, "risk": -1},
        ],
        "macro": [
            {"series": "fear", "ticker": "FEAR", "kind": "index", "inception": "2000-01-03"},
            {"series": "bund", "ticker": "BUND", "kind": "yield_pct", "inception": "2000-01-03"},
            {"series": "wheat", "ticker": "WHEAT", "kind": "price", "inception": "2001-01-02"},
        ],
    })
    src = SyntheticSource(custom, seed=3)
    prices = src.fetch_prices(custom.instruments, dt.date(2000, 1, 1), dt.date(2002, 1, 1))
    two_years = len(sessions(dt.date(2000, 1, 1), dt.date(2002, 1, 1)))
    assert dict(prices.group_by("ticker").len().iter_rows()) == {"IDX": two_years, "AAA": two_years, "BBB": two_years}
    wide = prices.pivot(on="ticker", index="date", values="close").sort("date")
    returns = wide.select(*(pl.col(t).pct_change() for t in ("IDX", "AAA", "BBB"))).drop_nulls()
    # Tickers without a known cap weight weigh 1/N: the benchmark is the plain average of the two sectors.
    assert (returns["IDX"] - (returns["AAA"] + returns["BBB"]) / 2).abs().max() < 1e-9
    macro = src.fetch_macro(custom.macro, dt.date(2000, 1, 1), dt.date(2002, 1, 1))
    counts = dict(macro.group_by("ticker").len().iter_rows())
    wheat_sessions = len(sessions(dt.date(2001, 1, 2), dt.date(2002, 1, 1)))  # from its own inception
    assert counts == {"FEAR": two_years, "BUND": two_years, "WHEAT": wheat_sessions}
    assert macro.filter(pl.col("ticker") != "BUND")["value"].min() > 0


# --- planted regimes -----------------------------------------------------------------------------------------

def test_regime_spells_are_contiguous_bounded_and_never_repeat(spells: pl.DataFrame, source: SyntheticSource) -> None:
    grid = sessions(SYNTHETIC_ORIGIN, dt.date(2030, 1, 1))
    position = {day: i for i, day in enumerate(grid)}
    starts = [position[d] for d in spells["start_date"]]
    ends = [position[d] for d in spells["end_date"]]
    assert starts[0] == 0
    assert all(next_start == end + 1 for end, next_start in zip(ends, starts[1:]))
    lengths = [e - s + 1 for s, e in zip(starts, ends)]
    assert min(lengths) >= SPELL_SESSIONS[0] and max(lengths) <= SPELL_SESSIONS[1]
    kinds = spells["regime"].to_list()
    assert set(kinds) == set(REGIMES)
    assert all(a != b for a, b in zip(kinds, kinds[1:]))
    assert spells["regime_id"].to_list() == list(range(1, spells.height + 1))
    assert spells["end_date"].max() >= END - dt.timedelta(days=1)  # the last spell keeps its real end
    # A window returns exactly the spells overlapping it, identical to the full table's rows.
    window = source.regimes(dt.date(2008, 1, 1), dt.date(2009, 1, 1))
    overlapping = spells.filter((pl.col("start_date") < dt.date(2009, 1, 1))
                                & (pl.col("end_date") >= dt.date(2008, 1, 1)))
    assert window.height >= 1 and window.equals(overlapping)


def test_cyclicals_lead_in_expansion_and_defensives_in_contraction(closes: pl.DataFrame,
                                                                   regime_by_date: pl.DataFrame) -> None:
    twenty = closes.select(pl.col("date"), *(pl.col(t) / pl.col(t).shift(20) - 1 for t in CYCLICALS + DEFENSIVES))
    spread = (
        twenty.join(regime_by_date, on="date")
        .filter(pl.col("day_in_spell") >= 19)  # the whole 20-session window lies inside the spell
        .with_columns(spread=pl.mean_horizontal(CYCLICALS) - pl.mean_horizontal(DEFENSIVES))
        .drop_nulls("spread")
        .group_by("regime").agg(pl.col("spread").mean(), positive=(pl.col("spread") > 0).mean())
    )
    by_regime = {row["regime"]: row for row in spread.iter_rows(named=True)}
    # Measured for seed 42: +7.8% (positive in 99% of windows) in expansion, -5.7% (positive in 5%) in contraction.
    assert by_regime["expansion"]["spread"] > 0.05 and by_regime["expansion"]["positive"] > 0.9
    assert by_regime["contraction"]["spread"] < -0.04 and by_regime["contraction"]["positive"] < 0.15


def test_rank_weighted_characteristics_read_the_planted_regime(prices: pl.DataFrame, universe: Universe,
                                                               regime_by_date: pl.DataFrame) -> None:
    """A stand-in for the sentiment indicator: rank sectors by 5/20/60-session performance relative to the
    benchmark and average their characteristics with centred rank weights (sum of |weights| = 1)."""
    benchmark = prices.filter(pl.col("ticker") == "SPY").select("date", benchmark="close")
    relative = (
        prices.filter(pl.col("ticker") != "SPY").select("date", "ticker", "close")
        .join(benchmark, on="date").sort("ticker", "date")
        .with_columns(pl.sum_horizontal(
            (w * ((pl.col("close") / pl.col("close").shift(n)) / (pl.col("benchmark") / pl.col("benchmark").shift(n))
                  - 1)).over("ticker")
            for w, n in ((0.2, 5), (0.3, 20), (0.5, 60))).alias("score"),
            pl.col("close").shift(60).over("ticker").is_null().alias("warming_up"))
        .filter(~pl.col("warming_up"))
        .with_columns(rank=pl.col("score").rank("ordinal", descending=True).over("date"), n=pl.len().over("date"))
        .with_columns(weight=(pl.col("n") + 1) / 2 - pl.col("rank"))
        .with_columns(weight=pl.col("weight") / pl.col("weight").abs().sum().over("date"))
        .join(universe.characteristics().select("ticker", *DIMENSIONS), on="ticker")
    )
    reading = (relative.group_by("date").agg(*((pl.col("weight") * pl.col(d)).sum().alias(d) for d in DIMENSIONS))
               .join(regime_by_date, on="date"))
    share = {row["regime"]: row for row in reading.group_by("regime").agg(
        cycle_high=(pl.col("cycle") > 0.3).mean(), cycle_low=(pl.col("cycle") < -0.3).mean(),
        risk_low=(pl.col("risk") < -0.3).mean(), rates_high=(pl.col("rates") > 0.3).mean(),
    ).iter_rows(named=True)}
    # Measured for seed 42 (every session, spell transitions included): 83%, 87%, 83%, 86%.
    assert share["expansion"]["cycle_high"] > 0.75
    assert share["contraction"]["cycle_low"] > 0.75
    assert share["risk_off"]["risk_low"] > 0.75
    assert share["rising_rates"]["rates_high"] > 0.75


def test_macro_series_follow_the_regimes(macro: pl.DataFrame, regime_by_date: pl.DataFrame) -> None:
    wide = macro.pivot(on="ticker", index="date", values="value").sort("date")
    assert wide["^TNX"].min() > 1.0 and wide["^TNX"].max() < 9.0
    assert (wide["^IRX"] < wide["^TNX"]).all() and wide["^IRX"].min() >= 0.0
    assert 75 < wide["DX-Y.NYB"].min() and wide["DX-Y.NYB"].max() < 125
    changes = wide.with_columns(
        (pl.col("^TNX").diff() * 252).alias("tnx_change_per_year"),
        *((pl.col(t).log().diff() * 252).alias(f"{t}_log_return_per_year") for t in ("HG=F", "GLD", "IEF")),
    ).join(regime_by_date, on="date")
    by_regime = {row["regime"]: row for row in changes.group_by("regime").agg(
        pl.col("^VIX").mean(), pl.col("tnx_change_per_year").mean(),
        pl.col("HG=F_log_return_per_year").mean(), pl.col("GLD_log_return_per_year").mean(),
    ).iter_rows(named=True)}
    assert by_regime["risk_off"]["^VIX"] > 1.6 * by_regime["expansion"]["^VIX"]
    assert 12 < by_regime["expansion"]["^VIX"] < 20 and 25 < by_regime["risk_off"]["^VIX"] < 45
    tnx = {regime: row["tnx_change_per_year"] for regime, row in by_regime.items()}
    copper = {regime: row["HG=F_log_return_per_year"] for regime, row in by_regime.items()}
    gold = {regime: row["GLD_log_return_per_year"] for regime, row in by_regime.items()}
    assert tnx["rising_rates"] > 1.0 and tnx["contraction"] < -1.0  # percentage points per year
    assert copper["expansion"] > 0.2 and copper["contraction"] < -0.2
    assert gold["risk_off"] > 0.1 and gold["expansion"] < -0.1
    # Bond ETFs are priced off the 10y yield: IEF falls when rates rise.
    bonds = changes.drop_nulls(["tnx_change_per_year", "IEF_log_return_per_year"])
    assert np.corrcoef(bonds["tnx_change_per_year"], bonds["IEF_log_return_per_year"])[0, 1] < -0.8


# --- dividends and splits --------------------------------------------------------------------------------------

def test_quarterly_dividends_at_each_sectors_yield(prices: pl.DataFrame) -> None:
    paid = prices.filter(pl.col("dividend") > 0)
    # Ex-dates: the Monday after the third Friday of March, June, September, December (2019: 15, 21, 20 and
    # 20 were the Fridays), for every ticker trading then.
    ex_2019 = sorted(set(paid.filter(pl.col("date").dt.year() == 2019)["date"]))
    assert ex_2019 == [dt.date(2019, 3, 18), dt.date(2019, 6, 24), dt.date(2019, 9, 23), dt.date(2019, 12, 23)]
    assert paid.filter(pl.col("date") == dt.date(2019, 3, 18)).height == 12  # SPY and the 11 sectors
    assert paid.filter(pl.col("date") == dt.date(2015, 3, 23)).height == 10  # before XLRE and XLC
    # Mondays (a Tuesday when the Monday is a market holiday).
    assert set(paid["date"].dt.weekday().to_list()) <= {1, 2}
    # Amount = a quarter of the yield times the previous close, to 1/10000 of a dollar.
    with_previous = prices.sort("ticker", "date").with_columns(previous=pl.col("close").shift(1).over("ticker"))
    row = with_previous.filter((pl.col("ticker") == "XLU") & (pl.col("date") == dt.date(2019, 12, 23))).row(
        0, named=True)
    assert row["dividend"] == round(synthetic.DIVIDEND_YIELDS["XLU"] / 4 * row["previous"], 4)
    yields = dict(with_previous.filter(pl.col("dividend") > 0).group_by("ticker").agg(
        (4 * pl.col("dividend") / pl.col("previous")).mean()).iter_rows())
    for ticker, target in synthetic.DIVIDEND_YIELDS.items():
        assert abs(yields[ticker] - target) < 1e-4, ticker
    # Nothing before a fund's first close; XLRE's first ex-date is December 2015.
    assert paid.filter(pl.col("ticker") == "XLRE")["date"].min() == dt.date(2015, 12, 21)


def test_dividends_splits_and_download_dates_are_range_independent(source: SyntheticSource, universe: Universe,
                                                                   prices: pl.DataFrame) -> None:
    assert (prices["split_ratio"] == 1.0).all() and (prices["fetched_on"] == prices["date"]).all()
    assert prices["dividend"].null_count() == 0
    for start, end in ((dt.date(2019, 3, 18), dt.date(2019, 3, 19)), (dt.date(2001, 1, 1), dt.date(2001, 12, 31))):
        window = source.fetch_prices(universe.instruments, start, end)
        assert window.equals(prices.filter((pl.col("date") >= start) & (pl.col("date") < end)))


def test_a_planted_split_divides_prices_from_its_ex_date(universe: Universe, prices: pl.DataFrame) -> None:
    ex = dt.date(2010, 6, 1)
    split = SyntheticSource(universe, seed=42, splits={"XLK": [(ex, 2.0)]})
    rows = split.fetch_prices([universe.sectors[0]], dt.date(2010, 5, 27), dt.date(2010, 6, 4)).sort("date")
    plain = prices.filter((pl.col("ticker") == "XLK") & pl.col("date").is_between(dt.date(2010, 5, 27),
                                                                                dt.date(2010, 6, 3))).sort("date")
    assert rows["split_ratio"].to_list() == [1.0, 1.0, 2.0, 1.0, 1.0]
    factor = [1.0, 1.0, 2.0, 2.0, 2.0]
    assert rows["close"].to_list() == [c / f for c, f in zip(plain["close"], factor)]
    assert rows["volume"].to_list() == [v * f for v, f in zip(plain["volume"], factor)]
    assert (rows["adj_close"] == rows["close"]).all()
    # Other tickers are untouched.
    assert split.fetch_prices([universe.benchmark], dt.date(2010, 5, 27), dt.date(2010, 6, 4)).equals(
        prices.filter((pl.col("ticker") == "SPY") & pl.col("date").is_between(dt.date(2010, 5, 27),
                                                                            dt.date(2010, 6, 3))))


# --- FRED-like economic series -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fred(macro: pl.DataFrame, universe: Universe) -> pl.DataFrame:
    names = [m.series for m in universe.macro if m.provider == "fred"]
    return macro.filter(pl.col("series").is_in(names))


def test_fred_series_have_fred_frequencies_and_release_dates(fred: pl.DataFrame, universe: Universe) -> None:
    by_name = {m.series: m for m in universe.macro}
    grid = sessions(SYNTHETIC_ORIGIN, END + dt.timedelta(days=10))
    for (name,), rows in fred.group_by("series"):
        series = by_name[name]
        observed = rows["observation_date"]
        if series.frequency == "monthly":
            assert (observed.dt.day() == 1).all(), name
        elif series.frequency == "quarterly":
            assert (observed.dt.day() == 1).all() and observed.dt.month().is_in([1, 4, 7, 10]).all(), name
        else:
            assert observed.is_in(grid).all(), name
            assert not observed.is_in([dt.date(2019, 10, 14), dt.date(2019, 11, 11)]).any(), name  # bond holidays
        # Released on the first session on/after observation + lag, never before.
        lag = dt.timedelta(days=series.release_lag_days)
        for day, obs in rows.select("date", "observation_date").sample(20, seed=1).iter_rows():
            assert day == next(d for d in grid if d >= obs + lag), (name, obs)
        assert rows["date"].is_unique().all()
    cpi = fred.filter(pl.col("series") == "cpi_index")
    assert cpi.filter(pl.col("observation_date") == dt.date(2019, 11, 1))["date"].item() == dt.date(2019, 12, 19)
    gdp = fred.filter(pl.col("series") == "gdp_usd_bn")
    assert gdp.filter(pl.col("observation_date") == dt.date(2019, 7, 1))["date"].item() == dt.date(2019, 11, 4)


def _period_regime(spells: pl.DataFrame, dates: list[dt.date]) -> pl.DataFrame:
    """The regime in force on most sessions of each month (period key: year * 12 + month)."""
    days = pl.DataFrame({"date": dates}).sort("date").join_asof(
        spells.select(pl.col("start_date").alias("date"), "regime"), on="date")
    return (days.group_by(month=pl.col("date").dt.year() * 12 + pl.col("date").dt.month())
            .agg(pl.col("regime").mode().first()))


def test_fred_series_follow_the_planted_regimes(fred: pl.DataFrame, spells: pl.DataFrame) -> None:
    months = _period_regime(spells, sessions(SYNTHETIC_ORIGIN, END))
    wide = (fred.filter(pl.col("series").is_in(["cpi_index", "unemployment_rate_pct",
                                                "industrial_production_index", "fed_funds_rate_pct"]))
            .pivot(on="series", index="observation_date", values="value").sort("observation_date")
            .with_columns(month=pl.col("observation_date").dt.year() * 12 + pl.col("observation_date").dt.month(),
                          inflation_pct=(pl.col("cpi_index") / pl.col("cpi_index").shift(1) - 1) * 100,
                          unemployment_change=pl.col("unemployment_rate_pct").diff(),
                          production_pct=(pl.col("industrial_production_index")
                                          / pl.col("industrial_production_index").shift(1) - 1) * 100,
                          fed_funds_change=pl.col("fed_funds_rate_pct").diff())
            .join(months, on="month"))
    by = {row["regime"]: row for row in wide.group_by("regime").agg(
        pl.col("inflation_pct", "unemployment_change", "production_pct", "fed_funds_change").mean()
    ).iter_rows(named=True)}
    # Measured for seed 42 (seeds 1 and 7 within a few hundredths): monthly CPI inflation 0.50% in the
    # inflation regime, 0.06-0.21% otherwise; unemployment +0.21 pp a month in contraction, -0.14 in
    # expansion; production -0.36% / +0.45% a month; fed funds +0.22 pp a month under rate shocks, -0.30 in
    # contraction; 10y-2y 0.06 pp under rate shocks, 1.50 in contraction; GDP +1.68% a quarter in inflation,
    # +1.26 expansion, +0.31 risk-off, -0.36 contraction.
    assert by["inflation"]["inflation_pct"] > 0.4
    assert all(by[g]["inflation_pct"] < 0.3 for g in REGIMES if g != "inflation")
    assert by["contraction"]["unemployment_change"] > 0.15 and by["expansion"]["unemployment_change"] < 0
    assert by["contraction"]["production_pct"] < -0.2 < 0.3 < by["expansion"]["production_pct"]
    assert by["rising_rates"]["fed_funds_change"] > 0.1 > 0 > by["contraction"]["fed_funds_change"]

    daily = (fred.filter(pl.col("series").is_in(["treasury_10y_2y_spread_pct", "breakeven_10y_inflation_pct"]))
             .pivot(on="series", index="observation_date", values="value")
             .join_asof(spells.select(pl.col("start_date").alias("observation_date"), "regime"),
                        on="observation_date"))
    level = {row["regime"]: row for row in daily.group_by("regime").agg(
        pl.col("treasury_10y_2y_spread_pct", "breakeven_10y_inflation_pct").mean()).iter_rows(named=True)}
    # The curve flattens toward inversion under rate shocks and is steepest in contraction.
    assert level["rising_rates"]["treasury_10y_2y_spread_pct"] < 0.3
    assert level["contraction"]["treasury_10y_2y_spread_pct"] > 1.2
    assert max(level, key=lambda g: level[g]["breakeven_10y_inflation_pct"]) == "inflation"

    quarters = fred.filter(pl.col("series") == "gdp_usd_bn").sort("observation_date").with_columns(
        growth_pct=(pl.col("value") / pl.col("value").shift(1) - 1) * 100,
        month=pl.col("observation_date").dt.year() * 12 + pl.col("observation_date").dt.month(),
    ).join(months, on="month")  # a quarter's regime: its first month's (spells last 3-12 months)
    growth = dict(quarters.group_by("regime").agg(pl.col("growth_pct").mean()).iter_rows())
    assert growth["inflation"] > growth["expansion"] > 0.5 > growth["risk_off"] > growth["contraction"]


def test_unknown_fred_series_are_generated_from_kind_and_frequency() -> None:
    custom = parse_universe({
        "benchmark": {"ticker": "IDX", "inception": "2000-01-03"},
        "sectors": [{"ticker": "AAA", "sector": "A", "inception": "2000-01-03", "cycle": 1, "rates": 0,
                     "inflation": 0, "risk": 1}],
        "macro": [
            {"series": "claims", "ticker": "ICSA", "provider": "fred", "kind": "level", "inception": "2000-01-03",
             "frequency": "weekly", "release_lag_days": 5},
            {"series": "retail", "ticker": "RSAFS", "provider": "fred", "kind": "level", "inception": "2000-01-01",
             "frequency": "monthly", "release_lag_days": 45},
            {"series": "rate", "ticker": "DPRIME", "provider": "fred", "kind": "rate_pct", "inception": "2000-01-03",
             "frequency": "daily", "release_lag_days": 1},
        ],
    })
    rows = SyntheticSource(custom, seed=3).fetch_macro(custom.macro, dt.date(2001, 1, 1), dt.date(2002, 1, 1))
    counts = dict(rows.group_by("series").len().iter_rows())
    assert counts["retail"] == 12 and 50 <= counts["claims"] <= 53 and 245 <= counts["rate"] <= 252
    weekly = rows.filter(pl.col("series") == "claims")
    assert (weekly["observation_date"].dt.weekday() == 5).all()  # dated on Fridays
    assert rows["value"].is_finite().all() and rows.filter(pl.col("series") != "rate")["value"].min() > 0


# --- members of a stock-level universe -------------------------------------------------------------------------

def _member_universe(members: list[dict], extra_sectors: tuple[dict, ...] = ()) -> Universe:
    return parse_universe({
        "name": "members", "benchmark": {"ticker": "IDX", "inception": "1995-01-03"},
        "sectors": [
            {"ticker": "AGG_CYC", "sector": "Consumer Discretionary", "aggregate": True,
             "cycle": 1.0, "rates": -0.3, "inflation": -0.5, "risk": 0.8},
            {"ticker": "AGG_DEF", "sector": "Utilities", "aggregate": True,
             "cycle": -1.0, "rates": -1.0, "inflation": 0.0, "risk": -1.0},
            {"ticker": "FUND", "sector": "Energy", "inception": "1998-12-22",
             "cycle": 0.5, "rates": 0.4, "inflation": 1.0, "risk": 0.2},
            *extra_sectors,
        ],
        "members": members,
    })


MEMBERS = (
    [{"ticker": f"C{i:02d}", "sector": "AGG_CYC", "inception": "1999-01-04"} for i in range(20)]
    + [{"ticker": f"D{i:02d}", "sector": "AGG_DEF", "inception": "2003-06-02"} for i in range(20)]
    + [{"ticker": f"E{i:02d}", "sector": "FUND", "inception": "1998-12-22"} for i in range(30)]
    + [{"ticker": "HIGHBETA", "sector": "AGG_DEF", "inception": "1999-01-04", "risk": 1.0}]
)


@pytest.fixture(scope="module")
def member_universe() -> Universe:
    return _member_universe(MEMBERS)


@pytest.fixture(scope="module")
def member_prices(member_universe: Universe) -> pl.DataFrame:
    return SyntheticSource(member_universe, seed=11).fetch_prices(member_universe.instruments, dt.date(1990, 1, 1),
                                                                  dt.date(2012, 1, 1))


def test_members_are_range_and_membership_independent(member_universe: Universe, member_prices: pl.DataFrame) -> None:
    source = SyntheticSource(member_universe, seed=11)
    for start, end in ((dt.date(2003, 6, 2), dt.date(2003, 6, 3)), (dt.date(2007, 12, 28), dt.date(2009, 2, 1)),
                       (dt.date(1998, 1, 1), dt.date(1999, 1, 6))):
        window = source.fetch_prices(member_universe.instruments, start, end)
        assert window.height > 0 and window.equals(member_prices.filter(pl.col("date").is_between(start, end,
                                                                                                  closed="left")))
    # A member's rows depend neither on the other members requested nor on the other members of the file
    # (the benchmark does: it mixes the sectors from their first member's inception on).
    alone = [m for m in member_universe.members if m.ticker == "D07"]
    fewer = _member_universe([m for m in MEMBERS if m["ticker"] in ("D07", "C03")])
    in_window = pl.col("date").is_between(dt.date(2004, 1, 1), dt.date(2006, 1, 1), closed="left")
    for generator, wanted in ((source, alone), (SyntheticSource(fewer, seed=11), fewer.members)):
        tickers = [i.ticker for i in wanted]
        rows = generator.fetch_prices(wanted, dt.date(2004, 1, 1), dt.date(2006, 1, 1))
        assert rows.height == 504 * len(wanted)
        assert rows.equals(member_prices.filter(pl.col("ticker").is_in(pl.Series(tickers)), in_window))
    # The seed matters.
    other = SyntheticSource(member_universe, seed=12).fetch_prices(alone, dt.date(2004, 1, 1), dt.date(2004, 2, 1))
    assert not other["close"].equals(member_prices.filter(ticker="D07", date=dt.date(2004, 1, 2))["close"])


def test_member_rows_schema_inception_and_bars(member_universe: Universe, member_prices: pl.DataFrame) -> None:
    assert dict(member_prices.schema) == PRICE_SCHEMA
    assert member_prices.null_count().sum_horizontal().item() == 0
    assert member_prices.equals(member_prices.sort("date", "ticker"))
    assert "AGG_CYC" not in set(member_prices["ticker"])  # an aggregate has no prices of its own
    first = dict(member_prices.group_by("ticker").agg(pl.col("date").min()).iter_rows())
    assert first["C00"] == dt.date(1999, 1, 4) and first["D00"] == dt.date(2003, 6, 2)
    assert first["FUND"] == dt.date(1998, 12, 22) and first["IDX"] == dt.date(1995, 1, 3)
    # Each member starts at its own start level on its inception, like a fund.
    d00 = member_prices.filter(ticker="D00").row(0, named=True)
    key = synthetic._stream_key("price:D00")
    assert d00["close"] == 20.0 + (key >> 8) % 8001 / 100.0
    bad = member_prices.filter(
        (pl.col("high") < pl.max_horizontal("open", "close")) | (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("low") <= 0) | (pl.col("volume") <= 0))
    assert bad.height == 0
    with pytest.raises(SourceError, match="AGG_CYC: aggregate sectors are computed from their members"):
        SyntheticSource(member_universe).fetch_prices([member_universe.sectors[0]], dt.date(2000, 1, 1), END)


def test_a_member_is_its_sectors_factor_plus_its_own_noise(member_universe: Universe,
                                                           member_prices: pl.DataFrame) -> None:
    wide = member_prices.pivot(on="ticker", index="date", values="close").sort("date")
    returns = wide.select(pl.all().exclude("date").pct_change()).slice(1500)  # from 1999, all but D00-D19
    fund = returns["FUND"].to_numpy()
    idx = returns["IDX"].to_numpy()
    for i in range(30):  # members of the tradable sector: member - fund is the member's own noise
        own = returns[f"E{i:02d}"].to_numpy() - fund
        assert synthetic.MEMBER_VOL[0] * 0.97 < own.std() < synthetic.MEMBER_VOL[1] * 1.03
        assert abs(np.corrcoef(own, idx)[0, 1]) < 0.06 and abs(own.mean()) < 4 * own.std() / np.sqrt(len(own))
    # the equal-weight mean of the 30 members tracks the fund within ~vol / sqrt(30)
    mean = np.mean([returns[f"E{i:02d}"].to_numpy() for i in range(30)], axis=0)
    assert np.corrcoef(mean, fund)[0, 1] > 0.97
    # a member with its own risk = +1 in a defensive sector (risk -1): beta higher by 0.3 * 2
    both = returns.select("IDX", "HIGHBETA", *(f"D{i:02d}" for i in range(20))).drop_nulls().to_numpy()
    betas = np.linalg.lstsq(np.column_stack([both[:, 0], np.ones(len(both))]), both[:, 1:], rcond=None)[0][0]
    assert 0.45 < betas[0] - betas[1:].mean() < 0.75


def test_members_pay_quarterly_dividends_at_about_their_sectors_yield(member_prices: pl.DataFrame) -> None:
    paid = member_prices.filter(pl.col("dividend") > 0)
    # on the funds' ex-dates (the benchmark pays on every one of them)
    assert set(paid["date"]) == set(member_prices.filter(pl.col("ticker") == "IDX", pl.col("dividend") > 0)["date"])
    with_previous = member_prices.sort("ticker", "date").with_columns(previous=pl.col("close").shift(1).over("ticker"))
    yields = (with_previous.filter(pl.col("ticker").str.contains(r"^[CDE]\d\d$"), pl.col("date").is_in(paid["date"]))
              .group_by("ticker").agg((4 * pl.col("dividend") / pl.col("previous")).mean().alias("y")))
    # aggregates yield like the funds of their names; the tradable FUND is not a known fund: the default
    sector_yield = {"C": synthetic.DIVIDEND_YIELDS["XLY"], "D": synthetic.DIVIDEND_YIELDS["XLU"],
                    "E": synthetic.DEFAULT_DIVIDEND_YIELD}
    ratios = np.array([y / sector_yield[t[0]] for t, y in yields.iter_rows()])
    non_payers = (ratios == 0).mean()
    assert 0.05 < non_payers < 0.4  # a fifth expected
    payers = ratios[ratios > 0]
    low, high = synthetic.MEMBER_YIELD_FACTOR
    assert payers.min() > low - 0.01 and payers.max() < high + 0.01


def test_a_planted_split_on_a_member(member_universe: Universe, member_prices: pl.DataFrame) -> None:
    ex = dt.date(2010, 6, 1)
    split = SyntheticSource(member_universe, seed=11, splits={"C05": [(ex, 3.0)]})
    rows = split.fetch_prices(member_universe.instruments, dt.date(2010, 5, 27), dt.date(2010, 6, 4))
    plain = member_prices.filter(pl.col("date").is_between(dt.date(2010, 5, 27), dt.date(2010, 6, 3)))
    assert rows.filter(pl.col("ticker") != "C05").equals(plain.filter(pl.col("ticker") != "C05"))
    mine, before = rows.filter(ticker="C05"), plain.filter(ticker="C05")
    assert mine["split_ratio"].to_list() == [1.0, 1.0, 3.0, 1.0, 1.0]
    factor = np.array([1.0, 1.0, 3.0, 3.0, 3.0])
    for column in ("open", "high", "low", "close"):
        np.testing.assert_allclose(mine[column].to_numpy(), before[column].to_numpy() / factor, rtol=1e-15)
    np.testing.assert_array_equal(mine["volume"].to_numpy(), before["volume"].to_numpy() * factor)


def test_the_500_member_universe_generates_quickly() -> None:
    from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, load_universe

    universe = load_universe(DEFAULT_UNIVERSE_PATH.parent / "synthetic_500.toml")
    two_years = len(sessions(dt.date(2024, 1, 1), dt.date(2026, 1, 1)))  # loads the calendar once per process
    started = time.perf_counter()
    prices = SyntheticSource(universe, seed=42).fetch_prices(universe.instruments, dt.date(2024, 1, 1),
                                                            dt.date(2026, 1, 1))
    assert time.perf_counter() - started < 6.0  # ~0.6 s measured (5,000 members: ~4 s CPU, docs/scaling.md)
    assert prices.height == 501 * two_years and prices["ticker"].n_unique() == 501  # SPY and 500 members
