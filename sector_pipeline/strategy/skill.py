"""Out-of-sample skill of the model's predictions beside two baselines: rank IC and hit rate.

Signals (config.SIGNALS), each a score per sector and session, higher = expected to do better:
  model      prediction_strength (strategy.predictions, out of sample by construction: model.py)
  momentum   relative_strength_change_60d (signals.features): plain 60-session relative momentum
  composite  composite_score (signals.sector_rankings, seed article 004)
Outcome: forward_relative_return over h sessions (model.forward_relative_returns), from the close of the
signal date t to the close of t + h sessions. All three are evaluated on the same signal dates, those where
the model has predictions, and over the sectors that have the signal and the outcome.

Per signal date t:
  ic(t)       = Spearman rank correlation across sectors of signal and outcome (average ranks for ties;
                NULL with fewer than 3 sectors or a constant side)
  hit rate    = hits / counted, where a (sector, t) is counted when its signal and its outcome both differ
                from their cross-sectional means on t (means over the same sectors), and is a hit when both
                lie on the same side of their mean: "predicted to beat the average sector, and did".
Cumulative, over the signal dates up to t:
  ic_mean, ic_std (ddof 1), ic_t_stat = ic_mean / (ic_std / sqrt(n))
  ic_t_stat_non_overlapping: the same over every h-th session from the first evaluated date only. Outcomes
      of consecutive dates share h - 1 of their h daily returns, so daily ICs are strongly autocorrelated and
      ic_t_stat overstates significance by roughly sqrt(h); the non-overlapping t-stat is the honest one
      (the tests and docs use it).
  hit_rate_pooled = all hits / all counted sector-dates.

A row is dated by the session its outcome became known (t + h sessions), not by t: the row for date E can
be computed on the night of E, so the table is partition-consistent like every other.

Continuation (`start=`, `previous=`). The running figures continue from the last stored row of each signal,
which carries its state: the running sums of the ICs and of their squares (all dates and non-overlapping
ones), the running hit and count totals, and the sessions from the first evaluated date to its signal date
(whose multiples of h are the non-overlapping dates). New rows are dated >= start, so their signal dates
are >= start - h sessions: the inputs are read from `skill_read_start` (h + 1 sessions before start, to
also see the last stored signal date and count sessions from it).
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from sector_pipeline.calendar import sessions_before
from sector_pipeline.contracts import columns, schema_of
from sector_pipeline.contracts.strategy import Skill
from sector_pipeline.strategy import panel
from sector_pipeline.strategy.config import SIGNALS
from sector_pipeline.strategy.model import forward_relative_returns
from sector_pipeline.strategy.state import ContinuationError, last_rows, running_sum

# Columns and types of strategy.skill: its contract (contracts/strategy.py) lists and describes them, the state
# of the running figures included (sums of the ICs and their squares, hit and count totals, sessions since the
# first IC), so that a run continues from the last stored row of each signal.
SKILL_COLUMNS = columns(Skill)
_SCHEMA = schema_of(Skill)


def signal_frames(predictions: pl.LazyFrame, features: pl.LazyFrame, rankings: pl.LazyFrame
                  ) -> dict[str, pl.LazyFrame]:
    """(date, ticker, value) of each signal of config.SIGNALS, for ranked sectors only."""
    ranked = rankings.filter(pl.col("is_ranked")).select("date", "ticker")
    return {
        "model": predictions.select("date", "ticker", pl.col(SIGNALS["model"]).alias("value")),
        "momentum": ranked.join(features.select("date", "ticker", pl.col(SIGNALS["momentum"]).alias("value")),
                                on=["date", "ticker"], how="inner"),
        "composite": rankings.filter(pl.col("is_ranked"))
        .select("date", "ticker", pl.col(SIGNALS["composite"]).alias("value")),
    }


def hits_per_row(signal: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hits, counted) per row; see the module docstring for the definition."""
    both = ~np.isnan(signal) & ~np.isnan(outcome)
    s = np.where(both, signal, np.nan)
    y = np.where(both, outcome, np.nan)
    ds = s - panel.row_mean(s)[:, None]
    dy = y - panel.row_mean(y)[:, None]
    counted = both & (ds != 0) & (dy != 0)
    hits = counted & (np.sign(ds) == np.sign(dy))
    return hits.sum(axis=1), counted.sum(axis=1)


