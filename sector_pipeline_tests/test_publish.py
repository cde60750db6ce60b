"""Published marts: atomic, complete, and readable by another process while the pipeline runs."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from sector_pipeline.publish import (
    LOCK_FILE,
    PARQUET_LINK,
    PUBLISHED_DB,
    RETIRED_LEDGER,
    PublishError,
    publication_lock,
    publish_marts,
    remove_leftovers,
)
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date

READER = textwrap.dedent("""
    import json, sys, time
    import duckdb
    path, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    reads, errors, incomplete, seen = 0, [], [], set()
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            conn = duckdb.connect(path, read_only=True)
            try:
                manifest = conn.execute(
                    "select object_name, row_count, cast(published_at as varchar) "
                    "from marts.publish_manifest").fetchall()
                for name, rows, published_at in manifest:
                    actual = conn.execute(f"select count(*) from marts.{name}").fetchone()[0]
                    if actual != rows:
                        incomplete.append((published_at, name, rows, actual))
                seen.add(manifest[0][2])
                reads += 1
            finally:
                conn.close()
        except Exception as exc:  # any lock or catalog error is a failure of the publication scheme
            errors.append(repr(exc))
        if __import__("os").path.exists(stop_file):
            break
        time.sleep(0.01)
    json.dump({"reads": reads, "errors": errors, "incomplete": incomplete, "publications": sorted(seen)},
              open(out, "w"))
