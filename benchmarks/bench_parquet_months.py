"""Parquet export of a fact table: one file against one folder per month, for a whole export and a new day.

    python benchmarks/bench_parquet_months.py --world /tmp/crm_cif_bench/1000000 [--table marts.fct_transactions]

On a world kept by ``bench_pipeline.py --keep`` (its last run was a new day): the day before is
the analyst copy without the rows the newest run wrote (``refreshed_at`` = the table's newest), the
day after is the copy itself. Per table it prints the seconds of a whole export and of the new day,
one file and by month, and which months the day touched (the months written again); with
``--every-month`` also a day that changed every month, by month (the worst day). Works on
copies in a scratch folder; the world is not changed. Nothing here is a test.
"""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.policy import quote


def _day_before(copy: Path, scratch: Path, table: str, every_month_column: str | None = None) -> Path:
    """The copy without the newest run's rows; with ``every_month_column``, also one row of every
    month changed, so that the day after changes every month (as identity changes can)."""
    before = scratch / "before.duckdb"
    shutil.copyfile(copy, before)
    schema, name = table.split(".")
    with duckdb.connect(str(before)) as con:
        con.execute(f"delete from {quote(schema)}.{quote(name)} where refreshed_at = "
                    f"(select max(refreshed_at) from {quote(schema)}.{quote(name)})")
        if every_month_column:
            con.execute(f"update {quote(schema)}.{quote(name)} set refreshed_at = refreshed_at - interval 1 second "
                        f"where rowid in (select min(rowid) from {quote(schema)}.{quote(name)} "
                        f"group by strftime(cast({quote(every_month_column)} as date), '%Y-%m'))")
        con.execute("update _publish.table_fingerprints set fingerprint = 'day before' "
                    "where table_schema = ? and table_name = ?", [schema, name])
    with open(before, "rb") as f:  # the copy's 3 GB on disk first: its write-back would slow the exports
        os.fsync(f.fileno())
    return before


def _timed_export(copy: Path, out: Path, table: str, partitions: dict[str, str]) -> float:
    seconds: dict[str, float] = {}
    export_parquet(copy, out, seconds, partitions)
    return seconds.get(table, 0.0)


def bench(world: Path, table: str, column: str, every_month: bool = False) -> None:
    copy = world / "serving.duckdb"
    schema, name = table.split(".")
    with duckdb.connect(str(copy), read_only=True) as con:
        touched = con.execute(f"select strftime(cast({quote(column)} as date), '%Y-%m') as m, count(*) "
                              f"from {quote(schema)}.{quote(name)} where refreshed_at = (select max(refreshed_at) "
                              f"from {quote(schema)}.{quote(name)}) group by m order by m").fetchall()
        months, rows = con.execute(f"select count(distinct strftime(cast({quote(column)} as date), '%Y-%m')), "
                                   f"count(*) from {quote(schema)}.{quote(name)}").fetchall()[0]
    print(f"{table}: {rows:,} rows in {months} months; the newest run wrote {sum(n for _, n in touched):,} rows "
          f"in {len(touched)} months: {dict(touched)}")
    with tempfile.TemporaryDirectory(dir=world) as tmp:
        scratch = Path(tmp)
        before = _day_before(copy, scratch, table)
        for label, partitions in (("one file", {}), ("by month", {table: column})):
            out = scratch / label.replace(" ", "_")
            whole = _timed_export(before, out, table, partitions)
            started = time.perf_counter()
            day = _timed_export(copy, out, table, partitions)
            print(f"  {label:9s} whole export {whole:6.1f} s   new day {day:6.1f} s "
                  f"(export call {time.perf_counter() - started:5.1f} s)", flush=True)
        if every_month:
            before.unlink()
            before = _day_before(copy, scratch, table, column)
            out = scratch / "every_month"
            _timed_export(before, out, table, {table: column})
            day = _timed_export(copy, out, table, {table: column})
            print(f"  a day that changed every month, by month: new day {day:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--table", action="append", help="schema.table (repeatable; default: both facts)")
    parser.add_argument("--column", default="occurred_on")
    parser.add_argument("--every-month", action="store_true",
                        help="also a day that changed one row of every month (the by-month export's worst day)")
    args = parser.parse_args()
    for table in args.table or ["marts.fct_transactions", "marts.fct_interactions"]:
        bench(args.world, table, args.column, args.every_month)


if __name__ == "__main__":
    main()
