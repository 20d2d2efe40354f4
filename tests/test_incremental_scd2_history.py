"""The SCD2 histories of holdings and consent are incremental by key, and equal a full rebuild.

Run 1 builds ``history.hist_holdings`` and ``history.hist_consent`` from hand-made raw rows and
identifiers. Every row is then marked (a rebuild of a key would undo its mark). Run 2 brings a
new version of holding H1, moves account AC3 (H2's payer) to another party, records a new
decision for ada@example.com and moves bola@example.com (an unsubscribe) to another party. Only
those holdings and subjects may be recomputed: H3 and the phone subject keep their marks. The
recomputed rows must equal a full refresh's, and a table whose kept watermark and mapping are
gone (the first run after an upgrade) is recomputed whole.
"""

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.test_dbt_staging import build_staging, create_raw_tables, insert_raw, run_dbt

T0, T1 = datetime(2025, 3, 2, 6, 0), datetime(2025, 3, 3, 6, 0)
MODELS = ("hist_holdings", "hist_consent")
MARK = "marked by the test"
HOLDING_COLUMNS = ("holding_id", "party_id", "payer_party_id", "status", "end_date", "valid_from", "valid_to",
                   "is_current", "version_count")
CONSENT_COLUMNS = ("subject_type", "subject_value", "party_id", "purpose", "channel", "granted", "decision_source",
                   "decision_id", "valid_from", "valid_to", "is_current")


def holding(holding_id: str, account: str, updated_at: str, **overrides: str) -> dict:
    return {"holding_id": holding_id, "account_number": account, "product_code": "CUR_STD",
            "start_date": "2025-01-01", "status": "active", "monthly_fee": "10.00", "updated_at": updated_at,
            **overrides}


def consent(consent_id: str, subject_type: str, subject_value: str, granted: str, recorded_at: str) -> dict:
    return {"consent_id": consent_id, "subject_type": subject_type, "subject_value": subject_value,
            "purpose": "marketing", "channel": "email" if subject_type == "email" else "sms",
            "granted": granted, "recorded_at": recorded_at}


def set_identifiers(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str]]) -> None:
    con.execute("create schema if not exists integration")
    con.execute("create or replace table integration.party_identifiers "
                "(id_type varchar, id_value varchar, party_id varchar)")
    con.executemany("insert into integration.party_identifiers values (?, ?, ?)", rows)


IDENTIFIERS = [("account_number", "AC1", "P1"), ("account_number", "AC2", "P2"), ("account_number", "AC3", "P3"),
               ("account_number", "AC4", "P4"), ("email", "ada@example.com", "P1"),
               ("email", "bola@example.com", "P2"), ("phone", "+2348031111111", "P4")]


def rows(warehouse: Path, table: str, columns: tuple[str, ...]) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select {', '.join(columns)} from history.{table} order by all").fetchall()


