"""Reconciliation and freshness: exact outcomes on hand-made warehouses, and the checks in the graph."""

from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.ingest.ledger import ensure_raw_schema
from dagster_project.quality.checks import FRESHNESS, RECONCILIATION, reconciliation_checks
from dagster_project.quality.freshness import freshness
from dagster_project.quality.reconciliation import reconcile_entity
from dagster_project.sources import ENTITIES, SOURCES, get_entity, get_source

VISITS = get_entity("branch", "visits")


def _ledger_row(con, source, entity, business_date, batch="b1", data_lines=0, status="loaded", sha=None):
    con.execute("insert into raw.file_ledger (file_sha256, source, entity, source_file, business_date, batch_id, "
                "status, data_lines, rows_loaded, rows_rejected) values (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                [sha or f"{source}{entity}{business_date}", source, entity, f"{source}/{entity}_{business_date}.csv",
                 business_date, batch, status, data_lines])


@pytest.fixture
def visits_warehouse(tmp_path):
    """branch.visits, batch b1: 4 landed lines = 3 raw rows + 1 reject; 3 raw = 2 accepted + 1 quarantined."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    ensure_raw_schema(con)
    _ledger_row(con, "branch", "visits", "2026-10-01", data_lines=4)
    con.execute("insert into raw.branch__visits (visit_id, _batch_id) values ('v1', 'b1'), ('v2', 'b1'), ('v3', 'b1')")
    con.execute("insert into raw.rejects (source, entity, batch_id, line_number, reason) "
                "values ('branch', 'visits', 'b1', 5, 'unparseable line')")
    con.execute("create schema staging")
    con.execute("create table staging.stg_branch__visits_checked as select visit_id, _batch_id, "
                "case when visit_id = 'v3' then 'INVALID_DATE' end as _quarantine_reasons from raw.branch__visits")
    con.execute("create view staging.stg_branch__visits as select visit_id, _batch_id "
                "from staging.stg_branch__visits_checked where _quarantine_reasons is null")
    con.execute("create table staging.stg_quarantine as select 'branch' as source_system, 'visits' as source_entity, "
                "_batch_id as batch_id, _quarantine_reasons as reason_codes "
                "from staging.stg_branch__visits_checked where _quarantine_reasons is not null")
    yield path, con
    con.close()


def test_reconciliation_passes_when_every_line_is_accounted_for(visits_warehouse):
    _, con = visits_warehouse
    rec = reconcile_entity(con, VISITS)
    assert (rec.landed, rec.raw, rec.rejects, rec.accepted, rec.quarantined) == (4, 3, 1, 2, 1)
    assert rec.passed and rec.problems == []


def test_reconciliation_fails_when_a_quarantined_row_is_lost(visits_warehouse):
    _, con = visits_warehouse
    con.execute("delete from staging.stg_quarantine")
    rec = reconcile_entity(con, VISITS)
    assert not rec.passed
    assert rec.problems == ["branch.visits batch b1: 3 raw rows but 2 accepted + 0 quarantined"]


def test_reconciliation_fails_when_a_raw_row_is_lost_in_one_batch(visits_warehouse):
    """A loss in one batch is not hidden by another batch: counts are compared per batch."""
    _, con = visits_warehouse
    con.execute("update raw.branch__visits set _batch_id = 'b2' where visit_id = 'v1'")
    rec = reconcile_entity(con, VISITS)
    assert "branch.visits batch b1: 4 landed lines but 2 raw rows + 1 rejects" in rec.problems
    assert "branch.visits batch b2: 0 landed lines but 1 raw rows + 0 rejects" in rec.problems


def test_reconciliation_reports_tables_not_built(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_schema(con)
    rec = reconcile_entity(con, VISITS)
    assert rec.problems == ["branch.visits: not built yet: staging.stg_branch__visits, staging.stg_quarantine"]


def _evaluate_reconciliation(path, entity):
    key = dg.AssetCheckKey(dg.AssetKey(["staging", f"stg_{entity.table}"]), RECONCILIATION)
    context = dg.build_asset_check_context(resources={"duckdb": DuckDBResource(database=str(path))})
    results = list(reconciliation_checks(context=context))
    return next(r for r in results if r.asset_key == key.asset_key)


def test_the_dagster_check_fails_and_names_the_entity(visits_warehouse):
    path, con = visits_warehouse
    con.execute("delete from staging.stg_quarantine")
    con.close()
    result = _evaluate_reconciliation(path, VISITS)
    assert result.passed is False
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert "branch.visits batch b1: 3 raw rows but 2 accepted + 0 quarantined" in result.description
    assert result.metadata["quarantined"].value == 0 and result.metadata["raw_rows"].value == 3


def test_freshness_on_a_hand_made_ledger(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_schema(con)
    _ledger_row(con, "branch", "visits", "2026-10-31")   # the newest delivery of any source: the reference
    _ledger_row(con, "web", "sessions", "2026-10-30")    # one day behind, cadence 1: on time
    _ledger_row(con, "email", "events", "2026-10-20")    # eleven days behind: late
    _ledger_row(con, "marketing", "campaigns", "2026-09-01")
    _ledger_row(con, "marketing", "leads", "2026-10-31")  # the source delivers daily through leads
    _ledger_row(con, "callcentre", "calls", "2026-11-30", status="unreadable")  # not a delivery
    by_source = {f.source: f for f in freshness(con, list(SOURCES))}
    assert by_source["branch"].reference_date == date(2026, 10, 31)
    assert (by_source["web"].days_behind, by_source["web"].late) == (1, False)
    assert (by_source["email"].days_behind, by_source["email"].late) == (11, True)
    assert by_source["email"].message() == ("email: LATE: latest delivery 2026-10-20, 11 day(s) behind the newest "
                                            "delivery of any source (2026-10-31); cadence 1 day(s)")
    assert by_source["marketing"].late is False
    campaigns = next(e for e in by_source["marketing"].entities if e.entity == "campaigns")
    assert (campaigns.days_behind, campaigns.cadence_days) == (60, 30)
    assert by_source["callcentre"].latest is None and by_source["callcentre"].late
    assert by_source["sales"].cadence_days == min(e.cadence_days for e in get_source("sales").entities)


def test_freshness_on_an_empty_ledger_raises_nothing(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert [f.late for f in freshness(con, list(SOURCES))] == [False] * len(SOURCES)


def test_checks_are_in_the_graph_blocking_and_warning():
    from dagster_project.definitions import build_defs

    graph = build_defs().resolve_asset_graph()
    specs = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    for entity in ENTITIES:
        assert specs[(f"staging/stg_{entity.table}", RECONCILIATION)].blocking
    for source in SOURCES:
        assert not specs[(f"raw/{source.entities[0].table}", FRESHNESS)].blocking


def test_checks_pass_on_the_built_world(built_world):
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e
                   for e in built_world.first_run.get_asset_check_evaluations()}
    for entity in ENTITIES:
        evaluation = evaluations[(f"staging/stg_{entity.table}", RECONCILIATION)]
        assert evaluation.passed, evaluation.description
        metadata = evaluation.metadata
        assert metadata["landed_lines"].value == metadata["raw_rows"].value + metadata["rejects"].value
        assert metadata["raw_rows"].value == metadata["accepted"].value + metadata["quarantined"].value > 0
    for source in SOURCES:
        assert (f"raw/{source.entities[0].table}", FRESHNESS) in evaluations


def test_windowed_dbt_tests_recorded_their_passes_in_the_pipeline_run(built_world):
    """The built world's runs went through Dagster's dbt steps: each windowed uniqueness test that passed
    recorded the newest write time of its table (on-run-end hook), the window its next run starts from."""
    facts = {"fct_interactions": "interaction_id", "fct_transactions": "transaction_id", "fct_service_cases": "case_id"}
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        recorded = dict(con.execute("select test_key, passed_through from main.dbt_test_watermarks").fetchall())
        newest = {f"marts.{fact}.{key}": con.execute(f"select max(refreshed_at) from marts.{fact}").fetchall()[0][0]
                  for fact, key in facts.items()}
        newest["staging.stg_mobile__events.event_id"] = con.execute(
            "select max(_loaded_at) from staging.stg_mobile__events").fetchall()[0][0]
        # the facts' relationships: the same window, and the parent's keys kept for the next run (the
        # seed ones too: they run in the marts step since it selects models instead of excluding seeds)
        relationships = {"fct_interactions": ["party_id", "channel", "department"],
                         "fct_transactions": ["party_id", "product_code"], "fct_service_cases": ["party_id"]}
        for fact, columns in relationships.items():
            for column in columns:
                newest[f"marts.{fact}.{column}.relationships"] = newest[f"marts.{fact}.{facts[fact]}"]
        kept_departments = {r[0] for r in con.execute(
            "select parent_key from main.dbt_test_kept__marts__fct_interactions__department__relationships").fetchall()}
        departments = {r[0] for r in con.execute("select department_code from reference.departments").fetchall()}
        kept_parties = con.execute("select count(*), count(*) filter (where parent_key not in "
                                   "(select party_id from marts.dim_customer)) "
                                   "from main.dbt_test_kept__marts__fct_interactions__party_id__relationships").fetchall()
        customers = con.execute("select count(*) from marts.dim_customer").fetchall()[0][0]
    assert all(value is not None for value in newest.values())
    assert {key: recorded.get(key) for key in newest} == newest
    assert len(recorded) == 23  # 14 staging keys, the 3 facts' keys and their 6 relationships
    assert kept_parties == [(customers, 0)]
    assert kept_departments == departments and departments
