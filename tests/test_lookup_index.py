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
