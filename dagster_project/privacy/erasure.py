"""`crm-cif erase`: remove a person from every layer, keep only salted hashes in the erasure log.

Steps (each timed in the report):

1. **Resolve** the person (subject.py) and log a salted hash per identifier (erasure_log.py),
   first, so a crash later still suppresses them on every following load.
2. **Raw**: the person's own records are suppressed and their identifiers blanked on every other
   row (suppression.py, the rule ingestion applies to later files), ``raw.rejects`` lines
   holding them are suppressed; the ledger and ``raw.suppressions`` keep the line accounting.
3. **Derived and stateful tables**: rows holding the person's party id, record ids or
   identifiers are deleted from every table of every other schema (scan.py): staging tables,
   integration state (party_xref, merge log, review queue), history, marts, analytics (segment
   membership of past dates too). Files: match decisions of their records are dropped; reports,
   exports and models under the data folder that hold them are deleted.
4. **Rebuild** the derived layers from the scrubbed raw (the pipeline job), which also publishes
   new serving copies and exports.
5. **Forget**: rows deleted in DuckDB stay in free blocks of the file, so the warehouse and both
   serving copies (a daily publish patches the previous copy, so the person's rows may be there
   even when the new copy no longer holds them) are rewritten into fresh files (COPY FROM
   DATABASE) and swapped in; their spares (the copies the rebuild replaced, serving/spare.py)
   are deleted.
6. **Verify**: every table of the warehouse and both serving copies, and every file under the
   data folder but the landing files, is searched for the person's values; anything left is
   reported and makes the command fail.

Landing files are the supplier's deliveries and are never modified.
"""

from __future__ import annotations

import csv
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from dagster_project.ingest.ledger import SUPPRESSIONS_DDL, ensure_raw_schema, quote_ident
from dagster_project.full_refresh import clear_full_refresh, request_full_refresh
from dagster_project.privacy import scan
from dagster_project.privacy.erasure_log import LogEntry, append_entries, read_log, register_hashes
from dagster_project.privacy.identifiers import identifier_hash, install_sql_macros
from dagster_project.privacy.subject import Subject, UnknownSubject, collect_subject, find_parties
from dagster_project.privacy.suppression import scrub_lines, scrub_rows
from dagster_project.serving import spare
from dagster_project.settings import Settings
from dagster_project.sources import ENTITIES
from dagster_project.warehouse import STORAGE_VERSION, has_table

RAW_GROUP = "_batch_id, _source_file, _file_sha256"
REJECT_GROUP = "source, entity, batch_id, source_file, file_sha256"


@dataclass(frozen=True)
class ErasureRequest:
    party_ids: list[str]
    emails: list[str]
    phones: list[str]
    requested_by: str
    reason: str
    dry_run: bool = False


