"""Export a big table as a Hive-partitioned folder by month, writing again only the months that changed.

Why: a fact table grows with history and a day changes a sliver of it, but a changed table was
exported whole: at a million people the 15 M-row transactions file took 11-15 s to write every day
for the 26 k rows the day added. Partitioned by the month of a date column
(``<schema>/<table>/<column>_month=YYYY-MM/data_0.parquet``, the layout Spark, DuckDB, pandas and
pyarrow read as one dataset, the month coming back as a column), the day's rows land in the newest
month and the other months keep their files: 3.1 s, the scan below included.

It pays only where a day's changes stay in few months. The interactions are not partitioned: at a
million people a day re-derived 366 old touchpoints (identity changes give them another party) in
18 older months besides the new one, so 19 of 24 months would be written: 25 s against 17 s for
one file. The transactions' worst day (identity changes touching every month) costs 9.8 s against
7.4 s for one file, a day that touched one month 1.8 s: the serving copies store them in date order
(``publish.copy_table``), so each month's ``COPY`` reads little more than its own row groups.

Which months changed: one scan of the copy's table gives each month's row count and row-hash sum
(``row_hash_sum_sql``, the sum the serving fingerprints use); a month whose count and sum equal
the previous manifest's, with the same columns and its files still there at the listed sizes,
keeps its files. A keyed table (its rows carry ``refreshed_at``, see keyed_patch.py) is compared by
each month's count and newest ``refreshed_at`` instead, reading two columns rather than hashing
every row (the 15 M transactions of the million-people world's day-2 copy, nothing to write:
0.05 s against 0.95-1.33 s), and hashes only the months it writes; whenever the copy's table was checked against the warehouse since the last export
(its ``checked_at``, publish.py, newer than any the manifest saw) the months are compared by their
sums again, so a table the check repaired without a new ``refreshed_at`` is written again. The changed months are written one ``COPY`` each (a date-range filter) into a
hidden folder beside the table's, then each file is renamed over its namesake (a reader sees the old
file or the new one), and files and months no longer produced are removed. Rows with no date go
to ``<column>_month=__HIVE_DEFAULT_PARTITION__`` (read back as NULL).

A table is partitioned when its dbt model says so in ``config: meta: {export_partition_by: <date
or timestamp column>}``; the month column is not written into the files (Spark refuses a column
that is both in the files and in the folder names).
"""

import hashlib
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from dagster_project.serving.classification import dbt_models, merged_meta
from dagster_project.serving.fingerprint import REFRESHED_AT, row_hash_sum_sql
from dagster_project.serving.patch import table_columns
from dagster_project.serving.policy import literal, quote

PARTITION_META = "export_partition_by"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
MONTH_FILE = "data_0.parquet"  # one file a month; the name DuckDB's partitioned writer gave the first file
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")


def partitioned_tables(manifest_path: Path) -> dict[str, str]:
    """schema.table -> date column of every dbt model whose meta asks for a partitioned export."""
    found = {}
    for (schema, table), node in dbt_models(manifest_path):
        column = merged_meta(node).get(PARTITION_META)
        if column:
            found[f"{schema}.{table}"] = str(column)
    return found


