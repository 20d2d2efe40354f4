"""unique_since_last_pass: uniqueness checked for the keys loaded since the test last passed.

A throwaway warehouse with two mobile events staged, then rows written straight into the staged
table (the staging rules would quarantine a duplicate, so only a bug or a hand edit makes one):
a duplicate loaded after the recorded pass fails the test, and keeps failing on the next run
(a failed test records nothing) until it is gone; a duplicate dated before the recorded pass is
outside the window, caught by ``full_data_tests`` and ``--full-refresh``-style full checks.

relationships_since_last_pass, on hand-made ``marts.fct_service_cases`` and ``marts.dim_customer``
tables: a pass keeps the parent's keys; later runs check the rows written since and the children of
parent keys lost since (an old child whose parent vanished fails), and a failure records nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_staging import build_staging, create_raw_tables, insert_raw, run_dbt

T0, T1, T2, OLD = (datetime(2025, 1, 3, 6), datetime(2025, 1, 4, 6), datetime(2025, 1, 5, 6),
                   datetime(2024, 12, 1, 6))
KEY = "staging.stg_mobile__events.event_id"
TEST = "unique_since_last_pass_stg_mobile__events_event_id"


def event(event_id: str) -> dict:
    return {"event_id": event_id, "app_user_id": "U1", "device_id": "D1", "event_ts": "2025-01-02T10:00:00",
            "event_type": "login", "screen": "home"}


def watermark(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select test_key, passed_through from main.dbt_test_watermarks "
                           "where test_key = ?", [KEY]).fetchall()


def add_staged_row(warehouse: Path, event_id: str, loaded_at: datetime) -> None:
    """A row written straight into the staged table, as a bug or a hand edit would."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into staging.stg_mobile__events_checked by name select * replace "
                    "(? as event_id, ? as _loaded_at, 'hand' as _batch_id) "
                    "from staging.stg_mobile__events_checked limit 1", [event_id, loaded_at])


def test_status(warehouse: Path, work: Path, *extra: str) -> tuple[str, int | None]:
    """(status, failures) of the windowed unique test on stg_mobile__events in a ``dbt test`` run."""
    run_dbt(warehouse, work, "test", "--select", TEST, *extra, check=False)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    (result,) = [r for r in results if r["unique_id"].startswith(f"test.crm_cif.{TEST}")]
    return result["status"], result["failures"]


def compiled_test(work: Path) -> str:
    (path,) = (work / "target" / "compiled").rglob(f"{TEST}.sql")
    return path.read_text()


test_status.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("windowed_tests")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "mobile", "events", [event("E1"), event("E2")], T0, "b1")
    build_staging(warehouse, work)
    return warehouse, work


def test_a_pass_records_the_newest_load_time(staged):
    warehouse, _ = staged
    assert watermark(warehouse) == [(KEY, T0)]


def test_the_next_run_checks_only_keys_loaded_since_against_the_whole_table(staged):
    warehouse, work = staged
    assert test_status(warehouse, work) == ("pass", 0)
    sql = compiled_test(work)
    assert "_loaded_at > cast('2025-01-03 06:00:00' as timestamp)" in sql
    assert watermark(warehouse) == [(KEY, T0)]  # nothing new: the window stays where it was


def test_a_new_duplicate_fails_until_it_is_gone_and_only_then_moves_the_window(staged):
    warehouse, work = staged
    add_staged_row(warehouse, "E1", T1)  # a second E1, loaded after the recorded pass
    assert test_status(warehouse, work) == ("fail", 1)
    assert watermark(warehouse) == [(KEY, T0)]  # a failed test records nothing
    add_staged_row(warehouse, "E3", T2)  # the next day's clean row does not hide yesterday's duplicate
    assert test_status(warehouse, work) == ("fail", 1)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from staging.stg_mobile__events_checked where event_id = 'E1' and _loaded_at = ?", [T1])
    assert test_status(warehouse, work) == ("pass", 0)
    assert watermark(warehouse) == [(KEY, T2)]


def test_a_duplicate_dated_before_the_pass_needs_the_full_check(staged):
    warehouse, work = staged
    add_staged_row(warehouse, "E2", OLD)  # outside the window: only a hand edit can do this
    assert test_status(warehouse, work) == ("pass", 0)
    assert test_status(warehouse, work, "--vars", '{"full_data_tests": true}') == ("fail", 1)
    assert "_loaded_at >" not in compiled_test(work)


