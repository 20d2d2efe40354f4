"""Which DuckDB file the app reads, and read-only connections to it.

Order: env ``CRM_CIF_APP_DB``; the restricted serving copy (settings
``serving_restricted_path``: a service representative must see names, emails and phones, which
the analyst copy masks); the warehouse itself while no serving copy has been published yet.
The warehouse fallback is for a demo: a read-only reader also locks out DuckDB's one writer, so
a pipeline run starting while a page is being read could not open the warehouse.

A connection is opened per page render and closed at once, never kept: the publish step swaps
a new serving file in, and a connection held open would keep reading the old one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from dagster_project.settings import get_settings

APP_DB_ENV = "CRM_CIF_APP_DB"


def app_database_path() -> Path:
    """The file to read, by the order in the module docstring."""
    override = os.environ.get(APP_DB_ENV)
    if override:
        return Path(override).expanduser().resolve()
    settings = get_settings()
    restricted = getattr(settings, "serving_restricted_path", None)
    if restricted is not None and Path(restricted).exists():
        return Path(restricted)
    return settings.warehouse_path


@contextmanager
def read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """'schema.table' of every table and view, so a page can say 'not computed yet' instead of failing."""
    rows = con.execute("""
        select table_schema || '.' || table_name from information_schema.tables
    """).fetchall()
    return {row[0] for row in rows}


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".", 1)
    rows = con.execute("""
        select column_name from information_schema.columns where table_schema = ? and table_name = ?
    """, [schema, name]).fetchall()
    return {row[0] for row in rows}
