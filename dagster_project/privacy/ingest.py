"""The loader's side of erasure: files delivered after an erasure never bring the person back.

Runs on the staged temp tables of a chunk (``_ingest_rows``, ``_ingest_rejects``) before they
are written, so suppressed lines never touch the warehouse file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.privacy.erasure_log import erased_hashes, register_hashes
from dagster_project.privacy.identifiers import install_sql_macros
from dagster_project.ingest.ledger import SUPPRESSIONS_DDL
from dagster_project.privacy.suppression import scrub_lines, scrub_rows
from dagster_project.settings import get_settings
from dagster_project.sources import Entity

SUPPRESSION_COLUMNS = ("source", "entity", "source_file", "file_sha256", "batch_id", "action", "reason", "rows",
                       "stage", "recorded_at")


def prepare_suppression(con: duckdb.DuckDBPyConnection, erasure_log: Path | None = None) -> bool:
    """Load the erasure log's hashes into the connection; False (nothing to do) when it is empty."""
    settings = get_settings()
    hashes = erased_hashes(erasure_log or settings.erasure_log_path)
    if not hashes:
        return False
    install_sql_macros(con, settings.erasure_salt, settings.default_country_code)
    register_hashes(con, hashes)
    return True


def suppress_staged(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[int, tuple[int, int]]:
    """Per staged file id: (lines suppressed, rows anonymised)."""
    suppressed, anonymised = scrub_rows(con, entity, "_ingest_rows", "file_id")
    for key, n in scrub_lines(con, "_ingest_rejects", "raw_line", "file_id").items():
        suppressed[key] = suppressed.get(key, 0) + n
    out: dict[int, tuple[int, int]] = {}
    for key in set(suppressed) | set(anonymised):
        out[key[0]] = (suppressed.get(key, 0), anonymised.get(key, 0))
    return out


def record_suppressions(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Append counts to ``raw.suppressions`` (inside the caller's transaction)."""
    if not rows:
        return
    con.execute(SUPPRESSIONS_DDL)
    columns = list(zip(*rows))
    table = pa.table({name: pa.array(list(values), pa.int64() if name == "rows" else None)
                      for name, values in zip(SUPPRESSION_COLUMNS, columns)})
    con.register("_suppressions_arrow", table)
    try:
        con.execute(f"insert into raw.suppressions ({', '.join(SUPPRESSION_COLUMNS)}) "
                    f"select {', '.join(SUPPRESSION_COLUMNS)} from _suppressions_arrow")
    finally:
        con.unregister("_suppressions_arrow")
