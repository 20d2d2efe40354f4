"""Deterministic identity on a hand-made record graph: exact components, ids and rules."""

import duckdb
import pytest

from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER, _party_id, resolve_parties


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("create schema integration")
    con.execute("""
        create table integration.int_party_records as select * from (values
            ('branch:customers:AC1', 'branch', 'customers', 'AC1', 'individual', 1),
            ('web:users:U1',        'web', 'users', 'U1', 'individual', 3),
            ('mobile:users:M1',     'mobile', 'users', 'M1', 'individual', 4),
            ('marketing:leads:L1',  'marketing', 'leads', 'L1', 'individual', 5),
            ('branch:customers:AC2', 'branch', 'customers', 'AC2', 'individual', 1),
            ('callcentre:contact_point:phone:+2348000000009', 'callcentre', 'contact_point', 'phone:+2348000000009', 'unidentified', 8),
            ('sales:organisations:O1', 'sales', 'organisations', 'O1', 'organisation', 2)
        ) as t(record_id, source_system, source_entity, source_key, party_type, trust_rank)
    """)
    # AC1 -email- U1 -phone- M1 ; L1 alone ; AC2 alone ; unknown caller alone ; O1 alone
    con.execute("""
        create table integration.int_party_identifiers as select * from (values
            ('branch:customers:AC1', 'account_number', 'AC1'),
            ('branch:customers:AC1', 'email', 'ada@example.com'),
            ('web:users:U1', 'email', 'ada@example.com'),
            ('web:users:U1', 'phone', '+2348031111111'),
            ('web:users:U1', 'web_user_id', 'U1'),
            ('mobile:users:M1', 'phone', '+2348031111111'),
            ('mobile:users:M1', 'app_user_id', 'M1'),
            ('marketing:leads:L1', 'email', 'ada@exmaple.com'),
            ('marketing:leads:L1', 'lead_id', 'L1'),
            ('branch:customers:AC2', 'account_number', 'AC2'),
            ('callcentre:contact_point:phone:+2348000000009', 'phone', '+2348000000009'),
            ('sales:organisations:O1', 'org_id', 'O1')
        ) as t(record_id, id_type, id_value)
    """)
    yield con
    con.close()


def test_components_become_parties(con):
    stats = resolve_parties(con)
    assert stats.records == 7
    assert stats.parties == 5
    assert stats.parties_by_type == {"individual": 3, "organisation": 1, "unidentified": 1}
    assert stats.largest_party == 3
    parties = dict(con.execute("select record_id, party_id from integration.party_xref").fetchall())
    assert parties["branch:customers:AC1"] == parties["web:users:U1"] == parties["mobile:users:M1"]
    assert parties["marketing:leads:L1"] != parties["branch:customers:AC1"]  # a typo'd email links nothing
    # The id is a hash of the smallest identified record of the party: stable for the same input.
    assert parties["branch:customers:AC1"] == _party_id("branch:customers:AC1")


def test_match_rules_name_the_shared_identifiers(con):
    resolve_parties(con)
    rules = dict(con.execute("select record_id, match_rule from integration.party_xref").fetchall())
    assert rules["branch:customers:AC1"] == "exact:email"
    assert rules["web:users:U1"] == "exact:email+phone"
    assert rules["mobile:users:M1"] == "exact:phone"
    assert rules["branch:customers:AC2"] == "singleton"


def test_identifier_lookup_covers_every_identifier(con):
    resolve_parties(con)
    lookup = dict(con.execute(
        "select id_type || ':' || id_value, party_id from integration.party_identifiers").fetchall())
    assert len(lookup) == 10
    assert lookup["web_user_id:U1"] == lookup["account_number:AC1"] == lookup["phone:+2348031111111"]


def test_overshared_identifier_links_nothing(con):
    rows = [(f"web:users:X{i}", "phone", "+2340000000000") for i in range(MAX_RECORDS_PER_IDENTIFIER + 1)]
    con.executemany("insert into integration.int_party_records values (?, 'web', 'users', ?, 'individual', 3)",
                    [(r[0], r[0].split(":")[-1]) for r in rows])
    con.executemany("insert into integration.int_party_identifiers values (?, ?, ?)", rows)
    stats = resolve_parties(con)
    assert stats.ignored_identifiers == 1
    assert stats.parties == 5 + MAX_RECORDS_PER_IDENTIFIER + 1
    assert con.execute("select count(*) from integration.party_identifiers where id_value = '+2340000000000'").fetchone()[0] == 0


def test_same_input_same_output(con):
    resolve_parties(con)
    first = con.execute("select * from integration.party_xref order by record_id").fetchall()
    resolve_parties(con)
    assert con.execute("select * from integration.party_xref order by record_id").fetchall() == first
