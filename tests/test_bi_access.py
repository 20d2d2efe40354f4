"""BI access: the README's analyst queries run through duckdb-engine (the driver Superset uses)
with the read-only URL the README gives, and key marts carry markdown previews in Dagster."""

from __future__ import annotations

import re

import duckdb
import pytest
import sqlalchemy as sa

from dagster_project.mart_previews import markdown_table, preview_markdown
from dagster_project.settings import PROJECT_ROOT, get_settings


def _readme_section(title: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(f"### {title}", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def _analyst_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", _readme_section("Analyst queries"), flags=re.S)


def _read_only_url(path) -> str:
    return f"duckdb:///{path}?access_mode=read_only"  # README: duckdb:////abs/path/... (path starts with /)


def test_readme_gives_the_read_only_url_and_the_analyst_queries():
    connect = _readme_section("Connect a client")
    assert "duckdb:////abs/path/data/serving.duckdb?access_mode=read_only" in connect
    for client in ("DuckDB CLI", "Python", "DBeaver", "Superset", "Metabase"):
        assert client in connect
    queries = _analyst_queries()
    assert len(queries) == 5
    assert any("metrics.metric_values" in q for q in queries)


def test_markdown_table_escapes_pipes_and_formats_numbers():
    table = markdown_table(["a", "b"], [("x|y", 1234.5), (None, 7)])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1,234.5 |", "|  | 7 |"]


def test_preview_only_for_listed_marts(tmp_path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.customer_counts as select * from (values (2, 'people', 'individual', 5, 'People.'),"
                " (1, 'customers', 'individual', 3, 'Customers.')) t(measure_order, measure, party_type, value, definition)")
    assert preview_markdown(con, ("marts", "customer_counts")).splitlines()[2:] == [
        "| customers | individual | 3 | Customers. |", "| people | individual | 5 | People. |"]
    assert preview_markdown(con, ("marts", "dim_customer")) is None


e2e = pytest.mark.e2e


@pytest.fixture(scope="module")
def bi_database(built_world):
    """The serving copy when the publish step wrote one, else the warehouse itself."""
    serving = get_settings().serving_path
    return serving if serving.exists() else built_world.warehouse


@e2e
@pytest.mark.parametrize("index", range(5))
def test_readme_analyst_query_runs_through_duckdb_engine(bi_database, index):
    engine = sa.create_engine(_read_only_url(bi_database))
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(_analyst_queries()[index])).fetchall()
    finally:
        engine.dispose()
    assert len(rows) > 0


@e2e
def test_duckdb_engine_read_only_lists_the_bi_schemas_and_refuses_writes(bi_database):
    engine = sa.create_engine(_read_only_url(bi_database))
    try:
        inspector = sa.inspect(engine)
        # duckdb-engine names schemas <catalog>.<schema>, the catalog being the file's stem
        assert {"marts", "metrics", "analytics"} <= {name.split(".")[-1] for name in inspector.get_schema_names()}
        assert "customer_360" in inspector.get_table_names(schema="marts")
        # a view in the warehouse; the serving copy holds it as a table (the publish step snapshots views)
        metric_relations = inspector.get_view_names(schema="metrics") + inspector.get_table_names(schema="metrics")
        assert "metric_values" in metric_relations
        with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.execute(sa.text("create table marts.bi_was_here (x integer)"))
    finally:
        engine.dispose()


@e2e
def test_key_marts_carry_a_markdown_preview(built_world):
    previews = {}
    for event in built_world.first_run.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            if "preview" in materialization.metadata:
                previews[tuple(materialization.asset_key.path)] = materialization.metadata["preview"].value
    assert {("marts", "customer_counts"), ("marts", "customer_360"), ("metrics", "metric_values")} <= set(previews)
    assert "| people | individual |" in previews[("marts", "customer_counts")]
    assert "@" not in previews[("marts", "customer_360")]  # no email addresses in Dagster's metadata store
    assert "| first_contact_resolution |" in previews[("metrics", "metric_values")]