""")


def test_readers_never_block_nor_see_a_partial_run_while_backfills_publish(tmp_path):
    path = tmp_path / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, D(2024, 1, 2), D(2024, 1, 31)).success   # a first publication to read
    published = tmp_path / "published" / PUBLISHED_DB
    script, stop, out = tmp_path / "reader.py", tmp_path / "stop", tmp_path / "reads.json"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(published), str(stop), str(out)])
    try:
        time.sleep(1.0)
        # the pipeline writes the warehouse and publishes three more times while the reader hammers the copy
        for start, last in ((D(2024, 2, 1), D(2024, 3, 29)), (D(2024, 4, 1), D(2024, 4, 30)),
                            (D(2024, 5, 1), D(2024, 5, 31))):
            assert run_range(defs, start, last).success
        time.sleep(0.5)
    finally:
        stop.write_text("stop")
        reader.wait(timeout=60)
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["incomplete"] == []
    assert result["reads"] > 50
    assert len(result["publications"]) >= 3   # it saw several publications swap under it
    conn = duckdb.connect(str(published), read_only=True)
    assert conn.execute("select max(date) from marts.market_overview").fetchone()[0] == D(2024, 5, 31)


STRATEGY_MARTS = ("predictions", "allocations", "backtest", "strategy_performance", "skill")


def test_publication_is_a_faithful_copy_with_parquet(tmp_path):
    """Eight months, the model allowed to train early: the strategy marts are published with the rest."""
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2023, 6, 1), D(2024, 1, 31), ops=FAST_MODEL).success
    out = tmp_path / "published"
    store = Warehouse(path)
    conn = duckdb.connect(str(out / PUBLISHED_DB), read_only=True)
    for table in ("sector_returns", "sentiment", "alerts", "market_overview", "sector_scores_wide", *STRATEGY_MARTS):
        ours = store.query(f"select * from marts.{table} order by all").rows()
        theirs = conn.execute(f"select * from marts.{table} order by all").fetchall()
        assert theirs == ours, table
        parquet = duckdb.sql(f"select * from '{out / PARQUET_LINK / (table + '.parquet')}' order by all").fetchall()
        assert parquet == ours, table
    manifest = {name: (kind, rows) for name, kind, rows in conn.execute(
        "select object_name, object_type, row_count from marts.publish_manifest").fetchall()}
    assert manifest["sector_returns_wide"][0] == "view" and manifest["sector_returns"][0] == "table"
    assert all(manifest[name][1] > 0 for name in STRATEGY_MARTS), manifest
    assert os.path.islink(out / PARQUET_LINK)
    # hygiene: every table and view says where its rows come from; ranks are integers wherever they are columns
    columns = conn.execute("select table_name, column_name, data_type from information_schema.columns "
                           "where table_schema = 'marts'").fetchall()
    with_source = {table for table, column, _ in columns if column == "source"}
    assert with_source == set(manifest) - {"publish_manifest"}
    ranks = {(table, column): kind for table, column, kind in columns if column.endswith("_rank")}
    assert ranks and set(ranks.values()) == {"INTEGER"}, ranks
    dimensions = {d for (d,) in conn.execute("select distinct dimension from marts.sentiment union "
                                             "select distinct dimension from marts.alerts").fetchall()}
    assert dimensions - {None} <= {"economic_cycle", "interest_rates", "inflation", "risk_appetite"}


def test_republishing_swaps_and_keeps_retired_folders_for_the_grace_period(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2024, 3, 1), D(2024, 3, 5)).success
    out = tmp_path / "again"
    targets = []
    for _ in range(4):
        publication = publish_marts(Warehouse(path), out, run_id="manual")
        targets.append(os.readlink(out / PARQUET_LINK))
        assert publication.tables["sector_returns"] == 3 * 11 * 7  # 3 sessions (Mar 1, 4, 5) x 11 x 7 windows
    assert len(set(targets)) == 4
    # every folder retired within the last 10 minutes is kept: a reader may be in it
    assert sorted(p.name for p in out.glob("parquet-*")) == sorted(targets)
    publish_marts(Warehouse(path), out, run_id="manual", retired_grace_seconds=0)
    assert [p.name for p in out.glob("parquet-*")] == [os.readlink(out / PARQUET_LINK)]


def test_failed_run_does_not_publish(tmp_path, universe):
    path = tmp_path / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, D(2024, 3, 1), D(2024, 3, 5)).success
    published = tmp_path / "published" / PUBLISHED_DB
    before = published.stat().st_mtime_ns
    bad = definitions(path, source="csv", csv_dir=str(tmp_path))  # an empty folder: every ticker missing
    assert not run_range(bad, D(2024, 3, 6), D(2024, 3, 8), raise_on_error=False).success
    assert published.stat().st_mtime_ns == before
    conn = duckdb.connect(str(published), read_only=True)
    assert conn.execute("select max(date) from marts.market_overview").fetchone()[0] == D(2024, 3, 5)


@pytest.mark.skipif(shutil.which("duckdb") is None, reason="the DuckDB CLI comes with the dev extra (duckdb-cli)")
def test_the_duckdb_cli_reads_the_published_copy(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2024, 3, 1), D(2024, 3, 5)).success
    published = tmp_path / "published" / PUBLISHED_DB
    done = subprocess.run(["duckdb", "-readonly", "-csv", str(published), "-c",
                           "select count(*) as n from marts.sector_returns_wide"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n", "33"]  # 3 sessions x 11 sectors


def test_published_files_are_never_opened_for_writing_by_readers(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2024, 3, 1), D(2024, 3, 5)).success
    published = tmp_path / "published" / PUBLISHED_DB
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(published), read_only=True).execute("create table marts.x as select 1")


# --- clean-up, readers holding files, concurrent publishers (a small hand-made marts schema: fast) -----------

def small_marts(path, rows: int = 3) -> Warehouse:
    """A warehouse with one marts table and one view, enough for publish_marts."""
    conn = duckdb.connect(str(path))
    conn.execute("create schema marts")
    conn.execute("create table marts.levels as select date '2024-01-01' + i::int as date, i * 1.5 as level "
                 "from range(?) t(i)", [rows])
    conn.execute("create view marts.levels_doubled as select date, level * 2 as level from marts.levels")
    conn.close()
    return Warehouse(path)


def test_retired_folders_go_after_the_grace_period_and_never_the_linked_one(tmp_path):
    store, out = small_marts(tmp_path / "w.duckdb"), tmp_path / "pub"
    names = []
    for _ in range(3):
        publish_marts(store, out, run_id="r", retired_grace_seconds=600)
        names.append(os.readlink(out / PARQUET_LINK))
    ledger = json.loads((out / RETIRED_LEDGER).read_text())
    assert sorted(ledger) == sorted(names[:2])  # the two retired folders and when they were retired
    assert remove_leftovers(out, 600, now=time.time() + 60) == []
    assert sorted(remove_leftovers(out, 600, now=time.time() + 601)) == sorted(names[:2])
    assert [p.name for p in out.glob("parquet-*")] == [names[-1]]
    assert remove_leftovers(out, 0, now=time.time() + 10**6) == []  # the linked folder stays, whatever its age
    assert duckdb.sql(f"select count(*) from '{out / PARQUET_LINK}/levels.parquet'").fetchall()[0][0] == 3


def test_leftovers_of_a_killed_publication_go_at_the_next_one(tmp_path):
    store, out = small_marts(tmp_path / "w.duckdb"), tmp_path / "pub"
    publish_marts(store, out, run_id="r")
    linked = os.readlink(out / PARQUET_LINK)
    # what a publication killed while building leaves: a folder never linked, a temporary DuckDB file and WAL
    (out / "parquet-20240101T000000000000Z-1").mkdir()
    (out / "parquet-20240101T000000000000Z-1" / "levels.parquet").write_bytes(b"partial")
    for name in (f".{PUBLISHED_DB}.20240101T000000000000Z-1.tmp", f".{PUBLISHED_DB}.20240101T000000000000Z-1.tmp.wal",
                 f".{PARQUET_LINK}.20240101T000000000000Z-1.tmp"):
        (out / name).write_bytes(b"x")
    publish_marts(store, out, run_id="r")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".publish")) == sorted(
        [PUBLISHED_DB, PARQUET_LINK, RETIRED_LEDGER, linked, os.readlink(out / PARQUET_LINK)])


READER_HOLDING_FILES = textwrap.dedent("""
    import os, sys, time
    import duckdb
    link, stop_file = sys.argv[1], sys.argv[2]
    folder = os.path.realpath(link)               # resolved once, as a BI tool listing the folder does
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    handles = {f: open(f, "rb") for f in files}   # and some files held open all along
    sizes = {f: os.path.getsize(f) for f in files}
    print(os.path.basename(folder), flush=True)
    errors, reads = [], 0
    while not os.path.exists(stop_file):
        for f in files:
            try:
                duckdb.sql(f"select count(*) from '{f}'").fetchall()
                reads += 1
            except Exception as exc:
                errors.append(repr(exc))
        time.sleep(0.02)
    print(reads, len(errors), errors[:3], flush=True)
    sys.stdin.readline()           # the folder is removed now
    held = []
    for f, h in handles.items():   # the folder may be gone by now: open handles still read every byte
        h.seek(0)
        data = h.read()
        held.append(len(data) == sizes[f] and data[:4] == b"PAR1" and data[-4:] == b"PAR1")
    print(all(held), flush=True)
