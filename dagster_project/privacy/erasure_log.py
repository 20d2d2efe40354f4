"""The erasure log: a CSV file beside the warehouse, one salted hash and a timestamp per identifier.

A file, not a warehouse table, for the reason match decisions are one: rebuilding the warehouse
from the landing files (delete it, `crm-cif run`) must not forget who was erased, or the next
load would bring them back. It holds no plain identifier: ingestion hashes what it reads the
same way and suppresses what matches. ``requested_by`` and ``reason`` say who asked and why,
for the controller's records; they must never name the person.
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

LOG_COLUMNS = ["erasure_id", "erased_at", "identifier_kind", "identifier_hash", "requested_by", "reason"]


@dataclass(frozen=True)
class LogEntry:
    erasure_id: str
    erased_at: str  # ISO UTC
    identifier_kind: str
    identifier_hash: str
    requested_by: str
    reason: str


def read_log(path: Path) -> list[LogEntry]:
    """Every entry; an absent file is an empty log. A malformed file is an error, never ignored."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != LOG_COLUMNS:
            raise ValueError(f"{path}: not an erasure log (header {reader.fieldnames}, expected {LOG_COLUMNS})")
        return [LogEntry(**row) for row in reader]


def append_entries(path: Path, entries: list[LogEntry]) -> None:
    """Add entries (skipping hashes already logged) by writing a new file and renaming it into place."""
    existing = read_log(path)
    known = {e.identifier_hash for e in existing}
    new = [e for e in entries if e.identifier_hash not in known]
    if not new:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(LOG_COLUMNS)
            for e in existing + new:
                writer.writerow([e.erasure_id, e.erased_at, e.identifier_kind, e.identifier_hash,
                                 e.requested_by, e.reason])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def erased_hashes(path: Path) -> set[str]:
    return {e.identifier_hash for e in read_log(path)}


def register_hashes(con: duckdb.DuckDBPyConnection, hashes: set[str]) -> None:
    """Temp table ``_erased_hashes(identifier_hash)`` on this connection (never in the catalog)."""
    table = pa.table({"identifier_hash": pa.array(sorted(hashes), pa.string())})
    con.register("_erased_hashes_arrow", table)
    try:
        con.execute("create or replace temp table _erased_hashes as select * from _erased_hashes_arrow")
    finally:
        con.unregister("_erased_hashes_arrow")
