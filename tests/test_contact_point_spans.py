"""A contact point's span in ``int_party_record_versions``, kept incrementally.

A phone seen only on calls is a contact point with two versions: first seen (valid until the last
sighting) and last seen, each with the load time of the earliest-loaded sighting at that time. A
daily run merges the day's sightings with the first and last sighting the table keeps, instead of
reading every call ever staged (which grew with the history). Hand-made call-centre calls in a
throwaway warehouse:

- run 1 (loaded T0): phone A called on 5, 6 and 7 January;
- run 2 (loaded T1): a late file with a call from A on 2 January (a new first sighting) and one
  at the very time of the last (the last keeps T0, the earlier load); equal to a full refresh;
- run 3 (loaded T2): A calls on 6 January again (inside the span: nothing moves), phone B calls for
  the first time. Before it runs, the calls of T0 are deleted from staging: the span still ends on
  7 January, loaded T0, so run 3 read the kept span, not every call.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_staging import build_staging, create_raw_tables, insert_raw, run_dbt

T0, T1, T2 = datetime(2025, 1, 8, 6, 0), datetime(2025, 1, 9, 6, 0), datetime(2025, 1, 10, 6, 0)
PHONE_A, PHONE_B = "08031234567", "08037654321"
RECORD_A, RECORD_B = "callcentre:contact_point:phone:+2348031234567", "callcentre:contact_point:phone:+2348037654321"
MODEL = "int_party_record_versions"


def call(call_id: str, phone: str, started_at: str) -> dict:
    return {"call_id": call_id, "caller_phone": phone, "account_number": "", "agent_id": "AG1",
            "started_at": started_at, "wait_seconds": "10", "duration_seconds": "60", "reason_code": "balance",
            "resolution": "resolved", "first_contact_resolved": "true"}


def spans(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select record_id, valid_from, valid_to, _loaded_at from integration.{MODEL} "
                           "where source_entity = 'contact_point' order by all").fetchall()


def build(warehouse: Path, work: Path, *args: str, seeds: bool = False) -> None:
    build_staging(warehouse, work, seeds=seeds)
    run_dbt(warehouse, work, "run", "--select", MODEL, *args)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("contact_point_spans")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "callcentre", "calls", [call("C1", PHONE_A, "2025-01-05T10:00:00"),
                                                call("C2", PHONE_A, "2025-01-07T10:00:00"),
                                                call("C3", PHONE_A, "2025-01-06T10:00:00")], T0, "b1")
    build(warehouse, work, seeds=True)
    first = spans(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "callcentre", "calls", [call("C4", PHONE_A, "2025-01-02T09:00:00"),
                                                call("C5", PHONE_A, "2025-01-07T10:00:00")], T1, "b2")
    build(warehouse, work)
    second = spans(warehouse)
    run_dbt(warehouse, work, "run", "--select", MODEL, "--full-refresh")
    second_full = spans(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "callcentre", "calls", [call("C6", PHONE_A, "2025-01-06T12:00:00"),
                                                call("C7", PHONE_B, "2025-01-09T08:00:00")], T2, "b3")
    run_dbt(warehouse, work, "build", "--select", "staging")
    with duckdb.connect(str(warehouse)) as con:
        staged = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_name = 'stg_callcentre__calls_checked'").fetchone()
        deleted = con.execute(f"delete from {staged[0]}.{staged[1]} where _loaded_at = ?", [T0]).fetchall()[0][0]
    run_dbt(warehouse, work, "run", "--select", MODEL)
    return {"first": first, "second": second, "second_full": second_full, "third": spans(warehouse),
            "deleted": deleted}


def test_first_build_spans_the_first_and_last_call(runs):
    assert runs["first"] == [(RECORD_A, datetime(2025, 1, 5, 10), datetime(2025, 1, 7, 10), T0),
                             (RECORD_A, datetime(2025, 1, 7, 10), None, T0)]


def test_a_late_earlier_call_moves_the_first_sighting_and_equals_a_full_refresh(runs):
    assert runs["second"] == [(RECORD_A, datetime(2025, 1, 2, 9), datetime(2025, 1, 7, 10), T1),
                              (RECORD_A, datetime(2025, 1, 7, 10), None, T0)]
    assert runs["second"] == runs["second_full"]


def test_a_day_reads_the_kept_span_not_every_call(runs):
    """The T0 calls were gone from staging before run 3: the last sighting still is theirs."""
    assert runs["deleted"] == 3
    assert runs["third"] == [(RECORD_A, datetime(2025, 1, 2, 9), datetime(2025, 1, 7, 10), T1),
                             (RECORD_A, datetime(2025, 1, 7, 10), None, T0),
                             (RECORD_B, datetime(2025, 1, 9, 8), None, T2)]
