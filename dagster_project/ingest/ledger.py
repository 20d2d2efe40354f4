"""The raw schema: raw tables, ``raw.rejects``, ``raw.file_ledger``, ``raw.unmatched_files``, ``raw.suppressions``,
``raw.landing_file_hashes`` (file_hashes.py).

All raw tables exist before any file arrives so dbt staging compiles and runs on an empty
landing folder. The ledger is the memory of what was loaded: one row per file content
(sha256), which makes re-delivery of identical content a no-op.
"""

from __future__ import annotations

import duckdb

from dagster_project.ingest.file_hashes import DDL as LANDING_FILE_HASHES_DDL
from dagster_project.sources import ENTITIES, Entity

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_file_sha256", "VARCHAR"),
    ("_row_number", "BIGINT"),
    ("_loaded_at", "TIMESTAMP"),
)

REJECTS_DDL = """
CREATE TABLE IF NOT EXISTS raw.rejects (
    source VARCHAR,
    entity VARCHAR,
    source_file VARCHAR,
    file_sha256 VARCHAR,
    batch_id VARCHAR,
    line_number BIGINT,
    raw_line VARCHAR,
    reason VARCHAR,
    loaded_at TIMESTAMP
)
"""

# status: loaded | empty | unreadable | failed. 'failed' (a loader invariant broke) is retried
# on every run; the others are final for that content (re-deliver fixed content instead).
LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS raw.file_ledger (
    file_sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    file_size BIGINT,
    business_date DATE,
    batch_id VARCHAR,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    data_lines BIGINT,
    blank_lines BIGINT,
    rows_loaded BIGINT,
    rows_rejected BIGINT,
    missing_columns VARCHAR,
    extra_columns VARCHAR,
    loaded_at TIMESTAMP,
    PRIMARY KEY (source, entity, file_sha256)
)
"""

# Landing files that match no entity (unknown folder, misnamed, subfolder, link out of the
# landing folder): never loaded, but kept here so a wrong delivery is visible in the warehouse,
# not only in one run's log. One row per path and content, with the time it was first seen.
UNMATCHED_DDL = """
CREATE TABLE IF NOT EXISTS raw.unmatched_files (
    source_file VARCHAR NOT NULL,
    file_sha256 VARCHAR NOT NULL,
    file_size BIGINT,
    reason VARCHAR NOT NULL,
    first_seen_at TIMESTAMP,
    PRIMARY KEY (source_file, file_sha256)
)
"""

# Lines of erased people (dagster_project/privacy/): per file and batch, how many were suppressed
# (not in raw: delivered = raw + rejects + suppressed) or anonymised (in raw, identifier blanked).
# Counts only, no content.
SUPPRESSIONS_DDL = """
CREATE TABLE IF NOT EXISTS raw.suppressions (
    source VARCHAR,
    entity VARCHAR,
    source_file VARCHAR,
    file_sha256 VARCHAR,
    batch_id VARCHAR,
    action VARCHAR,
    reason VARCHAR,
    rows BIGINT,
    stage VARCHAR,
    recorded_at TIMESTAMP
)
"""

LEDGER_COLUMNS: tuple[str, ...] = (
    "file_sha256", "source", "entity", "source_file", "file_size", "business_date", "batch_id",
    "status", "reason", "data_lines", "blank_lines", "rows_loaded", "rows_rejected",
    "missing_columns", "extra_columns", "loaded_at",
)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_table(entity: Entity) -> str:
    return f"raw.{quote_ident(entity.table)}"


def raw_table_ddl(entity: Entity) -> str:
    cols = [f"{quote_ident(c)} VARCHAR" for c in entity.column_names]
    cols += [f"{quote_ident(n)} {t}" for n, t in LINEAGE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {raw_table(entity)} (\n    " + ",\n    ".join(cols) + "\n)"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema raw, the rejects and ledger tables and every registry raw table if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(REJECTS_DDL)
    con.execute(LEDGER_DDL)
    con.execute(UNMATCHED_DDL)
    con.execute(SUPPRESSIONS_DDL)
    con.execute(LANDING_FILE_HASHES_DDL)
    for entity in ENTITIES:
        con.execute(raw_table_ddl(entity))


def done_hashes(con: duckdb.DuckDBPyConnection, entity: Entity) -> set[str]:
    """Content of this entity already handled for good (every status but 'failed', which is retried).

    Scoped per entity because the only content two entities realistically share is the
    empty file, and an empty ``sessions`` file must not be "already loaded" because an
    empty ``visits`` file was.
    """
    rows = con.execute("SELECT file_sha256 FROM raw.file_ledger WHERE status <> 'failed' "
                       "AND source = ? AND entity = ?", [entity.source, entity.name]).fetchall()
    return {r[0] for r in rows}
