import datetime as dt
from pathlib import Path

import pytest

from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, UniverseError, load_universe


def test_default_universe_has_spy_and_eleven_sectors(universe):
    assert universe.benchmark.ticker == "SPY"
    assert [s.ticker for s in universe.sectors] == ["XLK", "XLC", "XLY", "XLF", "XLI", "XLB", "XLE", "XLV", "XLP",
                                                     "XLU", "XLRE"]
    assert universe.inception_of("XLRE") == dt.date(2015, 10, 8)
    assert universe.inception_of("XLC") == dt.date(2018, 6, 19)
    chars = universe.characteristics()
    xlu = chars.filter(ticker="XLU").row(0, named=True)
    assert (xlu["cycle"], xlu["rates"], xlu["inflation"], xlu["risk"]) == (-1.0, -1.0, 0.0, -1.0)
    assert chars.select("cycle", "rates", "inflation", "risk").to_numpy().min() >= -1
    assert {m.ticker for m in universe.macro} >= {"^TNX", "^IRX", "^VIX", "TIP", "IEF", "HG=F", "GLD", "CL=F"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "universe.toml"
    path.write_text(text)
    return path


def test_another_universe_file_is_loaded(tmp_path):
    path = _write(tmp_path, """
name = "two sectors"
[benchmark]
ticker = "IDX"
inception = 2000-01-03
[[sectors]]
ticker = "AAA"
sector = "Alpha"
inception = 2000-01-03
cycle = 1
rates = 0
inflation = -0.5
risk = 0.25
""")
    u = load_universe(path)
    assert u.tickers == ["IDX", "AAA"] and u.macro == () and u.sectors[0].inflation == -0.5


@pytest.mark.parametrize("body, message", [
    ("this is = = not toml", "not valid TOML"),
    ("[benchmark]\nticker='SPY'\ninception=1993-01-29\n", "missing the field 'sectors'"),
    ("[benchmark]\nticker='SPY'\ninception=1993-01-29\n[[sectors]]\nticker='XLK'\nsector='T'\ninception=1998-12-22\n"
     "cycle=2\nrates=0\ninflation=0\nrisk=0\n", "cycle = 2, expected a number in [-1, +1]"),
    ("[benchmark]\nticker='SPY'\ninception=1993-01-29\n[[sectors]]\nticker='XLK'\nsector='T'\ninception='soon'\n"
     "cycle=0\nrates=0\ninflation=0\nrisk=0\n", "expected a date"),
    ("[benchmark]\nticker='SPY'\ninception=1993-01-29\n[[sectors]]\nticker='SPY'\nsector='T'\ninception=1998-12-22\n"
     "cycle=0\nrates=0\ninflation=0\nrisk=0\n", "duplicate tickers ['SPY']"),
    ("[benchmark]\nticker='SPY'\ninception=1993-01-29\n[[sectors]]\nticker='XLK'\nsector='T'\ninception=1998-12-22\n"
     "cycle=0\nrates=0\ninflation=0\n", "missing the field 'risk'"),
])
def test_malformed_universe_is_a_clear_error(tmp_path, body, message):
    _assert_refused(_write(tmp_path, body), message)


def _assert_refused(path: Path, message: str) -> None:
    """Loading `path` fails with a UniverseError naming the file and saying `message`."""
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_universe_file_names_it(tmp_path):
    with pytest.raises(UniverseError, match="cannot read universe file .*nope.toml"):
        load_universe(tmp_path / "nope.toml")


def test_packaged_default_path_exists():
    assert DEFAULT_UNIVERSE_PATH.exists()


# --- macro series policy (issue 8) ---------------------------------------------------------------------------

_HEAD = """
[benchmark]
ticker = "SPY"
inception = 1993-01-29
[[sectors]]
ticker = "XLK"
sector = "Technology"
inception = 1998-12-22
cycle = 0.6
rates = -0.4
inflation = -0.4
risk = 1.0
"""


def _with_macro(tmp_path: Path, entry: str, head: str = _HEAD) -> Path:
    return _write(tmp_path, head + "[[macro]]\n" + entry)


def test_default_universe_macro_policy(universe):
    by_ticker = {m.ticker: m for m in universe.macro}
    crude = by_ticker["CL=F"]
    assert (crude.kind, crude.allow_negative, crude.allow_zero, crude.min_value, crude.max_value) == (
        "price", True, True, -100.0, 500.0)
    assert not by_ticker["GLD"].allow_negative and not by_ticker["GLD"].allow_zero
    assert by_ticker["^IRX"].allow_negative and by_ticker["^IRX"].allow_zero  # yield_pct default
    assert [t for t, m in by_ticker.items() if m.blocks] == ["^TNX", "^IRX", "^VIX"]
    fred = {m.ticker: m for m in universe.macro if m.provider == "fred"}
    assert sorted(fred) == sorted(["CPIAUCSL", "UNRATE", "INDPRO", "GDP", "FEDFUNDS", "DGS10", "DGS2", "T10Y2Y",
                                   "T10YIE"])
    assert {t: (m.frequency, m.release_lag_days, m.max_stale_sessions) for t, m in fred.items()} == {
        "CPIAUCSL": ("monthly", 48, 35), "UNRATE": ("monthly", 40, 35), "INDPRO": ("monthly", 50, 35),
        "GDP": ("quarterly", 125, 75), "FEDFUNDS": ("monthly", 35, 35), "DGS10": ("daily", 1, 5),
        "DGS2": ("daily", 1, 5), "T10Y2Y": ("daily", 1, 5), "T10YIE": ("daily", 1, 5)}
    assert all(m.on_failure == "warn" for m in fred.values())
    assert fred["T10Y2Y"].allow_negative and not fred["UNRATE"].allow_negative
    # Existing series names are stable (signals and marts refer to them).
    assert {m.series for m in universe.macro} >= {"us10y_yield_pct", "us13w_bill_yield_pct", "vix", "tips_etf",
                                                  "treasury_7_10y_etf", "copper_future", "gold_etf",
                                                  "crude_oil_future", "us_dollar_index"}


def test_macro_series_frame_has_every_policy_field(universe):
    frame = universe.macro_series_frame()
    assert frame.height == len(universe.macro) == 18
    assert frame.columns == ["series", "ticker", "provider", "kind", "units", "inception", "end", "frequency",
                             "release_lag_days", "allow_negative", "allow_zero", "min_value", "max_value",
                             "max_stale_sessions", "on_failure", "blocks"]
    cpi = frame.filter(ticker="CPIAUCSL").row(0, named=True)
    assert cpi == {"series": "cpi_index", "ticker": "CPIAUCSL", "provider": "fred", "kind": "index",
                   "units": "index 1982-1984 = 100, seasonally adjusted", "inception": dt.date(1947, 1, 1),
                   "end": None, "frequency": "monthly", "release_lag_days": 48, "allow_negative": False,
                   "allow_zero": False, "min_value": 10.0, "max_value": 1000.0, "max_stale_sessions": 35,
                   "on_failure": "warn", "blocks": False}
    assert frame.filter(blocks=True)["series"].to_list() == ["us10y_yield_pct", "us13w_bill_yield_pct", "vix"]


def test_macro_defaults_follow_kind_and_frequency(tmp_path):
    u = load_universe(_with_macro(tmp_path, """series = "s"\nticker = "X"\nkind = "level"\ninception = 2000-01-03
[[macro]]
series = "p"
ticker = "P"
kind = "price"
inception = 2000-01-03
[[macro]]
series = "m"
ticker = "MMM"
provider = "fred"
kind = "index"
inception = 2000-01-01
end = 2010-12-01
frequency = "monthly"
release_lag_days = 45
"""))
    level, price, monthly = u.macro
    assert (level.provider, level.frequency, level.release_lag_days, level.allow_negative, level.allow_zero,
            level.max_stale_sessions, level.on_failure, level.units) == (
        "market", "daily", 0, True, True, 5, "warn", "level")
    assert (price.allow_negative, price.allow_zero, price.units) == (False, False, "price")
    assert (monthly.provider, monthly.max_stale_sessions, monthly.end, monthly.blocks) == (
        "fred", 35, dt.date(2010, 12, 1), False)


@pytest.mark.parametrize("required, on_failure", [("true", "block"), ("false", "warn")])
def test_legacy_required_still_works(tmp_path, required, on_failure):
    u = load_universe(_with_macro(tmp_path, f'series = "v"\nticker = "^VIX"\nkind = "index"\n'
                                            f'inception = 1990-01-02\nrequired = {required}\n'))
    assert u.macro[0].on_failure == on_failure and u.macro[0].blocks is (required == "true")
    assert u.macro[0].required is (required == "true")


_BASE = 'series = "s"\nticker = "S"\ninception = 2000-01-03\n'


@pytest.mark.parametrize("entry, message", [
    (_BASE + 'kind = "price"\nprovider = "bloomberg"\n', "provider = 'bloomberg', expected one of market, fred"),
    (_BASE + 'kind = "ratio"\n', "kind = 'ratio', expected one of price, yield_pct, index, rate_pct, level"),
    (_BASE + 'kind = "price"\nfrequency = "hourly"\n', "frequency = 'hourly', expected one of daily, weekly"),
    (_BASE + 'kind = "level"\nmin_value = 5\nmax_value = 1\n', "min_value = 5 > max_value = 1"),
    (_BASE + 'kind = "level"\nprovider = "fred"\nfrequency = "monthly"\nrelease_lag_days = -3\n',
     "release_lag_days = -3, expected a whole number >= 0"),
    (_BASE + 'kind = "level"\nprovider = "fred"\nfrequency = "monthly"\nrelease_lag_days = 1.5\n',
     "release_lag_days = 1.5, expected a whole number of days"),
    (_BASE + 'kind = "level"\nprovider = "fred"\nfrequency = "monthly"\n', "missing the field 'release_lag_days'"),
    (_BASE + 'kind = "level"\nrelease_lag_days = 2\n', "a market series is public at the close of its session"),
    ('series = "s"\nticker = "S"\nkind = "price"\ninception = "2000-13-01"\n', "expected a date"),
    (_BASE + 'kind = "price"\nend = 1999-12-31\n', "end = 1999-12-31 before its inception 2000-01-03"),
    (_BASE + 'kind = "price"\nalow_negative = true\n', "unknown field(s) ['alow_negative']"),
    (_BASE + 'kind = "price"\nallow_negative = "yes"\n', "allow_negative = 'yes', expected true or false"),
    (_BASE + 'kind = "price"\nmin_value = true\n', "min_value = True, expected a number"),
    (_BASE + 'kind = "price"\nmin_value = -1\n', "min_value = -1 below zero but allow_negative is false"),
    (_BASE + 'kind = "price"\nallow_negative = true\nallow_zero = false\n', "can also be zero"),
    (_BASE + 'kind = "price"\nmax_stale_sessions = -1\n', "max_stale_sessions = -1, expected a whole number >= 0"),
    (_BASE + 'kind = "price"\non_failure = "ignore"\n', "on_failure = 'ignore', expected one of block, warn"),
    (_BASE + 'kind = "price"\nrequired = true\non_failure = "warn"\n', "disagree"),
])
def test_bad_macro_entry_names_file_and_entry(tmp_path, entry, message):
    path = _with_macro(tmp_path, entry)
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    text = str(err.value)
    assert message in text and str(path) in text and "macro series #1 (s)" in text


def test_unknown_calendar_fails_when_the_file_loads(tmp_path):
    path = _write(tmp_path, 'calendar = "NYSX"\n' + _HEAD)
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert "calendar 'NYSX' is not an exchange_calendars name" in str(err.value) and str(path) in str(err.value)
    assert load_universe(_write(tmp_path, 'calendar = "XLON"\n' + _HEAD)).calendar == "XLON"


def test_a_fred_id_may_equal_a_stock_ticker_but_not_repeat(tmp_path):
    fred = ('series = "gdp"\nticker = "GDP"\nprovider = "fred"\nkind = "level"\ninception = 1947-01-01\n'
            'frequency = "quarterly"\nrelease_lag_days = 125\n')
    head = _HEAD.replace('ticker = "XLK"', 'ticker = "GDP"')
    assert [m.ticker for m in load_universe(_with_macro(tmp_path, fred, head)).macro] == ["GDP"]
    with pytest.raises(UniverseError, match=r"duplicate tickers \['GDP \(fred\)'\]"):
        load_universe(_with_macro(tmp_path, fred + "[[macro]]\n" + fred.replace('"gdp"', '"gdp2"')))


def test_macro_series_built_in_code_get_the_same_defaults_and_checks():
    from sector_pipeline.universe import MacroSeries

    vix = MacroSeries("vix", "^VIX", "index", dt.date(1990, 1, 2))
    assert (vix.allow_negative, vix.allow_zero, vix.max_stale_sessions, vix.blocks, vix.units) == (
        False, False, 5, False, "index")
    with pytest.raises(ValueError, match="kind = 'ratio'"):
        MacroSeries("odd", "ODD", "ratio", dt.date(2000, 1, 3))


def test_realdata_universe_file_loads():
    from sector_pipeline.universe import load_universe as load

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "realdata_universe.toml"
    u = load(path)
    assert u.benchmark.ticker == "SPY" and len(u.sectors) == 11
    by_ticker = {m.ticker: m for m in u.macro}
    assert "DX-Y.NYB" not in by_ticker and "UUP" not in by_ticker  # UUP has no close in the folder
    assert (by_ticker["^TNX"].inception, by_ticker["^IRX"].inception) == (dt.date(2001, 1, 2), dt.date(2005, 1, 3))
    assert sorted(m.ticker for m in u.macro if m.provider == "fred") == sorted(
        ["CPIAUCSL", "UNRATE", "GDP", "FEDFUNDS", "DGS10", "DGS2", "T10Y2Y", "T10YIE"])


def test_realdata_universe_matches_the_files(realdata_dir):
    import polars as pl

    u = load_universe(Path(__file__).resolve().parents[1] / "benchmarks" / "realdata_universe.toml")
    firsts = {}
    for name, key in (("prices.csv", "ticker"), ("market_proxies.csv", "ticker"), ("macro.csv", "series")):
        frame = pl.read_csv(realdata_dir / name, columns=["date", key], try_parse_dates=True)
        firsts |= dict(frame.group_by(key).agg(pl.col("date").min()).iter_rows())
    declared = {i.ticker: i.inception for i in u.instruments} | {m.ticker: m.inception for m in u.macro}
    # UUP is left out on purpose: its file has no close, the value of a market series (the file's comment)
    assert declared == {t: d for t, d in firsts.items() if t != "UUP"}


# --- member universes (issue 9) --------------------------------------------------------------------------------

SYNTHETIC_500 = DEFAULT_UNIVERSE_PATH.parent / "synthetic_500.toml"

_MEMBER_HEAD = """
benchmark = { ticker = "IDX", inception = 2000-01-03 }
sectors = [
{ ticker = "AGG_T", sector = "Tech", aggregate = true, cycle = 0.6, rates = -0.4, inflation = -0.4, risk = 1.0 },
{ ticker = "ETF_U", sector = "Utilities", inception = 2001-01-02, cycle = -1, rates = -1, inflation = 0, risk = -1 },
]
"""


def _members_file(tmp_path: Path, members: str, head: str = _MEMBER_HEAD) -> Path:
    return _write(tmp_path, "members = [\n" + members + "\n]\n" + head)


def test_synthetic_500_members_inherit_their_sectors_characteristics():
    u = load_universe(SYNTHETIC_500)  # load time is measured in benchmarks/scale_members.py, not asserted here
    assert len(u.members) == 500 and len(u.sectors) == 11 and len(u.aggregate_sectors) == 11
    assert u.instruments[0] is u.benchmark and len(u.instruments) == 501  # no prices for aggregates
    counts = {s.ticker: len(u.members_of(s.ticker)) for s in u.sectors}
    assert counts["AGG_XLK"] == 70 and counts["AGG_XLE"] == 22 and sum(counts.values()) == 500
    sectors = {s.ticker: s for s in u.sectors}
    for m in u.members:
        sector = sectors[m.sector]
        inherited = [d for d in ("cycle", "rates", "inflation", "risk") if d not in m.own_characteristics]
        assert [getattr(m, d) for d in inherited] == [getattr(sector, d) for d in inherited]
    tech = {m.ticker: m for m in u.members_of("AGG_XLK")}
    # TECH001 sets only its cycle (semiconductors); the rest is Technology's
    assert (tech["TECH001"].cycle, tech["TECH001"].risk, tech["TECH001"].own_characteristics) == (0.9, 1.0, ("cycle",))
    assert (tech["TECH011"].cycle, tech["TECH011"].own_characteristics) == (0.6, ())
    # an aggregate starts with its earliest member; some members list later
    assert all(s.inception == dt.date(1998, 12, 22) for s in u.sectors)
    assert u.inception_of("AGG_XLK") == dt.date(1998, 12, 22)
    assert sum(m.inception > dt.date(1999, 1, 1) for m in u.members) == 50
    frame = u.members_frame()
    assert frame.height == 500 and frame["weight"].null_count() == 500
    assert frame.filter(ticker="FINL061").row(0, named=True) | {} == {
        "ticker": "FINL061", "name": "FINL061", "sector": "AGG_XLF", "sector_name": "Financials",
        "inception": dt.date(1998, 12, 22), "weight": None, "cycle": 0.7, "rates": 0.6, "inflation": 0.2,
        "risk": 0.2, "own_characteristics": "rates,risk"}
    roles = u.instruments_frame().group_by("role").len()
    assert dict(roles.iter_rows()) == {"benchmark": 1, "sector": 11, "member": 500, "macro": 18}


def test_the_etf_universe_has_no_members(universe):
    assert universe.members == () and universe.aggregate_sectors == ()
    assert universe.instruments == (universe.benchmark, *universe.sectors)
    assert universe.members_frame().height == 0


def test_members_reference_sectors_by_ticker_or_name_with_weights(tmp_path):
    u = load_universe(_members_file(tmp_path, """
    { ticker = "T1", sector = "AGG_T", inception = 2000-01-03, weight = 2 },
    { ticker = "T2", sector = "Tech", inception = 2005-06-01, risk = -0.5, name = "Two", weight = 0.5 },
    { ticker = "U1", sector = "Utilities", inception = 1999-01-04 },
"""))
    t1, t2, u1 = u.members
    assert (t1.sector, t1.weight, t1.name, t1.cycle) == ("AGG_T", 2.0, "T1", 0.6)
    assert (t2.sector, t2.weight, t2.name, t2.risk, t2.rates, t2.own_characteristics) == (
        "AGG_T", 0.5, "Two", -0.5, -0.4, ("risk",))
    # members of a tradable sector (an ETF and a holding) are allowed; only aggregates are computed
    assert u1.sector == "ETF_U" and u.sectors[1].inception == dt.date(2001, 1, 2)
    assert u.tickers == ["IDX", "ETF_U", "T1", "T2", "U1"]
    assert u.members_frame(aggregates_only=True)["ticker"].to_list() == ["T1", "T2"]
    assert u.inception_of("AGG_T") == dt.date(2000, 1, 3)


@pytest.mark.parametrize("members, message", [
    ('{ ticker = "T1", sector = "Energy", inception = 2000-01-03 }',
     "member #1 (T1) has sector = 'Energy', expected the ticker or name of a [[sectors]] entry: AGG_T (Tech), "
     "ETF_U (Utilities)"),
    ('{ ticker = "T1", sector = "AGG_T" }', "member #1 (T1) is missing the field 'inception'"),
    ('{ ticker = "T1", inception = 2000-01-03 }', "member #1 (T1) is missing the field 'sector'"),
    ('{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03, wieght = 1 }', "unknown field(s) ['wieght']"),
    ('{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03, weight = 0 }',
     "member #1 (T1) has weight = 0, expected a positive number"),
    ('{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03, weight = true }',
     "weight = True, expected a positive"),
    ('{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03, risk = 1.5 }',
     "member #1 (T1) has risk = 1.5, expected a number in [-1, +1]"),
    ('{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03, weight = 1 },\n'
     '{ ticker = "T2", sector = "AGG_T", inception = 2000-01-03 }',
     "some members of AGG_T have a weight and others not"),
    ('{ ticker = "ETF_U", sector = "AGG_T", inception = 2000-01-03 }', "duplicate tickers ['ETF_U']"),
    ('{ ticker = "T1", sector = "AGG_T", inception = "2000-02-30" }', "member #1 (T1) has date '2000-02-30'"),
    ('"T1"', "member #1 must be a table"),
])
def test_bad_member_entry_names_file_and_entry(tmp_path, members, message):
    _assert_refused(_members_file(tmp_path, members), message)


def test_aggregate_sector_rules(tmp_path):
    no_members = _members_file(tmp_path, '{ ticker = "U1", sector = "ETF_U", inception = 2000-01-03 }')
    with pytest.raises(UniverseError, match=r"sector #1 \(AGG_T\) is an aggregate without members"):
        load_universe(no_members)
    late = _MEMBER_HEAD.replace('aggregate = true,', 'aggregate = true, inception = 2001-01-02,')
    with pytest.raises(UniverseError, match="inception = 2001-01-02 but its earliest member starts on 2000-01-03"):
        load_universe(_members_file(tmp_path, '{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03 }', late))
    same = _MEMBER_HEAD.replace('aggregate = true,', 'aggregate = true, inception = 2000-01-03,')
    assert load_universe(_members_file(tmp_path, '{ ticker = "T1", sector = "AGG_T", inception = 2000-01-03 }',
                                       same)).sectors[0].inception == dt.date(2000, 1, 3)
    ambiguous = _MEMBER_HEAD.replace('sector = "Utilities"', 'sector = "Tech"')
    with pytest.raises(UniverseError, match="the name of several sectors .AGG_T, ETF_U.: use the sector's ticker"):
        load_universe(_members_file(tmp_path, '{ ticker = "T1", sector = "Tech", inception = 2000-01-03 }', ambiguous))


def test_a_members_list_written_after_a_table_header_is_explained(tmp_path):
    # In TOML a key after [[sectors]] belongs to that sector: the loader says so instead of ignoring it.
    path = _write(tmp_path, _HEAD + 'members = [{ ticker = "T1", sector = "XLK", inception = 2000-01-03 }]\n')
    with pytest.raises(UniverseError, match=r"sector #1 \(XLK\) has unknown field\(s\) \['members'\] \(a top-level"):
        load_universe(path)
    with pytest.raises(UniverseError, match="members must be a list of tables"):
        load_universe(_write(tmp_path, 'members = "T1"\n' + _HEAD))


def test_macro_series_shared_from_another_file(tmp_path, universe):
    assert load_universe(SYNTHETIC_500).macro == universe.macro  # macro_from = "sp500_sectors.toml"
    (tmp_path / "shared.toml").write_text(_HEAD + "[[macro]]\n" + _BASE + 'kind = "price"\n')
    assert [m.ticker for m in load_universe(_write(tmp_path, 'macro_from = "shared.toml"\n' + _HEAD)).macro] == ["S"]
    for head, message in (('macro_from = "nope.toml"\n', r"macro_from: cannot read .*nope.toml"),
                          ('macro_from = 3\n', "macro_from = 3, expected the path of another universe file"),
                          ('macro_from = "universe.toml"\n', "takes its macro series from another file itself")):
        path = _write(tmp_path, head + _HEAD)
        with pytest.raises(UniverseError, match=message):
            load_universe(path)
    with pytest.raises(UniverseError, match="has both macro_from and"):
        load_universe(_with_macro(tmp_path, _BASE + 'kind = "price"\n', 'macro_from = "shared.toml"\n' + _HEAD))
    bad = tmp_path / "shared.toml"
    bad.write_text(_HEAD + "[[macro]]\n" + _BASE + 'kind = "ratio"\n')
    with pytest.raises(UniverseError, match=r"shared.toml: macro series #1 \(s\) has kind = 'ratio'"):
        load_universe(_write(tmp_path, 'macro_from = "shared.toml"\n' + _HEAD))
