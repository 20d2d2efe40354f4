"""The metric views against numbers computed independently: the marts' own counts, the
landed call-centre files, and the sample world's ground truth."""

from __future__ import annotations

import csv
import json
from datetime import date

import duckdb
import pytest

pytestmark = pytest.mark.e2e

METRICS = {"customer_count", "active_customers", "attrition_rate", "retention_rate", "prospect_conversion_rate",
           "loss_vs_attrition", "first_contact_resolution", "complaints_per_1000_customers", "average_clv", "clv_to_cac"}


@pytest.fixture(scope="module")
def con(built_world):
    connection = duckdb.connect(str(built_world.warehouse), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def metrics(con) -> dict[str, dict]:
    result = con.execute("select * from metrics.metric_values")
    names = [d[0] for d in result.description]
    return {row[0]: dict(zip(names, row)) for row in result.fetchall()}


@pytest.fixture(scope="module")
def period(con) -> tuple[date, date]:
    return con.execute("select period_start, period_end from metrics.metric_period").fetchall()[0]


def test_every_metric_has_one_row_and_the_definition_written_in_its_yml(metrics):
    from dagster_project.dbt_assets import ensure_manifest

    nodes = json.loads(ensure_manifest().read_text(encoding="utf-8"))["nodes"]
    descriptions = {n["name"]: n["description"] for n in nodes.values() if n["resource_type"] == "model"}
    assert set(metrics) == METRICS
    for name, row in metrics.items():
        assert row["definition"] == " ".join(descriptions[f"metric_{name}"].split()), name
        assert "Period:" in row["definition"], name


def test_customer_counts_reconcile_with_customer_counts_mart(con, metrics):
    counts = dict(con.execute("select measure, value from marts.customer_counts").fetchall())
    assert metrics["customer_count"]["value"] == counts["current_customers"]
    assert metrics["active_customers"]["value"] == counts["active_customers"]
    assert metrics["complaints_per_1000_customers"]["denominator"] == counts["current_customers"]


def test_attrition_and_retention_match_the_truth(built_world, metrics, period):
    """Customers at the period start and those who left during it, from the people's own lifecycle."""
    start, end = period
    truth = duckdb.sql(f"""
        with cohort as (
            select * from '{built_world.truth}/persons.parquet'
            where became_customer_on <= date '{start}'
                and (attrited_on is null or attrited_on > date '{start}' or won_back_on <= date '{start}')
        )
        select count(*),
            count(case when attrited_on > date '{start}' and attrited_on <= date '{end}'
                        and (won_back_on is null or won_back_on < attrited_on) then 1 end)
        from cohort
    """).fetchall()[0]
    attrition, retention = metrics["attrition_rate"], metrics["retention_rate"]
    assert attrition["numerator"] + retention["numerator"] == attrition["denominator"] == retention["denominator"]
    cohort, attrited = truth
    assert attrition["denominator"] == pytest.approx(cohort, rel=0.01)
    assert attrition["numerator"] == pytest.approx(attrited, rel=0.05, abs=2)
    assert attrition["value"] == pytest.approx(attrited / cohort, abs=0.005)


def _landed_calls(built_world) -> dict[str, dict]:
    """Every call as delivered, first delivery per call_id, less the rows the generator made bad."""
    bad = set(duckdb.sql(f"select source_file, line_number from '{built_world.truth}/bad_rows.parquet' "
                         "where source = 'callcentre' and entity = 'calls'").fetchall())
    calls: dict[str, dict] = {}
    for path in sorted((built_world.landing / "callcentre").glob("calls_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="|"))
        for line, row in enumerate(rows[1:], start=2):
            if (f"callcentre/{path.name}", line) not in bad:
                record = dict(zip(rows[0], row))
                calls.setdefault(record["call_id"], record)
    return calls


def test_first_contact_resolution_equals_the_landed_calls(built_world, metrics, period):
    start, end = period
    in_period = [c for c in _landed_calls(built_world).values()
                 if start < date.fromisoformat(c["started_at"][:10]) <= end]
    resolved = sum(c["first_contact_resolved"] == "true" for c in in_period)
    fcr = metrics["first_contact_resolution"]
    assert (fcr["numerator"], fcr["denominator"]) == (resolved, len(in_period))
    assert fcr["value"] == pytest.approx(resolved / len(in_period))


def test_prospect_cohort_outcomes_add_up_and_agree_with_customer_status(con, metrics):
    outcomes = dict(con.execute("select outcome, count(*) from metrics.metric_prospect_cohort group by 1").fetchall())
    conversion, loss = metrics["prospect_conversion_rate"], metrics["loss_vs_attrition"]
    assert conversion["denominator"] == sum(outcomes.values())
    assert conversion["numerator"] == outcomes["converted"]
    assert loss["numerator"] == outcomes["lost"]
    assert loss["denominator"] == metrics["attrition_rate"]["numerator"]
    mismatched = con.execute("""
        select count(*) from metrics.metric_prospect_cohort as p
        join marts.dim_customer as c using (party_id)
        where (p.outcome = 'converted') <> c.is_customer
    """).fetchall()[0][0]
    assert mismatched == 0


def test_clv_metrics_match_the_analytics_tables(con, metrics):
    mean_net_clv, scored = con.execute("""
        select avg(cast(net_clv as double)), count(*) from analytics.customer_clv
        where as_of_date = (select max(as_of_date) from analytics.customer_clv)
    """).fetchall()[0]
    assert metrics["average_clv"]["denominator"] == scored
    assert metrics["average_clv"]["value"] == pytest.approx(mean_net_clv)
    spend = con.execute("select sum(acquisition_spend) from analytics.clv_by_acquisition where cac > 0").fetchall()[0][0]
    assert metrics["clv_to_cac"]["denominator"] == pytest.approx(float(spend))
