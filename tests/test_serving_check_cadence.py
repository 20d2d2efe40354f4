"""Keyed tables are fingerprinted by their cursor and checked against the warehouse's hash sum on a cadence.

Between checks a keyed table's copy follows the rows written since (count checked every time); a
change made without a new ``refreshed_at`` reaches the copy at the next check, which compares the
copy's kept hash sum with the warehouse's and repairs the table row by row.
"""

import shutil
from datetime import datetime, timedelta

import duckdb
import pytest

from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.policy import load_policy
from dagster_project.serving.publish import check_due, publish_copy
from dagster_project.settings import Settings
from tests.test_serving_incremental import (KEYED, KEYED_CONTACTS, T1, T2, _change, _contacts, _content, _events,
                                            _next_contacts_run, _next_run)
from tests.test_serving_incremental import classification, warehouse  # noqa: F401 (fixtures)
from tests.test_serving_publish import SALT

WEEK = timedelta(days=7)
DAY0 = datetime(2026, 1, 5, 6, 0)


class _Recording:
    """A connection that remembers every statement, to see which tables a publish hashed whole."""

    def __init__(self, con):
        self._con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _publish(warehouse, target, classification, day, level="analyst", keyed=KEYED):
    """Publish on ``day`` after DAY0, checking weekly. Without the spare: each publish starts from the
    copy in place, so its check dates are the last publish's (with the spare they are those of the
    copy before it, which the spare is; test_a_spare_carries_its_own_check_dates)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        recording = _Recording(con)
        report = publish_copy(recording, target, load_policy()[level], classification, SALT, keyed=keyed,
                              check_every=WEEK, now=DAY0 + timedelta(days=day), keep_spare=False)
    report.statements = recording.statements
    return report


def _full(warehouse, target, classification, level="analyst"):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        publish_copy(con, target, load_policy()[level], classification, SALT, incremental=False)
    return _content(target)


def _hashed_whole(statements, table, schema="marts"):
    """Statements that hashed the warehouse's ``table`` beyond the rows written since (a delete's
    ``returning hash`` hashes the copy's rows it deletes)."""
    return [s for s in statements if "hash(" in s and f'"warehouse"."{schema}"."{table}"' in s
            and '"refreshed_at" > ?' not in s and not s.startswith("delete from")]


def _stored(copy, table):
    with duckdb.connect(str(copy), read_only=True) as con:
        return con.execute("select fingerprint, row_hash_sum, checked_at from _publish.table_fingerprints "
                           "where table_name = ?", [table]).fetchall()[0]


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_between_checks_a_keyed_table_is_patched_without_hashing_the_warehouse_table_whole(
        tmp_path, warehouse, classification, level):
    _events(warehouse)
    daily = tmp_path / "daily.duckdb"
    first = _publish(warehouse, daily, classification, 0, level)
    assert "marts.fct_events" in first.checked  # written from the warehouse: known equal
    assert _stored(daily, "fct_events")[2] == DAY0
    _next_run(warehouse)
    report = _publish(warehouse, daily, classification, 1, level)
    assert report.patched_by_key == ["marts.fct_events"] and report.checked == []
    assert _hashed_whole(report.statements, "fct_events") == []
    assert _hashed_whole(report.statements, "dim_customer") != []  # a table without a cursor: hashed as before
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification, level)
    assert _stored(daily, "fct_events")[2] == DAY0  # the check date stays that of the last check
    # a week after the first check the copy is checked, and found equal
    _change(warehouse, f"insert into marts.fct_events values ('e1002', 1, timestamp '{T2}' + interval 1 day)")
    report = _publish(warehouse, daily, classification, 7, level)
    assert report.patched_by_key == ["marts.fct_events"] and report.checked == ["marts.fct_events"]
    assert report.repaired == [] and _hashed_whole(report.statements, "fct_events") != []
    assert _stored(daily, "fct_events")[2] == DAY0 + timedelta(days=7)
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification, level)


