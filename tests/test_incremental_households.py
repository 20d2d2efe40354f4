"""Incremental household history: a daily run recomputes the parties at addresses where something changed.

Hand-made branch customers in a throwaway warehouse and a hand-written ``integration.party_xref``
(tests/test_incremental_history.py builds the same way). Run 1: Ada (PA) and Bola (PB) share
1 Marina, Dayo (PD, known first) and Eka (PE) share 9 Lake, Chidi (PC) at 5 Allen, Femi (PF) at
20 Hill and Gbenga (PG) at 30 Park live alone. Run 2: Dayo moves out of 9 Lake (Eka, unchanged
herself, now anchors her own household: found only through the key Dayo held), Chidi moves in
with Femi (Femi's household gains a member), Bola's record is merged into Ada's party (PB is
gone) and Gbenga is untouched: his row is marked by hand before the run and the mark survives,
while every other row equals ``--full-refresh`` on the same inputs. Run 3 changes
``household_max_members``: every party is recomputed; so does run 4, on kept keys without a kept
cap (the layout before the cap had its own table).
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from tests.test_dbt_staging import branch_customer, build_staging, create_raw_tables, insert_raw, run_dbt
from tests.test_incremental_history import set_xref

T0, T1 = datetime(2025, 1, 3, 6, 0), datetime(2025, 1, 12, 6, 0)
MODELS = ("int_party_record_versions", "int_party_records", "int_party_identifiers", "hist_party_golden_attributes",
          "int_party_seniority", "hist_household_members")
MARK = "HMARKED"
XREF_DAY_1 = [("branch:customers:AC1", "PA"), ("branch:customers:AC2", "PB"), ("branch:customers:AC3", "PC"),
              ("branch:customers:AC4", "PD"), ("branch:customers:AC5", "PE"), ("branch:customers:AC6", "PF"),
              ("branch:customers:AC7", "PG")]


def person(account: str, name: str, address: str, postcode: str, updated_at: str) -> dict:
    return branch_customer(account, updated_at, first_name=name, last_name="Test", address_line=address,
                           postcode=postcode, email=f"{name.lower()}@example.com", phone=f"080300000{account[-1]}")


def households(warehouse) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select party_id, household_id, valid_from, valid_to, is_current "
                           "from history.hist_household_members order by party_id, valid_from").fetchall()


def state(warehouse) -> tuple[list, list, list]:
    """The kept address keys per party, the kept cap and any staged table left behind."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        keys = con.execute("select party_id, count(*) "
                           "from integration.hist_household_members__address_keys group by 1 order by 1").fetchall()
        cap = con.execute("select max_members from integration.hist_household_members__address_keys_cap").fetchall()
        left = con.execute("select table_name from information_schema.tables "
                           "where table_name like 'hist_household_members__%changed%'").fetchall()
    return keys, cap, left


