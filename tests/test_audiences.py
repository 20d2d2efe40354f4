"""Audiences on a hand-made warehouse: exact members, consent and channel choice, birthday windows,
CSV formula escaping, manifests that match their files, and byte-identical re-runs."""

import csv
import hashlib
import io
import json
from datetime import date

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.analytics.audience_assets import AUDIENCE_ASSETS
from dagster_project.analytics.audience_export import _csv_cell, csv_bytes, escape_formula, write_atomically
from dagster_project.analytics.audiences import AUDIENCES_BY_NAME, as_of_date, build_audience

AS_OF = date(2026, 12, 28)  # latest transaction: the birthday week runs 28 Dec 2026 - 3 Jan 2027
FORMULA_NAME = '=HYPERLINK("http://evil.example","Click")'

# party_id, party_type, full_name, date_of_birth, email, phone, address_line, city, postcode, customer_status
CUSTOMERS = [
    ("P01", "individual", "Ada Obi", "1980-06-01", "ada@x.ng", "+2348030000001", "1 Marina", "Lagos", "101001", "active"),
    ("P02", "individual", "Bola Ade", "1981-06-02", "bola@x.ng", "+2348030000002", None, None, None, "inactive"),
    ("P03", "individual", "Chidi Eze", "1982-06-03", "chidi@x.ng", "+2348030000003", None, None, None, "inactive"),
    ("P04", "individual", "Dayo Ola", "1983-06-04", "dayo@x.ng", None, None, None, None, "active"),
    ("P05", "individual", "Efe Uche", "1984-06-05", "efe@x.ng", None, None, None, None, "active"),
    ("P06", "individual", FORMULA_NAME, "1985-06-06", "f@x.ng", "+2348030000006", None, None, None, "active"),
    ("P07", "individual", "Gozie Nna", "1986-06-07", "g@x.ng", None, None, None, None, "inactive"),
    ("P08", "individual", "Hauwa Bello", "1987-06-08", "h@x.ng", None, "8 Broad St", "Abuja", None, "active"),
    ("P09", "individual", "Ike Okafor", "1988-06-09", "ike@x.ng", "+2348030000009", None, None, None, "active"),
    ("B01", "individual", "First Day", "1980-12-28", "b01@x.ng", None, None, None, None, "active"),
    ("B02", "individual", "Last Day", "1990-01-03", "b02@x.ng", None, None, None, None, "inactive"),
    ("B03", "individual", "Day After", "1985-01-04", "b03@x.ng", None, None, None, None, "active"),
    ("B04", "individual", "Day Before", "1975-12-27", "b04@x.ng", None, None, None, None, "active"),
    ("B05", "individual", "Closed New Year", "1992-12-31", "b05@x.ng", None, None, None, None, "closed"),
    ("B06", "individual", "Prospect New Year", "1988-01-01", "b06@x.ng", None, None, None, None, "prospect"),
    ("B07", "individual", "No Consent", "2000-01-02", "b07@x.ng", None, None, None, None, "active"),
    ("B08", "individual", "Leap Day", "1996-02-29", "b08@x.ng", None, None, None, None, "active"),
    ("O01", "organisation", "@Acme Ltd", None, None, None, None, None, None, "organisation"),
    ("O02", "organisation", "Beta Ltd", None, None, None, None, None, None, "organisation"),
    ("O04", "organisation", "Delta Ltd", None, None, None, None, None, None, "organisation"),
]

# party_id, consent_email, consent_sms, consent_phone, consent_post (no row = no consent)
CONSENT = [
    ("P01", True, True, False, False),
    ("P02", False, True, False, False),   # opted out of email: reached by sms
    ("P04", True, False, False, False),
    ("P05", True, False, False, False),
    ("P06", True, True, False, False),
    ("P07", False, False, False, True),   # post only, but no address: unreachable
    ("P08", True, False, False, True),
    ("P09", False, False, False, False),  # opted out of everything
    ("B01", True, False, False, False), ("B02", True, False, False, False), ("B03", True, False, False, False),
    ("B04", True, False, False, False), ("B05", True, False, False, False), ("B06", True, False, False, False),
    ("B08", True, False, False, False),
]

