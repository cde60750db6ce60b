"""Economic series from FRED (Federal Reserve Bank of St. Louis) through its public CSV download.

``https://fred.stlouisfed.org/graph/fredgraph.csv?id=<ID>&cosd=<first>&coed=<last>`` needs no API key and
answers one series per request (first and last observation dates inclusive). What this module relies on:

* the body is CSV with a header ``observation_date,<ID>`` (since late 2024) or ``DATE,<ID>`` (before), then
  one ``yyyy-mm-dd,<value>`` line per observation, dated by the period the value describes (the 1st of the
  month for monthly series, the 1st of the quarter for quarterly ones);
* a missing observation is ``.`` (older files) or an empty field: it is dropped, never read as zero;
* an unknown id gets HTTP 404 with an HTML page; rate limiting is HTTP 429; both are not CSV.

Values are FRED's current vintage: a month's CPI as revised since, not as first published (true vintages
need ALFRED). Release dates are attached with ``release_sessions`` from the universe's ``release_lag_days``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Sequence

import polars as pl

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import (
    OBSERVATION_SCHEMA,
    empty_macro,
    observation_window,
    release_sessions,
)
from sector_pipeline.universe import MacroSeries

logger = logging.getLogger(__name__)

FRED_CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
_DATE_HEADERS = ("observation_date", "DATE")
_MISSING = frozenset({"", "."})
_USER_AGENT = "sector_pipeline (FRED csv download)"


@dataclass(frozen=True)
class HttpResponse:
    """What the pipeline needs of an HTTP answer: status code and decoded body."""

    status: int
    body: str


HttpGet = Callable[[str, float], HttpResponse]


def urllib_get(url: str, timeout: float) -> HttpResponse:
    """GET `url`; an HTTP error status is returned as a response, network failures raise (URLError, timeout)."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (https URL built here)
            return HttpResponse(answer.status, answer.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as exc:  # a subclass of URLError: must be caught first
        body = exc.read().decode("utf-8", errors="replace") if exc.fp is not None else ""
        return HttpResponse(exc.code, body)


def fred_csv_url(series_id: str, first: dt.date, last: dt.date) -> str:
    """The download URL of one series' observations dated first..last (both inclusive, as FRED reads them)."""
    query = urllib.parse.urlencode({"id": series_id, "cosd": first.isoformat(), "coed": last.isoformat()})
    return f"{FRED_CSV_URL}?{query}"


def parse_fred_csv(text: str, series_id: str, url: str = "") -> pl.DataFrame:
    """A fredgraph.csv body as OBSERVATION_SCHEMA rows; missing observations are dropped.

    Anything unexpected (HTML instead of CSV, another series' header, a date or value that does not parse,
    a date repeated or out of order) is a SourceError naming the series, the line and the text found.
    """
    where = f"FRED series {series_id}" + (f" ({url})" if url else "")
    lines = text.lstrip("\ufeff").splitlines()
    header = lines[0].strip() if lines else ""
    names = [name.strip() for name in header.split(",")]
    if len(names) != 2 or names[0] not in _DATE_HEADERS or names[1].upper() != series_id.upper():
        raise SourceError(f"{where}: line 1 is {header[:120]!r}, expected the header "
                          f"'observation_date,{series_id}' (or the older 'DATE,{series_id}')")
    dates: list[dt.date] = []
    values: list[float] = []
    previous: dt.date | None = None
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2:
            raise SourceError(f"{where}: line {number} is {line[:120]!r}, expected 'yyyy-mm-dd,value'")
        raw_date, raw_value = fields
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            raise SourceError(f"{where}: line {number} has date {raw_date!r}, expected yyyy-mm-dd") from None
        if previous is not None and day <= previous:
            raise SourceError(f"{where}: line {number} has date {day}, not after the previous line's {previous}")
        previous = day
        if raw_value in _MISSING:
            continue
        try:
            value = float(raw_value)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SourceError(f"{where}: line {number} has value {raw_value!r} on {day}, expected a number "
                              "or '.' for a missing observation")
        dates.append(day)
        values.append(value)
    return pl.DataFrame({"observation_date": dates, "value": values}, schema=OBSERVATION_SCHEMA)


def _is_retryable(status: int) -> bool:
    return status == 429 or 500 <= status < 600


class FredClient:
    """FRED's public CSV download with retries; the HTTP call (`http_get`) is injectable for offline tests."""

    name = "fred"

    def __init__(self, *, http_get: HttpGet = urllib_get, timeout_seconds: float = 30.0, max_attempts: int = 4,
                 backoff_seconds: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                 calendar: str = "XNYS") -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self._http_get = http_get
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self.calendar = calendar

    def observations(self, series_id: str, first: dt.date, last: dt.date) -> pl.DataFrame:
        """OBSERVATION_SCHEMA rows of one series dated first..last (inclusive); SourceError when FRED fails."""
        url = fred_csv_url(series_id, first, last)
        failure = ""
        for attempt in range(self.max_attempts):
            try:
                answer = self._http_get(url, self.timeout_seconds)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                # Network down, DNS failure, refused connection, timeout: worth another try.
                failure = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            else:
                if answer.status == 200:
                    frame = parse_fred_csv(answer.body, series_id, url)
                    return frame.filter(pl.col("observation_date").is_between(first, last))
                if answer.status == 404:
                    raise SourceError(f"FRED has no series {series_id!r} (HTTP 404 from {url}); check the "
                                      "ticker of the universe entry (FRED ids look like CPIAUCSL, DGS10)")
                if not _is_retryable(answer.status):
                    raise SourceError(f"FRED answered HTTP {answer.status} for series {series_id} ({url}): "
                                      f"{answer.body[:200]!r}")
                failure = f"HTTP {answer.status}"
            if attempt + 1 < self.max_attempts:
                delay = self.backoff_seconds * 2 ** attempt
                logger.warning("FRED: %s for %s (attempt %d of %d); retrying in %.1f s", failure, series_id,
                               attempt + 1, self.max_attempts, delay)
                self._sleep(delay)
        raise SourceError(f"FRED series {series_id}: no answer after {self.max_attempts} attempts "
                          f"(last failure: {failure}) from {url}")

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """MACRO_SCHEMA rows of FRED series whose release session is in [start, end), `source` = "fred"."""
        frames = []
        for s in dict.fromkeys(series):
            if s.provider != "fred":
                raise SourceError(f"FRED client asked for {s.series} ({s.ticker}), a {s.provider!r} series")
            first, stop = observation_window(s, start, end)
            if stop <= first or start >= end:
                continue
            observed = self.observations(s.ticker, first, stop - dt.timedelta(days=1))
            frames.append(release_sessions(observed, s, self.calendar, source=self.name, start=start, end=end))
        return pl.concat(frames) if frames else empty_macro()
