"""A deterministic, seeded synthetic market with planted regimes, so the pipeline runs and is tested offline.

The market is one path per seed, generated from ``SYNTHETIC_ORIGIN`` (SPY's first session) over the sessions
of the exchange calendar. Regimes are planted as a schedule of spells of 60-250 sessions, in rounds that visit
each of the five REGIMES once in random order (never the same regime twice in a row). Within a spell every
sector drifts in proportion to how well its characteristics fit the regime, so a sentiment indicator run on
this data should read back the regime that was planted (``SyntheticSource.regimes`` is the answer key).

Model, for session t in a spell of regime g with profile ``REGIME_PROFILES[g]``:

- market factor  m_t = MARKET_DRIFT + drift_tilt[g] + MARKET_VOL * vol_multiplier[g] * z_t
- sector i       r_it = beta_i * m_t + KAPPA * (c_i . centred_loadings[g]) + idio_vol_i * e_it
                 with c_i the sector's four characteristics (cycle, rates, inflation, risk), the loadings
                 centred over the five regimes,
                 beta_i = 1 + 0.3 * risk_i and idio_vol_i = 0.4% + 0.4% * mean(|rates_i|, |inflation_i|)
- benchmark      r_bt = sum_i w_it * r_it, w = CAP_WEIGHTS renormalised over the sectors already trading
                 (all sectors before the first one trades); a ticker not in CAP_WEIGHTS weighs 1/N.

Prices: ``close`` compounds the returns from a start level of 20-100 on the instrument's inception;
``open`` is the previous close times a small gap; ``high``/``low`` widen max/min(open, close); volume is
lognormal around a per-ticker base and higher in stressed regimes. Nothing exists before ``SYNTHETIC_ORIGIN``.

Dividends: every instrument goes ex once a quarter, on the first session on or after the Monday following
the third Friday of March, June, September and December (the SPDR funds' schedule), paying a quarter of its
annual yield (``DIVIDEND_YIELDS``) times the previous close, rounded to 1/10000 of a dollar. They are paid on
top of the price path, which was generated before dividends existed and is kept bit for bit: the close does
not drop on the ex-date, so a synthetic total return is the price return plus the yield. Each row is as
Yahoo would have served it on its own day (``fetched_on`` = ``date``): ``close`` is the traded price and
``adj_close`` equals ``close`` (no dividend after the row is known yet). ``split_ratio`` is 1.0 unless a test
plants a split (``SyntheticSource(splits=...)``): prices from the ex-date on are then divided by the ratio
and volumes multiplied by it, as traded.

Members of a stock-level universe (``universes/synthetic_500.toml``): member i of sector s returns
r_it = r_st + (beta_i - beta_s) m_t + KAPPA ((c_i - c_s) . centred_loadings[g]) + vol_i z_it, so a member that
inherits its sector's characteristics is exactly its sector's planted factor plus its own noise (vol_i in
``MEMBER_VOL``, fixed per ticker). An aggregate sector (no tradable ticker) still has its factor r_st, which
the benchmark mixes like a fund's, with the cap weight of the SPDR fund of its name (``SECTOR_FUNDS``); the
aggregate's published series is computed from its members downstream (signals/aggregates.py). Members pay
quarterly dividends on the funds' schedule at their sector's yield times a per-ticker factor (a fifth pay
none). Their draws are counter-based (a hash of seed, ticker, stream and session index, ``_hashed_bits``),
vectorised over members and sessions: a window costs its own sessions, plus the return path from the earliest
inception, and 5,000 members generate in seconds.

Macro series follow the same regimes. Market series (yields, VIX, dollar, commodities and bond ETFs, see
``_macro_values``) are daily closes. FRED series (``provider = "fred"``, see ``_fred_observations``) are
economic data at their own frequency, dated by observation period like FRED (monthly on the 1st, quarterly
on the quarter's first day, daily on sessions except the bond market's Columbus Day and Veterans Day) and
released through ``release_sessions`` after the series' lag: CPI inflation rises in the inflation regime,
unemployment rises in contraction, GDP grows by regime, fed funds and the 2- and 10-year yields follow the
rate shocks of the 10-year path, breakeven inflation moves with the inflation regime.

Determinism: every random draw of the market, the funds and the macro series comes from
``numpy.random.default_rng([seed, block, stream])`` for blocks of ``BLOCK_SESSIONS`` sessions counted from the
origin (stream 0 is the market, so that key is ``[seed, block]``; each ticker has its own stream); a member's
draws are a function of (seed, ticker, stream, session) alone. The path is always generated from the origin
(a member's from its inception) and every step depends only on earlier sessions, so a row for a given (date,
ticker) does not depend on the requested range, nor on which other instruments are requested (nor, for a
member, on the other members of the file). Generated paths of the market and funds are cached per (seed,
calendar, number of blocks); members are generated per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from sector_pipeline.calendar import is_session, sessions
from sector_pipeline.errors import ConfigurationError, SourceError
from sector_pipeline.sources.base import (
    MACRO_SCHEMA,
    OBSERVATION_SCHEMA,
    PRICE_SCHEMA,
    REGIME_SCHEMA,
    empty_macro,
    empty_prices,
    observation_window,
    release_sessions,
    split_by_provider,
)
from sector_pipeline.universe import (
    DIMENSIONS,
    Instrument,
    MacroSeries,
    Member,
    Sector,
    Universe,
)

SYNTHETIC_ORIGIN = dt.date(1993, 1, 29)  # SPY's first session: nothing exists before it
BLOCK_SESSIONS = 256
SPELL_SESSIONS = (60, 250)  # shortest and longest regime spell, in sessions

REGIMES = ("expansion", "contraction", "rising_rates", "inflation", "risk_off")


@dataclass(frozen=True)
class RegimeProfile:
    """How the synthetic market behaves during a spell of one regime."""

    loadings: tuple[float, float, float, float]  # on DIMENSIONS: cycle, rates, inflation, risk
    market_vol_multiplier: float
    market_drift_tilt: float  # added to MARKET_DRIFT, per session
    volume_multiplier: float
    long_yield_drift_pct: float  # change of the 10y yield per session, percentage points
    bill_spread_pct: float  # equilibrium 10y minus 13-week yield, percentage points
    vix: float  # equilibrium VIX level
    dollar_index: float  # equilibrium dollar index level


# Market drift tilts sum to zero over the regimes, so the long-run market drift stays MARKET_DRIFT.
# Columns: loadings (cycle, rates, inflation, risk), market vol multiplier, market drift tilt, volume multiplier,
# 10y yield drift per session (pp), 10y-13w spread (pp), VIX, dollar index.
REGIME_PROFILES: dict[str, RegimeProfile] = {
    "expansion":    RegimeProfile((+1.0, +0.3, +0.2, +0.6), 0.85, +0.0006, 1.00, +0.002, 1.2, 14.0, 92.0),
    "contraction":  RegimeProfile((-1.0, -0.5, -0.3, -0.6), 1.60, -0.0004, 1.25, -0.008, 2.5, 28.0, 102.0),
    "rising_rates": RegimeProfile((+0.2, +1.0, +0.3, +0.0), 1.00, +0.0002, 1.00, +0.010, 0.3, 18.0, 100.0),
    "inflation":    RegimeProfile((+0.2, +0.3, +1.0, -0.1), 1.10, +0.0000, 1.10, +0.006, 0.7, 20.0, 90.0),
    "risk_off":     RegimeProfile((-0.6, -0.4, -0.2, -1.0), 1.60, -0.0004, 1.50, -0.008, 2.2, 34.0, 105.0),
}

# Daily excess drift per unit of characteristic-loading fit, against 0.45-0.7% idiosyncratic daily vol.
# Measured at 0.0012, seed 42, 1999-2025: inside expansion spells the cyclicals (XLY, XLB, XLI) beat the
# defensives (XLU, XLP, XLV) over 20 sessions by +7.9% on average (in 100% of windows), in contraction they
# trail by -5.7% (ahead in 5%); a rank-weighted average of characteristics over 5/20/60-session relative
# performance reads cycle > +0.3 on 83% of expansion sessions, cycle < -0.3 on 87% of contraction sessions and
# risk < -0.3 on 83% of risk_off sessions, spell transitions included. At 0.0008 the risk_off share falls to
# ~77-82% over seeds 1, 7, 42, 2024; at 0.0015 it rises to ~88-91% but sector levels drift further apart.
KAPPA = 0.0012
# Arithmetic drift of the market factor; after the benchmark's ~1.1 beta and volatility drag the benchmark
# compounds at ~7%/yr (mean 7.2%, median 6.9% over seeds 0-19, 1993-2025; seed 42: 6.6%).
MARKET_DRIFT = 0.095 / 252
MARKET_VOL = 0.01
GAP_VOL = 0.003  # open versus previous close
RANGE_VOL = 0.004  # high above max(open, close) and low below min(open, close), scaled by regime vol
VOLUME_VOL = 0.3  # lognormal sigma of daily volume around the ticker's base

# Approximate S&P 500 sector weights; renormalised over the sectors trading on each day.
CAP_WEIGHTS: dict[str, float] = {
    "XLK": 0.28, "XLF": 0.13, "XLV": 0.12, "XLY": 0.10, "XLC": 0.09, "XLI": 0.08,
    "XLP": 0.06, "XLE": 0.04, "XLU": 0.025, "XLRE": 0.025, "XLB": 0.025,
}

# Annual dividend yields, roughly the funds' 2010s averages: utilities, energy and real estate pay most,
# technology, discretionary and communication least. A ticker not listed yields the market's 1.8%.
DIVIDEND_YIELDS: dict[str, float] = {
    "SPY": 0.018, "XLK": 0.012, "XLC": 0.009, "XLY": 0.012, "XLF": 0.019, "XLI": 0.020, "XLB": 0.020,
    "XLE": 0.032, "XLV": 0.016, "XLP": 0.026, "XLU": 0.034, "XLRE": 0.032,
}
DEFAULT_DIVIDEND_YIELD = 0.018
# The SPDR fund of each sector name of the default universe: an aggregate sector of a stock-level universe
# (no fund ticker) takes its cap weight and dividend yield from the fund of its name.
SECTOR_FUNDS: dict[str, str] = {
    "Technology": "XLK", "Communication Services": "XLC", "Consumer Discretionary": "XLY", "Financials": "XLF",
    "Industrials": "XLI", "Materials": "XLB", "Energy": "XLE", "Health Care": "XLV", "Consumer Staples": "XLP",
    "Utilities": "XLU", "Real Estate": "XLRE",
}

_LOADINGS = np.array([REGIME_PROFILES[g].loadings for g in REGIMES])  # (regime, dimension)
# Drifts use the loadings centred over the regimes (all equally likely): the regime decides who leads, and no
# sector or commodity outruns the others for ever just because the loadings do not sum to zero.
_CENTRED_LOADINGS = _LOADINGS - _LOADINGS.mean(axis=0)


def _profile_array(field: str) -> np.ndarray:
    return np.array([getattr(REGIME_PROFILES[g], field) for g in REGIMES])


def _stream_key(name: str) -> int:
    # A stable 64-bit key (Python's hash() is salted per process); odd, so never the market's stream 0.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big") | 1


def _draws(seed: int, n_blocks: int, stream: int, width: int) -> np.ndarray:
    """Standard normal draws, (n_blocks * BLOCK_SESSIONS, width), block b from default_rng([seed, b, stream])."""
    return np.concatenate([
        np.random.default_rng([seed, block, stream]).standard_normal((BLOCK_SESSIONS, width))
        for block in range(n_blocks)
    ])


def _ar1(innovations: np.ndarray, phi: float, initial: float) -> np.ndarray:
    """x_t = phi * x_{t-1} + u_t from x_{-1} = initial, as a log2(n)-step prefix scan.

    Vectorised instead of a Python loop over sessions; a value depends only on earlier innovations and gets
    the same floating-point operations whatever the path length, which keeps fetches range-independent.
    """
    x = innovations.astype(float, copy=True)
    x[0] += phi * initial
    shift, factor = 1, phi
    while shift < len(x):
        x[shift:] = x[shift:] + factor * x[:-shift]
        shift, factor = 2 * shift, factor * factor
    return x


@lru_cache(maxsize=8)
def _first_sessions(calendar: str, count: int) -> np.ndarray:
    """The first `count` sessions from the origin, as datetime64[D]."""
    horizon = SYNTHETIC_ORIGIN + dt.timedelta(days=int(count * 1.5) + 31)  # ~1.45 calendar days per session
    found = sessions(SYNTHETIC_ORIGIN, horizon, calendar)[:count]
    return np.array(found, dtype="datetime64[D]")


def _sessions_before(end: dt.date, calendar: str) -> int:
    return len(sessions(SYNTHETIC_ORIGIN, end, calendar))


@lru_cache(maxsize=16)
def _spells(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(regime index, length in sessions) of the spells from the origin until they cover `count` sessions.

    Spells come in rounds that visit every regime once in a random order, so no regime dominates a seed's
    history (with independent draws one seed spent twice as long in risk_off as in expansion, and the
    defensive sectors ended 100x above the cyclicals). One sequential stream with the same draws per round:
    spell k is the same however many spells follow it.
    """
    rng = np.random.default_rng([seed, 0, _stream_key("regime-schedule")])
    regimes: list[int] = []
    lengths: list[int] = []
    while sum(lengths) < count:
        order = rng.permutation(len(REGIMES))
        if regimes and order[0] == regimes[-1]:
            order = np.roll(order, -1)  # no regime twice in a row across rounds either
        regimes.extend(int(g) for g in order)
        lengths.extend(int(n) for n in rng.integers(SPELL_SESSIONS[0], SPELL_SESSIONS[1] + 1, size=len(REGIMES)))
    return np.array(regimes), np.array(lengths)


