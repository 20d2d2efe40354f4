"""The whole pipeline on a generated world, checked against the world's ground truth."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dagster_project.settings import DBT_PROJECT_DIR, get_settings
from dagster_project.sources import ENTITIES
from tests.conftest import run_job

pytestmark = pytest.mark.e2e

DBT_TARGET = DBT_PROJECT_DIR / "target"
MARTS = ["dim_customer", "fct_interactions", "fct_transactions", "fct_service_cases", "customer_360"]
# Touchpoints delivered as versions (a row per change) appear once per business key in the marts.
VERSIONED_TOUCHPOINTS = {("sales", "opportunities"): "opportunity_id", ("service", "cases"): "case_id"}
INTERACTION_ENTITIES = [
    ("branch", "visits"), ("branch", "teller_transactions"), ("web", "sessions"), ("web", "orders"),
    ("mobile", "events"), ("callcentre", "calls"), ("email", "events"), ("marketing", "leads"),
    ("sales", "opportunities"), ("sales", "proposals"), ("service", "cases"), ("credit", "limit_changes"),
    ("collections", "events"),
]


def _dbt_target_entries() -> list[str]:
    """dbt's target folder, without the runs folders of test workers (each writes its own)."""
    return sorted(p.name for p in DBT_TARGET.iterdir() if not p.name.startswith(("runs", ".")))


