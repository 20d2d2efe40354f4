"""Identity on a hand-made record graph: exact keys, model links, decisions, ids and rules."""

import duckdb
import pyarrow as pa
import pytest

from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER
from dagster_project.identity.resolve import Thresholds, resolve_parties
from dagster_project.identity.review import record_decision
from dagster_project.identity.stable_ids import anchor_party_id


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
    assert parties["branch:customers:AC1"] == anchor_party_id("branch:customers:AC1")


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


def _pairs(*rows) -> pa.Table:
    return pa.table({"record_id_l": [r[0] for r in rows], "record_id_r": [r[1] for r in rows],
                     "match_weight": [r[3] for r in rows], "match_probability": [r[2] for r in rows]})


def _parties(con) -> dict[str, str]:
    return dict(con.execute("select record_id, party_id from integration.party_xref").fetchall())


def test_model_links_above_the_threshold_and_queues_the_unsure(con):
    pairs = _pairs(("branch:customers:AC1", "marketing:leads:L1", 0.991, 7.5),   # typo'd email, same name
                   ("branch:customers:AC2", "marketing:leads:L1", 0.70, 1.2))     # unsure: a person decides
    stats = resolve_parties(con, scored_pairs=pairs, thresholds=Thresholds(link=0.95, review=0.5))
    parties = _parties(con)
    assert parties["marketing:leads:L1"] == parties["branch:customers:AC1"]
    assert parties["branch:customers:AC2"] != parties["branch:customers:AC1"]
    assert stats.model_links == 1 and stats.parties == 4
    rule, probability = con.execute("select match_rule, match_probability from integration.party_xref "
                                    "where record_id = 'marketing:leads:L1'").fetchall()[0]
    assert (rule, probability) == ("model:splink", 0.991)
    queue = con.execute("select record_id_l, record_id_r, match_probability from integration.match_review").fetchall()
    assert queue == [("branch:customers:AC2", "marketing:leads:L1", 0.70)]


def test_decisions_are_honoured_on_every_run(con, tmp_path):
    decisions = tmp_path / "match_decisions.csv"
    record_decision(decisions, "marketing:leads:L1", "branch:customers:AC2", "link", decided_by="steward")
    record_decision(decisions, "web:users:U1", "mobile:users:M1", "no_link", decided_by="steward")
    pairs = _pairs(("branch:customers:AC2", "marketing:leads:L1", 0.70, 1.2))
    for _ in range(2):
        resolve_parties(con, scored_pairs=pairs, decisions_path=decisions)
        parties = _parties(con)
        assert parties["marketing:leads:L1"] == parties["branch:customers:AC2"]
        # the no-link decision cuts the exact phone link between the web and app users
        assert parties["web:users:U1"] != parties["mobile:users:M1"]
        assert con.execute("select count(*) from integration.match_review").fetchall()[0][0] == 0
    rule = con.execute("select match_rule from integration.party_xref where record_id = 'marketing:leads:L1'").fetchall()
    assert rule == [("exact:email; review:link",)] or rule == [("review:link",)]


def test_ids_survive_a_merge_and_the_merge_is_logged(con):
    resolve_parties(con)
    before = _parties(con)
    assert con.execute("select count(*) from integration.party_merge_log").fetchall()[0][0] == 0
    resolve_parties(con, scored_pairs=_pairs(("branch:customers:AC1", "marketing:leads:L1", 0.99, 8.0)))
    after = _parties(con)
    # the bigger party (AC1, U1, M1) keeps its id; the lead's party id is retired into it
    assert after["marketing:leads:L1"] == after["branch:customers:AC1"] == before["branch:customers:AC1"]
    log = con.execute("select event, party_id, other_party_id from integration.party_merge_log").fetchall()
    assert log == [("merge", before["branch:customers:AC1"], before["marketing:leads:L1"])]
    unchanged = {k: v for k, v in after.items() if k not in ("marketing:leads:L1",)}
    assert unchanged == {k: before[k] for k in unchanged}