# party_id, as_of_date, rfm_segment, lifecycle_stage, preferred_channel, product_affinity_group, next_best_product
SEGMENTS = [
    ("P01", "2026-12-28", "At risk", "at_risk", "email", "savers", "CARD_GOLD"),
    ("P02", "2026-12-28", "Hibernating", "lapsed", "email", "borrowers", None),
    ("P03", "2026-12-28", "Lost", "lapsed", "sms", "savers", None),
    ("P04", "2026-12-28", "At risk", "at_risk", "email", "savers", None),
    ("P05", "2026-12-28", "Champions", "active", "email", "savers", "INS_LIFE"),
    ("P06", "2026-12-28", "Can't lose them", "at_risk", "mobile", "borrowers", "LOAN_PERS"),
    ("P07", "2026-12-28", "About to sleep", "at_risk", "post", "savers", None),
    ("P08", "2026-12-28", "Hibernating", "lapsed", "branch", "savers", "SAV_FIXED"),
    ("P09", "2026-12-28", "At risk", "at_risk", "web", "savers", "CARD_CLASSIC"),
    ("B01", "2026-12-28", "Loyal", "active", "sms", "savers", None),  # prefers sms, no sms consent: email
    ("P04", "2026-09-30", "Lost", "lapsed", "email", "savers", "MORT_HOME"),  # an older run: ignored
]

# party_id, as_of_date, value_tier, clv
CLV = [
    ("P01", "2026-12-28", "gold", 1500.456), ("P02", "2026-12-28", "platinum", 9000.0),
    ("P03", "2026-12-28", "gold", 1200.0), ("P04", "2026-12-28", "silver", 300.0),
    ("P05", "2026-12-28", "platinum", 8000.0), ("P06", "2026-12-28", "gold", 1100.0),
    ("P07", "2026-12-28", "gold", 1000.0), ("P08", "2026-12-28", "platinum", 7000.0),
    ("P09", "2026-12-28", "gold", 1000.0), ("P04", "2026-09-30", "gold", 2000.0),
]

# party_id, name, is_key_account, plan_year, target_value, actual_value, attainment
KEY_ACCOUNTS = [
    ("O01", "@Acme Ltd", True, 2026, 1000000, 500000, 0.5),
    ("O02", "Beta Ltd", True, 2026, 1000000, 950000, 0.95),
    ("O03", "Gamma Ltd", False, 2026, 1000000, 200000, 0.2),
    ("O04", "Delta Ltd", True, 2026, 1000000, 600000, 0.6),     # no account manager
    ("O05", "Epsilon Ltd", True, 2025, 1000000, 500000, 0.5),   # behind last year, ahead this year
    ("O05", "Epsilon Ltd", True, 2026, 1000000, 1100000, 1.1),
]

# organisation_party_id, account_manager_id, account_manager_name
ORGANISATIONS = [("O01", "AM1", "Kemi Adeyemi"), ("O02", "AM2", "Tunde Bakare"), ("O04", None, None),
                 ("O05", "AM1", "Kemi Adeyemi")]


def _create(con, table: str, columns: str, rows: list[tuple]) -> None:
    con.execute(f"create table {table} ({columns})")
    if rows:
        con.executemany(f"insert into {table} values ({', '.join('?' * len(rows[0]))})", rows)


