"""Bad input, one test per kind: each ends in a clear message, a reject or a quarantine reason.

One hand-made landing folder holds a good file per source plus one bad delivery per kind; it
goes through the real loader (discovery, readers, ledger) and dbt staging on a throwaway
warehouse once. Every test checks its kind's outcome, that the good files of other sources
still loaded, and the reconciliation of its files: landed data lines = raw rows + rejects and
raw rows = accepted + quarantined.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.analytics.audience_export import csv_bytes
from dagster_project.ingest import discover, ensure_raw_schema, ingest_entity, record_unmatched
from dagster_project.sources import ENTITIES, get_entity
from tests.test_dbt_staging import build_staging, run_dbt

EVENTS = get_entity("collections", "events")
CUSTOMERS = get_entity("branch", "customers")
EVENTS_HEADER = ",".join(EVENTS.column_names)
REFERENCE_DATE = "2025-06-01"
FORMULA = '=HYPERLINK("http://evil.example/x","click")'


def event(i: int, **overrides: str) -> str:
    row = {"event_id": f"CE{i}", "account_number": f"AC{i:04d}", "event_type": "late_fee",
           "amount": f"{i}.50", "due_date": "2025-01-01", "event_date": "2025-01-05",
           "days_past_due": str(i)}
    row.update(overrides)
    return ",".join(row[c] for c in EVENTS.column_names)


def customer(account: str, first_name: str = "Ada") -> list[str]:
    return [account, "Mr", first_name, "Obi", "05/03/1980", "1 Marina", "Lagos", "101001", "08031234567",
            "ada@example.com", "LAG01", "01/02/2020", "active", "", "02/01/2025 10:15"]


def semicolon_line(fields: list[str]) -> str:
    return ";".join('"' + f.replace('"', '""') + '"' if ('"' in f or ";" in f) else f for f in fields)


def put(landing: Path, rel: str, data: bytes | str) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def events_file(*lines: str) -> str:
    return "\n".join([EVENTS_HEADER, *lines]) + "\n"


HUGE = "X" * 2_000_000
# file (relative to landing) -> content; the good files first.
GOOD_EVENTS = events_file(event(1), event(2))
FILES: dict[str, bytes | str] = {
    "collections/events_20250101.csv": GOOD_EVENTS,
    "branch/customers_20250101.csv": ("\r\n".join([";".join(CUSTOMERS.column_names),
                                                    semicolon_line(customer("AC0001", "Adébáyo"))]) + "\r\n"
                                      ).encode("latin-1"),
    "web/sessions_20250101.jsonl": json.dumps({"session_id": "S1", "user_id": "U1",
                                               "started_at": "2025-01-02T10:00:00",
                                               "ended_at": "2025-01-02T10:05:00", "pages_viewed": "4",
                                               "device_type": "desktop"}) + "\n",
    # wrong delimiter: comma instead of the contract's semicolon
    "branch/customers_20250102_commas.csv": "\n".join([",".join(CUSTOMERS.column_names),
                                                      ",".join(customer("AC0002"))]) + "\n",
    # missing header: line 1 is already a record
    "collections/events_20250102_noheader.csv": "\n".join([event(3), event(4)]) + "\n",
    # schema drift: account_number renamed, days_past_due missing, an extra column
    "collections/events_20250103_drift.csv": "\n".join([
        "event_id,acct_no,event_type,amount,due_date,event_date,note",
        "CE5,AC0005,late_fee,5.50,2025-01-01,2025-01-05,hello",
        "CE6,AC0006,late_fee,6.50,2025-01-01,2025-01-05,"]) + "\n",
    # schema drift on the key: event_id renamed, so every row misses its key
    "collections/events_20250103_keyrenamed.csv": "\n".join([
        "id," + ",".join(EVENTS.column_names[1:]), event(7)]) + "\n",
    # Latin-1 bytes in a UTF-8 contract (line 3), and UTF-8 with a BOM in both contracts
    "collections/events_20250104_latin1.csv": events_file(event(8), event(9, account_number="ACé9"))
    .encode("latin-1"),
    "collections/events_20250104_bom.csv": codecs.BOM_UTF8 + events_file(event(10)).encode("utf-8"),
    "branch/customers_20250104_bom.csv": codecs.BOM_UTF8 + ("\n".join([
        ";".join(CUSTOMERS.column_names), semicolon_line(customer("AC0011", "Adébáyọ̀"))]) + "\n").encode("utf-8"),
    # truncated last line: no newline, cut in the middle of a field
    "collections/events_20250105_truncated.csv": events_file(event(12)) + event(13)[:20],
    # empty file
    "collections/events_20250106.csv": b"",
    # the same content as the good file under another name
    "collections/events_20250101_resent.csv": GOOD_EVENTS,
    # files in unknown places
    "crm/customers_20250101.csv": GOOD_EVENTS,
    "notes.txt": "hello\n",
    "collections/archive/events_20250101.csv": events_file(event(90)),
    # a huge field (2 MB), once bare and once quoted
    "collections/events_20250107_huge.csv": events_file(event(14, account_number=HUGE),
                                                         event(15, account_number=f'"{HUGE},"')),
    # spreadsheet formula cells
    "branch/customers_20250108_formula.csv": "\n".join([
        ";".join(CUSTOMERS.column_names), semicolon_line(customer("AC0016", FORMULA))]) + "\n",
    # file names with spaces and unicode (allowed in the suffix), and a name trick
    "collections/events_20250109_copy 2.csv": events_file(event(17)),
    "collections/events_20250109_é.csv": events_file(event(18)),
    "collections/..events_20250109.csv": events_file(event(91)),
    # bad values: future and impossible dates, negative amounts, unknown codes, duplicate keys
    "collections/events_20250110_dates.csv": events_file(
        event(19, event_date="2099-01-01"), event(20, due_date="1850-01-01"),
        event(21, due_date="2025-02-30"), event(22)),
    "collections/events_20250111_negative.csv": events_file(event(23, amount="-5.00"), event(24)),
    "collections/events_20250112_codes.csv": events_file(event(25, event_type="write_off"), event(26)),
    "collections/events_20250113_dupes.csv": events_file(event(27), event(27), event(1, amount="9.99")),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("bad_input")
    landing = root / "landing"
    for rel, data in FILES.items():
        put(landing, rel, data)
    outside = put(root, "secret.csv", GOOD_EVENTS)
    os.symlink("../../secret.csv", landing / "collections" / "events_20250114.csv")  # a '../' link
    warehouse = root / "warehouse.duckdb"
    results = {}
    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_schema(con)
        found = discover(landing)
        unmatched = record_unmatched(con, found, landing)
        again = record_unmatched(con, found, landing)
        for e in ENTITIES:
            results[e.table] = ingest_entity(con, e, landing, files=found.for_entity(e))
    build_staging(warehouse, root, "--vars", json.dumps({"staging_reference_date": REFERENCE_DATE}))
    return {"landing": landing, "warehouse": warehouse, "results": results, "unmatched": unmatched,
            "unmatched_again": again, "outside": outside}


def q(world: dict, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(world["warehouse"]), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def ledger(world: dict, source_file: str) -> tuple:
    rows = q(world, "SELECT status, reason, data_lines, rows_loaded, rows_rejected, missing_columns, "
                    "extra_columns FROM raw.file_ledger WHERE source_file = ?", [source_file])
    assert len(rows) == 1, (source_file, rows)
    return rows[0]


def landed_data_lines(world: dict, rel: str, header: bool = True) -> int:
    """Non-blank lines of the delivered file, without the header: counted here, not by the loader."""
    lines = [ln for ln in (world["landing"] / rel).read_bytes().split(b"\n") if ln.strip(b"\r")]
    return len(lines) - (1 if header and lines else 0)


def reconcile(world: dict, rel: str, entity=EVENTS) -> tuple[int, int, int, int]:
    """(raw rows, rejects, accepted, quarantined) of one file, after checking both equations."""
    raw = q(world, f"SELECT count(*) FROM raw.{entity.table} WHERE _source_file = ?", [rel])[0][0]
    rejects = q(world, "SELECT count(*) FROM raw.rejects WHERE source_file = ?", [rel])[0][0]
    accepted, quarantined = q(world, f"""
        SELECT count(*) FILTER (WHERE _quarantine_reasons IS NULL),
               count(*) FILTER (WHERE _quarantine_reasons IS NOT NULL)
        FROM staging.stg_{entity.table}_checked WHERE _source_file = ?""", [rel])[0]
    status = ledger(world, rel)[0]
    landed = landed_data_lines(world, rel) if status == "loaded" else 0
    assert landed == raw + rejects, (rel, landed, raw, rejects)
    assert raw == accepted + quarantined, (rel, raw, accepted, quarantined)
    assert q(world, "SELECT count(*) FROM staging.stg_quarantine WHERE source_file = ?", [rel])[0][0] == quarantined
    return raw, rejects, accepted, quarantined


def assert_others_loaded(world: dict) -> None:
    assert reconcile(world, "collections/events_20250101.csv") == (2, 0, 2, 0)
    assert reconcile(world, "branch/customers_20250101.csv", CUSTOMERS) == (1, 0, 1, 0)
    assert q(world, "SELECT count(*) FROM staging.stg_web__sessions")[0][0] == 1
    assert q(world, "SELECT first_name FROM staging.stg_branch__customers WHERE account_number = 'AC0001'"
             ) == [("Adébáyo",)]


def quarantine(world: dict, rel: str) -> list[tuple]:
    return q(world, "SELECT row_number, record_key, reason_codes FROM staging.stg_quarantine "
                    "WHERE source_file = ? ORDER BY row_number", [rel])


def test_wrong_delimiter_refuses_the_file_naming_the_delimiter(world):
    rel = "branch/customers_20250102_commas.csv"
    status, reason, lines, loaded, rejected, _, _ = ledger(world, rel)
    assert (status, lines, loaded, rejected) == ("unreadable", 0, 0, 0)
    assert reason == (f"{rel}: line 1: wrong delimiter: the header is separated by ',' (comma), the contract "
                      "says ';' (semicolon); nothing from this file was loaded")
    assert reconcile(world, rel, CUSTOMERS) == (0, 0, 0, 0)
    assert_others_loaded(world)


def test_missing_header_refuses_the_file(world):
    rel = "collections/events_20250102_noheader.csv"
    status, reason, *_ = ledger(world, rel)
    assert status == "unreadable"
    assert reason == (f"{rel}: line 1: header line missing: line 1 holds none of the contract's column names "
                      "(expected e.g. event_id, account_number, event_type); nothing from this file was loaded")
    assert reconcile(world, rel) == (0, 0, 0, 0)
    assert_others_loaded(world)


def test_schema_drift_is_recorded_and_a_renamed_key_quarantines(world):
    rel = "collections/events_20250103_drift.csv"
    assert ledger(world, rel) == ("loaded", None, 2, 2, 0, "account_number, days_past_due", "acct_no, note")
    assert reconcile(world, rel) == (2, 0, 2, 0)
    assert q(world, "SELECT event_id, account_number, days_past_due FROM staging.stg_collections__events "
                    "WHERE _source_file = ? ORDER BY 1", [rel]) == [("CE5", None, None), ("CE6", None, None)]
    renamed = "collections/events_20250103_keyrenamed.csv"
    assert ledger(world, renamed)[5:] == ("event_id", "id")
    assert reconcile(world, renamed) == (1, 0, 0, 1)
    assert quarantine(world, renamed) == [(2, "", "MISSING_KEY")]
    assert_others_loaded(world)


def test_latin1_in_utf8_is_rejected_per_line_and_bom_is_accepted(world):
    rel = "collections/events_20250104_latin1.csv"
    assert reconcile(world, rel) == (1, 1, 1, 0)
    assert q(world, "SELECT line_number, reason FROM raw.rejects WHERE source_file = ?", [rel]) == [
        (3, "invalid utf-8 byte sequence (bytes that are not utf-8 text)")]
    assert reconcile(world, "collections/events_20250104_bom.csv") == (1, 0, 1, 0)
    # A BOM in a Latin-1 contract: the file is read as the UTF-8 the BOM announces.
    bom = "branch/customers_20250104_bom.csv"
    assert ledger(world, bom)[5:] == (None, None)
    assert reconcile(world, bom, CUSTOMERS) == (1, 0, 1, 0)
    assert q(world, "SELECT first_name FROM staging.stg_branch__customers WHERE account_number = 'AC0011'"
             ) == [("Adébáyọ̀",)]
    assert_others_loaded(world)


def test_truncated_last_line_is_rejected_with_its_line(world):
    rel = "collections/events_20250105_truncated.csv"
    assert reconcile(world, rel) == (1, 1, 1, 0)
    assert q(world, "SELECT line_number, raw_line, reason FROM raw.rejects WHERE source_file = ?", [rel]) == [
        (3, event(13)[:20], "wrong column count: expected 7 fields as in the header, found 3")]
    assert_others_loaded(world)


def test_empty_file_is_in_the_ledger_as_empty(world):
    rel = "collections/events_20250106.csv"
    status, reason, *counts = ledger(world, rel)
    assert (status, reason) == ("empty", f"{rel}: file is empty: no header line, nothing to load")
    assert counts[:3] == [0, 0, 0]
    assert reconcile(world, rel) == (0, 0, 0, 0)
    assert_others_loaded(world)


def test_same_file_under_another_name_is_skipped_once(world):
    result = world["results"]["collections__events"]
    assert result.skipped == ["collections/events_20250101_resent.csv"]
    assert q(world, "SELECT count(*) FROM raw.file_ledger WHERE source_file LIKE '%resent%'")[0][0] == 0
    assert q(world, "SELECT count(*) FROM raw.collections__events WHERE event_id IN ('CE1', 'CE2') "
                    "AND _source_file = 'collections/events_20250101.csv'")[0][0] == 2
    assert_others_loaded(world)


def test_files_in_unknown_places_are_recorded_not_loaded(world):
    rows = q(world, "SELECT source_file, reason FROM raw.unmatched_files ORDER BY source_file")
    known = "billing, branch, callcentre, collections, credit, email, marketing, mobile, sales, service, web"
    expected = [
        ("collections/..events_20250109.csv", "name matches no entity of source 'collections' "
                                              "(expected events_<YYYYMMDD>[_<suffix>].csv)"),
        ("collections/archive/events_20250101.csv", "in a subfolder of 'collections/': files must be directly "
                                                    "in the source folder"),
        ("collections/events_20250114.csv", "a link to a file outside the landing folder: never followed"),
        ("crm/customers_20250101.csv", f"folder 'crm' is not a known source (known: {known})"),
        ("notes.txt", "in the landing root, not in a source folder"),
    ]
    assert rows == expected
    assert world["unmatched"] == [f"{f}: not loaded: {r}" for f, r in expected]
    assert world["unmatched_again"] == []  # named once, when first seen
    assert q(world, "SELECT count(*) FROM raw.collections__events WHERE event_id IN ('CE90', 'CE91')")[0][0] == 0
    assert_others_loaded(world)


def test_huge_field_loads_intact(world):
    rel = "collections/events_20250107_huge.csv"
    assert reconcile(world, rel) == (2, 0, 2, 0)
    assert q(world, "SELECT event_id, length(account_number) FROM staging.stg_collections__events "
                    "WHERE _source_file = ? ORDER BY 1", [rel]) == [("CE14", 2_000_000), ("CE15", 2_000_001)]
    assert_others_loaded(world)


def test_formula_cells_are_kept_as_data_and_escaped_in_csv_exports(world, tmp_path):
    rel = "branch/customers_20250108_formula.csv"
    assert reconcile(world, rel, CUSTOMERS) == (1, 0, 1, 0)
    staged = q(world, "SELECT first_name FROM staging.stg_branch__customers WHERE account_number = 'AC0016'")
    assert staged == [(FORMULA,)]  # data is kept as delivered
    table = pa.table({"first_name": [staged[0][0]]})
    assert csv_bytes(table).decode("utf-8").splitlines()[1] == '"\'=HYPERLINK(""http://evil.example/x"",""click"")"'
    pq.write_table(table, tmp_path / "x.parquet")  # Parquet is typed data, not a sheet: kept verbatim
    assert pq.read_table(tmp_path / "x.parquet").column("first_name").to_pylist() == [FORMULA]
    assert_others_loaded(world)


def test_file_names_with_spaces_unicode_and_links_out(world):
    for rel, event_id in [("collections/events_20250109_copy 2.csv", "CE17"),
                          ("collections/events_20250109_é.csv", "CE18")]:
        assert reconcile(world, rel) == (1, 0, 1, 0)
        assert q(world, "SELECT event_id FROM raw.collections__events WHERE _source_file = ?", [rel]) == [(event_id,)]
    # The '../' link is not followed: nothing from the file outside the landing folder is read.
    assert q(world, "SELECT count(*) FROM raw.file_ledger WHERE source_file = 'collections/events_20250114.csv'"
             )[0][0] == 0
    assert world["outside"].read_text() == GOOD_EVENTS
    assert_others_loaded(world)


def test_future_and_impossible_dates_are_quarantined(world):
    rel = "collections/events_20250110_dates.csv"
    assert reconcile(world, rel) == (4, 0, 1, 3)
    assert quarantine(world, rel) == [(2, "CE19", "FUTURE_DATE"), (3, "CE20", "IMPOSSIBLE_DATE"),
                                      (4, "CE21", "BAD_DATE")]
    assert_others_loaded(world)


def test_negative_amount_is_quarantined(world):
    rel = "collections/events_20250111_negative.csv"
    assert reconcile(world, rel) == (2, 0, 1, 1)
    assert quarantine(world, rel) == [(2, "CE23", "NEGATIVE_AMOUNT")]
    assert_others_loaded(world)


def test_unknown_code_is_quarantined(world):
    rel = "collections/events_20250112_codes.csv"
    assert reconcile(world, rel) == (2, 0, 1, 1)
    assert quarantine(world, rel) == [(2, "CE25", "UNKNOWN_CODE")]
    assert_others_loaded(world)


def test_duplicate_keys_are_quarantined_first_delivery_wins(world):
    rel = "collections/events_20250113_dupes.csv"
    assert reconcile(world, rel) == (3, 0, 1, 2)
    assert quarantine(world, rel) == [(3, "CE27", "DUPLICATE_KEY"), (4, "CE1", "DUPLICATE_KEY")]
    assert q(world, "SELECT amount FROM staging.stg_collections__events WHERE event_id = 'CE1'") == [(1.5,)]
    assert_others_loaded(world)