@dataclass
class ErasureReport:
    erasure_id: str
    dry_run: bool
    party_ids: list[str] = field(default_factory=list)
    already_erased: list[str] = field(default_factory=list)  # inputs found only in the erasure log
    identifiers: dict[str, int] = field(default_factory=dict)  # kind -> how many logged
    raw: dict[str, tuple[int, int]] = field(default_factory=dict)  # raw table -> (suppressed, anonymised)
    rejects: int = 0
    derived: dict[str, int] = field(default_factory=dict)  # schema.table -> rows deleted
    files: list[str] = field(default_factory=list)  # files deleted or rewritten
    rebuilt: bool = False
    residual: list[str] = field(default_factory=list)  # what verification still found
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.residual

    def render(self) -> str:
        verb = "Would" if self.dry_run else "Did"
        lines = [f"Erasure {self.erasure_id}{' (dry run: nothing changed)' if self.dry_run else ''}",
                 f"  parties: {', '.join(self.party_ids) or 'none'}"]
        if self.already_erased:
            lines.append(f"  already erased before: {len(self.already_erased)} identifier(s)")
        lines.append("  identifiers " + ("to log" if self.dry_run else "logged") + " (salted hashes): "
                     + (", ".join(f"{k} {n}" for k, n in sorted(self.identifiers.items())) or "none"))
        suppressed = sum(s for s, _ in self.raw.values())
        anonymised = sum(a for _, a in self.raw.values())
        lines.append(f"  raw: {verb.lower()} suppress {suppressed} own record row(s), anonymise {anonymised} row(s), "
                     f"suppress {self.rejects} rejected line(s)")
        for table, (s, a) in sorted(self.raw.items()):
            lines.append(f"    {table}: {s} suppressed, {a} anonymised")
        lines.append(f"  derived tables: {sum(self.derived.values())} row(s) in {len(self.derived)} table(s)")
        for table, n in sorted(self.derived.items()):
            lines.append(f"    {table}: {n}")
        lines.append(f"  files: {len(self.files)}")
        lines += [f"    {f}" for f in self.files]
        if not self.dry_run:
            lines.append(f"  derived layers rebuilt and serving copies published: {'yes' if self.rebuilt else 'NO'}")
            lines.append("  verification: " + ("nothing left" if self.ok else "FOUND " + "; ".join(self.residual)))
        if self.seconds:
            lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return "\n".join(lines)


class Timer:
    def __init__(self, report: ErasureReport):
        self.report, self.started = report, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.report.seconds[name] = self.report.seconds.get(name, 0.0) + now - self.started
        self.started = now


def erase(settings: Settings, request: ErasureRequest, rebuild: Callable[[], bool] | None) -> ErasureReport:
    """Run (or with ``request.dry_run`` only count) one erasure; ``rebuild`` re-materialises the pipeline."""
    if not request.party_ids and not request.emails and not request.phones:
        raise UnknownSubject("name the person: --party-id, --email or --phone")
    if not settings.warehouse_path.exists():
        raise UnknownSubject(f"no warehouse at {settings.warehouse_path}: run `crm-cif run` first")
    erasure_id = "E" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    report = ErasureReport(erasure_id, request.dry_run)
    timer = Timer(report)
    con = duckdb.connect(str(settings.warehouse_path), read_only=request.dry_run)
    try:
        install_sql_macros(con, settings.erasure_salt, settings.default_country_code)
        subject = _resolve(con, settings, request, report)
        if subject is None:
            return report
        pairs = subject.pairs()
        for kind, _ in pairs:
            report.identifiers[kind] = report.identifiers.get(kind, 0) + 1
        new_hashes = {identifier_hash(kind, value, settings.erasure_salt) for kind, value in pairs}
        needles = subject.needles(settings.pseudonym_salt)
        timer.lap("resolve")
        if request.dry_run:
            register_hashes(con, new_hashes)
            _scrub_raw(con, report, apply=False)
            for hit in scan.find_rows(con, needles, exclude={"raw"}):
                report.derived[hit.name] = hit.rows
            report.files = [str(p) for p in _files_with(settings, needles)]
            timer.lap("count")
            return report
        erased_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        append_entries(settings.erasure_log_path, [
            LogEntry(erasure_id, erased_at, kind, identifier_hash(kind, value, settings.erasure_salt),
                     request.requested_by, request.reason) for kind, value in pairs])
        register_hashes(con, {e.identifier_hash for e in read_log(settings.erasure_log_path)})
        timer.lap("log")
        # Incremental models keep what they staged: erased raw rows vanish from them only when
        # they are rebuilt whole. Asked before raw changes, so a crash or --no-rebuild still
        # gets it on the next run; cleared once a rebuild succeeded.
        request_full_refresh(settings.warehouse_path, f"erasure {erasure_id}")
        con.execute("begin transaction")
        _scrub_raw(con, report, apply=True)
        for hit in scan.find_rows(con, needles, exclude={"raw"}):
            report.derived[hit.name] = hit.rows
            scan.delete_rows(con, [hit], needles)
        con.execute("commit")
        timer.lap("scrub warehouse")
    finally:
        con.close()
    report.files = _scrub_files(settings, needles)
    timer.lap("scrub files")
    if rebuild is not None:
        report.rebuilt = rebuild()
        if report.rebuilt:
            clear_full_refresh(settings.warehouse_path)
        timer.lap("rebuild")
    _after_rebuild(settings, needles, report)
    timer.lap("compact")
    report.residual = verify(settings, needles)
    timer.lap("verify")
    return report


