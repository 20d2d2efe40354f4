"""Bring one table of a serving copy up to date by replacing only the rows that differ.

Why: at a million people a daily publish rewrote ~40 of ~46 tables whole (the facts gain the
day's rows, the as-of date moves), 42 M fact rows copied twice a day though a day adds ~0.2%.
The copy's table is compared with what the level's policy makes of the warehouse table, row by
row, as multisets of 64-bit row hashes (``hash(c1, c2, ...)`` over the published columns), each
side read once with its rowids: rows whose hash occurs a different number of times on each side
are deleted from the copy (by rowid) and inserted again from the warehouse (by rowid, so only
those rows are masked again; a view's rows by hash); the rest stay. The rows deleted, inserted
and left must be exactly the counts the comparison gave; any disagreement, or a change touching
more than ``MAX_CHANGED_SHARE`` of the rows, makes the caller rewrite the table whole instead.

The comparison is kept as a ``PatchPlan`` (hashes of the rows deleted, warehouse rowids, or a
view's hashes, of the rows inserted): a second copy that held the same rows and wants the same
rows (run_shared.py) applies it without comparing again, deleting by hash and inserting by rowid.
"""

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from dagster_project.serving.policy import quote
from dagster_project.warehouse import has_table

# Above this share of changed rows a whole rewrite writes less than a delete plus an insert.
MAX_CHANGED_SHARE = 0.5


@dataclass(frozen=True)
class PatchResult:
    rows: int       # rows of the table after the patch
    deleted: int    # rows removed from the copy
    inserted: int   # rows added from the warehouse
    kept_sum: int | None = None  # a keyed patch: the copy's row-hash sum over its kept columns after it


@dataclass(frozen=True)
class PatchPlan:
    """A patch as it was applied: enough to apply it to another copy that held the same rows."""
    result: PatchResult
    deleted_hashes: pa.Table   # column h: every copy row with one of these hashes was deleted
    inserted_rows: pa.Table    # column _publish_rid (warehouse rowids) or, for a view, h


def row_hash_sql(columns: list[str]) -> str:
    """SQL for one row's 64-bit hash over ``columns``: what the patch compares and the fingerprint's
    row_hash_sum_sql adds up."""
    return f"hash({', '.join(quote(c) for c in columns)})"


def table_columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute("select column_name, data_type from information_schema.columns where table_catalog = ? "
                       "and table_schema = ? and table_name = ? order by ordinal_position",
                       [catalog, schema, table]).fetchall()


