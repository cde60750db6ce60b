"""The characteristic fit of a sector to a market-wide reading (signals/fit.py), the model's sentiment/macro input."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from sector_pipeline.signals.fit import characteristic_fit

D1, D2 = dt.date(2024, 1, 2), dt.date(2024, 1, 3)


def test_fit_by_hand_with_no_exposure_and_a_missing_reading():
    scores = pl.DataFrame({
        "date": [D1] * 4 + [D2] * 3,
        "dimension": ["cycle", "rates", "inflation", "risk", "cycle", "rates", "inflation"],
        "score": [0.5, -0.2, 0.1, 1.0, 0.3, 0.3, 0.3],
    })
    characteristics = pl.DataFrame({"ticker": ["A", "Z"], "cycle": [1.0, 0.0], "rates": [0.0, 0.0],
                                    "inflation": [-1.0, 0.0], "risk": [0.5, 0.0]})
    fit = characteristic_fit(scores.lazy(), characteristics, value="score", name="fit").collect()
    got = {(d, t): v for d, t, v in fit.iter_rows()}
    # A on D1: (1 * 0.5 + 0 * -0.2 - 1 * 0.1 + 0.5 * 1.0) / (1 + 0 + 1 + 0.5) = 0.9 / 2.5
    assert got[(D1, "A")] == pytest.approx(0.36, abs=1e-15)
    # Z has no exposure: no view, a neutral 0 (not unknown)
    assert got[(D1, "Z")] == 0.0
    # D2 has no risk reading: the regime is unknown for every sector
    assert got[(D2, "A")] is None and got[(D2, "Z")] is None
    assert fit.height == 4
