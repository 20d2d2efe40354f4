"""Dagster ingest assets: one multi-asset per registry source, one asset per entity.

Generated from the registry, so a new source or entity needs no new loader code.
"""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.ingest.discovery import discover, relpath
from dagster_project.ingest.ledger import ensure_raw_schema, raw_table
from dagster_project.ingest.loader import EntityLoadResult, IngestError, ingest_entity, record_unmatched
from dagster_project.settings import get_settings
from dagster_project.sources import SOURCES, Source

DUCKDB_POOL = "duckdb_warehouse"  # one writer at a time on the warehouse file


def asset_key(source: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", f"{source}__{entity}"])


def _metadata(result: EntityLoadResult, total_rows: int, unknown: list[str]) -> dict:
    md = {
        "files_loaded": dg.MetadataValue.int(result.files_loaded),
        "files_skipped": dg.MetadataValue.int(result.files_skipped),
        "files_not_loaded": dg.MetadataValue.int(len(result.files_not_loaded)),
        "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
        "rows_rejected": dg.MetadataValue.int(result.rows_rejected),
        "rows_suppressed": dg.MetadataValue.int(result.rows_suppressed),  # erased people's lines (raw.suppressions)
        "dagster/row_count": dg.MetadataValue.int(total_rows),
        "batch_id": dg.MetadataValue.text(result.batch_id),
        "unknown_files_in_source": dg.MetadataValue.int(len(unknown)),
    }
    if result.skipped:
        md["skipped"] = dg.MetadataValue.md("\n".join(
            f"- `{name}`: content already loaded (same sha256)" for name in result.skipped[:50]))
    drift = [f for f in result.files if f.missing_columns or f.extra_columns]
    if drift:
        md["schema_drift"] = dg.MetadataValue.md("\n".join(
            f"- `{f.source_file}`: missing {', '.join(f.missing_columns) or 'none'}; "
            f"extra {', '.join(f.extra_columns) or 'none'}" for f in drift[:50]))
    if result.files_not_loaded:
        md["not_loaded"] = dg.MetadataValue.md(
            "\n".join(f"- `{f.source_file}`: {f.status}: {f.reason}" for f in result.files_not_loaded))
    return md


def _build_source_asset(source: Source) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            asset_key(source.name, e.name),
            description=f"{source.system}: {e.description} Raw rows as delivered (text) with lineage.",
            group_name="raw",
            kinds={"duckdb"},
            metadata={"file_format": e.format, "source_system": source.system},
        )
        for e in source.entities
    ]

    @dg.multi_asset(name=f"ingest_{source.name}", specs=specs, can_subset=True, pool=DUCKDB_POOL,
                    description=f"Load new landing files of {source.system} into raw.")
    def _ingest(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        settings = get_settings()
        landing = settings.landing_dir
        found = discover(landing)
        unknown = [relpath(p, landing) for p in found.unknown_for_source(source.name, landing)]
        if unknown:
            context.log.warning(f"{len(unknown)} file(s) under {source.name}/ match no entity and were "
                                f"not loaded: {', '.join(unknown[:20])}")
        if duckdb.database != ":memory:":
            Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
        failures: list[str] = []
        with duckdb.get_connection() as con:
            ensure_raw_schema(con)
            for message in record_unmatched(con, found, landing):  # every source run may see them first
                context.log.warning(message)
            for e in source.entities:
                key = asset_key(source.name, e.name)
                if key not in context.selected_asset_keys:
                    continue
                try:
                    result = ingest_entity(con, e, landing, batch_id=context.run.run_id,
                                           files=found.for_entity(e))
                except IngestError as exc:
                    failures.append(str(exc))
                    continue
                total = con.execute(f"SELECT count(*) FROM {raw_table(e)}").fetchone()[0]
                context.log.info(f"{e.table}: {result.files_loaded} file(s) loaded, "
                                 f"{result.files_skipped} skipped, {result.rows_loaded} rows, "
                                 f"{result.rows_rejected} rejected"
                                 + (f", {result.rows_suppressed} suppressed (erased people)" if result.rows_suppressed else ""))
                yield dg.MaterializeResult(asset_key=key, metadata=_metadata(result, total, unknown))
        if failures:
            raise IngestError("; ".join(failures))

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    """One multi-asset per registry source; needs the resource key ``duckdb`` (DuckDBResource)."""
    return [_build_source_asset(s) for s in SOURCES]
