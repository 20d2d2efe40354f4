"""Incremental staging: a run that stages only the new raw batches equals a full rebuild.

Hand-made raw rows in two batches: the first is staged, the second is loaded, then staged
incrementally; every row's quarantine reasons must be exactly the expected ones, and exactly
those of `dbt build --full-refresh` on the same raw tables. Covers a duplicate across batches,
a duplicate within the new batch, bad rows (whose own reasons win over DUPLICATE_KEY), and a
full-extract entity (a key is unique per delivery file, not across files).
"""

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from dagster_project.full_refresh import (
    FULL_REFRESH_ENV,
    FULL_REFRESH_TAG,
    clear_full_refresh,
    full_refresh_requested,
    request_full_refresh,
)
from dagster_project.sources import get_entity
from tests.test_dbt_staging import build_staging, create_raw_tables, run_dbt

T0 = datetime(2025, 1, 3, 6, 0, 0)
T1 = datetime(2025, 1, 4, 6, 0, 0)
TXN = "stg_billing__transactions_checked"
SCHEMES = "stg_sales__schemes_checked"


def insert_batch(con: duckdb.DuckDBPyConnection, source: str, entity_name: str, batch: str,
                 day: str, loaded_at: datetime, rows: list[dict]) -> None:
    """One loaded file: one batch id, one source file, lines numbered from 2."""
    entity = get_entity(source, entity_name)
    names = entity.column_names + ["_batch_id", "_source_file", "_file_sha256", "_row_number", "_loaded_at"]
    values = [[row.get(c, "") for c in entity.column_names]
              + [batch, f"{source}/{entity.file_name(day)}", f"sha-{batch}", line, loaded_at]
              for line, row in enumerate(rows, start=2)]
    con.executemany(f"insert into raw.{entity.table} ({', '.join(names)}) "
                    f"values ({', '.join('?' for _ in names)})", values)


def txn(txn_id: str, amount: str = "10.00", txn_type: str = "purchase") -> dict:
    return {"txn_id": txn_id, "account_number": "AC001", "holding_id": "H1", "product_code": "",
            "txn_ts": "2025-01-02T10:00:00", "amount": amount, "currency": "NGN",
            "txn_type": txn_type, "channel": ""}


def scheme(code: str, name: str = "Teachers") -> dict:
    return {"scheme_code": code, "scheme_name": name, "association_name": "NUT", "discount_rate": "0.10",
            "started_at": "2020-01-01"}


def load_first_batches(con: duckdb.DuckDBPyConnection) -> None:
    insert_batch(con, "billing", "transactions", "b1", "20250103", T0, [
        txn("T1"), txn("T2"), txn("T3", amount="-5.00"), txn("T1"),
    ])
    insert_batch(con, "sales", "schemes", "s1", "20250103", T0, [scheme("NUT"), scheme("ASU")])


def load_second_batches(con: duckdb.DuckDBPyConnection) -> None:
    insert_batch(con, "billing", "transactions", "b2", "20250104", T1, [
        txn("T1"),                    # accepted in b1: a duplicate across batches
        txn("T4"), txn("T4"),         # new key twice in the new batch: the second is a duplicate
        txn("T3", amount="-5.00"),    # same bad row again: its own reason, not DUPLICATE_KEY
        txn("T2", amount="abc"),      # a key accepted before, but this row is bad: BAD_NUMBER
        txn("T5", txn_type="gift"),   # a bad row
        txn("T3"),                    # T3 was only quarantined so far: this one is accepted
    ])
    insert_batch(con, "sales", "schemes", "s2", "20250104", T1, [
        scheme("NUT"), scheme("NUT", name="Teachers again"), scheme("ASU"),
    ])


EXPECTED = {
    TXN: [
        ("b1", 2, "T1", None), ("b1", 3, "T2", None), ("b1", 4, "T3", "NEGATIVE_AMOUNT"),
        ("b1", 5, "T1", "DUPLICATE_KEY"),
        ("b2", 2, "T1", "DUPLICATE_KEY"), ("b2", 3, "T4", None), ("b2", 4, "T4", "DUPLICATE_KEY"),
        ("b2", 5, "T3", "NEGATIVE_AMOUNT"), ("b2", 6, "T2", "BAD_NUMBER"), ("b2", 7, "T5", "UNKNOWN_CODE"),
        ("b2", 8, "T3", None),
    ],
    SCHEMES: [
        ("s1", 2, "NUT", None), ("s1", 3, "ASU", None),
        ("s2", 2, "NUT", None), ("s2", 3, "NUT", "DUPLICATE_KEY"), ("s2", 4, "ASU", None),
    ],
}


def statuses(warehouse: Path, model: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select _batch_id, _row_number, _record_key, _quarantine_reasons "
                           f"from staging.{model} order by _batch_id, _row_number").fetchall()


