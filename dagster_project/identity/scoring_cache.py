"""The previous run's scored pairs, kept in the warehouse so a daily run scores only what changed.

``match_candidates`` holds a fingerprint (md5 of every attribute the model reads) of each
candidate record last scored, not the attributes themselves (no second copy of personal data
for erasure to chase); ``match_scored_pairs`` their pairs scoring at or above the review floor;
``match_scoring_state`` the model they were scored with. A pair's score depends on its two
records and the model alone, so with the same model a pair of two unchanged records keeps its
score: only pairs with a new or changed record are scored again, and the pairs of a changed or
vanished record are dropped first. Any doubt (no snapshot, another model) means: score everything.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from dagster_project.warehouse import has_table

CACHE_TABLES = ("match_candidates", "match_scored_pairs", "match_scoring_state")


def _stage_fingerprints(con: duckdb.DuckDBPyConnection, records: pa.Table) -> None:
    """Temp table ``_candidates_now(unique_id, fingerprint)``."""
    con.register("_candidate_records", records)
    attributes = ", ".join(f"{c} := {c}" for c in records.column_names)
    con.execute(f"""
        create or replace temp table _candidates_now as
        select unique_id, md5(to_json(struct_pack({attributes}))) as fingerprint from _candidate_records
    """)
    con.unregister("_candidate_records")


def _fingerprints_staged(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("select count(*) from duckdb_tables() where temporary and table_name = '_candidates_now'"
                       ).fetchall()[0][0] > 0


def changed_records(con: duckdb.DuckDBPyConnection, records: pa.Table, model_id: str,
                    schema: str = "integration") -> set[str] | None:
    """Ids of candidate records that are new or differ from the snapshot; None when everything must be scored.

    When it returns a set, the records' fingerprints stay staged (temp table ``_candidates_now``)
    for ``write_scoring_cache`` of the same records: hashing 4.4 M records took 1 s a time.
    """
    if not all(has_table(con, schema, t) for t in CACHE_TABLES):
        return None
    if con.execute(f"select model_id from {schema}.match_scoring_state").fetchall() != [(model_id,)]:
        return None
    _stage_fingerprints(con, records)
    changed = con.execute(f"""
        select unique_id from (select unique_id, fingerprint from _candidates_now
                               except select unique_id, fingerprint from {schema}.match_candidates)
    """).fetchall()
    return {row[0] for row in changed}


def write_scoring_cache(con: duckdb.DuckDBPyConnection, records: pa.Table, scored: pa.Table, model_id: str,
                        changed: set[str] | None, schema: str = "integration") -> pa.Table:
    """Store this run's snapshot and pairs; return every pair of this run (kept + newly scored).

    ``changed`` None: ``scored`` holds every pair. Otherwise
    ``scored`` holds the pairs touching ``changed``, and the kept pairs are those of two records
    unchanged and still present; ``changed`` comes from ``changed_records`` of the same
    ``records``, whose fingerprints are still staged.
    """
    con.execute(f"create schema if not exists {schema}")
    if changed is None or not _fingerprints_staged(con):
        _stage_fingerprints(con, records)
    con.register("_scored_now", scored)
    try:
        if changed is None:
            con.execute(f"create or replace table {schema}.match_candidates as "
                        "select * from _candidates_now order by unique_id")
            con.execute(f"create or replace table {schema}.match_scored_pairs as "
                        "select * from _scored_now order by record_id_l, record_id_r")
        else:
            con.register("_changed_ids", pa.table({"unique_id": pa.array(sorted(changed), pa.string())}))
            con.execute(f"""
                create or replace temp table _rescored_ids as
                select unique_id from _changed_ids
                union select unique_id from {schema}.match_candidates
                where unique_id not in (select unique_id from _candidates_now)
            """)
            con.unregister("_changed_ids")
            con.execute(f"""
                delete from {schema}.match_scored_pairs
                where record_id_l in (select unique_id from _rescored_ids)
                   or record_id_r in (select unique_id from _rescored_ids)
            """)
            con.execute(f"insert into {schema}.match_scored_pairs select * from _scored_now")
            con.execute(f"delete from {schema}.match_candidates where unique_id in (select unique_id from _rescored_ids)")
            con.execute(f"""insert into {schema}.match_candidates select * from _candidates_now
                            where unique_id in (select unique_id from _rescored_ids)""")
            con.execute("drop table _rescored_ids")
        con.execute(f"create or replace table {schema}.match_scoring_state as select ?::varchar as model_id",
                    [model_id])
    finally:
        con.unregister("_scored_now")
    con.execute("drop table if exists _candidates_now")
    return con.sql(f"select * from {schema}.match_scored_pairs").to_arrow_table()
