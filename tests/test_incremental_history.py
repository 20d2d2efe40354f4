"""Incremental golden record and history: a daily run recomputes only the parties that can have changed.

Hand-made branch customers in a throwaway warehouse and a hand-written ``integration.party_xref``.
Run 1 builds ``history.hist_party_golden_attributes``, ``integration.int_party_golden`` and
``history.hist_party_golden`` for three parties. Then Ada moves (a new version), Bola's record is
merged into Ada's party (identity re-ran: party PB is gone) and Chidi is untouched. Before the
incremental run Chidi's rows are marked by hand: the marks survive, so his rows were not
recomputed, while every other row equals ``--full-refresh`` on the same inputs. Last, only
Chidi's household periods change (someone else moved): hist_party_golden recomputes him alone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_staging import branch_customer, build_staging, create_raw_tables, insert_raw, run_dbt

T0, T1 = datetime(2025, 1, 3, 6, 0), datetime(2025, 1, 4, 6, 0)
MODEL = "hist_party_golden_attributes"
GOLDEN = "int_party_golden"
SCD2 = "hist_party_golden"
MODELS = ("int_party_record_versions", "int_party_records", "int_party_identifiers", GOLDEN, MODEL,
          "int_party_seniority", "hist_household_members", SCD2)
MARK = "marked by the test"


def set_xref(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str]]) -> None:
    con.execute("create schema if not exists integration")
    con.execute("create or replace table integration.party_xref "
                "(record_id varchar, party_id varchar, party_type varchar)")
    con.executemany("insert into integration.party_xref values (?, ?, 'individual')", rows)


def history(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select party_id, first_name, last_name, city, valid_from, valid_to "
                           f"from history.{MODEL} order by party_id, valid_from").fetchall()


def scd2(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select party_id, city, household_id, valid_from, valid_to, loaded_at "
                           f"from history.{SCD2} order by party_id, valid_from").fetchall()


def mark_chidi(con: duckdb.DuckDBPyConnection) -> None:
    for table in (f"history.{MODEL}", f"integration.{GOLDEN}", f"history.{SCD2}"):
        con.execute(f"update {table} set city = '{MARK}' where party_id = 'PC'")


def records(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select record_id, email, city, trust_rank from integration.int_party_records "
                           "order by all").fetchall()


def identifiers(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select * from integration.int_party_identifiers order by all").fetchall()


def mark_chidi_record(con: duckdb.DuckDBPyConnection) -> None:
    """Chidi's current record and one of his identifiers, marked: a rebuild would undo both."""
    con.execute(f"update integration.int_party_records set city = '{MARK}' where record_id = 'branch:customers:AC3'")
    con.execute("delete from integration.int_party_identifiers "
                "where record_id = 'branch:customers:AC3' and id_type = 'email'")


def versions(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select record_id, city, valid_from, valid_to, _loaded_at, trust_rank "
                           "from integration.int_party_record_versions order by all").fetchall()


