"""Segments on the session's 10,000-person world, against the world's truth.

Measured on this world (seed 7, 2025-11-01..2026-10-31, as of 2026-10-31), lifecycle stage
against the stage the true events imply under the same rules (precision / recall):
prospect 0.994 / 0.990, lost_prospect 0.985 / 1.000, attrited 1.000 / 0.995, won_back
1.000 / 0.987, new 1.000 / 0.996, active 1.000 / 0.797, at_risk 0.218 / 0.994, lapsed
0.453 / 0.994; 0.898 of parties agree. at_risk and lapsed are found (recall 0.99) but also
hold living customers who buy rarely: the truly-alive customers called lapsed buy once every
202 days (median true rate), so their silence is real dormancy the truth still calls alive. The
thresholds leave room for identity errors (a split person is scored twice) and nothing more.
RFM: truly dropped out or left — Champions 0.029, Can't lose them 0.563, At risk 0.443, Lost
0.436; true purchases in the period (mean) Champions 20.4, Loyal 10.9, Need attention 4.1,
Lost 1.8 (benchmarks/results/segments_10000_*.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from dagster_project.analytics.membership import held_on, write_membership
from dagster_project.dbt_assets import dbt_executable
from dagster_project.sample_world.lifecycle_scoring import person_of_party_sql, score_lifecycle
from dagster_project.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.e2e

# stage: (min precision, min recall), each a little under the measured figure
LIFECYCLE_FLOORS = {
    "prospect": (0.98, 0.98), "lost_prospect": (0.97, 0.99), "attrited": (0.99, 0.98), "won_back": (0.95, 0.95),
    "new": (0.99, 0.98), "active": (0.99, 0.77), "at_risk": (0.19, 0.97), "lapsed": (0.42, 0.97),
}


def _query(path, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or {}).df()


def _scalar(path, sql: str):
    return _query(path, sql).iloc[0, 0]


@pytest.fixture(scope="module")
def agreement(built_world):
    result = score_lifecycle(built_world.warehouse, built_world.truth)
    print("\n" + result.markdown())
    return result


def test_one_row_per_individual_with_every_segment_filled(built_world):
    w = built_world.warehouse
    assert _scalar(w, "select count(*) from analytics.customer_segments") == _scalar(
        w, "select count(*) from marts.dim_customer where party_type = 'individual'")
    assert _scalar(w, "select count(*) from analytics.customer_segments where lifecycle_stage is null or age_group is null") == 0
    # RFM exactly for individuals with revenue; affinity exactly for those who ever held a product
    assert _scalar(w, "select count(*) from analytics.customer_segments where rfm_segment is not null") == _scalar(
        w, "select count(distinct t.party_id) from marts.fct_transactions as t join marts.dim_customer as c "
           "using (party_id) where t.counts_as_revenue and c.party_type = 'individual'")
    assert _scalar(w, "select count(*) from analytics.customer_segments where product_affinity_group is not null") == _scalar(
        w, "select count(*) from marts.dim_customer where party_type = 'individual' and is_customer")
    for score in ("rfm_recency_score", "rfm_frequency_score", "rfm_monetary_score"):
        sizes = _query(w, f"select {score}, count(*) as n from analytics.customer_segments where {score} is not null group by 1")
        assert sorted(sizes[score]) == [1, 2, 3, 4, 5]
        assert sizes.n.min() > 0.1 * sizes.n.sum()  # ranks with ties kept together: still roughly quintiles


def test_lifecycle_stages_agree_with_true_events(agreement):
    assert agreement.accuracy >= 0.88
    for stage, (precision, recall) in LIFECYCLE_FLOORS.items():
        score = agreement.stages[stage]
        assert score.precision >= precision, (stage, score)
        assert score.recall >= recall, (stage, score)


def test_living_customers_called_lapsed_are_the_rare_buyers(built_world):
    rates = _query(built_world.warehouse, f"""
        with person_of_party as ({person_of_party_sql(built_world.truth)})
        select s.lifecycle_stage, median(1 / p.lambda) as true_days_between_purchases
        from analytics.customer_segments as s
        join person_of_party as pp using (party_id)
        join read_parquet('{built_world.truth / "persons.parquet"}') as p on p.person_id = pp.person_id
        where p.became_customer_on is not null and p.lapsed_on is null and p.attrited_on is null
        group by 1
    """).set_index("lifecycle_stage").true_days_between_purchases
    assert rates["active"] < 45 < 150 < rates["lapsed"]  # measured 33 and 202 days
    assert rates["active"] < rates["at_risk"] < rates["lapsed"]


def test_rfm_segments_rank_true_behaviour(built_world):
    by_segment = _query(built_world.warehouse, f"""
        with person_of_party as ({person_of_party_sql(built_world.truth)})
        select s.rfm_segment, avg(p.purchases_in_period) as purchases,
            avg(case when p.lapsed_on is not null or p.attrited_on is not null then 1.0 else 0 end) as gone
        from analytics.customer_segments as s
        join person_of_party as pp using (party_id)
        join read_parquet('{built_world.truth / "persons.parquet"}') as p on p.person_id = pp.person_id
        where s.rfm_segment is not null
        group by 1
    """).set_index("rfm_segment")
    purchases, gone = by_segment.purchases, by_segment.gone
    assert purchases["Champions"] > purchases["Loyal"] > purchases["Need attention"] > purchases["Lost"]
    assert gone["Champions"] < 0.06 and gone["Loyal"] < 0.1
    for segment in ("Can't lose them", "At risk", "Lost"):
        assert gone[segment] > 0.35, segment


def test_next_best_product_respects_holdings_and_credit_rules(built_world):
    w = built_world.warehouse
    assert _scalar(w, """
        select count(*) from analytics.customer_segments as s
        join integration.int_holdings_current as h
            on h.party_id = s.party_id and h.product_code = s.next_best_product and h.end_date is null""") == 0
    assert _scalar(w, """
        select count(*) from analytics.customer_segments as s
        join reference.products as p on p.product_code = s.next_best_product
        where p.is_credit and s.age_group in ('under_18', 'unknown')""") == 0
    assert _scalar(w, "select count(*) from analytics.customer_segments where next_best_product like 'BIZ%'") == 0


def test_key_accounts_cover_every_organisation_and_every_plan_of_the_year(built_world):
    w, truth = built_world.warehouse, built_world.truth
    assert _scalar(w, "select count(*) from analytics.key_accounts") == _scalar(w, "select count(*) from marts.dim_organisation")
    assert _scalar(w, "select count(*) from analytics.key_accounts where is_key_account") == 19  # measured
    planned = _query(w, "select org_id from analytics.key_accounts where target_value is not null").org_id
    true_key = pd.read_parquet(truth / "organisations.parquet").query("is_key_account").org_id
    assert set(planned) == set(true_key)  # the sales plans exist for the world's key accounts, each found
    assert _scalar(w, "select count(*) from analytics.key_accounts where target_value > 0 and attainment is null") == 0


def test_membership_is_idempotent_and_migration_counts_every_party(built_world, tmp_path):
    copy = tmp_path / "w.duckdb"
    shutil.copy(built_world.warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        as_of, held = con.execute("select as_of_date, memberships from analytics.segment_membership_runs "
                                  "order by 1 desc limit 1").fetchall()[0]
        tables = ("select * from analytics.segment_membership_changes order by all",
                  "select * from analytics.segment_membership_runs order by all")
        before = [con.execute(sql).fetchall() for sql in tables]
        held_now = set(con.execute(held_on(as_of)).fetchall())
        assert write_membership(con, as_of) == held == len(held_now)  # a re-run replaces the date's rows
        assert [con.execute(sql).fetchall() for sql in tables] == before
        # an earlier run where every Loyal customer was a Champion and one party was not yet known
        newcomer = min(party for party, _, _ in held_now)
        for table in ("customer_segments", "key_accounts", "customer_clv"):
            con.execute(f"delete from analytics.{table} where party_id = $newcomer", {"newcomer": newcomer})
        con.execute("update analytics.customer_segments set rfm_segment = 'Champions' where rfm_segment = 'Loyal'")
        earlier = as_of - timedelta(days=30)
        write_membership(con, earlier)
        assert set(con.execute(held_on(as_of)).fetchall()) == held_now  # the later date holds what it held
        loyal = sum(1 for party, kind, segment in held_now if (kind, segment) == ("rfm", "Loyal") and party != newcomer)
        newcomer_types = sum(1 for party, _, _ in held_now if party == newcomer)
        either_date = (f"select segment_type, count(distinct party_id) as n from ({held_on(earlier)} union all "
                       f"{held_on(as_of)}) as held group by 1")
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(copy)}
    run = subprocess.run([dbt_executable(), "build", "--select", "hist_segment_membership", "segment_migration",
                          "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                          "--target-path", str(tmp_path / "target")],
                         env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    assert run.returncode == 0, run.stdout[-3000:]
    matrix = _query(copy, "select * from marts.segment_migration")
    assert matrix.groupby("segment_type").parties.sum().to_dict() == _query(
        copy, either_date).set_index("segment_type").n.to_dict()
    rfm = matrix[matrix.segment_type == "rfm"].set_index(["from_segment", "to_segment"]).parties
    assert rfm[("Champions", "Loyal")] == loyal
    assert ("Loyal", "Loyal") not in rfm.index
    assert matrix[matrix.from_segment == "(absent)"].parties.sum() == newcomer_types
