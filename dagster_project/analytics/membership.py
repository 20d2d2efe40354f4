"""Every party's segments over time, kept as changes: ``analytics.segment_membership_changes`` and
``analytics.segment_membership_runs``, so history can tell who moved where (history.hist_segment_membership,
marts.segment_migration).

A run on as-of date D records D in ``segment_membership_runs`` (with the memberships held that day) and,
in ``segment_membership_changes``, one row per (party, segment type) whose segment on D differs from its
segment on the previous run date: it entered or moved (the new segment) or left (segment NULL). What a
party held on any run date is its latest change on or before that date, unless that change is a leave.

Why changes and not a snapshot per run: a snapshot of every party kept 4.8 M rows a day at a million
people (1.75 G a year), and the history, the migration matrix, the serving copies and the Parquet export
all grew with it; about 25 k memberships change on a day.

Re-running a date replaces its changes (against the previous run date) and its run row; if a later run
date exists (the as-of date moved back), that date's changes are recomputed against the new state, so
what is held on every other date stays as it was. No run time is recorded: a re-run on the same data
leaves both tables identical. A party without a value for a type (no revenue: no RFM segment) holds none.
"""

from datetime import date

import duckdb

from dagster_project.warehouse import has_table

SEGMENT_TYPES = {
    "rfm": "select party_id, rfm_segment from analytics.customer_segments",
    "lifecycle": "select party_id, lifecycle_stage from analytics.customer_segments",
    "age_group": "select party_id, age_group from analytics.customer_segments",
    "preferred_channel": "select party_id, preferred_channel from analytics.customer_segments",
    "product_affinity": "select party_id, product_affinity_group from analytics.customer_segments",
    "key_account": "select party_id, case when is_key_account then 'key_account' else 'other' end from analytics.key_accounts",
    "value_tier": "select party_id, value_tier from analytics.customer_clv",
}

CHANGES = "analytics.segment_membership_changes"
RUNS = "analytics.segment_membership_runs"
FORMER_SNAPSHOTS = "analytics.segment_membership"  # one full snapshot per run date, until this module replaced it

CREATE = (
    f"""create table if not exists {CHANGES} (
        as_of_date date not null,
        party_id varchar not null,
        segment_type varchar not null,
        segment varchar
    )""",
    f"""create table if not exists {RUNS} (
        as_of_date date not null primary key,
        memberships bigint not null
    )""",
)

NOTHING_HELD = "select cast(null as varchar) as party_id, cast(null as varchar) as segment_type, " \
               "cast(null as varchar) as segment where false"


def held_on(on: date | None) -> str:
    """SQL for (party_id, segment_type, segment) held on run date ``on``: the latest change up to it, unless a leave."""
    if on is None:
        return NOTHING_HELD
    return f"""
        select party_id, segment_type, segment from (
            select party_id, segment_type, segment from {CHANGES}
            where as_of_date <= date '{on.isoformat()}'
            qualify row_number() over (partition by party_id, segment_type order by as_of_date desc) = 1
        ) as latest
        where segment is not null
    """


def _insert_changes(con: duckdb.DuckDBPyConnection, at: date, before_sql: str, after_sql: str) -> None:
    """Record at ``at`` what differs between two held states: entries and moves (new segment), leaves (NULL)."""
    con.execute(f"""
        insert into {CHANGES} (as_of_date, party_id, segment_type, segment)
        select cast($at as date), coalesce(a.party_id, b.party_id), coalesce(a.segment_type, b.segment_type), a.segment
        from ({before_sql}) as b
        full outer join ({after_sql}) as a on a.party_id = b.party_id and a.segment_type = b.segment_type
        where b.party_id is null or a.party_id is null or a.segment <> b.segment
        order by 3, 2
    """, {"at": at})


def _run_dates(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[date | None, date | None]:
    """The run dates just before and just after ``as_of`` (None where there is none)."""
    return con.execute(f"select max(as_of_date) filter (where as_of_date < $d), "
                       f"min(as_of_date) filter (where as_of_date > $d) from {RUNS}", {"d": as_of}).fetchall()[0]


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists analytics")
    for create in CREATE:
        con.execute(create)


def convert_snapshots(con: duckdb.DuckDBPyConnection) -> int:
    """Turn the former per-run snapshots (``analytics.segment_membership``) into runs and changes, then drop them.

    A one-off for warehouses built before the change log; returns the run dates converted (0: nothing to do).
    Each date's changes are taken against the previous date's snapshot, as write_membership would have.
    """
    if not has_table(con, *FORMER_SNAPSHOTS.split(".")):
        return 0
    _create_tables(con)
    dates = [d for (d,) in con.execute(f"select distinct as_of_date from {FORMER_SNAPSHOTS} order by 1").fetchall()]
    con.execute("begin transaction")
    try:
        def snapshot(on: date | None) -> str:
            return NOTHING_HELD if on is None else (f"select party_id, segment_type, segment from {FORMER_SNAPSHOTS} "
                                                    f"where as_of_date = date '{on.isoformat()}'")

        previous = None
        for on in dates:
            con.execute(f"delete from {CHANGES} where as_of_date = $d", {"d": on})
            _insert_changes(con, on, snapshot(previous), snapshot(on))
            con.execute(f"delete from {RUNS} where as_of_date = $d", {"d": on})
            con.execute(f"insert into {RUNS} select $d, count(*) from {FORMER_SNAPSHOTS} where as_of_date = $d",
                        {"d": on})
            previous = on
        con.execute(f"drop table {FORMER_SNAPSHOTS}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(dates)


def write_membership(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Record the memberships held on ``as_of`` (replacing that date's); returns how many are held.

    Raises ValueError (and writes nothing) when the date would hold a party twice for a segment type.
    """
    _create_tables(con)
    convert_snapshots(con)
    selects = " union all ".join(f"select '{kind}' as segment_type, * from ({sql}) as s(party_id, segment)"
                                 for kind, sql in SEGMENT_TYPES.items())
    con.execute(f"create or replace temp table _membership_now as select party_id, segment_type, segment "
                f"from ({selects}) as m where segment is not null")
    try:
        repeated = con.execute("select segment_type, party_id, count(*) from _membership_now "
                               "group by all having count(*) > 1 order by 1, 2 limit 5").fetchall()
        if repeated:
            raise ValueError(f"segment membership on {as_of}: a party is in a segment type more than once "
                             f"(segment_type, party_id, rows): {repeated}; nothing written")
        previous, following = _run_dates(con, as_of)
        con.execute("begin transaction")
        try:
            if following is not None:  # what the later date holds, read before this date's changes are replaced
                con.execute(f"create or replace temp table _membership_following as {held_on(following)}")
            con.execute(f"delete from {CHANGES} where as_of_date = $d", {"d": as_of})
            _insert_changes(con, as_of, held_on(previous), "select * from _membership_now")
            if following is not None:
                con.execute(f"delete from {CHANGES} where as_of_date = $d", {"d": following})
                _insert_changes(con, following, "select * from _membership_now",
                                "select * from _membership_following")
            con.execute(f"delete from {RUNS} where as_of_date = $d", {"d": as_of})
            con.execute(f"insert into {RUNS} select $d, count(*) from _membership_now", {"d": as_of})
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        return con.execute("select count(*) from _membership_now").fetchall()[0][0]
    finally:
        con.execute("drop table if exists _membership_now")
        con.execute("drop table if exists _membership_following")
