"""dbt staging: typing, standardisation and quarantine rules on hand-made raw rows.

Builds a throwaway DuckDB warehouse with every raw table, inserts a few good and bad rows
into some entities, runs ``dbt seed`` and ``dbt build --select staging`` through the dbt CLI
and checks exact results. A second warehouse with empty raw tables must build green too.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator

from dagster_project import dbt_sources_yml
from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.sources import ENTITIES, get_entity

DBT = Path(sys.executable).with_name("dbt")
STAGED_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(18,2)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
LINEAGE = [("_batch_id", "VARCHAR"), ("_source_file", "VARCHAR"), ("_row_number", "BIGINT"),
           ("_loaded_at", "TIMESTAMP")]
E164 = "+2348031234567"
T0 = datetime(2025, 1, 3, 6, 0, 0)
T1 = datetime(2025, 1, 4, 6, 0, 0)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The ingest's own DDL when present, so staging is tested against the real raw shape."""
    try:
        from dagster_project.ingest import ensure_raw_schema
    except ImportError:  # the ingest package not there yet: same shape by hand
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for entity in ENTITIES:
            cols = ", ".join(f'"{c}" VARCHAR' for c in entity.column_names)
            con.execute(
                f"CREATE TABLE raw.{entity.table} ({cols}, _batch_id VARCHAR, _source_file VARCHAR,"
                " _file_sha256 VARCHAR, _row_number BIGINT, _loaded_at TIMESTAMP)"
            )
    else:
        ensure_raw_schema(con)


def insert_raw(con: duckdb.DuckDBPyConnection, source: str, entity_name: str,
               rows: list[dict], loaded_at: datetime = T0, batch: str = "b1") -> None:
    """Insert rows as the loader would: text values, lineage numbered from line 2 (CSV)."""
    entity = get_entity(source, entity_name)
    file = f"{source}/{entity.file_name('20250103')}"
    names = entity.column_names + ["_batch_id", "_source_file", "_file_sha256", "_row_number",
                                   "_loaded_at"]
    placeholders = ", ".join("?" for _ in names)
    values = []
    for i, row in enumerate(rows):
        unknown = set(row) - set(entity.column_names) - {"_row_number", "_loaded_at", "_batch_id"}
        assert not unknown, unknown
        values.append([row.get(c, "") for c in entity.column_names] + [
            row.get("_batch_id", batch), file, "sha-" + row.get("_batch_id", batch),
            row.get("_row_number", i + 2), row.get("_loaded_at", loaded_at)])
    con.executemany(f"INSERT INTO raw.{entity.table} ({', '.join(names)}) VALUES ({placeholders})",
                    values)


