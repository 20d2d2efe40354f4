"""Right to erasure on a hand-made warehouse: exact rows suppressed, anonymised, deleted and logged."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.ingest.ledger import ensure_raw_schema
from dagster_project.ingest.loader import ingest_entity
from dagster_project.privacy.erasure import ErasureRequest, erase
from dagster_project.privacy.erasure_log import read_log
from dagster_project.privacy.identifiers import identifier_hash, install_sql_macros, normalise
from dagster_project.privacy.subject import UnknownSubject
from dagster_project.settings import get_settings
from dagster_project.sources import ENTITIES

BRANCH = next(e for e in ENTITIES if e.table == "branch__customers")
PERSONS = {  # account, email, phone as the branch system typed them, party id
    "A": ("AC0000000001", "Ada.Obi@Example.com", "0803 123 4567", "Paaaaaaaaaaaaaaaa"),
    "B": ("AC0000000002", "bola@example.com", "+234 803 999 0000", "Pbbbbbbbbbbbbbbbb"),
}


def _lineage(sha: str, row: int) -> list:
    return ["b1", f"branch/{sha}.csv", sha, row, "2025-01-01 00:00:00"]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Two people in raw, identity, a mart, a per-run analytics table, a serving copy and the decisions file."""
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    for var in ("CRM_CIF_WAREHOUSE", "CRM_CIF_SERVING", "CRM_CIF_SERVING_RESTRICTED", "CRM_CIF_EXPORTS_DIR",
                "CRM_CIF_MATCH_DECISIONS", "CRM_CIF_ERASURE_LOG", "CRM_CIF_LANDING_DIR", "CRM_CIF_TRUTH_DIR",
                "CRM_CIF_ERASURE_SALT", "CRM_CIF_PSEUDONYM_SALT"):
        monkeypatch.delenv(var, raising=False)
    settings = get_settings()
    with duckdb.connect(str(settings.warehouse_path)) as con:
        ensure_raw_schema(con)
        cols = len(BRANCH.column_names)
        for i, (account, email, phone, _) in enumerate(PERSONS.values(), start=1):
            row = [None] * cols
            names = BRANCH.column_names
            row[names.index("account_number")], row[names.index("email")], row[names.index("phone")] = account, email, phone
            row[names.index("first_name")] = "Ada" if i == 1 else "Bola"
            con.execute(f"insert into raw.branch__customers values ({', '.join('?' * (cols + 5))})",
                        row + _lineage("cust", i))
        tx = next(e for e in ENTITIES if e.table == "billing__transactions")
        for i, (account, amount) in enumerate([("AC0000000001", 10), ("AC0000000001", 20), ("AC0000000002", 5)], 1):
            row = [f"T{i}", account, "H1", "CUR", "2025-01-01T10:00:00", str(amount), "NGN", "purchase", "web"]
            assert len(row) == len(tx.column_names)
            con.execute(f"insert into raw.billing__transactions values ({', '.join('?' * (len(row) + 5))})",
                        row + _lineage("tx", i))
        con.execute("insert into raw.email__events values ('E1', ' ADA.OBI@example.com', 'C1', 'opened', "
                    "'2025-01-01T10:00:00', 'b1', 'email/ev.csv', 'ev', 1, '2025-01-01')")
        # Ada came as a lead referred by Bola: Bola's account on Ada's lead is Bola's, not Ada's.
        leads = next(e for e in ENTITIES if e.table == "marketing__leads")
        lead = {c: None for c in leads.column_names} | {"lead_id": "L1", "email": "ada.obi@example.com",
                                                        "referred_by_account_number": "AC0000000002"}
        con.execute(f"insert into raw.marketing__leads values ({', '.join('?' * (len(lead) + 5))})",
                    list(lead.values()) + ["b1", "marketing/leads.csv", "leads", 1, "2025-01-01"])
        con.execute("insert into raw.rejects values ('branch', 'customers', 'branch/cust.csv', 'cust', 'b1', 4, "
                    "'AC0000000001;Ada;\"broken', 'malformed quoting', '2025-01-01')")
        con.execute("""insert into raw.file_ledger (file_sha256, source, entity, source_file, status, data_lines,
                       rows_loaded, rows_rejected, batch_id) values
                       ('cust', 'branch', 'customers', 'branch/cust.csv', 'loaded', 3, 2, 1, 'b1'),
                       ('tx', 'billing', 'transactions', 'billing/tx.parquet', 'loaded', 3, 3, 0, 'b1')""")
        con.execute("create schema integration")
        con.execute("create table integration.party_xref as select * from (values "
                    "('branch:customers:AC0000000001', 'Paaaaaaaaaaaaaaaa', 'individual'), "
                    "('branch:customers:AC0000000002', 'Pbbbbbbbbbbbbbbbb', 'individual'), "
                    "('marketing:leads:L1', 'Paaaaaaaaaaaaaaaa', 'individual'), "
                    "('sales:organisations:ORG1', 'Poooooooooooooooo', 'organisation')) t(record_id, party_id, party_type)")
        con.execute("create table integration.party_identifiers as select * from (values "
                    "('account_number', 'AC0000000001', 'Paaaaaaaaaaaaaaaa'), "
                    "('email', 'ada.obi@example.com', 'Paaaaaaaaaaaaaaaa'), "
                    "('phone', '+2348031234567', 'Paaaaaaaaaaaaaaaa'), "
                    "('lead_id', 'L1', 'Paaaaaaaaaaaaaaaa'), "
                    "('account_number', 'AC0000000002', 'Pbbbbbbbbbbbbbbbb'), "
                    "('email', 'bola@example.com', 'Pbbbbbbbbbbbbbbbb'), "
                    "('phone', '+2348039990000', 'Pbbbbbbbbbbbbbbbb')) t(id_type, id_value, party_id)")
        con.execute("create schema marts")
        con.execute("create table marts.dim_customer as select * from (values "
                    "('Paaaaaaaaaaaaaaaa', 'ada.obi@example.com'), ('Pbbbbbbbbbbbbbbbb', 'bola@example.com')) t(party_id, email)")
        con.execute("create schema analytics")
        con.execute("create table analytics.segment_membership_changes as select * from (values "
                    "(date '2025-01-01', 'Paaaaaaaaaaaaaaaa', 'rfm', 'Champions'), "
                    "(date '2025-02-01', 'Paaaaaaaaaaaaaaaa', 'rfm', 'Loyal'), "
                    "(date '2025-02-01', 'Pbbbbbbbbbbbbbbbb', 'rfm', 'Lost')) t(as_of_date, party_id, segment_type, segment)")
    with duckdb.connect(str(settings.serving_restricted_path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.dim_customer as select * from (values "
                    "('Paaaaaaaaaaaaaaaa', 'Ada'), ('Pbbbbbbbbbbbbbbbb', 'Bola')) t(party_id, first_name)")
    settings.match_decisions_path.parent.mkdir(parents=True)
    with settings.match_decisions_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["record_id_l", "record_id_r", "decision", "decided_by", "decided_at", "note"],
                                      ["branch:customers:AC0000000001", "web:users:W1", "link", "x", "2025-01-01", ""],
                                      ["branch:customers:AC0000000002", "web:users:W2", "link", "x", "2025-01-01", ""]])
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics" / "report.md").write_text("| Paaaaaaaaaaaaaaaa | Champions |\n")
    (tmp_path / "analytics" / "other.md").write_text("| Pbbbbbbbbbbbbbbbb | Lost |\n")
    return settings