@dataclass(frozen=True)
class _Core:
    """The market-wide path shared by prices and macro series."""

    dates: np.ndarray  # datetime64[D], n_blocks * BLOCK_SESSIONS sessions from the origin
    regime: np.ndarray  # index into REGIMES, per session
    market_shock: np.ndarray  # standard normal shock of the market factor (VIX moves against it)
    market_return: np.ndarray
    long_yield_pct: np.ndarray  # the 10-year yield every yield series is built on


@lru_cache(maxsize=8)
def _core(seed: int, calendar: str, n_blocks: int) -> _Core:
    n = n_blocks * BLOCK_SESSIONS
    regime_of_spell, lengths = _spells(seed, n)
    regime = np.repeat(regime_of_spell, lengths)[:n]
    shocks = _draws(seed, n_blocks, 0, 2)
    market_return = (MARKET_DRIFT + _profile_array("market_drift_tilt")[regime]
                     + MARKET_VOL * _profile_array("market_vol_multiplier")[regime] * shocks[:, 0])
    # Mean-reverting around 4.5% (half-life ~230 sessions) so regime drifts move it within ~2-7%.
    phi, anchor = 0.997, 4.5
    long_yield = _ar1((1 - phi) * anchor + _profile_array("long_yield_drift_pct")[regime] + 0.055 * shocks[:, 1],
                      phi, anchor)
    return _Core(_first_sessions(calendar, n), regime, shocks[:, 0], market_return, long_yield)


