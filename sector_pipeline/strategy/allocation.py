"""Target weights of four books, decided at the close of their rebalance sessions.

Books (config.BOOKS):
  model          seed 000's rule driven by prediction_strength (strategy.predictions)
  composite      the same rule driven by composite_score (signals.sector_rankings)
  momentum_top3  Faber (2010) relative-strength rotation: equal weight of the top N (3) ranked sectors by
                 trailing relative momentum (relative_strength_change_60d), rebalanced monthly
  equal_weight   1/N over the ranked sectors, rebalanced on the rule books' schedule

Seed 000's rule (`seed_rule`), at each rebalance, for the N sectors that have a score that day:
  0. current weights = the book's previous target (not the drifted holdings: the weights are a function of
     the signals alone, and the backtest trades the drift back); on the first decision, 1/N each.
     A sector that enters the universe (XLRE in 2015, XLC in 2018: it becomes ranked once its 60-session
     warm-up is over) enters at the next rebalance with 1/N, the incumbents scaled by (N - k) / N to make
     room (k entrants); a held sector without a score is sold and the rest rescaled to sum 1.
  1. sort by score, highest first, ties by ticker (the seed sorts by prediction_strength);
     top = the first floor(N/3), bottom = from position floor(2N/3) on, middle = the rest, exactly the
     seed's slices: 3 / 4 / 4 of 11 sectors, 3 / 3 / 3 of 9.
  2. top:    w = min(w + step, cap)     step 0.05; cap 0.20 for low and medium risk tolerance, 0.30 for high
     bottom: w = max(w - step, floor)   floor 0.01
     middle: w = w * (1 - d) + d / N    d = middle_decay = step / 2: a decay toward equal weight.
     The seed writes the middle as w * (1 - 0.05/2) + target / 2 with target = 1 / len(top): with 3 top
     sectors that adds 0.167 to every middle sector each time (the middle would outgrow the top); we keep
     its decay factor (1 - step/2) and make the term a convex combination with 1/N, as its comment
     ("simple decay/rebalance") intends.
  3. normalise to sum 1 (the seed divides by the total), then keep every weight within [floor, cap]: the
     seed's division can push a capped sector above its cap (0.2 / 0.967 = 0.207 in the hand example of the
     tests). Weights become clip(s * w, floor, cap) with the one scale s that makes them sum to 1, i.e. the
     seed's proportional normalisation, applied to the sectors not at a bound. When N * cap < 1 (fewer
     than 5 sectors at cap 0.2) the cap is 1/N; when N * floor > 1 the floor is 1/N.

Rebalance sessions come from the exchange calendar (`rebalance_sessions`): "weekly" = the last session of
each week (Thursday when Friday is a holiday), "monthly" = the last session of each month, "daily" = every
session. Every book makes its first decision on the same session t0, the first rebalance session on which
the model has predictions, so that all strategies start together; later decisions follow each book's own
schedule. A decision taken at the close of t is traded at the close of the next session (backtest.py).

Continuation (`start=`, `previous=`). A book's only state is its last decision: `previous` holds the last
stored row of each (book, ticker) before `start`, from which each book continues (its current weights, and
each sector's previous weight). Whether a rebalance session is one depends on the session and the calendar
only, and a decision on its own day's scores, so the inputs are read from `start` on
(ALLOCATION_LOOKBACK_SESSIONS = 0) and only the window's rebalance sessions are looped over.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.strategy.config import (
    COMPOSITE_BOOK,
    EQUAL_WEIGHT_BOOK,
    MODEL_BOOK,
    MOMENTUM_BOOK,
    AllocationConfig,
)
from sector_pipeline.strategy.state import last_rows
from sector_pipeline.vocabulary import leader_count

ALLOCATION_COLUMNS = ("date", "book", "ticker", "weight", "previous_weight", "score", "score_rank", "group")
# Sessions of the inputs (predictions, rankings, features) read before `start`: none.
ALLOCATION_LOOKBACK_SESSIONS = 0
# `previous` of a continuation: the last stored row of each of these keys before `start`.
ALLOCATION_STATE_KEYS = ("book", "ticker")
_SCHEMA = {"date": pl.Date, "book": pl.String, "ticker": pl.String, "weight": pl.Float64,
           "previous_weight": pl.Float64, "score": pl.Float64, "score_rank": pl.Int32, "group": pl.String}


def rebalance_sessions(dates: Sequence[dt.date], frequency: str, calendar: str = "XNYS") -> list[dt.date]:
    """The dates among `dates` that end their week / month on the exchange calendar (all of them if daily)."""
    if not dates or frequency == "daily":
        return list(dates)
    ordered = sorted(dates)
    known = sorted(set(sessions(ordered[0], ordered[-1] + dt.timedelta(days=40), calendar)) | set(ordered))
    following = dict(zip(known, known[1:]))

    def period(day: dt.date) -> tuple[int, int]:
        return day.isocalendar()[:2] if frequency == "weekly" else (day.year, day.month)

    return [d for d in ordered if d in following and period(following[d]) != period(d)]


def project_to_bounds(weights: np.ndarray, floor: float, cap: float) -> np.ndarray:
    """clip(s * w, floor, cap) with the scale s > 0 that makes the sum 1 (w > 0; floor * n <= 1 <= cap * n)."""
    w = np.asarray(weights, dtype=float)
    n = len(w)
    if n == 0:
        return w
    if n * cap <= 1.0:
        return np.full(n, 1.0 / n)
    floor = min(floor, 1.0 / n)

    def total(scale: float) -> float:
        return math.fsum(np.clip(scale * w, floor, cap))

    # The sum is continuous and non-decreasing in s, and linear between the breakpoints floor / w_i and
    # cap / w_i: find the first breakpoint where it reaches 1, then solve the linear equation on the segment
    # before it, whose bounded weights are those of the segment's midpoint.
    breakpoints = np.unique(np.concatenate([floor / w, cap / w]))
    k = next(i for i, b in enumerate(breakpoints) if total(b) >= 1.0)
    if k == 0 or total(breakpoints[k]) == 1.0:
        return np.clip(breakpoints[k] * w, floor, cap)
    middle = (breakpoints[k - 1] + breakpoints[k]) / 2
    at_floor = middle * w <= floor
    at_cap = middle * w >= cap
    free = ~(at_floor | at_cap)
    scale = (1.0 - floor * int(at_floor.sum()) - cap * int(at_cap.sum())) / math.fsum(w[free])
    return np.where(at_floor, floor, np.where(at_cap, cap, scale * w))


def seed_rule(current: Mapping[str, float], scores: Mapping[str, float], config: AllocationConfig
              ) -> dict[str, tuple[float, str]]:
    """New weight and group (top, middle, bottom) of each scored sector; see the module docstring."""
    universe = sorted(scores)
    n = len(universe)
    if n == 0:
        return {}
    held = {t: w for t, w in current.items() if t in scores and w > 0}
    entrants = [t for t in universe if t not in held]
    if not held:
        start = {t: 1.0 / n for t in universe}
    else:
        room = 1.0 - len(entrants) / n
        held_total = math.fsum(held.values())
        start = {t: (held[t] / held_total * room if t in held else 1.0 / n) for t in universe}
    order = sorted(universe, key=lambda t: (-scores[t], t))
    third = leader_count(n)  # the top and bottom thirds: 3 of 9, 10 or 11
    top = set(order[:third])
    bottom = set(order[n - third:])
    cap = max(config.cap, 1.0 / n)
    floor = min(config.floor, 1.0 / n)
    raw: dict[str, float] = {}
    groups: dict[str, str] = {}
    for t in universe:
        w = start[t]
        if t in top:
            raw[t], groups[t] = min(w + config.step, cap), "top"
        elif t in bottom:
            raw[t], groups[t] = max(w - config.step, floor), "bottom"
        else:
            raw[t], groups[t] = w * (1.0 - config.middle_decay) + config.middle_decay / n, "middle"
    values = np.array([raw[t] for t in universe])
    projected = project_to_bounds(values / math.fsum(values), floor, cap)
    return {t: (float(w), groups[t]) for t, w in zip(universe, projected)}


def _scores_by_date(frame: pl.DataFrame) -> dict[dt.date, dict[str, float]]:
    by_date: dict[dt.date, dict[str, float]] = {}
    for day, ticker, value in frame.select("date", "ticker", "score").drop_nulls().iter_rows():
        by_date.setdefault(day, {})[ticker] = value
    return by_date


def _rank(scores: Mapping[str, float]) -> dict[str, int]:
    return {t: i + 1 for i, t in enumerate(sorted(scores, key=lambda t: (-scores[t], t)))}


def _last_decision(state: pl.DataFrame | None, book: str) -> dict[str, float]:
    """Weights of the book's last stored decision (its sectors' last rows on the book's last date)."""
    if state is None:
        return {}
    rows = state.filter(pl.col("book") == book)
    if rows.is_empty():
        return {}
    last = rows.filter(pl.col("date") == pl.col("date").max())
    return dict(last.select("ticker", "weight").iter_rows())


