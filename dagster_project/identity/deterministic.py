"""Deterministic identity: records that share an exact normalised identifier are one party.

The evidence (record → identifier) comes from the dbt model ``int_party_identifiers``. It is
turned into a graph whose nodes are records and identifiers; its connected components are
the parties the exact rules alone would give. ``resolve.py`` adds the Splink model's links
and people's decisions to the same graph before the parties are cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

# An identifier carried by more records than this is a placeholder or a shared line
# (a switchboard number, info@...), not evidence that they are one person: it links nothing.
MAX_RECORDS_PER_IDENTIFIER = 25


@dataclass(frozen=True)
class ExactKeyGraph:
    """Records are nodes 0..records-1 (temp table ``_record_nodes``), identifiers follow."""

    records: int
    nodes: int
    a: np.ndarray
    b: np.ndarray
    identifiers: int
    ignored_identifiers: int


def build_exact_key_graph(con: duckdb.DuckDBPyConnection, schema: str = "integration",
                          records: str | None = None, evidence: str | None = None) -> ExactKeyGraph:
    """Number the records and shared identifiers, and return the record–identifier edges.

    ``records`` and ``evidence`` narrow the graph to some records (default: every record of
    ``int_party_records`` and every row of ``int_party_identifiers``); an identifier's degree
    always counts every record carrying it, so the cap cuts the same identifiers either way.
    """
    every = f"{schema}.int_party_identifiers"
    carried = "" if evidence is None else \
        f"semi join (select distinct id_type, id_value from {evidence}) s using (id_type, id_value)"
    records = records or f"{schema}.int_party_records"
    evidence = evidence or every
    con.execute(f"""
        create or replace temp table _id_degree as
        select id_type, id_value, count(distinct record_id) as records
        from {every} {carried} group by all
    """)
    con.execute(f"""
        create or replace temp table _record_nodes as
        select record_id, source_system, source_entity, source_key, party_type, trust_rank,
               (row_number() over (order by record_id) - 1)::bigint as node
        from {records}
    """)
    n_records = con.execute("select count(*) from _record_nodes").fetchall()[0][0]
    con.execute(f"""
        create or replace temp table _identifier_nodes as
        select id_type, id_value, {n_records} + (row_number() over (order by id_type, id_value) - 1)::bigint as node
        from _id_degree where records <= {MAX_RECORDS_PER_IDENTIFIER}
    """)
    edges = con.execute(f"""
        select r.node as a, i.node as b
        from {evidence} e
        join _record_nodes r using (record_id)
        join _identifier_nodes i using (id_type, id_value)
    """).fetchnumpy()
    identifiers = con.execute("select count(*) from _identifier_nodes").fetchall()[0][0]
    ignored = con.execute(f"select count(*) from _id_degree where records > {MAX_RECORDS_PER_IDENTIFIER}").fetchall()[0][0]
    return ExactKeyGraph(records=n_records, nodes=n_records + identifiers, a=edges["a"].astype(np.int64),
                         b=edges["b"].astype(np.int64), identifiers=identifiers, ignored_identifiers=ignored)


def write_shared_identifier_rules(con: duckdb.DuckDBPyConnection, schema: str = "integration",
                                  evidence: str | None = None) -> None:
    """Temp table ``_exact_rules``: per record, the identifier types it shares with another record."""
    con.execute(f"""
        create or replace temp table _exact_rules as
        select e.record_id, string_agg(distinct e.id_type, '+' order by e.id_type) as shared_types
        from {evidence or f"{schema}.int_party_identifiers"} e
        join _id_degree d using (id_type, id_value)
        where d.records between 2 and {MAX_RECORDS_PER_IDENTIFIER}
        group by e.record_id
    """)