@dataclass(frozen=True)
class _Bars:
    """Daily OHLCV arrays of one instrument over the whole generated path."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _inception_index(dates: np.ndarray, inception: dt.date) -> int:
    return int(np.searchsorted(dates, np.datetime64(inception, "D")))


def _rows(dates: np.ndarray, start: dt.date, end: dt.date, inception: dt.date) -> slice:
    """Positions of the sessions in [start, end) on or after `inception`."""
    return slice(_inception_index(dates, max(start, inception)), _inception_index(dates, end))


def _bars(ticker: str, returns: np.ndarray, inception: dt.date, core: _Core, seed: int, n_blocks: int) -> _Bars:
    """OHLCV of one instrument from its daily returns; the close equals its start level on `inception`."""
    key = _stream_key("price:" + ticker)
    noise = _draws(seed, n_blocks, key, 4)  # gap, high, low, volume
    # Start level and base volume are properties of the ticker, not of the seed.
    start_level = 20.0 + (key >> 8) % 8001 / 100.0
    base_volume = 10.0 ** (6.0 + (key >> 24) % 1001 / 500.0)
    growth = np.cumprod(1.0 + returns)
    at = min(_inception_index(core.dates, inception), len(growth) - 1)
    close = start_level * growth / growth[at]
    previous_close = np.concatenate(([close[0] / (1.0 + returns[0])], close[:-1]))
    open_ = previous_close * (1.0 + GAP_VOL * noise[:, 0])
    range_vol = RANGE_VOL * _profile_array("market_vol_multiplier")[core.regime]
    high = np.maximum(open_, close) * np.exp(range_vol * np.abs(noise[:, 1]))
    low = np.minimum(open_, close) * np.exp(-range_vol * np.abs(noise[:, 2]))
    volume = np.round(base_volume * _profile_array("volume_multiplier")[core.regime]
                      * np.exp(VOLUME_VOL * noise[:, 3]))
    return _Bars(open_, high, low, close, volume)


@lru_cache(maxsize=8)
def _ex_dividend_positions(calendar: str, n_blocks: int) -> np.ndarray:
    """Positions (in the generated sessions) of the quarterly ex-dividend sessions.

    The first session on or after the Monday after the third Friday of March, June, September and December.
    Positions depend only on the calendar, never on the requested range.
    """
    dates = _first_sessions(calendar, n_blocks * BLOCK_SESSIONS)
    first, last = dates[0].astype(dt.date), dates[-1].astype(dt.date)
    targets = []
    for year in range(first.year, last.year + 1):
        for month in (3, 6, 9, 12):
            fifteenth = dt.date(year, month, 15)  # the third Friday is the first Friday on/after the 15th
            third_friday = fifteenth + dt.timedelta(days=(4 - fifteenth.weekday()) % 7)
            targets.append(np.datetime64(third_friday + dt.timedelta(days=3), "D"))
    positions = np.searchsorted(dates, np.array(targets))
    return np.unique(positions[(positions > 0) & (positions < len(dates))])


def _dividends(annual_yield: float, close: np.ndarray, inception_at: int, positions: np.ndarray) -> np.ndarray:
    """Cash dividend per share on each session (0 on most): a quarter of the annual yield times the
    previous close, rounded to 1/10000 of a dollar; none before the instrument has a previous close."""
    amounts = np.zeros(len(close))
    paying = positions[positions > inception_at]
    quarterly = annual_yield / 4
    amounts[paying] = np.round(quarterly * close[paying - 1], 4)
    return amounts


@lru_cache(maxsize=8)
def _sector_returns(sectors: tuple[Sector, ...], seed: int, calendar: str, n_blocks: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(daily returns of every sector (session, sector), the benchmark's daily returns) over the whole path.

    An aggregate sector (no tradable ticker) has a return path too: it is the factor its members share, and
    it enters the benchmark like a traded sector. Keyed by the sectors only, so a universe of 5,000 members is
    not hashed on every call.
    """
    core = _core(seed, calendar, n_blocks)
    chars = np.array([[getattr(s, d) for d in DIMENSIONS] for s in sectors])  # (sector, dimension)
    beta = 1.0 + 0.3 * chars[:, DIMENSIONS.index("risk")]
    # Rate- and commodity-sensitive sectors carry more sector-specific news.
    idio_vol = 0.004 + 0.004 * (np.abs(chars[:, DIMENSIONS.index("rates")])
                                + np.abs(chars[:, DIMENSIONS.index("inflation")])) / 2
    idio = np.column_stack([_draws(seed, n_blocks, _stream_key("idio:" + s.ticker), 1)[:, 0] for s in sectors])
    excess_drift = KAPPA * (_CENTRED_LOADINGS @ chars.T)  # (regime, sector)
    returns = beta * core.market_return[:, None] + excess_drift[core.regime] + idio_vol * idio

    cap = np.array([_cap_weight(s, len(sectors)) for s in sectors])
    trading = core.dates[:, None] >= np.array([np.datetime64(s.inception, "D") for s in sectors])
    weights = np.where(trading, cap, 0.0)
    weights[~trading.any(axis=1)] = cap  # before any sector trades, the benchmark is the mix of all
    benchmark = (weights * returns).sum(axis=1) / weights.sum(axis=1)
    return returns, benchmark


