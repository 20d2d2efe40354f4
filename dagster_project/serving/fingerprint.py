"""A cheap content fingerprint of a warehouse table as one access level publishes it.

Why: a daily publish rewrote every served table (68 M rows at a million people) though most did
not change. The fingerprint is sha256 over the level's select list (policy actions and salt, so a
policy or salt change republishes), the source columns with their types, the row count and the sum
of the 64-bit hashes of every row (``sum(hash(c1, c2, ...))``, order-free, so a dbt rebuild that
writes the same rows in another order counts as unchanged; a duplicate row changes the sum, unlike
a xor). Two different tables share it only on a 64-bit hash-sum collision. Stored per copy in
``_publish.table_fingerprints`` (not a served schema: no analyst table, no Parquet file), with the
row-hash sum of the copy's table over the columns it publishes as they are (``row_hash_sum``; for a
table without personal columns the warehouse's sum; NULL where nobody needs it) and the digest of
the select list it was written with (``select_sha256``), which the keyed patch checks itself
against (keyed_patch.py).

The warehouse side (``source_summary``: columns, row count, hash sum) does not depend on the access
level; both copies of a run share it (run_shared.py).
"""

import hashlib
from dataclasses import dataclass

import duckdb

from dagster_project.serving.patch import row_hash_sql, table_columns
from dagster_project.serving.policy import quote

METADATA_SCHEMA = "_publish"
FINGERPRINTS = "table_fingerprints"


def row_hash_sum_sql(columns: list[str]) -> str:
    """SQL for the order-free sum of the rows' 64-bit hashes over ``columns`` (0 for no rows): the one
    sum the fingerprint, the kept copy sums and the keyed patch's check all compare."""
    return f"coalesce(sum(cast({row_hash_sql(columns)} as hugeint)), 0)"


@dataclass(frozen=True)
class SourceSummary:
    """What one scan of a warehouse table tells: its columns with types, row count and row-hash sum."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    hash_sum: int

    def text(self) -> str:
        return "\n".join([*(f"{c} {t}" for c, t in self.columns), "--", f"{self.rows} {self.hash_sum}"])


def source_summary(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> SourceSummary:
    """Columns with types, row count and hash sum of ``catalog.schema.table``: one scan of the table."""
    columns = table_columns(con, catalog, schema, table)
    source = f"{quote(catalog)}.{quote(schema)}.{quote(table)}"
    rows, hash_sum = con.execute(f"select count(*), {row_hash_sum_sql([c for c, _ in columns])} "
                                 f"from {source}").fetchall()[0]
    return SourceSummary(tuple(columns), rows, int(hash_sum))


def table_summary(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str,
                  summaries: dict[tuple[str, str, str], SourceSummary] | None = None) -> SourceSummary:
    """The table's source summary, from ``summaries`` (``RunShared.summaries``) when this run has it already."""
    key = (catalog, schema, table)
    summary = summaries.get(key) if summaries is not None else None
    if summary is None:
        summary = source_summary(con, catalog, schema, table)
        if summaries is not None:
            summaries[key] = summary
    return summary


def table_fingerprint(plan, summary: SourceSummary) -> str:
    """Fingerprint of a table under ``plan`` (a publish.TablePlan), from its source summary."""
    text = "\n".join([*plan.select_list, "--", summary.text()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def previous_fingerprints(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """schema.table -> fingerprint stored in an attached copy ({} for a copy from before fingerprints)."""
    try:
        rows = con.execute(f"select table_schema, table_name, fingerprint from "
                           f"{quote(catalog)}.{METADATA_SCHEMA}.{FINGERPRINTS}").fetchall()
    except duckdb.Error:
        return {}
    return {f"{schema}.{table}": fingerprint for schema, table, fingerprint in rows}


def previous_hash_sums(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, tuple[int, str | None]]:
    """schema.table -> (row-hash sum over the kept columns, select-list digest) of an attached copy's
    tables, where a sum was kept (keyed_patch.py). A copy from before the digests were kept has only
    the sums of tables published as they are: digest None."""
    table = f"{quote(catalog)}.{METADATA_SCHEMA}.{FINGERPRINTS}"
    for digest in ("select_sha256", "null"):
        try:
            rows = con.execute(f"select table_schema, table_name, row_hash_sum, {digest} from {table} "
                               "where row_hash_sum is not null").fetchall()
        except duckdb.Error:
            continue  # an older copy: without the digest, or without the sums
        return {f"{schema}.{name}": (int(hash_sum), select) for schema, name, hash_sum, select in rows}
    return {}


def copy_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """schema.table -> fingerprint of the copy open on ``con`` (its own catalog)."""
    return previous_fingerprints(con, con.execute("select current_database()").fetchall()[0][0])
