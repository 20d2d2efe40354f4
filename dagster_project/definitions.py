"""Definitions: every asset, check, job, schedule, sensor and resource of crm-cif."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.analytics.audience_assets import AUDIENCE_ASSETS
from dagster_project.analytics.clv_assets import CLV_ASSETS
from dagster_project.analytics.segment_assets import SEGMENT_ASSETS
from dagster_project.dbt_assets import dbt_analytics_mart_assets, dbt_mart_assets, dbt_resource, dbt_staging_assets
from dagster_project.full_refresh import FULL_DATA_TESTS_TAG
from dagster_project.identity.assets import party_identity
from dagster_project.ingest.assets import build_ingest_assets
from dagster_project.ingest.sensors import build_landing_sensor
from dagster_project.quality.checks import QUALITY_CHECKS
from dagster_project.quality.gx_checks import build_gx_checks
from dagster_project.serving.assets import build_serving_assets, serving_upstream
from dagster_project.settings import get_settings
from dagster_project.warehouse import ensure_warehouse

ingest_assets = build_ingest_assets()
warehouse_assets = [*ingest_assets, dbt_staging_assets, party_identity, dbt_mart_assets,
                    *CLV_ASSETS, *SEGMENT_ASSETS, *AUDIENCE_ASSETS, dbt_analytics_mart_assets]
# Published copies for analysts and BI: after every marts/analytics/metrics asset of the run.
serving_assets = build_serving_assets(serving_upstream(warehouse_assets))
all_assets = [*warehouse_assets, *serving_assets]
# GX suites in expectations/: blocking ones stop everything downstream, the serving copies included.
gx_checks = build_gx_checks({k for a in all_assets for k in a.keys})

# DuckDB has one writer: every job runs its steps one after another in one process.
pipeline_job = dg.define_asset_job("crm_cif_pipeline", selection=dg.AssetSelection.all(),
                                   description="Everything: ingest new files, then staging, identity, marts and the serving copies.",
                                   executor_def=dg.in_process_executor)
ingest_job = dg.define_asset_job("ingest_new_files", selection=dg.AssetSelection.groups("raw"),
                                 description="Load newly landed files into raw.", executor_def=dg.in_process_executor)
downstream_job = dg.define_asset_job("build_warehouse", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("raw"),
                                     description="Rebuild staging, identity and marts from raw, and publish the serving copies.",
                                     executor_def=dg.in_process_executor)

FULL_DATA_TESTS_WEEKDAY = 6  # Sunday (Monday = 0)


@dg.schedule(name="daily_warehouse_build", job=downstream_job, cron_schedule="0 6 * * *",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every morning; on Sundays the windowed dbt tests check whole tables, not only the new rows."""
    when = context.scheduled_execution_time
    weekly = when is not None and when.weekday() == FULL_DATA_TESTS_WEEKDAY
    return dg.RunRequest(tags={FULL_DATA_TESTS_TAG: "true"} if weekly else {})


def build_defs() -> dg.Definitions:
    """Definitions bound to the paths in settings as they are now (tests point them elsewhere)."""
    settings = get_settings()
    ensure_warehouse(settings.warehouse_path)
    return dg.Definitions(
        assets=all_assets,
        asset_checks=[*gx_checks, *QUALITY_CHECKS],
        jobs=[pipeline_job, ingest_job, downstream_job],
        schedules=[daily_schedule],
        sensors=[build_landing_sensor(ingest_job, default_status=dg.DefaultSensorStatus.RUNNING)],
        resources={"duckdb": DuckDBResource(database=str(settings.warehouse_path),
                                            connection_config={"memory_limit": settings.duckdb_memory_limit}),
                   "dbt": dbt_resource()},
    )


defs = build_defs()