def test_a_change_without_a_new_refreshed_at_reaches_the_copy_at_the_next_check(tmp_path, warehouse, classification):
    _events(warehouse)
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, classification, 0)
    _next_run(warehouse, "update marts.fct_events set value = 42 where event_id = 'e10'")  # refreshed_at kept
    report = _publish(warehouse, daily, classification, 1)
    assert report.patched_by_key == ["marts.fct_events"] and report.repaired == []
    rows = _content(daily)["marts.fct_events"][1]
    assert ("e10", 10 % 7, datetime.fromisoformat(T1)) in rows  # trusted until the check: the old value
    assert ("e1000", 5, datetime.fromisoformat(T2)) in rows
    cursor_fingerprint = _stored(daily, "fct_events")[0]
    export_parquet(daily, tmp_path / "parquet")
    # nothing new, check not due: the copy in place stays
    assert _publish(warehouse, daily, classification, 3).carried_over.count("marts.fct_events") == 1
    # due: the sums disagree, the table is compared row by row and its fingerprint marked
    report = _publish(warehouse, daily, classification, 8)
    assert report.checked == ["marts.fct_events"] and report.repaired == ["marts.fct_events"]
    assert report.patched == ["marts.fct_events"] and report.patched_by_key == []
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification)
    assert ("e10", 42, datetime.fromisoformat(T1)) in _content(daily)["marts.fct_events"][1]
    fingerprint, kept_sum, checked_at = _stored(daily, "fct_events")
    assert fingerprint == f"{cursor_fingerprint}:repaired" and checked_at == DAY0 + timedelta(days=8)
    # the Parquet export sees the repaired table as changed and writes it again
    manifest = export_parquet(daily, tmp_path / "parquet")
    entry = next(t for t in manifest["tables"] if t["table"] == "fct_events")
    assert entry["fingerprint"] == fingerprint
    # the next publish is back on the cursor: patched by key from the repaired sum, nothing to do
    report = _publish(warehouse, daily, classification, 9)
    assert report.patched_by_key == ["marts.fct_events"] and report.checked == []
    assert _stored(daily, "fct_events")[0] == cursor_fingerprint and _stored(daily, "fct_events")[1] == kept_sum


def test_a_due_check_of_a_copy_still_current_keeps_it_in_place_or_repairs_it(tmp_path, warehouse, classification):
    _events(warehouse)
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, classification, 0)
    in_place = daily.stat().st_ino
    report = _publish(warehouse, daily, classification, 8)  # due, nothing changed: the sums agree
    assert daily.stat().st_ino == in_place and "marts.fct_events" in report.carried_over
    assert _stored(daily, "fct_events")[2] == DAY0  # not written: the check date stays, the next publish checks again
    _change(warehouse, "update marts.fct_events set value = 42 where event_id = 'e10'")  # cursor unchanged
    report = _publish(warehouse, daily, classification, 9)  # due: the sums disagree, repaired
    assert daily.stat().st_ino != in_place and report.repaired == ["marts.fct_events"]
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification)
    # checked on day 9: on day 10 another change of that kind waits for the next check (the table is
    # patched by key from nothing written since, its fingerprint back from "repaired" to its cursor)
    _change(warehouse, "update marts.fct_events set value = 43 where event_id = 'e11'")
    report = _publish(warehouse, daily, classification, 10)
    assert report.patched_by_key == ["marts.fct_events"] and report.checked == []
    assert ("e11", 11 % 7, datetime.fromisoformat(T1)) in _content(daily)["marts.fct_events"][1]


def test_a_warehouse_older_than_the_copy_is_compared_row_by_row_at_once(tmp_path, warehouse, classification):
    _events(warehouse)
    before = tmp_path / "before.duckdb"
    shutil.copyfile(warehouse, before)
    daily = tmp_path / "daily.duckdb"
    _next_run(warehouse)
    _publish(warehouse, daily, classification, 0)
    shutil.copyfile(before, warehouse)  # the warehouse restored from a backup of before the last run
    _change(warehouse, "delete from marts.fct_events where event_id = 'e5'")  # and one row fewer: cursor moved back
    report = _publish(warehouse, daily, classification, 1)
    assert report.patched == ["marts.fct_events"] and report.patched_by_key == [] and report.checked == [
        "marts.fct_events"]
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification)


