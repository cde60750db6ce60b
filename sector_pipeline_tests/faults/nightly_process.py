"""A pipeline run in its own process, for the tests that kill it or start two at once.

    python -m sector_pipeline_tests.faults.nightly_process WAREHOUSE FIRST LAST [--pause-in TABLE]
        [--lock-timeout SECONDS]

Runs the whole lineage (with the alert outbox) for FIRST..LAST as one run. With --pause-in, the write of TABLE
("*": the run's first write) stops inside its transaction (the window is deleted and the new rows inserted,
nothing committed), prints "paused" and sleeps: the moment a test sends SIGKILL. Prints "success" or
"failure: <message>" at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import failure_messages, pipeline


def pause_inside(table: str) -> None:
    original = Warehouse._replace_from_incoming

    def replace_then_pause(self, conn, written_table, *args, **kwargs):
        result = original(self, conn, written_table, *args, **kwargs)
        if table in (written_table, "*"):
            print("paused", flush=True)
            time.sleep(600)
        return result

    Warehouse._replace_from_incoming = replace_then_pause  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("first", type=dt.date.fromisoformat)
    parser.add_argument("last", type=dt.date.fromisoformat)
    parser.add_argument("--pause-in")
    parser.add_argument("--lock-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.pause_in:
        pause_inside(args.pause_in)
    defs = pipeline(Path(args.warehouse), resources={
        "warehouse": WarehouseResource(path=args.warehouse, lock_timeout_seconds=args.lock_timeout)})
    result = run_range(defs, args.first, args.last, raise_on_error=False)
    print("success" if result.success else "failure: " + failure_messages(result).replace("\n", " | "), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
