"""A daily publish rewrites only changed tables; the copies equal a full publish, table by table."""

import json
from datetime import datetime

import duckdb
import numpy as np
import pytest

from dagster_project.serving import fingerprint as fingerprint_module
from dagster_project.serving import publish as publish_module
from dagster_project.serving.classification import Classification, ColumnClass, load_classification
from dagster_project.serving.fingerprint import copy_fingerprints
from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.policy import load_policy, quote
from dagster_project.serving.publish import plan_table, publish_copy, serving_tables
from dagster_project.serving.run_shared import PerRun
from tests.test_serving_publish import SALT, WAREHOUSE_SQL, _publish, _sha_token


@pytest.fixture(scope="module")
def classification():
    return load_classification()


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.4.0"}) as con:
        con.execute(WAREHOUSE_SQL)
    return path


def _content(path):
    """Every served table: its columns with types and its rows in a fixed order."""
    with duckdb.connect(str(path), read_only=True) as con:
        out = {}
        for schema, table in serving_tables(con):
            name = f"{quote(schema)}.{quote(table)}"
            columns = con.execute(f"describe {name}").fetchall()
            out[f"{schema}.{table}"] = (columns, con.execute(f"select * from {name} order by all").fetchall())
        return out


def _change(warehouse, sql):
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql)


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_changed_table_is_rewritten_unchanged_carried_over_and_equal_to_full(tmp_path, warehouse, classification, level):
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    first = _publish(warehouse, daily, level, classification)
    assert first.carried_over == [] and len(first.rewritten) == 7
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
    second = _publish(warehouse, daily, level, classification)
    # the metric views read dim_customer, which did not change: they are carried over too
    assert second.rewritten == ["marts.fct_interactions"]
    assert sorted(second.carried_over) == sorted(set(first.rewritten) - {"marts.fct_interactions"})
    # every table is timed, and slowest() names the slowest first
    assert set(second.table_seconds) == set(second.tables)
    assert [s for _, s in second.slowest(7)] == sorted(second.table_seconds.values(), reverse=True)
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)
    assert ("i3", "P3", "email", "open") in _content(daily)["marts.fct_interactions"][1]


def test_same_rows_in_another_order_count_as_unchanged_and_a_policy_change_republishes(tmp_path, warehouse,
                                                                                       classification):
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, "analyst", classification)
    _change(warehouse, "create or replace table marts.fct_interactions as "
                       "select * from marts.fct_interactions order by interaction_id desc")
    assert _publish(warehouse, daily, "analyst", classification).rewritten == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        other_salt = publish_copy(con, daily, load_policy()["analyst"], classification, "another-salt")
    # a new salt changes the select list of exactly the tables holding tokens
    assert other_salt.rewritten == ["analytics.audience_birthday_this_week", "marts.dim_customer",
                                    "marts.fct_party_relationships"]


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_a_publish_with_nothing_changed_leaves_the_copy_in_place(tmp_path, warehouse, classification, level):
    """Nothing is written when every table's fingerprint equals the copy's: the same file (inode,
    bytes, modification time), every table carried over; one changed table publishes a new file."""
    daily = tmp_path / "daily.duckdb"
    first = _publish(warehouse, daily, level, classification)
    before, data = daily.stat(), daily.read_bytes()
    again = _publish(warehouse, daily, level, classification)
    after = daily.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns) and daily.read_bytes() == data
    assert again.rewritten == [] and sorted(again.carried_over) == sorted(first.rewritten)
    assert again.tables == first.tables and again.actions == first.actions
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    _change(warehouse, "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")
    changed = _publish(warehouse, daily, level, classification)
    assert daily.stat().st_ino != before.st_ino and "marts.dim_customer" in changed.rewritten
    full = tmp_path / "full.duckdb"
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)


def test_duplicate_row_changes_the_fingerprint(tmp_path, warehouse, classification):
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, "restricted", classification)
    _change(warehouse, "insert into marts.fct_interactions select * from marts.fct_interactions; "
                       "delete from marts.fct_interactions where interaction_id = 'i2' and rowid > 1")
    report = _publish(warehouse, daily, "restricted", classification)
    assert report.rewritten == ["marts.fct_interactions"] and report.tables["marts.fct_interactions"] == 3


