"""The party model (households, organisations, membership groups, relationships) and
marts.customer_counts on the session's generated world, compared with the world's truth.

Resolved parties are mapped to true people through integration.party_xref and the truth's
record_map (a party is the person most of its records belong to). Measured on the 10,000-person
test world (seed 7, Splink identity): household pairs precision 0.9997 / recall 1.000,
employee_of, member_of and referred_by 1.000, pays_bills_for within true households 0.997;
households, organisations, customers, current and former customers equal to the truth; people
+1.1% (10,111 for 10,000). The deterministic identity on 2,000 and 10,000 people gave the same
picture with people +0.9% / +0.8%. The thresholds leave room only for identity errors, which
identity resolution's own tests measure.
"""

from __future__ import annotations

import hashlib
import itertools

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.e2e


def _query(world, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(world.warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def truth(built_world):
    persons = pd.read_parquet(built_world.truth / "persons.parquet").set_index("person_id")
    record_map = pd.read_parquet(built_world.truth / "record_map.parquet")
    organisations = pd.read_parquet(built_world.truth / "organisations.parquet")
    return persons, record_map, organisations


@pytest.fixture(scope="module")
def person_of_party(built_world, truth) -> pd.Series:
    _, record_map, _ = truth
    xref = _query(built_world, "select source_system as source, source_entity as entity, source_key as record_key, party_id "
                               "from integration.party_xref")
    joined = xref.merge(record_map, on=["source", "entity", "record_key"])
    return joined.groupby("party_id").person_id.agg(lambda people: people.mode().iloc[0])


@pytest.fixture(scope="module")
def relationships(built_world, person_of_party) -> pd.DataFrame:
    rel = _query(built_world, "select * from marts.fct_party_relationships")
    rel["from_person"] = rel.from_party_id.map(person_of_party)
    rel["to_person"] = rel.to_party_id.map(person_of_party)
    return rel


def _pairs(frame: pd.DataFrame, group: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for _, members in frame.groupby(group):
        pairs.update(itertools.combinations(sorted(members.person_id), 2))
    return pairs


def _measures(world) -> dict[str, int]:
    counts = _query(world, "select measure, value from marts.customer_counts")
    return dict(zip(counts.measure, counts.value))


def test_households_match_the_true_households_pairwise(built_world, truth, person_of_party):
    """People with an address: two people share a household exactly when they truly do."""
    persons, _, _ = truth
    members = _query(built_world, "select party_id, household_id from integration.int_household_members")
    members["person_id"] = members.party_id.map(person_of_party)
    members = members.dropna(subset=["person_id"]).drop_duplicates("person_id")
    members["true_household"] = members.person_id.map(persons.household_id)
    found, true = _pairs(members, "household_id"), _pairs(members, "true_household")
    precision = len(found & true) / len(found)
    recall = len(found & true) / len(true)
    assert len(true) > 100
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)


def test_household_count_equals_the_true_households_of_people_with_an_address(built_world, truth):
    """Only branch customers give an address, so those are the households that can be found."""
    persons, record_map, _ = truth
    with_address = record_map[(record_map.source == "branch") & (record_map.entity == "customers")].person_id.unique()
    true_households = persons.loc[with_address].household_id.nunique()
    found = _measures(built_world)["households"]
    assert abs(found - true_households) / true_households <= 0.01, (found, true_households)
    every_member_once = _query(built_world, "select count(*) - count(distinct from_party_id) as n from marts.fct_party_relationships "
                                            "where relationship_type = 'household_member'")
    assert every_member_once.n.iloc[0] == 0


def test_households_keep_their_id_when_membership_is_unchanged(built_world):
    """The id is derived from the anchor member, not from the run: recomputing it gives the same id."""
    households = _query(built_world, "select household_id, anchor_party_id from marts.dim_household")
    expected = households.anchor_party_id.map(lambda p: "H" + hashlib.md5(p.encode()).hexdigest()[:16])
    assert (households.household_id == expected).all()
    in_dim_customer = _query(built_world, "select count(distinct household_id) as n from marts.dim_customer")
    assert in_dim_customer.n.iloc[0] == len(households)


def test_organisations_are_exactly_the_true_organisations(built_world, truth):
    _, _, organisations = truth
    dim = _query(built_world, "select org_id, account_manager_id from marts.dim_organisation")
    assert sorted(dim.org_id) == sorted(organisations.org_id)
    assert _measures(built_world)["organisations"] == len(organisations)
    # the current account manager is the one the truth ends with
    final_manager = organisations.account_manager_changed_to.fillna(organisations.account_manager_id)
    merged = dim.merge(pd.DataFrame({"org_id": organisations.org_id, "final_manager": final_manager}), on="org_id")
    assert (merged.account_manager_id == merged.final_manager).all()


def test_employee_of_links_people_to_their_true_employer(built_world, truth, relationships):
    persons, record_map, _ = truth
    org_of_party = _query(built_world, "select id_value as org_id, party_id from integration.party_identifiers "
                                       "where id_type = 'org_id'").set_index("party_id").org_id
    employees = relationships[relationships.relationship_type == "employee_of"].dropna(subset=["from_person"]).copy()
    employees["org_id"] = employees.to_party_id.map(org_of_party)
    employees["true_org_id"] = employees.from_person.map(persons.employer_org_id)
    precision = (employees.org_id == employees.true_org_id).mean()
    assert len(employees) > 50
    assert precision >= 0.99, precision
    # every sales contact is found working for its organisation
    contacts = record_map[(record_map.source == "sales") & (record_map.entity == "contacts")].person_id.unique()
    found = set(zip(employees.from_person, employees.org_id))
    recall = sum((p, persons.employer_org_id[p]) in found for p in contacts) / len(contacts)
    assert recall >= 0.95, recall  # measured 1.000 on 131 contacts


def test_member_of_matches_the_true_scheme_memberships(built_world, truth, relationships):
    persons, record_map, _ = truth
    groups = _query(built_world, "select membership_group_id, scheme_code from marts.dim_membership_group")
    members = relationships[relationships.relationship_type == "member_of"].dropna(subset=["from_person"]).copy()
    members["scheme_code"] = members.to_party_id.map(groups.set_index("membership_group_id").scheme_code)
    precision = (members.scheme_code == members.from_person.map(persons.scheme_code)).mean()
    true_members = persons[persons.scheme_code.notna() & persons.index.isin(record_map.person_id)]
    found = set(zip(members.from_person, members.scheme_code))
    recall = sum((p, s) in found for p, s in true_members.scheme_code.items()) / len(true_members)
    assert len(true_members) > 10
    assert precision >= 0.99 and recall >= 0.98, (precision, recall)
    assert _measures(built_world)["membership_groups"] == len(groups) > 0


@pytest.mark.parametrize("relationship_type", ["pays_bills_for", "referred_by"])
def test_bill_payers_and_referrers_live_with_the_person(built_world, truth, relationships, relationship_type):
    """In the sample world the household head pays for and refers the others: both ends share a true household."""
    persons, _, _ = truth
    links = relationships[relationships.relationship_type == relationship_type].dropna(subset=["from_person", "to_person"])
    same_household = (links.from_person.map(persons.household_id) == links.to_person.map(persons.household_id)).mean()
    distinct_people = (links.from_person != links.to_person).mean()
    assert len(links) > 10
    assert same_household >= 0.99 and distinct_people >= 0.99, (same_household, distinct_people)


def test_customer_counts_are_close_to_the_truth(built_world, truth):
    persons, record_map, _ = truth
    measures = _measures(built_world)
    true_people = record_map.person_id.nunique()
    true_customers = int(persons.is_customer.sum())
    gone = persons.attrited_on.notna() & persons.won_back_on.isna()
    true_former = int((persons.is_customer & gone).sum())
    assert abs(measures["people"] - true_people) / true_people <= 0.01, (measures["people"], true_people)
    assert abs(measures["customers"] - true_customers) / true_customers <= 0.01, (measures["customers"], true_customers)
    assert abs(measures["current_customers"] - (true_customers - true_former)) / true_customers <= 0.01
    assert abs(measures["former_customers"] - true_former) <= max(2, 0.02 * true_former), (measures["former_customers"], true_former)


def test_customer_counts_reconcile_with_dim_customer(built_world):
    measures = _measures(built_world)
    status = _query(built_world, "select party_type, customer_status, count(*) as n from marts.dim_customer group by all")
    by_status = status[status.party_type == "individual"].set_index("customer_status").n
    assert measures["people"] == by_status.sum() == measures["customers"] + measures["prospects"]
    assert measures["customers"] == measures["active_customers"] + measures["lapsed_customers"] + measures["former_customers"]
    assert (measures["active_customers"], measures["lapsed_customers"], measures["former_customers"]) == (
        by_status.get("active", 0), by_status.get("inactive", 0), by_status.get("closed", 0))
    assert measures["contact_only"] == status[status.customer_status == "contact"].n.sum()
    customers = _query(built_world, "select count(*) as n from marts.dim_customer where is_customer")
    assert measures["customers"] == customers.n.iloc[0]


def test_every_party_is_in_the_party_model_once(built_world):
    kinds = _query(built_world, "select party_type, count(*) as n from integration.int_parties group by 1")
    assert set(kinds.party_type) == {"individual", "organisation", "unidentified", "household", "membership_group", "staff"}
    unresolved = _query(built_world, "select count(*) as n from marts.fct_party_relationships "
                                     "where from_party_type is null or to_party_type is null")
    assert unresolved.n.iloc[0] == 0
    in_dim_customer = _query(built_world, "select count(*) as n from marts.dim_customer")
    resolved = kinds[kinds.party_type.isin(["individual", "organisation", "unidentified"])].n.sum()
    assert resolved == in_dim_customer.n.iloc[0]
