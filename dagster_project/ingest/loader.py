"""Load every new landing file of one entity into its raw table, with rejects and ledger.

Files are processed in file-name order and in chunks (by bytes and count). Each chunk is
staged in temp tables (see ``readers``), then written in ONE transaction: raw rows, rejects
and ledger rows of all its files commit together or not at all. So a file is always either
wholly loaded together with its ledger row, or not at all (and loaded by the next run): the
per-file guarantee holds while thousands of tiny daily files cost a handful of statements
instead of three statements each.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.ingest import file_hashes
from dagster_project.ingest.discovery import Discovery, discover, relpath
from dagster_project.ingest.ledger import (
    LEDGER_COLUMNS, done_hashes, ensure_raw_schema, quote_ident, raw_table,
)
from dagster_project.ingest.readers import READERS, FileStats, PendingFile
from dagster_project.privacy.ingest import prepare_suppression, record_suppressions, suppress_staged
from dagster_project.sources import Entity

log = logging.getLogger(__name__)

CHUNK_MAX_BYTES = 128 * 1024 * 1024
CHUNK_MAX_FILES = 5000


class IngestError(RuntimeError):
    """A loader invariant broke for some files; they are in the ledger with status 'failed'."""


@dataclass
class FileLoadResult:
    source_file: str
    file_sha256: str
    status: str  # loaded | empty | unreadable | failed
    reason: str | None
    data_lines: int
    rows_loaded: int
    rows_rejected: int
    missing_columns: list[str] = field(default_factory=list)  # contract columns not in the header
    extra_columns: list[str] = field(default_factory=list)  # header columns not in the contract
    rows_suppressed: int = 0  # lines of an erased person, not loaded (raw.suppressions)


@dataclass
class EntityLoadResult:
    source: str
    entity: str
    table: str  # raw table name without schema
    batch_id: str
    files: list[FileLoadResult] = field(default_factory=list)  # newly recorded in the ledger
    skipped: list[str] = field(default_factory=list)  # content already in the ledger (or twice in this batch)

    @property
    def files_loaded(self) -> int:
        return sum(f.status == "loaded" for f in self.files)

    @property
    def files_skipped(self) -> int:
        return len(self.skipped)

    @property
    def files_not_loaded(self) -> list[FileLoadResult]:
        """Empty, unreadable or failed files (recorded in the ledger with their reason)."""
        return [f for f in self.files if f.status != "loaded"]

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def rows_suppressed(self) -> int:
        return sum(f.rows_suppressed for f in self.files)


def new_batch_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _business_date(entity: Entity, name: str) -> str | None:
    m = entity.file_pattern.match(name)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%d").date().isoformat()
    except ValueError:
        return None


def _pending(entity: Entity, files: list[Path], landing: Path, known: set[str], skipped: list[str],
             hashes: dict[str, file_hashes.Hashed], hashed: list[file_hashes.Hashed]):
    """Yield new files in name order with their sha256; record skipped ones.

    A file whose state matches its remembered hash (``hashes``, file_hashes.py) and whose content is
    already loaded is skipped unread; every file read is appended to ``hashed``.
    """
    seen: set[str] = set()
    for i, path in enumerate(files):
        rel = relpath(path, landing)
        state = file_hashes.FileState.of(path)  # before reading: a write in between changes it again
        previous = hashes.get(rel)
        if previous is not None and previous.state == state and previous.sha256 in known:
            skipped.append(rel)
            continue
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        hashed.append(file_hashes.Hashed(rel, state, sha))
        if sha in known or sha in seen:
            skipped.append(rel)
            log.info(f"{rel}: skipped: the same content (sha256 {sha[:12]}...) is already loaded")
            continue
        seen.add(sha)
        keep = data if entity.format != "parquet" else None
        yield PendingFile(i, path, rel, sha, len(data), _business_date(entity, path.name), keep)


def _chunks(pending):
    chunk: list[PendingFile] = []
    size = 0
    for f in pending:
        chunk.append(f)
        size += f.size
        if size >= CHUNK_MAX_BYTES or len(chunk) >= CHUNK_MAX_FILES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def ingest_entity(con: duckdb.DuckDBPyConnection, entity: Entity, landing_dir: Path | str,
                  batch_id: str | None = None, files: list[Path] | None = None,
                  erasure_log: Path | None = None) -> EntityLoadResult:
    """Load every file of ``entity`` whose content is not yet in the ledger.

    ``files`` defaults to discovery under ``landing_dir``. Rows of people in the erasure log
    (``erasure_log``, default the settings' file) are suppressed or anonymised before anything
    is written (dagster_project/privacy/suppression.py). Raises :class:`IngestError` after
    committing everything else if a file broke the line accounting invariant
    (data lines = rows loaded + rows rejected); that file is in the ledger as 'failed' and
    is retried on the next run.
    """
    landing = Path(os.path.abspath(landing_dir))  # not resolve(): a link must keep its landing name
    con.execute("SET enable_progress_bar = false")  # big loads would print bars into run logs
    ensure_raw_schema(con)
    batch_id = batch_id or new_batch_id()
    if files is None:
        files = discover(landing).for_entity(entity)
    files = sorted((Path(os.path.abspath(f)) for f in files), key=lambda p: p.name)
    result = EntityLoadResult(entity.source, entity.name, entity.table, batch_id)
    hashed: list[file_hashes.Hashed] = []
    pending = _pending(entity, files, landing, done_hashes(con, entity), result.skipped,
                       file_hashes.remembered(con, entity), hashed)
    erasing = prepare_suppression(con, erasure_log)
    for chunk in _chunks(pending):
        result.files.extend(_load_chunk(con, entity, chunk, batch_id, erasing))
    file_hashes.remember(con, entity, hashed)
    failed = [f for f in result.files if f.status == "failed"]
    if failed:
        raise IngestError("; ".join(f.reason or f.source_file for f in failed))
    return result


def _load_chunk(con: duckdb.DuckDBPyConnection, entity: Entity, chunk: list[PendingFile],
                batch_id: str, erasing: bool = False) -> list[FileLoadResult]:
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    stats = READERS[entity.format](con, entity, chunk)
    erased = suppress_staged(con, entity) if erasing else {}
    counts = _staged_counts(con)
    results = []
    for f in chunk:
        st = stats.get(f.file_id) or FileStats("unreadable", f"{f.source_file}: reader returned nothing")
        loaded, rejected = counts.get(f.file_id, (0, 0))
        suppressed, anonymised = erased.get(f.file_id, (0, 0))
        if st.status == "loaded" and st.data_lines != loaded + rejected + suppressed:
            st.status = "failed"
            st.reason = (f"{f.source_file}: line accounting mismatch: {st.data_lines} data lines but "
                         f"{loaded} rows loaded + {rejected} rejected + {suppressed} suppressed; "
                         "nothing from this file was loaded")
        if st.status != "loaded":
            loaded = rejected = suppressed = anonymised = 0
        results.append(FileLoadResult(f.source_file, f.sha256, st.status, st.reason, st.data_lines,
                                      loaded, rejected, list(st.missing_columns), list(st.extra_columns),
                                      suppressed))
        if suppressed or anonymised:
            log.info(f"{f.source_file}: erased person(s): {suppressed} row(s) suppressed, "
                     f"{anonymised} row(s) loaded with the erased identifier blanked")
        if st.reason:
            log.warning(st.reason)
        elif st.missing_columns or st.extra_columns:
            log.warning(f"{f.source_file}: line 1: schema drift: columns missing from the header "
                        f"(loaded as NULL): {', '.join(st.missing_columns) or 'none'}; extra columns "
                        f"(ignored): {', '.join(st.extra_columns) or 'none'}")
    files_tbl = _files_table(entity, chunk, stats, results, batch_id, loaded_at)
    con.register("_ingest_files_arrow", files_tbl)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _ingest_files AS SELECT * FROM _ingest_files_arrow")
    finally:
        con.unregister("_ingest_files_arrow")
    con.execute("BEGIN TRANSACTION")
    try:
        _insert_raw(con, entity)
        _insert_rejects(con)
        _insert_ledger(con)
        if erased:
            record_suppressions(con, _suppression_rows(entity, chunk, results, erased, batch_id, loaded_at))
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT (disk full) has ended the transaction already: keep its error
        raise
    return results


def _suppression_rows(entity: Entity, chunk: list[PendingFile], results: list[FileLoadResult],
                      erased: dict[int, tuple[int, int]], batch_id: str, loaded_at: datetime) -> list[tuple]:
    rows = []
    for f, r in zip(chunk, results):
        suppressed, anonymised = erased.get(f.file_id, (0, 0))
        if r.status != "loaded":
            continue
        for action, n in (("suppressed", suppressed), ("anonymised", anonymised)):
            if n:
                rows.append((entity.source, entity.name, f.source_file, f.sha256, batch_id, action,
                             "erased_subject", n, "ingest", loaded_at))
    return rows


def _staged_counts(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[int, int]]:
    rows = con.execute("""
        SELECT file_id, sum(n_rows)::BIGINT, sum(n_rejects)::BIGINT FROM (
            SELECT file_id, count(*) AS n_rows, 0 AS n_rejects FROM _ingest_rows GROUP BY file_id
            UNION ALL
            SELECT file_id, 0, count(*) FROM _ingest_rejects GROUP BY file_id)
        GROUP BY file_id""").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _files_table(entity: Entity, chunk: list[PendingFile], stats: dict[int, FileStats],
                 results: list[FileLoadResult], batch_id: str, loaded_at: datetime) -> pa.Table:
    def join(names: list[str]) -> str | None:
        return ", ".join(names) if names else None

    st = [stats.get(f.file_id) or FileStats() for f in chunk]
    return pa.table({
        "file_id": pa.array([f.file_id for f in chunk], pa.int32()),
        "file_sha256": [f.sha256 for f in chunk],
        "source": [entity.source] * len(chunk),
        "entity": [entity.name] * len(chunk),
        "source_file": [f.source_file for f in chunk],
        "file_size": pa.array([f.size for f in chunk], pa.int64()),
        "business_date": pa.array([f.business_date for f in chunk], pa.string()),
        "batch_id": [batch_id] * len(chunk),
        "status": [r.status for r in results],
        "reason": pa.array([r.reason for r in results], pa.string()),
        "data_lines": pa.array([r.data_lines for r in results], pa.int64()),
        "blank_lines": pa.array([s.blank_lines for s in st], pa.int64()),
        "rows_loaded": pa.array([r.rows_loaded for r in results], pa.int64()),
        "rows_rejected": pa.array([r.rows_rejected for r in results], pa.int64()),
        "missing_columns": pa.array([join(s.missing_columns) for s in st], pa.string()),
        "extra_columns": pa.array([join(s.extra_columns) for s in st], pa.string()),
        "loaded_at": pa.array([loaded_at] * len(chunk), pa.timestamp("us")),
    })


def _insert_raw(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    cols = ", ".join(f"r.{quote_ident(c)}" for c in entity.column_names)
    con.execute(f"""INSERT INTO {raw_table(entity)}
        SELECT {cols}, f.batch_id, f.source_file, f.file_sha256, r._row_number, f.loaded_at
        FROM _ingest_rows r JOIN _ingest_files f USING (file_id)
        WHERE f.status = 'loaded'
        ORDER BY r.file_id, r._row_number""")


def _insert_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""INSERT INTO raw.rejects
        SELECT f.source, f.entity, f.source_file, f.file_sha256, f.batch_id, r.line_number,
               r.raw_line, r.reason, f.loaded_at
        FROM _ingest_rejects r JOIN _ingest_files f USING (file_id)
        WHERE f.status = 'loaded'
        ORDER BY r.file_id, r.line_number""")


