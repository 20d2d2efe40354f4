"""Incremental fact marts: an incremental run gives exactly the rows of a full refresh.

Hand-made raw rows in a throwaway warehouse: a first batch (visits, calls with a fallback phone,
a billing transaction, a service case) and a hand-written ``integration.party_identifiers``,
then the facts are built. A second batch brings a new visit and a new version of the old case,
and identity "re-runs": an account moves to another party, an account that matched no party
now does (the call falls from its phone to the account), and an identifier disappears. After an
incremental run every row of fct_interactions, fct_transactions and fct_service_cases must
equal the rows of ``--full-refresh``, and the changes must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_staging import build_staging, create_raw_tables, insert_raw, run_dbt

FACTS = ("fct_interactions", "fct_transactions", "fct_service_cases")
TOUCHPOINTS = "int_party_touchpoints"  # per-party figures of fct_interactions, incremental by party
REVENUE = "int_party_revenue"  # per-party figures of fct_transactions' revenue, the same way
MODELS = (*FACTS, TOUCHPOINTS, REVENUE)  # what every run of the fixture builds
KEYS = {"fct_interactions": "interaction_id", "fct_transactions": "transaction_id", "fct_service_cases": "case_id"}
T0, T1 = datetime(2025, 1, 3, 6, 0), datetime(2025, 1, 4, 6, 0)
PHONE = "+2348031234567"


def visit(visit_id: str, account: str, ts: str) -> dict:
    return {"visit_id": visit_id, "account_number": account, "branch_code": "LAG01", "visit_ts": ts,
            "purpose": "enquiry", "outcome": "served"}


def case(status: str, updated_at: str, closed_at: str = "") -> dict:
    return {"case_id": "CS1", "customer_ref": "AC0003", "customer_ref_type": "account_number", "channel": "branch",
            "category": "fees", "is_complaint": "true", "priority": "low", "opened_at": "2025-01-02T09:00:00",
            "closed_at": closed_at, "escalated": "false", "satisfaction_score": "", "status": status,
            "updated_at": updated_at}


def transaction(txn_id: str, account: str, ts: str, amount: str) -> dict:
    return {"txn_id": txn_id, "account_number": account, "holding_id": "H2", "product_code": "CUR_STD", "txn_ts": ts,
            "amount": amount, "currency": "NGN", "txn_type": "purchase", "channel": "branch"}


def set_identifiers(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str]]) -> None:
    con.execute("create schema if not exists integration")
    con.execute("create or replace table integration.party_identifiers (id_type varchar, id_value varchar, party_id varchar)")
    con.executemany("insert into integration.party_identifiers values (?, ?, ?)", rows)


def facts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = {f: con.execute(f"select * exclude (refreshed_at) from marts.{f} order by {KEYS[f]}").fetchall()
                 for f in FACTS}
        found[TOUCHPOINTS] = con.execute("select party_id, interactions_total, first_interaction_at, last_interaction_at, "
                                         f"last_branch_at, last_call_centre_at from integration.{TOUCHPOINTS} "
                                         "order by party_id").fetchall()
        found[REVENUE] = con.execute("select party_id, revenue_transactions, revenue_to_date, last_transaction_at "
                                     f"from integration.{REVENUE} order by party_id").fetchall()
        return found


def refreshed(warehouse: Path) -> dict[str, datetime]:
    """interaction_id -> refreshed_at: when the warehouse last wrote each interaction."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("select interaction_id, refreshed_at from marts.fct_interactions").fetchall())


