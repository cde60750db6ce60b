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

from sector_pipeline.publish import PARQUET_LINK, PUBLISHED_DB, publish_marts
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

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
                    "select object_name, row_count, cast(published_at as varchar) from marts.publish_manifest").fetchall()
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


def test_republishing_swaps_and_prunes_old_parquet_folders(tmp_path):
    path = tmp_path / "w.duckdb"
    assert run_range(definitions(path), D(2024, 3, 1), D(2024, 3, 5)).success
    out = tmp_path / "again"
    targets = []
    for _ in range(4):
        publication = publish_marts(Warehouse(path), out, run_id="manual")
        targets.append(os.readlink(out / PARQUET_LINK))
        assert publication.tables["sector_returns"] == 3 * 11 * 7  # 3 sessions (Mar 1, 4, 5) x 11 x 7 windows
    assert len(set(targets)) == 4
    assert sorted(p.name for p in out.glob("parquet-*")) == sorted(targets[-2:])  # current + previous kept


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