def seniority(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select * from integration.int_party_seniority order by party_id").fetchall()


def golden(warehouse: Path) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from integration.{GOLDEN} order by party_id")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_history")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "branch", "customers", [
            branch_customer("AC1"),
            branch_customer("AC2", first_name="Bola", last_name="Ade", email="bola@example.com", city="Ibadan",
                            phone="08031111111"),
            branch_customer("AC3", first_name="Chidi", last_name="Eze", email="chidi@example.com", city="Enugu",
                            phone="08032222222"),
        ], T0, "b1")
        set_xref(con, [("branch:customers:AC1", "PA"), ("branch:customers:AC2", "PB"),
                       ("branch:customers:AC3", "PC")])
    build_staging(warehouse, work)
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    first, first_golden, first_scd2 = history(warehouse), golden(warehouse), scd2(warehouse)
    first_seniority = seniority(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "branch", "customers", [branch_customer("AC1", "10/01/2025 09:00", city="Abuja",
                                                                email="ada.obi@example.com")], T1, "b2")
        set_xref(con, [("branch:customers:AC1", "PA"), ("branch:customers:AC2", "PA"),  # PB merged into PA
                       ("branch:customers:AC3", "PC")])
        mark_chidi(con)
        mark_chidi_record(con)
    run_dbt(warehouse, work, "build", "--select", "staging")
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    incremental, incremental_golden, incremental_scd2 = history(warehouse), golden(warehouse), scd2(warehouse)
    incremental_records, incremental_identifiers = records(warehouse), identifiers(warehouse)
    scd2_sql = next((work / "target" / "run").rglob(f"{SCD2}.sql")).read_text()
    incremental_versions, incremental_seniority = versions(warehouse), seniority(warehouse)
    versions_sql = (next((work / "target" / "run").rglob("int_party_record_versions.sql")).read_text()
                    + next(p for p in (work / "target" / "compiled").rglob("int_party_record_versions.sql")
                           if not p.parent.name.endswith(".yml")).read_text())
    golden_sql = next((work / "target" / "run").rglob(f"{GOLDEN}.sql")).read_text()
    executed = (next((work / "target" / "run").rglob(f"{MODEL}.sql")).read_text()
                + next(p for p in (work / "target" / "compiled").rglob(f"{MODEL}.sql")
                       if not p.parent.name.endswith(".yml")).read_text())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mapping = con.execute(f"select record_id, party_id from integration.{MODEL}__party_records "
                              "order by record_id").fetchall()
        # the changes each model's pre-hook staged were applied to its kept copy and dropped
        staged_left = con.execute("select table_name from information_schema.tables "
                                  "where table_name like '%\\_\\_changes' escape '\\'").fetchall()
    run_dbt(warehouse, work, "run", "--select", *MODELS, "--full-refresh")
    full, full_golden, full_versions = history(warehouse), golden(warehouse), versions(warehouse)
    full_seniority = seniority(warehouse)
    full_scd2 = scd2(warehouse)
    full_records, full_identifiers = records(warehouse), identifiers(warehouse)
    # a survivorship input changes (here a trust rank): every party is recomputed, marks and all
    with duckdb.connect(str(warehouse)) as con:
        mark_chidi(con)
        mark_chidi_record(con)
        con.execute("update reference.source_trust set trust_rank = trust_rank + 100 where source_system = 'branch'")
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    after_rules = {"history": history(warehouse), "golden": golden(warehouse), "versions": versions(warehouse),
                   "scd2": scd2(warehouse), "records": records(warehouse)}
    # only Chidi's household periods change (as when someone else moves in); Ada's rows are marked
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update history.{SCD2} set city = '{MARK}' where party_id = 'PA'")
        con.execute("update history.hist_household_members set household_id = 'HX' where party_id = 'PC'")
    run_dbt(warehouse, work, "run", "--select", SCD2)
    after_households = scd2(warehouse)
    return {"first_scd2": first_scd2, "incremental_scd2": incremental_scd2, "full_scd2": full_scd2,
            "scd2_sql": scd2_sql, "after_households": after_households,
            "first": first, "incremental": incremental, "full": full, "executed": executed,
            "mapping": mapping, "staged_left": staged_left,
            "seniority": (first_seniority, incremental_seniority, full_seniority), "first_golden": first_golden, "incremental_golden": incremental_golden,
            "full_golden": full_golden, "golden_sql": golden_sql, "after_rules": after_rules,
            "incremental_versions": incremental_versions, "full_versions": full_versions,
            "versions_sql": versions_sql,
            "records": (incremental_records, full_records, incremental_identifiers, full_identifiers)}


def test_first_build_has_one_period_per_party(builds):
    assert [(r[0], r[3], r[5]) for r in builds["first"]] == [("PA", "Lagos", None), ("PB", "Ibadan", None),
                                                              ("PC", "Enugu", None)]


def test_second_run_is_incremental_by_party(builds):
    sql = builds["executed"]
    assert "delete from" in sql and "insert into" in sql
    assert f"> cast('{T0}' as timestamp)" in sql  # the watermark: versions loaded after run 1


def test_untouched_party_is_not_recomputed(builds):
    assert [r[3] for r in builds["incremental"] if r[0] == "PC"] == [MARK]


def test_changed_parties_equal_a_full_refresh_and_the_merged_party_is_gone(builds):
    changed = [r for r in builds["incremental"] if r[0] != "PC"]
    assert changed == [r for r in builds["full"] if r[0] != "PC"]
    assert {r[0] for r in changed} == {"PA"}
    # Ada's move opens a period in Abuja on her new version's date (business time)
    assert [(r[3], r[4], r[5]) for r in changed][-2:] == [
        ("Lagos", datetime(2025, 1, 2, 10, 15), datetime(2025, 1, 10, 9, 0)),
        ("Abuja", datetime(2025, 1, 10, 9, 0), None)]


def test_the_mapping_used_is_kept_for_the_next_run(builds):
    assert builds["mapping"] == [("branch:customers:AC1", "PA"), ("branch:customers:AC2", "PA"),
                                 ("branch:customers:AC3", "PC")]
    assert builds["staged_left"] == []


