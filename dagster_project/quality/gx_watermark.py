"""Which rows a ``new_rows`` suite validates: the rows past the watermark of its last passing run.

Why: the big facts only grow by a day's rows, yet a full validation read (and GX checked) up to
2 M rows of 42 M every day. A suite with ``meta.crm_cif.batch = "new_rows"`` names candidate
watermark columns (``watermark``, e.g. ``["_loaded_at", "occurred_at"]``); the first one the table
has is used, so a load-time column added later takes over from the business time by itself. After
a run whose critical expectations passed, the column's maximum is stored in
``<state_dir>/<suite>.json`` with the suite's hash; the next run reads only rows with a larger
value. A full validation (sampled over MAX_ROWS, as before) runs when there is no state, the
suite file changed, the watermark column changed, the table is empty, or the last full validation
is older than FULL_EVERY, so a late row (business time before the watermark) is validated at
most that long after it arrived. With no candidate column the suite validates the whole table.
Row-level uniqueness is then checked within the new rows only; dbt's unique tests cover the table.

A ``latest_batch`` suite (raw) validates each load batch once: the batch id it passed on is stored
the same way, and a run that loaded nothing new for the table does not validate the same batch
again (the first load holds every file of the history: 2 M rows read every day for a source that
delivered nothing that day).
"""

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from dagster_project.quality.gx_suites import SuiteFile, render

FULL_EVERY = timedelta(days=7)
NEW_ROWS = "new_rows"
LATEST_BATCH = "latest_batch"
BATCH_COLUMN = "_batch_id"


@dataclass(frozen=True)
class Watermark:
    suite_hash: str
    column: str
    value: str | None        # the column's maximum at the last passing run, as text (None: table was empty)
    full_validated_at: str   # ISO time of the last full validation


@dataclass(frozen=True)
class BatchScope:
    """What this run validates: ``where`` over the table, and the watermark to store if it passes."""

    where: str
    incremental: bool
    column: str | None
    new_value: str | None
    full_validated_at: str | None


def suite_hash(suite_file: SuiteFile) -> str:
    return hashlib.sha256((render(suite_file.suite) + json.dumps(suite_file.parameters, sort_keys=True))
                          .encode("utf-8")).hexdigest()


def _path(state_dir: Path, suite_file: SuiteFile) -> Path:
    return Path(state_dir) / f"{suite_file.name}.json"


def load(state_dir: Path, suite_file: SuiteFile) -> Watermark | None:
    try:
        return Watermark(**json.loads(_path(state_dir, suite_file).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def save(state_dir: Path, suite_file: SuiteFile, mark: Watermark) -> None:
    """Written to a temp file and renamed: a crash leaves the old state (a re-run re-reads, never skips)."""
    path = _path(state_dir, suite_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(mark), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _literal(value: str, sql_type: str) -> str:
    return f"cast('{value.replace(chr(39), chr(39) * 2)}' as {sql_type})"


def scope(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, state_dir: Path,
          now: datetime | None = None) -> BatchScope:
    """The rows of a ``new_rows`` suite to validate now (the whole table when a full validation is due)."""
    now = now or datetime.now(timezone.utc)
    schema, name = suite_file.table.split(".")
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_schema = ? and table_name = ?", [schema, name]).fetchall())
    candidates = suite_file.suite["meta"]["crm_cif"].get("watermark", [])
    column = next((c for c in candidates if c in types), None)
    if column is None:
        return BatchScope("", False, None, None, None)
    quoted = f'"{column}"'
    top = con.execute(f"select cast(max({quoted}) as varchar) from {suite_file.table}").fetchall()[0][0]
    mark = load(state_dir, suite_file)
    full_due = (mark is None or mark.suite_hash != suite_hash(suite_file) or mark.column != column
                or top is None or now - datetime.fromisoformat(mark.full_validated_at) > FULL_EVERY)
    if full_due:
        return BatchScope("", False, column, top, now.isoformat(timespec="seconds"))
    if mark.value is None:
        return BatchScope("", True, column, top, mark.full_validated_at)
    return BatchScope(f" where {quoted} > {_literal(mark.value, types[column])}", True, column,
                      top, mark.full_validated_at)


def record(state_dir: Path, suite_file: SuiteFile, batch: BatchScope) -> None:
    """Store the watermark after a run whose critical expectations passed."""
    if batch.column is None:
        return
    save(state_dir, suite_file, Watermark(suite_hash(suite_file), batch.column, batch.new_value,
                                          batch.full_validated_at))


def latest_batch(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile) -> str | None:
    """The id of the table's newest load batch (None: the table is empty)."""
    return con.execute(f"select max_by({BATCH_COLUMN}, _loaded_at) from {suite_file.table}").fetchall()[0][0]


def batch_validated(state_dir: Path, suite_file: SuiteFile, batch_id: str | None) -> bool:
    """Whether this suite, as it is now, passed on ``batch_id`` in an earlier run."""
    mark = load(state_dir, suite_file)
    return (batch_id is not None and mark is not None and mark.column == BATCH_COLUMN and mark.value == batch_id
            and mark.suite_hash == suite_hash(suite_file))


def record_batch(state_dir: Path, suite_file: SuiteFile, batch_id: str | None, now: datetime | None = None) -> None:
    """Store the batch a ``latest_batch`` suite passed on (its critical expectations)."""
    if batch_id is None:
        return
    now = now or datetime.now(timezone.utc)
    save(state_dir, suite_file, Watermark(suite_hash(suite_file), BATCH_COLUMN, batch_id, now.isoformat(timespec="seconds")))
