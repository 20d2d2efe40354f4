"""Identity resolution against the sample world's truth: the issue's targets, pair by pair.

The session world has 10,000 people with default noise (typos, case, spacing, duplicate
registrations, changed emails and phones, marriages), so these are the issue's own targets:
pairwise precision ≥ 0.99, recall ≥ 0.97, distinct people within 1% of the truth.
"""

import duckdb
import pytest

from dagster_project.sample_world.identity_scoring import score_identity


@pytest.fixture(scope="module")
def score(built_world):
    con = duckdb.connect(str(built_world.warehouse), read_only=True)
    try:
        yield score_identity(con, built_world.truth)
    finally:
        con.close()


def test_pairwise_precision_and_recall_meet_the_targets(score):
    assert score.overall.true_pairs > 10_000
    assert score.overall.precision >= 0.99, score.overall
    assert score.overall.recall >= 0.97, score.overall


def test_distinct_people_within_one_percent(score):
    assert abs(score.person_count_error) <= 0.01, (score.individual_parties, score.true_people)


def test_every_pair_of_sources_links_well(score):
    """No source is left out: each pair of sources with enough true links is matched well too."""
    weak = {pair: (round(s.precision, 4), round(s.recall, 4)) for pair, s in score.by_source_pair.items()
            if s.true_pairs >= 50 and (s.precision < 0.98 or s.recall < 0.95)}
    assert not weak, weak


def test_the_model_adds_links_the_exact_rules_miss(built_world):
    con = duckdb.connect(str(built_world.warehouse), read_only=True)
    try:
        rules = dict(con.execute("""
            select case when match_rule like 'exact:%' then 'exact' when match_rule like 'model:%' then 'model'
                        else match_rule end, count(*)
            from integration.party_xref group by 1""").fetchall())
        untrained = con.execute("select count(*) from integration.match_model_parameters "
                                "where level like 'Exact match%' and (m_probability is null or u_probability is null)").fetchall()[0][0]
        comparisons = {r[0] for r in con.execute("select distinct comparison from integration.match_model_parameters").fetchall()}
    finally:
        con.close()
    assert rules.get("model", 0) > 0 and rules["exact"] > rules["model"]
    assert set(rules) <= {"exact", "model", "singleton"}
    assert untrained == 0
    assert {"first_name", "surname", "date_of_birth", "email", "phone", "postcode"} <= comparisons


def test_each_identifier_maps_to_one_party(built_world):
    """party_identifiers is unique on (id_type, id_value): the facts join every touchpoint to it and must not
    fan out."""
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        rows, distinct = con.execute("select count(*), count(distinct (id_type, id_value)) "
                                     "from integration.party_identifiers").fetchall()[0]
    assert rows > 10_000
    assert rows == distinct
