"""The customer 360 app's search and lookups, on a hand-made DuckDB file."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from dagster_project.app import queries
from dagster_project.app.database import APP_DB_ENV, app_database_path, existing_tables, read_only
from dagster_project.app.search_terms import normalize_phone, parse_search

ADA, ADE, BOLA, CONTACT, ORG = "P000000000000000a", "P000000000000000b", "P000000000000000c", "P000000000000000d", \
    "P000000000000000e"


@pytest.fixture
def db(tmp_path):
    """Five parties; Ada has an old phone, two segment runs and a CLV row; no dim_household."""
    path = tmp_path / "app.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema integration; create schema analytics")
    con.execute("""
        create table marts.dim_customer as select * from (values
            ('P000000000000000a', 'individual', 'Adaéze Okafor', 'ada@example.com', '+2348031234567', 'Lagos',
             'active', date '2019-03-01'),
            ('P000000000000000b', 'individual', 'Ade Okafor-Bello', 'ade@example.com', '+2348039999999', 'Abuja',
             'prospect', null),
            ('P000000000000000c', 'individual', 'Bola Ade', 'bola@example.com', null, 'Ibadan', 'closed',
             date '2015-01-01'),
            ('P000000000000000d', 'unidentified', null, null, '+2347011111111', null, 'contact', null),
            ('P000000000000000e', 'organisation', 'Ade Holdings Ltd', null, null, 'Lagos', 'organisation', null)
        ) as t(party_id, party_type, full_name, email, phone, city, customer_status, customer_since)
    """)
    con.execute("""
        create table marts.customer_360 as
        select party_id, party_type, full_name, email, phone, customer_status, customer_since,
               case party_id when 'P000000000000000a' then 2 else 0 end as open_complaints
        from marts.dim_customer where party_type <> 'unidentified'
    """)
    con.execute("""
        create table integration.party_identifiers as select * from (values
            ('phone', '+2348020000000', 'P000000000000000a'),
            ('account_number', 'AC0000000042', 'P000000000000000c'),
            ('email', 'ada.old@example.com', 'P000000000000000a')
        ) as t(id_type, id_value, party_id)
    """)
    con.execute("""
        create table analytics.customer_segments as select * from (values
            ('P000000000000000a', date '2026-01-31', 'champions', 'active'),
            ('P000000000000000a', date '2026-02-28', 'at_risk', 'at_risk'),
            ('P000000000000000b', date '2026-02-28', null, 'prospect'),
            ('P000000000000000c', date '2026-01-31', 'lost', 'attrited')
        ) as t(party_id, as_of_date, rfm_segment, lifecycle_stage)
    """)
    con.execute("""
        create table analytics.customer_clv as select * from (values
            ('P000000000000000a', date '2026-02-28', 0.25, 900.0, 800.0, 'platinum'),
            ('P000000000000000c', date '2026-02-28', 0.90, 100.0, 50.0, 'bronze'),
            ('P000000000000000b', date '2026-02-28', 0.60, 300.0, 250.0, 'bronze')
        ) as t(party_id, as_of_date, p_alive, clv, net_clv, value_tier)
    """)
    con.close()
    with read_only(path) as reader:
        yield reader, existing_tables(reader)


def _ids(db, text: str) -> list[str]:
    con, tables = db
    return queries.search_customers(con, parse_search(text), tables)["party_id"].tolist()


@pytest.mark.parametrize("typed", ["+234 803 123 4567", "2348031234567", "08031234567", "0803-123-4567",
                                   "(0803) 123 4567", "+234 (0)803 123 4567", "8031234567", "002348031234567"])
def test_phone_normalised_like_staging(typed):
    assert normalize_phone(typed, "234") == "+2348031234567"


def test_phone_normalisation_edges():
    assert normalize_phone("12345", "234") is None
    assert normalize_phone("+44 20 7946 0958", "234") == "+442079460958"
    assert normalize_phone("0044 20 7946 0958", "234") == "+442079460958"
    assert normalize_phone("07946 095800", "44") == "+447946095800"
    assert normalize_phone(None) is None


def test_search_box_is_read_as_the_right_kind():
    assert parse_search("  ").kind == "empty"
    assert parse_search("Ada@Example.COM ").value == "ada@example.com"
    assert (parse_search("0803 123 4567").kind, parse_search("0803 123 4567").value) == ("phone", "+2348031234567")
    assert parse_search("pE2D144B6B02AD9F8").value == "Pe2d144b6b02ad9f8"
    assert parse_search("AC0000000042").kind == "identifier"
    name = parse_search("Adaéze  OKAFOR")
    assert (name.kind, name.words) == ("name", ("adaeze", "okafor"))


def test_name_search_ignores_accents_case_and_word_order(db):
    assert _ids(db, "adaeze okafor") == [ADA]
    assert _ids(db, "OKAFOR Adaéze") == [ADA]
    # A word matches inside names ('Adaeze' has no 'ade'); current and former customers first, prospects last.
    assert _ids(db, "ade") == [BOLA, ORG, ADE]
    assert _ids(db, "okafor") == [ADA, ADE]


def test_exact_name_comes_first(db):
    assert _ids(db, "bola ade") == [BOLA]
    assert _ids(db, "ade holdings ltd")[0] == ORG


def test_email_and_phone_search_golden_and_old_identifiers(db):
    assert _ids(db, "ADA@example.com") == [ADA]
    assert _ids(db, "ada.old@example.com") == [ADA]
    assert _ids(db, "0803 123 4567") == [ADA]
    assert _ids(db, "0802 000 0000") == [ADA]  # an old number, seen in the identifiers only
    assert _ids(db, "0701 111 1111") == [CONTACT]
    assert _ids(db, "AC0000000042") == [BOLA]
    assert _ids(db, P := "P000000000000000e") == [P]


def test_search_box_cannot_inject_sql(db):
    con, tables = db
    for text in ("x' or 1=1 --", "'; drop table marts.dim_customer; --", "ada@x.com' or '1'='1", "%", "_"):
        assert _ids(db, text) == []
    assert con.execute("select count(*) from marts.dim_customer").fetchall() == [(5,)]


def test_search_without_integration_tables_uses_the_golden_record(db):
    con, tables = db
    golden_only = tables - {"integration.party_identifiers"}
    assert queries.search_customers(con, parse_search("0803 123 4567"), golden_only)["party_id"].tolist() == [ADA]
    assert queries.search_customers(con, parse_search("0802 000 0000"), golden_only).empty
    assert queries.search_customers(con, parse_search("AC0000000042"), golden_only).empty


def test_golden_record_falls_back_to_dim_customer(db):
    con, tables = db
    assert queries.golden_record(con, ADA, tables)["open_complaints"] == 2
    contact = queries.golden_record(con, CONTACT, tables)
    assert (contact["customer_status"], "open_complaints" in contact) == ("contact", False)
    assert queries.golden_record(con, "P0000000000000ff", tables) is None


def test_analytics_rows_are_the_latest_run_and_missing_tables_say_so(db):
    con, tables = db
    assert queries.latest_row(con, "analytics.customer_segments", ADA, tables)["rfm_segment"] == "at_risk"
    assert queries.latest_row(con, "analytics.customer_clv", CONTACT, tables) == {}
    assert queries.latest_row(con, "analytics.customer_clv", ADA, tables - {"analytics.customer_clv"}) is None
    assert queries.household(con, "H0000000000000001", tables) == (None, None)
    assert queries.timeline(con, ADA, tables) is None
    assert queries.service_cases(con, ADA, tables) is None


def test_overview_counts(db):
    con, tables = db
    rfm = queries.segment_counts(con, "rfm_segment", tables)
    assert dict(zip(rfm["rfm_segment"], rfm["parties"])) == {"at_risk": 1, "(none)": 1}  # latest run only
    assert queries.segment_counts(con, "lifecycle_stage", tables - {"analytics.customer_segments"}) is None
    with pytest.raises(ValueError):
        queries.segment_counts(con, "party_id; drop table x", tables)
    tiers = queries.clv_by_tier(con, tables)
    assert tiers.to_dict("records") == [
        {"value_tier": "platinum", "customers": 1, "avg_net_clv": 800.0, "total_net_clv": 800.0, "avg_p_alive": 0.25},
        {"value_tier": "bronze", "customers": 2, "avg_net_clv": 150.0, "total_net_clv": 300.0, "avg_p_alive": 0.75}]
    risk = queries.risk_by_tier(con, tables)
    assert list(zip(risk["value_tier"], risk["lifecycle_stage"], risk["customers"])) == [
        ("platinum", "at_risk", 1), ("bronze", "(none)", 1), ("bronze", "prospect", 1)]
    top = queries.top_customers(con, tables, limit=2)
    assert list(zip(top["party_id"], top["churn_risk"])) == [(ADA, 0.75), (ADE, 0.4)]
    assert queries.status_counts(con)["parties"].sum() == 4  # the unidentified contact is not counted


def test_database_path_order(tmp_path, monkeypatch):
    """CRM_CIF_APP_DB, else the restricted serving copy once published, else the warehouse."""
    from types import SimpleNamespace

    from dagster_project.app import database

    restricted, warehouse = tmp_path / "serving_restricted.duckdb", tmp_path / "warehouse.duckdb"
    monkeypatch.setattr(database, "get_settings",
                        lambda: SimpleNamespace(serving_restricted_path=restricted, warehouse_path=warehouse))
    monkeypatch.delenv(APP_DB_ENV, raising=False)
    assert app_database_path() == warehouse  # nothing published yet
    duckdb.connect(str(restricted)).close()
    assert app_database_path() == restricted
    monkeypatch.setenv(APP_DB_ENV, str(tmp_path / "elsewhere.duckdb"))
    assert app_database_path() == tmp_path / "elsewhere.duckdb"
    monkeypatch.delenv(APP_DB_ENV)
    monkeypatch.setattr(database, "get_settings", lambda: SimpleNamespace(warehouse_path=warehouse))
    assert app_database_path() == warehouse  # settings without a restricted copy (before the publish step)


def test_dates_survive_the_round_trip(db):
    con, tables = db
    found = queries.search_customers(con, parse_search("adaeze"), tables)
    assert found["customer_since"].iloc[0].date() == date(2019, 3, 1)
