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

A keyed table (keyed_patch.py: every row it writes carries ``refreshed_at``, the run that wrote it)
is summarised by its *cursor* instead: columns, row count and newest ``refreshed_at``
(``cursor=True``). Its writers only delete and insert, each insert with a newer ``refreshed_at``, so
a change moves the count or the cursor; hashing every row to learn that took 6.3-6.8 s of the two
copies' publish on a day at a million people (the 42 M interactions 4.5 s alone; 0.7 s left for the
tables without a cursor), a cost that grows with the history. The hash sum
of such a table is computed only when the publish checks the copy against the warehouse
(``kept_hash_sum`` in keyed_patch.py, on the cadence publish.py describes).
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

import duckdb

from dagster_project.serving.patch import row_hash_sql, table_columns
from dagster_project.serving.policy import quote

REFRESHED_AT = "refreshed_at"  # the column a keyed table's rows carry the run that wrote them in
METADATA_SCHEMA = "_publish"
FINGERPRINTS = "table_fingerprints"


def row_hash_sum_sql(columns: list[str]) -> str:
    """SQL for the order-free sum of the rows' 64-bit hashes over ``columns`` (0 for no rows): the one
    sum the fingerprint, the kept copy sums and the keyed patch's check all compare."""
    return f"coalesce(sum(cast({row_hash_sql(columns)} as hugeint)), 0)"


@dataclass(frozen=True)
class SourceSummary:
    """What one scan of a warehouse table tells: its columns with types, row count and row-hash sum,
    or for a keyed table (``cursor``) its newest ``refreshed_at`` instead of the sum."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    hash_sum: int | None               # None: summarised by its cursor
    through: datetime | None = None     # a keyed table's newest refreshed_at (None: no rows)
    cursor: bool = False

    def text(self) -> str:
        last = f"{self.rows} through {self.through}" if self.cursor else f"{self.rows} {self.hash_sum}"
        return "\n".join([*(f"{c} {t}" for c, t in self.columns), "--", last])


def source_summary(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str,
                   cursor: bool = False) -> SourceSummary:
    """Columns with types, row count and hash sum of ``catalog.schema.table`` (one scan of the table),
    or with ``cursor`` its row count and newest ``refreshed_at`` (one column read)."""
    columns = table_columns(con, catalog, schema, table)
    source = f"{quote(catalog)}.{quote(schema)}.{quote(table)}"
    if cursor and REFRESHED_AT in dict(columns):
        rows, through = con.execute(f"select count(*), max({quote(REFRESHED_AT)}) from {source}").fetchall()[0]
        return SourceSummary(tuple(columns), rows, None, through, cursor=True)
    rows, hash_sum = con.execute(f"select count(*), {row_hash_sum_sql([c for c, _ in columns])} "
                                 f"from {source}").fetchall()[0]
    return SourceSummary(tuple(columns), rows, int(hash_sum))


def table_summary(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str,
                  summaries: dict[tuple[str, str, str], SourceSummary] | None = None,
                  cursor: bool = False) -> SourceSummary:
    """The table's source summary, from ``summaries`` (``RunShared.summaries``) when this run has it already."""
    key = (catalog, schema, table, cursor)
    summary = summaries.get(key) if summaries is not None else None
    if summary is None:
        summary = source_summary(con, catalog, schema, table, cursor)
        if summaries is not None:
            summaries[key] = summary
    return summary


def table_fingerprint(plan, summary: SourceSummary) -> str:
    """Fingerprint of a table under ``plan`` (a publish.TablePlan), from its source summary."""
    text = "\n".join([*plan.select_list, "--", summary.text()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored(con: duckdb.DuckDBPyConnection, catalog: str, column: str) -> dict[str, object]:
    """schema.table -> ``column`` of an attached copy's fingerprint table where it is set ({} for a
    copy from before that column)."""
    try:
        rows = con.execute(f"select table_schema, table_name, {column} from "
                           f"{quote(catalog)}.{METADATA_SCHEMA}.{FINGERPRINTS} where {column} is not null").fetchall()
    except duckdb.Error:
        return {}
    return {f"{schema}.{table}": value for schema, table, value in rows}


def previous_fingerprints(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """schema.table -> fingerprint stored in an attached copy ({} for a copy from before fingerprints)."""
    return _stored(con, catalog, "fingerprint")


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


def previous_checked(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, datetime]:
    """schema.table -> when an attached copy's table was last known equal to the warehouse (written or
    compared whole, or its hash sum checked); {} for a copy from before (every keyed table is due)."""
    return _stored(con, catalog, "checked_at")


def copy_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """schema.table -> fingerprint of the copy open on ``con`` (its own catalog)."""
    return previous_fingerprints(con, con.execute("select current_database()").fetchall()[0][0])
