"""Trading sessions of the universe's exchange (exchange-calendars), the basis of partitions and lookbacks."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

PARTITIONS_START = dt.date(1999, 1, 4)  # first weekday on which all nine original sector SPDRs traded
_CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=4)
def _calendar(name: str, end_year: int) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(name, start=_CALENDAR_START, end=f"{end_year}-12-31")


def _cal(name: str, up_to: dt.date) -> xcals.ExchangeCalendar:
    # exchange-calendars only knows sessions up to its `end`; size it to the request (cached per year). Two
    # years past today covers every window a run asks for, so one calendar is built per process (0.6 s each).
    return _calendar(name, max(up_to.year + 1, dt.date.today().year + 2))


def sessions(start: dt.date, end: dt.date, calendar: str = "XNYS") -> list[dt.date]:
    """Trading sessions in [start, end) (end exclusive, like partition windows and yfinance)."""
    if end <= start:
        return []
    last = end - dt.timedelta(days=1)
    idx = _cal(calendar, last).sessions_in_range(pd.Timestamp(start), pd.Timestamp(last))
    return [d.date() for d in idx]


def is_session(day: dt.date, calendar: str = "XNYS") -> bool:
    return _cal(calendar, day).is_session(pd.Timestamp(day))


def sessions_before(day: dt.date, count: int, calendar: str = "XNYS") -> dt.date:
    """The session `count` sessions before `day` (the first session of a lookback window ending at `day`)."""
    if count <= 0:
        return day
    cal = _cal(calendar, day)
    first = cal.date_to_session(pd.Timestamp(day), direction="next")
    idx = cal.sessions.get_loc(first)
    return cal.sessions[max(idx - count, 0)].date()


def unclosed_sessions(days: list[dt.date], now: pd.Timestamp, calendar: str = "XNYS") -> list[dt.date]:
    """Sessions among `days` whose close has not happened yet at `now` (their bar would be intraday)."""
    if not days:
        return []
    cal = _cal(calendar, days[-1])
    return [d for d in days if cal.session_close(pd.Timestamp(d)) > now]


def week_end_sessions(start: dt.date, end: dt.date, calendar: str = "XNYS") -> list[dt.date]:
    """Sessions in [start, end) that are the last session of their ISO week (Thursday before a holiday Friday)."""
    days = sessions(start, end + dt.timedelta(days=7), calendar)
    return [d for d, nxt in zip(days, days[1:]) if d < end and nxt.isocalendar()[:2] != d.isocalendar()[:2]]


def last_closed_session(now: pd.Timestamp, calendar: str = "XNYS") -> dt.date:
    """The latest session whose close is at or before `now` (a tz-aware timestamp)."""
    today = now.tz_convert("UTC").date()
    days = sessions(today - dt.timedelta(days=14), today + dt.timedelta(days=1), calendar)
    pending = set(unclosed_sessions(days, now, calendar))
    closed = [d for d in days if d not in pending]
    if not closed:
        raise ValueError(f"no {calendar} session closed in the two weeks before {now}")
    return closed[-1]


def closes_at(day: dt.date, calendar: str = "XNYS") -> str:
    """When `day`'s session closes, in the exchange's time zone ('16:00 America/New_York'), or why there is none."""
    cal = _cal(calendar, day)
    if not cal.is_session(pd.Timestamp(day)):
        return f"{day} is not a {calendar} session (weekend or holiday)"
    close = cal.session_close(pd.Timestamp(day)).tz_convert(cal.tz)
    return f"{close:%H:%M} {cal.tz}"


def session_close(day: dt.date, calendar: str = "XNYS") -> pd.Timestamp:
    """The close of `day`'s session (tz-aware, UTC)."""
    return _cal(calendar, day).session_close(pd.Timestamp(day))