def test_a_run_asks_for_full_data_tests_by_tag_env_or_the_sunday_schedule(monkeypatch):
    from dagster import build_schedule_context

    from dagster_project.dbt_assets import build_args
    from dagster_project.definitions import daily_schedule
    from dagster_project.full_refresh import FULL_DATA_TESTS_ENV, FULL_DATA_TESTS_TAG, full_data_tests_requested

    monkeypatch.delenv(FULL_DATA_TESTS_ENV, raising=False)
    monkeypatch.delenv("DBT_EXCLUDE_RESOURCE_TYPES", raising=False)
    assert not full_data_tests_requested({})
    assert full_data_tests_requested({FULL_DATA_TESTS_TAG: "true"})
    monkeypatch.setenv(FULL_DATA_TESTS_ENV, "1")
    assert full_data_tests_requested(None)
    assert build_args(False, True) == ["build", "--exclude-resource-type", "unit_test",
                                       "--vars", "{full_data_tests: true}"]
    sunday, monday = datetime(2026, 12, 6, 6), datetime(2026, 12, 7, 6)
    tags = {day.strftime("%a"): daily_schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=day))
            .run_requests[0].tags for day in (sunday, monday)}
    assert tags["Sun"].get(FULL_DATA_TESTS_TAG) == "true"
    assert FULL_DATA_TESTS_TAG not in tags["Mon"]



# relationships_since_last_pass: the service cases' parties against dim_customer, on hand-made tables
REL_TEST = "relationships_since_last_pass_fct_service_cases_party_id"
REL_KEY = "marts.fct_service_cases.party_id.relationships"


def rel_status(warehouse: Path, work: Path, *extra: str) -> tuple[str, int | None]:
    run_dbt(warehouse, work, "test", "--select", f"{REL_TEST}*", *extra, check=False)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    (result,) = [r for r in results if r["unique_id"].startswith(f"test.crm_cif.{REL_TEST}")]
    return result["status"], result["failures"]


def rel_state(warehouse: Path) -> tuple[list[tuple], set[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mark = con.execute("select passed_through from main.dbt_test_watermarks where test_key = ?",
                           [REL_KEY]).fetchall()
        kept = {r[0] for r in con.execute(
            "select parent_key from main.dbt_test_kept__marts__fct_service_cases__party_id__relationships").fetchall()}
    return mark, kept


def rel_sql(work: Path) -> str:
    """The SQL the last run compiled for the test (its file name is shortened by a hash)."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    (result,) = [r for r in results if r["unique_id"].startswith(f"test.crm_cif.{REL_TEST}")]
    return result["compiled_code"]


def write(warehouse: Path, *statements: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for statement in statements:
            con.execute(statement)


rel_status.__test__ = False


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("windowed_relationships")
    warehouse = work / "warehouse.duckdb"
    write(warehouse, "create schema marts",
          "create table marts.dim_customer (party_id varchar)",
          "insert into marts.dim_customer values ('P1'), ('P2'), ('P3')",
          "create table marts.fct_service_cases (case_id varchar, party_id varchar, refreshed_at timestamp)",
          f"insert into marts.fct_service_cases values ('C1', 'P1', '{T0}'), ('C2', 'P2', '{T0}'), "
          f"('C3', null, '{T0}')")
    return warehouse, work


def test_relationships_first_pass_checks_everything_and_keeps_the_parent_keys(facts):
    warehouse, work = facts
    assert rel_status(warehouse, work) == ("pass", 0)
    assert "refreshed_at >" not in rel_sql(work)
    assert rel_state(warehouse) == ([(T0,)], {"P1", "P2", "P3"})


def test_relationships_next_run_checks_rows_written_since_and_lost_parents(facts):
    warehouse, work = facts
    assert rel_status(warehouse, work) == ("pass", 0)
    sql = rel_sql(work)
    assert "refreshed_at > cast('2025-01-03 06:00:00' as timestamp)" in sql
    assert "except" in sql


def test_relationships_a_new_orphan_fails_until_mended(facts):
    warehouse, work = facts
    write(warehouse, f"insert into marts.fct_service_cases values ('C4', 'P9', '{T1}')")
    assert rel_status(warehouse, work) == ("fail", 1)
    assert rel_state(warehouse) == ([(T0,)], {"P1", "P2", "P3"})  # a failure records nothing
    write(warehouse, "delete from marts.fct_service_cases where case_id = 'C4'")
    assert rel_status(warehouse, work) == ("pass", 0)


def test_relationships_an_old_child_whose_parent_vanished_fails(facts):
    warehouse, work = facts
    # C2 was written before the last pass: only the kept parent keys can tell that P2 is gone
    write(warehouse, "delete from marts.dim_customer where party_id = 'P2'")
    assert rel_status(warehouse, work) == ("fail", 1)
    write(warehouse, "insert into marts.dim_customer values ('P2')",
          f"insert into marts.fct_service_cases values ('C5', 'P3', '{T2}')")
    assert rel_status(warehouse, work) == ("pass", 0)
    assert rel_state(warehouse) == ([(T2,)], {"P1", "P2", "P3"})


def test_relationships_an_orphan_dated_before_the_pass_needs_the_full_check(facts):
    warehouse, work = facts
    write(warehouse, f"insert into marts.fct_service_cases values ('C6', 'P8', '{OLD}')")
    assert rel_status(warehouse, work) == ("pass", 0)
    assert rel_status(warehouse, work, "--vars", '{"full_data_tests": true}') == ("fail", 1)