def patch_table(con: duckdb.DuckDBPyConnection, alias: str, source_catalog: str, schema: str, table: str,
                select_list: tuple[str, ...], reuse: PatchPlan | None = None) -> PatchPlan | None:
    """Patch ``alias.schema.table`` to equal ``select <select_list> from source``; None = rewrite it instead.

    ``reuse``: the plan another copy applied, whose previous rows were the same as this copy's.
    """
    source = f"{quote(source_catalog)}.{quote(schema)}.{quote(table)}"
    published = f"select {', '.join(select_list)} from {source}"
    wanted = [(name, sql_type) for name, sql_type, *_ in con.execute(f"describe {published}").fetchall()]
    if wanted != table_columns(con, alias, schema, table):
        return None  # a column came, went or changed type: the table's shape is new
    target = f"{quote(alias)}.{quote(schema)}.{quote(table)}"
    row_hash = row_hash_sql([name for name, _ in wanted])
    # a table's rows are fetched again by rowid (no second masking and hashing pass); a view has none
    by_rowid = has_table(con, schema, table, catalog=source_catalog, views=False)
    if reuse is not None:
        return _apply_plan(con, target, source, select_list, published, row_hash, by_rowid, reuse)
    new_rows = (f"select _publish_rid, {row_hash} as h from (select rowid as _publish_rid, {', '.join(select_list)} "
                f"from {source}) as published" if by_rowid else
                f"select null::bigint as _publish_rid, {row_hash} as h from ({published}) as published")
    try:
        con.execute(f"create or replace temp table _publish_new as {new_rows}")
        con.execute(f"create or replace temp table _publish_old as select rowid as _publish_rid, {row_hash} as h "
                    f"from {target}")
        # one aggregate over both sides (twice as fast as two aggregates and a full join)
        con.execute("create or replace temp table _publish_changed as "
                    "select h, count(*) filter (where is_new) as n_new, count(*) filter (where not is_new) as n_old "
                    "from (select h, true as is_new from temp.main._publish_new "
                    "union all select h, false from temp.main._publish_old) as both_sides "
                    "group by h having count(*) filter (where is_new) <> count(*) filter (where not is_new)")
        rows = con.execute("select count(*) from temp.main._publish_new").fetchall()[0][0]
        deleted, inserted = con.execute("select coalesce(sum(n_old), 0), coalesce(sum(n_new), 0) "
                                        "from temp.main._publish_changed").fetchall()[0]
        if deleted + inserted > MAX_CHANGED_SHARE * max(rows, 1):
            return None
        con.execute("create or replace temp table _publish_deleted as "
                    "select h from temp.main._publish_changed where n_old > 0")
        con.execute("create or replace temp table _publish_inserted as " + (
            "select n._publish_rid from temp.main._publish_new as n join temp.main._publish_changed as c "
            "on c.h = n.h where c.n_new > 0" if by_rowid else
            "select h from temp.main._publish_changed where n_new > 0"))
        plan = PatchPlan(PatchResult(rows=rows, deleted=deleted, inserted=inserted),
                         con.sql("select h from temp.main._publish_deleted").to_arrow_table(),
                         con.sql("select * from temp.main._publish_inserted").to_arrow_table())
        done_deleted = done_inserted = 0
        if deleted:
            done_deleted = con.execute(
                f"delete from {target} where rowid in (select o._publish_rid from temp.main._publish_old as o "
                "where o.h in (select h from temp.main._publish_deleted))").fetchall()[0][0]
        if inserted:
            done_inserted = _insert(con, target, source, select_list, published, row_hash, by_rowid,
                                    "temp.main._publish_inserted")
        after = con.execute(f"select count(*) from {target}").fetchall()[0][0]
        if (done_deleted, done_inserted, after) != (deleted, inserted, rows):
            return None  # cannot happen short of a hash collision; the caller rewrites the table
        return plan
    finally:
        con.execute("drop table if exists temp.main._publish_new")
        con.execute("drop table if exists temp.main._publish_old")
        for temp in ("_publish_changed", "_publish_deleted", "_publish_inserted"):
            con.execute(f"drop table if exists temp.main.{temp}")


def _insert(con: duckdb.DuckDBPyConnection, target: str, source: str, select_list: tuple[str, ...], published: str,
            row_hash: str, by_rowid: bool, rows: str) -> int:
    """Insert the warehouse rows listed in ``rows`` (rowids of a table, hashes of a view's rows)."""
    if by_rowid:
        return con.execute(f"insert into {target} select {', '.join(select_list)} from {source} "
                           f"where rowid in (select _publish_rid from {rows})").fetchall()[0][0]
    return con.execute(f"insert into {target} select * from ({published}) as published "
                       f"where {row_hash} in (select h from {rows})").fetchall()[0][0]


def _apply_plan(con: duckdb.DuckDBPyConnection, target: str, source: str, select_list: tuple[str, ...],
                published: str, row_hash: str, by_rowid: bool, plan: PatchPlan) -> PatchPlan | None:
    """Apply another copy's plan: delete rows by hash, insert by rowid; None when a count disagrees."""
    if by_rowid != ("_publish_rid" in plan.inserted_rows.column_names):
        return None
    con.register("_publish_plan_deleted", plan.deleted_hashes)
    con.register("_publish_plan_inserted", plan.inserted_rows)
    try:
        done_deleted = done_inserted = 0
        if plan.result.deleted:
            done_deleted = con.execute(f"delete from {target} where {row_hash} in "
                                       "(select h from _publish_plan_deleted)").fetchall()[0][0]
        if plan.result.inserted:
            done_inserted = _insert(con, target, source, select_list, published, row_hash, by_rowid,
                                    "_publish_plan_inserted")
        after = con.execute(f"select count(*) from {target}").fetchall()[0][0]
    finally:
        con.unregister("_publish_plan_deleted")
        con.unregister("_publish_plan_inserted")
    result = plan.result
    return plan if (done_deleted, done_inserted, after) == (result.deleted, result.inserted, result.rows) else None