def _insert_ledger(con: duckdb.DuckDBPyConnection) -> None:
    # A 'failed' row of the same content from an earlier run is replaced (it is retried).
    con.execute("""DELETE FROM raw.file_ledger l USING _ingest_files f
        WHERE l.file_sha256 = f.file_sha256 AND l.source = f.source AND l.entity = f.entity""")
    cols = ", ".join(LEDGER_COLUMNS)
    select = ", ".join("business_date::DATE" if c == "business_date" else c for c in LEDGER_COLUMNS)
    con.execute(f"INSERT INTO raw.file_ledger ({cols}) SELECT {select} FROM _ingest_files ORDER BY file_id")


def record_unmatched(con: duckdb.DuckDBPyConnection, found: Discovery, landing_dir: Path | str) -> list[str]:
    """Add landing files that match no entity to ``raw.unmatched_files``; return the new ones.

    Each is described as "<file>: not loaded: <reason>" and returned only the first time it is
    seen, so a run log names it once instead of on every run and every source.
    """
    landing = Path(landing_dir)
    ensure_raw_schema(con)
    rows = []
    for path in found.unknown:
        rel = relpath(path, landing)
        try:
            data = path.read_bytes() if path.resolve().is_relative_to(landing.resolve()) else b""
        except OSError as exc:  # unreadable file: still listed, with why
            data, reason = b"", f"{found.reasons.get(path, 'matches no entity')}; cannot be read: {exc}"
        else:
            reason = found.reasons.get(path, "matches no entity")
        rows.append((rel, hashlib.sha256(data).hexdigest(), len(data), reason))
    if not rows:
        return []
    seen_at = datetime.now(timezone.utc).replace(tzinfo=None)
    table = pa.table({"source_file": [r[0] for r in rows], "file_sha256": [r[1] for r in rows],
                      "file_size": pa.array([r[2] for r in rows], pa.int64()),
                      "reason": [r[3] for r in rows], "first_seen_at": pa.array([seen_at] * len(rows), pa.timestamp("us"))})
    con.register("_unmatched_arrow", table)
    try:
        new = con.execute("""SELECT source_file, reason FROM _unmatched_arrow a WHERE NOT EXISTS (
            SELECT 1 FROM raw.unmatched_files u
            WHERE u.source_file = a.source_file AND u.file_sha256 = a.file_sha256) ORDER BY source_file""").fetchall()
        con.execute("""INSERT INTO raw.unmatched_files SELECT * FROM _unmatched_arrow a WHERE NOT EXISTS (
            SELECT 1 FROM raw.unmatched_files u
            WHERE u.source_file = a.source_file AND u.file_sha256 = a.file_sha256)""")
    finally:
        con.unregister("_unmatched_arrow")
    messages = [f"{rel}: not loaded: {reason}" for rel, reason in new]
    for m in messages:
        log.warning(m)
    return messages