def household_of(rows: list[tuple], party: str) -> list[tuple]:
    return [(r[1], r[2], r[3]) for r in rows if r[0] == party]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_households")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "branch", "customers", [
            person("AC1", "Ada", "1 Marina", "101001", "02/01/2025 10:00"),
            person("AC2", "Bola", "1 Marina", "101001", "02/01/2025 11:00"),
            person("AC3", "Chidi", "5 Allen", "100271", "02/01/2025 10:00"),
            person("AC4", "Dayo", "9 Lake", "100300", "01/01/2025 10:00"),
            person("AC5", "Eka", "9 Lake", "100300", "02/01/2025 10:00"),
            person("AC6", "Femi", "20 Hill", "100500", "01/01/2025 10:00"),
            person("AC7", "Gbenga", "30 Park", "100700", "02/01/2025 10:00"),
        ], T0, "b1")
        set_xref(con, XREF_DAY_1)
    build_staging(warehouse, work)
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    first = households(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "branch", "customers", [
            person("AC4", "Dayo", "7 Bay", "100600", "10/01/2025 09:00"),
            person("AC3", "Chidi", "20 Hill", "100500", "11/01/2025 09:00"),
        ], T1, "b2")
        set_xref(con, [(record, "PA" if party == "PB" else party) for record, party in XREF_DAY_1])
        con.execute(f"update history.hist_household_members set household_id = '{MARK}' where party_id = 'PG'")
    run_dbt(warehouse, work, "build", "--select", "staging")
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    incremental, incremental_state = households(warehouse), state(warehouse)
    executed = next(p for p in (work / "target" / "compiled").rglob("hist_household_members.sql")
                    if not p.parent.name.endswith(".yml")).read_text()
    run_dbt(warehouse, work, "run", "--select", *MODELS, "--full-refresh")
    full = households(warehouse)

    # another cap: every party is recomputed (the mark goes), as a full build with that cap gives
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update history.hist_household_members set household_id = '{MARK}' where party_id = 'PG'")
    cap_one = json.dumps({"household_max_members": 1})
    run_dbt(warehouse, work, "run", "--select", "hist_household_members", "--vars", cap_one)
    after_cap, after_cap_state = households(warehouse), state(warehouse)
    run_dbt(warehouse, work, "run", "--select", "hist_household_members", "--vars", cap_one, "--full-refresh")
    full_cap = households(warehouse)

    # kept keys without a kept cap (a warehouse built before the cap had its own table, whose keys
    # carried it in a column): every party is recomputed and the keys are kept anew
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update history.hist_household_members set household_id = '{MARK}' where party_id = 'PG'")
        con.execute("drop table integration.hist_household_members__address_keys_cap")
        con.execute("alter table integration.hist_household_members__address_keys add column max_members integer")
    run_dbt(warehouse, work, "run", "--select", "hist_household_members", "--vars", cap_one)
    upgraded, upgraded_state = households(warehouse), state(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kept_columns = [c for c, in con.execute("select column_name from information_schema.columns where "
                                                "table_name = 'hist_household_members__address_keys' "
                                                "order by 1").fetchall()]
    return {"first": first, "incremental": incremental, "full": full, "executed": executed,
            "incremental_state": incremental_state, "after_cap": after_cap, "after_cap_state": after_cap_state,
            "full_cap": full_cap, "upgraded": upgraded, "upgraded_state": upgraded_state,
            "kept_columns": kept_columns}


def test_first_build_has_the_two_shared_households(builds):
    first = builds["first"]
    assert household_of(first, "PA")[0][0] == household_of(first, "PB")[0][0]
    assert household_of(first, "PD")[0][0] == household_of(first, "PE")[0][0]
    assert len({r[1] for r in first}) == 5  # 1 Marina, 9 Lake, 5 Allen, 20 Hill, 30 Park


def test_the_run_after_a_day_is_incremental(builds):
    assert "recomputed_parties" in builds["executed"]
    assert household_of(builds["incremental"], "PG")[0][0] == MARK  # Gbenga's row was not recomputed


def test_incremental_rows_equal_a_full_refresh_for_every_recomputed_party(builds):
    def others(rows):
        return [r for r in rows if r[0] != "PG"]
    assert others(builds["incremental"]) == others(builds["full"])
    assert household_of(builds["full"], "PG")[0][0] != MARK


def test_a_resident_left_behind_gets_her_own_household_from_the_day_the_anchor_moved(builds):
    eka = household_of(builds["incremental"], "PE")
    dayo = household_of(builds["incremental"], "PD")
    moved = datetime(2025, 1, 10, 9, 0)
    assert [(valid_from, valid_to) for _, valid_from, valid_to in eka] == [(datetime(2025, 1, 2, 10, 0), moved),
                                                                          (moved, None)]
    assert eka[0][0] == dayo[0][0] and eka[1][0] != dayo[0][0]  # the household moved with its anchor


def test_a_newcomer_joins_the_household_of_the_longest_known_resident(builds):
    femi, chidi = household_of(builds["incremental"], "PF"), household_of(builds["incremental"], "PC")
    assert len(femi) == 1 and femi[0][2] is None
    assert chidi[-1] == (femi[0][0], datetime(2025, 1, 11, 9, 0), None)


def test_a_merged_away_party_has_no_rows_and_its_keys_are_not_kept(builds):
    assert "PB" not in {r[0] for r in builds["incremental"]}
    keys, cap, left = builds["incremental_state"]
    assert [party for party, _ in keys] == ["PA", "PC", "PD", "PE", "PF", "PG"]
    assert dict(keys)["PC"] == 2  # 5 Allen and 20 Hill
    assert dict(keys)["PD"] == 2  # 9 Lake and 7 Bay
    assert cap == [(10,)]
    assert left == []


def test_another_household_cap_recomputes_every_party(builds):
    assert builds["after_cap"] == builds["full_cap"]
    assert household_of(builds["after_cap"], "PG")[0][0] != MARK
    assert builds["after_cap_state"][1] == [(1,)]
    # at most one resident: only the periods alone at an address are households
    assert "PE" in {r[0] for r in builds["full_cap"]} and len(household_of(builds["full_cap"], "PF")) == 1


def test_kept_keys_without_a_kept_cap_recompute_every_party(builds):
    assert builds["upgraded"] == builds["full_cap"]  # the hand-marked row of Gbenga is gone too
    keys, cap, left = builds["upgraded_state"]
    assert keys == builds["after_cap_state"][0] and cap == [(1,)] and left == []
    assert builds["kept_columns"] == ["key_hash", "party_id"]
