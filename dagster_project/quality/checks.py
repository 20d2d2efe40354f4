"""Reconciliation and freshness as Dagster asset checks, generated from the source registry.

* ``reconciliation`` (ERROR, blocking) on each entity's accepted staging view
  ``staging/stg_<source>__<entity>``: when rows went missing, nothing downstream of that view
  (identity, marts, serving copies) is built from it in this run.
* ``freshness`` (WARN) on the first raw asset of each source: a late source is reported,
  it stops nothing.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.quality.freshness import freshness
from dagster_project.quality.reconciliation import reconcile
from dagster_project.sources import ENTITIES, SOURCES

RECONCILIATION = "reconciliation"
FRESHNESS = "freshness"


def staging_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", f"stg_{table}"])


def _reconciliation_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            RECONCILIATION, asset=staging_key(e.table), blocking=True,
            description="Per batch: landed lines = raw rows + rejects, and raw rows = accepted + quarantined.",
            additional_deps=[dg.AssetKey(["raw", e.table]), staging_key(f"{e.table}_checked"),
                             dg.AssetKey(["staging", "stg_quarantine"])],
        )
        for e in ENTITIES
    ]


@dg.multi_asset_check(specs=_reconciliation_specs(), can_subset=True, name="reconciliation_checks",
                      description="Row reconciliation of every source entity, per load batch.")
def reconciliation_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    selected = context.selected_asset_check_keys
    entities = [e for e in ENTITIES if dg.AssetCheckKey(staging_key(e.table), RECONCILIATION) in selected]
    with duckdb.get_connection() as con:
        results = reconcile(con, entities)
    for e, rec in zip(entities, results):
        yield dg.AssetCheckResult(
            asset_key=staging_key(e.table), check_name=RECONCILIATION, passed=rec.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if rec.passed else "; ".join(rec.problems[:5]),
            metadata={"landed_lines": rec.landed, "raw_rows": rec.raw, "rejects": rec.rejects,
                      "accepted": rec.accepted, "quarantined": rec.quarantined,
                      "broken_batches": len(rec.problems)},
        )


def freshness_key(source) -> dg.AssetKey:
    return dg.AssetKey(["raw", source.entities[0].table])


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(FRESHNESS, asset=freshness_key(s),
                             description=f"{s.system}: latest delivery within the registry cadence.",
                             additional_deps=[dg.AssetKey(["raw", e.table]) for e in s.entities[1:]])
           for s in SOURCES],
    can_subset=True, name="freshness_checks",
    description="Is each source's newest delivery older than its cadence allows? (warning only)")
def freshness_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    selected = context.selected_asset_check_keys
    sources = [s for s in SOURCES if dg.AssetCheckKey(freshness_key(s), FRESHNESS) in selected]
    with duckdb.get_connection() as con:
        results = freshness(con, sources)
    for source, fr in zip(sources, results):
        yield dg.AssetCheckResult(
            asset_key=freshness_key(source), check_name=FRESHNESS, passed=not fr.late,
            severity=dg.AssetCheckSeverity.WARN, description=fr.message(),
            metadata={
                "latest_delivery": str(fr.latest), "reference_date": str(fr.reference_date),
                "days_behind": fr.days_behind if fr.days_behind is not None else -1,
                "cadence_days": fr.cadence_days,
                "entities": dg.MetadataValue.md("\n".join(
                    f"- {e.entity}: latest {e.latest}, {e.days_behind} day(s) behind, cadence {e.cadence_days}"
                    for e in fr.entities)),
            },
        )


QUALITY_CHECKS = [reconciliation_checks, freshness_checks]