def partition_column(column: str) -> str:
    return f"{column}_month"


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def remove(path: Path) -> None:
    """Delete a file or a folder with everything in it (nothing when it is not there)."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def files_in_place(out_dir: Path, files: list[dict]) -> bool:
    """Every listed file is there with the size the manifest gives."""
    return all((out_dir / f["file"]).is_file() and (out_dir / f["file"]).stat().st_size == f.get("bytes")
               for f in files)


def unchanged(entry: dict | None, fingerprint: str | None, column: str, out_dir: Path) -> bool:
    """The previous entry is a partitioned export of the same rows, still on disk."""
    return (entry is not None and fingerprint is not None and entry.get("fingerprint") == fingerprint
            and entry.get("partition_by") == column
            and all(files_in_place(out_dir, part["files"]) for part in entry.get("parts", [])))


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> list[tuple[str, str]]:
    catalog = con.execute("select current_database()").fetchall()[0][0]
    columns = table_columns(con, catalog, schema, table)
    types = dict(columns)
    if types.get(column, "").upper() not in DATE_TYPES:
        raise ValueError(f"{schema}.{table}: {PARTITION_META} names {column!r}, which is not a date or "
                         f"timestamp column of the table (columns: {', '.join(types)})")
    if partition_column(column) in types:
        raise ValueError(f"{schema}.{table}: the month column {partition_column(column)!r} of "
                         f"{PARTITION_META} would hide the table's column of that name")
    return columns


def _month(column: str) -> str:
    return f"strftime(cast({quote(column)} as date), '%Y-%m')"


def _folder_name(column: str, month: str | None) -> str:
    return f"{partition_column(column)}={month if month is not None else NULL_PARTITION}"


def export_partitioned(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str, out_dir: Path,
                       previous: dict | None, fingerprint: str | None,
                       checked_at: datetime | None = None) -> tuple[dict, int]:
    """Export ``schema.table`` of the copy open on ``con`` by month; return its manifest entry and
    how many months were written (0: every month kept its files). ``checked_at``: when the copy's
    table was last checked against the warehouse (publish.py; None: unknown, compare by sums)."""
    columns = _columns(con, schema, table, column)
    names = [c for c, _ in columns]
    signature = hashlib.sha256("\n".join(f"{c} {t}" for c, t in columns).encode()).hexdigest()
    source = f"{quote(schema)}.{quote(table)}"
    same_shape = (previous is not None and previous.get("partition_by") == column
                  and previous.get("columns") == signature)
    before = {p["partition"]: p for p in previous.get("parts", [])} if same_shape else {}
    seen = _checked_through(previous) if same_shape else None
    by_cursor = (REFRESHED_AT in names and checked_at is not None and seen is not None and checked_at <= seen
                 and all("through" in p for p in before.values()))
    through = f"max({quote(REFRESHED_AT)})" if REFRESHED_AT in names else "null"
    if by_cursor:  # month -> (rows, newest refreshed_at); sums only of the months written below
        now = {month: (rows, None, None if last is None else str(last)) for month, rows, last in con.execute(
            f"select {_month(column)} as m, count(*), {through} from {source} group by m").fetchall()}
        kept = {month for month, (rows, _, last) in now.items()
                if month in before and (before[month]["rows"], before[month]["through"]) == (rows, last)}
    else:
        now = {month: (rows, str(hash_sum), None if last is None else str(last))
               for month, rows, hash_sum, last in con.execute(
                   f"select {_month(column)} as m, count(*), {row_hash_sum_sql(names)}, {through} "
                   f"from {source} group by m").fetchall()}
        kept = {month for month, (rows, hash_sum, _) in now.items()
                if month in before and (before[month]["rows"], before[month]["hash_sum"]) == (rows, hash_sum)}
    kept = {month for month in kept if files_in_place(out_dir, before[month]["files"])}
    folder = out_dir / schema / table
    changed = sorted(set(now) - kept, key=str)
    written = _write_months(con, source, column, folder, out_dir, changed)
    wanted = {_folder_name(column, month) for month in now}
    for stale in [p for p in folder.iterdir() if p.name not in wanted] if folder.is_dir() else []:
        remove(stale)
    parts = []
    for month in sorted(now, key=lambda m: (m is None, m or "")):
        rows, hash_sum, last = now[month]
        files = before[month]["files"] if month in kept else written[month]
        if month not in kept and sum(f["rows"] for f in files) != rows:
            raise RuntimeError(f"{schema}/{table}/{_folder_name(column, month)}: "
                               f"{sum(f['rows'] for f in files)} rows written, {rows} in the copy")
        if hash_sum is None:
            hash_sum = before[month]["hash_sum"] if month in kept else _month_hash_sum(con, source, names, column, month)
        parts.append({"partition": month, "rows": rows, "hash_sum": hash_sum, "through": last, "files": files})
    newest_check = max(filter(None, [seen, checked_at]), default=None)
    entry = {"schema": schema, "table": table, "file": f"{schema}/{table}", "rows": sum(r for r, _, _ in now.values()),
             "bytes": sum(f["bytes"] for p in parts for f in p["files"]), "fingerprint": fingerprint,
             "partition_by": column, "partition_column": partition_column(column), "columns": signature,
             "checked_through": newest_check.isoformat() if newest_check else None,
             "parts": parts}
    return entry, len(written)


def _checked_through(entry: dict | None) -> datetime | None:
    """The newest check date of the copy's table an export of this entry saw (None: none recorded)."""
    try:
        return datetime.fromisoformat(entry["checked_through"])
    except (KeyError, TypeError, ValueError):
        return None


