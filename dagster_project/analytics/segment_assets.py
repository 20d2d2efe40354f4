"""Segment assets (schema ``analytics``): customer segments, key accounts and the membership
history that marts.segment_migration reads. They run after the marts and read only the
warehouse, never the sample world's truth."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.analytics.key_accounts import build_key_accounts
from dagster_project.analytics.membership import CHANGES, RUNS, write_membership
from dagster_project.analytics.plots import bar_charts_png, image_markdown
from dagster_project.analytics.segments import build_customer_segments, warehouse_as_of
from dagster_project.settings import get_settings


def _keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(name.split(".")) for name in names]


def sizes_markdown(rows: list[tuple], headers: tuple[str, ...]) -> str:
    """A markdown table of (segment, parties) rows, as Dagster shows metadata."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("(none)" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _sizes(con, table: str, column: str) -> list[tuple]:
    return con.execute(f"select {column}, count(*) from analytics.{table} group by 1 order by 2 desc, 1").fetchall()


@dg.asset(
    key=["analytics", "customer_segments"], group_name="analytics", kinds={"python", "duckdb"},
    deps=_keys("marts.dim_customer", "marts.fct_transactions", "marts.fct_interactions",
               "integration.int_holdings_current", "reference.products", "reference.rfm_segments",
               "reference.lifecycle_rules", "reference.product_affinity"),
    description="One row per individual: RFM scores and segment, lifecycle stage, age group, preferred channel, "
                "product affinity group and next best product, as of the latest transaction in the warehouse.",
)
def customer_segments(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every segment of every individual, in one table for analysts and audiences."""
    with duckdb.get_connection() as con:
        as_of = warehouse_as_of(con)
        rules = build_customer_segments(con, as_of)
        rows = con.execute("select count(*) from analytics.customer_segments").fetchall()[0][0]
        tables = {column: _sizes(con, "customer_segments", column)
                  for column in ("rfm_segment", "lifecycle_stage", "age_group", "preferred_channel",
                                 "product_affinity_group", "next_best_product")}
    context.log.info(f"customer_segments as of {as_of}: {rows} individuals")
    plot = bar_charts_png({"RFM segment": tables["rfm_segment"], "lifecycle stage": tables["lifecycle_stage"]},
                          get_settings().data_dir / "analytics" / "segments.png", f"Segments as of {as_of}")
    return dg.MaterializeResult(metadata={
        "segments_plot": dg.MetadataValue.md(image_markdown(plot, "segment sizes")),
        "segments_plot_file": dg.MetadataValue.path(str(plot)),
        "dagster/row_count": dg.MetadataValue.int(rows),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "lifecycle_rules": dg.MetadataValue.json(rules),
        **{f"sizes_{column}": dg.MetadataValue.md(sizes_markdown(sizes, (column, "parties")))
           for column, sizes in tables.items()},
    })


@dg.asset(
    key=["analytics", "key_accounts"], group_name="analytics", kinds={"python", "duckdb"},
    deps=_keys("marts.dim_organisation", "marts.fct_transactions", "integration.int_holdings_current",
               "integration.party_identifiers", "staging.stg_sales__opportunities", "staging.stg_sales__account_plans",
               "reference.key_account_criteria"),
    description="One row per organisation: key account by the criteria in seed key_account_criteria, the criteria "
                "values, and this year's account-plan target against the actual value.",
)
def key_accounts(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Key accounts by objective criteria, with plan attainment."""
    with duckdb.get_connection() as con:
        as_of = warehouse_as_of(con)
        criteria = build_key_accounts(con, as_of)
        rows, keys, planned = con.execute(
            "select count(*), count(case when is_key_account then 1 end), count(target_value) "
            "from analytics.key_accounts").fetchall()[0]
        by_criteria = con.execute(
            "select coalesce(criteria_met, '(none)'), count(*), count(target_value), "
            "round(sum(actual_value) / nullif(sum(target_value), 0), 3) "
            "from analytics.key_accounts group by 1 order by 2 desc, 1").fetchall()
    context.log.info(f"key_accounts as of {as_of}: {keys} key accounts of {rows} organisations")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(rows),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "key_accounts": dg.MetadataValue.int(keys),
        "with_plan": dg.MetadataValue.int(planned),
        "criteria": dg.MetadataValue.json(criteria),
        "by_criteria_met": dg.MetadataValue.md(sizes_markdown(
            by_criteria, ("criteria met", "organisations", "with plan", "attainment (sum actual / sum target)"))),
    })


_MEMBERSHIP_INPUTS = _keys("analytics.customer_segments", "analytics.key_accounts", "analytics.customer_clv")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["analytics", "segment_membership_changes"], deps=_MEMBERSHIP_INPUTS, group_name="analytics",
                     kinds={"python", "duckdb"},
                     description="Segment membership over time, as changes: (as_of_date, party_id, segment_type, "
                                 "segment) when a party enters, moves (the new segment) or leaves (NULL) a segment "
                                 "type on a run date. A re-run replaces its date."),
        dg.AssetSpec(["analytics", "segment_membership_runs"], deps=_MEMBERSHIP_INPUTS, group_name="analytics",
                     kinds={"python", "duckdb"},
                     description="The run dates of the segment membership, with the memberships held on each."),
    ],
    name="segment_membership",
)
def segment_membership(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Record this run's memberships as the changes since the previous run date, so migrations can be measured."""
    with duckdb.get_connection() as con:
        as_of = warehouse_as_of(con)
        held = write_membership(con, as_of)
        total, changed = con.execute(f"select count(*), count(*) filter (where as_of_date = $d) from {CHANGES}",
                                     {"d": as_of}).fetchall()[0]
        dates = con.execute(f"select count(*) from {RUNS}").fetchall()[0][0]
        by_type = con.execute(f"select segment_type, count(segment), count(*) - count(segment) from {CHANGES} "
                              "where as_of_date = $d group by 1 order by 1", {"d": as_of}).fetchall()
    context.log.info(f"segment membership on {as_of}: {held} held, {changed} changed; {dates} run dates held")
    yield dg.MaterializeResult(asset_key=["analytics", "segment_membership_changes"], metadata={
        "dagster/row_count": dg.MetadataValue.int(total),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "changes_this_date": dg.MetadataValue.int(changed),
        "changes_by_segment_type": dg.MetadataValue.md(sizes_markdown(
            by_type, ("segment type", "entered or moved", "left"))),
    })
    yield dg.MaterializeResult(asset_key=["analytics", "segment_membership_runs"], metadata={
        "dagster/row_count": dg.MetadataValue.int(dates),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "memberships_this_date": dg.MetadataValue.int(held),
    })


SEGMENT_ASSETS = [customer_segments, key_accounts, segment_membership]
