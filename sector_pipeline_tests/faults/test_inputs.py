"""Bad input: a malformed universe file, an unknown source or calendar (refused when the definitions load), CSV
files in UTF-16 (read) or a legacy encoding (refused naming file, line and byte), bad MCP arguments."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from sector_pipeline.defs import build_definitions
from sector_pipeline.errors import ConfigurationError
from sector_pipeline.mcp_server import MartsQueryError, PublishedMarts
from sector_pipeline.settings import Settings
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH, UniverseError
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import (
    NEXT_FIRST,
    NEXT_LAST,
    Stored,
    headlines,
    pipeline,
    table_hashes,
    tree_hashes,
)

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

UNIVERSE = DEFAULT_UNIVERSE_PATH.read_text()


def broken(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "universe.toml"
    path.write_text(text)
    return {"SECTOR_PIPELINE_UNIVERSE": str(path)}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('ticker = "XLK"', 'ticker = "XLK'), "not valid TOML"),
    (lambda t: t.replace("inception = 1998-12-22\ncycle = 0.6", "inception = 1998-12-22"),
     "sector #1 (XLK) is missing the field 'cycle'"),
    (lambda t: t.replace("cycle = 0.6", "cycle = 1.6", 1), "cycle = 1.6, expected a number in [-1, +1]"),
    (lambda t: t.replace('calendar = "XNYS"', 'calendar = "NYSE_TYPO"'), "calendar 'NYSE_TYPO' is not an exchange_"
                                                                            "calendars name"),
], ids=["toml_syntax", "missing_field", "out_of_range", "unknown_calendar"])
def test_a_malformed_universe_is_refused_when_the_definitions_load(stored: Stored, tmp_path: Path, edit,
                                                                   message: str) -> None:
    before = table_hashes(stored.warehouse)
    environ = broken(tmp_path, edit(UNIVERSE))
    with pytest.raises(UniverseError) as error:
        Settings.from_env({**environ, "SECTOR_PIPELINE_WAREHOUSE": str(stored.warehouse)})
    assert str(tmp_path / "universe.toml") in str(error.value) and message in str(error.value)
    assert table_hashes(stored.warehouse) == before


def test_an_unknown_source_is_refused_when_the_definitions_load(stored: Stored) -> None:
    before = table_hashes(stored.warehouse)
    with pytest.raises(ConfigurationError, match="unknown data source 'bloomberg'; choose one of synthetic, yfinance, "
                                                 "csv"):
        build_definitions(Settings.from_env({"SECTOR_PIPELINE_SOURCE": "Bloomberg",
                                             "SECTOR_PIPELINE_WAREHOUSE": str(stored.warehouse)}))
    assert table_hashes(stored.warehouse) == before


def csv_prices(universe, folder: Path) -> pl.DataFrame:
    """The synthetic market's prices of the next window in one long CSV layout (without the source column)."""
    folder.mkdir()
    return (SyntheticSource(universe, seed=42).fetch_prices(universe.instruments, NEXT_FIRST,
                                                            NEXT_LAST + dt.timedelta(days=1))
            .select("date", "ticker", "open", "high", "low", "close", "adj_close", "volume"))


def test_a_utf16_csv_is_read_not_skipped(stored: Stored, universe, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    prices = csv_prices(universe, folder)
    # a spreadsheet's "Unicode text": UTF-16 little-endian with a byte order mark and CRLF line ends
    (folder / "prices.csv").write_bytes(prices.write_csv().replace("\n", "\r\n").encode("utf-16"))
    before = Warehouse(stored.warehouse).query("select * from raw.prices order by all")
    defs = pipeline(stored.warehouse, source="csv", csv_dir=str(folder))
    assert run_range(defs, NEXT_FIRST, NEXT_LAST, selection="raw/prices").success
    store = Warehouse(stored.warehouse)
    assert store.query("select * from raw.prices where date < $d order by all", {"d": NEXT_FIRST}).equals(before)
    window = store.query("select date, ticker, close from raw.prices where date >= $d order by all", {"d": NEXT_FIRST})
    assert window.equals(prices.select("date", "ticker", "close").sort(pl.all()))


def test_a_latin1_csv_fails_naming_file_line_and_byte(stored: Stored, universe, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    text = csv_prices(universe, folder).write_csv()
    lines = text.splitlines()
    lines[5] = lines[5].replace(",", ",café ", 1)   # a stray Latin-1 word on line 6
    (folder / "prices.csv").write_bytes("\n".join(lines).encode("latin-1"))
    before = table_hashes(stored.warehouse)
    result = run_range(pipeline(stored.warehouse, source="csv", csv_dir=str(folder)), NEXT_FIRST, NEXT_LAST,
                       raise_on_error=False, selection="raw/prices")
    assert not result.success
    (headline,) = headlines(result)
    assert re.match(rf"{re.escape(str(folder / 'prices.csv'))}: line 6, character \d+: byte 0xe9 is not valid "
                    "UTF-8", headline)
    assert table_hashes(stored.warehouse) == before


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: m.sector_heatmap(date="2024-13-01"), "malformed date '2024-13-01'"),
    (lambda m: m.sector_heatmap(kind="prices"), "unknown kind 'prices'; expected one of: returns, scores"),
    (lambda m: m.sector_performance(sectors=["XLQ"]), "unknown sector 'XLQ'"),
    (lambda m: m.sector_performance(window="3D"), "unknown window '3D'"),
    (lambda m: m.market_overview(date="1999-01-04"), "no data for 1999-01-04 in marts.market_overview"),
    (lambda m: m.sentiment(days=10**6), "days must be between 1 and 260, got 1000000"),
    (lambda m: m.alerts(start="2024-04-30", end="2024-04-01"), "start 2024-04-30 is after end 2024-04-01"),
    (lambda m: m.macro_indicators(series=["'; drop table marts.alerts; --"]), "unknown series"),
], ids=["bad_date", "bad_kind", "unknown_sector", "bad_window", "no_data", "too_many_days", "reversed_range",
        "injection"])
def test_bad_mcp_arguments_are_clear_errors_and_touch_nothing(stored: Stored, call, message: str) -> None:
    published = tree_hashes(stored.published)
    with pytest.raises(MartsQueryError) as error:
        call(PublishedMarts(stored.published))
    assert message in str(error.value)
    assert tree_hashes(stored.published) == published