def _month_hash_sum(con: duckdb.DuckDBPyConnection, source: str, names: list[str], column: str,
                    month: str | None) -> str:
    """The row-hash sum of one month's rows (a date range: the row groups of that month only)."""
    where, bounds = _month_filter(column, month)
    return str(con.execute(f"select {row_hash_sum_sql(names)} from {source} where {where}", bounds).fetchall()[0][0])


def _month_bounds(month: str) -> tuple[str, str]:
    """First day of ``YYYY-MM`` and of the month after it, as ISO dates."""
    year, number = (int(part) for part in month.split("-"))
    after = f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"
    return f"{month}-01", f"{after}-01"


def _month_filter(column: str, month: str | None) -> tuple[str, list[str]]:
    """A where clause (and its parameters) selecting the rows of one month: a date range, which
    DuckDB checks against each row group's min and max before reading it."""
    if month is None:
        return f"{quote(column)} is null", []
    day = f"cast({quote(column)} as date)"
    return f"{day} >= cast(? as date) and {day} < cast(? as date)", list(_month_bounds(month))


def _write_months(con: duckdb.DuckDBPyConnection, source: str, column: str, folder: Path, out_dir: Path,
                  months: list[str | None]) -> dict[str | None, list[dict]]:
    """Write the rows of ``months`` into their month folders under ``folder``; month -> its files.

    One ``COPY`` per month, not one ``COPY ... PARTITION_BY``: DuckDB's partitioned writer keeps a
    buffer open for every month at once (6 GB for the 15 M transactions at a million people, against
    under 1 GB a month at a time) and slowed to 46 s on a busy day that changed 21 of 24 months;
    a month at a time costs ~1 s a month and the same memory however many months changed."""
    if not months:
        return {}
    folder.parent.mkdir(parents=True, exist_ok=True)
    for leftover in folder.parent.glob(f".{folder.name}.*.tmp"):  # from a run that crashed mid-way
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex}.tmp"
    try:
        for month in months:  # every month written before any is swapped in
            (tmp / _folder_name(column, month)).mkdir(parents=True)
            where, bounds = _month_filter(column, month)
            target = tmp / _folder_name(column, month) / MONTH_FILE
            con.execute(f"copy (select * from {source} where {where}) to {literal(str(target))} "
                        "(format parquet, compression zstd, compression_level 1)", bounds)
        written = {}
        for month in months:
            name = _folder_name(column, month)
            new = tmp / name / MONTH_FILE
            with open(new, "rb") as f:
                os.fsync(f.fileno())
            (folder / name).mkdir(parents=True, exist_ok=True)
            final = folder / name / MONTH_FILE
            os.replace(new, final)
            for old in [p for p in (folder / name).iterdir() if p.name != MONTH_FILE]:
                old.unlink()  # e.g. data_1.parquet of DuckDB's partitioned writer, which exports before 2026-12-06 used
            written[month] = [{"file": str(final.relative_to(out_dir)), "rows": pq.ParquetFile(final).metadata.num_rows,
                               "bytes": final.stat().st_size, "sha256": sha256_file(final)}]
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