def run_dbt(warehouse: Path, work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(warehouse), "CRM_CIF_COUNTRY_CODE": "234",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
           str(DBT_PROJECT_DIR), "--target-path", str(work / "target"), "--log-path",
           str(work / "logs")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    if check:
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result


def build_staging(warehouse: Path, work: Path, *extra: str, seeds: bool = True) -> None:
    """Seeds and staging in one dbt build: a dbt start (~4.5 s) less than `dbt seed` before it.
    "buildable", as in the pipeline: a test of a mart against a seed waits for the mart.
    ``seeds=False``: staging alone, on a warehouse whose seeds are loaded (a later build needs not
    load the seeds and run their tests again)."""
    if seeds:
        run_dbt(warehouse, work, "build", "--select", "resource_type:seed", "staging",
                "--indirect-selection", "buildable", *extra)
    else:
        run_dbt(warehouse, work, "build", "--select", "staging", *extra)


def branch_customer(account: str, updated_at: str = "02/01/2025 10:15", **overrides: str) -> dict:
    row = {
        "account_number": account, "title": "Mr", "first_name": "Ada", "last_name": "Obi",
        "date_of_birth": "05/03/1980", "address_line": "1 Marina", "city": "Lagos",
        "postcode": "101001", "phone": "08031234567", "email": "ada@example.com",
        "branch_code": "LAG01", "opened_date": "01/02/2020", "status": "active",
        "close_reason": "", "updated_at": updated_at,
    }
    row.update(overrides)
    return row


def load_fixture_rows(con: duckdb.DuckDBPyConnection) -> None:
    insert_raw(con, "branch", "customers", [
        branch_customer("AC001", first_name="  Ada  ", last_name=" Obi   Nwosu ",
                        phone="+234 803 123 4567", email=" Ada.Obi@Example.COM ",
                        branch_code=" lag01 ", status=" Active "),
        branch_customer("AC002", phone="08031234567", email="not-an-email", date_of_birth="31/12/1990"),
        branch_customer("AC003", phone="2348031234567", date_of_birth="31/02/2025"),
        branch_customer("AC004", phone="0803-123-4567", branch_code="XXX99"),
        branch_customer("AC005", phone="(0803) 123 4567", status="frozen", updated_at="garbage"),
        branch_customer("", phone="12345"),
        branch_customer("AC006", phone="+234 (0)803 123 4567", date_of_birth="01/01/1850"),
        branch_customer("AC007", phone="", email="", date_of_birth="01/01/2090"),
        branch_customer("AC008", updated_at="01/01/2099 00:00"),
    ])
    # Same key as AC001, earlier line number but loaded a day later: the later load is the duplicate.
    insert_raw(con, "branch", "customers", [branch_customer("AC001", _row_number=2)],
               loaded_at=T1, batch="b2")
    insert_raw(con, "branch", "teller_transactions", [
        {"txn_id": "T1", "account_number": "AC001", "branch_code": "LAG01",
         "txn_ts": "02/01/2025 09:30", "txn_type": "DEPOSIT", "amount": "12.50", "currency": "ngn"},
        {"txn_id": "T2", "account_number": "AC001", "branch_code": "LAG01",
         "txn_ts": "02/01/2025 09:31", "txn_type": "withdrawal", "amount": "-5.00", "currency": "NGN"},
        {"txn_id": "T3", "account_number": "AC001", "branch_code": "LAG01",
         "txn_ts": "02/01/2025 09:32", "txn_type": "deposit", "amount": "abc", "currency": "NGN"},
        {"txn_id": "T4", "account_number": "AC001", "branch_code": "LAG01",
         "txn_ts": "2025-01-02T09:33:00", "txn_type": "cash", "amount": "1", "currency": "NGN"},
    ])
    user = {"user_id": "U1", "username": "ada", "email": "ADA@EXAMPLE.COM", "first_name": "Ada",
            "last_name": "Obi", "phone": "+2348031234567", "date_of_birth": "1990-02-28",
            "registered_at": "2024-05-01T08:00:00", "marketing_opt_in": "true",
            "updated_at": "2025-01-02T10:00:00"}
    insert_raw(con, "web", "users", [
        user,
        {**user, "updated_at": "2025-01-02 10:00:00", "marketing_opt_in": "no"},  # same key, space form
        {**user, "user_id": "U2", "marketing_opt_in": "maybe", "date_of_birth": "28/02/1990"},
        {**user, "user_id": "U3", "marketing_opt_in": "N", "updated_at": "2025-01-02 10:00:00.250"},
    ])
    insert_raw(con, "web", "sessions", [
        {"session_id": "S1", "user_id": "U1", "started_at": "2025-01-02T10:00:00",
         "ended_at": "2025-01-02T10:05:00", "pages_viewed": "4", "device_type": "Desktop"},
        {"session_id": "S2", "user_id": "U1", "started_at": "2025-01-02T11:00:00",
         "ended_at": "", "pages_viewed": "3.5", "device_type": "tablet"},
    ])
    txn = {"txn_id": "B1", "account_number": "AC001", "holding_id": "H1", "product_code": "cur_std",
           "txn_ts": "2025-01-02 12:00:00", "amount": "100.00", "currency": "NGN",
           "txn_type": "purchase", "channel": "Web"}
    insert_raw(con, "billing", "transactions", [
        txn,
        {**txn, "txn_id": "B2", "amount": "-10.00"},
        {**txn, "txn_id": "B3", "txn_type": "refund", "amount": "-10.00"},
        {**txn, "txn_id": "B4", "txn_type": "refund", "amount": "10.00"},
        {**txn, "txn_id": "B5", "txn_type": "fee", "amount": "0"},
        {**txn, "txn_id": "B6", "product_code": "NOPE"},
        {**txn, "txn_id": "B7", "channel": "fax"},
    ])
    insert_raw(con, "marketing", "consents", [
        {"consent_id": "C1", "subject_type": "phone", "subject_value": "0803 123 4567",
         "purpose": "marketing", "channel": "sms", "granted": "false",
         "recorded_at": "2025-01-02T10:00:00"},
        {"consent_id": "C2", "subject_type": "EMAIL", "subject_value": " X@Y.COM ",
         "purpose": "marketing", "channel": "email", "granted": "true",
         "recorded_at": "2025-01-02T10:00:00"},
    ])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("staging")
    path = work / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        create_raw_tables(con)
        load_fixture_rows(con)
    build_staging(path, work)
    return path


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def reasons(warehouse: Path, table: str, key: str) -> dict[str, str | None]:
    rows = query(warehouse, f"SELECT {key}, _quarantine_reasons, _loaded_at FROM staging.{table}_checked")
    return {f"{k}@{loaded:%d}" if k == "AC001" else k: r for k, r, loaded in rows}


def test_generated_yml_is_up_to_date() -> None:
    stale = [str(p) for p, text in dbt_sources_yml.expected_files().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run python -m dagster_project.dbt_sources_yml: {stale}"


def test_sources_yml_maps_raw_tables_to_ingest_assets() -> None:
    text = dbt_sources_yml.render_sources_yml("branch")
    assert "loaded_at_field: _loaded_at" in text
    assert "schema: raw" in text
    assert "asset_key:\n          - raw\n          - branch__customers" in text


def test_branch_customer_standardisation(warehouse: Path) -> None:
    rows = query(warehouse, """
        SELECT account_number, title, first_name, last_name, date_of_birth, phone, email,
               branch_code, status, close_reason, updated_at, _source_file, _row_number
        FROM staging.stg_branch__customers ORDER BY account_number""")
    assert rows == [
        ("AC001", "Mr", "Ada", "Obi Nwosu", date(1980, 3, 5), E164, "ada.obi@example.com",
         "LAG01", "active", None, datetime(2025, 1, 2, 10, 15), "branch/customers_20250103.csv", 2),
        ("AC002", "Mr", "Ada", "Obi", date(1990, 12, 31), E164, None, "LAG01", "active", None,
         datetime(2025, 1, 2, 10, 15), "branch/customers_20250103.csv", 3),
    ]


def test_phone_variants_normalise_to_one_e164(warehouse: Path) -> None:
    phones = dict(query(warehouse, "SELECT account_number, phone FROM staging.stg_branch__customers_checked "
                                   "WHERE _batch_id = 'b1'"))
    assert phones == {"AC001": E164, "AC002": E164, "AC003": E164, "AC004": E164, "AC005": E164,
                      None: None, "AC006": E164, "AC007": None, "AC008": E164}


def test_branch_customer_reason_codes(warehouse: Path) -> None:
    assert reasons(warehouse, "stg_branch__customers", "account_number") == {
        "AC001@03": None,
        "AC001@04": "DUPLICATE_KEY",
        "AC002": None,
        "AC003": "BAD_DATE",
        "AC004": "UNKNOWN_CODE",
        "AC005": "BAD_TIMESTAMP,UNKNOWN_CODE",
        None: "MISSING_KEY",
        "AC006": "IMPOSSIBLE_DATE",
        "AC007": "IMPOSSIBLE_DATE",
        "AC008": "FUTURE_DATE",
    }


def test_amounts_codes_and_numbers(warehouse: Path) -> None:
    assert reasons(warehouse, "stg_branch__teller_transactions", "txn_id") == {
        "T1": None, "T2": "NEGATIVE_AMOUNT", "T3": "BAD_NUMBER", "T4": "BAD_TIMESTAMP,UNKNOWN_CODE",
    }
    assert query(warehouse, "SELECT txn_type, amount, currency FROM staging.stg_branch__teller_transactions") == [
        ("deposit", Decimal("12.50"), "NGN")]
    assert reasons(warehouse, "stg_billing__transactions", "txn_id") == {
        "B1": None, "B2": "NEGATIVE_AMOUNT", "B3": None, "B4": "NEGATIVE_AMOUNT",
        "B5": "NEGATIVE_AMOUNT", "B6": "UNKNOWN_CODE", "B7": "UNKNOWN_CODE",
    }
    assert query(warehouse, "SELECT txn_id, product_code, channel, txn_ts FROM staging.stg_billing__transactions "
                            "ORDER BY txn_id") == [
        ("B1", "CUR_STD", "web", datetime(2025, 1, 2, 12)),
        ("B3", "CUR_STD", "web", datetime(2025, 1, 2, 12)),
    ]


def test_iso_timestamps_booleans_and_integers(warehouse: Path) -> None:
    # "2025-01-02 10:00:00" is the same instant as "2025-01-02T10:00:00": a duplicate key.
    assert query(warehouse, """
        SELECT user_id, marketing_opt_in, updated_at, _quarantine_reasons
        FROM staging.stg_web__users_checked ORDER BY user_id, _row_number""") == [
        ("U1", True, datetime(2025, 1, 2, 10), None),
        ("U1", False, datetime(2025, 1, 2, 10), "DUPLICATE_KEY"),
        ("U2", None, datetime(2025, 1, 2, 10), "BAD_BOOLEAN,BAD_DATE"),
        ("U3", False, datetime(2025, 1, 2, 10, 0, 0, 250000), None),
    ]
    assert query(warehouse, "SELECT email, phone, date_of_birth FROM staging.stg_web__users WHERE user_id = 'U1'") == [
        ("ada@example.com", E164, date(1990, 2, 28))]
    assert reasons(warehouse, "stg_web__sessions", "session_id") == {"S1": None, "S2": "BAD_INTEGER"}
    assert query(warehouse, "SELECT pages_viewed, device_type, ended_at FROM staging.stg_web__sessions") == [
        (4, "desktop", datetime(2025, 1, 2, 10, 5))]


def test_contact_points_follow_their_type(warehouse: Path) -> None:
    assert query(warehouse, "SELECT consent_id, subject_type, subject_value, granted "
                            "FROM staging.stg_marketing__consents ORDER BY consent_id") == [
        ("C1", "phone", E164, False), ("C2", "email", "x@y.com", True)]


def test_quarantine_lists_each_bad_row_with_its_key(warehouse: Path) -> None:
    rows = query(warehouse, """
        SELECT source_file, row_number, batch_id, record_key, reason_codes, loaded_at
        FROM staging.stg_quarantine
        WHERE source_system = 'branch' AND source_entity = 'customers'
        ORDER BY loaded_at, row_number""")
    file = "branch/customers_20250103.csv"
    assert rows == [
        (file, 4, "b1", "AC003|02/01/2025 10:15", "BAD_DATE", T0),
        (file, 5, "b1", "AC004|02/01/2025 10:15", "UNKNOWN_CODE", T0),
        (file, 6, "b1", "AC005|garbage", "BAD_TIMESTAMP,UNKNOWN_CODE", T0),
        (file, 7, "b1", "|02/01/2025 10:15", "MISSING_KEY", T0),
        (file, 8, "b1", "AC006|02/01/2025 10:15", "IMPOSSIBLE_DATE", T0),
        (file, 9, "b1", "AC007|02/01/2025 10:15", "IMPOSSIBLE_DATE", T0),
        (file, 10, "b1", "AC008|01/01/2099 00:00", "FUTURE_DATE", T0),
        (file, 2, "b2", "AC001|02/01/2025 10:15", "DUPLICATE_KEY", T1),
    ]


def test_raw_rows_equal_accepted_plus_quarantined(warehouse: Path) -> None:
    for entity in ENTITIES:
        (raw,), = query(warehouse, f"SELECT count(*) FROM raw.{entity.table}")
        (accepted,), = query(warehouse, f"SELECT count(*) FROM staging.stg_{entity.table}")
        (quarantined,), = query(warehouse, f"""SELECT count(*) FROM staging.stg_quarantine
            WHERE source_system = '{entity.source}' AND source_entity = '{entity.name}'""")
        assert raw == accepted + quarantined, entity.table
    (total,), = query(warehouse, "SELECT count(*) FROM staging.stg_quarantine")
    assert total == 8 + 3 + 2 + 1 + 5  # customers, teller, web users + sessions, billing


def test_staged_columns_are_registry_columns_with_common_types(warehouse: Path) -> None:
    for entity in ENTITIES:
        expected = [(c.name, STAGED_TYPES[c.type]) for c in entity.columns] + LINEAGE
        for model, extra in ((f"stg_{entity.table}", []),
                             (f"stg_{entity.table}_checked",
                              [("_record_key", "VARCHAR"), ("_quarantine_reasons", "VARCHAR")])):
            actual = query(warehouse, f"""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = 'staging' AND table_name = '{model}' ORDER BY ordinal_position""")
            assert actual == expected + extra, model


def test_stg_quarantine_covers_every_entity(warehouse: Path) -> None:
    manifest = json.loads((warehouse.parent / "target" / "manifest.json").read_text())
    parents = manifest["nodes"]["model.crm_cif.stg_quarantine"]["depends_on"]["nodes"]
    assert sorted(parents) == sorted(f"model.crm_cif.stg_{e.table}_checked" for e in ENTITIES)
    raw_sources = {k: v for k, v in manifest["sources"].items() if v["schema"] == "raw"}
    # the ingest's own file ledger (read by full-extract history) is the one raw source that is no entity
    assert {v["name"] for v in raw_sources.values() if v["source_name"] == "ingest"} == {"file_ledger"}
    sources = {k: v for k, v in raw_sources.items() if v["source_name"] != "ingest"}
    assert sorted(v["name"] for v in sources.values()) == sorted(e.table for e in ENTITIES)
    translator = DagsterDbtTranslator()
    for unique_id, node in sources.items():
        assert node["config"]["meta"]["dagster"]["asset_key"] == ["raw", node["name"]]
        # dagster-dbt keys the source as the ingest asset that writes the raw table.
        key = translator.get_asset_spec(manifest, unique_id, None).key
        assert key == AssetKey(["raw", node["name"]])


def test_staging_builds_on_empty_raw_tables(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        create_raw_tables(con)
    build_staging(path, tmp_path)
    assert query(path, "SELECT count(*) FROM staging.stg_quarantine") == [(0,)]


KINDS_BY_TYPE = {
    "string": {"string", "name", "email", "phone", "contact_point", "upper", "code",
               "product_code", "branch_code", "channel_code"},
    "date": {"date", "event_date", "birth_date"},
    "timestamp": {"timestamp", "event_timestamp"},
    "decimal": {"decimal", "amount"},
    "integer": {"integer"},
    "boolean": {"boolean"},
}
SEED_KINDS = {"products": "product_code", "branches": "branch_code", "channels": "channel_code"}


def model_column_specs(entity) -> dict[str, dict]:
    """The `columns={...}` of a _checked model (Jinja literals are Python literals)."""
    path = DBT_PROJECT_DIR / "models" / "staging" / entity.source / f"stg_{entity.table}_checked.sql"
    text = path.read_text(encoding="utf-8")
    body = re.search(r"columns=(\{.*?\n    \})", text, re.S).group(1)
    specs = ast.literal_eval(body)
    return {name: spec if isinstance(spec, dict) else {"kind": spec} for name, spec in specs.items()}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.table)
def test_model_rules_follow_the_registry(entity) -> None:
    """Each model's column kinds agree with the registry: types, codes, seeds, contact points."""
    specs = model_column_specs(entity)
    assert list(specs) == entity.column_names
    for column in entity.columns:
        spec = specs[column.name]
        assert spec["kind"] in KINDS_BY_TYPE[column.type], column.name
        assert (spec["kind"] == "code") == bool(column.accepted_values), column.name
        if column.accepted_values:
            assert tuple(spec["values"]) == column.accepted_values, column.name
        reference = dbt_sources_yml.seed_reference(column)
        assert spec["kind"] == (SEED_KINDS[reference[0]] if reference else spec["kind"]), column.name
        if spec["kind"] in SEED_KINDS.values():
            assert reference, column.name
        if column.role in ("email", "phone"):
            assert spec["kind"] == column.role, column.name
        if column.role in ("contact_point", "typed_ref"):
            assert spec["kind"] == "contact_point", column.name
        if column.role == "date_of_birth":
            assert spec["kind"] == "birth_date", column.name


def test_full_extract_entities_are_staged_per_delivery() -> None:
    """A full extract (registry extract="full") is a whole snapshot per file: its checked model
    must pass full_extract=true, else every re-delivered row would be quarantined as DUPLICATE_KEY."""
    for entity in ENTITIES:
        sql = (DBT_PROJECT_DIR / "models" / "staging" / entity.source / f"stg_{entity.table}_checked.sql").read_text()
        assert ("full_extract=true" in sql) == (entity.extract == "full"), entity.table
