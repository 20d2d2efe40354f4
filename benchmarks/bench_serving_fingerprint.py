"""Is fingerprinting a served table cheaper than copying it? (issue 8, daily publish)

Builds a synthetic fact table shaped like marts.fct_interactions (N rows, default 30 M) in a scratch
warehouse and times, on the same connection: the fingerprint (serving/fingerprint.py), a full copy
into a new file as the analyst level writes it (one pseudonymised column), and the carry-over of
the unchanged table from the previous copy. Usage: python benchmarks/bench_serving_fingerprint.py [rows] [dir]
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from dagster_project.serving.fingerprint import source_summary, table_fingerprint
from dagster_project.serving.publish import TablePlan
from dagster_project.serving.policy import token_sql


def main(rows: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    warehouse, old, new = folder / "w.duckdb", folder / "old.duckdb", folder / "new.duckdb"
    for p in (warehouse, old, new):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse), config={"threads": 2, "memory_limit": "6GB"})
    t = time.monotonic()
    con.execute("create schema marts")
    con.execute(f"""create table marts.fct as select 'I' || lpad(cast(i as varchar), 10, '0') as interaction_id,
        'P' || cast(hash(i) % 1000000 as varchar) as party_id, ['web','branch','email','mobile'][1 + i % 4] as channel,
        timestamp '2024-11-01' + to_seconds(cast(hash(i * 3) % 63000000 as bigint)) as occurred_at, cast((hash(i * 7) % 100000) / 100.0 as decimal(18,2)) as amount,
        substr(md5(cast(i as varchar)), 1, 1 + cast(i % 12 as integer)) as detail from range({rows}) t(i)""")
    con.execute("checkpoint")
    print(f"built {rows:,} rows in {time.monotonic() - t:.1f} s; warehouse {warehouse.stat().st_size / 2**30:.2f} GiB")
    select = ("interaction_id", f"{token_sql('party_id', 'salt')} as party_id", "channel", "occurred_at", "amount",
              "detail")
    plan = TablePlan("marts", "fct", select, {}, (), ())
    catalog = con.execute("select current_database()").fetchall()[0][0]
    timings = {}
    t = time.monotonic()
    table_fingerprint(plan, source_summary(con, catalog, "marts", "fct"))
    timings["fingerprint (count + sum(hash(row)))"] = time.monotonic() - t
    for name, path, source in (("full copy, analyst masking", old, f"{catalog}.marts.fct"),
                               ("carry-over from previous copy", new, "old.marts.fct")):
        if source.startswith("old."):
            con.execute(f"attach '{old}' as old (read_only)")
        t = time.monotonic()
        con.execute(f"attach '{path}' as cp (storage_version 'v1.4.0')")
        con.execute("create schema cp.marts")
        sel = ", ".join(select) if not source.startswith("old.") else "*"
        con.execute(f"create table cp.marts.fct as select {sel} from {source}")
        con.execute("checkpoint cp")
        con.execute("detach cp")
        timings[name] = time.monotonic() - t
    con.execute("detach old")
    t = time.monotonic()
    con.execute("copy (select * from marts.fct) to '/dev/null' (format parquet, compression zstd)")
    timings["parquet export (to /dev/null)"] = time.monotonic() - t
    print("load:", os.getloadavg())
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.1f} s |")
    con.close()
    for p in (warehouse, old, new):
        p.unlink(missing_ok=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000_000,
         Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.gettempdir()) / "bench_fingerprint")