def _t_stat(mean: np.ndarray, std: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 1) & (std > 0), mean / (std / np.sqrt(n)), np.nan)


def _running_moments(values: np.ndarray, include: np.ndarray, n0: int, sum0: float, squares0: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Running n, sum, sum of squares, mean and sample std of `values` where `include`, continued from a state."""
    x = np.where(include, values, 0.0)
    n = n0 + np.cumsum(include.astype(np.int64))
    s1 = running_sum(sum0, x)
    s2 = running_sum(squares0, x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        var = np.where(n > 1, (s2 - s1 * s1 / np.maximum(n, 1)) / np.maximum(n - 1, 1), np.nan)
    return n, s1, s2, mean, np.sqrt(np.maximum(var, 0.0))


def skill_lookback_sessions(horizon: int) -> int:
    """Sessions of inputs read before `start`: signal dates from start - h on, and the last stored one before."""
    return horizon + 1


def skill_read_start(start: dt.date, previous: pl.DataFrame | pl.LazyFrame | None, *, horizon: int,
                     calendar: str = "XNYS") -> dt.date:
    """First date of the inputs (predictions, features, rankings) a continuation from `start` reads.

    `skill_lookback_sessions` before start, or earlier if a signal's last stored signal date is (a gap in the
    signal: the sessions since the first IC are counted from that date).
    """
    read_from = sessions_before(start, skill_lookback_sessions(horizon), calendar)
    last = last_rows(previous, ["signal"], start)
    return read_from if last is None else min(read_from, last.get_column("signal_date").min())


def _sessions_since_first_ic(dates: list[dt.date], has_ic: np.ndarray, position: Mapping[dt.date, int],
                             prior: Mapping[str, object] | None, name: str) -> list[int | None]:
    if prior is not None and prior["sessions_since_first_ic"] is not None:
        last_signal_date = prior["signal_date"]
        if last_signal_date not in position:
            raise ContinuationError(
                f"skill of {name}: the last stored signal date {last_signal_date} is not in the inputs read; "
                "read them from skill_read_start")
        base = int(prior["sessions_since_first_ic"]) - position[last_signal_date]
        return [position[d] + base for d in dates]
    if not has_ic.any():
        return [None] * len(dates)
    first = int(np.argmax(has_ic))
    return [None if i < first else position[d] - position[dates[first]] for i, d in enumerate(dates)]


def signal_skill(predictions: pl.LazyFrame, features: pl.LazyFrame, rankings: pl.LazyFrame, *, horizon: int,
                 sectors: Sequence[str], start: dt.date | None = None,
                 previous: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Rows SKILL_COLUMNS per (evaluation date, signal), for signal dates where the model has predictions."""
    return skill_of_signals(signal_frames(predictions, features, rankings), features, horizon=horizon,
                            sectors=sectors, evaluate_on="model", start=start, previous=previous)