""")


def test_a_reader_holding_the_previous_folder_keeps_reading_through_publications(tmp_path):
    store, out = small_marts(tmp_path / "w.duckdb"), tmp_path / "pub"
    publish_marts(store, out, run_id="r")
    script, stop = tmp_path / "reader.py", tmp_path / "stop"
    script.write_text(READER_HOLDING_FILES)
    reader = subprocess.Popen([sys.executable, str(script), str(out / PARQUET_LINK), str(stop)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        folder = reader.stdout.readline().strip()
        for _ in range(3):
            publish_marts(store, out, run_id="r")   # the reader's folder is retired, kept for the grace period
            assert (out / folder).is_dir()
        time.sleep(0.3)
        stop.write_text("stop")
        reads, errors, _ = reader.stdout.readline().split(maxsplit=2)
        assert int(reads) > 0 and int(errors) == 0   # every read by path during the publications worked
        with publication_lock(out):
            remove_leftovers(out, 600, now=time.time() + 601)   # ten minutes later
        assert not (out / folder).exists()
        held = reader.communicate("removed\n", timeout=60)[0].strip()
    finally:
        reader.kill()
    assert held == "True"   # files it held open still read in full after the removal


def test_a_second_publisher_waits_for_the_first_then_fails_naming_it(tmp_path):
    store, out = small_marts(tmp_path / "w.duckdb"), tmp_path / "pub"
    publish_marts(store, out, run_id="r")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        h = open({str(out / LOCK_FILE)!r}, "a+"); fcntl.flock(h, fcntl.LOCK_EX)
        h.seek(0); h.truncate(); h.write(f"process {{os.getpid()}}"); h.flush()
        print("locked", flush=True); time.sleep(float(sys.argv[1]))
    """), "1.0"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    began = time.monotonic()
    publish_marts(store, out, run_id="r", lock_timeout_seconds=30)   # waits about a second, then publishes
    assert time.monotonic() - began >= 0.5 and holder.wait(timeout=30) == 0
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, time
        h = open({str(out / LOCK_FILE)!r}, "a+"); fcntl.flock(h, fcntl.LOCK_EX)
        h.seek(0); h.truncate(); h.write(f"process {{os.getpid()}}"); h.flush()
        print("locked", flush=True); time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        linked = os.readlink(out / PARQUET_LINK)
        with pytest.raises(PublishError, match=f"process {holder.pid} has been publishing there"):
            publish_marts(store, out, run_id="r", lock_timeout_seconds=0.3)
        assert os.readlink(out / PARQUET_LINK) == linked
    finally:
        holder.kill()
        holder.wait(timeout=30)
