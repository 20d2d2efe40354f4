"""The identity asset: turns the dbt identity inputs into party ids."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER, resolve_parties

_INPUTS = [dg.AssetKey(["integration", "int_party_records"]), dg.AssetKey(["integration", "int_party_identifiers"])]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["integration", "party_xref"], deps=_INPUTS, group_name="integration", kinds={"python", "duckdb"},
                     description="Every party record and contact point → party_id, with the rule that linked it."),
        dg.AssetSpec(["integration", "party_identifiers"], deps=_INPUTS, group_name="integration", kinds={"python", "duckdb"},
                     description="Every linking identifier (type, normalised value) → its party_id."),
    ],
    name="party_identity",
)
def party_identity(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Deterministic identity: exact normalised email / phone / account-number links."""
    with duckdb.get_connection() as con:
        stats = resolve_parties(con)
        xref_rows = con.execute("select count(*) from integration.party_xref").fetchall()[0][0]
        id_rows = con.execute("select count(*) from integration.party_identifiers").fetchall()[0][0]
    context.log.info(f"identity: {stats.records} records → {stats.parties} parties {stats.parties_by_type}")
    yield dg.MaterializeResult(
        asset_key=["integration", "party_xref"],
        metadata={
            "dagster/row_count": dg.MetadataValue.int(xref_rows),
            "parties": dg.MetadataValue.int(stats.parties),
            "parties_by_type": dg.MetadataValue.json(stats.parties_by_type),
            "largest_party_records": dg.MetadataValue.int(stats.largest_party),
            "ignored_identifiers": dg.MetadataValue.int(stats.ignored_identifiers),
            "max_records_per_identifier": dg.MetadataValue.int(MAX_RECORDS_PER_IDENTIFIER),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["integration", "party_identifiers"],
        metadata={"dagster/row_count": dg.MetadataValue.int(id_rows)},
    )
