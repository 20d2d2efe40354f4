"""Stable party ids across runs on hand-made clusters: kept ids, new ids, merges, splits, retired ids."""

from datetime import datetime

import duckdb
import pytest

from dagster_project.identity.deterministic import _party_id
from dagster_project.identity.stable_ids import anchor_party_id, assign_party_ids

WHEN = datetime(2026, 5, 1, 12, 0)


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("create schema integration")
    yield con
    con.close()


def run(con, clusters: list[list[str]], run_id: str = "r", unidentified: tuple[str, ...] = ()):
    """One identity run: assign ids to these clusters, then replace party_xref as the asset does."""
    rows = [(record, n, "unidentified" if record in unidentified else "individual")
            for n, records in enumerate(clusters) for record in records]
    con.execute("create or replace temp table clusters (record_id varchar, cluster bigint, party_type varchar)")
    con.executemany("insert into clusters values (?, ?, ?)", rows)
    stats = assign_party_ids(con, "clusters", run_id=run_id, logged_at=WHEN)
    con.execute("""
        create or replace table integration.party_xref as
        select c.record_id, p.party_id from clusters c join _cluster_party_ids p using (cluster)
    """)
    ids = dict(con.execute("select record_id, party_id from integration.party_xref").fetchall())
    return ids, stats


def log(con):
    return con.execute("""
        select run_id, event, party_id, other_party_id, records_moved from integration.party_merge_log
        order by run_id, event, party_id, other_party_id
    """).fetchall()


def test_first_run_ids_are_the_anchor_hash(con):
    ids, stats = run(con, [["b:2", "a:1"], ["c:0", "d:9"], ["e:5"]], unidentified=("c:0",))
    assert ids["a:1"] == ids["b:2"] == anchor_party_id("a:1") == _party_id("a:1")
    # the anchor is the smallest *identified* record: the unidentified c:0 is passed over
    assert ids["c:0"] == ids["d:9"] == _party_id("d:9")
    assert ids["e:5"] == _party_id("e:5")
    assert (stats.clusters, stats.kept, stats.new, stats.merges, stats.splits) == (3, 0, 3, 0, 0)
    assert con.execute("select count(*) from _cluster_party_ids").fetchall()[0][0] == 3
    assert log(con) == []


def test_only_unidentified_records_anchor_on_the_smallest(con):
    ids, _ = run(con, [["z:1", "y:2"]], unidentified=("z:1", "y:2"))
    assert ids["z:1"] == _party_id("y:2")


def test_identical_rerun_keeps_every_id_and_logs_nothing(con):
    clusters = [["a:1", "b:1"], ["c:1"], ["d:1", "e:1", "f:1"]]
    first, _ = run(con, clusters, "r1")
    second, stats = run(con, [list(reversed(c)) for c in reversed(clusters)], "r2")
    assert second == first
    assert (stats.kept, stats.new, stats.merges, stats.splits) == (3, 0, 0, 0)
    assert log(con) == []


def test_a_new_record_joins_an_existing_party(con):
    first, _ = run(con, [["b:1", "c:1"], ["d:1"]], "r1")
    # a:1 is new and now the smallest record of the first party: the id still does not move
    second, stats = run(con, [["a:1", "b:1", "c:1"], ["d:1"], ["e:1"]], "r2")
    assert second["a:1"] == second["b:1"] == first["b:1"]
    assert second["e:1"] == _party_id("e:1")
    assert (stats.kept, stats.new, stats.merges, stats.splits) == (2, 1, 0, 0)
    assert log(con) == []


def test_two_parties_merge_into_the_bigger(con):
    first, _ = run(con, [["a:1", "a:2"], ["b:1", "b:2", "b:3"]], "r1")
    second, stats = run(con, [["a:1", "a:2", "b:1", "b:2", "b:3"]], "r2")
    assert set(second.values()) == {first["b:1"]}
    assert (stats.kept, stats.new, stats.merges, stats.splits) == (1, 0, 1, 0)
    assert log(con) == [("r2", "merge", first["b:1"], first["a:1"], 2)]
    assert con.execute("select distinct logged_at from integration.party_merge_log").fetchall() == [(WHEN,)]


def test_a_tie_goes_to_the_id_holding_the_smallest_record(con):
    first, _ = run(con, [["a:1", "a:2"], ["b:1", "b:2"]], "r1")
    second, _ = run(con, [["b:2", "a:2", "b:1", "a:1"]], "r2")
    assert set(second.values()) == {first["a:1"]}
    assert log(con) == [("r2", "merge", first["a:1"], first["b:1"], 2)]


