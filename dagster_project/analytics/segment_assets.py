"""Segment assets (schema ``analytics``): customer segments, key accounts and the membership
history that marts.segment_migration reads. They run after the marts and read only the
warehouse, never the sample world's truth."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.analytics.key_accounts import build_key_accounts
from dagster_project.analytics.membership import write_membership
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


@dg.asset(
    key=["analytics", "segment_membership"], group_name="analytics", kinds={"python", "duckdb"},
    deps=_keys("analytics.customer_segments", "analytics.key_accounts", "analytics.customer_clv"),
    description="History of segment membership: (as_of_date, party_id, segment_type, segment), one date per "
                "as-of; a re-run for the same date replaces that date's rows.",
)
def segment_membership(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Append this run's memberships (replacing the same date's), so migrations can be measured."""
    with duckdb.get_connection() as con:
        as_of = warehouse_as_of(con)
        written = write_membership(con, as_of)
        total, dates = con.execute("select count(*), count(distinct as_of_date) from analytics.segment_membership").fetchall()[0]
        by_type = con.execute("select segment_type, count(*) from analytics.segment_membership "
                              "where as_of_date = $as_of group by 1 order by 1", {"as_of": as_of}).fetchall()
    context.log.info(f"segment_membership: {written} rows for {as_of}; {dates} dates held")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": dg.MetadataValue.int(total),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "rows_this_date": dg.MetadataValue.int(written),
        "dates_held": dg.MetadataValue.int(dates),
        "rows_by_segment_type": dg.MetadataValue.md(sizes_markdown(by_type, ("segment type", "parties"))),
    })


SEGMENT_ASSETS = [customer_segments, key_accounts, segment_membership]
