"""Segment membership kept as changes (dagster_project/analytics/membership.py), on hand-made segment
tables with exact expected rows: entries, moves and leaves per run date, a re-run and a run dated
before the latest, the one-off conversion of the former per-run snapshots, and the refusal of a
party twice in a segment type."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from dagster_project.analytics.membership import held_on, write_membership

JAN, FEB, MAR = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)
CHANGES = "select as_of_date, party_id, segment_type, segment from analytics.segment_membership_changes order by all"
RUNS = "select as_of_date, memberships from analytics.segment_membership_runs order by all"


@pytest.fixture
def wh() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema analytics")
    con.execute("create table analytics.customer_segments (party_id varchar, rfm_segment varchar, "
                "lifecycle_stage varchar, age_group varchar, preferred_channel varchar, product_affinity_group varchar)")
    con.execute("create table analytics.key_accounts (party_id varchar, is_key_account boolean)")
    con.execute("create table analytics.customer_clv (party_id varchar, value_tier varchar)")
    yield con
    con.close()


def _segments(con: duckdb.DuckDBPyConnection, rfm: dict[str, str], tiers: dict[str, str] | None = None) -> None:
    """Set what the segment assets would have written: RFM segments (other types empty) and value tiers."""
    con.execute("delete from analytics.customer_segments")
    con.execute("delete from analytics.customer_clv")
    for party, segment in rfm.items():
        con.execute("insert into analytics.customer_segments (party_id, rfm_segment) values (?, ?)", [party, segment])
    for party, tier in (tiers or {}).items():
        con.execute("insert into analytics.customer_clv values (?, ?)", [party, tier])


def _held(con: duckdb.DuckDBPyConnection, on: date) -> set[tuple]:
    return set(con.execute(held_on(on)).fetchall())


def test_changes_record_entries_moves_and_leaves_against_the_previous_run_date(wh):
    _segments(wh, {"P1": "Champions", "P2": "Loyal", "P4": "Lost"}, {"P1": "gold"})
    assert write_membership(wh, JAN) == 4
    _segments(wh, {"P1": "Champions", "P2": "At risk", "P3": "New"}, {"P1": "gold"})
    assert write_membership(wh, FEB) == 4
    _segments(wh, {"P1": "Loyal", "P2": "At risk", "P3": "Loyal"}, {})
    assert write_membership(wh, MAR) == 3

    assert wh.execute(CHANGES).fetchall() == [
        (JAN, "P1", "rfm", "Champions"), (JAN, "P1", "value_tier", "gold"), (JAN, "P2", "rfm", "Loyal"),
        (JAN, "P4", "rfm", "Lost"),
        (FEB, "P2", "rfm", "At risk"), (FEB, "P3", "rfm", "New"), (FEB, "P4", "rfm", None),
        (MAR, "P1", "rfm", "Loyal"), (MAR, "P1", "value_tier", None), (MAR, "P3", "rfm", "Loyal")]
    assert wh.execute(RUNS).fetchall() == [(JAN, 4), (FEB, 4), (MAR, 3)]
    assert _held(wh, FEB) == {("P1", "rfm", "Champions"), ("P1", "value_tier", "gold"), ("P2", "rfm", "At risk"),
                              ("P3", "rfm", "New")}
    assert _held(wh, MAR) == {("P1", "rfm", "Loyal"), ("P2", "rfm", "At risk"), ("P3", "rfm", "Loyal")}


def test_a_re_run_replaces_its_date_and_a_past_date_keeps_every_other_date_as_it_was(wh):
    _segments(wh, {"P1": "Champions", "P2": "Loyal"})
    write_membership(wh, JAN)
    _segments(wh, {"P1": "Loyal", "P2": "Loyal"})
    write_membership(wh, MAR)
    before = wh.execute(CHANGES).fetchall(), wh.execute(RUNS).fetchall()
    write_membership(wh, MAR)  # same data again: nothing changes
    assert (wh.execute(CHANGES).fetchall(), wh.execute(RUNS).fetchall()) == before

    _segments(wh, {"P1": "Loyal", "P3": "New"})  # a run dated between the two: its changes and March's are redone
    assert write_membership(wh, FEB) == 2
    assert wh.execute(CHANGES).fetchall() == [
        (JAN, "P1", "rfm", "Champions"), (JAN, "P2", "rfm", "Loyal"),
        (FEB, "P1", "rfm", "Loyal"), (FEB, "P2", "rfm", None), (FEB, "P3", "rfm", "New"),
        (MAR, "P2", "rfm", "Loyal"), (MAR, "P3", "rfm", None)]
    assert _held(wh, JAN) == {("P1", "rfm", "Champions"), ("P2", "rfm", "Loyal")}
    assert _held(wh, MAR) == {("P1", "rfm", "Loyal"), ("P2", "rfm", "Loyal")}  # March holds what it held
    assert wh.execute(RUNS).fetchall() == [(JAN, 2), (FEB, 2), (MAR, 2)]


def test_former_snapshots_become_runs_and_changes_and_are_dropped(wh):
    # a warehouse from before the change log: one full snapshot per run date, with its former primary key
    wh.execute("create table analytics.segment_membership (as_of_date date not null, party_id varchar not null, "
               "segment_type varchar not null, segment varchar not null, primary key (as_of_date, party_id, segment_type))")
    wh.execute("insert into analytics.segment_membership values "
               "(?, 'P1', 'rfm', 'Champions'), (?, 'P2', 'rfm', 'Loyal'), (?, 'P1', 'rfm', 'Loyal')", [JAN, JAN, FEB])
    _segments(wh, {"P1": "Loyal", "P3": "New"})
    write_membership(wh, MAR)
    assert wh.execute("select count(*) from information_schema.tables "
                      "where table_name = 'segment_membership'").fetchall() == [(0,)]
    assert wh.execute(CHANGES).fetchall() == [
        (JAN, "P1", "rfm", "Champions"), (JAN, "P2", "rfm", "Loyal"),
        (FEB, "P1", "rfm", "Loyal"), (FEB, "P2", "rfm", None),
        (MAR, "P3", "rfm", "New")]
    assert wh.execute(RUNS).fetchall() == [(JAN, 2), (FEB, 1), (MAR, 2)]


def test_a_party_twice_in_a_segment_type_is_refused_and_nothing_written(wh):
    _segments(wh, {"P1": "Champions"}, {"P1": "gold"})
    write_membership(wh, JAN)
    before = wh.execute(CHANGES).fetchall(), wh.execute(RUNS).fetchall()
    wh.execute("insert into analytics.customer_clv values ('P1', 'bronze')")  # P1 twice: two value tiers
    with pytest.raises(ValueError, match=r"segment membership on 2026-02-28: a party is in a segment type more "
                                         r"than once \(segment_type, party_id, rows\): \[\('value_tier', 'P1', 2\)\]"):
        write_membership(wh, FEB)
    assert (wh.execute(CHANGES).fetchall(), wh.execute(RUNS).fetchall()) == before