def test_crash_mid_daily_publish_keeps_the_previous_copy_and_a_rerun_completes(tmp_path, warehouse, classification,
                                                                              monkeypatch):
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, "analyst", classification)
    before = _content(daily)
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open'); "
                       "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish_module, "patch_table", crash)
    with pytest.raises(OSError):
        _publish(warehouse, daily, "analyst", classification)
    assert _content(daily) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.undo()
    rerun = _publish(warehouse, daily, "analyst", classification)
    assert sorted(rerun.rewritten) == ["marts.dim_customer", "marts.fct_interactions",
                                       "metrics.customers_by_city"]
    full = tmp_path / "full.duckdb"
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)


def test_parquet_reexports_only_changed_tables_and_the_manifest_stays_right(tmp_path, warehouse, classification):
    copy, out = tmp_path / "serving.duckdb", tmp_path / "parquet"
    _publish(warehouse, copy, "analyst", classification)
    export_parquet(copy, out)
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*.parquet")}
    _change(warehouse, "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open')")
    _publish(warehouse, copy, "analyst", classification)
    (out / "analytics" / "customer_notes.parquet").unlink()  # e.g. deleted by an erasure: exported again
    seconds = {}
    manifest = export_parquet(copy, out, seconds)
    rewritten = {p for p, stamp in files.items() if not p.exists() or (p.stat().st_mtime_ns, p.stat().st_ino) != stamp}
    assert rewritten == {out / "marts" / "fct_interactions.parquet", out / "analytics" / "customer_notes.parquet"}
    assert set(seconds) == {"marts.fct_interactions", "analytics.customer_notes"}  # the files written, timed
    fresh = tmp_path / "fresh"
    full = export_parquet(copy, fresh)
    strip = lambda m: [{k: v for k, v in t.items()} for t in m["tables"]]  # noqa: E731
    assert strip(manifest) == strip(full)  # same rows, sha256, bytes and fingerprints as a fresh export
    assert json.loads((out / "manifest.json").read_text())["tables"] == manifest["tables"]
    for entry in manifest["tables"]:
        with duckdb.connect() as con:
            rows = con.execute(f"select count(*) from read_parquet('{out / entry['file']}')").fetchall()[0][0]
        assert rows == entry["rows"]


def _big_facts(warehouse, rows=2000):
    _change(warehouse, "insert into marts.fct_interactions select 'x' || i, 'P' || (i % 3 + 1), "
                       f"case when i % 2 = 0 then 'web' else 'email' end, 'd' || (i % 7) from range({rows}) t(i)")


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_a_few_changed_rows_are_patched_and_the_copy_equals_a_full_publish(tmp_path, warehouse, classification, level):
    _big_facts(warehouse)
    # a view has no rowids: its changed rows are fetched again by their hash
    _change(warehouse, "create view metrics.web_interactions as select * from marts.fct_interactions where channel = 'web'")
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, level, classification)
    _change(warehouse, "update marts.fct_interactions set detail = 'changed' where interaction_id in ('x5', 'x6'); "
                       "delete from marts.fct_interactions where interaction_id = 'x7'; "
                       "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open'); "
                       "insert into marts.fct_interactions select * from marts.fct_interactions where interaction_id = 'x8'; "
                       "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")
    report = _publish(warehouse, daily, level, classification)
    # dim_customer has 3 rows, one changed: 2 of 3 rows differ (delete + insert) -> rewritten whole
    assert report.patched == ["marts.fct_interactions", "metrics.web_interactions"]
    assert "marts.dim_customer" in report.rewritten and "marts.dim_customer" not in report.patched
    assert report.tables["marts.fct_interactions"] == 2002 + 1 - 1 + 1
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)


