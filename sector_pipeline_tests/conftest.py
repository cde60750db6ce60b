"""Shared fixtures: the packaged universe, a temporary warehouse path, and the optional real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sector_pipeline.universe import Universe, load_universe

REALDATA_DIR = Path(os.environ.get("SECTOR_PIPELINE_REALDATA",
                                   Path(__file__).resolve().parents[2] / "shared" / "realdata"))


@pytest.fixture(scope="session")
def universe() -> Universe:
    return load_universe()


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture(scope="session")
def realdata_dir() -> Path:
    """The real SPY/sector prices folder (../shared/realdata); tests using it skip when it is absent."""
    if not (REALDATA_DIR / "prices.csv").exists():
        pytest.skip(f"real data folder not present at {REALDATA_DIR}")
    return REALDATA_DIR