def test_a_party_splits_and_the_larger_part_keeps_the_id(con):
    first, _ = run(con, [["a:1", "a:2", "a:3"]], "r1")
    second, stats = run(con, [["a:1", "a:2"], ["a:3"]], "r2")
    assert second["a:1"] == second["a:2"] == first["a:1"]
    assert second["a:3"] == _party_id("a:3")  # never issued before: the plain anchor hash
    assert (stats.kept, stats.new, stats.merges, stats.splits) == (1, 1, 0, 1)
    assert log(con) == [("r2", "split", first["a:1"], _party_id("a:3"), 1)]


def test_a_split_off_anchor_gets_a_salted_id(con):
    first, _ = run(con, [["a:1", "a:2", "a:3"]], "r1")
    assert first["a:1"] == _party_id("a:1")
    # the anchor a:1 leaves; the bigger part keeps the id, so a:1's own hash is taken
    second, _ = run(con, [["a:1"], ["a:2", "a:3"]], "r2")
    assert second["a:2"] == first["a:1"]
    assert second["a:1"] == anchor_party_id("a:1", 1) != _party_id("a:1")
    assert log(con) == [("r2", "split", first["a:1"], anchor_party_id("a:1", 1), 1)]


def test_a_retired_id_is_never_issued_again(con):
    first, _ = run(con, [["a:1", "a:2"], ["b:1"]], "r1")
    run(con, [["a:1", "a:2", "b:1"]], "r2")  # b:1's party is absorbed: its id retires
    third, stats = run(con, [["a:1", "a:2"], ["b:1"]], "r3")  # and b:1 comes apart again
    assert third["a:1"] == first["a:1"]
    assert third["b:1"] == anchor_party_id("b:1", 1) != first["b:1"]
    assert log(con) == [
        ("r2", "merge", first["a:1"], first["b:1"], 1),
        ("r3", "split", first["a:1"], anchor_party_id("b:1", 1), 1),
    ]
    assert (stats.kept, stats.new, stats.splits) == (1, 1, 1)


def test_records_moving_between_surviving_parties_are_a_split(con):
    first, _ = run(con, [["a:1", "a:2", "a:3"], ["b:1", "b:2", "b:3", "b:4"]], "r1")
    second, stats = run(con, [["a:1", "a:2", "a:3", "b:1"], ["b:2", "b:3", "b:4"]], "r2")
    assert second["b:1"] == first["a:1"] and second["b:2"] == first["b:1"]
    assert (stats.kept, stats.merges, stats.splits) == (2, 0, 1)
    assert log(con) == [("r2", "split", first["b:1"], first["a:1"], 1)]


def test_each_previous_id_goes_to_one_cluster_greedily(con):
    # Previous: A = a:1..a:7, B = b:1..b:2, C = c:1..c:5.
    a, b, c = [f"a:{i}" for i in range(1, 8)], ["b:1", "b:2"], [f"c:{i}" for i in range(1, 6)]
    first, _ = run(con, [a, b, c], "r1")
    # Now X = 3 of A + all of B, Y = 4 of A + all of C. Y keeps C (its biggest share), so A's
    # biggest holder is taken and X keeps A; B is absorbed into X, and A's 4 records in Y split off.
    second, stats = run(con, [a[:3] + b, a[3:] + c], "r2")
    assert second["a:1"] == first["a:1"] and second["c:1"] == first["c:1"]
    assert (stats.kept, stats.new, stats.merges, stats.splits) == (2, 0, 1, 1)
    assert log(con) == [
        ("r2", "merge", first["a:1"], first["b:1"], 2),
        ("r2", "split", first["a:1"], first["c:1"], 4),
    ]


def test_the_log_is_append_only(con):
    run(con, [["a:1"], ["b:1"]], "r1")
    run(con, [["a:1", "b:1"]], "r2")
    run(con, [["a:1", "b:1"]], "r3")
    assert [row[0] for row in log(con)] == ["r2"]
    run(con, [["a:1"], ["b:1"]], "r4")
    assert [row[0] for row in log(con)] == ["r2", "r4"]


def test_duplicate_records_are_refused(con):
    con.execute("create temp table clusters as select * from (values ('a:1', 0, 'individual'), ('a:1', 1, 'individual')) "
                "t(record_id, cluster, party_type)")
    with pytest.raises(ValueError, match="1 record_id"):
        assign_party_ids(con, "clusters")
