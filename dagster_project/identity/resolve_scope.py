"""Which records a daily resolve must cluster again; every other party stays as it was.

A day changes a few thousand of millions of records, and the match graph falls apart into
connected components that never influence each other: a component's clusters depend only on
its own records, identifiers, edges and "do not link" pairs (the greedy rebuild breaks ties
by node order, and nodes are numbered in record id and identifier order in any subgraph), and
a component nothing touched is exactly its previous parties, which keep their ids.

Affected records: new and vanished records, records whose resolve columns changed, records
whose identifiers changed, every record of a changed identifier that links (at or under the
cap before or after), both records of a model link (pair at or above the link threshold) or a
decision that appeared, vanished or changed. The scope is every record of a previous
component holding an affected record, plus the affected records. No current edge leaves the
scope (an edge that did not exist last run has both ends affected; an old one stayed inside
its previous component), so clustering the scope's subgraph gives what a full resolve gives
those records, and stable ids split the same way (the scope is closed under previous parties).

The state this needs, in the integration schema, rewritten or patched by every resolve:
``identity_evidence`` (record id, a hash of each identifier: no second copy of the personal
values for erasure to chase), ``identity_records`` (record id, a hash of the columns the
resolve reads, the component), ``identity_links`` (the model pairs at or above the link
threshold), ``identity_decisions`` and ``identity_resolve_state``. Any doubt (a table missing,
another link threshold, identifier cap or DuckDB version, whose ``hash`` the state holds, or
a ``party_xref`` row count the state did not leave, as after an erasure) means: resolve all.
"""

from __future__ import annotations

import duckdb

from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER
from dagster_project.warehouse import has_table

STATE_TABLES = ("identity_evidence", "identity_records", "identity_links", "identity_decisions",
                "identity_resolve_state")
# A scope above this share of the records is resolved whole: as cheap, and it re-sorts party_xref.
FULL_ABOVE = 0.5


def stage_scope(con: duckdb.DuckDBPyConnection, schema: str, link: float) -> int | None:
    """Temp table ``_scope(record_id)`` and its size; None when every record must be resolved.

    Needs temp table ``_scored`` (this run's scored pairs) and ``<schema>.match_decisions``.
    """
    if not _state_matches(con, schema, link):
        return None
    con.execute(f"create or replace temp table _previous_resolve_state as select * from {schema}.identity_resolve_state")
    _stage_now(con, schema, link)
    cap = MAX_RECORDS_PER_IDENTIFIER
    con.execute(f"""
        create or replace temp table _evidence_changes as
        select coalesce(n.record_id, p.record_id) as record_id, coalesce(n.id_hash, p.id_hash) as id_hash
        from _evidence_now n full outer join {schema}.identity_evidence p
            on p.record_id = n.record_id and p.id_hash = n.id_hash
        where n.record_id is null or p.record_id is null
    """)
    con.execute(f"""
        create or replace temp table _changed_identifiers as
        with changed as (select distinct id_hash from _evidence_changes),
        now as (select id_hash, count(distinct record_id) as records
                from _evidence_now semi join changed using (id_hash) group by id_hash),
        before as (select id_hash, count(distinct record_id) as records
                   from {schema}.identity_evidence semi join changed using (id_hash) group by id_hash)
        select c.id_hash, coalesce(n.records, 0) as records_now, coalesce(b.records, 0) as records_before
        from changed c left join now n using (id_hash) left join before b using (id_hash)
    """)
    con.execute(f"""
        create or replace temp table _affected as
        with linking as (select id_hash from _changed_identifiers
                         where records_now <= {cap} or records_before <= {cap})
        select record_id from _evidence_changes  -- holds every record that took up a changed identifier
        union select record_id from {schema}.identity_evidence semi join linking using (id_hash)
        union select coalesce(n.record_id, p.record_id)
            from _records_now n full outer join {schema}.identity_records p on p.record_id = n.record_id
            where n.record_id is null or p.record_id is null or n.record_hash <> p.record_hash
        union select unnest([coalesce(n.record_id_l, p.record_id_l), coalesce(n.record_id_r, p.record_id_r)])
            from _links_now n full outer join {schema}.identity_links p
                on p.record_id_l = n.record_id_l and p.record_id_r = n.record_id_r
                and p.match_probability = n.match_probability
            where n.record_id_l is null or p.record_id_l is null
        union select unnest([coalesce(n.record_id_l, p.record_id_l), coalesce(n.record_id_r, p.record_id_r)])
            from {schema}.match_decisions n full outer join {schema}.identity_decisions p
                on p.record_id_l = n.record_id_l and p.record_id_r = n.record_id_r and p.decision = n.decision
            where n.record_id_l is null or p.record_id_l is null
    """)
    con.execute(f"""
        create or replace temp table _scope as
        select record_id from _affected
        union
        select r.record_id from {schema}.identity_records r
        semi join (select component from {schema}.identity_records semi join _affected using (record_id)) c
            using (component)
    """)
    scope = con.execute("select count(*) from _scope").fetchall()[0][0]
    if scope > FULL_ABOVE * con.execute("select count(*) from _records_now").fetchall()[0][0]:
        con.execute("drop table _scope")
        return None
    return scope


