"""The audience assets: one per audience, each a table ``analytics.audience_<name>`` and an export."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.analytics.audience_export import export_audience
from dagster_project.analytics.audiences import ACCOUNT_MANAGER, AUDIENCES, AudienceDefinition, build_audience
from dagster_project.settings import get_settings

_COMMON_DEPS = [
    dg.AssetKey(["marts", "fct_transactions"]),      # the as-of date
    dg.AssetKey(["marts", "dim_customer"]),          # names and contact values
    dg.AssetKey(["integration", "int_party_consent"]),
]
_DEPS = {
    "win_back": [dg.AssetKey(["analytics", "customer_segments"]), dg.AssetKey(["analytics", "customer_clv"])],
    "birthday_this_week": [dg.AssetKey(["analytics", "customer_segments"])],
    "cross_sell": [dg.AssetKey(["analytics", "customer_segments"]), dg.AssetKey(["reference", "products"])],
    "key_account_review": [dg.AssetKey(["analytics", "key_accounts"]), dg.AssetKey(["marts", "dim_organisation"])],
}


def _deps(definition: AudienceDefinition) -> list[dg.AssetKey]:
    common = [dg.AssetKey(["marts", "fct_transactions"])] if definition.channel_policy == ACCOUNT_MANAGER else _COMMON_DEPS
    return [*common, *_DEPS[definition.name]]


def _audience_asset(definition: AudienceDefinition) -> dg.AssetsDefinition:
    @dg.asset(key=["analytics", f"audience_{definition.name}"], deps=_deps(definition), group_name="analytics",
              kinds={"python", "duckdb"}, description=f"{definition.description} Rule: {definition.rule}. "
              f"Exported to <exports_dir>/audiences/{definition.name}.csv|.parquet with a manifest.")
    def _asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            result = build_audience(con, definition)
            channels = dict(con.execute(f"select channel, count(*) from analytics.audience_{definition.name} "
                                        "group by 1 order by 1").fetchall())
        exported = export_audience(result, get_settings().exports_dir / "audiences")
        context.log.info(f"audience {definition.name}: {result.members.num_rows} of {result.candidates} selected, "
                         f"excluded {result.excluded}, as of {result.as_of}")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(result.members.num_rows),
            "as_of_date": dg.MetadataValue.text(result.as_of.isoformat()),
            "candidates": dg.MetadataValue.int(result.candidates),
            "excluded": dg.MetadataValue.json(result.excluded),
            "channels": dg.MetadataValue.json(channels),
            "definition": dg.MetadataValue.json(definition.as_manifest()),
            "csv": dg.MetadataValue.path(str(exported.csv_path)),
            "parquet": dg.MetadataValue.path(str(exported.parquet_path)),
            "manifest": dg.MetadataValue.path(str(exported.manifest_path)),
        })

    return _asset


AUDIENCE_ASSETS = [_audience_asset(definition) for definition in AUDIENCES]