def _cap_weight(sector: Sector, count: int) -> float:
    """The sector's CAP_WEIGHTS entry (an aggregate sector: that of the SPDR fund of its name), else 1/N."""
    if sector.aggregate and sector.ticker not in CAP_WEIGHTS:
        return CAP_WEIGHTS.get(SECTOR_FUNDS.get(sector.name, ""), 1.0 / count)
    return CAP_WEIGHTS.get(sector.ticker, 1.0 / count)


def _sector_yield(sector: Sector) -> float:
    """Annual dividend yield of a sector: its fund's (as the fund pays it), an aggregate's by the fund of its
    name, else the market's."""
    if sector.aggregate and sector.ticker not in DIVIDEND_YIELDS:
        return DIVIDEND_YIELDS.get(SECTOR_FUNDS.get(sector.name, ""), DEFAULT_DIVIDEND_YIELD)
    return DIVIDEND_YIELDS.get(sector.ticker, DEFAULT_DIVIDEND_YIELD)


@lru_cache(maxsize=8)
def _price_path(universe: Universe, seed: int, calendar: str, n_blocks: int) -> dict[str, _Bars]:
    """Bars of the benchmark and every tradable sector of the universe over the whole generated path."""
    core = _core(seed, calendar, n_blocks)
    returns, benchmark = _sector_returns(universe.sectors, seed, calendar, n_blocks)
    bench = universe.benchmark
    bars = {bench.ticker: _bars(bench.ticker, benchmark, bench.inception, core, seed, n_blocks)}
    for i, s in enumerate(universe.sectors):
        if not s.aggregate:
            bars[s.ticker] = _bars(s.ticker, returns[:, i], s.inception, core, seed, n_blocks)
    return bars


# --- members of a stock-level universe ---------------------------------------------------------------------------

