"""The warehouse file: created once, in a storage format that older DuckDB clients can read.

DuckDB 2.0 writes a new file format by default, which the DuckDB shell on PyPI (1.5) and many
BI drivers cannot open ("version number 69"). Created with an older storage version, the same
file opens in every DuckDB client from 1.4 on, and DuckDB 2.0 keeps writing in that format.
"""

from pathlib import Path

import duckdb

STORAGE_VERSION = "v1.4.0"


def ensure_warehouse(path: Path) -> Path:
    """Create an empty warehouse at ``path`` unless one exists; never touch an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION}).close()
    return path


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None,
              views: bool = True) -> bool:
    """Whether a table (or, with ``views``, a view) exists in ``catalog`` (default: the current one).

    A layer not built yet is something to report, not an error.
    """
    return bool(con.execute("select count(*) from information_schema.tables "
                            "where table_catalog = coalesce(?, current_database()) and table_schema = ? "
                            "and table_name = ? and (table_type = 'BASE TABLE' or (? and table_type = 'VIEW'))",
                            [catalog, schema, table, views]).fetchall()[0][0])
