"""Readers and loader on hand-made files: exact values, line numbers, lineage, rejects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dagster_project.ingest import discover, ensure_raw_schema, ingest_entity
from dagster_project.sources import ENTITIES, get_entity


def write(landing: Path, rel: str, data: bytes) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_ensure_raw_schema_creates_every_table(con):
    ensure_raw_schema(con)
    ensure_raw_schema(con)  # idempotent
    tables = {r[0] for r in rows(con, "SELECT table_name FROM information_schema.tables WHERE table_schema='raw'")}
    assert tables == {e.table for e in ENTITIES} | {"rejects", "file_ledger", "unmatched_files", "suppressions",
                                                      "landing_file_hashes"}
    cols = rows(con, "SELECT column_name, data_type FROM information_schema.columns "
                     "WHERE table_schema='raw' AND table_name='callcentre__calls' ORDER BY ordinal_position")
    names = get_entity("callcentre", "calls").column_names
    assert cols == [(n, "VARCHAR") for n in names] + [
        ("_batch_id", "VARCHAR"), ("_source_file", "VARCHAR"), ("_file_sha256", "VARCHAR"),
        ("_row_number", "BIGINT"), ("_loaded_at", "TIMESTAMP")]


BRANCH_VISITS = get_entity("branch", "visits")


def test_semicolon_latin1_crlf_quotes_and_lineage(con, tmp_path):
    landing = tmp_path / "landing"
    content = ("visit_id;account_number;branch_code;visit_ts;purpose;outcome\r\n"
               "V1;AC1;B01;01/02/2025 09:30;enquiry;served\r\n"
               'V2;"AC;2";"Zoé ""the"" café";02/02/2025 10:00;;referred\r\n').encode("latin-1")
    write(landing, "branch/visits_20250201.csv", content)
    res = ingest_entity(con, BRANCH_VISITS, landing, batch_id="b1")
    assert (res.files_loaded, res.rows_loaded, res.rows_rejected) == (1, 2, 0)
    sha = hashlib.sha256(content).hexdigest()
    got = rows(con, "SELECT * EXCLUDE (_loaded_at) FROM raw.branch__visits ORDER BY _row_number")
    assert got == [
        ("V1", "AC1", "B01", "01/02/2025 09:30", "enquiry", "served", "b1", "branch/visits_20250201.csv", sha, 2),
        ("V2", "AC;2", 'Zoé "the" café', "02/02/2025 10:00", "", "referred", "b1",
         "branch/visits_20250201.csv", sha, 3),
    ]
    ledger = rows(con, "SELECT source, entity, source_file, file_size, business_date::VARCHAR, batch_id, status, "
                       "data_lines, rows_loaded, rows_rejected FROM raw.file_ledger")
    assert ledger == [("branch", "visits", "branch/visits_20250201.csv", len(content), "2025-02-01", "b1",
                       "loaded", 2, 2, 0)]


def test_pipe_delimiter_and_wrong_column_count(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("callcentre", "calls")
    header = "|".join(e.column_names)
    good = "C1|0803 123 4567|AC1|A7|2025-03-01T10:00:00|12|300|card|resolved|true"
    bad = "C2|0803|AC2|A7|2025-03-01T11:00:00|12|300|card|resolved|true|EXTRA"
    good2 = "C3||||||||| "
    write(landing, "callcentre/calls_20250301.csv", f"{header}\n{good}\n{bad}\n{good2}\n".encode())
    res = ingest_entity(con, e, landing)
    assert (res.rows_loaded, res.rows_rejected) == (2, 1)
    assert rows(con, "SELECT call_id, caller_phone, first_contact_resolved, _row_number FROM raw.callcentre__calls "
                     "ORDER BY _row_number") == [("C1", "0803 123 4567", "true", 2), ("C3", "", " ", 4)]
    assert rows(con, "SELECT source, entity, source_file, line_number, raw_line, reason FROM raw.rejects") == [
        ("callcentre", "calls", "callcentre/calls_20250301.csv", 3, bad,
         "wrong column count: expected 10 fields as in the header, found 11")]


def test_bom_utf8_csv(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("email", "events")
    data = "\ufeffevent_id,email_address,campaign_code,event_type,event_ts\nE1,ö@x.ng,CMP1,open,2025-01-01T08:00:00\n"
    write(landing, "email/events_20250101.csv", data.encode("utf-8"))
    ingest_entity(con, e, landing)
    assert rows(con, "SELECT event_id, email_address, _row_number FROM raw.email__events") == [("E1", "ö@x.ng", 2)]
    assert rows(con, "SELECT missing_columns, extra_columns FROM raw.file_ledger") == [(None, None)]


def test_tab_delimited_with_header_drift(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("marketing", "leads")
    # columns reordered, 'scheme_code' missing, 'Source' extra, names in other case
    header = ["LEAD_ID", "last_name", "first_name", "email", "phone", "campaign_code", "Source",
              "referred_by_account_number", "captured_at"]
    line = ["L1", "Okafor", "Ada", "ada@x.ng", "0803", "CMP1", "fair", "", "2025-01-05T12:00:00"]
    write(landing, "marketing/leads_20250105.csv", ("\t".join(header) + "\n" + "\t".join(line) + "\n").encode())
    res = ingest_entity(con, e, landing)
    assert res.rows_loaded == 1
    got = rows(con, "SELECT lead_id, first_name, last_name, scheme_code, referred_by_account_number, captured_at "
                    "FROM raw.marketing__leads")
    assert got == [("L1", "Ada", "Okafor", None, "", "2025-01-05T12:00:00")]
    assert rows(con, "SELECT missing_columns, extra_columns FROM raw.file_ledger") == [("scheme_code", "Source")]


def test_jsonl_broken_line_and_blank_line(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("web", "sessions")
    lines = ['{"session_id": "S1", "user_id": "U1", "pages_viewed": 3, "device_type": "desktop"}',
             '{"session_id": "S2", "user_id": ',
             "",
             '["not", "an", "object"]',
             '{"session_id": "S3", "user_id": null, "pages_viewed": "", "nested": {"a": 1}}']
    write(landing, "web/sessions_20250102.jsonl", ("\n".join(lines) + "\n").encode())
    res = ingest_entity(con, e, landing)
    assert (res.rows_loaded, res.rows_rejected) == (2, 2)
    assert rows(con, "SELECT session_id, user_id, pages_viewed, device_type, started_at, _row_number "
                     "FROM raw.web__sessions ORDER BY _row_number") == [
        ("S1", "U1", "3", "desktop", None, 1), ("S3", None, "", None, None, 5)]
    assert rows(con, "SELECT line_number, raw_line, reason FROM raw.rejects ORDER BY line_number") == [
        (2, '{"session_id": "S2", "user_id": ', "invalid JSON: the line cannot be parsed"),
        (4, '["not", "an", "object"]', "not a JSON object: found array")]
    assert rows(con, "SELECT data_lines, blank_lines, rows_loaded, rows_rejected, extra_columns "
                     "FROM raw.file_ledger") == [(4, 1, 2, 2, "nested")]


def test_parquet_cast_to_text_with_row_numbers(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("mobile", "events")
    path = landing / "mobile" / "events_20250103.parquet"
    path.parent.mkdir(parents=True)
    con.execute(f"""COPY (SELECT * FROM (VALUES
        ('EV1', 'M1', 'D1', TIMESTAMP '2025-01-03 07:08:09', 'login', 'home'),
        ('EV2', 'M1', NULL, TIMESTAMP '2025-01-03 07:09:00', 'transfer', '')
        ) t(event_id, app_user_id, device_id, event_ts, event_type, screen)) TO '{path}' (FORMAT parquet)""")
    res = ingest_entity(con, e, landing, batch_id="p")
    assert (res.files_loaded, res.rows_loaded) == (1, 2)
    assert rows(con, "SELECT event_id, device_id, event_ts, screen, _row_number, _source_file "
                     "FROM raw.mobile__events ORDER BY _row_number") == [
        ("EV1", "D1", "2025-01-03 07:08:09", "home", 1, "mobile/events_20250103.parquet"),
        ("EV2", None, "2025-01-03 07:09:00", "", 2, "mobile/events_20250103.parquet")]


def test_corrupt_parquet_does_not_block_others(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("mobile", "events")
    good = landing / "mobile" / "events_20250104.parquet"
    good.parent.mkdir(parents=True)
    con.execute(f"COPY (SELECT 'EV9' AS event_id) TO '{good}' (FORMAT parquet)")
    write(landing, "mobile/events_20250103.parquet", b"PAR1 this is not parquet PAR1")
    res = ingest_entity(con, e, landing)
    assert [(f.source_file, f.status) for f in res.files] == [
        ("mobile/events_20250103.parquet", "unreadable"), ("mobile/events_20250104.parquet", "loaded")]
    assert "mobile/events_20250103.parquet: " in res.files[0].reason
    assert rows(con, "SELECT event_id, app_user_id FROM raw.mobile__events") == [("EV9", None)]


def test_empty_and_blank_header_files_get_clear_ledger_status(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "branch/visits_20250101.csv", b"")
    write(landing, "branch/visits_20250102.csv", b"\nV1;AC1;B1;x;y;z\n")
    res = ingest_entity(con, BRANCH_VISITS, landing)
    assert res.rows_loaded == 0
    assert rows(con, "SELECT source_file, status, reason FROM raw.file_ledger ORDER BY source_file") == [
        ("branch/visits_20250101.csv", "empty",
         "branch/visits_20250101.csv: file is empty: no header line, nothing to load"),
        ("branch/visits_20250102.csv", "unreadable",
         "branch/visits_20250102.csv: line 1 is blank: the header line (column names) is missing")]
    # Final for that content: the next run skips them.
    again = ingest_entity(con, BRANCH_VISITS, landing)
    assert (again.files, again.files_skipped) == ([], 2)


def test_malformed_quote_and_invalid_bytes_are_rejected_per_line(con, tmp_path):
    landing = tmp_path / "landing"
    e = get_entity("email", "events")
    data = (b'event_id,email_address,campaign_code,event_type,event_ts\n'
            b'E1,"unterminated,CMP,open,t\n'
            b'E2,a@b,C\xff,open,t\n'
            b'E3,"x""y",C,"a,b",t\n')
    write(landing, "email/events_20250101.csv", data)
    res = ingest_entity(con, e, landing)
    assert (res.rows_loaded, res.rows_rejected) == (1, 2)
    assert rows(con, "SELECT event_id, email_address, event_type, _row_number FROM raw.email__events") == [
        ("E3", 'x"y', "a,b", 4)]
    assert rows(con, "SELECT line_number, reason FROM raw.rejects ORDER BY 1") == [
        (2, "malformed quoting: unterminated or stray quote character (a record must fit on one line)"),
        (3, "invalid utf-8-sig byte sequence (bytes that are not utf-8-sig text)")]


def test_discover_reports_unknown_files(tmp_path):
    landing = tmp_path / "landing"
    write(landing, "branch/visits_20250101.csv", b"x")
    write(landing, "branch/visits_2025010.csv", b"x")  # 7-digit date
    write(landing, "branch/notes.txt", b"x")
    write(landing, "nosuchsource/visits_20250101.csv", b"x")
    write(landing, "branch/sub/visits_20250101.csv", b"x")
    write(landing, "readme.md", b"x")
    found = discover(landing)
    assert found.for_entity(BRANCH_VISITS) == [landing / "branch/visits_20250101.csv"]
    assert sorted(p.relative_to(landing).as_posix() for p in found.unknown) == [
        "branch/notes.txt", "branch/sub/visits_20250101.csv", "branch/visits_2025010.csv",
        "nosuchsource/visits_20250101.csv", "readme.md"]
    assert [p.name for p in found.unknown_for_source("branch", landing)] == [
        "notes.txt", "visits_20250101.csv", "visits_2025010.csv"]