def _statements_of(warehouse: Path, work: Path, *args: str) -> list[tuple[str, str]]:
    """Run dbt with its debug log on; (invocation id, SQL) of every statement it ran."""
    log_settings = {"DBT_LOG_LEVEL_FILE": "debug", "DBT_LOG_FORMAT_FILE": "json"}
    before = {name: os.environ.get(name) for name in log_settings}
    os.environ.update(log_settings)
    try:
        run_dbt(warehouse, work, *args)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    invocation = json.loads((work / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    events = (json.loads(line) for line in (work / "logs" / "dbt.log").read_text().splitlines() if line.startswith("{"))
    return [(invocation, " ".join(e["data"]["sql"].split())) for e in events
            if e["info"]["invocation_id"] == invocation and e["info"]["name"] == "SQLQuery"]


def party_of(rows: list[tuple], key: str) -> str | None:
    return next(r[1] for r in rows if r[0] == key)


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, dict[str, list[tuple]]]:
    work = tmp_path_factory.mktemp("incremental_facts")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "branch", "visits", [visit("BV1", "AC0001", "02/01/2025 10:00"),
                                             visit("BV2", "AC0002", "02/01/2025 11:00")], T0, "b1")
        insert_raw(con, "callcentre", "calls", [{
            "call_id": "CL1", "caller_phone": PHONE, "account_number": "AC0009", "agent_id": "AG1",
            "started_at": "2025-01-02T12:00:00", "wait_seconds": "10", "duration_seconds": "60",
            "reason_code": "balance", "resolution": "resolved", "first_contact_resolved": "true"}], T0, "b1")
        insert_raw(con, "billing", "transactions", [{
            "txn_id": "BT1", "account_number": "AC0002", "holding_id": "H1", "product_code": "CUR_STD",
            "txn_ts": "2025-01-02T13:00:00", "amount": "-500", "currency": "NGN", "txn_type": "refund",
            "channel": "branch"}, transaction("BT0", "AC0001", "2025-01-02T08:00:00", "100")], T0, "b1")
        insert_raw(con, "service", "cases", [case("open", "2025-01-02T09:00:00")], T0, "b1")
        set_identifiers(con, [("account_number", "AC0001", "PA"), ("account_number", "AC0002", "PB"),
                              ("account_number", "AC0003", "PC"), ("phone", PHONE, "PD")])
    build_staging(warehouse, work)
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    first, first_refreshed = facts(warehouse), refreshed(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "branch", "visits", [visit("BV3", "AC0001", "03/01/2025 10:00")], T1, "b2")
        insert_raw(con, "service", "cases", [case("closed", "2025-01-03T15:00:00", "2025-01-03T15:00:00")], T1, "b2")
        insert_raw(con, "billing", "transactions", [transaction("BT2", "AC0001", "2025-01-03T08:00:00", "50")], T1, "b2")
        # a new call from an account that matches no party: only the caller's phone gives its party
        insert_raw(con, "callcentre", "calls", [{
            "call_id": "CL2", "caller_phone": PHONE, "account_number": "AC0010", "agent_id": "AG1",
            "started_at": "2025-01-03T12:00:00", "wait_seconds": "10", "duration_seconds": "60",
            "reason_code": "balance", "resolution": "resolved", "first_contact_resolved": "true"}], T1, "b2")
        # Identity re-ran: AC0002 moved from PB to PA (a merge), AC0009 now has a party, AC0003 is gone.
        set_identifiers(con, [("account_number", "AC0001", "PA"), ("account_number", "AC0002", "PA"),
                              ("account_number", "AC0009", "PE"), ("phone", PHONE, "PD")])
    run_dbt(warehouse, work, "build", "--select", "staging")
    second_sql = _statements_of(warehouse, work, "run", "--select", *MODELS)
    incremental, incremental_refreshed = facts(warehouse), refreshed(warehouse)
    executed = {f: next((work / "target" / "run").rglob(f"{f}.sql")).read_text()
                + next((work / "target" / "compiled").rglob(f"{f}.sql")).read_text() for f in FACTS}
    # A third run on a copy: AC0002 goes back to PB. Only a kept mapping that the second run brought
    # up to date (its post-hook patches the changed keys) tells the move apart from no change.
    # The phone moves from PD to PF: CL2 (phone only) moves with it, CL1 is re-derived but stays PE's
    # (its account wins), so PE's count must not grow by the row written for it.
    third = work / "third.duckdb"
    shutil.copy(warehouse, third)
    with duckdb.connect(str(third)) as con:
        set_identifiers(con, [("account_number", "AC0001", "PA"), ("account_number", "AC0002", "PB"),
                              ("account_number", "AC0009", "PE"), ("phone", PHONE, "PF")])
    run_dbt(third, work, "run", "--select", *MODELS)
    third_full = work / "third_full.duckdb"
    shutil.copy(third, third_full)
    run_dbt(third_full, work, "run", "--select", *MODELS, "--full-refresh")
    with duckdb.connect(str(third), read_only=True) as con:
        mapping = sorted(con.execute("select * from integration.party_identifiers").fetchall())
        kept = {f: sorted(con.execute(f"select id_type, id_value, party_id from integration.{f}__party_identifiers")
                          .fetchall()) for f in FACTS}
        staged_left = con.execute("select table_name from information_schema.tables "
                                  "where table_name like '%\\_\\_changes' escape '\\'").fetchall()
    # A fourth run on another copy, whose kept copy of one fact lost a row after its save (as by a run of
    # an older version, which does not record saves): that fact compares for itself, not from another's
    # changes, and its kept copy comes back equal to the mapping.
    fourth = work / "fourth.duckdb"
    shutil.copy(warehouse, fourth)
    with duckdb.connect(str(fourth)) as con:
        con.execute("delete from integration.fct_transactions__party_identifiers where id_value = 'AC0001'")
        set_identifiers(con, [("account_number", "AC0001", "PA"), ("account_number", "AC0002", "PB"),
                              ("account_number", "AC0009", "PE"), ("phone", PHONE, "PD")])
    fourth_sql = _statements_of(fourth, work, "run", "--select", *FACTS, "--threads", "1")
    with duckdb.connect(str(fourth), read_only=True) as con:
        fourth_kept = {f: sorted(con.execute(f"select id_type, id_value, party_id from integration.{f}__party_identifiers")
                                 .fetchall()) for f in FACTS}
        fourth_mapping = sorted(con.execute("select * from integration.party_identifiers").fetchall())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        saves = sorted(con.execute("select kept_copy, saved_in from main.dbt_applied_mapping_saves").fetchall())
    second_invocation = second_sql[0][0] if second_sql else None
    run_dbt(warehouse, work, "run", "--select", *MODELS, "--full-refresh")
    return {"first": first, "incremental": incremental, "full": facts(warehouse), "executed": executed,
            "second_sql": second_sql, "saves": saves, "second_invocation": second_invocation,
            "fourth_sql": fourth_sql, "fourth_kept": fourth_kept, "fourth_mapping": fourth_mapping,
            "refreshed": (first_refreshed, incremental_refreshed), "third": facts(third), "third_full": facts(third_full),
            "third_mapping": mapping, "third_kept": kept, "third_staged_left": staged_left}


