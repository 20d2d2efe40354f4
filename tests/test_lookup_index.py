"""Lookup indexes on the serving copies (serving/lookup_index.py): created, kept right through patches
and rewrites, and asked for by the dbt project's customer_360 and dim_customer. (DuckDB decides at
run time whether a scan uses the index, which EXPLAIN does not show: the speed is measured by the
benchmark's customer_360 lookup, not here.)"""

import duckdb
import pytest

from tests.test_serving_incremental import _big_facts, _change, _content, classification, warehouse  # noqa: F401
from tests.test_serving_publish import _publish

INDEXES = {("marts", "dim_customer"): ("party_id", "no_such_column"),
           ("marts", "fct_interactions"): ("party_id",)}


def _indexes(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(con.execute("select schema_name, table_name, index_name from duckdb_indexes()").fetchall())


@pytest.mark.parametrize("level", ["analyst", "restricted"])
def test_indexes_are_created_kept_through_patches_and_answer_lookups(tmp_path, warehouse, classification, level):
    _big_facts(warehouse)
    daily, full = tmp_path / "serving.duckdb", tmp_path / "full.duckdb"
    first = _publish(warehouse, daily, level, classification, indexes=INDEXES)
    # a column the table lacks is skipped; a table nobody asked for gets none
    assert sorted(first.indexed) == ["marts.dim_customer.party_id", "marts.fct_interactions.party_id"]
    expected = [("marts", "dim_customer", "dim_customer__party_id__lookup"),
                ("marts", "fct_interactions", "fct_interactions__party_id__lookup")]
    assert _indexes(daily) == expected
    # a day later: a few facts change (patched in place, the index maintained) and a customer moves
    _change(warehouse, "update marts.fct_interactions set party_id = 'P3' where interaction_id in ('x5', 'x6'); "
                       "delete from marts.fct_interactions where interaction_id = 'x7'; "
                       "insert into marts.fct_interactions values ('i3', 'P3', 'email', 'open'); "
                       "update marts.dim_customer set city = 'Abuja' where party_id = 'P2'")
    second = _publish(warehouse, daily, level, classification, indexes=INDEXES)
    assert "marts.fct_interactions" in second.patched and _indexes(daily) == expected
    with duckdb.connect(str(warehouse), read_only=True) as con:
        truth = sorted(con.execute("select interaction_id from marts.fct_interactions where party_id = 'P3'").fetchall())
    with duckdb.connect(str(daily), read_only=True) as con:
        assert sorted(con.execute("select interaction_id from marts.fct_interactions where party_id = ?",
                                  ["P3"]).fetchall()) == truth
        assert con.execute("select city from marts.dim_customer where party_id = ?", ["P2"]).fetchall() == [("Abuja",)]
    assert len(truth) == 666 + 2 and ("x6",) in truth and ("i3",) in truth  # x2, x5, ... x1997; x6 and i3 moved in
    # a table rewritten (a new column) gets its index again
    _change(warehouse, "alter table marts.fct_interactions add column score integer default 1")
    third = _publish(warehouse, daily, level, classification, indexes=INDEXES)
    assert "marts.fct_interactions" in third.rewritten and _indexes(daily) == expected
    _publish(warehouse, full, level, classification, incremental=False)
    assert _content(daily) == _content(full)


def test_customer_360_and_dim_customer_ask_for_lookup_indexes_in_the_dbt_project():
    from dagster_project.dbt_assets import dbt_project
    from dagster_project.serving.lookup_index import indexed_columns

    assert indexed_columns(dbt_project.manifest_path) == {("marts", "customer_360"): ("party_id",),
                                                          ("marts", "dim_customer"): ("party_id", "household_id")}


def test_a_bulk_delete_drops_the_tables_indexes_and_a_small_one_keeps_them(tmp_path):
    from dagster_project.serving.lookup_index import REBUILD_SHARE, drop_for_bulk_delete

    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.t as select i as k, i % 3 as g from range(1000) as t(i)")
    con.execute("create index t__k__lookup on marts.t (k)")
    con.execute("create index t__g__lookup on marts.t (g)")
    catalog = con.execute("select current_database()").fetchall()[0][0]
    assert REBUILD_SHARE == 0.02
    assert drop_for_bulk_delete(con, catalog, "marts", "t", deleting=20, rows=1000) == []
    assert len(con.execute("select * from duckdb_indexes() where table_name = 't'").fetchall()) == 2
    assert sorted(drop_for_bulk_delete(con, catalog, "marts", "t", deleting=21, rows=1000)) == [
        "t__g__lookup", "t__k__lookup"]
    assert con.execute("select * from duckdb_indexes() where table_name = 't'").fetchall() == []


def test_a_keyed_patch_that_replaces_many_rows_builds_the_indexes_again(tmp_path, warehouse, classification):
    """A run re-derives 100 of 1,000 events (over REBUILD_SHARE): the copy is patched by key without
    its indexes, which the publish builds again; lookups answer the new values."""
    from tests.test_serving_incremental import KEYED, T2, _events

    indexes = {("marts", "fct_events"): ("event_id", "value")}
    _events(warehouse)
    daily, full = tmp_path / "daily.duckdb", tmp_path / "full.duckdb"
    _publish(warehouse, daily, "analyst", classification, keyed=KEYED, indexes=indexes)
    expected = [("marts", "fct_events", "fct_events__event_id__lookup"),
                ("marts", "fct_events", "fct_events__value__lookup")]
    assert _indexes(daily) == expected
    _change(warehouse, "delete from marts.fct_events where event_id in (select 'e' || i from range(100) as t(i)); "
                       "insert into marts.fct_events select 'e' || i, 42, "
                       f"timestamp '{T2}' from range(100) as t(i)")
    report = _publish(warehouse, daily, "analyst", classification, keyed=KEYED, indexes=indexes)
    assert report.patched_by_key == ["marts.fct_events"] and _indexes(daily) == expected
    with duckdb.connect(str(daily), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_events where value = ?", [42]).fetchall() == [(100,)]
        assert con.execute("select value from marts.fct_events where event_id = ?", ["e7"]).fetchall() == [(42,)]
    _publish(warehouse, full, "analyst", classification, incremental=False)
    assert _content(daily) == _content(full)