# A member's own daily volatility on top of its sector's factor: 0.8-1.8% (large US stocks' idiosyncratic
# volatility is ~1-2% a day), fixed per ticker.
MEMBER_VOL = (0.008, 0.018)
MEMBER_NON_PAYERS = 0.2  # share of members paying no dividend (growth stocks)
MEMBER_YIELD_FACTOR = (0.5, 1.75)  # a payer's yield, as a multiple of its sector's: ~0.9x on average overall
_MEMBER_CHUNK = 256  # members generated together: (sessions x 256) arrays, ~17 MB each over 33 years
_PRICE_VALUES = ("open", "high", "low", "close", "volume", "dividend", "split_ratio")
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective scramble of 64-bit integers (numpy's uint64 products wrap)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _member_keys(tickers: Sequence[str], seed: int, stream: str) -> np.ndarray:
    """One 64-bit key per member for one stream (idio, gap, high, low, volume, dividend), mixed with the seed."""
    salt = (seed + 1) * _GOLDEN_GAMMA & _MASK64
    return _mix64(np.array([_stream_key(f"member-{stream}:{t}") ^ salt for t in tickers], dtype=np.uint64))


def _hashed_bits(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """64 random bits per (counter, key), shape (counters, keys): a pure function of the pair.

    Counter-based instead of a sequential generator: the draw for session i of a member is computed
    directly, so a window of sessions costs only its own draws, and no generator object is built per
    member and block (numpy's cost ~120 us each: 20 s for 5,000 members over 33 years of blocks).
    """
    with np.errstate(over="ignore"):
        return _mix64(counters.astype(np.uint64)[:, None] * np.uint64(_GOLDEN_GAMMA) + keys[None, :])


def _hashed_uniforms(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1) from the top 53 bits (as int64: numpy converts uint64 to float slowly)."""
    return ((_hashed_bits(keys, counters) >> np.uint64(11)).view(np.int64).astype(np.float64) + 0.5) * 2.0 ** -53


def _hashed_normals(keys: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Standard normals for sessions [first, stop) of each key, shape (sessions, keys).

    Box-Muller on the uniforms of counters 2p and 2p + 1 gives sessions 2p (cosine) and 2p + 1 (sine): a
    session's value depends on its index only, whatever window is asked for.
    """
    pairs = np.arange(first // 2, (stop + 1) // 2)
    radius = np.sqrt(-2.0 * np.log(_hashed_uniforms(keys, 2 * pairs)))
    angle = 2.0 * np.pi * _hashed_uniforms(keys, 2 * pairs + 1)
    normals = np.empty((2 * len(pairs), len(keys)))
    normals[0::2] = radius * np.cos(angle)
    normals[1::2] = radius * np.sin(angle)
    offset = first - 2 * (first // 2)
    return normals[offset:offset + stop - first]


def _hashed_bell(keys: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Mean 0, variance 1, bell-shaped within +-3.46 (sum of the four 16-bit quarters of one hash, an
    Irwin-Hall(4) variable), for sessions [first, stop): the cosmetic noise of open, high, low and volume,
    at a fifth of the cost of a normal."""
    bits = _hashed_bits(keys, np.arange(first, stop))
    lanes = np.uint64(0xFFFF)
    total = (bits & lanes) + (bits >> np.uint64(16) & lanes) + (bits >> np.uint64(32) & lanes) + (bits >> np.uint64(48))
    return (total.view(np.int64).astype(np.float64) / 65536.0 - (2.0 - 2.0 / 65536.0)) * math.sqrt(3.0)


def _key_fraction(keys: Sequence[int], shift: int) -> np.ndarray:
    """A per-ticker number in [0, 1] from bits of its stream key (like the ETFs' start levels)."""
    return np.array([(k >> shift) % 1001 / 1000.0 for k in keys])


def _member_bars(members: Sequence[Member], universe: Universe, seed: int, calendar: str, n_blocks: int,
                 first: int, stop: int, splits: Mapping[str, Sequence[tuple[dt.date, float]]]
                 ) -> dict[str, np.ndarray]:
    """Price columns (as traded: split-adjusted, with dividends) of some members on the sessions at positions
    [first, stop) of the path, each (sessions, members); rows before a member's inception are filler.

    Member i of sector s: r_it = r_st + (beta_i - beta_s) m_t + KAPPA (c_i - c_s) . centred_loadings[g_t]
    + vol_i z_it, where r_st is the sector's return (its planted factor, _sector_returns): a member that
    inherits its sector's characteristics is exactly the factor plus its own noise. The close is the start
    level on the inception session and compounds r after it: the growth factor is exactly 1.0 up to the
    inception, so the sequential product, and every close, is the same whatever the requested window and
    whichever members share the chunk. Sessions before the chunk's first inception are never generated.
    Open, high, low and volume use draws of the requested sessions only.
    """
    core = _core(seed, calendar, n_blocks)
    dates = core.dates
    sector_returns, _ = _sector_returns(universe.sectors, seed, calendar, n_blocks)
    sectors = list(universe.sectors)
    position = {s.ticker: i for i, s in enumerate(sectors)}
    tickers = [m.ticker for m in members]
    at = np.array([_inception_index(dates, m.inception) for m in members])
    base = min(first, int(at.min()))  # the first session any array below starts at
    index = np.array([position[m.sector] for m in members])

    chars = np.array([[getattr(m, d) for d in DIMENSIONS] for m in members])
    sector_chars = np.array([[getattr(sectors[i], d) for d in DIMENSIONS] for i in index])
    risk = DIMENSIONS.index("risk")
    beta_gap = 0.3 * chars[:, risk] - 0.3 * sector_chars[:, risk]  # beta = 1 + 0.3 risk, as for sectors
    drift_gap = KAPPA * (_CENTRED_LOADINGS @ (chars - sector_chars).T)  # (regime, member); 0 when inherited
    keys = [_stream_key("price:" + t) for t in tickers]
    vol = MEMBER_VOL[0] + (MEMBER_VOL[1] - MEMBER_VOL[0]) * _key_fraction(keys, 40)
    path = slice(base, stop)
    returns = (sector_returns[path, index] + (beta_gap * core.market_return[path, None]
                                              + drift_gap[core.regime[path]])
               + vol * _hashed_normals(_member_keys(tickers, seed, "idio"), base, stop))
    started = np.arange(base, stop)[:, None] > at[None, :]
    growth = np.cumprod(np.where(started, 1.0 + returns, 1.0), axis=0)  # sequential along the dates
    del returns, started
    start_level = np.array([20.0 + (k >> 8) % 8001 / 100.0 for k in keys])
    close = start_level * growth  # the start level up to the inception
    del growth

    planted = [(j, day, k) for j, ticker in enumerate(tickers) for day, k in splits.get(ticker, ())]
    ratio = np.ones((stop - base, len(members)))
    for j, day, k in planted:
        found = int(np.searchsorted(dates, np.datetime64(day, "D")))
        if base <= found < stop:
            ratio[found - base, j] = k
    shares = np.cumprod(ratio, axis=0) if planted else ratio

    # As for the funds (_bars): bars of the unsplit path, divided by the shares of the day.
    window = slice(first - base, stop - base)
    previous_close = np.vstack([start_level, close[:-1]])[window]
    day_close = close[window]
    gap, up, down, size = (_hashed_bell(_member_keys(tickers, seed, stream), first, stop)
                           for stream in ("gap", "high", "low", "volume"))
    open_ = previous_close * (1.0 + GAP_VOL * gap)
    range_vol = (RANGE_VOL * _profile_array("market_vol_multiplier")[core.regime[first:stop]])[:, None]
    high = np.maximum(open_, day_close) * np.exp(range_vol * np.abs(up))
    low = np.minimum(open_, day_close) * np.exp(-range_vol * np.abs(down))
    day_shares = shares[window]
    open_, high, low, r_close = open_ / day_shares, high / day_shares, low / day_shares, day_close / day_shares
    close = close / shares  # the traded price: after a split, per new share
    base_volume = 10.0 ** (5.0 + 2.0 * _key_fraction(keys, 24))
    volume = np.round(base_volume * _profile_array("volume_multiplier")[core.regime[first:stop]][:, None]
                      * np.exp(VOLUME_VOL * size)) * day_shares

    paying_draw = _hashed_uniforms(_member_keys(tickers, seed, "dividend"), np.array([0]))[0]
    factor = np.where(paying_draw < MEMBER_NON_PAYERS, 0.0, MEMBER_YIELD_FACTOR[0] + (
        MEMBER_YIELD_FACTOR[1] - MEMBER_YIELD_FACTOR[0]) * (paying_draw - MEMBER_NON_PAYERS) / (1 - MEMBER_NON_PAYERS))
    quarterly = factor * np.array([_sector_yield(sectors[i]) for i in index]) / 4
    ex = _ex_dividend_positions(calendar, n_blocks)
    ex = ex[(ex >= first) & (ex < stop)]
    dividend = np.zeros_like(r_close)
    paid = ex[:, None] > at[None, :]  # none before the member has a previous close
    dividend[ex - first] = np.where(paid, np.round(quarterly * close[ex - 1 - base], 4), 0.0)
    return {"open": open_, "high": high, "low": low, "close": r_close, "volume": volume, "dividend": dividend,
            "split_ratio": ratio[window]}


@dataclass(frozen=True)
class _PriceModel:
    """A traded macro price: log-return = regime_drift . loadings + equity_beta * m_t + vol * z."""

    start: float  # level on the series' inception
    vol: float
    equity_beta: float
    regime_drift: tuple[float, float, float, float]  # per unit of each regime loading, per session


_PRICE_MODELS: dict[str, _PriceModel] = {
    "HG=F": _PriceModel(0.85, 0.015, 0.3, (0.0010, 0.0, 0.0006, 0.0002)),  # copper: growth, then inflation
    "CL=F": _PriceModel(32.0, 0.022, 0.3, (0.0008, 0.0, 0.0012, 0.0)),  # crude: inflation, then growth
    "GLD": _PriceModel(44.0, 0.010, 0.0, (0.0, -0.0002, 0.0008, -0.0006)),  # gold: inflation and fear
}
_GENERIC_PRICE = _PriceModel(50.0, 0.012, 0.5, (0.0002, 0.0, 0.0002, 0.0002))

# Treasury ETFs: carry minus duration times the change of the 10y yield; TIPS also accrue inflation.
_BOND_MODELS: dict[str, tuple[float, float, float]] = {  # ticker -> (start level, duration, inflation drift)
    "IEF": (82.0, 7.5, 0.0),
    "TIP": (100.0, 6.0, 0.0004),
}


def _traded_price(series: MacroSeries, core: _Core, noise: np.ndarray) -> np.ndarray:
    loadings = _CENTRED_LOADINGS[core.regime]
    if series.ticker in _BOND_MODELS:
        start, duration, inflation_drift = _BOND_MODELS[series.ticker]
        yield_pct = core.long_yield_pct
        previous = np.concatenate(([yield_pct[0]], yield_pct[:-1]))
        log_return = (previous / 100 / 252 - duration * (yield_pct - previous) / 100
                      + inflation_drift * loadings[:, DIMENSIONS.index("inflation")] + 0.001 * noise)
    else:
        model = _PRICE_MODELS.get(series.ticker, _GENERIC_PRICE)
        start = model.start
        log_return = (loadings @ np.array(model.regime_drift) + model.equity_beta * core.market_return
                      + model.vol * noise)
    log_level = np.cumsum(log_return)
    at = min(_inception_index(core.dates, series.inception), len(log_level) - 1)
    return start * np.exp(log_level - log_level[at])


def _index_level(series: MacroSeries, core: _Core, noise: np.ndarray) -> np.ndarray:
    if series.ticker == "^VIX":
        # Fast mean reversion to the regime's level; unit-variance shocks that mostly mirror the market's
        # (the leverage effect: VIX jumps when stocks fall).
        phi, target, shock = 0.95, np.log(_profile_array("vix")), 0.07 * (-0.7 * core.market_shock + 0.71 * noise)
    elif series.ticker == "DX-Y.NYB":
        phi, target, shock = 0.99, np.log(_profile_array("dollar_index")), 0.004 * noise
    else:
        # An unknown index: around 100, mildly counter-cyclical like most macro gauges.
        phi, target, shock = 0.995, np.log(100.0) - 0.08 * _LOADINGS[:, DIMENSIONS.index("risk")], 0.006 * noise
    log_target = target[core.regime]
    return np.exp(_ar1((1 - phi) * log_target + shock, phi, float(log_target[0])))


def _yield_level(series: MacroSeries, core: _Core, noise: np.ndarray) -> np.ndarray:
    if series.ticker == "^TNX":
        return core.long_yield_pct
    if series.ticker == "^IRX":
        # Bills sit a regime-dependent spread below the 10y: wide when cuts are priced, flat when hikes are.
        phi = 0.98
        target = _profile_array("bill_spread_pct")[core.regime]
        spread = _ar1((1 - phi) * target + 0.04 * noise, phi, float(target[0]))
        return np.maximum(core.long_yield_pct - np.maximum(spread, 0.05), 0.01)
    # An unknown yield: the 10y plus its own slowly mean-reverting offset.
    return core.long_yield_pct + _ar1(0.02 * noise, 0.99, 0.0)


@lru_cache(maxsize=64)
def _macro_values(series: MacroSeries, seed: int, calendar: str, n_blocks: int) -> np.ndarray:
    """Daily values of one market macro series over the whole generated path, by kind and known ticker."""
    core = _core(seed, calendar, n_blocks)
    noise = _draws(seed, n_blocks, _stream_key("macro:" + series.ticker), 1)[:, 0]
    if series.kind in ("yield_pct", "rate_pct"):
        return _yield_level(series, core, noise)
    if series.kind in ("index", "level"):
        return _index_level(series, core, noise)
    return _traded_price(series, core, noise)  # kind "price"


# --- FRED-like economic series ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EconomyProfile:
    """How the economic series behave during a spell of one regime."""

    cpi_inflation_pct: float  # CPI change per month, percent
    unemployment_drift_pp: float  # unemployment rate change per month, percentage points
    production_growth_pct: float  # industrial production change per month, percent
    gdp_growth_pct: float  # nominal GDP change per quarter, percent
    curve_10y_2y_pp: float  # equilibrium 10-year minus 2-year yield, percentage points
    breakeven_pct: float  # equilibrium 10-year breakeven inflation, percent


# Rising rates flatten the curve until it inverts (the 2y prices the hikes), contraction and risk-off
# steepen it (cuts); inflation lifts CPI, breakevens and nominal GDP; contraction lifts unemployment and cuts
# production. Over the five regimes (equally frequent by construction) CPI rises ~2.5% a year, production
# ~1.4% and nominal GDP ~3.2%.
ECONOMY_PROFILES: dict[str, EconomyProfile] = {
    "expansion":    EconomyProfile(0.18, -0.08, +0.50, +1.3, 1.0, 2.1),
    "contraction":  EconomyProfile(0.05, +0.30, -0.40, -0.6, 1.8, 1.3),
    "rising_rates": EconomyProfile(0.22, -0.03, +0.30, +1.2, -0.3, 2.3),
    "inflation":    EconomyProfile(0.50, +0.00, +0.20, +1.8, 0.4, 2.9),
    "risk_off":     EconomyProfile(0.08, +0.08, +0.00, +0.3, 1.5, 1.1),
}
_UNEMPLOYMENT_ANCHOR, _UNEMPLOYMENT_RANGE = 5.0, (2.5, 15.0)
# Start values at the origin (early 1993): CPI 142 (1982-84 = 100), unemployment 7.3%, industrial production
# 64 (2017 = 100), nominal GDP 6,700 bn USD; the first full month / quarter starts there.
_FRED_START = {"CPIAUCSL": 142.0, "UNRATE": 7.3, "INDPRO": 64.0, "GDP": 6700.0}
# Decimals FRED publishes each series with.
_FRED_DECIMALS = {"CPIAUCSL": 3, "UNRATE": 1, "INDPRO": 4, "GDP": 3, "FEDFUNDS": 2, "DGS10": 2, "DGS2": 2,
                  "T10Y2Y": 2, "T10YIE": 2}


def _economy_array(field: str) -> np.ndarray:
    return np.array([getattr(ECONOMY_PROFILES[g], field) for g in REGIMES])


def _bond_market_closed(dates: np.ndarray) -> np.ndarray:
    """Columbus Day (second Monday of October) and Veterans Day (11 November): NYSE sessions without
    Treasury yields."""
    days = dates.astype(object)
    return np.array([(d.month == 10 and d.weekday() == 0 and 8 <= d.day <= 14) or (d.month == 11 and d.day == 11)
                     for d in days], dtype=bool)


def _periods(dates: np.ndarray, months: int) -> tuple[np.ndarray, np.ndarray]:
    """(first day of each whole period of `months` months in the path, session boundaries of those periods).

    Periods start on months 1, 1 + months, ... Period i covers the sessions boundaries[i] to
    boundaries[i + 1] - 1. Only whole periods are returned (the origin's period and the one still running at
    the end of the path are left out), so a period's value never depends on how far the path reaches.
    """
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    month = dates.astype("datetime64[M]").astype(int) % 12
    period = (years * 12 + month) // months
    boundaries = np.flatnonzero(np.diff(period)) + 1  # first session of every period after the origin's
    starts = np.array([np.datetime64(f"{q * months // 12:04d}-{q * months % 12 + 1:02d}-01", "D")
                       for q in period[boundaries[:-1]]], dtype="datetime64[D]")
    return starts, boundaries


def _period_means(values: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Mean of `values` over each period [boundaries[i], boundaries[i + 1])."""
    # reduceat's last segment runs to the end of its input: cut the input at the last boundary.
    return np.add.reduceat(values[:boundaries[-1]], boundaries[:-1]) / np.diff(boundaries)


def _daily_rate(core: _Core, noise: np.ndarray, target_spread: np.ndarray, phi: float, vol: float,
                floor: float) -> np.ndarray:
    """A short rate a mean-reverting spread below the 10-year yield (which carries the rate shocks)."""
    spread = _ar1((1 - phi) * target_spread + vol * noise, phi, float(target_spread[0]))
    return np.maximum(core.long_yield_pct - spread, floor)


# Series built from a growth rate per month (percent, from ECONOMY_PROFILES) and a noise per period.
_GROWTH_MODELS = {"CPIAUCSL": ("cpi_inflation_pct", 1.0, 0.08), "INDPRO": ("production_growth_pct", 1.0, 0.3),
                  "GDP": ("gdp_growth_pct", 1 / 3, 0.3)}  # field, factor to a monthly rate, noise per period


def _fred_daily(series: MacroSeries, core: _Core, noise: np.ndarray, seed: int, n_blocks: int) -> np.ndarray | None:
    """Daily values of the rate-type FRED series on every session of the path; None for series that are
    built period by period (CPI, unemployment, production, GDP, and unknown indices and levels)."""
    ticker, regime = series.ticker, core.regime
    if ticker == "DGS10":
        return core.long_yield_pct  # the same 10-year path as ^TNX
    if ticker in ("DGS2", "T10Y2Y"):
        two_year = _daily_rate(core, _draws(seed, n_blocks, _stream_key("fred:DGS2"), 1)[:, 0],
                               _economy_array("curve_10y_2y_pp")[regime], 0.98, 0.03, 0.05)
        # FRED's T10Y2Y is the difference of the two published (rounded) yields.
        return two_year if ticker == "DGS2" else np.round(core.long_yield_pct, 2) - np.round(two_year, 2)
    if ticker == "T10YIE":
        target = _economy_array("breakeven_pct")[regime]
        return _ar1(0.03 * target + 0.04 * noise, 0.97, float(target[0]))
    if ticker == "UNRATE" or ticker in _GROWTH_MODELS:
        return None
    if ticker == "FEDFUNDS" or series.kind in ("rate_pct", "yield_pct"):
        # A policy rate: a regime-dependent spread below the 10-year, like the 13-week bill.
        return _daily_rate(core, noise, _profile_array("bill_spread_pct")[regime] + 0.1, 0.98, 0.04, 0.05)
    if series.frequency in ("daily", "weekly"):
        return _traded_price(series, core, noise) if series.kind == "price" else _index_level(series, core, noise)
    return None


@lru_cache(maxsize=64)
def _fred_observations(series: MacroSeries, seed: int, calendar: str, n_blocks: int) -> pl.DataFrame:
    """OBSERVATION_SCHEMA rows of one FRED-type series over the generated path, at the series' frequency.

    Daily series: one value per session except the bond market's holidays. Weekly: the week's last session,
    dated on its Friday. Monthly and quarterly: one value per whole period, dated on its first day; a rate
    is the period's average, an index or level compounds the period's average growth rate, unemployment
    follows its drift with mean reversion.
    """
    core = _core(seed, calendar, n_blocks)
    noise = _draws(seed, n_blocks, _stream_key("fred:" + series.ticker), 2)
    daily = _fred_daily(series, core, noise[:, 0], seed, n_blocks)
    if series.frequency == "daily":
        assert daily is not None, series
        keep = ~_bond_market_closed(core.dates)
        dates, values = core.dates[keep], daily[keep]
    elif series.frequency == "weekly":
        assert daily is not None, series
        week = (core.dates.astype(int) + 3) // 7  # Monday-based week number (1970-01-01 was a Thursday)
        last = np.append(np.diff(week) != 0, False)  # the week's last session; the running week is left out
        dates, values = (week[last] * 7 + 1).astype("datetime64[D]"), daily[last]  # + 1: that week's Friday
    else:
        months = 3 if series.frequency == "quarterly" else 1
        dates, bounds = _periods(core.dates, months)
        first = bounds[:-1]
        shock = noise[first, 1]  # one draw per period: its first session's
        if daily is not None:
            values = _period_means(daily, bounds)
        elif series.ticker == "UNRATE" or series.kind in ("rate_pct", "yield_pct"):
            drift = _period_means(_economy_array("unemployment_drift_pp")[core.regime], bounds) * months
            values = np.empty(len(first))
            level = _FRED_START.get(series.ticker, _UNEMPLOYMENT_ANCHOR)
            for i in range(len(first)):  # a few hundred periods: a plain recursion is clear and fast enough
                level = level + drift[i] + 0.05 * months * (_UNEMPLOYMENT_ANCHOR - level) + 0.08 * shock[i]
                level = min(max(level, _UNEMPLOYMENT_RANGE[0]), _UNEMPLOYMENT_RANGE[1])
                values[i] = level
        else:
            field, to_monthly, vol = _GROWTH_MODELS.get(
                series.ticker, ("gdp_growth_pct", 1 / 3, 0.3) if series.kind == "level"
                else ("production_growth_pct", 1.0, 0.3))
            monthly_growth = _economy_array(field)[core.regime] * to_monthly
            per_period = _period_means(monthly_growth, bounds) * months + vol * shock
            values = _FRED_START.get(series.ticker, 100.0) * np.cumprod(1 + per_period / 100)
    values = np.round(values, _FRED_DECIMALS.get(series.ticker, 4))
    return pl.DataFrame({"observation_date": dates, "value": values}, schema=OBSERVATION_SCHEMA)


class SyntheticSource:
    """A MarketDataSource over the synthetic market of one universe and seed; rows are labelled 'synthetic'.

    `splits` plants stock splits for tests: {ticker: [(ex-date session, new shares per old share), ...]}.
    """

    name = "synthetic"

    def __init__(self, universe: Universe, seed: int = 42, calendar: str = "XNYS",
                 splits: Mapping[str, Sequence[tuple[dt.date, float]]] | None = None):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigurationError(f"synthetic source: seed must be a non-negative integer, got {seed!r}")
        self.universe = universe
        self.seed = seed
        self.calendar = calendar
        self.splits = {ticker: tuple(sorted(events)) for ticker, events in (splits or {}).items()}
        for ticker, events in self.splits.items():
            for day, ratio in events:
                if not is_session(day, calendar) or not ratio > 0:
                    raise ConfigurationError(f"synthetic source: planted split of {ticker} on {day} (ratio {ratio}) "
                                             "needs a session and a positive ratio")

    def _n_blocks(self, end: dt.date) -> int:
        return max(1, math.ceil(_sessions_before(end, self.calendar) / BLOCK_SESSIONS))

    def _split_factors(self, ticker: str, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ratio on each session, cumulative ratio of splits on or before each session)."""
        ratio = np.ones(len(dates))
        for day, k in self.splits.get(ticker, ()):
            at = int(np.searchsorted(dates, np.datetime64(day, "D")))
            if at < len(dates):
                ratio[at] = k
        return ratio, np.cumprod(ratio)

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """OHLCV rows in PRICE_SCHEMA for sessions in [start, end) on/after each instrument's inception, with
        dividends, split ratios and fetched_on = date (each row as served on its own day).

        Raises SourceError for an instrument that is not in the source's universe.
        """
        known = set(self.universe.tickers)
        unknown = sorted({i.ticker for i in instruments} - known)
        if unknown:
            aggregates = sorted(set(unknown) & {s.ticker for s in self.universe.aggregate_sectors})
            hint = (f" ({', '.join(aggregates)}: aggregate sectors are computed from their members, not fetched)"
                    if aggregates else "")
            raise SourceError(f"synthetic source: {unknown} not in universe '{self.universe.name}'{hint}")
        if end <= max(start, SYNTHETIC_ORIGIN) or not instruments:
            return empty_prices()
        n_blocks = self._n_blocks(end)
        dates = _core(self.seed, self.calendar, n_blocks).dates
        window = np.arange(len(dates))[_rows(dates, start, end, start)]
        if not len(window):
            return empty_prices()
        first, stop = int(window[0]), int(window[-1]) + 1
        # Every price column is laid out as (session, instrument), instruments in ticker order, so that the
        # rows come out sorted by date, then ticker, without sorting millions of rows (1-2 s for 500 members).
        wanted = sorted(dict.fromkeys(instruments), key=lambda i: i.ticker)
        columns = {name: np.empty((stop - first, len(wanted))) for name in _PRICE_VALUES}
        members = {m.ticker: m for m in self.universe.members}
        funds = [(j, i) for j, i in enumerate(wanted) if i.ticker not in members]
        if funds:
            bars = _price_path(self.universe, self.seed, self.calendar, n_blocks)
            ex_dividend = _ex_dividend_positions(self.calendar, n_blocks)
        for j, instrument in funds:
            b = bars[instrument.ticker]
            ratio, shares = self._split_factors(instrument.ticker, dates)
            close = b.close / shares  # the traded price: after a split, per new share
            dividend = _dividends(DIVIDEND_YIELDS.get(instrument.ticker, DEFAULT_DIVIDEND_YIELD), close,
                                  _inception_index(dates, instrument.inception), ex_dividend)
            for name, values in (("open", b.open / shares), ("high", b.high / shares), ("low", b.low / shares),
                                 ("close", close), ("volume", b.volume * shares), ("dividend", dividend),
                                 ("split_ratio", ratio)):
                columns[name][:, j] = values[first:stop]
        stocks = [(j, members[i.ticker]) for j, i in enumerate(wanted) if i.ticker in members]
        for chunk in range(0, len(stocks), _MEMBER_CHUNK):
            part = stocks[chunk:chunk + _MEMBER_CHUNK]
            block = _member_bars([m for _, m in part], self.universe, self.seed, self.calendar, n_blocks, first,
                                 stop, self.splits)
            at = [j for j, _ in part]
            for name, values in block.items():
                columns[name][:, at] = values
        # Row (session, instrument) exists from the instrument's inception on; ravel() reads date by date.
        inception = np.array([_inception_index(dates, i.inception) for i in wanted])
        keep = (window[:, None] >= inception[None, :]).ravel()
        day = np.repeat(dates[first:stop], len(wanted))[keep]
        instrument_of_row = np.tile(np.arange(len(wanted)), stop - first)[keep]
        close = columns["close"].ravel()[keep]
        return pl.DataFrame({
            "date": day, "ticker": pl.Series([i.ticker for i in wanted], dtype=pl.String).gather(instrument_of_row),
            **{name: columns[name].ravel()[keep] for name in ("open", "high", "low")},
            "close": close, "adj_close": close,
            **{name: columns[name].ravel()[keep] for name in ("volume", "dividend", "split_ratio")},
            "fetched_on": day, "source": self.name,
        }, schema=PRICE_SCHEMA)

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA with release dates in [start, end), on/after each series' inception.

        Any series works: its model is chosen by ticker when the ticker is known, otherwise by kind (and
        frequency for FRED series). Market series are daily closes; FRED series are released after their lag.
        """
        market, fred = split_by_provider(series)
        if end <= max(start, SYNTHETIC_ORIGIN) or not series:
            return empty_macro()
        parts = []
        n_blocks = self._n_blocks(end)
        dates = _core(self.seed, self.calendar, n_blocks).dates
        for s in dict.fromkeys(market):
            rows = _rows(dates, start, end, s.inception)
            parts.append(pl.DataFrame({
                "date": dates[rows], "series": s.series, "ticker": s.ticker, "observation_date": dates[rows],
                "value": _macro_values(s, self.seed, self.calendar, n_blocks)[rows], "source": self.name,
            }, schema=MACRO_SCHEMA))
        # A monthly or quarterly value needs its whole period in the path: generate a quarter further.
        fred_blocks = self._n_blocks(end + dt.timedelta(days=100))
        for s in dict.fromkeys(fred):
            first, stop = observation_window(s, start, end)
            observed = _fred_observations(s, self.seed, self.calendar, fred_blocks).filter(
                pl.col("observation_date").is_between(max(first, s.inception), stop, closed="left"))
            parts.append(release_sessions(observed, s, self.calendar, source=self.name, start=start, end=end))
        return pl.concat(parts).sort("date", "series") if parts else empty_macro()

    def regimes(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """The planted spells overlapping [start, end), in REGIME_SCHEMA, with their full start and end dates."""
        count = _sessions_before(end, self.calendar)
        if end <= start or count == 0:
            return pl.DataFrame(schema=REGIME_SCHEMA)
        regime_of_spell, lengths = _spells(self.seed, count)
        dates = _first_sessions(self.calendar, int(lengths.sum()))
        last = np.cumsum(lengths) - 1
        frame = pl.DataFrame({
            "regime_id": np.arange(1, len(lengths) + 1),
            "regime": [REGIMES[g] for g in regime_of_spell],
            "start_date": dates[last - lengths + 1],
            "end_date": dates[last],
        }, schema=REGIME_SCHEMA)
        return frame.filter((pl.col("start_date") < end) & (pl.col("end_date") >= start))