def _rows(settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_erase_by_email_removes_the_person_everywhere_and_keeps_totals(world):
    report = erase(world, ErasureRequest([], ["  ADA.OBI@example.com"], [], "dpo", "ticket 1"), rebuild=None)

    assert report.party_ids == ["Paaaaaaaaaaaaaaaa"]
    assert report.ok, report.residual
    # Raw: the own record and the rejected line are suppressed; touchpoints keep their amounts.
    assert _rows(world, "select account_number from raw.branch__customers") == [("AC0000000002",)]
    assert _rows(world, "select count(*) from raw.marketing__leads") == [(0,)]  # the referrer is untouched
    assert _rows(world, "select txn_id, account_number, amount from raw.billing__transactions order by 1") == [
        ("T1", None, "10"), ("T2", None, "20"), ("T3", "AC0000000002", "5")]
    assert _rows(world, "select event_id, email_address from raw.email__events") == [("E1", None)]
    assert _rows(world, "select count(*) from raw.rejects") == [(0,)]
    # Line accounting: delivered = raw + rejects + suppressed, per file.
    assert _rows(world, "select file_sha256, rows_loaded, rows_rejected from raw.file_ledger order by 1") == [
        ("cust", 1, 0), ("tx", 3, 0)]
    assert _rows(world, "select source_file, action, sum(rows) from raw.suppressions group by all order by all") == [
        ("branch/cust.csv", "suppressed", 2), ("branch/tx.csv", "anonymised", 2), ("email/ev.csv", "anonymised", 1),
        ("marketing/leads.csv", "suppressed", 1)]
    # Derived and per-run tables, the serving copy, the decisions file and reports lose the person only.
    assert _rows(world, "select party_id from marts.dim_customer") == [("Pbbbbbbbbbbbbbbbb",)]
    assert _rows(world, "select party_id, segment from analytics.segment_membership_changes") == [("Pbbbbbbbbbbbbbbbb", "Lost")]
    assert _rows(world, "select party_id from integration.party_xref order by 1") == [
        ("Pbbbbbbbbbbbbbbbb",), ("Poooooooooooooooo",)]
    with duckdb.connect(str(world.serving_restricted_path), read_only=True) as con:
        assert con.execute("select first_name from marts.dim_customer").fetchall() == [("Bola",)]
    decisions = world.match_decisions_path.read_text()
    assert "AC0000000001" not in decisions and "AC0000000002" in decisions
    assert not (world.data_dir / "analytics" / "report.md").exists()
    assert (world.data_dir / "analytics" / "other.md").exists()
    # The log: one salted hash and a timestamp per identifier, nothing plain.
    log = read_log(world.erasure_log_path)
    salt = world.erasure_salt
    assert {(e.identifier_kind, e.identifier_hash) for e in log} == {
        ("account_number", identifier_hash("account_number", "AC0000000001", salt)),
        ("email", identifier_hash("email", "ada.obi@example.com", salt)),
        ("phone", identifier_hash("phone", "+2348031234567", salt)),
        ("lead_id", identifier_hash("lead_id", "L1", salt)),
        ("party_id", identifier_hash("party_id", "Paaaaaaaaaaaaaaaa", salt))}
    text = world.erasure_log_path.read_text().lower()
    assert all(value not in text for value in ("ada", "ac0000000001", "2348031234567", "paaaaaaaaaaaaaaaa"))
    assert {e.erased_at for e in log} and all(e.requested_by == "dpo" for e in log)
    # Deleted rows are not left in the file's free blocks: the file was rewritten.
    assert b"ada.obi@example.com" not in world.warehouse_path.read_bytes().lower()


def test_erase_by_phone_in_any_format(world):
    report = erase(world, ErasureRequest([], [], ["0803-999-0000"], "dpo", "ticket 2"), rebuild=None)

    assert report.party_ids == ["Pbbbbbbbbbbbbbbbb"] and report.ok
    assert _rows(world, "select account_number from raw.branch__customers") == [("AC0000000001",)]
    assert _rows(world, "select txn_id, account_number from raw.billing__transactions where account_number is null") == [
        ("T3", None)]
    assert _rows(world, "select party_id from marts.dim_customer") == [("Paaaaaaaaaaaaaaaa",)]


def test_dry_run_counts_and_changes_nothing(world):
    before = world.warehouse_path.read_bytes()
    report = erase(world, ErasureRequest(["Paaaaaaaaaaaaaaaa"], [], [], "", "", dry_run=True), rebuild=None)

    assert report.raw == {"raw.branch__customers": (1, 0), "raw.billing__transactions": (0, 2),
                          "raw.email__events": (0, 1), "raw.marketing__leads": (1, 0)}
    assert report.rejects == 1
    assert report.derived == {"analytics.segment_membership_changes": 2, "integration.party_identifiers": 4,
                              "integration.party_xref": 2, "marts.dim_customer": 1}
    assert sorted(Path(f).name for f in report.files) == ["match_decisions.csv", "report.md"]
    assert world.warehouse_path.read_bytes() == before
    assert not world.erasure_log_path.exists()


def test_unknown_identifier_or_organisation_is_refused_and_nothing_changes(world):
    with pytest.raises(UnknownSubject, match="unknown to the warehouse"):
        erase(world, ErasureRequest([], ["nobody@example.com"], [], "dpo", "t"), rebuild=None)
    with pytest.raises(UnknownSubject, match="organisation"):
        erase(world, ErasureRequest(["Poooooooooooooooo"], [], [], "dpo", "t"), rebuild=None)
    assert not world.erasure_log_path.exists()
    assert len(_rows(world, "select * from raw.branch__customers")) == 2


def test_cli_errors_are_one_line_with_a_nonzero_exit(world, capsys):
    assert main(["erase", "--party-id", "Pzzzzzzzzzzzzzzzz", "--by", "dpo", "--reason", "t", "--no-rebuild"]) == 2
    err = capsys.readouterr().err
    assert "unknown to the warehouse" in err and "Traceback" not in err
    assert main(["erase", "--email", "bola@example.com"]) == 2  # no --by/--reason
    assert "--by and --reason are required" in capsys.readouterr().err
    assert main(["erase", "--email", "bola@example.com", "--dry-run"]) == 0
    assert "dry run: nothing changed" in capsys.readouterr().out


def test_erasing_twice_says_already_erased(world, capsys):
    assert main(["erase", "--email", "bola@example.com", "--by", "dpo", "--reason", "t", "--no-rebuild"]) == 0
    capsys.readouterr()
    assert main(["erase", "--email", "BOLA@example.com", "--by", "dpo", "--reason", "t", "--no-rebuild"]) == 0
    assert "already erased before: 1 identifier(s)" in capsys.readouterr().out


def test_later_delivery_is_suppressed_and_counted(world):
    erase(world, ErasureRequest([], ["ada.obi@example.com"], [], "dpo", "t"), rebuild=None)
    landing = world.landing_dir / "branch"
    landing.mkdir(parents=True)
    names = BRANCH.column_names

    def line(values: dict) -> str:
        return ";".join(values.get(c, "") for c in names)

    (landing / "customers_20250102.csv").write_bytes("\n".join([
        ";".join(names),
        line({"account_number": " AC0000000001 ", "first_name": "Ada", "updated_at": "02/01/2025 10:00"}),
        line({"account_number": "AC0000000003", "email": "ADA.OBI@EXAMPLE.COM", "phone": "+234 (0)803 123 4567",
              "first_name": "Cousin", "updated_at": "02/01/2025 10:00"}),
        line({"account_number": "AC0000000004", "first_name": "Dayo", "updated_at": "02/01/2025 10:00"}),
        'AC0000000009;"unterminated;ada.obi@example.com',
    ]).encode("latin-1") + b"\n")
    with duckdb.connect(str(world.warehouse_path)) as con:
        result = ingest_entity(con, BRANCH, world.landing_dir, batch_id="b2")
        rows = con.execute("select account_number, email, phone, first_name from raw.branch__customers "
                           "where _batch_id = 'b2' order by 1").fetchall()
        suppressions = con.execute("select action, reason, rows, stage from raw.suppressions where batch_id = 'b2' "
                                   "order by action").fetchall()
        ledger = con.execute("select data_lines, rows_loaded, rows_rejected from raw.file_ledger "
                             "where batch_id = 'b2'").fetchall()
        rejects = con.execute("select count(*) from raw.rejects where batch_id = 'b2'").fetchall()
    # Ada's own record and the broken line naming her never land; her email and phone on the
    # cousin's record are blanked; four delivered lines = 2 loaded + 0 rejected + 2 suppressed.
    assert (result.rows_loaded, result.rows_rejected, result.rows_suppressed) == (2, 0, 2)
    assert rows == [("AC0000000003", None, None, "Cousin"), ("AC0000000004", "", "", "Dayo")]
    assert suppressions == [("anonymised", "erased_subject", 1, "ingest"), ("suppressed", "erased_subject", 2, "ingest")]
    assert ledger == [(4, 2, 0)] and rejects == [(0,)]


@pytest.mark.parametrize("kind,text,expected", [
    ("email", "  Ada.Obi@Example.COM ", "ada.obi@example.com"),
    ("phone", "0803 123 4567", "+2348031234567"),
    ("phone", "+234 (0)803 123 4567", "+2348031234567"),
    ("phone", "002348031234567", "+2348031234567"),
    ("phone", "8031234567", "+2348031234567"),
    ("phone", "12345", None),
    ("account_number", " AC0000000001 ", "AC0000000001"),
    ("web_user_id", "", None),
])
def test_sql_and_python_normalise_and_hash_alike(kind, text, expected):
    assert normalise(kind, text) == expected
    con = duckdb.connect()
    install_sql_macros(con, "salt")
    norm, digest = con.execute("select _erasure_norm(?, ?), _erasure_hash(?, ?)", [kind, text, kind, text]).fetchall()[0]
    assert norm == expected
    assert digest == (identifier_hash(kind, expected, "salt") if expected else None)
