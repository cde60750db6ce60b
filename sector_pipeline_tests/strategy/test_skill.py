"""Rank IC, hit rate and their t-statistics against scipy / numpy, on hand-made signals."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from sector_pipeline.calendar import sessions
from sector_pipeline.strategy.skill import skill_of_signals, skill_summary

TICKERS = ["A", "B", "C", "D"]


def frames(days, relative_strength: np.ndarray, signal: np.ndarray, tickers=TICKERS):
    features = pl.DataFrame({
        "date": [d for d in days for _ in tickers], "ticker": tickers * len(days),
        "relative_strength": relative_strength.ravel(),
    })
    signal_rows = pl.DataFrame({
        "date": [d for d in days for _ in tickers], "ticker": tickers * len(days), "value": signal.ravel(),
    }).drop_nans()
    return features, signal_rows


def test_one_date_by_hand():
    days = sessions(dt.date(2024, 1, 2), dt.date(2024, 1, 5))[:2]
    # outcome over 1 session = relative strength at d1 / at d0 - 1 = 0.5, -0.25, 0.0, -0.25 (mean exactly 0)
    relative_strength = np.array([[1.0, 1.0, 1.0, 1.0], [1.5, 0.75, 1.0, 0.75]])
    signal = np.array([[4.0, 3.0, 2.0, 1.0], [np.nan] * 4])
    features, signal_rows = frames(days, relative_strength, signal)
    row = skill_of_signals({"s": signal_rows.lazy()}, features.lazy(), horizon=1, sectors=TICKERS).row(0, named=True)
    assert row["signal_date"] == days[0] and row["date"] == days[1]   # dated when the outcome is known
    assert row["ic"] == pytest.approx(spearmanr([4, 3, 2, 1], [0.5, -0.25, 0.0, -0.25]).statistic, abs=1e-15)
    # signal vs its mean 2.5: + + - -; outcome vs its mean 0: + - 0 -. C's outcome sits on the mean: not counted.
    # A (+, +) hit, B (+, -) miss, D (-, -) hit
    assert (row["hits"], row["counted"], row["hit_rate"]) == (2, 3, pytest.approx(2 / 3))


def test_cumulative_ic_t_stats_and_the_non_overlapping_sample():
    rng = np.random.default_rng(5)
    tickers = [f"S{i}" for i in range(8)]
    days = sessions(dt.date(2020, 1, 2), dt.date(2021, 1, 1))[:120]
    horizon = 5
    relative_strength = np.cumprod(1 + rng.normal(0, 0.01, (len(days), 8)), axis=0)
    forward = relative_strength[horizon:] / relative_strength[:-horizon] - 1
    signal = np.full((len(days), 8), np.nan)
    signal[: len(days) - horizon] = 0.3 * forward + rng.normal(0, 0.01, forward.shape)   # some skill
    signal[:10] = np.nan          # the signal starts on the 11th session
    signal[40, 3] = np.nan        # a sector missing one day
    features, signal_rows = frames(days, relative_strength, signal, tickers)
    rows = skill_of_signals({"s": signal_rows.lazy()}, features.lazy(), horizon=horizon, sectors=tickers)

    evaluated = list(range(10, len(days) - horizon))
    assert rows.get_column("signal_date").to_list() == [days[i] for i in evaluated]
    assert rows.get_column("date").to_list() == [days[i + horizon] for i in evaluated]
    ics = []
    for i in evaluated:
        keep = ~np.isnan(signal[i])
        ics.append(spearmanr(signal[i][keep], forward[i][keep]).statistic)
    ics = np.array(ics)
    assert np.allclose(rows.get_column("ic").to_numpy(), ics, atol=1e-12)
    last = rows.row(-1, named=True)
    assert last["ic_mean"] == pytest.approx(ics.mean(), rel=1e-12)
    assert last["ic_t_stat"] == pytest.approx(ics.mean() / (ics.std(ddof=1) / np.sqrt(len(ics))), rel=1e-9)
    sample = ics[::horizon]       # every 5th signal date from the first: outcomes that do not overlap
    assert last["non_overlapping_dates"] == len(sample) == 21
    assert last["ic_t_stat_non_overlapping"] == pytest.approx(
        sample.mean() / (sample.std(ddof=1) / np.sqrt(len(sample))), rel=1e-9)
    assert last["hit_rate_pooled"] == pytest.approx(rows.get_column("hits").sum() / rows.get_column("counted").sum())
    summary = skill_summary(rows).row(0, named=True)
    assert summary["ic_t_stat_non_overlapping"] == last["ic_t_stat_non_overlapping"]
    # a row dated E only uses outcomes known by E: the figures as of an earlier date are those of its prefix
    as_of = rows.filter(pl.col("date") <= days[60]).row(-1, named=True)
    prefix = ics[: 60 - horizon - 10 + 1]
    assert as_of["ic_mean"] == pytest.approx(prefix.mean(), rel=1e-12)