def test_first_build_maps_parties_with_fallback(builds):
    rows = builds["first"]["fct_interactions"]
    assert [r[0] for r in rows] == ["branch:visits:BV1", "branch:visits:BV2", "callcentre:calls:CL1", "service:cases:CS1"]
    assert party_of(rows, "callcentre:calls:CL1") == "PD"  # AC0009 unknown: the caller's phone
    assert builds["first"]["fct_service_cases"][0][1] == "PC"


def test_second_run_is_incremental(builds):
    """The second run replaced rows by key, from the rows loaded after the first batch (T0)."""
    for fact in FACTS:
        sql = builds["executed"][fact]
        assert "delete from" in sql and "insert into" in sql, fact
        assert f"> cast('{T0}' as timestamp)" in sql, fact


def test_second_run_joins_only_the_identifiers_its_rows_name(builds):
    """The identifier joins of an incremental run read the identifiers the refreshed rows name (primary
    and fallback), not all of them: the day's rows build the join, not the ~4 M identifiers."""
    restricted = {"fct_interactions": ("id_value", "fallback_id_value"), "fct_transactions": ("id_value",),
                  "fct_service_cases": ("customer_ref",)}
    for fact, columns in restricted.items():
        sql = " ".join(builds["executed"][fact].split())
        for column in columns:
            assert f"id_value in (select {column} from refreshed)" in sql, (fact, column)