def _warehouse(path) -> str:
    with duckdb.connect(str(path)) as con:
        for schema in ("marts", "integration", "analytics", "reference"):
            con.execute(f"create schema {schema}")
        _create(con, "marts.fct_transactions", "occurred_on date", [("2026-01-05",), (AS_OF.isoformat(),)])
        _create(con, "marts.dim_customer", "party_id varchar, party_type varchar, full_name varchar, "
                "date_of_birth date, email varchar, phone varchar, address_line varchar, city varchar, "
                "postcode varchar, customer_status varchar, first_name varchar, last_name varchar",
                [row + (None, None) for row in CUSTOMERS])
        _create(con, "integration.int_party_consent", "party_id varchar, consent_email boolean, consent_sms boolean, "
                "consent_phone boolean, consent_post boolean", CONSENT)
        _create(con, "analytics.customer_segments", "party_id varchar, as_of_date date, rfm_segment varchar, "
                "lifecycle_stage varchar, preferred_channel varchar, product_affinity_group varchar, "
                "next_best_product varchar", SEGMENTS)
        _create(con, "analytics.customer_clv", "party_id varchar, as_of_date date, value_tier varchar, clv double", CLV)
        _create(con, "analytics.key_accounts", "party_id varchar, name varchar, is_key_account boolean, "
                "plan_year integer, target_value double, actual_value double, attainment double", KEY_ACCOUNTS)
        _create(con, "marts.dim_organisation", "organisation_party_id varchar, account_manager_id varchar, "
                "account_manager_name varchar", ORGANISATIONS)
        _create(con, "reference.products", "product_code varchar, product_name varchar",
                [("CARD_GOLD", "Gold credit card"), ("LOAN_PERS", "Personal loan"), ("SAV_FIXED", "Fixed deposit"),
                 ("INS_LIFE", "Life insurance"), ("CARD_CLASSIC", "Classic credit card")])
    return str(path)


@pytest.fixture
def warehouse(tmp_path) -> str:
    return _warehouse(tmp_path / "w.duckdb")


def _members(warehouse: str, name: str, as_of: date | None = None):
    with duckdb.connect(warehouse) as con:
        result = build_audience(con, AUDIENCES_BY_NAME[name], as_of)
    return result, [tuple(r.values()) for r in result.members.to_pylist()]


def test_as_of_is_the_latest_transaction(warehouse):
    with duckdb.connect(warehouse) as con:
        assert as_of_date(con) == AS_OF


def test_win_back_respects_consent_and_prefers_the_preferred_channel(warehouse):
    from decimal import Decimal
    result, rows = _members(warehouse, "win_back")
    assert rows == [
        ("P01", "Ada Obi", "email", "ada@x.ng", "preferred", "gold", "at_risk", "At risk", Decimal("1500.46")),
        ("P02", "Bola Ade", "sms", "+2348030000002", "fallback", "platinum", "lapsed", "Hibernating", Decimal("9000.00")),
        ("P06", FORMULA_NAME, "sms", "+2348030000006", "preferred", "gold", "at_risk", "Can't lose them",
         Decimal("1100.00")),
        ("P08", "Hauwa Bello", "post", "8 Broad St, Abuja", "preferred", "platinum", "lapsed", "Hibernating",
         Decimal("7000.00")),
    ]
    # P03 no consent row, P09 opted out of all: no_consent; P07 consents to post but has no address
    assert result.candidates == 7
    assert result.excluded == {"no_consent": 2, "no_contact_value": 1}


def test_birthday_week_across_the_year_end(warehouse):
    result, rows = _members(warehouse, "birthday_this_week")
    assert rows == [
        ("B01", "First Day", "email", "b01@x.ng", "fallback", date(2026, 12, 28)),
        ("B02", "Last Day", "email", "b02@x.ng", "fallback", date(2027, 1, 3)),
    ]
    assert result.excluded == {"no_consent": 1, "no_contact_value": 0}  # B07


@pytest.mark.parametrize("as_of, celebrated_on", [
    (date(2027, 2, 22), date(2027, 2, 28)),   # not a leap year: 28 February, last day of the window
    (date(2027, 2, 28), date(2027, 2, 28)),
    (date(2027, 3, 1), None),                 # already celebrated on the 28th
    (date(2028, 2, 22), None),                # a leap year: the 29th is one day past the window
    (date(2028, 2, 23), date(2028, 2, 29)),
    (date(2100, 2, 25), date(2100, 2, 28)),   # 2100 is not a leap year
])
def test_birthday_on_29_february(warehouse, as_of, celebrated_on):
    _, rows = _members(warehouse, "birthday_this_week", as_of)
    leap = [row[-1] for row in rows if row[0] == "B08"]
    assert leap == ([celebrated_on] if celebrated_on else [])