def mark_everything(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update history.hist_holdings set status = '{MARK}'")
        con.execute(f"update history.hist_consent set decision_source = '{MARK}'")


def marked(warehouse: Path) -> tuple[set, set]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        holdings = {r[0] for r in con.execute(
            f"select holding_id from history.hist_holdings where status = '{MARK}'").fetchall()}
        subjects = {r[0] for r in con.execute(
            f"select subject_value from history.hist_consent where decision_source = '{MARK}'").fetchall()}
    return holdings, subjects


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("incremental_scd2")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        insert_raw(con, "billing", "holdings", [
            holding("H1", "AC1", "2025-01-01T09:00:00"),
            holding("H2", "AC2", "2025-01-02T09:00:00", payer_account_number="AC3"),
            holding("H3", "AC4", "2025-01-03T09:00:00"),
        ], T0, "b1")
        insert_raw(con, "marketing", "consents", [
            consent("C1", "email", "ada@example.com", "true", "2025-01-05T10:00:00"),
            consent("C2", "phone", "08031111111", "true", "2025-01-06T10:00:00"),
        ], T0, "b2")
        insert_raw(con, "email", "events", [
            {"event_id": "E1", "email_address": "bola@example.com", "event_type": "unsubscribe",
             "event_ts": "2025-01-07T10:00:00"},
        ], T0, "b3")
        set_identifiers(con, IDENTIFIERS)
    build_staging(warehouse, work)
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    first = {"holdings": rows(warehouse, "hist_holdings", HOLDING_COLUMNS),
             "consent": rows(warehouse, "hist_consent", CONSENT_COLUMNS)}
    mark_everything(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        insert_raw(con, "billing", "holdings", [
            holding("H1", "AC1", "2025-02-01T09:00:00", status="closed", end_date="2025-02-01"),
        ], T1, "b4")
        insert_raw(con, "marketing", "consents", [
            consent("C3", "email", "ada@example.com", "false", "2025-02-05T10:00:00"),
        ], T1, "b5")
        moved = {("account_number", "AC3"): "P1", ("email", "bola@example.com"): "P5"}
        set_identifiers(con, [(t, v, moved.get((t, v), p)) for t, v, p in IDENTIFIERS])
    run_dbt(warehouse, work, "build", "--select", "staging")
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    incremental = {"holdings": rows(warehouse, "hist_holdings", HOLDING_COLUMNS),
                   "consent": rows(warehouse, "hist_consent", CONSENT_COLUMNS),
                   "marked": marked(warehouse)}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        refreshed = dict(con.execute("select holding_id, max(refreshed_at) from history.hist_holdings "
                                     "group by holding_id").fetchall())
        kept_types = {model: {r[0] for r in con.execute(
            f"select distinct id_type from integration.{model}__party_identifiers").fetchall()} for model in MODELS}

    # the first run after an upgrade: no kept watermark or mapping, so every key is recomputed
    mark_everything(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for model in MODELS:
            con.execute(f"drop table staging.{model}__loaded_through")
            con.execute(f"drop table integration.{model}__party_identifiers")
    run_dbt(warehouse, work, "run", "--select", *MODELS)
    upgraded = marked(warehouse)

    run_dbt(warehouse, work, "run", "--select", *MODELS, "--full-refresh")
    full = {"holdings": rows(warehouse, "hist_holdings", HOLDING_COLUMNS),
            "consent": rows(warehouse, "hist_consent", CONSENT_COLUMNS)}
    return {"first": first, "incremental": incremental, "refreshed": refreshed, "upgraded": upgraded,
            "kept_types": kept_types,
            "full": full}


def test_only_changed_holdings_and_subjects_are_recomputed(builds):
    # H1: a new version; H2: its payer's account moved; ada: a new decision; bola: moved party
    assert builds["incremental"]["marked"] == ({"H3"}, {"+2348031111111"})
    refreshed = builds["refreshed"]
    assert refreshed["H1"] == refreshed["H2"] > refreshed["H3"]


def test_recomputed_rows_equal_a_full_refresh(builds):
    incremental, full = builds["incremental"], builds["full"]
    assert [r for r in incremental["holdings"] if r[0] != "H3"] == [r for r in full["holdings"] if r[0] != "H3"]
    assert ([r for r in incremental["consent"] if r[1] != "+2348031111111"]
            == [r for r in full["consent"] if r[1] != "+2348031111111"])
    # the untouched keys are as the first run built them
    assert [r for r in full["holdings"] if r[0] == "H3"] == [r for r in builds["first"]["holdings"] if r[0] == "H3"]
    assert ([r for r in full["consent"] if r[1] == "+2348031111111"]
            == [r for r in builds["first"]["consent"] if r[1] == "+2348031111111"])


def test_full_refresh_holds_the_new_facts(builds):
    full = builds["full"]
    h1 = [r for r in full["holdings"] if r[0] == "H1"]
    assert [(r[3], r[6] is None) for r in h1] == [("active", False), ("closed", True)]
    assert [r[2] for r in full["holdings"] if r[0] == "H2"] == ["P1"]  # the payer's new party
    ada = [(r[5], r[9] is None) for r in full["consent"] if r[1] == "ada@example.com"]
    assert ada == [(False, True), (True, False)]
    assert [r[2] for r in full["consent"] if r[1] == "bola@example.com"] == ["P5"]


def test_first_run_after_an_upgrade_recomputes_every_key(builds):
    assert builds["upgraded"] == (set(), set())


def test_each_history_keeps_only_the_identifier_types_it_joins(builds):
    # the fixture has no org ids; the other identifier types are the facts' business
    assert builds["kept_types"] == {"hist_holdings": {"account_number"}, "hist_consent": {"email", "phone"}}