def test_incremental_run_equals_full_refresh(builds):
    for fact in MODELS:
        assert builds["incremental"][fact] == builds["full"][fact], fact


def test_touchpoints_follow_rows_that_move_between_parties(builds):
    """Per party: PB's only visit moved to PA (PB's row goes), CL1 moved from PD to PE, CS1 lost its party."""
    visit, call = datetime(2025, 1, 2, 10), datetime(2025, 1, 2, 12)
    assert builds["first"][TOUCHPOINTS] == [("PA", 1, visit, visit, visit, None),
                                            ("PB", 1, datetime(2025, 1, 2, 11), datetime(2025, 1, 2, 11),
                                             datetime(2025, 1, 2, 11), None),
                                            ("PC", 1, datetime(2025, 1, 2, 9), datetime(2025, 1, 2, 9), datetime(2025, 1, 2, 9), None),
                                            ("PD", 1, call, call, None, call)]
    assert [(r[0], r[1]) for r in builds["incremental"][TOUCHPOINTS]] == [("PA", 3), ("PD", 1), ("PE", 1)]
    # the third run moves BV2 back (PB counts again, PA loses one) and CL2 with the phone (PD goes, PF
    # comes); CL1, re-derived in place, still counts once for PE
    assert [(r[0], r[1]) for r in builds["third"][TOUCHPOINTS]] == [("PA", 2), ("PB", 1), ("PE", 1), ("PF", 1)]


def test_touchpoints_merged_or_recounted_equal_a_full_refresh(builds):
    """Per-party figures after each incremental run equal a full refresh's: parties that only gained
    rows (merged with the kept figures) and those that lost or re-derived one (recounted) alike."""
    assert builds["third"][TOUCHPOINTS] == builds["third_full"][TOUCHPOINTS]
    assert builds["third"][REVENUE] == builds["third_full"][REVENUE]
    for fact in FACTS:
        assert builds["third"][fact] == builds["third_full"][fact], fact


def test_revenue_follows_transactions_that_move_between_parties(builds):
    """PA gains BT2 (new) and BT1 (moved from PB) on top of its kept BT0: merged; PB lost its only one."""
    bt0, bt1, bt2 = datetime(2025, 1, 2, 8), datetime(2025, 1, 2, 13), datetime(2025, 1, 3, 8)
    assert builds["first"][REVENUE] == [("PA", 1, Decimal("100.00"), bt0), ("PB", 1, Decimal("-500.00"), bt1)]
    assert builds["incremental"][REVENUE] == [("PA", 3, Decimal("-350.00"), bt2)]
    # the third run moves BT1 back to PB
    assert builds["third"][REVENUE] == [("PA", 2, Decimal("150.00"), bt2), ("PB", 1, Decimal("-500.00"), bt1)]


def test_incremental_run_applies_new_rows_versions_and_identity_changes(builds):
    rows = builds["incremental"]["fct_interactions"]
    assert [r[0] for r in rows] == ["branch:visits:BV1", "branch:visits:BV2", "branch:visits:BV3",
                                    "callcentre:calls:CL1", "callcentre:calls:CL2", "service:cases:CS1"]
    assert party_of(rows, "branch:visits:BV3") == "PA"
    assert party_of(rows, "callcentre:calls:CL2") == "PD"  # its account matches nothing: the phone
    assert party_of(rows, "branch:visits:BV2") == "PA"  # moved with its account
    assert party_of(rows, "callcentre:calls:CL1") == "PE"  # the account now matches: primary wins
    assert party_of(rows, "service:cases:CS1") is None  # its identifier is gone
    assert party_of(builds["incremental"]["fct_transactions"], "billing:transactions:BT1") == "PA"
    (cs1,) = builds["incremental"]["fct_service_cases"]
    assert (cs1[0], cs1[1], cs1[12], cs1[-1]) == ("CS1", None, "closed", T1)  # the new version, loaded at T1
    interaction_cs1 = next(r for r in rows if r[0] == "service:cases:CS1")
    assert interaction_cs1[7] == "closed"  # outcome of the current version


