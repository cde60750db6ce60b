"""Shared pieces of the fault suite: one stored pipeline state built once, copied per test, hashed before and after.

The baseline is the whole lineage on the synthetic market for 2024-01-02 .. 2024-04-30 (enough for sectors to be
ranked and alerts raised), published. Each test copies it, injects one fault into a run on top of it, and
asserts that every stored table is unchanged (`table_hashes`) and that the error names the cause.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from sector_pipeline.defs.delivery_assets import OUTBOX_KEY, WebhookResource
from sector_pipeline.publish import PUBLISHED_DB
from sector_pipeline_tests.dagster_helpers import definitions, run_range
from sector_pipeline_tests.faults.stored_state import table_hashes

D = dt.date
BASELINE_FIRST, BASELINE_LAST = D(2024, 1, 2), D(2024, 4, 30)
NEXT_FIRST, NEXT_LAST = D(2024, 5, 1), D(2024, 5, 3)   # the "nightly" a fault test runs on top of the baseline


def pipeline(warehouse: Path, *, webhook: WebhookResource | None = None, resources: dict | None = None,
             **settings: object) -> dg.Definitions:
    """The project's Definitions on `warehouse`, with the alert outbox and the given webhook."""
    return definitions(warehouse, resources={"webhook": webhook or WebhookResource(), **(resources or {})},
                       **settings)


def tree_hashes(folder: Path) -> dict[str, int]:
    """Every file below `folder` (following the parquet link) -> hash of its bytes."""
    return {str(p.relative_to(folder)): hash(p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def _errors(result: dg.ExecuteInProcessResult) -> list:
    """The error of every failed step or failed resource initialisation (the warehouse opens at run start)."""
    errors = []
    for event in result.all_events:
        if event.is_step_failure:
            errors.append(event.step_failure_data.error)
        elif event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE:
            errors.append(event.event_specific_data.error)
    return [e for e in errors if e is not None]


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    """Every failure's error with its causes, as one text."""
    parts = []
    for error in _errors(result):
        while error is not None:
            parts.append(error.message)
            error = error.cause
    return "\n".join(parts)


def headlines(result: dg.ExecuteInProcessResult) -> list[str]:
    """What the UI shows first for each failure: the first line of the error the project's code raised."""
    lines = []
    for error in _errors(result):
        while error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause   # Dagster's wrapper ("Error occurred while executing op ...")
        first = error.message.strip().splitlines()[0]
        prefix, _, rest = first.partition(": ")
        lines.append(rest if rest and " " not in prefix else first)  # drop "package.module.ErrorClass: "
    return lines


@dataclass(frozen=True)
class Stored:
    """A copy of the baseline: warehouse file and published folder."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "w.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def published_db(self) -> Path:
        return self.published / PUBLISHED_DB


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    root = tmp_path_factory.mktemp("baseline")
    stored = Stored(root)
    # the project's own Definitions, all but the outbox: a test decides when alerts are first delivered
    assert run_range(definitions(stored.warehouse), BASELINE_FIRST, BASELINE_LAST,
                     selection=dg.AssetSelection.all() - dg.AssetSelection.assets(OUTBOX_KEY)).success
    return stored


@pytest.fixture
def stored(baseline: Stored, tmp_path: Path) -> Stored:
    """A private copy of the baseline for one test."""
    copy = Stored(tmp_path / "stored")
    copy.root.mkdir()
    for item in baseline.root.iterdir():
        if item.is_dir():
            shutil.copytree(item, copy.root / item.name, symlinks=True)
        elif item.name.startswith("w.duckdb"):
            shutil.copy2(item, copy.root / item.name)
    return copy


@pytest.fixture(scope="session")
def nightly_reference(baseline: Stored, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Table hashes after the nightly NEXT_FIRST..NEXT_LAST ran once, uninterrupted, on the baseline."""
    root = tmp_path_factory.mktemp("reference")
    shutil.copy2(baseline.warehouse, root / "w.duckdb")
    assert run_range(pipeline(root / "w.duckdb"), NEXT_FIRST, NEXT_LAST).success
    return table_hashes(root / "w.duckdb", across_runs=True)
