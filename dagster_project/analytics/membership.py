"""analytics.segment_membership: every party's segments, one row per (as_of_date, party,
segment type), kept across runs so history can tell who moved where (marts.segment_migration).

A run writes the rows of its own as-of date and replaces any rows that date already had, in
one transaction: re-running on the same data never duplicates, and a run on new data adds a
date. The rows hold no run time, so a re-run leaves the table identical. A party without a
value for a type (no revenue: no RFM segment) has no row for it.
"""

from datetime import date

import duckdb

SEGMENT_TYPES = {
    "rfm": "select party_id, rfm_segment from analytics.customer_segments",
    "lifecycle": "select party_id, lifecycle_stage from analytics.customer_segments",
    "age_group": "select party_id, age_group from analytics.customer_segments",
    "preferred_channel": "select party_id, preferred_channel from analytics.customer_segments",
    "product_affinity": "select party_id, product_affinity_group from analytics.customer_segments",
    "key_account": "select party_id, case when is_key_account then 'key_account' else 'other' end from analytics.key_accounts",
    "value_tier": "select party_id, value_tier from analytics.customer_clv",
}

CREATE = """
    create table if not exists analytics.segment_membership (
        as_of_date date not null,
        party_id varchar not null,
        segment_type varchar not null,
        segment varchar not null
    )
"""


def _drop_primary_key(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild a table created with the former primary key without it (DuckDB cannot drop a constraint).

    Why: the key's index grew by every snapshot (4.8 M entries a day at a million people) and made a
    re-run of a day, which deletes the date's rows and inserts them again, take 80 s (70 s of it the
    commit updating the index); without it 1.7 s. Uniqueness per date is checked by write_membership.
    """
    keyed = con.execute("select count(*) from duckdb_constraints() where schema_name = 'analytics' "
                        "and table_name = 'segment_membership' and constraint_type = 'PRIMARY KEY'").fetchall()[0][0]
    if not keyed:
        return
    con.execute("begin transaction")
    try:
        con.execute("create table analytics.segment_membership__unkeyed as select * from analytics.segment_membership "
                    "order by as_of_date, segment_type, party_id")
        con.execute("drop table analytics.segment_membership")
        con.execute("alter table analytics.segment_membership__unkeyed rename to segment_membership")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def write_membership(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Replace the rows of ``as_of``; returns the rows written.

    Raises ValueError (and writes nothing) when the date would hold a party twice for a segment type.
    """
    con.execute("create schema if not exists analytics")
    con.execute(CREATE)
    _drop_primary_key(con)
    selects = " union all ".join(f"select '{kind}' as segment_type, * from ({sql}) as s(party_id, segment)"
                                 for kind, sql in SEGMENT_TYPES.items())
    con.execute("begin transaction")
    try:
        con.execute("delete from analytics.segment_membership where as_of_date = $as_of", {"as_of": as_of})
        con.execute(f"""
            insert into analytics.segment_membership (as_of_date, party_id, segment_type, segment)
            select cast($as_of as date), party_id, segment_type, segment
            from ({selects}) as m
            where segment is not null
            order by segment_type, party_id
        """, {"as_of": as_of})
        repeated = con.execute("""
            select segment_type, party_id, count(*) from analytics.segment_membership
            where as_of_date = $as_of group by all having count(*) > 1 order by 1, 2 limit 5
        """, {"as_of": as_of}).fetchall()
        if repeated:
            raise ValueError(f"segment membership on {as_of}: a party is in a segment type more than once "
                             f"(segment_type, party_id, rows): {repeated}; nothing written")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return con.execute("select count(*) from analytics.segment_membership where as_of_date = $as_of",
                       {"as_of": as_of}).fetchall()[0][0]