def test_cross_sell_names_the_product(warehouse):
    result, rows = _members(warehouse, "cross_sell")
    assert rows == [
        ("P01", "Ada Obi", "email", "ada@x.ng", "preferred", "CARD_GOLD", "Gold credit card", "savers"),
        ("P05", "Efe Uche", "email", "efe@x.ng", "preferred", "INS_LIFE", "Life insurance", "savers"),
        ("P06", FORMULA_NAME, "sms", "+2348030000006", "preferred", "LOAN_PERS", "Personal loan", "borrowers"),
        ("P08", "Hauwa Bello", "post", "8 Broad St, Abuja", "preferred", "SAV_FIXED", "Fixed deposit", "savers"),
    ]
    assert result.excluded == {"no_consent": 1, "no_contact_value": 0}  # P09; P04's old MORT_HOME is ignored


def test_key_account_review_goes_to_the_account_manager(warehouse):
    from decimal import Decimal
    result, rows = _members(warehouse, "key_account_review")
    assert rows == [("O01", "@Acme Ltd", "field_sales", "Kemi Adeyemi", "account_manager", 2026,
                     Decimal("1000000.00"), Decimal("500000.00"), Decimal("0.5000"), "AM1")]
    assert result.excluded == {"no_account_manager": 1}  # O04


def test_formula_escaping():
    assert escape_formula("=1+1") == "'=1+1"
    assert escape_formula("+234803") == "'+234803"
    assert escape_formula("-x") == "'-x"
    assert escape_formula("@SUM(A1)") == "'@SUM(A1)"
    assert escape_formula("Ada = Obi") == "Ada = Obi"
    import pyarrow as pa
    table = pa.table({"name": ["-5", None], "amount": pa.array([-5, 7], pa.int64())})
    assert csv_bytes(table) == b"name,amount\n'-5,-5\n,7\n"  # numbers are not formulas


