"""The spare (serving/spare.py): the copy a publish replaced is patched into the next one, not copied.

Each test checks which file (inode) each name holds after each publish, and that the copy equals a
full publish of the warehouse, table by table.
"""

import os
import subprocess
import sys
from datetime import datetime

import duckdb

from dagster_project.serving import spare as spare_module
from dagster_project.serving.spare import spare_path
from dagster_project.settings import get_settings
from tests.test_serving_incremental import (KEYED, T2, _change, _content, _events, _next_run,  # noqa: F401
                                            classification, warehouse)
from tests.test_serving_publish import _publish


def _inode(path):
    return path.stat().st_ino


def test_the_replaced_copy_becomes_the_spare_and_is_patched_across_two_days(tmp_path, warehouse, classification):
    _events(warehouse)
    daily, full = tmp_path / "serving.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    first = _inode(daily)
    assert not spare_path(daily).exists()  # nothing was replaced
    # day 2: the events are re-derived and a customer moves; the copy in place is copied (no spare yet)
    _next_run(warehouse, "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")
    day2 = _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    second = _inode(daily)
    assert second != first and _inode(spare_path(daily)) == first
    assert day2.started_from == "copy"
    # day 3: only an interaction is added; the spare (day 1's copy) must catch up with day 2 too
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
    third = _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    assert _inode(daily) == first and _inode(spare_path(daily)) == second and third.started_from == "spare"
    assert {"marts.fct_events", "marts.dim_customer", "marts.fct_interactions"} <= set(third.rewritten)
    assert "marts.fct_events" in third.patched_by_key  # the keyed patch works from the older state too
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)
    assert ("e2", 99, datetime.fromisoformat(T2)) in _content(daily)["marts.fct_events"][1]
    # the spare is still what it was: the day-2 copy, complete and readable
    spare_tables = _content(spare_path(daily))
    assert ("i3", "P3", "email", "open") not in spare_tables["marts.fct_interactions"][1]
    assert spare_tables["marts.fct_events"] == _content(daily)["marts.fct_events"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from marts.fct_interactions").fetchall()[0][0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from marts.fct_interactions").fetchall()[0][0], flush=True)
"""


def test_a_spare_a_reader_still_holds_is_left_to_the_reader_and_the_publish_copies(tmp_path, warehouse,
                                                                                   classification):
    daily, full = tmp_path / "serving.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification)
    first = _inode(daily)
    # a reader in another process opens the copy in place and keeps it open across two publishes
    reader = subprocess.Popen([sys.executable, "-c", READER, str(daily)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "2"
        _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
        _publish(warehouse, daily, "analyst", classification)
        second = _inode(daily)
        assert _inode(spare_path(daily)) == first  # the reader's file is now the spare
        _change(warehouse, "insert into marts.fct_interactions values ('i4', 'P1', 'web', 'visit')")
        third = _publish(warehouse, daily, "analyst", classification)
        # the reader's DuckDB lock kept the publish off its file: a byte copy was patched instead
        assert third.started_from == "copy"
        assert _inode(daily) not in (first, second) and _inode(spare_path(daily)) == second
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "2"  # the reader still sees its own, untouched copy
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full) and len(_content(daily)["marts.fct_interactions"][1]) == 4


def test_a_fresh_publish_drops_the_spare_and_a_file_system_without_hard_links_copies(tmp_path, warehouse,
                                                                                     classification, monkeypatch):
    daily = tmp_path / "serving.duckdb"
    _publish(warehouse, daily, "restricted", classification)
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
    _publish(warehouse, daily, "restricted", classification)
    assert spare_path(daily).exists()
    _publish(warehouse, daily, "restricted", classification, incremental=False)
    assert not spare_path(daily).exists()

    def no_links(*args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    _change(warehouse, "insert into marts.fct_interactions values ('i4', 'P1', 'web', 'visit')")
    _publish(warehouse, daily, "restricted", classification)
    assert not spare_path(daily).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert len(_content(daily)["marts.fct_interactions"][1]) == 4


def test_discard_removes_the_spare_and_its_log(tmp_path):
    target = tmp_path / "serving.duckdb"
    duckdb.connect(str(target)).close()
    spare_module.keep(target)
    assert os.path.samefile(target, spare_path(target))
    spare_path(target).with_name(spare_path(target).name + ".wal").write_bytes(b"x")
    spare_module.discard(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb"]


def test_without_a_spare_every_publish_copies_and_an_old_spare_goes(tmp_path, warehouse, classification,
                                                                    monkeypatch):
    """CRM_CIF_SERVING_SPARE=off (keep_spare=False): a disk without room for it, or no older copy at rest."""
    daily, full = tmp_path / "serving.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "restricted", classification)
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
    _publish(warehouse, daily, "restricted", classification)
    assert spare_path(daily).exists()
    _change(warehouse, "insert into marts.fct_interactions values ('i4', 'P1', 'web', 'visit')")
    report = _publish(warehouse, daily, "restricted", classification, keep_spare=False)
    assert report.started_from == "copy" and not spare_path(daily).exists()
    _publish(warehouse, full, "restricted", classification, incremental=False)
    assert _content(daily) == _content(full)
    monkeypatch.setenv("CRM_CIF_SERVING_SPARE", "off")
    assert get_settings().serving_spare is False
    monkeypatch.setenv("CRM_CIF_SERVING_SPARE", "on")
    assert get_settings().serving_spare is True


def test_a_spare_that_is_the_copy_in_place_is_not_patched(tmp_path, warehouse, classification):
    """A publish that failed between naming the spare and its swap leaves the copy in place under both
    names; the next publish must copy it, not write into the file readers have open."""
    daily = tmp_path / "serving.duckdb"
    _publish(warehouse, daily, "analyst", classification)
    spare_module.keep(daily)  # the failed publish: the spare is the live copy itself
    before = daily.read_bytes()
    held = open(daily, "rb")  # a reader's handle on the live copy
    try:
        _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
        report = _publish(warehouse, daily, "analyst", classification)
        assert report.started_from == "copy"
        assert held.read() == before  # the reader's file was not written
    finally:
        held.close()
    assert len(_content(daily)["marts.fct_interactions"][1]) == 3