def rule_book(scores: pl.DataFrame, decision_dates: Sequence[dt.date], config: AllocationConfig, book: str,
              current: Mapping[str, float] | None = None) -> pl.DataFrame:
    """Seed-rule weights at each decision date that has scores; `scores`: (date, ticker, score).

    `current`: the book's weights before the first of these dates (its last stored decision); none = 1/N start.
    """
    by_date = _scores_by_date(scores)
    rows: list[dict[str, object]] = []
    current = dict(current or {})
    for day in decision_dates:
        today = by_date.get(day)
        if not today:
            continue
        new = seed_rule(current, today, config)
        ranks = _rank(today)
        for t in sorted(new):
            rows.append({"date": day, "book": book, "ticker": t, "weight": new[t][0],
                         "previous_weight": current.get(t), "score": today[t], "score_rank": ranks[t],
                         "group": new[t][1]})
        current = {t: w for t, (w, _) in new.items()}
    return pl.DataFrame(rows, schema=_SCHEMA)


def top_n_book(scores: pl.DataFrame, decision_dates: Sequence[dt.date], top_n: int, book: str,
               previous: Mapping[str, float] | None = None) -> pl.DataFrame:
    """Equal weight of the `top_n` highest scores (ties by ticker), 0 for the other scored sectors."""
    by_date = _scores_by_date(scores)
    rows: list[dict[str, object]] = []
    previous = dict(previous or {})
    for day in decision_dates:
        today = by_date.get(day)
        if not today:
            continue
        ranks = _rank(today)
        chosen = min(top_n, len(today))
        weights = {t: (1.0 / chosen if ranks[t] <= chosen else 0.0) for t in today}
        for t in sorted(today):
            rows.append({"date": day, "book": book, "ticker": t, "weight": weights[t],
                         "previous_weight": previous.get(t), "score": today[t], "score_rank": ranks[t],
                         "group": "top" if weights[t] > 0 else "out"})
        previous = weights
    return pl.DataFrame(rows, schema=_SCHEMA)


