"""From evidence to parties: exact keys, the Splink model and people's decisions, in one graph.

Evidence, strongest first: a person's "link" decision, an exact shared identifier, a model
link (match probability at or above the link threshold). A person's "do not link" decision
is a constraint the clustering never breaks. Pairs the model is unsure about (between the
review floor and the link threshold) go to a review queue instead of being linked.
The parties keep the ids they had in the previous run (``stable_ids``), and every merge or
split is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from dagster_project.identity.clustering import cluster_graph
from dagster_project.identity.deterministic import build_exact_key_graph, write_shared_identifier_rules
from dagster_project.identity.resolve_scope import invalidate_state, stage_scope, write_state
from dagster_project.identity.review import load_decisions, write_review_queue
from dagster_project.identity.stable_ids import assign_party_ids

EXACT_STRENGTH = 2.0
DECISION_STRENGTH = 3.0

SCORED_PAIRS_SCHEMA = pa.schema([("record_id_l", pa.string()), ("record_id_r", pa.string()),
                                 ("match_weight", pa.float64()), ("match_probability", pa.float64())])


@dataclass(frozen=True)
class Thresholds:
    """Model pairs at or above ``link`` are linked; pairs in [review, link) wait for a person."""

    link: float = 0.95
    review: float = 0.5


@dataclass(frozen=True)
class ResolutionStats:
    records: int
    identifiers: int
    ignored_identifiers: int
    parties: int
    parties_by_type: dict[str, int]
    largest_party: int
    model_links: int = 0
    decisions: int = 0
    review_queue: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    mode: str = "full"  # or "incremental": only the records the day touched were clustered again
    resolved_records: int = 0


def resolve_parties(con: duckdb.DuckDBPyConnection, schema: str = "integration", *,
                    scored_pairs: pa.Table | None = None, decisions_path: Path | None = None,
                    thresholds: Thresholds = Thresholds(), run_id: str = "",
                    logged_at: datetime | None = None, full: bool = False) -> ResolutionStats:
    """Write ``party_xref``, ``party_identifiers``, ``match_review`` and the merge log.

    Only the records the day touched are clustered again (``resolve_scope``) unless ``full``
    or the previous run's state is missing or in doubt; the result is the same either way.
    """
    decisions = load_decisions(con, decisions_path, schema) if decisions_path else _empty_decisions(con, schema)
    _stage_scored_pairs(con, scored_pairs if scored_pairs is not None else SCORED_PAIRS_SCHEMA.empty_table())
    scope = None if full else stage_scope(con, schema, thresholds.link)
    scoped = scope is not None
    invalidate_state(con, schema)  # until write_state: a run that crashes midway leaves no state to trust
    records, evidence = (_in_scope(f"{schema}.int_party_records"), _in_scope(f"{schema}.int_party_identifiers")) \
        if scoped else (None, None)
    graph = build_exact_key_graph(con, schema, records=records, evidence=evidence)
    write_shared_identifier_rules(con, schema, evidence=evidence)

    model = con.execute(f"""
        select l.node as a, r.node as b, s.match_probability as strength
        from _scored s
        join _record_nodes l on l.record_id = s.record_id_l
        join _record_nodes r on r.record_id = s.record_id_r
        left join {schema}.match_decisions d on d.record_id_l = s.record_id_l and d.record_id_r = s.record_id_r
        where s.match_probability >= {thresholds.link} and d.decision is null
    """).fetchnumpy()
    decided = con.execute(f"""
        select l.node as a, r.node as b, d.decision
        from {schema}.match_decisions d
        join _record_nodes l on l.record_id = d.record_id_l
        join _record_nodes r on r.record_id = d.record_id_r
    """).fetchnumpy()
    is_link = np.asarray(decided["decision"] == "link", dtype=bool)
    a = np.concatenate([graph.a, model["a"].astype(np.int64), decided["a"][is_link].astype(np.int64)])
    b = np.concatenate([graph.b, model["b"].astype(np.int64), decided["b"][is_link].astype(np.int64)])
    strength = np.concatenate([np.full(len(graph.a), EXACT_STRENGTH), model["strength"].astype(np.float64),
                               np.full(int(is_link.sum()), DECISION_STRENGTH)])
    cannot_link = np.column_stack([decided["a"][~is_link], decided["b"][~is_link]]).astype(np.int64).reshape(-1, 2)
    clustering = cluster_graph(graph.nodes, a, b, strength, cannot_link)

    nodes = np.arange(graph.nodes, dtype=np.int64)
    con.register("_labels", pa.table({"node": nodes, "cluster": clustering.labels.astype(np.int64),
                                      "root": clustering.component_roots.astype(np.int64)}))
    con.execute("""
        create or replace temp table _clusters as
        select r.record_id, l.cluster, r.party_type
        from _record_nodes r join _labels l using (node)
    """)
    con.execute("""
        create or replace temp table _record_components as
        select r.record_id, hash(root.record_id) as component
        from _record_nodes r join _labels l using (node) join _record_nodes root on root.node = l.root
    """)
    con.execute("""
        create or replace temp table _cluster_types as
        select cluster,
               case when bool_or(party_type = 'organisation') then 'organisation'
                    when bool_or(party_type = 'individual') then 'individual'
                    else 'unidentified' end as party_type
        from _clusters group by cluster
    """)
    if scoped:  # the parties the scope's records had: their identifier rows are replaced below
        con.execute(f"""
            create or replace temp table _scope_previous_ids as
            select distinct party_id from {schema}.party_xref semi join _scope using (record_id)
        """)
    ids = assign_party_ids(con, "_clusters", schema=schema, run_id=run_id, logged_at=logged_at)
    _write_xref(con, schema, thresholds, scoped)
    _write_party_identifiers(con, schema, scoped)
    con.unregister("_labels")
    con.execute(f"""
        create or replace temp table _review_candidates as
        select s.record_id_l, s.record_id_r, s.match_probability, s.match_weight
        from _scored s
        join {schema}.party_xref l on l.record_id = s.record_id_l
        join {schema}.party_xref r on r.record_id = s.record_id_r
        where l.party_id <> r.party_id
    """)
    queued = write_review_queue(con, "_review_candidates", schema=schema, lower=thresholds.review, upper=thresholds.link)
    write_state(con, schema, thresholds.link, scoped, graph.ignored_identifiers)
    if scoped:
        con.execute("drop table _scope")
    totals = _totals(con, schema, thresholds.link)
    return ResolutionStats(
        **totals, decisions=decisions, review_queue=queued,
        # kept: every party whose id lived on, in the scope or not (a scoped run assigned only the scope's)
        ids={"kept": totals["parties"] - ids.new, "new": ids.new, "merges": ids.merges, "splits": ids.splits},
        mode="incremental" if scoped else "full", resolved_records=graph.records,
    )


def _totals(con: duckdb.DuckDBPyConnection, schema: str, link: float) -> dict:
    """The whole resolution's figures, read from what was written (a scoped run saw only its scope)."""
    records, identifiers, ignored, largest, model_links = con.execute(f"""
        select (select count(*) from {schema}.party_xref), (select count(*) from {schema}.party_identifiers),
               (select ignored_identifiers from {schema}.identity_resolve_state),
               (select coalesce(max(records), 0) from (select count(*) as records from {schema}.party_xref
                                                       group by party_id)),
               (select count(*) from _scored s
                join {schema}.party_xref l on l.record_id = s.record_id_l
                join {schema}.party_xref r on r.record_id = s.record_id_r
                left join {schema}.match_decisions d
                    on d.record_id_l = s.record_id_l and d.record_id_r = s.record_id_r
                where s.match_probability >= {link} and d.decision is null)
    """).fetchall()[0]
    by_type = dict(con.execute(f"select party_type, count(distinct party_id) from {schema}.party_xref "
                               "group by all order by 1").fetchall())
    return {"records": records, "identifiers": identifiers, "ignored_identifiers": ignored,
            "parties": sum(by_type.values()), "parties_by_type": by_type, "largest_party": largest,
            "model_links": model_links}


