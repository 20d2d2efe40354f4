"""Publish a serving copy: the warehouse's marts, analytics and metrics, with one access level's policy.

DuckDB allows one writer, and even a read-only reader of the warehouse blocks it; so analysts and
BI read a copy. The copy is written to a new temporary file beside the target (attached to the
warehouse connection, in the warehouse's v1.4 storage format so DuckDB 1.4+ clients open it),
checked, and renamed over the target with ``os.replace``. On POSIX a reader that has the old copy
open keeps its file (the old inode lives until the last handle closes), a new reader opens the new
one, and nobody can open a half-written copy, because it only gets the target's name when complete.

Views are copied as tables: a view's SQL names the warehouse's catalog, which does
not exist in the copy, and a snapshot answers the same numbers without the warehouse.

A daily publish costs what changed: each table's fingerprint (fingerprint.py: the policy's select
list, the columns and types, the row count and a sum of row hashes of the warehouse table) is stored
in the copy itself (``_publish.table_fingerprints``, outside the served schemas), so it is swapped
in with the tables it describes. The temporary file starts as the copy the previous publish replaced
(its spare, spare.py: renamed, no bytes copied) or, when no reader-free spare is there, as a byte
copy of the copy in place; a table whose fingerprint is unchanged is left as it is, a changed one is patched row by row
(patch.py: only rows that differ are deleted and inserted, the result checked against the warehouse)
or, when its shape changed or most of its rows did, rewritten whole; when every table's fingerprint
equals the one stored in the copy in place (a run with nothing new), nothing is written and that
copy stays. The two copies of a run share the warehouse side of the fingerprints and, for a table
both hold alike (no personal columns), the patch itself (run_shared.py); a copy with no previous
file may start from the run's other copy (the restricted from the analyst copy, never the reverse),
so its tables without personal columns carry over. Readers, crashes and re-runs still see only whole
copies (the swap is unchanged). Deleted rows and dropped tables leave free space in the file: when
over half its blocks are free the file is rewritten into a fresh one (COPY FROM DATABASE), and an
erasure always rewrites both copies (privacy/erasure.py), so an erased person's rows do not survive
in free blocks. ``incremental=False`` writes a fresh file.

A keyed table (keyed_patch.py) is fingerprinted by its cursor (row count and newest
``refreshed_at``, fingerprint.py) and patched by key with the row counts checked; its copy is
checked against the warehouse's hash sum of every row on a cadence (``check_every``: a week in the
pipeline, setting ``serving_check_days``; None checks at every publish), dated per table in the
copy (``_publish.table_fingerprints.checked_at``: written or compared whole, or its sum checked).
Why: hashing every row of every keyed table cost 6.3-6.8 s a day at a million people (both copies
38.4-39.2 s -> 33.4-33.8 s, replayed on the benchmark world's day 2, 2026-12-07) and grows with
the history, to learn what the cursor tells: dbt's delete+insert is the only writer of those tables
and stamps every row it writes. What the check is for: a change made without a new
``refreshed_at`` (by hand, a tool outside dbt), which the cursor cannot see; the check finds the
copy's kept sum differing from the warehouse's and compares the table row by row, and the repaired
table's fingerprint is marked (``<fingerprint>:repaired``) so the Parquet export writes it again. A
warehouse whose newest ``refreshed_at`` is older than the copy's (restored from a backup) is
compared row by row at once. With the spare each publish starts from the copy before the one in
place, whose own check dates apply: the two files are each checked a week after their last check.
"""

import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from dagster_project.serving import spare
from dagster_project.serving.classification import SERVING_SCHEMAS, Classification, looks_personal
from dagster_project.serving.fingerprint import (FINGERPRINTS, METADATA_SCHEMA, SourceSummary, previous_checked,
                                                 previous_fingerprints, previous_hash_sums, table_fingerprint,
                                                 table_summary)
from dagster_project.serving.keyed_patch import (REFRESHED_AT, kept_columns, kept_hash_sum, patch_by_key,
                                                 published_as_it_is, select_digest)
from dagster_project.serving.lookup_index import ensure_indexes
from dagster_project.serving.patch import patch_table
from dagster_project.serving.policy import TOKEN_PATTERN, LevelPolicy, column_select, literal, quote
from dagster_project.serving.run_shared import RunShared
from dagster_project.warehouse import STORAGE_VERSION