def _resolve(con: duckdb.DuckDBPyConnection, settings: Settings, request: ErasureRequest,
             report: ErasureReport) -> Subject | None:
    """The subject; None when every input was erased before. Raises UnknownSubject otherwise."""
    found, unknown = find_parties(con, request.party_ids, request.emails, request.phones,
                                  settings.default_country_code)
    logged = {e.identifier_hash: e.erased_at for e in read_log(settings.erasure_log_path)}
    still_unknown = []
    for kind, value in unknown:
        when = logged.get(identifier_hash(kind, value, settings.erasure_salt))
        if when:
            report.already_erased.append(f"{kind} (erased {when})")
        else:
            still_unknown.append(f"{kind} {value!r}")
    if still_unknown:
        raise UnknownSubject("unknown to the warehouse (no party holds it, and it was never erased): "
                             + ", ".join(still_unknown))
    organisations = [p for p, t in found.items() if t == "organisation"]
    if organisations:
        raise UnknownSubject(f"{', '.join(organisations)} is an organisation, not a person: the right to "
                             "erasure is a person's (erase its contacts by their own party id)")
    if not found:
        return None
    report.party_ids = sorted(found)
    return collect_subject(con, set(found))


def _scrub_raw(con: duckdb.DuckDBPyConnection, report: ErasureReport, apply: bool) -> None:
    """Suppress and anonymise in every raw table; keep ledger and raw.suppressions in step."""
    if apply:
        ensure_raw_schema(con)
        con.execute(SUPPRESSIONS_DDL)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for entity in ENTITIES:
        if not has_table(con, "raw", entity.table):
            continue
        table = f"raw.{quote_ident(entity.table)}"
        suppressed, anonymised = scrub_rows(con, entity, table, RAW_GROUP, apply=apply)
        if suppressed or anonymised:
            report.raw[f"raw.{entity.table}"] = (sum(suppressed.values()), sum(anonymised.values()))
        if apply:
            for action, counts in (("suppressed", suppressed), ("anonymised", anonymised)):
                _record(con, entity.source, entity.name, action, counts, now)
            for (batch, source_file, sha), n in suppressed.items():
                con.execute("update raw.file_ledger set rows_loaded = rows_loaded - ? "
                            "where source = ? and entity = ? and file_sha256 = ?", [n, entity.source, entity.name, sha])
    if not has_table(con, "raw", "rejects"):
        return
    lines = scrub_lines(con, "raw.rejects", "raw_line", REJECT_GROUP, apply=apply)
    report.rejects = sum(lines.values())
    for (source, entity, batch, source_file, sha), n in lines.items() if apply else ():
        _record(con, source, entity, "suppressed", {(batch, source_file, sha): n}, now)
        con.execute("update raw.file_ledger set rows_rejected = rows_rejected - ? "
                    "where source = ? and entity = ? and file_sha256 = ?", [n, source, entity, sha])


def _record(con: duckdb.DuckDBPyConnection, source: str, entity: str, action: str,
            counts: dict[tuple, int], now: datetime) -> None:
    for (batch, source_file, sha), n in counts.items():
        con.execute("insert into raw.suppressions (source, entity, source_file, file_sha256, batch_id, action, "
                    "reason, rows, stage, recorded_at) values (?, ?, ?, ?, ?, ?, 'erased_subject', ?, 'erasure', ?)",
                    [source, entity, source_file, sha, batch, action, n, now])