def test_csv_cells_as_the_csv_module_writes_them():
    """csv_bytes builds the cells with Arrow compute: the same bytes the csv module writes row by row."""
    import csv
    import io
    from datetime import date, datetime
    from decimal import Decimal

    import pyarrow as pa
    texts = ["Ada", "a,b", 'say "hi"', "two\nlines", "=1+1", "+234803", "-x", "@SUM(A1)", "\tTab", "", None,
             'Obi, "Jr"', "é ü", " spaced "]
    n = len(texts)
    table = pa.table({
        "text": texts,
        "whole": pa.array([i - 3 if i % 4 else None for i in range(n)], pa.int64()),
        "money": pa.array([Decimal("12.50"), Decimal("-0.05"), None, *[Decimal(i) for i in range(n - 3)]],
                          pa.decimal128(18, 2)),
        "day": pa.array([date(2026, 1, i + 1) if i % 3 else None for i in range(n)], pa.date32()),
        "flag": pa.array([bool(i % 2) if i % 5 else None for i in range(n)]),
        "ratio": pa.array([1.0, 0.1, 1e-05, 1e20, None, *[i / 7 for i in range(n - 5)]], pa.float64()),
        "at": pa.array([datetime(2026, 1, 2, 3, 4, 5) if i % 2 else None for i in range(n)], pa.timestamp("us")),
    })
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_csv_cell(v, isinstance(v, str)) for v in row.values()])
    assert csv_bytes(table) == expected.getvalue().encode("utf-8")
    # a carriage return inside a cell is quoted too (RFC 4180; the csv module leaves it bare before 3.12)
    assert csv_bytes(pa.table({"a": ["x\ry"], "b": [1]})) == b'a,b\n"x\ry",1\n'
    assert csv_bytes(pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.int64())})) == b"a,b\n"


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "a.csv"
    write_atomically(target, lambda tmp: tmp.write_bytes(b"old\n"))

    def half_then_fail(tmp):
        tmp.write_bytes(b"new, half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def _materialize(warehouse: str):
    result = dg.materialize(AUDIENCE_ASSETS, resources={"duckdb": DuckDBResource(database=warehouse)})
    assert result.success


def _read(path):
    return path.read_bytes()


def test_exports_manifest_escaping_and_idempotence(warehouse, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    monkeypatch.setenv("CRM_CIF_EXPORTS_DIR", str(exports))
    _materialize(warehouse)
    folder = exports / "audiences"
    names = ["birthday_this_week", "cross_sell", "key_account_review", "win_back"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{n}{ext}" for n in names for ext in (".csv", ".parquet", ".manifest.json"))
    first = {p.name: _read(p) for p in folder.iterdir()}

    expected_rows = {"win_back": 4, "birthday_this_week": 2, "cross_sell": 4, "key_account_review": 1}
    for name in names:
        manifest = json.loads((folder / f"{name}.manifest.json").read_text())
        csv_rows = list(csv.DictReader(io.StringIO((folder / f"{name}.csv").read_text())))
        parquet = pq.read_table(folder / f"{name}.parquet")
        assert manifest["row_count"] == len(csv_rows) == parquet.num_rows == expected_rows[name]
        assert manifest["as_of_date"] == "2026-12-28"
        assert manifest["definition"]["name"] == name
        assert [c["name"] for c in manifest["columns"]] == parquet.column_names == list(csv_rows[0])
        for file_name, entry in manifest["files"].items():
            assert entry["sha256"] == hashlib.sha256((folder / file_name).read_bytes()).hexdigest()
        with duckdb.connect(warehouse) as con:
            table = con.sql(f"select * from analytics.audience_{name} order by party_id").to_arrow_table()
        assert table.equals(parquet)

    win_back_csv = {r["party_id"]: r for r in csv.DictReader(io.StringIO((folder / "win_back.csv").read_text()))}
    win_back_parquet = {r["party_id"]: r for r in pq.read_table(folder / "win_back.parquet").to_pylist()}
    assert win_back_csv["P06"]["name"] == "'" + FORMULA_NAME
    assert win_back_parquet["P06"]["name"] == FORMULA_NAME
    assert win_back_csv["P02"]["contact_value"] == "'+2348030000002"
    assert win_back_parquet["P02"]["contact_value"] == "+2348030000002"
    key_csv = list(csv.DictReader(io.StringIO((folder / "key_account_review.csv").read_text())))
    assert key_csv[0]["name"] == "'@Acme Ltd"
    assert json.loads((folder / "win_back.manifest.json").read_text())["excluded"] == {
        "no_consent": 2, "no_contact_value": 1}

    _materialize(warehouse)
    second = {p.name: _read(p) for p in folder.iterdir()}
    assert second.keys() == first.keys()  # no temporary file left behind
    for name, content in first.items():
        if name.endswith(".manifest.json"):
            before, after = json.loads(content), json.loads(second[name])
            before.pop("generated_at"), after.pop("generated_at")
            assert before == after
        else:
            assert content == second[name], name


@pytest.mark.parametrize("audience", ["win_back", "birthday_this_week", "cross_sell"])
def test_built_world_audiences_reach_only_consenting_people(built_world, audience):
    """On the pipeline's own output: every member was reached on a channel they consented to,
    and the export and its manifest hold exactly the audience table's rows."""
    import json

    con = duckdb.connect(str(built_world.warehouse), read_only=True)
    try:
        members = con.execute(f"select count(*) from analytics.audience_{audience}").fetchall()[0][0]
        unconsented = con.execute(f"""
            select count(*) from analytics.audience_{audience} a
            join integration.int_party_consent c using (party_id)
            where not case a.channel when 'email' then c.consent_email when 'sms' then c.consent_sms
                                     when 'phone' then c.consent_phone when 'post' then c.consent_post end
        """).fetchall()[0][0]
        without_record = con.execute(f"""
            select count(*) from analytics.audience_{audience} a
            where not exists (select 1 from integration.int_party_consent c where c.party_id = a.party_id)
        """).fetchall()[0][0]
    finally:
        con.close()
    folder = built_world.root / "exports" / "audiences"
    manifest = json.loads((folder / f"{audience}.manifest.json").read_text())
    csv_rows = sum(1 for _ in (folder / f"{audience}.csv").open(encoding="utf-8")) - 1
    assert members > 0
    assert unconsented == 0 and without_record == 0
    assert manifest["row_count"] == members == csv_rows