class PublishError(RuntimeError):
    """The new copy failed its sanity check; the previous copy stays in place."""


@dataclass(frozen=True)
class TablePlan:
    schema: str
    table: str
    select_list: tuple[str, ...]
    actions: dict[str, str]                 # personal column -> action applied
    unclassified_dropped: tuple[str, ...]   # personal-looking columns nobody classified, left out
    pseudonymised: tuple[str, ...]          # output columns that must hold tokens only
    order_by: str | None = None             # column the rewritten table is stored in the order of


@dataclass
class PublishReport:
    level: str
    path: Path
    tables: dict[str, int] = field(default_factory=dict)         # schema.table -> rows
    actions: dict[str, str] = field(default_factory=dict)        # schema.table.column -> action
    unclassified_dropped: list[str] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    carried_over: list[str] = field(default_factory=list)  # schema.table unchanged since the previous copy
    rewritten: list[str] = field(default_factory=list)     # schema.table read from the warehouse again
    patched: list[str] = field(default_factory=list)       # of those, brought up to date row by row
    patched_from_shared: list[str] = field(default_factory=list)  # of those, with the other copy's plan
    patched_by_key: list[str] = field(default_factory=list)  # of those, from the rows written since (keyed_patch.py)
    compacted: bool = False                                # the patched file was rewritten to drop free blocks
    seeded_from: str | None = None  # level whose copy of this run the file started from (run_shared.py)
    started_from: str | None = None  # "spare" or "copy": how the temporary file was started (spare.py); None: empty
    start_seconds: float = 0.0       # the time that took (the byte copy the spare saves)
    table_seconds: dict[str, float] = field(default_factory=dict)  # schema.table -> fingerprint + publish time
    indexed: list[str] = field(default_factory=list)  # schema.table.column with a lookup index (lookup_index.py)
    checked: list[str] = field(default_factory=list)  # keyed tables whose copy was checked against the warehouse's hash sum
    repaired: list[str] = field(default_factory=list)  # of those, found to differ and patched row by row

    def slowest(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` tables that took longest, slowest first: where a slow publish went."""
        return slowest(self.table_seconds, n)


def slowest(seconds: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The ``n`` entries of ``seconds`` that took longest, slowest first (ties by name)."""
    return sorted(seconds.items(), key=lambda item: (-item[1], item[0]))[:n]


def serving_tables(con: duckdb.DuckDBPyConnection, schemas: Iterable[str] = SERVING_SCHEMAS,
                   catalog: str | None = None) -> list[tuple[str, str]]:
    """(schema, table) of every table and view in the serving schemas of ``catalog`` (default: the current one)."""
    wanted = list(schemas)
    placeholders = ", ".join("?" for _ in wanted)
    rows = con.execute("select table_schema, table_name from information_schema.tables "
                       f"where table_catalog = coalesce(?, current_database()) and table_schema in ({placeholders}) "
                       "order by 1, 2", [catalog, *wanted]).fetchall()
    return [(schema, table) for schema, table in rows]


def plan_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, classification: Classification,
               policy: LevelPolicy, salt: str, order_by: str | None = None) -> TablePlan:
    """The select list that applies the level's policy to each column of one table (and ``order_by``,
    kept where the table has that column)."""
    columns = con.execute("select column_name, data_type from information_schema.columns "
                          "where table_catalog = current_database() and table_schema = ? and table_name = ? "
                          "order by ordinal_position", [schema, table]).fetchall()
    classes = classification.table(schema, table)
    select, actions, dropped, tokens = [], {}, [], []
    for name, sql_type in columns:
        column_class = classes.get(name.lower())
        if column_class is None and looks_personal(name):
            action, kind = policy.unclassified_personal, None
            if action == "drop":
                dropped.append(name)
        elif column_class is None or not column_class.is_personal:
            action, kind = "keep", None
        else:
            kind = column_class.kind
            action = policy.action(kind)
            actions[name] = action
        item = column_select(name, sql_type, kind, action, salt)
        if item is not None:
            select.append(item)
        if action == "pseudonymise":
            tokens.append(name)
    order_by = order_by if order_by in {name for name, _ in columns} else None
    return TablePlan(schema, table, tuple(select), actions, tuple(dropped), tuple(tokens), order_by)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_table(con: duckdb.DuckDBPyConnection, alias: str, source_catalog: str, plan: TablePlan) -> int:
    """Write one table into the attached copy; returns the source's row count.

    With ``plan.order_by`` the rows are stored in that column's order: DuckDB keeps each row group's
    min and max, so a query (or the Parquet export's ``COPY`` of one month) on a range of it reads
    only the row groups it needs. Rows a later patch adds go at the end, out of that order."""
    if not plan.select_list:
        raise PublishError(f"{plan.schema}.{plan.table}: the policy leaves no column")
    source = f"{quote(source_catalog)}.{quote(plan.schema)}.{quote(plan.table)}"
    order = f" order by {quote(plan.order_by)}" if plan.order_by else ""
    con.execute(f"create table {quote(alias)}.{quote(plan.schema)}.{quote(plan.table)} as "
                f"select {', '.join(plan.select_list)} from {source}{order}")
    return con.execute(f"select count(*) from {source}").fetchall()[0][0]


def sanity_check(path: Path, plans: list[TablePlan], rows: dict[str, int], written: Iterable[str] | None = None) -> None:
    """Open the finished file as a reader would, and check tables, row counts and tokens.

    ``written``: schema.table of the tables written by this publish (None: all); only their tokens
    are checked again, the others are the previous copy's tables, byte for byte, checked then.
    """
    check_tokens = None if written is None else set(written)
    with duckdb.connect(str(path), read_only=True) as copy:
        found = set(serving_tables(copy, {p.schema for p in plans}))
        expected = {(p.schema, p.table) for p in plans}
        if found != expected:
            raise PublishError(f"copy holds {sorted(found)}, expected {sorted(expected)}")
        for plan in plans:
            name = f"{quote(plan.schema)}.{quote(plan.table)}"
            count = copy.execute(f"select count(*) from {name}").fetchall()[0][0]
            if count != rows[f"{plan.schema}.{plan.table}"]:
                raise PublishError(f"{plan.schema}.{plan.table}: {count} rows in the copy, "
                                   f"{rows[f'{plan.schema}.{plan.table}']} in the warehouse")
            if check_tokens is not None and f"{plan.schema}.{plan.table}" not in check_tokens:
                continue  # carried over: checked when it was written
            for column in plan.pseudonymised:
                bad = copy.execute(f"select count(*) from {name} where {quote(column)} is not null "
                                   f"and not regexp_full_match({quote(column)}, '{TOKEN_PATTERN[1:-1]}')").fetchall()[0][0]
                if bad:
                    raise PublishError(f"{plan.schema}.{plan.table}.{column}: {bad} values are not tokens")


def publish_copy(con: duckdb.DuckDBPyConnection, target: Path, policy: LevelPolicy, classification: Classification,
                 salt: str, schemas: Iterable[str] = SERVING_SCHEMAS, incremental: bool = True,
                 shared: RunShared | None = None, keyed: Mapping[tuple[str, str], str] | None = None,
                 order_by: Mapping[tuple[str, str], str] | None = None, keep_spare: bool = True,
                 indexes: Mapping[tuple[str, str], Sequence[str]] | None = None,
                 check_every: timedelta | None = None, now: datetime | None = None) -> PublishReport:
    """Write the serving copy for one access level to a temporary file, check it, swap it in.

    With ``incremental`` (default) the temporary file starts as the previous copy (its spare, or a
    byte copy; spare.py): unchanged tables stay as they are, changed ones are patched row by row (patch.py) or rewritten.
    ``shared``: what the other copy of this run already computed (fingerprint summaries, patch plans).
    ``keyed``: (schema, table) -> key of the tables that can be patched from the rows written since
    (keyed_patch.keyed_tables).
    ``order_by``: (schema, table) -> column a rewritten table is stored in the order of (the date
    column of the tables the Parquet export writes by month: its ``COPY`` of a month then reads a
    month's row groups, not the whole table).
    ``keep_spare``: keep the replaced copy as the next publish's starting file (spare.py); False
    deletes a spare left by earlier publishes and always starts from a byte copy.
    ``indexes``: (schema, table) -> columns given a lookup index in the copy (lookup_index.py).
    ``check_every``: how often a keyed table's copy is checked against the warehouse's row-hash sum
    (None: at every publish); between checks it is fingerprinted by its cursor and patched by count.
    ``now``: the time the checks are dated with (default: the clock, UTC).
    """
    started = time.monotonic()
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    keyed = keyed or {}
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    alias = "serving_" + uuid.uuid4().hex[:12]
    source_catalog = con.execute("select current_database()").fetchall()[0][0]
    report = PublishReport(level=policy.level, path=target)
    attached = False
    try:
        tables = serving_tables(con, schemas)
        plans = [plan_table(con, schema, table, classification, policy, salt, (order_by or {}).get((schema, table)))
                 for schema, table in tables]
        summaries = shared.summaries if shared else {}
        kept_sums = shared.kept_sums if shared else {}
        if incremental and _previous_is_current(con, target, alias, source_catalog, schemas, plans, summaries, report,
                                                keyed, check_every, now, kept_sums):
            if shared is not None:
                shared.published[policy.level] = target
            report.bytes = target.stat().st_size
            report.seconds = round(time.monotonic() - started, 3)
            return report
        if not (incremental and keep_spare):
            spare.discard(target)
        old, old_sums, old_checked = (_start_from_previous(con, target, tmp, alias, report, reuse_spare=keep_spare)
                                      if incremental else ({}, {}, {}))
        if not old and incremental and shared is not None and policy.keeps_everything:
            for level, path in sorted(shared.published.items()):
                old, old_sums, old_checked = _start_from_previous(con, path, tmp, alias, report)
                if old:
                    report.seeded_from = level
                    break
        if not old:
            spare.remove_database(tmp)
            report.started_from = None
        con.execute(f"attach {_literal_path(tmp)} as {quote(alias)} "
                    f"(read_write, storage_version '{STORAGE_VERSION}')")
        attached = True
        existing = set(serving_tables(con, schemas, catalog=alias)) if old else set()
        for schema in sorted({p.schema for p in plans} | {METADATA_SCHEMA}):
            con.execute(f"create schema if not exists {quote(alias)}.{quote(schema)}")
        for schema, table in sorted(existing - {(p.schema, p.table) for p in plans}):
            con.execute(f"drop table {quote(alias)}.{quote(schema)}.{quote(table)}")  # gone from the warehouse
        con.execute(f"create or replace table {quote(alias)}.{METADATA_SCHEMA}.{FINGERPRINTS} "
                    "(table_schema varchar, table_name varchar, fingerprint varchar, row_hash_sum varchar, "
                    "select_sha256 varchar, checked_at timestamp)")
        for plan in plans:
            key = f"{plan.schema}.{plan.table}"
            table_started = time.monotonic()
            table_key = keyed.get((plan.schema, plan.table))
            summary = table_summary(con, source_catalog, plan.schema, plan.table, summaries, cursor=table_key is not None)
            fingerprint = table_fingerprint(plan, summary)
            due = summary.cursor and check_due(old_checked.get(key), check_every, now)
            by_key = _keyed_patch(con, source_catalog, plan, summary, table_key, old_sums.get(key), due, kept_sums)
            outcome = _publish_table(con, alias, source_catalog, plan, report, (plan.schema, plan.table) in existing,
                                     old.get(key), fingerprint, shared.patches if shared else None, by_key, kept_sums)
            report.tables[key] = outcome.rows
            if summary.cursor and outcome.checked:
                report.checked.append(key)
            con.execute(f"insert into {quote(alias)}.{METADATA_SCHEMA}.{FINGERPRINTS} values (?, ?, ?, ?, ?, ?)",
                        [plan.schema, plan.table, outcome.fingerprint or fingerprint,
                         None if outcome.kept_sum is None else str(outcome.kept_sum), select_digest(plan.select_list),
                         now if outcome.checked else old_checked.get(key)])
            report.table_seconds[key] = round(time.monotonic() - table_started, 3)
            _record_policy(report, plan)
        report.indexed = ensure_indexes(con, alias, [(p.schema, p.table) for p in plans], indexes or {})
        con.execute(f"checkpoint {quote(alias)}")
        report.compacted = bool(old) and _compact_if_bloated(con, alias, tmp)
        con.execute(f"detach {quote(alias)}")
        attached = False
        sanity_check(tmp, plans, report.tables, report.rewritten if old else None)
        _fsync(tmp)
        # a stale write-ahead log beside the target would be replayed onto the new file
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        if incremental and keep_spare:
            spare.keep(target)  # the copy replaced now is the next publish's starting file
        os.replace(tmp, target)
        _fsync(target.parent)
        if shared is not None:
            shared.published[policy.level] = target
    finally:
        if attached:
            try:
                con.execute(f"detach {quote(alias)}")
            except duckdb.Error:
                pass  # the original error says what went wrong; the file goes either way
        spare.remove_database(tmp)
    report.bytes = target.stat().st_size
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _previous_is_current(con: duckdb.DuckDBPyConnection, target: Path, alias: str, source_catalog: str,
                         schemas: Iterable[str], plans: list[TablePlan], summaries: dict,
                         report: PublishReport, keyed: Mapping[tuple[str, str], str],
                         check_every: timedelta | None, now: datetime, kept_sums: dict) -> bool:
    """True when the copy at ``target`` already is what this publish would write: the same tables,
    each with the fingerprint it gets now, and each keyed table due for its check holding the
    warehouse's hash sum (its check date is not moved: the next publish checks it again). Then nothing is
    written or swapped: at a million people a run with nothing new spent 17 s on the analyst copy and
    8.5 s on the restricted one to write files equal to those in place (byte copy, checkpoint, check,
    fsync). The summaries it computes are the ones a publish needs anyway (kept in ``summaries``); at
    the first changed table it stops.
    """
    if not target.exists():
        return False
    previous = alias + "_previous"
    try:
        con.execute(f"attach {_literal_path(target)} as {quote(previous)} (read_only)")
    except duckdb.Error:
        return False  # unreadable: publish a new file
    try:
        old, sums, checked = (previous_fingerprints(con, previous), previous_hash_sums(con, previous),
                              previous_checked(con, previous))
        if set(serving_tables(con, schemas, catalog=previous)) != {(p.schema, p.table) for p in plans}:
            return False
        rows = {}
        for plan in plans:
            key = f"{plan.schema}.{plan.table}"
            table_started = time.monotonic()
            summary = table_summary(con, source_catalog, plan.schema, plan.table, summaries,
                                    cursor=(plan.schema, plan.table) in keyed)
            if old.get(key) != table_fingerprint(plan, summary):
                return False
            if summary.cursor and check_due(checked.get(key), check_every, now):
                by_key = _keyed_patch(con, source_catalog, plan, summary, keyed.get((plan.schema, plan.table)),
                                      sums.get(key), True, kept_sums)
                if by_key.kept_sum is None or by_key.copy_hash_sum != by_key.kept_sum:
                    return False
            rows[key] = con.execute(f"select count(*) from {quote(previous)}.{quote(plan.schema)}."
                                    f"{quote(plan.table)}").fetchall()[0][0]
            if rows[key] != summary.rows:
                return False
            report.table_seconds[key] = round(time.monotonic() - table_started, 3)
    finally:
        con.execute(f"detach {quote(previous)}")
    report.tables, report.carried_over = rows, list(rows)
    for plan in plans:
        _record_policy(report, plan)
    return True


def _record_policy(report: PublishReport, plan: TablePlan) -> None:
    """Note in the report what the level's policy did to one table's columns."""
    key = f"{plan.schema}.{plan.table}"
    report.actions.update({f"{key}.{column}": action for column, action in plan.actions.items()})
    report.unclassified_dropped.extend(f"{key}.{column}" for column in plan.unclassified_dropped)


def _start_from_previous(con: duckdb.DuckDBPyConnection, target: Path, tmp: Path, alias: str, report: PublishReport,
                         reuse_spare: bool = False
                         ) -> tuple[dict[str, str], dict[str, tuple[int, str | None]], dict[str, datetime]]:
    """Start ``tmp`` from the previous copy: its spare when ``reuse_spare`` and one is free (spare.py),
    else a byte copy (noted in ``report``); return its fingerprints ({} = none usable: start empty),
    kept hash sums and when each table was last checked."""
    if not target.exists():
        return {}, {}, {}
    started = time.monotonic()
    report.started_from = "spare"
    if not (reuse_spare and spare.take(con, target, tmp)):
        report.started_from = "copy"
        shutil.copyfile(target, tmp)
    report.start_seconds = round(time.monotonic() - started, 3)
    try:
        con.execute(f"attach {_literal_path(tmp)} as {quote(alias)} (read_only)")
    except duckdb.Error:
        return {}, {}, {}  # an unreadable previous copy: publish everything into a new file
    try:
        return previous_fingerprints(con, alias), previous_hash_sums(con, alias), previous_checked(con, alias)
    finally:
        con.execute(f"detach {quote(alias)}")


def check_due(checked_at: datetime | None, check_every: timedelta | None, now: datetime) -> bool:
    """A keyed table's copy is checked against the warehouse's hash sum now: at every publish without a
    cadence, else when it never was (a copy from before), its last check is ``check_every`` old, or
    dated after now (a clock set back would otherwise put the next check off by as much)."""
    return check_every is None or checked_at is None or not timedelta(0) <= now - checked_at < check_every


@dataclass(frozen=True)
class _KeyedPatch:
    """What patching one table by key needs (keyed_patch.py); ``key`` None = not a keyed table, or its
    key or ``refreshed_at`` is not published as it is. ``kept_sum``: the warehouse table's row-hash
    sum over the columns the copy publishes as they are (None: nobody needs it, or a keyed table not
    due for its check). ``copy_hash_sum``: the copy's own sum over them, when it fits this select list."""
    key: str | None
    copy_hash_sum: int | None
    source: SourceSummary
    kept_sum: int | None
    kept: tuple[str, ...] = ()
    due: bool = False       # a keyed table checked now against the warehouse's hash sum


@dataclass(frozen=True)
class _Outcome:
    """One table as the new copy holds it: its rows, its kept sum, whether it is known equal to the
    warehouse (written or compared whole, or its sum checked) and a fingerprint replacing the computed
    one (a check that had to repair the copy: the content moved though the cursor did not)."""
    rows: int
    kept_sum: int | None
    checked: bool
    fingerprint: str | None = None


def _keyed_patch(con: duckdb.DuckDBPyConnection, source_catalog: str, plan: TablePlan, summary: SourceSummary,
                 table_key: str | None, old_sum: tuple[int, str | None] | None, due: bool,
                 kept_sums: dict | None = None) -> _KeyedPatch:
    """How one table can be patched by key now, and the kept sum its copy will carry."""
    as_it_is = published_as_it_is(plan.select_list, list(summary.columns))
    kept = kept_columns(plan.select_list, list(summary.columns))
    key = table_key if table_key is not None and {table_key, REFRESHED_AT} <= set(kept) else None
    # a table without personal columns gets its fingerprint's sum for free (kept_hash_sum); a keyed
    # table pays a scan of its kept columns (no tokens computed), only when its check is due
    needs_sum = (as_it_is or key) and (not summary.cursor or due)
    kept_sum = kept_hash_sum(con, source_catalog, plan.schema, plan.table, kept, summary, kept_sums) if needs_sum else None
    copy_sum, digest = old_sum if old_sum is not None else (None, None)
    # the copy's sum fits only a copy written with this select list (copies from before the digest
    # kept sums of tables published as they are only)
    fits = digest == select_digest(plan.select_list) or (digest is None and as_it_is)
    return _KeyedPatch(key, copy_sum if fits else None, summary, kept_sum, tuple(kept), due)


def _publish_table(con: duckdb.DuckDBPyConnection, alias: str, source_catalog: str, plan: TablePlan,
                   report: PublishReport, exists: bool, old_fingerprint: str | None, fingerprint: str,
                   shared_patches: dict | None, by_key: _KeyedPatch, kept_sums: dict | None = None) -> _Outcome:
    """Carry over, patch or rewrite one table of the copy.

    When the file started from another level's copy of this run (``report.seeded_from``), a table
    it holds with another fingerprint was published under another policy (its personal values
    differ in every row): it is rewritten without comparing. A keyed table due for its check whose
    copy's sum differs from the warehouse's (or cannot be compared by sums) is compared row by row
    even when its cursor did not move.
    """
    key = f"{plan.schema}.{plan.table}"
    name = f"{quote(alias)}.{quote(plan.schema)}.{quote(plan.table)}"
    cursor = by_key.source.cursor
    sums_agree = by_key.kept_sum is not None and by_key.copy_hash_sum == by_key.kept_sum
    repair = exists and old_fingerprint == fingerprint and by_key.due and not sums_agree
    if exists and old_fingerprint == fingerprint and not repair:
        report.carried_over.append(key)
        rows = con.execute(f"select count(*) from {name}").fetchall()[0][0]
        if cursor:  # its own sum, exact for its rows; equal to the warehouse's when checked
            return _Outcome(rows, by_key.copy_hash_sum, by_key.due)
        return _Outcome(rows, by_key.kept_sum, True)
    report.rewritten.append(key)

    def whole_sum() -> int | None:
        """After the table was written or compared whole: the warehouse's kept sum is the copy's."""
        if by_key.kept_sum is None and cursor and by_key.kept:
            return kept_hash_sum(con, source_catalog, plan.schema, plan.table, list(by_key.kept), by_key.source,
                                 kept_sums)
        return by_key.kept_sum

    if exists and report.seeded_from is not None:
        con.execute(f"drop table {name}")
        rows = copy_table(con, alias, source_catalog, plan)
        return _Outcome(rows, whole_sum(), True)
    if exists and by_key.key is not None and not repair:
        patched = patch_by_key(con, alias, source_catalog, plan.schema, plan.table, by_key.key, plan.select_list,
                               by_key.copy_hash_sum, by_key.source, by_key.kept_sum)
        if patched is not None:
            report.patched.append(key)
            report.patched_by_key.append(key)
            # kept_sum is there exactly when the patch was checked against it (_keyed_patch)
            return _Outcome(patched.rows, patched.kept_sum, by_key.kept_sum is not None)
    if exists:
        # a repair compares this copy alone: another copy's plan for the same fingerprints fits only
        # when equal fingerprints mean equal rows, which is what the check found untrue here
        patch_key = (plan.schema, plan.table, old_fingerprint, fingerprint)
        known = not repair and shared_patches is not None and patch_key in shared_patches
        patched = None
        if not known or shared_patches[patch_key] is not None:
            patched = patch_table(con, alias, source_catalog, plan.schema, plan.table, plan.select_list,
                                  reuse=shared_patches[patch_key] if known else None)
        if shared_patches is not None and not known and not repair and old_fingerprint is not None:
            shared_patches[patch_key] = patched  # None: the other copy rewrites it without comparing again
        if patched is not None:
            report.patched.append(key)
            if known:
                report.patched_from_shared.append(key)
            changed = patched.result.deleted + patched.result.inserted > 0
            if repair and changed:
                report.repaired.append(key)
            return _Outcome(patched.result.rows, whole_sum(), True,
                            f"{fingerprint}:repaired" if repair and changed else None)
        con.execute(f"drop table {name}")
    rows = copy_table(con, alias, source_catalog, plan)
    return _Outcome(rows, whole_sum(), True, f"{fingerprint}:repaired" if repair else None)


def _compact_if_bloated(con: duckdb.DuckDBPyConnection, alias: str, tmp: Path) -> bool:
    """Rewrite the patched file into a fresh one when over half its blocks are free (dropped tables)."""
    total, free = con.execute("select total_blocks, free_blocks from pragma_database_size() "
                              "where database_name = ?", [alias]).fetchall()[0]
    if free * 2 <= total:
        return False
    fresh = tmp.with_name(tmp.name + ".compact")
    fresh_alias = alias + "_compact"
    try:
        con.execute(f"attach {_literal_path(fresh)} as {quote(fresh_alias)} "
                    f"(read_write, storage_version '{STORAGE_VERSION}')")
        con.execute(f"copy from database {quote(alias)} to {quote(fresh_alias)}")
        con.execute(f"detach {quote(fresh_alias)}")
        con.execute(f"detach {quote(alias)}")
        os.replace(fresh, tmp)
        con.execute(f"attach {_literal_path(tmp)} as {quote(alias)} (read_write)")
    finally:
        spare.remove_database(fresh)
    return True


def _literal_path(path: Path) -> str:
    return literal(str(path))
