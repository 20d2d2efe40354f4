"""Stable party ids across runs, and the log of merges and splits between them.

A party id is what every downstream table, export and person holds on to, so a re-run must
not reshuffle them: each cluster of this run inherits the id most of its records had last
run, a new cluster gets the hash of its anchor record (the rule of the first run), and an id
that was ever issued is never handed to a different party. When clusters merge or split
between runs, one row per moved group of records goes to ``party_merge_log``, so anyone
holding an old id can follow where its records went.

Which id a cluster keeps is a greedy matching over (cluster, previous id) overlaps taken in
the order: most records first, then the overlap holding the smallest record id. Because a
record belongs to one cluster and one previous id, that order is strict, so the result is
deterministic. A cluster keeps its best still-free previous id, and each previous id goes to
at most one cluster, the one holding most of its records unless that cluster already kept a
bigger share of another id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from dagster_project.summary import _has_table

MERGE_LOG_COLUMNS = """
    logged_at timestamp, run_id varchar, event varchar, party_id varchar, other_party_id varchar,
    records_moved bigint
"""


@dataclass(frozen=True)
class IdAssignmentStats:
    clusters: int
    kept: int
    new: int
    merges: int
    splits: int


def anchor_party_id(anchor_record_id: str, salt: int = 0) -> str:
    """Id of a new party: a hash of its anchor record (salted when that id was issued before)."""
    text = anchor_record_id if salt == 0 else f"{anchor_record_id}#{salt}"
    return "P" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def assign_party_ids(con: duckdb.DuckDBPyConnection, clusters: str, schema: str = "integration", run_id: str = "",
                     logged_at: datetime | None = None) -> IdAssignmentStats:
    """Write temp table ``_cluster_party_ids(cluster, party_id)`` and append this run's merges and splits.

    ``clusters`` names a table (record_id, cluster, party_type). The previous ids are read
    from ``<schema>.party_xref``, so call this before that table is replaced.
    """
    logged_at = logged_at or datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table if not exists {schema}.party_merge_log ({MERGE_LOG_COLUMNS})")
    duplicates = con.execute(f"select count(*) - count(distinct record_id) from {clusters}").fetchall()[0][0]
    if duplicates:
        raise ValueError(f"{clusters}: {duplicates} record_id(s) appear in more than one row")

    # The anchor of a cluster: its smallest identified record, else its smallest record.
    con.execute(f"""
        create or replace temp table _sid_anchors as
        select cluster,
               coalesce(min(record_id) filter (where party_type <> 'unidentified'), min(record_id)) as anchor
        from {clusters} group by cluster
    """)
    has_previous = _has_table(con, schema, "party_xref")
    previous = f"{schema}.party_xref" if has_previous else \
        "(select null::varchar as record_id, null::varchar as party_id where false)"
    con.execute(f"""
        create or replace temp table _sid_overlap as
        select c.cluster, x.party_id as previous_id, count(*) as records, min(c.record_id) as first_record
        from {clusters} c join {previous} x on x.record_id = c.record_id
        group by c.cluster, x.party_id
    """)
    _match_previous_ids(con)
    _new_ids(con, schema, previous)
    con.execute("""
        create or replace temp table _cluster_party_ids as
        select cluster, party_id from _sid_kept union all select cluster, party_id from _sid_new
    """)
    _events(con)
    con.execute(f"""
        insert into {schema}.party_merge_log
        select ?::timestamp, ?::varchar, event, party_id, other_party_id, records_moved
        from _sid_events order by event, party_id, other_party_id
    """, [logged_at, run_id])
    counts = dict(con.execute("""
        select 'kept', count(*) from _sid_kept union all select 'new', count(*) from _sid_new
        union all select event, count(*) from _sid_events group by event
    """).fetchall())
    for name in ("_sid_anchors", "_sid_overlap", "_sid_kept", "_sid_new", "_sid_events"):
        con.execute(f"drop table if exists {name}")
    return IdAssignmentStats(clusters=counts["kept"] + counts["new"], kept=counts["kept"], new=counts["new"],
                             merges=counts.get("merge", 0), splits=counts.get("split", 0))


def _match_previous_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``_sid_kept(cluster, party_id)``: the previous id each cluster keeps.

    Pairs that are each other's first choice are settled in SQL (nearly every cluster when
    little changed); only the contested rest goes through the greedy loop in Python. Taking
    mutual first choices first gives the same matching as the plain greedy loop.
    """
    order = "records desc, first_record"
    con.execute(f"""
        create or replace temp table _sid_kept as
        select cluster, previous_id as party_id from (
            select cluster, previous_id,
                   row_number() over (partition by cluster order by {order}) as rank_in_cluster,
                   row_number() over (partition by previous_id order by {order}) as rank_in_party
            from _sid_overlap
        ) where rank_in_cluster = 1 and rank_in_party = 1
    """)
    contested = con.execute(f"""
        select cluster, previous_id from _sid_overlap
        where cluster not in (select cluster from _sid_kept)
          and previous_id not in (select party_id from _sid_kept)
        order by {order}
    """).fetchall()
    clusters, taken, rows = set(), set(), []
    for cluster, previous_id in contested:
        if cluster not in clusters and previous_id not in taken:
            clusters.add(cluster)
            taken.add(previous_id)
            rows.append((cluster, previous_id))
    if rows:
        con.register("_sid_contested", pa.table({"cluster": pa.array([r[0] for r in rows], pa.int64()),
                                                 "party_id": pa.array([r[1] for r in rows], pa.string())}))
        con.execute("insert into _sid_kept select cluster, party_id from _sid_contested")
        con.unregister("_sid_contested")