def test_a_new_column_type_or_most_rows_changed_rewrite_the_table(tmp_path, warehouse, classification):
    _big_facts(warehouse)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification)
    _change(warehouse, "alter table marts.fct_interactions add column score integer default 1")
    first = _publish(warehouse, daily, "analyst", classification)
    assert "marts.fct_interactions" in first.rewritten and first.patched == []
    _change(warehouse, "update marts.fct_interactions set score = 2 where interaction_id like 'x1%' or "
                       "interaction_id like 'x2%' or interaction_id like 'x3%' or interaction_id like 'x4%' or "
                       "interaction_id like 'x5%' or interaction_id like 'x6%'")
    second = _publish(warehouse, daily, "analyst", classification)
    assert "marts.fct_interactions" in second.rewritten and second.patched == []
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)


def test_a_dropped_table_goes_and_a_mostly_free_file_is_compacted(tmp_path, warehouse, classification):
    _change(warehouse, "create table analytics.big_notes as select 'P' || i as party_id, "
                       "md5(i::varchar) || md5((i + 1)::varchar) as note from range(200000) t(i)")
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, "restricted", classification)
    with_notes = daily.stat().st_size
    _change(warehouse, "drop table analytics.big_notes")
    report = _publish(warehouse, daily, "restricted", classification)
    assert "analytics.big_notes" not in report.tables and report.compacted
    assert ("analytics", "big_notes") not in set(_rows_of(daily))
    # the notes' blocks went with the old file: the new one is a fraction of its size
    assert daily.stat().st_size * 4 < with_notes
    full = tmp_path / "full.duckdb"
    _publish(warehouse, full, "restricted", classification, incremental=False)
    assert _content(daily) == _content(full)


def _rows_of(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return serving_tables(con)


def test_copies_of_one_run_share_fingerprint_scans_and_patches_and_equal_full_publishes(tmp_path, warehouse,
                                                                                        classification):
    _big_facts(warehouse)
    _change(warehouse, "create view metrics.web_interactions as select * from marts.fct_interactions where channel = 'web'")
    analyst, restricted = tmp_path / "a.duckdb", tmp_path / "r.duckdb"
    _publish(warehouse, analyst, "analyst", classification)
    _publish(warehouse, restricted, "restricted", classification)
    _change(warehouse, "update marts.fct_interactions set detail = 'changed' where interaction_id in ('x5', 'x6'); "
                       "delete from marts.fct_interactions where interaction_id = 'x7'; "
                       "insert into marts.fct_interactions select * from marts.fct_interactions where interaction_id = 'x8'; "
                       "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")
    per_run = PerRun()
    shared = per_run.for_run("run-1")
    first = _publish(warehouse, analyst, "analyst", classification, shared=shared)
    assert len(shared.summaries) == len(first.tables)  # one warehouse scan per served table
    calls = []
    real = fingerprint_module.source_summary
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fingerprint_module, "source_summary", lambda *a: calls.append(a) or real(*a))
        second = _publish(warehouse, restricted, "restricted", classification, shared=shared)
    assert calls == []  # the restricted copy scanned no warehouse table for its fingerprints
    # the facts hold no personal data: the restricted copy applied the analyst copy's comparison;
    # dim_customer is masked differently per level (its own fingerprints), so it compared on its own
    assert first.patched == second.patched == ["marts.fct_interactions", "metrics.web_interactions"]
    assert first.patched_from_shared == []
    assert second.patched_from_shared == ["marts.fct_interactions", "metrics.web_interactions"]
    for level, path in (("analyst", analyst), ("restricted", restricted)):
        _publish(warehouse, tmp_path / f"{level}_full.duckdb", level, classification, incremental=False)
        assert _content(path) == _content(tmp_path / f"{level}_full.duckdb")
        assert _fingerprints(path) == _fingerprints(tmp_path / f"{level}_full.duckdb")
    # a new run starts afresh: the warehouse may have changed since
    assert per_run.for_run("run-2").summaries == {} and per_run.for_run("run-2") is per_run.for_run("run-2")