def test_refreshed_at_marks_the_rows_each_run_wrote(builds):
    """New and re-derived rows carry the second run's time; a row nothing touched keeps the first run's."""
    first, second = builds["refreshed"]
    assert len(set(first.values())) == 1  # one value per run
    (first_run,) = set(first.values())
    written = {key for key, at in second.items() if at > first_run}
    assert {key for key, at in second.items() if at == first_run} == {"branch:visits:BV1"}
    # BV3 and CL2 new, BV2 moved party, CL1 fell from the phone to its account, CS1 new version and lost its party
    assert written == {"branch:visits:BV2", "branch:visits:BV3", "callcentre:calls:CL1", "callcentre:calls:CL2",
                       "service:cases:CS1"}
    assert len({second[key] for key in written}) == 1


def test_a_third_run_moves_rows_back_from_the_patched_kept_mapping(builds):
    """The kept mapping is patched by key after each incremental run, and the next run reads it."""
    before, after = builds["incremental"], builds["third"]
    assert party_of(after["fct_interactions"], "branch:visits:BV2") == "PB"
    assert party_of(after["fct_transactions"], "billing:transactions:BT1") == "PB"
    assert party_of(after["fct_interactions"], "callcentre:calls:CL2") == "PF"
    moved = {"branch:visits:BV2", "billing:transactions:BT1", "callcentre:calls:CL2"}
    for fact in FACTS:  # (the touchpoints: test_touchpoints_follow_rows_that_move_between_parties)
        assert [r for r in after[fact] if r[0] not in moved] == [r for r in before[fact] if r[0] not in moved], fact
        assert builds["third_kept"][fact] == builds["third_mapping"], fact
    assert builds["third_staged_left"] == []


def test_the_facts_share_one_comparison_of_the_identifiers(builds):
    """The three facts keep the same mapping, saved by the same run: the second run compares it once
    per thread at most (dbt runs two), and a fact that starts after another committed copies that
    one's staged changes; the results are those of a full refresh (test_incremental_run_equals_full_refresh)."""
    staged = _staged(builds["second_sql"])
    assert sorted(staged) == sorted(FACTS)
    assert 1 <= list(staged.values()).count("compared") <= 2 and "copied" in staged.values()
    # every kept copy recorded as saved by the run that saved it last (the third and the full refresh ran later
    # on other files or after this read)
    assert builds["saves"] == sorted((f"integration.{f}__party_identifiers", builds["second_invocation"])
                                     for f in FACTS)


def _staged(statements: list[tuple[str, str]]) -> dict[str, str]:
    """fact -> how its pre-hook staged its changes: 'compared' or 'copied'."""
    parts = [part.strip() for _, sql in statements for part in sql.split(";")]
    found = {}
    for part in parts:
        m = re.match(r'create table "\w+"."integration"."(fct_\w+)__party_identifiers__changes" as', part)
        if m:
            found[m.group(1)] = "compared" if "full outer join" in part else "copied"
    return found


def test_a_kept_copy_changed_since_its_save_compares_for_itself(builds):
    """One thread: the first fact compares, the others would copy; the fact whose kept copy lost a row
    compares, and every kept copy ends equal to the mapping."""
    staged = _staged(builds["fourth_sql"])
    assert staged["fct_transactions"] == "compared"
    assert sorted(staged.values()) == ["compared", "compared", "copied"]
    for fact in FACTS:
        assert builds["fourth_kept"][fact] == builds["fourth_mapping"], fact