def invalidate_state(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Drop the state's marker: the next run resolves everything unless this one finishes."""
    con.execute(f"drop table if exists {schema}.identity_resolve_state")


def write_state(con: duckdb.DuckDBPyConnection, schema: str, link: float, scoped: bool,
                ignored_identifiers: int) -> None:
    """Store what the next run diffs against; needs temp table ``_record_components(record_id, component)``.

    ``scoped``: only the scope's records changed, so only their rows are replaced.
    ``ignored_identifiers``: identifiers over the cap in the whole graph (a full resolve's
    count); ignored for a scoped resolve, which updates the previous count by what changed.
    """
    if scoped:
        ignored_identifiers = con.execute(f"""
            select s.ignored_identifiers
                   - count(*) filter (where c.records_before > {MAX_RECORDS_PER_IDENTIFIER})
                   + count(*) filter (where c.records_now > {MAX_RECORDS_PER_IDENTIFIER})
            from _previous_resolve_state s left join _changed_identifiers c on true
            group by s.ignored_identifiers
        """).fetchall()[0][0]
        _stage_records_with_components(con)
        for table, rows in (("identity_evidence", "_evidence_now"), ("identity_records", "_records_with_components")):
            con.execute(f"delete from {schema}.{table} where record_id in (select record_id from _scope)")
            con.execute(f"insert into {schema}.{table} select * from {rows} semi join _scope using (record_id)")
    else:
        _stage_now(con, schema, link)
        _stage_records_with_components(con)
        con.execute(f"create or replace table {schema}.identity_evidence as select * from _evidence_now")
        con.execute(f"create or replace table {schema}.identity_records as select * from _records_with_components")
    con.execute(f"create or replace table {schema}.identity_links as select * from _links_now")
    con.execute(f"create or replace table {schema}.identity_decisions as "
                f"select record_id_l, record_id_r, decision from {schema}.match_decisions")
    con.execute(f"""
        create or replace table {schema}.identity_resolve_state as
        select ?::double as link_threshold, ?::integer as max_records_per_identifier,
               ?::varchar as duckdb_version, (select count(*) from {schema}.party_xref) as party_records,
               ?::bigint as ignored_identifiers
    """, [link, MAX_RECORDS_PER_IDENTIFIER, duckdb.__version__, ignored_identifiers])
    for name in ("_evidence_now", "_records_now", "_links_now", "_records_with_components", "_evidence_changes",
                 "_changed_identifiers", "_affected", "_previous_resolve_state"):
        con.execute(f"drop table if exists {name}")


def _state_matches(con: duckdb.DuckDBPyConnection, schema: str, link: float) -> bool:
    if not all(has_table(con, schema, name, views=False) for name in STATE_TABLES + ("party_xref",)):
        return False
    state = con.execute(f"""
        select link_threshold, max_records_per_identifier, duckdb_version, party_records,
               (select count(*) from {schema}.party_xref), (select count(*) from {schema}.identity_records)
        from {schema}.identity_resolve_state
    """).fetchall()
    expected = (link, MAX_RECORDS_PER_IDENTIFIER, duckdb.__version__)
    return len(state) == 1 and state[0][:3] == expected and state[0][3] == state[0][4] == state[0][5]


def _stage_now(con: duckdb.DuckDBPyConnection, schema: str, link: float) -> None:
    """Temp tables of this run's inputs in the state's shape: evidence, records, model links."""
    con.execute(f"""
        create or replace temp table _evidence_now as
        select record_id, hash(id_type, id_value) as id_hash from {schema}.int_party_identifiers
    """)
    con.execute(f"""
        create or replace temp table _records_now as
        select record_id, hash(source_system, source_entity, source_key, party_type) as record_hash
        from {schema}.int_party_records
    """)
    con.execute(f"""
        create or replace temp table _links_now as
        select record_id_l, record_id_r, match_probability from _scored where match_probability >= {link}
    """)


def _stage_records_with_components(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        create or replace temp table _records_with_components as
        select n.record_id, n.record_hash, c.component
        from _records_now n join _record_components c using (record_id)
    """)
