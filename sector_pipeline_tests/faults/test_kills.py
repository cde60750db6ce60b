"""SIGKILL mid-write and mid-publication: the previous committed state survives, and the next run or
publication finishes the job and removes what the killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sector_pipeline.publish import PARQUET_LINK, PUBLISHED_DB, publish_marts
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import (
    NEXT_FIRST,
    NEXT_LAST,
    Stored,
    pipeline,
    table_hashes,
    tree_hashes,
)
from sector_pipeline_tests.faults.stored_state import publication_complete

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

ROOT = Path(__file__).resolve().parents[2]


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def kill_when_paused(process: subprocess.Popen) -> None:
    try:
        assert process.stdout.readline().strip() == "paused"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def nightly(stored: Stored, *extra: str) -> subprocess.Popen:
    return start(["-m", "sector_pipeline_tests.faults.nightly_process", str(stored.warehouse), NEXT_FIRST.isoformat(),
                  NEXT_LAST.isoformat(), *extra])


def test_a_run_killed_inside_its_first_write_changes_nothing(stored: Stored) -> None:
    before = table_hashes(stored.warehouse)
    published = tree_hashes(stored.published)
    kill_when_paused(nightly(stored, "--pause-in", "*"))
    assert table_hashes(stored.warehouse) == before
    assert tree_hashes(stored.published) == published


def test_a_run_killed_mid_lineage_keeps_the_killed_table_and_the_rerun_completes_it(
        stored: Stored, nightly_reference: dict[str, str]) -> None:
    before = table_hashes(stored.warehouse)
    kill_when_paused(nightly(stored, "--pause-in", "signals.features"))
    after_kill = table_hashes(stored.warehouse)
    assert after_kill["signals.features"] == before["signals.features"]   # its transaction never committed
    assert after_kill["raw.prices"] != before["raw.prices"]               # the steps before it had committed
    assert run_range(pipeline(stored.warehouse), NEXT_FIRST, NEXT_LAST).success   # the re-run
    assert table_hashes(stored.warehouse, across_runs=True) == nightly_reference   # as if never killed


PUBLISH_THEN_PAUSE = textwrap.dedent("""
    import os, sys, time
    import sector_pipeline.publish as publish
    from sector_pipeline.warehouse import Warehouse
    warehouse, out, point = sys.argv[1:4]
    replace = os.replace

    def pause():
        print("paused", flush=True)
        time.sleep(600)

    def replace_with_pauses(src, dst):
        name = os.path.basename(dst)
        if point == "before_swap" and name == publish.PUBLISHED_DB:
            pause()
        replace(src, dst)
        if point == "between_swaps" and name == publish.PUBLISHED_DB:
            pause()
        if point == "after_swap" and name == publish.PARQUET_LINK:
            pause()

    if point == "building":
        publish._main_catalog = lambda conn: pause()   # every table copied, the copy not yet closed
    os.replace = replace_with_pauses
    publish.publish_marts(Warehouse(warehouse), out, run_id="killed")
""")


@pytest.mark.parametrize("point", ["building", "before_swap", "between_swaps", "after_swap"])
def test_a_publication_killed_midway_is_cleaned_up_by_the_next(stored: Stored, tmp_path: Path, point: str) -> None:
    out = stored.published
    warehouse = table_hashes(stored.warehouse)
    linked_before = os.readlink(out / PARQUET_LINK)
    db_before = (out / PUBLISHED_DB).read_bytes()
    script = tmp_path / "publish.py"
    script.write_text(PUBLISH_THEN_PAUSE)
    kill_when_paused(start([str(script), str(stored.warehouse), str(out), point]))

    assert table_hashes(stored.warehouse) == warehouse
    assert publication_complete(out)   # readers see one whole publication or the other, never a part
    killed = [p.name for p in out.glob("parquet-*") if p.name != linked_before]
    assert len(killed) == 1
    if point in ("building", "before_swap"):
        assert (out / PUBLISHED_DB).read_bytes() == db_before and os.readlink(out / PARQUET_LINK) == linked_before
    linked_at_kill = os.readlink(out / PARQUET_LINK)

    publish_marts(Warehouse(stored.warehouse), out, run_id="next")
    assert publication_complete(out) and table_hashes(stored.warehouse) == warehouse
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("parquet-"))
    current = os.readlink(out / PARQUET_LINK)
    # kept: the new target and every folder linked within the grace period; a folder never linked is gone
    assert left == sorted({current, linked_at_kill, linked_before})
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".tmp.wal"))]