def _new_ids(con: duckdb.DuckDBPyConnection, schema: str, previous: str) -> None:
    """Temp table ``_sid_new(cluster, party_id)``: a fresh id from the anchor, salted past every id issued before.

    The hash is computed in SQL (DuckDB's sha256 is the same hex digest as hashlib's); only
    the rare anchors whose id was issued before are salted one by one in Python.
    """
    con.execute("""
        create or replace temp table _sid_new as
        select a.cluster, a.anchor, 'P' || substr(sha256(a.anchor), 1, 16) as party_id
        from _sid_anchors a where a.cluster not in (select cluster from _sid_kept)
    """)
    issued_sql = f"""
        select party_id from {previous}
        union select party_id from {schema}.party_merge_log
        union select other_party_id from {schema}.party_merge_log
        union select party_id from _sid_kept
    """
    clashes = con.execute(f"""
        select cluster, anchor from (
            select cluster, anchor, party_id,
                   row_number() over (partition by party_id order by cluster) as nth
            from _sid_new
        ) where party_id in ({issued_sql}) or nth > 1
        order by cluster
    """).fetchall()
    if clashes:
        issued = {row[0] for row in con.execute(f"{issued_sql} union select party_id from _sid_new").fetchall()}
        salted = []
        for cluster, anchor in clashes:
            salt, party_id = 1, anchor_party_id(anchor, 1)
            while party_id in issued:
                salt += 1
                party_id = anchor_party_id(anchor, salt)
            issued.add(party_id)
            salted.append((cluster, party_id))
        con.register("_sid_salted", pa.table({"cluster": pa.array([r[0] for r in salted], pa.int64()),
                                              "party_id": pa.array([r[1] for r in salted], pa.string())}))
        con.execute("update _sid_new set party_id = s.party_id from _sid_salted s where _sid_new.cluster = s.cluster")
        con.unregister("_sid_salted")


def _events(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``_sid_events``: one row per group of records that changed id.

    Records whose previous id lives on in another cluster were split off it; records whose
    previous id was retired were merged into the party that absorbed them (a retired id's
    records always land in clusters that kept some other id, by the greedy matching).
    """
    con.execute("""
        create or replace temp table _sid_events as
        with assigned as (
            select cluster, party_id from _sid_kept union all select cluster, party_id from _sid_new
        )
        select case when o.previous_id in (select party_id from _sid_kept) then 'split' else 'merge' end as event,
               case when o.previous_id in (select party_id from _sid_kept) then o.previous_id else a.party_id end
                   as party_id,
               case when o.previous_id in (select party_id from _sid_kept) then a.party_id else o.previous_id end
                   as other_party_id,
               o.records as records_moved
        from _sid_overlap o join assigned a using (cluster)
        where a.party_id <> o.previous_id
    """)