def test_a_first_restricted_copy_starts_from_the_runs_analyst_copy_never_the_reverse(tmp_path, warehouse,
                                                                                      classification):
    _big_facts(warehouse)
    policies = load_policy()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # the tables each level publishes differently: those with personal columns
        differ = {f"{s}.{t}" for s, t in serving_tables(con)
                  if plan_table(con, s, t, classification, policies["analyst"], SALT).select_list
                  != plan_table(con, s, t, classification, policies["restricted"], SALT).select_list}
    shared = PerRun().for_run("run-1")
    analyst, restricted = tmp_path / "a.duckdb", tmp_path / "r.duckdb"
    first = _publish(warehouse, analyst, "analyst", classification, shared=shared)
    second = _publish(warehouse, restricted, "restricted", classification, shared=shared)
    assert (first.seeded_from, second.seeded_from) == (None, "analyst")
    assert differ and differ < set(second.tables)
    # the analyst copy's tables without personal columns carried over; the others written from the
    # warehouse without a comparison (no patch: every personal value differs)
    assert sorted(second.rewritten) == sorted(differ) and second.patched == []
    assert sorted(second.carried_over) == sorted(set(second.tables) - differ)
    _publish(warehouse, tmp_path / "full.duckdb", "restricted", classification, incremental=False)
    assert _content(restricted) == _content(tmp_path / "full.duckdb")
    assert _fingerprints(restricted) == _fingerprints(tmp_path / "full.duckdb")
    # the reverse never: an analyst copy holding the restricted copy's names and addresses
    other = PerRun().for_run("run-2")
    _publish(warehouse, tmp_path / "r2.duckdb", "restricted", classification, shared=other)
    third = _publish(warehouse, tmp_path / "a2.duckdb", "analyst", classification, shared=other)
    assert (third.seeded_from, third.carried_over) == (None, [])
    assert _content(tmp_path / "a2.duckdb") == _content(analyst)


def test_a_shared_plan_that_does_not_fit_the_second_copy_falls_back_to_a_rewrite(tmp_path, warehouse, classification):
    _big_facts(warehouse)
    analyst, restricted = tmp_path / "a.duckdb", tmp_path / "r.duckdb"
    _publish(warehouse, analyst, "analyst", classification)
    _publish(warehouse, restricted, "restricted", classification)
    # the restricted copy's facts differ from what its fingerprint says (damaged outside the pipeline)
    _change(restricted, "delete from marts.fct_interactions where interaction_id = 'x9'")
    _change(warehouse, "delete from marts.fct_interactions where interaction_id = 'x7'")
    shared = PerRun().for_run("run-1")
    _publish(warehouse, analyst, "analyst", classification, shared=shared)
    second = _publish(warehouse, restricted, "restricted", classification, shared=shared)
    # the plan deletes one row, and so the counts disagree: the table is rewritten whole
    assert "marts.fct_interactions" in second.rewritten and "marts.fct_interactions" not in second.patched
    _publish(warehouse, tmp_path / "full.duckdb", "restricted", classification, incremental=False)
    assert _content(restricted) == _content(tmp_path / "full.duckdb")


def _fingerprints(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return copy_fingerprints(con)


KEYED = {("marts", "fct_events"): "event_id"}
T1, T2 = "2025-01-03 06:00:00", "2025-01-04 06:00:00"


def _events(warehouse):
    """An incremental fact in miniature: 1,000 events written by one run at T1."""
    _change(warehouse, "create table marts.fct_events as select 'e' || i as event_id, i % 7 as value, "
                       f"timestamp '{T1}' as refreshed_at from range(1000) as t(i)")


def _next_run(warehouse, extra_sql=""):
    """A later run at T2 re-derives e1..e3 (e2 gets a new value) and adds e1000, e1001, as delete+insert does."""
    _change(warehouse, "delete from marts.fct_events where event_id in ('e1', 'e2', 'e3'); "
                       "insert into marts.fct_events values "
                       f"('e1', 1, timestamp '{T2}'), ('e2', 99, timestamp '{T2}'), ('e3', 3, timestamp '{T2}'), "
                       f"('e1000', 5, timestamp '{T2}'), ('e1001', 6, timestamp '{T2}');" + extra_sql)


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_a_refreshed_fact_is_patched_from_the_rows_written_since(tmp_path, warehouse, classification, level):
    _events(warehouse)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, level, classification, keyed=KEYED)
    _next_run(warehouse)
    report = _publish(warehouse, daily, level, classification, keyed=KEYED)
    assert report.patched_by_key == ["marts.fct_events"] and report.patched == ["marts.fct_events"]
    assert report.tables["marts.fct_events"] == 1002
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)
    assert ("e2", 99, datetime.fromisoformat(T2)) in _content(daily)["marts.fct_events"][1]
    # nothing written since: carried over, and the kept sum still fits the next keyed patch
    assert _publish(warehouse, daily, level, classification, keyed=KEYED).carried_over.count("marts.fct_events") == 1
    _change(warehouse, "insert into marts.fct_events values ('e1002', 1, timestamp '2025-01-05 06:00:00')")
    assert _publish(warehouse, daily, level, classification, keyed=KEYED).patched_by_key == ["marts.fct_events"]
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)


