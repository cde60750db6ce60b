"""FredClient offline: only the HTTP call is replaced, by answers shaped like fred.stlouisfed.org's."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Callable, Iterator

import polars as pl
import pytest

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import MACRO_SCHEMA, release_sessions
from sector_pipeline.sources.fred import FredClient, HttpResponse, fred_csv_url, parse_fred_csv, urllib_get
from sector_pipeline.universe import MacroSeries, Universe

D = dt.date
CPI = MacroSeries("cpi_index", "CPIAUCSL", "index", D(1947, 1, 1), provider="fred", frequency="monthly",
                  release_lag_days=48)
DGS10 = MacroSeries("treasury_10y_yield_pct", "DGS10", "yield_pct", D(1962, 1, 2), provider="fred",
                    frequency="daily", release_lag_days=1)

# The current download (header observation_date since late 2024; missing values are empty fields).
CPI_CSV = ("observation_date,CPIAUCSL\n"
           "2019-08-01,256.036\n2019-09-01,256.430\n2019-10-01,257.155\n2019-11-01,257.879\n")
# The legacy layout (header DATE, '.' for a missing value): Veterans Day 2019 had no Treasury yields.
DGS10_LEGACY_CSV = ("DATE,DGS10\r\n2019-11-07,1.92\r\n2019-11-08,1.94\r\n2019-11-11,.\r\n2019-11-12,1.92\r\n"
                    "2019-11-13,1.88\r\n")
NOT_FOUND_HTML = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Error - St. Louis Fed</title></head>\n"
                  "<body><h1>Error</h1><p>The series does not exist.</p></body>\n</html>\n")
TOO_MANY = "<html><body><h1>429 Too Many Requests</h1></body></html>"


class FakeFred:
    """Stands in for the HTTP call; answers in turn (an exception is raised), records the URLs asked for."""

    def __init__(self, *answers: HttpResponse | BaseException | Callable[[str], HttpResponse]):
        self.answers = list(answers)
        self.urls: list[str] = []
        self.timeouts: list[float] = []

    def __call__(self, url: str, timeout: float) -> HttpResponse:
        self.urls.append(url)
        self.timeouts.append(timeout)
        answer = self.answers[min(len(self.urls), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer(url) if callable(answer) else answer


def client(fake: FakeFred, sleeps: list[float] | None = None) -> FredClient:
    return FredClient(http_get=fake, sleep=(sleeps if sleeps is not None else []).append, timeout_seconds=7.5)


def test_current_csv_monthly_series_is_released_after_its_lag() -> None:
    fake = FakeFred(HttpResponse(200, CPI_CSV))
    rows = client(fake).fetch_macro([CPI], D(2019, 11, 1), D(2020, 1, 1))

    assert dict(rows.schema) == MACRO_SCHEMA
    # 2019-10-01 + 48 days = Mon 2019-11-18; 2019-11-01 + 48 days = Thu 2019-12-19 (both sessions).
    assert rows.rows() == [
        (D(2019, 11, 18), "cpi_index", "CPIAUCSL", D(2019, 10, 1), 257.155, "fred"),
        (D(2019, 12, 19), "cpi_index", "CPIAUCSL", D(2019, 11, 1), 257.879, "fred"),
    ]
    # One request over the observations that can be released in the window, with a timeout.
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(fake.urls[0]).query)
    assert fake.urls[0].startswith("https://fred.stlouisfed.org/graph/fredgraph.csv?")
    assert query == {"id": ["CPIAUCSL"], "cosd": ["2019-08-31"], "coed": ["2019-11-13"]}
    assert fake.timeouts == [7.5]


def test_a_value_is_invisible_before_its_release_session() -> None:
    fake = FakeFred(HttpResponse(200, CPI_CSV))
    # The November CPI (public 2019-12-19) is not in a window ending on 2019-12-19 (end exclusive) ...
    before = client(fake).fetch_macro([CPI], D(2019, 12, 1), D(2019, 12, 19))
    assert before.height == 0
    # ... and is on the 19th itself.
    on_the_day = client(FakeFred(HttpResponse(200, CPI_CSV))).fetch_macro([CPI], D(2019, 12, 19), D(2019, 12, 20))
    assert on_the_day.select("date", "observation_date", "value").rows() == [
        (D(2019, 12, 19), D(2019, 11, 1), 257.879)]


def test_legacy_csv_missing_values_are_dropped_and_daily_values_wait_one_session() -> None:
    rows = client(FakeFred(HttpResponse(200, DGS10_LEGACY_CSV))).fetch_macro([DGS10], D(2019, 11, 8), D(2019, 11, 15))
    # Fri 11-08 is public from Sat 11-09, i.e. on Mon 11-11 (an NYSE session, bond market closed); nothing
    # was observed on 11-11, so 11-12 gets no new value; 11-12 is public on 11-13, 11-13 on 11-14.
    assert rows.select("date", "observation_date", "value").rows() == [
        (D(2019, 11, 8), D(2019, 11, 7), 1.92),
        (D(2019, 11, 11), D(2019, 11, 8), 1.94),
        (D(2019, 11, 13), D(2019, 11, 12), 1.92),
        (D(2019, 11, 14), D(2019, 11, 13), 1.88),
    ]
    assert 0.0 not in rows["value"].to_list()


def test_two_observations_public_on_one_session_keep_the_later() -> None:
    # Good Friday 2015: NYSE closed, bond market open (a jobs report day). Thursday's and Friday's yields
    # both become public on Monday 2015-04-06; Friday's is the latest known then.
    body = "observation_date,DGS10\n2015-04-01,1.87\n2015-04-02,1.92\n2015-04-03,1.85\n2015-04-06,1.90\n"
    rows = client(FakeFred(HttpResponse(200, body))).fetch_macro([DGS10], D(2015, 4, 1), D(2015, 4, 8))
    assert rows.select("date", "observation_date", "value").rows() == [
        (D(2015, 4, 2), D(2015, 4, 1), 1.87),
        (D(2015, 4, 6), D(2015, 4, 3), 1.85),
        (D(2015, 4, 7), D(2015, 4, 6), 1.90),
    ]


def test_rate_limit_then_success_retries_with_backoff() -> None:
    sleeps: list[float] = []
    fake = FakeFred(HttpResponse(429, TOO_MANY), HttpResponse(503, "Service Unavailable"),
                    HttpResponse(200, CPI_CSV))
    rows = client(fake, sleeps).fetch_macro([CPI], D(2019, 11, 1), D(2020, 1, 1))
    assert len(fake.urls) == 3 and len(set(fake.urls)) == 1
    assert sleeps == [2.0, 4.0]
    assert rows["value"].to_list() == [257.155, 257.879]


def test_unknown_series_is_a_404_html_page_and_is_not_retried() -> None:
    sleeps: list[float] = []
    fake = FakeFred(HttpResponse(404, NOT_FOUND_HTML))
    nope = MacroSeries("nope", "NOTASERIES", "level", D(2000, 1, 1), provider="fred", frequency="monthly",
                       release_lag_days=30)
    with pytest.raises(SourceError) as error:
        client(fake, sleeps).fetch_macro([nope], D(2019, 1, 1), D(2020, 1, 1))
    message = str(error.value)
    assert "FRED has no series 'NOTASERIES' (HTTP 404" in message and fake.urls[0] in message
    assert len(fake.urls) == 1 and sleeps == []


@pytest.mark.parametrize("failure", [
    urllib.error.URLError("[Errno -3] Temporary failure in name resolution"),
    TimeoutError("The read operation timed out"),
    ConnectionResetError(104, "Connection reset by peer"),
], ids=["url-error", "timeout", "connection-reset"])
def test_unreachable_fred_fails_after_retries_naming_series_and_url(failure: BaseException) -> None:
    sleeps: list[float] = []
    fake = FakeFred(failure)
    with pytest.raises(SourceError) as error:
        client(fake, sleeps).fetch_macro([CPI], D(2019, 11, 1), D(2020, 1, 1))
    message = str(error.value)
    assert "FRED series CPIAUCSL: no answer after 4 attempts" in message and fake.urls[0] in message
    assert type(failure).__name__ in message
    assert len(fake.urls) == 4 and sleeps == [2.0, 4.0, 8.0]


def test_other_http_errors_fail_at_once() -> None:
    fake = FakeFred(HttpResponse(400, "Bad Request"))
    with pytest.raises(SourceError, match="FRED answered HTTP 400 for series CPIAUCSL"):
        client(fake).fetch_macro([CPI], D(2019, 11, 1), D(2020, 1, 1))
    assert len(fake.urls) == 1


@pytest.mark.parametrize("body, message", [
    (NOT_FOUND_HTML, "line 1 is '<!DOCTYPE html>', expected the header 'observation_date,CPIAUCSL'"),
    ("observation_date,UNRATE\n2019-01-01,4.0\n", "line 1 is 'observation_date,UNRATE'"),
    ("observation_date,CPIAUCSL\n2019-08-01,256.036\n2019-09-01,n/a\n", "line 3 has value 'n/a' on 2019-09-01"),
    ("observation_date,CPIAUCSL\n2019-08-01,256.036\n2019-09-01,inf\n", "line 3 has value 'inf'"),
    ("observation_date,CPIAUCSL\n08/01/2019,256.036\n", "line 2 has date '08/01/2019', expected yyyy-mm-dd"),
    ("observation_date,CPIAUCSL\n2019-08-01,256.036,1\n", "line 2 is '2019-08-01,256.036,1'"),
    ("observation_date,CPIAUCSL\n2019-09-01,256.4\n2019-08-01,256.0\n", "line 3 has date 2019-08-01, not after"),
])
def test_an_unexpected_body_names_series_line_and_value(body: str, message: str) -> None:
    with pytest.raises(SourceError) as error:
        client(FakeFred(HttpResponse(200, body))).fetch_macro([CPI], D(2019, 11, 1), D(2020, 1, 1))
    assert "FRED series CPIAUCSL" in str(error.value) and message in str(error.value)


def test_parse_keeps_exact_values_and_the_url_is_inclusive() -> None:
    frame = parse_fred_csv("\ufeffDATE,T10Y2Y\n2019-08-27,-0.05\n2019-08-28,.\n2019-08-29,\n2019-08-30,0.0\n",
                           "T10Y2Y")
    assert frame.rows() == [(D(2019, 8, 27), -0.05), (D(2019, 8, 30), 0.0)]
    assert fred_csv_url("GDP", D(2019, 1, 1), D(2019, 12, 31)) == (
        "https://fred.stlouisfed.org/graph/fredgraph.csv?id=GDP&cosd=2019-01-01&coed=2019-12-31")


def test_fetch_macro_refuses_market_series(universe: Universe) -> None:
    vix = next(m for m in universe.macro if m.ticker == "^VIX")
    with pytest.raises(SourceError, match="a 'market' series"):
        client(FakeFred()).fetch_macro([vix], D(2019, 1, 1), D(2019, 2, 1))


# --- the default HTTP function against a local server (no internet) ----------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        series = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["id"][0]
        status, body, kind = ((200, CPI_CSV, "text/csv") if series == "CPIAUCSL"
                              else (404, NOT_FOUND_HTML, "text/html"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_fred() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/graph/fredgraph.csv"
    server.shutdown()
    server.server_close()


def test_urllib_get_returns_statuses_and_raises_on_network_failure(local_fred: str) -> None:
    ok = urllib_get(local_fred + "?id=CPIAUCSL", 5.0)
    assert (ok.status, ok.body) == (200, CPI_CSV)
    missing = urllib_get(local_fred + "?id=NOPE", 5.0)
    assert missing.status == 404 and "<title>Error - St. Louis Fed</title>" in missing.body
    with pytest.raises(urllib.error.URLError):
        urllib_get("http://127.0.0.1:1/graph/fredgraph.csv?id=X", 2.0)  # nothing listens on port 1


# --- real data: the FRED file of the real-data folder ------------------------------------------------------

def test_release_sessions_on_real_treasury_yields(realdata_dir: Path) -> None:
    macro = pl.read_csv(realdata_dir / "macro.csv", try_parse_dates=True)
    observed = macro.filter(pl.col("series") == "DGS10").select(pl.col("date").alias("observation_date"), "value")
    rows = release_sessions(observed, DGS10, "XNYS", source="csv", start=D(2015, 4, 1), end=D(2015, 4, 8))
    # Good Friday 2015 (NYSE closed) had a Treasury market and a yield of 1.85: Monday shows it.
    assert rows.select("date", "observation_date", "value").rows() == [
        (D(2015, 4, 1), D(2015, 3, 31), 1.94), (D(2015, 4, 2), D(2015, 4, 1), 1.87),
        (D(2015, 4, 6), D(2015, 4, 3), 1.85), (D(2015, 4, 7), D(2015, 4, 6), 1.92),
    ]
