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
    path = _write(tmp_path, body)
    with pytest.raises(UniverseError) as err:
        load_universe(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_universe_file_names_it(tmp_path):
    with pytest.raises(UniverseError, match="cannot read universe file .*nope.toml"):
        load_universe(tmp_path / "nope.toml")


def test_packaged_default_path_exists():
    assert DEFAULT_UNIVERSE_PATH.exists()