def test_a_row_changed_without_a_new_refreshed_at_is_caught_and_patched_row_by_row(tmp_path, warehouse,
                                                                                    classification):
    _events(warehouse)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    _next_run(warehouse, "update marts.fct_events set value = 42 where event_id = 'e10'")  # refreshed_at kept
    report = _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    # the keyed patch's hash sums disagree with the warehouse: the row-by-row patch compares everything
    assert report.patched == ["marts.fct_events"] and report.patched_by_key == []
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)
    assert ("e10", 42, datetime.fromisoformat(T1)) in _content(daily)["marts.fct_events"][1]


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_a_per_party_history_is_patched_by_party_and_a_merged_away_party_leaves(tmp_path, warehouse, classification,
                                                                               level):
    # a per-party history in miniature: 300 parties with two periods each, written at T1
    _change(warehouse, "create schema if not exists history; create table history.hist_people as "
                       "select 'p' || (i // 2) as party_id, i % 2 as period, i % 5 as value, "
                       f"timestamp '{T1}' as refreshed_at from range(600) as t(i)")
    keyed = {("history", "hist_people"): "party_id"}
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, level, classification, keyed=keyed)
    # the next run recomputes p1 (now three periods) and p2 (p3 merged into it: p3 is gone) and adds p300
    _change(warehouse, "delete from history.hist_people where party_id in ('p1', 'p2', 'p3'); "
                       "insert into history.hist_people values "
                       f"('p1', 0, 9, timestamp '{T2}'), ('p1', 1, 9, timestamp '{T2}'), ('p1', 2, 9, timestamp '{T2}'), "
                       f"('p2', 0, 4, timestamp '{T2}'), ('p300', 0, 1, timestamp '{T2}')")
    report = _publish(warehouse, daily, level, classification, keyed=keyed)
    assert report.patched_by_key == ["history.hist_people"] and report.tables["history.hist_people"] == 599
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)
    assert not [row for row in _content(daily)["history.hist_people"][1] if row[0] == "p3"]


HIST_CONTACTS = ("history", "hist_contacts")
KEYED_CONTACTS = {HIST_CONTACTS: "party_id"}


def _contacts(warehouse, classification):
    """A per-party history with personal columns in miniature (as hist_party_golden): 300 parties with
    two periods each, written at T1; the analyst copy pseudonymises the email and publishes the birth
    year. Returns the classification that says so."""
    _change(warehouse, "create schema if not exists history; create table history.hist_contacts as "
                       "select 'p' || (i // 2) as party_id, i % 2 as period, 'c' || (i // 2) || '@example.com' as email, "
                       "date '1980-01-01' + cast(i as integer) as date_of_birth, i % 5 as value, "
                       f"timestamp '{T1}' as refreshed_at from range(600) as t(i)")
    return Classification(exact={**classification.exact, HIST_CONTACTS: {
        "email": ColumnClass("direct_identifier", "email"),
        "date_of_birth": ColumnClass("quasi_identifier", "date_of_birth")}}, patterns=classification.patterns)


