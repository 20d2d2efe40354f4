"""Indexes on the serving copies for the lookups the customer 360 page and BI make by one key.

Why: a lookup of one customer in ``customer_360`` (``where party_id = ?``) scanned the whole
column, 1 M values at a million people: 27-40 ms warm and 51-54 ms cold in the benchmark (the
target is 50 ms). DuckDB's ART index answers it from the index: 2.6-3.0 ms warm on the same
table (measured 2026-12-06 on the kept 1M world; the cold lookup is then mostly opening the file).
Storing the table in key order would help only until the daily patches append changed rows at
the end; an index is kept up to date by those patches, except that a patch about to delete more
than REBUILD_SHARE of a table's rows drops its indexes, which are built again after it (below).

A dbt model asks for it in ``config: meta: {serving_index_on: [column, ...]}``; each column gets a
(non-unique) index in both copies, named ``<table>__<column>__lookup``. Indexes are created after
the tables are written (a rewritten table has none; a compacted file may not carry them), and
``create index if not exists`` leaves an index already there, which the patches maintained. A
publish that finds the copy already current writes nothing, indexes included: a column newly named
gets its index at the next publish with a change.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from dagster_project.serving.classification import dbt_models, merged_meta
from dagster_project.serving.patch import table_columns
from dagster_project.serving.policy import quote

INDEX_META = "serving_index_on"
# Share of a table's rows a patch may delete before its indexes are dropped and built again (by
# ensure_indexes, after the patch). Why: DuckDB removes a deleted row's index entries when the
# delete commits, ~14 us a row and index, while building an index reads the table once, ~0.3 us a
# row. Measured on the 1M world's restricted copy: deleting 133 k of customer_360's 1.01 M rows
# (party_id indexed) took 2.2 s against 0.29 s without the index, which took 0.31 s to build again.
REBUILD_SHARE = 0.02


def indexed_columns(manifest_path: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """(schema, table) -> columns to index, of every dbt model whose meta asks for lookup indexes."""
    found = {}
    for table, node in dbt_models(manifest_path):
        columns = merged_meta(node).get(INDEX_META)
        if columns:
            found[table] = tuple([columns] if isinstance(columns, str) else columns)
    return found


def index_name(table: str, column: str) -> str:
    return f"{table}__{column}__lookup"


def ensure_indexes(con: duckdb.DuckDBPyConnection, catalog: str, tables: Iterable[tuple[str, str]],
                   indexes: Mapping[tuple[str, str], Iterable[str]]) -> list[str]:
    """Create the missing lookup indexes on ``tables`` of the attached ``catalog``; their names.

    A column the table does not have (renamed in dbt, or dropped by the level's policy) is skipped."""
    created = []
    for schema, table in tables:
        wanted = list(indexes.get((schema, table), ()))
        if not wanted:
            continue
        present = {name for name, _ in table_columns(con, catalog, schema, table)}
        for column in wanted:
            if column not in present:
                continue
            con.execute(f"create index if not exists {quote(index_name(table, column))} on "
                        f"{quote(catalog)}.{quote(schema)}.{quote(table)} ({quote(column)})")
            created.append(f"{schema}.{table}.{column}")
    return created


def drop_for_bulk_delete(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str,
                         deleting: int, rows: int) -> list[str]:
    """Drop the indexes of ``catalog.schema.table`` when a patch is about to delete more than
    REBUILD_SHARE of its ``rows``, so the delete does not pay for each entry; their names. The
    caller builds the lookup indexes again afterwards (ensure_indexes)."""
    if deleting <= REBUILD_SHARE * rows:
        return []
    names = [name for (name,) in con.execute(
        "select index_name from duckdb_indexes() where database_name = ? and schema_name = ? and table_name = ?",
        [catalog, schema, table]).fetchall()]
    for name in names:
        con.execute(f"drop index {quote(catalog)}.{quote(schema)}.{quote(name)}")
    return names