def test_golden_record_is_incremental_by_party(builds):
    assert [(r["party_id"], r["city"]) for r in builds["first_golden"]] == [("PA", "Lagos"), ("PB", "Ibadan"),
                                                                             ("PC", "Enugu")]
    assert "delete from" in builds["golden_sql"] and "insert into" in builds["golden_sql"]
    # Chidi untouched: his marked row stayed; the merged party PB is gone; Ada equals a full refresh
    assert [r["city"] for r in builds["incremental_golden"] if r["party_id"] == "PC"] == [MARK]
    assert [r for r in builds["incremental_golden"] if r["party_id"] != "PC"] == [
        r for r in builds["full_golden"] if r["party_id"] != "PC"]
    (ada,) = [r for r in builds["incremental_golden"] if r["party_id"] == "PA"]
    assert (ada["city"], ada["source_record_count"], ada["last_name"]) == ("Abuja", 2, "Obi")


def test_a_changed_survivorship_seed_recomputes_every_party(builds):
    # every record is branch: a new branch trust rank reaches every version, and every party's
    # golden rows are recomputed (the marks are gone) with the same winners
    assert {r[5] for r in builds["after_rules"]["versions"]} == {101}
    assert builds["after_rules"]["history"] == builds["full"]
    assert builds["after_rules"]["golden"] == builds["full_golden"]
    assert builds["after_rules"]["scd2"] == builds["full_scd2"]


def test_golden_scd2_is_incremental_by_party(builds):
    assert [(r[0], r[1], r[4]) for r in builds["first_scd2"]] == [("PA", "Lagos", None), ("PB", "Ibadan", None),
                                                                   ("PC", "Enugu", None)]
    assert "delete from" in builds["scd2_sql"] and "insert into" in builds["scd2_sql"]
    assert [r[1] for r in builds["incremental_scd2"] if r[0] == "PC"] == [MARK]
    assert [r for r in builds["incremental_scd2"] if r[0] != "PC"] == [
        r for r in builds["full_scd2"] if r[0] != "PC"]
    assert [(r[1], r[4]) for r in builds["incremental_scd2"] if r[0] == "PA"] == [
        ("Lagos", datetime(2025, 1, 10, 9, 0)), ("Abuja", None)]


def test_golden_scd2_recomputes_a_party_whose_household_alone_changed(builds):
    after = builds["after_households"]
    assert {r[2] for r in after if r[0] == "PC"} == {"HX"}
    assert [r[1] for r in after if r[0] == "PC"] == ["Enugu"]  # recomputed from its attribute periods
    assert {r[1] for r in after if r[0] == "PA"} == {MARK}  # untouched: not recomputed


def test_record_versions_are_incremental_by_record_and_equal_a_full_refresh(builds):
    sql = builds["versions_sql"]
    assert "delete from" in sql and "insert into" in sql
    assert f"where _loaded_at > cast('{T0}' as timestamp)" in sql  # only keys with a row loaded since run 1
    assert builds["incremental_versions"] == builds["full_versions"]
    ada = [r for r in builds["incremental_versions"] if r[0] == "branch:customers:AC1"]
    assert [(r[1], r[3]) for r in sorted(ada, key=lambda r: r[2])] == [("Lagos", datetime(2025, 1, 10, 9, 0)),
                                                                         ("Abuja", None)]


def test_seniority_is_incremental_by_party_and_equals_a_full_refresh(builds):
    """PB merged into PA: PA is known since the earliest of both records, PB is gone; PC untouched."""
    first, incremental, full = builds["seniority"]
    assert [r[0] for r in first] == ["PA", "PB", "PC"]
    assert incremental == full
    assert [(r[0], r[2]) for r in incremental] == [("PA", "branch:customers:AC1"), ("PC", "branch:customers:AC3")]
    assert incremental[0][1] == min(first[0][1], first[1][1])


def test_party_records_and_identifiers_are_incremental_by_record(builds):
    """Ada's new version (a new email) reaches her record and identifiers; Chidi's marks survive the
    incremental run (his record was not re-derived); every other row equals a full refresh."""
    incremental_records, full_records, incremental_ids, full_ids = builds["records"]
    chidi = "branch:customers:AC3"
    assert [r for r in incremental_records if r[0] != chidi] == [r for r in full_records if r[0] != chidi]
    assert [r[2] for r in incremental_records if r[0] == chidi] == [MARK]
    assert ("branch:customers:AC1", "ada.obi@example.com", "Abuja", 1) in incremental_records
    assert ("branch:customers:AC1", "email", "ada.obi@example.com") in incremental_ids
    assert ("branch:customers:AC1", "email", "ada@example.com") in incremental_ids  # an email she had stays
    assert [r for r in incremental_ids if r[0] != chidi] == [r for r in full_ids if r[0] != chidi]
    assert (chidi, "email", "chidi@example.com") in full_ids and (chidi, "email", "chidi@example.com") not in incremental_ids
    # a new trust rank re-derives every record, marked or not
    assert {(r[2], r[3]) for r in builds["after_rules"]["records"] if r[0] == chidi} == {("Enugu", 101)}
