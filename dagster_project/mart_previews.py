"""Markdown previews (first rows) of key marts, shown on their assets in the Dagster UI.

An engineer who just materialized the marts sees at a glance whether the numbers look
right, without opening a SQL client. Previews leave out personal data (names, emails,
phones, addresses): Dagster keeps metadata in its own store, outside the access levels of
the serving copy.
"""

from typing import Any

import duckdb

PREVIEW_ROWS = 15

# asset key path -> the preview query (no personal columns)
PREVIEWS: dict[tuple[str, str], str] = {
    ("marts", "customer_counts"): "select measure, party_type, value, definition from marts.customer_counts "
                                  "order by measure_order",
    ("marts", "customer_360"): "select party_id, customer_status, customer_since, active_products, revenue_to_date, "
                               "interactions_total, open_complaints from marts.customer_360 "
                               "order by revenue_to_date desc, party_id",
    ("metrics", "metric_values"): "select metric, period_label, period_end, numerator, denominator, "
                                  "round(value, 4) as value, unit from metrics.metric_values",
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    """A GitHub-style markdown table (Dagster renders it in the asset's metadata)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview_markdown(con: duckdb.DuckDBPyConnection, key_path: tuple[str, ...], limit: int = PREVIEW_ROWS) -> str | None:
    """The first `limit` rows of a previewed asset as markdown; None for an asset without a preview."""
    query = PREVIEWS.get(tuple(key_path))
    if query is None:
        return None
    result = con.execute(f"select * from ({query}) as preview limit {int(limit)}")
    columns = [d[0] for d in result.description]
    return markdown_table(columns, result.fetchall())