def _next_contacts_run(warehouse, extra_sql=""):
    """The next run recomputes p1 (a new email, three periods) and p2 (p3 merged into it) and adds p300."""
    _change(warehouse, "delete from history.hist_contacts where party_id in ('p1', 'p2', 'p3'); "
                       "insert into history.hist_contacts values "
                       f"('p1', 0, 'c1@example.com', date '1980-01-03', 9, timestamp '{T2}'), "
                       f"('p1', 1, 'new1@example.com', date '1980-01-03', 9, timestamp '{T2}'), "
                       f"('p1', 2, 'new1@example.com', date '1980-01-03', 8, timestamp '{T2}'), "
                       f"('p2', 0, 'c2@example.com', date '1980-01-05', 4, timestamp '{T2}'), "
                       f"('p300', 0, 'c300@example.com', null, 1, timestamp '{T2}');" + extra_sql)


def test_a_history_with_personal_columns_is_patched_by_key_with_tokens_for_the_rows_written_since(
        tmp_path, warehouse, classification):
    classes = _contacts(warehouse, classification)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS)
    _next_contacts_run(warehouse)
    report = _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS)
    assert report.patched_by_key == ["history.hist_contacts"] and report.tables["history.hist_contacts"] == 599
    _publish(warehouse, full, "analyst", classes, incremental=False)
    assert _content(daily) == _content(full)
    columns, rows = _content(daily)["history.hist_contacts"]
    assert [c[0] for c in columns] == ["party_id", "period", "email", "birth_year", "value", "refreshed_at"]
    assert ("p1", 1, _sha_token("new1@example.com"), 1980, 9, datetime.fromisoformat(T2)) in rows
    assert not [row for row in rows if row[0] == "p3"]
    # nothing written since: carried over; the kept sum still fits the next keyed patch
    assert _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS).carried_over.count(
        "history.hist_contacts") == 1
    _change(warehouse, "insert into history.hist_contacts values "
                       "('p301', 0, 'c301@example.com', null, 1, timestamp '2025-01-05 06:00:00')")
    assert _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS).patched_by_key == [
        "history.hist_contacts"]
    _publish(warehouse, full, "analyst", classes, incremental=False)
    assert _content(daily) == _content(full)


def test_a_new_salt_never_patches_personal_columns_by_key(tmp_path, warehouse, classification):
    """The copy's other rows hold tokens of the old salt: comparing every row rewrites them all."""
    classes = _contacts(warehouse, classification)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS)
    _next_contacts_run(warehouse)
    policy = load_policy()["analyst"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        report = publish_copy(con, daily, policy, classes, "another-salt", keyed=KEYED_CONTACTS)
        publish_copy(con, full, policy, classes, "another-salt", incremental=False)
    assert "history.hist_contacts" in report.rewritten and report.patched_by_key == []
    assert _content(daily) == _content(full)


def test_a_kept_column_changed_without_a_new_refreshed_at_is_caught_in_a_copy_with_tokens(
        tmp_path, warehouse, classification):
    classes = _contacts(warehouse, classification)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS)
    _next_contacts_run(warehouse, "update history.hist_contacts set value = 42 where party_id = 'p10'")
    report = _publish(warehouse, daily, "analyst", classes, keyed=KEYED_CONTACTS)
    assert report.patched_by_key == [] and "history.hist_contacts" in report.patched
    _publish(warehouse, full, "analyst", classes, incremental=False)
    assert _content(daily) == _content(full)


def test_a_copy_from_before_the_select_digest_patches_by_key_only_tables_without_personal_columns(
        tmp_path, warehouse, classification):
    classes = _contacts(warehouse, classification)
    _events(warehouse)
    keyed = {**KEYED, **KEYED_CONTACTS}
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classes, keyed=keyed, keep_spare=False)
    with duckdb.connect(str(daily)) as con:  # as an earlier version wrote it: sums of as-is tables only
        con.execute("alter table _publish.table_fingerprints drop column select_sha256")
        con.execute("update _publish.table_fingerprints set row_hash_sum = null where table_name = 'hist_contacts'")
    _next_run(warehouse)
    _next_contacts_run(warehouse)
    report = _publish(warehouse, daily, "analyst", classes, keyed=keyed, keep_spare=False)
    assert report.patched_by_key == ["marts.fct_events"] and "history.hist_contacts" in report.patched
    _publish(warehouse, full, "analyst", classes, incremental=False)
    assert _content(daily) == _content(full)
    # and the next publish (from this copy, not from a spare: that would be the earlier one) patches both by key
    _change(warehouse, "insert into history.hist_contacts values "
                       "('p301', 0, 'c301@example.com', null, 1, timestamp '2025-01-05 06:00:00'); "
                       "insert into marts.fct_events values ('e1002', 1, timestamp '2025-01-05 06:00:00')")
    assert sorted(_publish(warehouse, daily, "analyst", classes, keyed=keyed, keep_spare=False).patched_by_key) == [
        "history.hist_contacts", "marts.fct_events"]


