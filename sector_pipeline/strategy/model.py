"""Walk-forward prediction of each sector's forward relative return vs the benchmark (seed 000's prediction_strength).

Label. For sector i and session t, with sessions counted on the grid of the features table (every date that
has a row; validated data has every sector on every session):
    forward_relative_return(i, t) = RS(i, t + h) / RS(i, t) - 1,   RS = relative_strength = p_i / p_benchmark
i.e. the sector's total return relative to the benchmark from the close of t to the close of t + h sessions
(h = ModelConfig.horizon, 20 by default). It is known at the close of t + h, its `label_end_date`.

Inputs. On each session, among the sectors that are ranked (signals.sector_rankings.is_ranked), every model
feature (ModelConfig.features) is turned into a cross-sectional z-score (mean 0, sample std 1 across the
ranked sectors with a value; 0 when flat), clipped to +-3; a missing value (return_252d in a sector's first
year, sentiment or macro not computed) is set to 0, the cross-sectional mean. The market-wide sentiment
scores and macro regime enter through each sector's characteristics c (universe file):
    sentiment_fit(i, t) = sum_d c_id * score_d(t) / sum_d |c_id|      (d = cycle, rates, inflation, risk)
    macro_fit(i, t)     = sum_d c_id * macro_score_d(t) / sum_d |c_id|

Walk-forward. Sessions are grouped into periods (calendar months by default). The model of period P is
trained on P's first session T in the data, on every (sector, date s) sample whose label ends strictly before
T (s + h sessions < T: an embargo of h sessions, so no training label overlaps the period it predicts),
from the first such sample (expanding window; ModelConfig.training_dates for a trailing one). It is a
scikit-learn Ridge regression (solver "cholesky", alpha = ridge_penalty x number of samples) of the label on
the z-scores, with an intercept; a period with fewer than `min_training_dates` sample dates gets no model and
no predictions. Every session of P is predicted with P's model:
    prediction_strength(i, t) = intercept + sum_k coefficient_k * z_k(i, t)
the predicted forward relative return vs the benchmark over h sessions (a fraction: 0.01 = +1 %).

Past data only and bit-stable. A period's model reads only rows dated before its first session, the same
rows whatever range is computed; the training matrix is built in (date, ticker) order and the arithmetic of
the z-scores and the prediction folds sector columns one by one (panel.py), so a prediction is identical
whether its month was computed in a 25-year backfill or in a nightly run.

Continuation (`walk_forward(start=, previous_runs=)`). A session whose period began before `start` is
predicted with its period's stored model run (strategy.model_runs stores the intercept, the features and
their coefficients, and the z-score clip: everything a prediction needs), applied to that session's own
inputs: no refit, no history. Only a period that begins on or after `start` is trained, and only then does
the run need the training samples: all history for the expanding window, `training_dates + horizon`
sessions for a trailing one (`prediction_history_start` says which, from the calendar). Fitted here or
loaded from the table, the model predicts through the same explicit fold over the features (`_predict`), so
the two paths give the same bits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import polars as pl

from sector_pipeline.calendar import sessions, sessions_before
from sector_pipeline.signals.fit import characteristic_fit
from sector_pipeline.strategy import panel
from sector_pipeline.strategy.config import ModelConfig
from sector_pipeline.strategy.state import ContinuationError

PREDICTION_COLUMNS = ("date", "ticker", "prediction_strength", "prediction_rank", "ranked_sectors", "model_date")
MODEL_RUN_COLUMNS = (
    "date",                  # the training date: first session of the period the model predicts
    "period",                # e.g. "2024-03" (monthly), "2024-Q1", "2024"
    "horizon_sessions",
    "training_first_date",   # first sample date used
    "training_last_date",    # last sample date used (its label ends before `date`)
    "last_label_end_date",   # last session whose price entered a training label (< date)
    "training_dates",        # distinct sample dates
    "training_samples",      # (sector, date) samples
    "ridge_alpha",
    "intercept",
    "features",              # list of feature names ...
    "coefficients",          # ... and their coefficients on the z-scores, in the same order
    "train_r2",              # in-sample R^2 (not a measure of skill: see strategy.skill)
    "zscore_clip",           # the clip of the input z-scores: with intercept and coefficients, all a prediction needs
)

# Sessions of every input read before `start` by a run that trains no model: one, to see whether `start`
# is the first session of its period (the session before it lies in another period) or not.
PREDICTION_LOOKBACK_SESSIONS = 1


def forward_relative_returns(features: pl.LazyFrame, *, horizon: int, tickers: Sequence[str] | None = None
                             ) -> pl.LazyFrame:
    """Rows: date, ticker, forward_relative_return, label_end_date (NULL while the label is not known yet)."""
    grid = (features.select(pl.col("date").unique().sort())
            .with_columns(label_end_date=pl.col("date").shift(-horizon)))
    rows = features if tickers is None else features.filter(pl.col("ticker").is_in(list(tickers)))
    rows = rows.select("date", "ticker", "relative_strength")
    ends = rows.select(pl.col("date").alias("label_end_date"), "ticker",
                       pl.col("relative_strength").alias("_end_relative_strength"))
    return (
        rows.join(grid, on="date", how="left")
        .join(ends, on=["label_end_date", "ticker"], how="left")
        .select(
            "date", "ticker",
            (pl.col("_end_relative_strength") / pl.col("relative_strength") - 1).alias("forward_relative_return"),
            pl.when(pl.col("_end_relative_strength").is_not_null()).then(pl.col("label_end_date"))
            .alias("label_end_date"),
        )
        .sort("date", "ticker")
    )


def model_inputs(features: pl.LazyFrame, rankings: pl.LazyFrame, *, characteristics: pl.DataFrame,
                 sentiment: pl.LazyFrame | None = None, macro: pl.LazyFrame | None = None,
                 config: ModelConfig = ModelConfig()) -> pl.LazyFrame:
    """Rows per (date, sector) of the rankings: is_ranked, the raw model features, the label and its end date.

    `sentiment`: signals.sentiment_scores rows (date, dimension, score); `macro`: signals.macro_regime rows
    (date, dimension, macro_score); either may be None or empty (its fit column is then NULL -> z-score 0).
    """
    sectors = characteristics.get_column("ticker").to_list()
    base_columns = [c for c in config.features if c not in ("sentiment_fit", "macro_fit")]
    frame = (
        rankings.select("date", "ticker", "is_ranked")
        .join(features.select("date", "ticker", *base_columns), on=["date", "ticker"], how="left")
        .join(forward_relative_returns(features, horizon=config.horizon, tickers=sectors),
              on=["date", "ticker"], how="left")
    )
    for name, scores, value in (("sentiment_fit", sentiment, "score"), ("macro_fit", macro, "macro_score")):
        if scores is None:
            fit = pl.LazyFrame(schema={"date": pl.Date, "ticker": pl.String, name: pl.Float64})
        else:
            fit = characteristic_fit(scores, characteristics, value=value, name=name)
        frame = frame.join(fit, on=["date", "ticker"], how="left")
    return frame.select("date", "ticker", "is_ranked", *config.features, "forward_relative_return",
                        "label_end_date").sort("date", "ticker")


@dataclass(frozen=True)
class ModelPanel:
    """Model inputs laid out as arrays: z[date, sector, feature], label[date, sector], ranked[date, sector]."""

    dates: list[dt.date]
    tickers: list[str]
    features: tuple[str, ...]
    z: np.ndarray
    label: np.ndarray
    ranked: np.ndarray
    label_end: np.ndarray   # per date: the session its labels end on, as an ordinal day (NaN: not known yet)


def build_panel(inputs: pl.DataFrame, config: ModelConfig = ModelConfig()) -> ModelPanel:
    dates = panel.session_grid(inputs)
    tickers = sorted(inputs.get_column("ticker").unique().to_list())
    ranked = panel.to_wide(inputs.with_columns(pl.col("is_ranked").cast(pl.Float64)), "is_ranked", dates,
                           tickers) == 1.0
    z = np.zeros((len(dates), len(tickers), len(config.features)))
    for k, name in enumerate(config.features):
        raw = np.where(ranked, panel.to_wide(inputs, name, dates, tickers), np.nan)
        z[:, :, k] = np.nan_to_num(panel.row_zscores(raw, clip=config.zscore_clip), nan=0.0)
    label = np.where(ranked, panel.to_wide(inputs, "forward_relative_return", dates, tickers), np.nan)
    ends = panel.to_wide(inputs.with_columns(pl.col("label_end_date").cast(pl.Int64).cast(pl.Float64)),
                         "label_end_date", dates, tickers)
    ends = np.where(ranked & ~np.isnan(label), ends, np.nan)
    label_end = np.full(len(dates), np.nan)
    has = ~np.isnan(ends).all(axis=1)
    label_end[has] = np.nanmax(ends[has], axis=1)
    return ModelPanel(dates, tickers, tuple(config.features), z, label, ranked, label_end)


def period_key(day: dt.date, retrain: str) -> str:
    if retrain == "monthly":
        return f"{day.year}-{day.month:02d}"
    if retrain == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def prediction_history_start(start: dt.date, end: dt.date, *, config: ModelConfig = ModelConfig(),
                             calendar: str = "XNYS") -> dt.date | None:
    """First date of the inputs `walk_forward` needs to compute the dates in [start, end); None = all history.

    A window in which no period begins (on the exchange calendar) trains nothing: the session before `start`
    is enough (PREDICTION_LOOKBACK_SESSIONS). A window in which one begins retrains: the expanding window needs
    every past sample, a trailing one the `training_dates + horizon` sessions before that period's first
    session (its samples and their labels).
    """
    read_from = sessions_before(start, PREDICTION_LOOKBACK_SESSIONS, calendar)
    days = sessions(read_from, end, calendar)
    retrains = [day for before, day in zip(days, days[1:])
                if day >= start and period_key(day, config.retrain) != period_key(before, config.retrain)]
    if not retrains:
        return read_from
    if config.training_dates is None:
        return None
    return min(read_from, sessions_before(retrains[0], config.training_dates + config.horizon, calendar))


@dataclass(frozen=True)
class WalkForward:
    predictions: pl.DataFrame   # PREDICTION_COLUMNS
    model_runs: pl.DataFrame    # MODEL_RUN_COLUMNS


def empty_predictions() -> pl.DataFrame:
    return pl.DataFrame(schema={"date": pl.Date, "ticker": pl.String, "prediction_strength": pl.Float64,
                                "prediction_rank": pl.Int32, "ranked_sectors": pl.Int32, "model_date": pl.Date})


def _empty_runs() -> pl.DataFrame:
    return pl.DataFrame(schema={
        "date": pl.Date, "period": pl.String, "horizon_sessions": pl.Int32, "training_first_date": pl.Date,
        "training_last_date": pl.Date, "last_label_end_date": pl.Date, "training_dates": pl.Int32,
        "training_samples": pl.Int32, "ridge_alpha": pl.Float64, "intercept": pl.Float64,
        "features": pl.List(pl.String), "coefficients": pl.List(pl.Float64), "train_r2": pl.Float64,
        "zscore_clip": pl.Float64})


def _r_squared(x: np.ndarray, y: np.ndarray, intercept: float, coefficients: Sequence[float]) -> float:
    residual = y - (x @ np.asarray(coefficients) + intercept)
    centred = y - y.mean()
    total = float(centred @ centred)
    return 1.0 - float(residual @ residual) / total if total > 0 else float("nan")


def _predict(intercept: float, coefficients: Sequence[float], z: np.ndarray) -> np.ndarray:
    """intercept + sum_k coefficient_k * z[..., k], folded over the features in their order.

    The one way a prediction is computed, whether the model was fitted in this run or read back from
    strategy.model_runs: element-wise, so a cell's value does not depend on the array's shape (a matrix
    product, or sklearn's predict, may sum the features in another order).
    """
    predicted = np.full(z.shape[:-1], float(intercept))
    for k, c in enumerate(coefficients):
        predicted = predicted + float(c) * z[..., k]
    return predicted


def _stored_runs(previous_runs: pl.DataFrame | pl.LazyFrame | None, start: dt.date | None,
                 config: ModelConfig) -> dict[str, dict[str, object]]:
    """The stored model run of each period, dated before `start`, after checking it matches the settings."""
    if previous_runs is None or start is None:
        return {}
    frame = previous_runs.collect() if isinstance(previous_runs, pl.LazyFrame) else previous_runs
    stored: dict[str, dict[str, object]] = {}
    for run in frame.filter(pl.col("date") < start).sort("date").iter_rows(named=True):
        found = (run["horizon_sessions"], list(run["features"]), run["zscore_clip"], run["period"],
                 run["ridge_alpha"])
        wanted = (config.horizon, list(config.features), config.zscore_clip, period_key(run["date"], config.retrain),
                  config.ridge_penalty * run["training_samples"])
        if found != wanted:
            raise ContinuationError(
                f"strategy.model_runs: the model of {run['period']} (trained {run['date']}) has horizon, features, "
                f"z-score clip, period and ridge alpha {found}, the settings give {wanted}: re-materialize "
                "strategy/predictions over the whole history")
        stored[run["period"]] = run
    return stored


def _check_training_window(run: dict[str, object], latest: dict[str, object] | None, config: ModelConfig,
                           first_input: dt.date) -> None:
    """A retrain on a read that starts too late would silently fit fewer samples: refuse it."""
    if latest is None:
        return
    if config.training_dates is None and run["training_first_date"] != latest["training_first_date"]:
        raise ContinuationError(
            f"walk_forward: the model of {run['period']} would train from {run['training_first_date']} but the "
            f"expanding window starts on {latest['training_first_date']} (stored model of {latest['period']}); "
            f"the inputs read start on {first_input}: a retrain needs the whole history (prediction_history_start)")
    if (config.training_dates is not None and latest["training_dates"] == config.training_dates
            and run["training_dates"] != config.training_dates):
        raise ContinuationError(
            f"walk_forward: the model of {run['period']} would train on {run['training_dates']} sample dates, not "
            f"{config.training_dates}; the inputs read start on {first_input}: read from prediction_history_start")


def walk_forward(inputs: pl.DataFrame | pl.LazyFrame, *, config: ModelConfig = ModelConfig(),
                 start: dt.date | None = None, previous_runs: pl.DataFrame | pl.LazyFrame | None = None
                 ) -> WalkForward:
    """Predictions and model runs dated on or after `start` (all of them when start is None).

    `inputs`: model_inputs rows, from `prediction_history_start(start, end)` on. `previous_runs`: the stored
    strategy.model_runs rows dated before `start` (at least the last one), needed when `start` falls inside a
    period: that period's sessions are predicted with its stored model. The rows returned equal those of a
    run over the whole history, bit for bit.
    """
    frame = inputs.collect() if isinstance(inputs, pl.LazyFrame) else inputs
    if frame.is_empty():
        return WalkForward(empty_predictions(), _empty_runs())
    p = build_panel(frame, config)
    h = config.horizon
    n_dates = len(p.dates)
    epoch = dt.date(1970, 1, 1)
    stored = _stored_runs(previous_runs, start, config)
    latest = stored[max(stored, key=lambda k: stored[k]["date"])] if stored else None

    periods: dict[str, list[int]] = {}
    for i, day in enumerate(p.dates):
        periods.setdefault(period_key(day, config.retrain), []).append(i)

    # Every (date, sector) sample with a label, in date-major order; a period's training set is a slice of it.
    sample_mask = p.ranked & ~np.isnan(p.label)
    sample_date, sample_ticker = np.nonzero(sample_mask)
    x_all = p.z[sample_date, sample_ticker]
    y_all = p.label[sample_date, sample_ticker]

    prediction = np.full((n_dates, len(p.tickers)), np.nan)
    model_date = np.full(n_dates, None, dtype=object)
    runs = []
    for key, rows in periods.items():
        if start is not None and p.dates[rows[-1]] < start:
            continue
        first = rows[0]
        if start is None or p.dates[first] >= start:
            if key in stored:
                raise ContinuationError(
                    f"walk_forward: the period {key} has a stored model trained {stored[key]['date']}, but the inputs "
                    f"read start on {p.dates[0]}: read {PREDICTION_LOOKBACK_SESSIONS} session(s) before start")
            # Samples s whose label ends strictly before the training session (s + h sessions < first).
            cutoff = (p.dates[first] - epoch).days
            train_dates = np.nonzero(p.label_end < cutoff)[0]   # NaN (no label) compares False
            if config.training_dates is not None:
                train_dates = train_dates[-config.training_dates:]
            if len(train_dates) < config.min_training_dates:
                continue
            # Label ends increase with the date, so the training dates are consecutive and their samples a slice.
            lo = int(np.searchsorted(sample_date, train_dates[0], side="left"))
            hi = int(np.searchsorted(sample_date, train_dates[-1], side="right"))
            x, y = x_all[lo:hi], y_all[lo:hi]
            alpha = config.ridge_penalty * len(y)
            # One BLAS thread: the same sums in the same order on every machine load, and no thread contention.
            # imported here: scikit-learn costs ~1.5 s of import, paid only by the runs that fit a model
            from sklearn.linear_model import Ridge
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                fitted = Ridge(alpha=alpha, fit_intercept=True, solver="cholesky").fit(x, y)
                train_r2 = _r_squared(x, y, float(fitted.intercept_), fitted.coef_)
            run = {
                "date": p.dates[first], "period": key, "horizon_sessions": h,
                "training_first_date": p.dates[int(train_dates[0])],
                "training_last_date": p.dates[int(train_dates[-1])],
                "last_label_end_date": epoch + dt.timedelta(days=int(np.nanmax(p.label_end[train_dates]))),
                "training_dates": len(train_dates), "training_samples": len(y), "ridge_alpha": alpha,
                "intercept": float(fitted.intercept_), "features": list(p.features),
                "coefficients": [float(c) for c in fitted.coef_], "train_r2": train_r2,
                "zscore_clip": config.zscore_clip,
            }
            _check_training_window(run, latest, config, p.dates[0])
            runs.append(run)
        elif key in stored:
            run = stored[key]
        elif previous_runs is None:
            raise ContinuationError(
                f"walk_forward(start={start}): the period {key} began before start; pass its stored model "
                "(previous_runs = strategy.model_runs dated before start)")
        else:
            continue   # the period had no model (too few training dates): no predictions, as in a full run
        predicted_rows = np.array([i for i in rows if start is None or p.dates[i] >= start])
        predicted = _predict(run["intercept"], run["coefficients"], p.z[predicted_rows])
        prediction[predicted_rows] = np.where(p.ranked[predicted_rows], predicted, np.nan)
        model_date[predicted_rows] = run["date"]

    model_runs = pl.DataFrame(runs, schema=_empty_runs().schema) if runs else _empty_runs()
    long = panel.to_long(prediction, p.dates, p.tickers, "prediction_strength")
    if long.is_empty():
        return WalkForward(empty_predictions(), model_runs)
    model_dates = pl.DataFrame({"date": p.dates, "model_date": list(model_date)},
                               schema={"date": pl.Date, "model_date": pl.Date})
    predictions = (
        long.join(model_dates, on="date", how="left")
        .sort("date", "ticker")
        .with_columns(
            prediction_rank=pl.col("prediction_strength").rank("ordinal", descending=True).over("date")
            .cast(pl.Int32),
            ranked_sectors=pl.len().over("date").cast(pl.Int32),
        )
        .select(PREDICTION_COLUMNS)
    )
    return WalkForward(predictions, model_runs)