def _skipped_paths(settings: Settings) -> list[Path]:
    """Never scanned as files: the deliveries, the generator's truth, the log, Dagster's own store."""
    return [settings.landing_dir, settings.truth_dir, settings.erasure_log_path, settings.data_dir / "dagster_home"]


def _files_with(settings: Settings, needles: set[str]) -> list[Path]:
    roots = {settings.data_dir, settings.exports_dir, settings.match_decisions_path.parent}
    found: set[Path] = set()
    for root in roots:
        found.update(scan.find_files(root, needles, _skipped_paths(settings)))
    return sorted(found)


def _scrub_files(settings: Settings, needles: set[str]) -> list[str]:
    """Drop the person's match decisions; delete derived files (reports, exports, models) naming them."""
    touched = []
    if _drop_decisions(settings.match_decisions_path, needles):
        touched.append(f"{settings.match_decisions_path} (decisions on their records removed)")
    for path in _files_with(settings, needles):
        if path == settings.match_decisions_path:
            continue
        path.unlink()
        touched.append(f"{path} (deleted)")
    return touched


def _drop_decisions(path: Path, needles: set[str]) -> bool:
    pattern = scan.needle_pattern(needles)
    if not path.exists() or pattern is None:
        return False
    regex = re.compile(pattern)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    kept = [row for row in rows if not regex.search(",".join(row).lower())]
    if len(kept) == len(rows):
        return False
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(kept)
    os.replace(tmp, path)
    return True


def _after_rebuild(settings: Settings, needles: set[str], report: ErasureReport) -> None:
    """Delete what the rebuild carried forward, then rewrite the files so deleted rows are gone for good."""
    with duckdb.connect(str(settings.warehouse_path)) as con:
        for hit in scan.find_rows(con, needles, exclude={"raw"}):
            report.derived[hit.name] = report.derived.get(hit.name, 0) + hit.rows
            scan.delete_rows(con, [hit], needles)
    compact(settings.warehouse_path)
    for path in (settings.serving_path, settings.serving_restricted_path):
        spare.discard(path)  # the copy the rebuild's publish replaced, kept to patch the next day's from
        if not path.exists():
            continue
        with duckdb.connect(str(path)) as con:
            hits = scan.find_rows(con, needles)
            for hit in hits:
                report.derived[f"{path.name}:{hit.name}"] = hit.rows
            scan.delete_rows(con, hits, needles)
        compact(path)  # a daily publish patches the previous copy: the person's old rows may sit in free blocks
    for path in _files_with(settings, needles):
        path.unlink()
        report.files.append(f"{path} (deleted after the rebuild)")


def compact(path: Path) -> None:
    """Rewrite a DuckDB file into a fresh one and swap it in: free blocks of the old file go with it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with duckdb.connect(str(path)) as con:
            con.execute("checkpoint")
            catalog = con.execute("select current_database()").fetchall()[0][0]
            con.execute(f"attach '{str(tmp).replace(chr(39), chr(39) * 2)}' as _fresh "
                        f"(storage_version '{STORAGE_VERSION}')")
            con.execute(f"copy from database {quote_ident(catalog)} to _fresh")
            con.execute("detach _fresh")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def verify(settings: Settings, needles: set[str]) -> list[str]:
    """Where the person's values are still found: tables of the warehouse and serving copies, files."""
    residual = []
    copies = (settings.serving_path, settings.serving_restricted_path)
    for path in (settings.warehouse_path, *copies, *(spare.spare_path(copy) for copy in copies)):
        if not path.exists():
            continue
        with duckdb.connect(str(path), read_only=True) as con:
            residual += [f"{path.name}:{h.name}({', '.join(h.columns)}) {h.rows} row(s)"
                         for h in scan.find_rows(con, needles)]
    residual += [str(p) for p in _files_with(settings, needles)]
    return residual