def _query(world, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(world.warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _scalar(world, sql: str):
    with duckdb.connect(str(world.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def _expected(world) -> pd.DataFrame:
    return pd.read_parquet(world.truth / "expected_counts.parquet").set_index(["source", "entity"])


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.table)
def test_every_landed_line_is_accounted_for(built_world, entity):
    """landed = raw + rejects, and raw = accepted + quarantined, matching the truth exactly."""
    truth = _expected(built_world).loc[(entity.source, entity.name)]
    raw = _scalar(built_world, f"select count(*) from raw.{entity.table}")
    rejects = _scalar(built_world, f"select count(*) from raw.rejects where source = '{entity.source}' and entity = '{entity.name}'")
    accepted = _scalar(built_world, f"select count(*) from staging.stg_{entity.table}")
    quarantined = _scalar(built_world, "select count(*) from staging.stg_quarantine "
                                       f"where source_system = '{entity.source}' and source_entity = '{entity.name}'")
    assert raw + rejects == truth.delivered_rows
    assert rejects == truth.expected_rejected
    assert raw == accepted + quarantined
    assert quarantined == truth.expected_quarantined
    assert accepted == truth.expected_accepted


def test_ledger_reconciles_with_raw(built_world):
    ledger = _query(built_world, "select source, entity, sum(rows_loaded) as loaded, sum(rows_rejected) as rejected "
                                 "from raw.file_ledger group by all")
    for row in ledger.itertuples():
        raw = _scalar(built_world, f"select count(*) from raw.{row.source}__{row.entity}")
        rejects = _scalar(built_world, "select count(*) from raw.rejects "
                                       f"where source = '{row.source}' and entity = '{row.entity}'")
        assert (row.loaded, row.rejected) == (raw, rejects), f"{row.source}.{row.entity}"


def test_quarantine_reasons_match_the_injected_bad_rows(built_world):
    bad = pd.read_parquet(built_world.truth / "bad_rows.parquet")
    expected = bad[bad.expected == "quarantined"].groupby("reason").size().to_dict()
    actual = _query(built_world, "select reason_codes, count(*) as n from staging.stg_quarantine group by 1")
    assert dict(zip(actual.reason_codes, actual.n)) == expected


@pytest.mark.parametrize("source,entity", INTERACTION_ENTITIES, ids=lambda x: str(x))
def test_interactions_per_source_equal_the_truth(built_world, source, entity):
    in_mart = _scalar(built_world, "select count(*) from marts.fct_interactions "
                                   f"where source_system = '{source}' and source_entity = '{entity}'")
    key = VERSIONED_TOUCHPOINTS.get((source, entity))
    if key:
        # one per business key: the accepted versions' distinct keys
        expected = _scalar(built_world, f"select count(distinct {key}) from staging.stg_{source}__{entity}")
    else:
        expected = int(_expected(built_world).loc[(source, entity)].expected_accepted)
    assert in_mart == expected
    assert expected > 0


def test_interactions_per_channel_cover_every_channel(built_world):
    channels = set(_query(built_world, "select distinct channel from marts.fct_interactions").channel)
    assert {"branch", "web", "mobile", "call_centre", "email"} <= channels
    unresolved = _scalar(built_world, "select avg(case when party_id is null then 1.0 else 0 end) from marts.fct_interactions")
    assert unresolved < 0.01  # touchpoints whose identifier matches no party at all


def test_customer_count_within_tolerance_of_truth(built_world):
    """Customers: the people who ever held a product, after identity resolution (2%)."""
    persons = pd.read_parquet(built_world.truth / "persons.parquet")
    true_customers = int(persons.is_customer.sum())
    found = _scalar(built_world, "select count(*) from marts.dim_customer where is_customer")
    assert abs(found - true_customers) / true_customers <= 0.02, (found, true_customers)


@pytest.mark.parametrize("mart", MARTS)
def test_marts_exist_with_rows(built_world, mart):
    assert _scalar(built_world, f"select count(*) from marts.{mart}") > 0


def test_customer_360_has_one_row_per_customer_and_revenue_reconciles(built_world):
    dupes = _scalar(built_world, "select count(*) - count(distinct party_id) from marts.customer_360")
    assert dupes == 0
    revenue_360 = _scalar(built_world, "select sum(revenue_to_date) from marts.customer_360")
    revenue_facts = _scalar(built_world, "select sum(amount) from marts.fct_transactions f "
                                         "join marts.customer_360 c using (party_id) where counts_as_revenue")
    assert revenue_360 == revenue_facts


def test_every_asset_reports_its_row_count(built_world):
    materializations = built_world.first_run.get_asset_materialization_events()
    keys = {e.asset_key.to_user_string() for e in materializations}
    assert {"raw/branch__customers", "staging/stg_branch__customers", "integration/party_xref", "marts/customer_360"} <= keys
    for event in materializations:
        metadata = event.step_materialization_data.materialization.metadata
        assert "dagster/row_count" in metadata, event.asset_key
    counts = {e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata["dagster/row_count"].value
              for e in materializations}
    assert counts["marts/dim_customer"] == _scalar(built_world, "select count(*) from marts.dim_customer")


def test_summary_reports_the_warehouse(built_world):
    from dagster_project.summary import warehouse_summary

    text = warehouse_summary(built_world.warehouse)
    customers = _scalar(built_world, "select count(*) from marts.dim_customer where is_customer")
    assert f"Customers (ever held a product): {customers:,}" in text
    branch_files = _scalar(built_world, "select count(*) from raw.file_ledger where source = 'branch'")
    assert any(line.split()[:2] == ["branch", str(branch_files)] for line in text.splitlines())


def test_warehouse_opens_in_older_duckdb_clients(built_world):
    """Written in the 1.4 storage format, so the PyPI DuckDB shell and BI drivers can open it."""
    version = _scalar(built_world, "select tags['storage_version'] from duckdb_databases() where database_name = 'warehouse'")
    assert version == "v1.4.0+"


def _table_fingerprints(world) -> dict[str, tuple]:
    tables = _query(world, "select table_schema, table_name from information_schema.tables "
                           "where table_schema in ('staging', 'integration', 'marts', 'analytics') and table_type = 'BASE TABLE'")
    out = {}
    for t in tables.itertuples():
        out[f"{t.table_schema}.{t.table_name}"] = tuple(_query(
            world, f"select count(*) as n, coalesce(sum(hash(t)), 0) as h from {t.table_schema}.{t.table_name} as t").iloc[0])
    return out


def test_dbt_writes_no_log_file_of_its_own(built_world):
    # DBT_ENV_DEFAULTS: dbt's events reach the step's captured stdout; the first run's folders are this session's
    runs = built_world.root / "dbt_runs"
    assert {p.parent.name for p in runs.glob("*/run_results.json")} == {"dbt_staging", "dbt_marts", "dbt_analytics_marts"}
    assert not list(runs.glob("*/dbt.log*"))


def test_second_run_changes_nothing(built_world):
    before = _table_fingerprints(built_world)
    ledger_before = _scalar(built_world, "select count(*) from raw.file_ledger")
    raw_before = {e.table: _scalar(built_world, f"select count(*) from raw.{e.table}") for e in ENTITIES}
    target_before = _dbt_target_entries()
    result = run_job()
    assert result.success
    # no per-run dbt folders: one folder per dbt step, reused by every run
    assert _dbt_target_entries() == target_before
    assert {p.name for p in get_settings().dbt_runs_dir.iterdir()} <= {"dbt_staging", "dbt_marts", "dbt_analytics_marts"}
    assert _scalar(built_world, "select count(*) from raw.file_ledger") == ledger_before
    assert {e.table: _scalar(built_world, f"select count(*) from raw.{e.table}") for e in ENTITIES} == raw_before
    assert _table_fingerprints(built_world) == before
    assert any(name.startswith("analytics.") for name in before)
