"""The serving assets: the analyst copy, the restricted copy and the Parquet export of the analyst copy.

They depend on every marts, analytics and metrics asset, so Dagster runs them only after those
steps succeeded in the same run: a failed dbt model or error-level dbt test fails the dbt step
(dbt_assets raises after dbt exits), and Dagster then skips the publish; the previous copies stay.
"""

from collections.abc import Iterable, Sequence

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.serving.classification import SERVING_SCHEMAS, load_classification
from dagster_project.serving.keyed_patch import keyed_tables
from dagster_project.serving.lookup_index import indexed_columns
from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.parquet_partitions import partitioned_tables
from dagster_project.serving.policy import load_policy
from dagster_project.serving.publish import PublishReport, publish_copy, slowest
from dagster_project.serving.run_shared import PerRun
from dagster_project.settings import DEFAULT_PSEUDONYM_SALT, Settings, get_settings

ANALYST_COPY = dg.AssetKey(["serving", "analyst_copy"])
RESTRICTED_COPY = dg.AssetKey(["serving", "restricted_copy"])
PARQUET_EXPORT = dg.AssetKey(["serving", "parquet_export"])
# what the first copy of a run computed that the second can reuse (run_shared.py)
_PER_RUN = PerRun()
COPY_PATHS = {"analyst": lambda s: s.serving_path, "restricted": lambda s: s.serving_restricted_path}


def serving_upstream(assets: Iterable[dg.AssetsDefinition | dg.AssetSpec]) -> list[dg.AssetKey]:
    """Every asset key in the schemas a serving copy holds."""
    keys = []
    for asset in assets:
        for key in ([asset.key] if isinstance(asset, dg.AssetSpec) else asset.keys):
            if key.path[0] in SERVING_SCHEMAS:
                keys.append(key)
    return sorted(set(keys), key=lambda k: k.to_user_string())


def _actions_markdown(report: PublishReport) -> str:
    lines = ["| column | action |", "|---|---|"]
    lines += [f"| {column} | {action} |" for column, action in sorted(report.actions.items())]
    return "\n".join(lines)


def _started_text(report: PublishReport) -> str:
    """What the copy's temporary file started from, for the log ("": an empty file)."""
    if report.started_from is None:
        return ""
    source = (f"this run's {report.seeded_from} copy" if report.seeded_from
              else "its spare" if report.started_from == "spare" else "a byte copy")
    return f"; started from {source} ({report.start_seconds} s)"


def _month_ordered(manifest_path) -> dict[tuple[str, str], str]:
    """The tables the Parquet export writes by month, stored in their date column's order."""
    return {tuple(name.split(".", 1)): column for name, column in partitioned_tables(manifest_path).items()}