def _in_scope(table: str) -> str:
    return f"(select * from {table} semi join _scope using (record_id))"


def _stage_scored_pairs(con: duckdb.DuckDBPyConnection, pairs: pa.Table) -> None:
    con.register("_scored_in", pairs.select(SCORED_PAIRS_SCHEMA.names).cast(SCORED_PAIRS_SCHEMA))
    con.execute("create or replace temp table _scored as select * from _scored_in")
    con.unregister("_scored_in")


def _empty_decisions(con: duckdb.DuckDBPyConnection, schema: str) -> int:
    """No decisions file configured: an empty decisions table keeps the SQL below uniform."""
    return load_decisions(con, Path("/nonexistent/match_decisions.csv"), schema)


def _write_xref(con: duckdb.DuckDBPyConnection, schema: str, thresholds: Thresholds, scoped: bool) -> None:
    """Every record → party, with the evidence that linked it: exact keys, the model, a person."""
    con.execute(f"""
        create or replace temp table _record_links as
        with evidence as (
            select record_id_l as record_id, record_id_r as other, match_probability, false as decided from _scored
            where match_probability >= {thresholds.link}
            union all
            select record_id_r, record_id_l, match_probability, false from _scored
            where match_probability >= {thresholds.link}
            union all
            select record_id_l, record_id_r, null, true from {schema}.match_decisions where decision = 'link'
            union all
            select record_id_r, record_id_l, null, true from {schema}.match_decisions where decision = 'link'
        )
        select e.record_id, max(e.match_probability) as model_probability, bool_or(e.decided) as decided_link
        from evidence e
        join _clusters me on me.record_id = e.record_id
        join _clusters other on other.record_id = e.other
        where me.cluster = other.cluster
        group by e.record_id
    """)
    rows = f"""
        select r.record_id, r.source_system, r.source_entity, r.source_key,
               p.party_id, t.party_type,
               coalesce(nullif(concat_ws('; ',
                   case when e.shared_types is not null then 'exact:' || e.shared_types end,
                   case when k.model_probability is not null then 'model:splink' end,
                   case when k.decided_link then 'review:link' end), ''), 'singleton') as match_rule,
               case when e.shared_types is not null or k.decided_link then 1.0
                    else k.model_probability end::double as match_probability
        from _record_nodes r
        join _clusters c using (record_id)
        join _cluster_types t using (cluster)
        join _cluster_party_ids p using (cluster)
        left join _exact_rules e using (record_id)
        left join _record_links k using (record_id)
        order by r.record_id
    """
    _replace_rows(con, f"{schema}.party_xref", rows, scoped,
                  f"delete from {schema}.party_xref where record_id in (select record_id from _scope)")


def _write_party_identifiers(con: duckdb.DuckDBPyConnection, schema: str, scoped: bool) -> None:
    """Every linking identifier → its party; a scoped run replaces those of the scope's previous parties."""
    rows = """
        select i.id_type, i.id_value, p.party_id
        from _identifier_nodes i join _labels l using (node) join _cluster_party_ids p using (cluster)
        order by i.id_type, i.id_value
    """
    _replace_rows(con, f"{schema}.party_identifiers", rows, scoped,
                  f"delete from {schema}.party_identifiers where party_id in (select party_id from _scope_previous_ids)")


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows: str, scoped: bool, delete: str) -> None:
    """The whole table from ``rows``; or, scoped, ``delete`` the scope's old rows and insert ``rows``."""
    if not scoped:
        con.execute(f"create or replace table {table} as {rows}")
        return
    con.execute(f"create or replace temp table _replacement_rows as {rows}")
    con.execute(delete)
    con.execute(f"insert into {table} select * from _replacement_rows")
    con.execute("drop table _replacement_rows")
