"""Parquet export of every table of a serving copy: ``<out>/<schema>/<table>.parquet`` + ``manifest.json``.

Tools that read files rather than DuckDB (Spark, pandas, a data lake) get the same tables as the
analyst copy, with the same policy applied, because the export reads the published copy, not the
warehouse. Each file is written beside its target and renamed over it (a reader sees the old file
or the new one); the manifest is written last and lists each table's rows and the file's sha256,
so a reader can check it holds the files the manifest describes. Files a previous manifest listed
for a table that is gone are removed after the new manifest is in place.

Only changed tables are exported again: each manifest entry carries the table's fingerprint from the
copy (``_publish.table_fingerprints``, see fingerprint.py); a table whose fingerprint equals the
previous manifest's, and whose file is still there with the size the manifest lists, keeps its file
and entry. A table without a fingerprint (a copy from before) is always exported. A table whose
dbt model asks for it (``meta: {export_partition_by: <date column>}``) is a folder with one
sub-folder per month instead, and only the months that changed are written (parquet_partitions.py).

Row order within a file is not kept (``preserve_insertion_order = false``): SQL promises none, a
patched copy appends its new rows anyway, and letting both threads write cut the 42 M-row
interactions file from 26 to 17 s at a million people. zstd at level 1 instead of the default 3
wrote it in 16.9 s instead of 20.5 s for a file 2% larger (892 against 871 MiB; snappy: 16.9 s,
1,462 MiB).
"""

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from dagster_project.analytics.audience_export import write_atomically
from dagster_project.serving import parquet_partitions
from dagster_project.serving.fingerprint import copy_fingerprints, previous_checked
from dagster_project.serving.parquet_partitions import export_partitioned, remove, sha256_file
from dagster_project.serving.policy import literal, quote
from dagster_project.serving.publish import serving_tables

MANIFEST = "manifest.json"


def _write_parquet(con: duckdb.DuckDBPyConnection, schema: str, table: str, path: Path) -> None:
    con.execute(f"copy (select * from {quote(schema)}.{quote(table)}) to {literal(str(path))} "
                "(format parquet, compression zstd, compression_level 1)")


def _previous_entries(out_dir: Path) -> dict[str, dict]:
    """file -> entry of the previous manifest ({} when there is none or it is unreadable)."""
    manifest = out_dir / MANIFEST
    if not manifest.exists():
        return {}
    try:
        return {t["file"]: t for t in json.loads(manifest.read_text(encoding="utf-8"))["tables"]}
    except (ValueError, KeyError, TypeError):
        return {}


def _unchanged(entry: dict | None, fingerprint: str | None, path: Path) -> bool:
    return (entry is not None and fingerprint is not None and entry.get("fingerprint") == fingerprint
            and path.is_file() and path.stat().st_size == entry.get("bytes"))


def export_parquet(serving_path: Path, out_dir: Path, seconds: dict[str, float] | None = None,
                   partitions: dict[str, str] | None = None) -> dict:
    """Export every table of the serving copy at ``serving_path``; return the manifest written.

    ``seconds``, when given, receives ``schema.table`` -> seconds for each table written this time
    (a table whose files were all kept is not in it): where a slow export went. ``partitions``:
    schema.table -> date column of the tables exported by month (parquet_partitions.py).
    """
    out_dir = Path(out_dir)
    previous = _previous_entries(out_dir)
    entries = []
    with duckdb.connect(str(serving_path), read_only=True) as con:
        con.execute("set preserve_insertion_order = false")
        fingerprints = copy_fingerprints(con)
        checked = previous_checked(con, con.execute("select current_database()").fetchall()[0][0])
        for schema, table in serving_tables(con):
            fingerprint = fingerprints.get(f"{schema}.{table}")
            column = (partitions or {}).get(f"{schema}.{table}")
            if column is not None:
                entries.append(_export_by_month(con, schema, table, column, out_dir, previous, fingerprint, seconds,
                                                checked.get(f"{schema}.{table}")))
                continue
            relative = f"{schema}/{table}.parquet"
            path = out_dir / relative
            if _unchanged(previous.get(relative), fingerprint, path):
                entries.append(previous[relative])
                continue
            started = time.perf_counter()
            write_atomically(path, lambda tmp, s=schema, t=table: _write_parquet(con, s, t, tmp))
            if seconds is not None:
                seconds[f"{schema}.{table}"] = round(time.perf_counter() - started, 3)
            rows = con.execute(f"select count(*) from {quote(schema)}.{quote(table)}").fetchall()[0][0]
            written = pq.ParquetFile(path).metadata.num_rows
            if written != rows:
                raise RuntimeError(f"{relative}: {written} rows written, {rows} in the copy")
            entries.append({"schema": schema, "table": table, "file": relative, "rows": rows,
                            "sha256": sha256_file(path), "bytes": path.stat().st_size, "fingerprint": fingerprint})
    manifest = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": Path(serving_path).name,
        "tables": entries,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    write_atomically(out_dir / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    for stale in set(previous) - {e["file"] for e in entries}:
        remove(out_dir / stale)
    return manifest


def _export_by_month(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str, out_dir: Path,
                     previous: dict[str, dict], fingerprint: str | None, seconds: dict[str, float] | None,
                     checked_at: datetime | None = None) -> dict:
    entry = previous.get(f"{schema}/{table}")
    if parquet_partitions.unchanged(entry, fingerprint, column, out_dir):
        return entry
    started = time.perf_counter()
    entry, months_written = export_partitioned(con, schema, table, column, out_dir, entry, fingerprint, checked_at)
    if seconds is not None and months_written:
        seconds[f"{schema}.{table}"] = round(time.perf_counter() - started, 3)
    return entry
