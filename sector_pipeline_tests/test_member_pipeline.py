"""A stock-level universe through the real Definitions: sectors computed from their members, members ranked."""

import datetime as dt

import pytest

from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import THROUGH_SIGNALS, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
UNIVERSE = """
name = "Two sectors of three stocks"
calendar = "XNYS"
macro_from = "{macro}"
benchmark = {{ ticker = "SPY", name = "S&P 500", inception = 1993-01-29 }}
sectors = [
  {{ ticker = "AGG_T", sector = "Technology", aggregate = true, cycle = 0.6, rates = -0.4, inflation = -0.4, risk = 1.0 }},
  {{ ticker = "AGG_U", sector = "Utilities", aggregate = true, cycle = -1.0, rates = -1.0, inflation = 0.0, risk = -1.0 }},
  {{ ticker = "AGG_E", sector = "Energy", aggregate = true, cycle = 0.5, rates = 0.4, inflation = 1.0, risk = 0.2 }},
]
members = [
  {{ ticker = "T1", sector = "AGG_T", inception = 1998-12-22 }}, {{ ticker = "T2", sector = "AGG_T", inception = 1998-12-22 }},
  {{ ticker = "T3", sector = "AGG_T", inception = 2024-02-01, cycle = 0.9 }},
  {{ ticker = "U1", sector = "AGG_U", inception = 1998-12-22 }}, {{ ticker = "U2", sector = "AGG_U", inception = 1998-12-22 }},
  {{ ticker = "E1", sector = "AGG_E", inception = 1998-12-22 }}, {{ ticker = "E2", sector = "AGG_E", inception = 1998-12-22 }},
]
"""


@pytest.fixture(scope="module")
def members_run(tmp_path_factory):
    from sector_pipeline.universe import DEFAULT_UNIVERSE_PATH

    root = tmp_path_factory.mktemp("members")
    universe = root / "u.toml"
    universe.write_text(UNIVERSE.format(macro=DEFAULT_UNIVERSE_PATH))
    path = root / "w.duckdb"
    result = run_range(definitions(path, universe_path=str(universe)), D(2024, 1, 2), D(2024, 6, 28),
                       selection=THROUGH_SIGNALS.upstream() | THROUGH_SIGNALS)
    assert result.success
    return Warehouse(path)


def test_a_sector_is_the_equal_weight_mean_of_its_members_returns(members_run):
    rows = members_run.query("select date, ticker, total_return_1d, members_held from intermediate.int_total_returns "
                             "where ticker in ('T1', 'T2', 'T3', 'AGG_T') and date in ('2024-01-31', '2024-02-02')")
    day = {(d, t): (r, n) for d, t, r, n in rows.rows()}
    # before T3 lists: two members; the session after T3's first close: three
    assert day[(D(2024, 1, 31), "AGG_T")][1] == 2
    assert day[(D(2024, 1, 31), "AGG_T")][0] == pytest.approx(
        (day[(D(2024, 1, 31), "T1")][0] + day[(D(2024, 1, 31), "T2")][0]) / 2, rel=1e-12)
    assert day[(D(2024, 2, 2), "AGG_T")][1] == 3
    assert day[(D(2024, 2, 2), "AGG_T")][0] == pytest.approx(
        sum(day[(D(2024, 2, 2), t)][0] for t in ("T1", "T2", "T3")) / 3, rel=1e-12)
    # the member rows are members, the aggregates sectors, in the point-in-time membership
    roles = dict(members_run.query("select ticker, any_value(role) from raw.universe_membership group by all").rows())
    assert roles["AGG_T"] == "sector" and roles["T1"] == "member" and roles["SPY"] == "benchmark"


def test_sectors_are_ranked_from_their_aggregates_and_members_across_and_within_sectors(members_run):
    sectors = members_run.query("select distinct ticker from signals.sector_rankings where is_ranked")
    assert set(sectors.get_column("ticker")) == {"AGG_T", "AGG_U", "AGG_E"}
    last = members_run.query("select * from signals.member_rankings where date = '2024-06-28' and is_ranked")
    assert sorted(last.get_column("rank").to_list()) == list(range(1, last.height + 1))
    for _, group in last.group_by("sector"):
        assert sorted(group.get_column("sector_rank").to_list()) == list(range(1, group.height + 1))
    rotation = members_run.query("select distinct against, reference from signals.member_rotation "
                                 "where ticker = 'U1'").rows()
    assert sorted(rotation) == [("benchmark", "SPY"), ("sector", "AGG_U")]
    assert members_run.query("select count(*) from signals.sentiment_scores").item() > 0