def skill_of_signals(signals: Mapping[str, pl.LazyFrame], features: pl.LazyFrame, *, horizon: int,
                     sectors: Sequence[str], evaluate_on: str | None = None, start: dt.date | None = None,
                     previous: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Skill rows of each (name -> (date, ticker, value)) signal dated >= start (all when start is None).

    `evaluate_on`: restrict to that signal's dates. `previous`: stored skill rows dated before `start` (at
    least the last of each signal), whose state columns the running figures continue from; the inputs are
    read from `skill_read_start`.
    """
    tickers = sorted(sectors)
    outcomes = forward_relative_returns(features, horizon=horizon, tickers=tickers).collect()
    grid = panel.session_grid(features)
    position = {d: i for i, d in enumerate(grid)}
    collected = {name: frame.collect() for name, frame in signals.items()}
    if evaluate_on is not None:
        keep = collected[evaluate_on].select("date").unique()
        collected = {name: frame.join(keep, on="date", how="semi") for name, frame in collected.items()}
    label_end = dict(outcomes.filter(pl.col("label_end_date").is_not_null())
                     .select("date", "label_end_date").unique().iter_rows())
    stored = last_rows(previous, ["signal"], start)
    state = {} if stored is None else {row["signal"]: row for row in stored.iter_rows(named=True)}
    parts = []
    for name, frame in collected.items():
        dates = [d for d in sorted(set(frame.get_column("date").to_list()))
                 if d in label_end and (start is None or label_end[d] >= start)]
        if not dates:
            continue
        prior = state.get(name)
        signal = panel.to_wide(frame, "value", dates, tickers)
        outcome = panel.to_wide(outcomes, "forward_relative_return", dates, tickers)
        ic = panel.row_spearman(signal, outcome)
        hits, counted = hits_per_row(signal, outcome)
        sectors_used = (~np.isnan(signal) & ~np.isnan(outcome)).sum(axis=1)
        has_ic = ~np.isnan(ic)
        offset = _sessions_since_first_ic(dates, has_ic, position, prior, name)
        on_grid = np.array([k is not None and k % horizon == 0 for k in offset])

        def seed(column: str, empty: float | int, prior: dict | None = prior) -> float | int:
            return empty if prior is None else prior[column]

        n, s1, s2, mean, std = _running_moments(ic, has_ic, seed("dates_evaluated", 0), seed("ic_sum", 0.0),
                                                seed("ic_sum_squares", 0.0))
        n_no, s1_no, s2_no, mean_no, std_no = _running_moments(
            ic, has_ic & on_grid, seed("non_overlapping_dates", 0), seed("ic_sum_non_overlapping", 0.0),
            seed("ic_sum_squares_non_overlapping", 0.0))
        hits_total = running_sum(seed("hits_total", 0), hits.astype(np.int64))
        counted_total = running_sum(seed("counted_total", 0), counted.astype(np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            hit_rate = np.where(counted > 0, hits / np.maximum(counted, 1), np.nan)
            pooled = np.where(counted_total > 0, hits_total / np.maximum(counted_total, 1), np.nan)
        parts.append(pl.DataFrame({
            "date": [label_end[d] for d in dates], "signal_date": dates, "signal": name,
            "ic": ic, "hits": hits, "counted": counted, "hit_rate": hit_rate, "sectors": sectors_used,
            "dates_evaluated": n, "ic_mean": mean, "ic_std": std, "ic_t_stat": _t_stat(mean, std, n),
            "non_overlapping_dates": n_no, "ic_mean_non_overlapping": mean_no,
            "ic_t_stat_non_overlapping": _t_stat(mean_no, std_no, n_no), "hit_rate_pooled": pooled,
            "ic_sum": s1, "ic_sum_squares": s2, "ic_sum_non_overlapping": s1_no,
            "ic_sum_squares_non_overlapping": s2_no, "hits_total": hits_total, "counted_total": counted_total,
            "sessions_since_first_ic": offset,
        }, schema=_SCHEMA, nan_to_null=True))
    if not parts:
        return empty_skill()
    return pl.concat(parts).sort("date", "signal")



def empty_skill() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMA)


def skill_summary(skill: pl.DataFrame, as_of: dt.date | None = None) -> pl.DataFrame:
    """One row per signal: the cumulative figures of its last row (dated <= as_of when given)."""
    rows = skill if as_of is None else skill.filter(pl.col("date") <= as_of)
    order = {name: i for i, name in enumerate(SIGNALS)}
    return (
        rows.sort("date", "signal_date").group_by("signal", maintain_order=True).last()
        .select("signal", pl.col("signal_date").alias("last_signal_date"), "dates_evaluated", "ic_mean",
                "ic_t_stat", "non_overlapping_dates", "ic_mean_non_overlapping", "ic_t_stat_non_overlapping",
                "hit_rate_pooled")
        .sort(pl.col("signal").replace_strict(order, default=len(order)))
    )