def equal_weight_book(universe: pl.DataFrame, decision_dates: Sequence[dt.date], book: str,
                      previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """1/N over the sectors of `universe` (date, ticker) on each decision date.

    previous_weight is the sector's weight at its own last decision; `previous`: the book's stored rows
    (date, ticker, weight) before these dates, whose last row per sector the first new rows refer to.
    """
    decisions = pl.DataFrame({"date": list(decision_dates)}, schema={"date": pl.Date})
    new = (universe.select("date", "ticker").join(decisions, on="date", how="semi")
           .with_columns(weight=1.0 / pl.len().over("date"), _new=pl.lit(True)))
    stored = (pl.DataFrame(schema={"date": pl.Date, "ticker": pl.String, "weight": pl.Float64}) if previous is None
              else previous.select("date", "ticker", pl.col("weight").cast(pl.Float64)))
    return (
        pl.concat([stored.with_columns(_new=pl.lit(False)), new], how="vertical_relaxed").sort("date", "ticker")
        .with_columns(previous_weight=pl.col("weight").shift(1).over("ticker"))
        .filter(pl.col("_new"))
        .select("date", pl.lit(book).alias("book"), "ticker", "weight", "previous_weight",
                pl.lit(None, dtype=pl.Float64).alias("score"), pl.lit(None, dtype=pl.Int32).alias("score_rank"),
                pl.lit("equal").alias("group"))
        .cast(_SCHEMA)  # type: ignore[arg-type]
    )


def allocations(predictions: pl.LazyFrame, rankings: pl.LazyFrame, features: pl.LazyFrame, *,
                config: AllocationConfig = AllocationConfig(), start: dt.date | None = None,
                previous: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Rows ALLOCATION_COLUMNS of the four books dated >= start (all when None); empty until the model predicts.

    `previous`: stored strategy.allocations rows dated before `start`, at least the last of each (book, ticker)
    (ALLOCATION_STATE_KEYS); each book continues from its last decision. The inputs need no lookback.
    """
    def window(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame if start is None else frame.filter(pl.col("date") >= start)

    state = last_rows(previous, ALLOCATION_STATE_KEYS, start)
    model_scores = window(predictions).select("date", "ticker", pl.col("prediction_strength").alias("score")).collect()
    if state is None and model_scores.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    ranked = window(rankings).filter(pl.col("is_ranked")).select("date", "ticker", "composite_score").collect()
    dates = ranked.get_column("date").unique().sort().to_list()
    schedule = rebalance_sessions(dates, config.rebalance, config.calendar)
    momentum_schedule = rebalance_sessions(dates, config.momentum_rebalance, config.calendar)
    if state is None:
        # Not started yet: every book makes its first decision on t0, the first rebalance with predictions.
        predicted = set(model_scores.get_column("date").to_list())
        starts = [d for d in schedule if d in predicted]
        if not starts:
            return pl.DataFrame(schema=_SCHEMA)
        t0 = starts[0]
        decisions = [d for d in schedule if d >= t0]
        momentum_decisions = sorted({t0, *(d for d in momentum_schedule if d >= t0)})
    else:
        decisions, momentum_decisions = schedule, momentum_schedule
    momentum = (ranked.select("date", "ticker")
                .join(window(features).select("date", "ticker", pl.col(config.momentum_column).alias("score"))
                      .collect(), on=["date", "ticker"], how="left"))
    equal_state = None if state is None else state.filter(pl.col("book") == EQUAL_WEIGHT_BOOK)
    books = [
        rule_book(model_scores, decisions, config, MODEL_BOOK, _last_decision(state, MODEL_BOOK)),
        rule_book(ranked.select("date", "ticker", pl.col("composite_score").alias("score")), decisions, config,
                  COMPOSITE_BOOK, _last_decision(state, COMPOSITE_BOOK)),
        top_n_book(momentum, momentum_decisions, config.momentum_top_n, MOMENTUM_BOOK,
                   _last_decision(state, MOMENTUM_BOOK)),
        equal_weight_book(ranked, decisions, EQUAL_WEIGHT_BOOK, equal_state),
    ]
    return pl.concat(books).select(ALLOCATION_COLUMNS).sort("date", "book", "ticker")


def weight_violations(weights: pl.DataFrame, config: AllocationConfig, tolerance: float = 1e-9) -> pl.DataFrame:
    """(date, book, sectors, total, smallest, largest, problem) of every decision that breaks the rules.

    Every book sums to 1 with weights in [0, 1]; the rule books also keep each weight within [floor, cap]
    (1/N where N * cap < 1 or N * floor > 1).
    """
    rule = pl.col("book").is_in([MODEL_BOOK, COMPOSITE_BOOK])
    n = pl.col("sectors").cast(pl.Float64)
    cap = pl.max_horizontal(pl.lit(config.cap), 1.0 / n)
    floor = pl.min_horizontal(pl.lit(config.floor), 1.0 / n)
    summary = weights.group_by("date", "book").agg(
        sectors=pl.len(), total=pl.col("weight").sum(), smallest=pl.col("weight").min(),
        largest=pl.col("weight").max())
    problem = (
        pl.when((pl.col("total") - 1.0).abs() > tolerance).then(pl.lit("weights do not sum to 1"))
        .when((pl.col("smallest") < -tolerance) | (pl.col("largest") > 1.0 + tolerance))
        .then(pl.lit("weight outside [0, 1]"))
        .when(rule & (pl.col("largest") > cap + tolerance)).then(pl.lit("weight above the cap"))
        .when(rule & (pl.col("smallest") < floor - tolerance)).then(pl.lit("weight below the floor"))
    )
    return summary.with_columns(problem=problem).filter(pl.col("problem").is_not_null()).sort("date", "book")