def test_a_view_of_a_keyed_history_is_patched_by_key_as_its_table(tmp_path, warehouse, classification):
    """dim_customer_history in miniature: a view passing a per-party history's rows through, renamed,
    stored by the copies as a table; declared keyed (meta serving_keyed_by), it is patched by party."""
    classes = _contacts(warehouse, classification)
    _change(warehouse, "create view marts.contact_history as select party_id, period, email as contact_email, "
                       "value, refreshed_at from history.hist_contacts")
    classes = Classification(exact={**classes.exact, ("marts", "contact_history"): {
        "contact_email": ColumnClass("direct_identifier", "email")}}, patterns=classes.patterns)
    keyed = {**KEYED_CONTACTS, ("marts", "contact_history"): "party_id"}
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classes, keyed=keyed)
    _next_contacts_run(warehouse)
    report = _publish(warehouse, daily, "analyst", classes, keyed=keyed)
    assert sorted(report.patched_by_key) == ["history.hist_contacts", "marts.contact_history"]
    assert report.tables["marts.contact_history"] == 599
    _publish(warehouse, full, "analyst", classes, incremental=False)
    assert _content(daily) == _content(full)


def test_a_keyed_patch_that_deletes_too_much_leaves_the_rest_to_the_row_by_row_patch(tmp_path, warehouse,
                                                                                      classification):
    _events(warehouse)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    # 300 of 1,000 rows re-derived: 300 written, but 300 deleted + 300 inserted is over half the table
    _change(warehouse, "delete from marts.fct_events where cast(substr(event_id, 2) as integer) <= 300; "
                       "insert into marts.fct_events select 'e' || i, i, "
                       f"timestamp '{T2}' from range(1, 301) as r(i)")
    report = _publish(warehouse, daily, "analyst", classification, keyed=KEYED)
    # the keyed patch stopped after its delete; comparing every row found the 300 rows to insert
    assert report.patched == ["marts.fct_events"] and report.patched_by_key == []
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)


def test_the_deleted_rows_hash_sum_is_exact_past_64_bits():
    from dagster_project.serving.keyed_patch import exact_sum

    top = 2**64 - 1
    assert exact_sum(np.array([top, top, 1, 2**32], dtype=np.uint64)) == 2 * top + 1 + 2**32
    assert exact_sum(np.array([], dtype=np.uint64)) == 0
    with duckdb.connect() as con:
        hashes = con.execute("select hash(i) as h from range(100000) as r(i)").fetchnumpy()["h"]
        assert exact_sum(hashes) == con.execute("select sum(cast(hash(i) as hugeint)) from range(100000) as r(i)"
                                                ).fetchall()[0][0]


def test_the_facts_histories_customer_tables_and_a_declared_view_are_the_keyed_tables_of_the_dbt_project():
    from dagster_project.dbt_assets import dbt_project
    from dagster_project.serving.keyed_patch import keyed_tables

    assert keyed_tables(dbt_project.manifest_path) == {("marts", "fct_interactions"): "interaction_id",
                                                       ("marts", "fct_transactions"): "transaction_id",
                                                       ("marts", "fct_service_cases"): "case_id",
                                                       ("history", "hist_holdings"): "holding_id",
                                                       ("history", "hist_party_golden"): "party_id",
                                                       ("history", "hist_party_golden_attributes"): "party_id",
                                                       ("marts", "dim_customer"): "party_id",
                                                       ("marts", "customer_360"): "party_id",
                                                       ("marts", "dim_customer_history"): "party_id"}