def test_a_copy_from_before_check_dates_is_checked_at_once(tmp_path, warehouse, classification):
    _events(warehouse)
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, classification, 0)
    with duckdb.connect(str(daily)) as con:
        con.execute("alter table _publish.table_fingerprints drop column checked_at")
    _next_run(warehouse)
    report = _publish(warehouse, daily, classification, 1)
    assert report.patched_by_key == ["marts.fct_events"] and report.checked == ["marts.fct_events"]
    assert _stored(daily, "fct_events")[2] == DAY0 + timedelta(days=1)


def test_a_keyed_history_with_personal_columns_follows_the_cadence_in_a_copy_with_tokens(
        tmp_path, warehouse, classification):
    classes = _contacts(warehouse, classification)
    daily = tmp_path / "daily.duckdb"
    _publish(warehouse, daily, classes, 0, keyed=KEYED_CONTACTS)
    _next_contacts_run(warehouse, "update history.hist_contacts set value = 42 where party_id = 'p10'")
    report = _publish(warehouse, daily, classes, 1, keyed=KEYED_CONTACTS)
    assert report.patched_by_key == ["history.hist_contacts"] and report.checked == []
    assert _hashed_whole(report.statements, "hist_contacts", "history") == []
    report = _publish(warehouse, daily, classes, 7, keyed=KEYED_CONTACTS)
    assert report.repaired == ["history.hist_contacts"]
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classes)


def test_a_spare_carries_its_own_check_dates(tmp_path, warehouse, classification):
    """With the spare each publish starts from the copy before the one in place: the check dates
    are that file's, so the two files alternating are each checked a week after their own check."""
    _events(warehouse)
    daily = tmp_path / "daily.duckdb"

    def publish(day):
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return publish_copy(con, daily, load_policy()["analyst"], classification, SALT, keyed=KEYED,
                                check_every=WEEK, now=DAY0 + timedelta(days=day))

    assert "marts.fct_events" in publish(0).checked  # written whole
    _next_run(warehouse)
    assert publish(1).started_from == "copy"  # no spare yet: the copy of day 0, checked on day 0
    _change(warehouse, f"insert into marts.fct_events values ('e1002', 1, timestamp '{T2}' + interval 1 day)")
    report = publish(7)
    assert report.started_from == "spare" and report.checked == ["marts.fct_events"]
    _change(warehouse, f"insert into marts.fct_events values ('e1003', 1, timestamp '{T2}' + interval 2 day)")
    report = publish(8)  # the spare is day 1's file, last checked on day 0: checked too
    assert report.started_from == "spare" and report.checked == ["marts.fct_events"]
    _change(warehouse, f"insert into marts.fct_events values ('e1004', 1, timestamp '{T2}' + interval 3 day)")
    report = publish(9)  # day 7's file, checked on day 7
    assert report.started_from == "spare" and report.checked == []
    assert _content(daily) == _full(warehouse, tmp_path / "full.duckdb", classification)


def test_check_due():
    now = DAY0
    assert check_due(None, WEEK, now) and check_due(now, None, now)
    assert not check_due(now - timedelta(days=6, hours=23), WEEK, now)
    assert check_due(now - WEEK, WEEK, now)
    assert check_due(now + timedelta(hours=1), WEEK, now)  # dated after now: the clock went back


@pytest.mark.parametrize("value, expected", [(None, 7), ("3", 3), ("0", 0)])
def test_the_check_cadence_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CRM_CIF_SERVING_CHECK_DAYS", raising=False)
    else:
        monkeypatch.setenv("CRM_CIF_SERVING_CHECK_DAYS", value)
    settings = Settings.load()
    assert settings.serving_check_days == expected
    assert settings.serving_check_every == (timedelta(days=expected) if expected else None)


def test_a_check_cadence_that_is_not_a_whole_number_of_days_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CRM_CIF_SERVING_CHECK_DAYS", "weekly")
    with pytest.raises(ValueError, match="CRM_CIF_SERVING_CHECK_DAYS.*'weekly'"):
        Settings.load()
