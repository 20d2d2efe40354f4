"""Deterministic identity: records that share an exact normalised identifier are one party.

The evidence (record → identifier) comes from the dbt model ``int_party_identifiers``; the
parties are the connected components of the record–identifier graph, found with scipy's
sparse connected components so a million customers resolve in seconds. Probabilistic
matching (Splink) builds on this in its own asset later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# An identifier carried by more records than this is a placeholder or a shared line
# (a switchboard number, info@...), not evidence that they are one person: it links nothing.
MAX_RECORDS_PER_IDENTIFIER = 25


@dataclass(frozen=True)
class ResolutionStats:
    records: int
    identifiers: int
    ignored_identifiers: int
    parties: int
    parties_by_type: dict[str, int]
    largest_party: int


def _party_id(anchor_record_id: str) -> str:
    """Stable id of a party: a hash of its anchor record, so the same input gives the same id."""
    return "P" + hashlib.sha256(anchor_record_id.encode("utf-8")).hexdigest()[:16]


def resolve_parties(con: duckdb.DuckDBPyConnection, schema: str = "integration") -> ResolutionStats:
    """Write ``<schema>.party_xref`` and ``<schema>.party_identifiers`` from the dbt inputs."""
    con.execute(f"""
        create or replace temp table _id_degree as
        select id_type, id_value, count(distinct record_id) as records
        from {schema}.int_party_identifiers group by all
    """)
    con.execute(f"""
        create or replace temp table _record_nodes as
        select record_id, source_system, source_entity, source_key, party_type, trust_rank,
               (row_number() over (order by record_id) - 1)::bigint as node
        from {schema}.int_party_records
    """)
    n_records = con.execute("select count(*) from _record_nodes").fetchall()[0][0]
    con.execute(f"""
        create or replace temp table _identifier_nodes as
        select id_type, id_value, {n_records} + (row_number() over (order by id_type, id_value) - 1)::bigint as node
        from _id_degree where records <= {MAX_RECORDS_PER_IDENTIFIER}
    """)
    edges = con.execute(f"""
        select r.node as a, i.node as b
        from {schema}.int_party_identifiers e
        join _record_nodes r using (record_id)
        join _identifier_nodes i using (id_type, id_value)
    """).fetchnumpy()
    n_nodes = n_records + con.execute("select count(*) from _identifier_nodes").fetchall()[0][0]
    a, b = edges["a"], edges["b"]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    con.register("_labels", pa.table({"node": np.arange(n_nodes, dtype=np.int64), "component": labels.astype(np.int64)}))

    # Anchor of a party: its smallest identified record (or smallest record, if none is).
    con.execute("""
        create or replace temp table _components as
        select l.component,
               coalesce(min(r.record_id) filter (where r.party_type <> 'unidentified'), min(r.record_id)) as anchor,
               case when bool_or(r.party_type = 'organisation') then 'organisation'
                    when bool_or(r.party_type = 'individual') then 'individual'
                    else 'unidentified' end as party_type,
               count(*) as records
        from _record_nodes r join _labels l using (node)
        group by l.component
    """)
    anchors = con.execute("select component, anchor from _components").fetchnumpy()
    ids = pa.array([_party_id(x) for x in anchors["anchor"].tolist()], pa.string())
    con.register("_party_ids", pa.table({"component": anchors["component"], "party_id": ids}))

    con.execute(f"""
        create or replace table {schema}.party_xref as
        with shared as (
            select e.record_id, string_agg(distinct e.id_type, '+' order by e.id_type) as shared_types
            from {schema}.int_party_identifiers e
            join _id_degree d using (id_type, id_value)
            where d.records between 2 and {MAX_RECORDS_PER_IDENTIFIER}
            group by e.record_id
        )
        select r.record_id, r.source_system, r.source_entity, r.source_key,
               p.party_id, c.party_type,
               case when s.shared_types is null then 'singleton' else 'exact:' || s.shared_types end as match_rule,
               1.0::double as match_probability
        from _record_nodes r
        join _labels l using (node)
        join _components c using (component)
        join _party_ids p using (component)
        left join shared s using (record_id)
        order by r.record_id
    """)
    con.execute(f"""
        create or replace table {schema}.party_identifiers as
        select i.id_type, i.id_value, p.party_id
        from _identifier_nodes i join _labels l using (node) join _party_ids p using (component)
        order by i.id_type, i.id_value
    """)
    by_type = dict(con.execute("select party_type, count(*) from _components group by all order by 1").fetchall())
    stats = ResolutionStats(
        records=n_records,
        identifiers=con.execute("select count(*) from _identifier_nodes").fetchall()[0][0],
        ignored_identifiers=con.execute(
            f"select count(*) from _id_degree where records > {MAX_RECORDS_PER_IDENTIFIER}").fetchall()[0][0],
        parties=sum(by_type.values()),
        parties_by_type=by_type,
        largest_party=con.execute("select coalesce(max(records), 0) from _components").fetchall()[0][0],
    )
    for name in ("_labels", "_party_ids"):
        con.unregister(name)
    return stats