def table_type(warehouse: Path, model: str) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select table_type from information_schema.tables "
                           "where table_schema = 'staging' and table_name = ?", [model]).fetchall()[0][0]


@pytest.fixture(scope="module")
def staged_incrementally(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("incremental")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        load_first_batches(con)
    build_staging(warehouse, work)
    with duckdb.connect(str(warehouse)) as con:
        load_second_batches(con)
    build_staging(warehouse, work, seeds=False)
    compiled = work / "target" / "compiled" / "crm_cif" / "models" / "staging" / "billing" / f"{TXN}.sql"
    assert "accepted_before" in compiled.read_text(), "the second build must be incremental"
    quarantine_sql = (work / "target" / "compiled" / "crm_cif" / "models" / "staging" / "stg_quarantine.sql").read_text()
    assert f"_loaded_at > cast('{T0}" in quarantine_sql, "stg_quarantine must add only the rows loaded since"
    return warehouse, work


def quarantine(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select source_system, source_entity, batch_id, row_number, record_key, reason_codes, "
                           "loaded_at from staging.stg_quarantine order by 1, 2, 3, 4").fetchall()


@pytest.mark.parametrize("model", [TXN, SCHEMES])
def test_incremental_run_gives_the_exact_statuses(staged_incrementally: tuple[Path, Path], model: str) -> None:
    warehouse, _ = staged_incrementally
    assert table_type(warehouse, model) == "BASE TABLE"
    assert statuses(warehouse, model) == EXPECTED[model]


def test_incremental_run_equals_full_refresh(staged_incrementally: tuple[Path, Path]) -> None:
    warehouse, work = staged_incrementally
    rebuilt = work / "rebuilt.duckdb"
    with duckdb.connect(str(rebuilt)) as con:
        con.execute(f"attach '{warehouse}' as incremental (read_only)")
        con.execute("create schema raw")
        for table in ("billing__transactions", "sales__schemes"):
            con.execute(f"create table raw.{table} as select * from incremental.raw.{table}")
        con.execute("detach incremental")
        create_raw_tables(con)  # the other (empty) raw tables
    build_staging(rebuilt, work)
    build_staging(rebuilt, work, "--full-refresh", seeds=False)
    for model in (TXN, SCHEMES):
        assert statuses(rebuilt, model) == statuses(warehouse, model) == EXPECTED[model]
    # the quarantine, appended to batch by batch, holds exactly the rows a full rebuild gives
    assert table_type(warehouse, "stg_quarantine") == "BASE TABLE"
    assert quarantine(warehouse) == quarantine(rebuilt)
    entity = {TXN: ("billing", "transactions"), SCHEMES: ("sales", "schemes")}
    assert [r[:4] + r[5:6] for r in quarantine(warehouse)] == sorted(
        (*entity[model], batch, line, reasons)
        for model in (TXN, SCHEMES) for batch, line, _, reasons in EXPECTED[model] if reasons is not None)


def test_a_run_without_new_batches_stages_nothing(staged_incrementally: tuple[Path, Path]) -> None:
    warehouse, work = staged_incrementally
    build_staging(warehouse, work, seeds=False)
    assert statuses(warehouse, TXN) == EXPECTED[TXN]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        quarantined = con.execute("select source_entity, batch_id, row_number, reason_codes from staging.stg_quarantine "
                                  "where source_system in ('billing', 'sales') order by 1, 2, 3").fetchall()
    assert quarantined == [
        ("schemes", "s2", 3, "DUPLICATE_KEY"),
        ("transactions", "b1", 4, "NEGATIVE_AMOUNT"), ("transactions", "b1", 5, "DUPLICATE_KEY"),
        ("transactions", "b2", 2, "DUPLICATE_KEY"), ("transactions", "b2", 4, "DUPLICATE_KEY"),
        ("transactions", "b2", 5, "NEGATIVE_AMOUNT"), ("transactions", "b2", 6, "BAD_NUMBER"),
        ("transactions", "b2", 7, "UNKNOWN_CODE"),
    ]


def test_full_refresh_is_asked_by_tag_env_or_pending_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.delenv(FULL_REFRESH_ENV, raising=False)
    assert not full_refresh_requested(warehouse, {})
    assert full_refresh_requested(warehouse, {FULL_REFRESH_TAG: "true"})
    monkeypatch.setenv(FULL_REFRESH_ENV, "1")
    assert full_refresh_requested(warehouse, {})
    monkeypatch.setenv(FULL_REFRESH_ENV, "0")
    assert not full_refresh_requested(warehouse, None)
    request_full_refresh(warehouse, "erasure E1")
    assert full_refresh_requested(warehouse, None)
    clear_full_refresh(warehouse)
    assert not full_refresh_requested(warehouse, None)