def _publish(context: dg.AssetExecutionContext, duckdb: DuckDBResource, level: str) -> dg.MaterializeResult:
    settings: Settings = get_settings()
    if level == "analyst" and settings.pseudonym_salt == DEFAULT_PSEUDONYM_SALT:
        context.log.warning("Pseudonyms use the sample world's default salt; set CRM_CIF_PSEUDONYM_SALT for real data.")
    policy = load_policy()[level]
    from dagster_project.dbt_assets import dbt_project  # parsed at import, as for the classification

    with duckdb.get_connection() as con:
        report = publish_copy(con, COPY_PATHS[level](settings), policy, load_classification(),
                              settings.pseudonym_salt, shared=_PER_RUN.for_run(context.run_id),
                              keyed=keyed_tables(dbt_project.manifest_path),
                              order_by=_month_ordered(dbt_project.manifest_path), keep_spare=settings.serving_spare,
                              indexes=indexed_columns(dbt_project.manifest_path),
                              check_every=settings.serving_check_every)
    if report.unclassified_dropped:
        context.log.warning(f"Personal-looking columns nobody classified, left out of the {level} copy: "
                            f"{report.unclassified_dropped}. Classify them in dbt meta or "
                            "dagster_project/serving/analytics_classification.yml.")
    slowest_text = ", ".join(f"{table} {seconds} s" for table, seconds in report.slowest())
    seeded = _started_text(report)
    context.log.info(f"{level} copy: {len(report.tables)} tables ({len(report.rewritten)} rewritten, of which "
                     f"{len(report.patched)} patched: {len(report.patched_by_key)} by key from the rows written since, "
                     f"{len(report.patched_from_shared)} row by row with the other copy's comparison; {len(report.carried_over)} unchanged and carried over{seeded}), "
                     f"{report.bytes:,} bytes in {report.seconds} s; slowest: {slowest_text}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(sum(report.tables.values())),  # all tables together
        "path": dg.MetadataValue.path(str(report.path)),
        "tables": dg.MetadataValue.int(len(report.tables)),
        "rows": dg.MetadataValue.json(report.tables),
        "bytes": dg.MetadataValue.int(report.bytes),
        "seconds": dg.MetadataValue.float(report.seconds),
        "rewritten": dg.MetadataValue.json(report.rewritten),
        "carried_over": dg.MetadataValue.json(report.carried_over),
        "patched": dg.MetadataValue.json(report.patched),
        "patched_from_shared": dg.MetadataValue.json(report.patched_from_shared),
        "patched_by_key": dg.MetadataValue.json(report.patched_by_key),
        "seeded_from": dg.MetadataValue.text(report.seeded_from or ""),
        "started_from": dg.MetadataValue.text(report.started_from or "empty"),
        "start_seconds": dg.MetadataValue.float(report.start_seconds),
        "table_seconds": dg.MetadataValue.json(report.table_seconds),
        "indexed": dg.MetadataValue.json(report.indexed),
        "checked": dg.MetadataValue.json(report.checked),
        "repaired": dg.MetadataValue.json(report.repaired),
        "personal_columns": dg.MetadataValue.md(_actions_markdown(report)),
        "unclassified_dropped": dg.MetadataValue.json(report.unclassified_dropped),
    })


def build_serving_assets(upstream: Sequence[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The serving assets, downstream of ``upstream`` (see serving_upstream)."""

    @dg.asset(key=ANALYST_COPY, deps=list(upstream), group_name="serving", kinds={"duckdb"},
              description="data/serving.duckdb: marts, analytics and metrics with personal data pseudonymised per "
                          "access_policy.yml (level analyst); written to a temp file and swapped in atomically.")
    def analyst_copy(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        return _publish(context, duckdb, "analyst")

    @dg.asset(key=RESTRICTED_COPY, deps=list(upstream), group_name="serving", kinds={"duckdb"},
              description="data/serving_restricted.duckdb: the same tables with personal data kept (level "
                          "restricted), for roles that must see who the customer is.")
    def restricted_copy(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        return _publish(context, duckdb, "restricted")

    @dg.asset(key=PARQUET_EXPORT, deps=[ANALYST_COPY], group_name="serving", kinds={"parquet"},
              description="Every table of the analyst copy as <exports_dir>/parquet/<schema>/<table>.parquet "
                          "(a folder per month for tables whose dbt meta sets export_partition_by), "
                          "with manifest.json (rows, sha256).")
    def parquet_export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from dagster_project.dbt_assets import dbt_project

        settings = get_settings()
        seconds: dict[str, float] = {}
        manifest = export_parquet(settings.serving_path, settings.exports_dir / "parquet", seconds,
                                  partitioned_tables(dbt_project.manifest_path))
        slowest_tables = slowest(seconds, 12)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(t["rows"] for t in manifest["tables"])),
            "manifest": dg.MetadataValue.path(str(settings.exports_dir / "parquet" / "manifest.json")),
            "files": dg.MetadataValue.int(len(manifest["tables"])),
            "files_written": dg.MetadataValue.int(len(seconds)),
            "files_kept": dg.MetadataValue.int(len(manifest["tables"]) - len(seconds)),
            "table_seconds": dg.MetadataValue.json(dict(slowest_tables)),
            "rows": dg.MetadataValue.json({f"{t['schema']}.{t['table']}": t["rows"] for t in manifest["tables"]}),
        })

    return [analyst_copy, restricted_copy, parquet_export]
