"""Segment membership history over many run dates: what one more day costs as the history grows.

    python benchmarks/bench_segment_history.py --world /tmp/crm_cif_bench/1000000 --days 20

Works on a copy of a built world's warehouse (the analytics tables the pipeline left: customer
segments, key accounts, CLV value tiers, and the membership tables; a warehouse with the former
per-run snapshots is converted first, timed). Each simulated day moves the as-of date on by one
and changes a share of the parties' segments (``--change-share``, default 0.5%: each picked party
gets another RFM segment, lifecycle stage and value tier seen in the data; the 1M benchmark world
changed ~25 k of 4.8 M memberships on its new day). Then, timed: ``write_membership`` (the
``segment_membership`` asset's work) and the dbt models ``hist_segment_membership`` and
``segment_migration`` (node execution time from dbt's run_results; dbt's start-up is left out).
Alongside: the rows the change table holds against the rows a snapshot per run date held
(the design before: every membership copied every day), which the history, the migration and the
serving copies had to read or write daily.

Prints one line per day and writes benchmarks/results/segment_history_<people>_<date>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_generate import machine  # noqa: E402
from dagster_project.analytics.membership import convert_snapshots, write_membership  # noqa: E402
from dagster_project.analytics.segments import warehouse_as_of  # noqa: E402
from dagster_project.dbt_assets import dbt_executable  # noqa: E402
from dagster_project.settings import DBT_PROJECT_DIR  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODELS = ("hist_segment_membership", "segment_migration")
# (table, column): the segments a simulated day moves, each to another value the column holds
MOVED = (("customer_segments", "rfm_segment"), ("customer_segments", "lifecycle_stage"), ("customer_clv", "value_tier"))


def move_segments(con: duckdb.DuckDBPyConnection, day: int, share: float) -> int:
    """Give ``share`` of the parties (picked by a hash of party and day) another value in each MOVED column."""
    per_mille = max(1, round(share * 1000))
    moved = 0
    for table, column in MOVED:
        values = [v for (v,) in con.execute(f"select distinct {column} from analytics.{table} "
                                            f"where {column} is not null order by 1").fetchall()]
        if len(values) < 2:
            continue
        listed = "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"
        moved += con.execute(f"""
            update analytics.{table}
            set {column} = list_element({listed}, cast(hash(party_id, {day}, 'to') % {len(values)} as integer) + 1)
            where {column} is not null and hash(party_id, {day}) % 1000 < {per_mille}
        """).fetchall()[0][0]
    return moved


def run_models(warehouse: Path, target: Path) -> dict[str, float]:
    """dbt run of MODELS on ``warehouse``; node execution seconds by model."""
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(warehouse)}
    run = subprocess.run([dbt_executable(), "run", "--select", *MODELS, "--project-dir", str(DBT_PROJECT_DIR),
                          "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)],
                         env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    if run.returncode != 0:
        raise SystemExit(f"dbt run failed:\n{run.stdout[-3000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in results}


def sizes(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    """(change rows held, rows a snapshot per run date would hold, run dates)."""
    return con.execute("select (select count(*) from analytics.segment_membership_changes), "
                       "(select sum(memberships) from analytics.segment_membership_runs), "
                       "(select count(*) from analytics.segment_membership_runs)").fetchall()[0]


def _machine_line() -> str:
    m = machine()
    return f"{m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB, Python {m['python']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, required=True, help="world root with a built warehouse.duckdb")
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--change-share", type=float, default=0.005)
    ap.add_argument("--no-record", action="store_true", help="print only, write nothing to results/")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_segment_history_"))
    warehouse = work / "warehouse.duckdb"
    shutil.copy(args.world / "warehouse.duckdb", warehouse)
    lines = []
    try:
        with duckdb.connect(str(warehouse)) as con:
            people = con.execute("select count(*) from analytics.customer_segments").fetchall()[0][0]
            start = time.perf_counter()
            converted = convert_snapshots(con)
            convert_seconds = time.perf_counter() - start
            as_of = warehouse_as_of(con)
        print(f"{people:,} parties with segments; {converted} former snapshot dates converted in {convert_seconds:.1f} s")
        rows = []
        for day in range(args.days + 1):
            on = as_of + timedelta(days=day)
            with duckdb.connect(str(warehouse)) as con:
                moved = move_segments(con, day, args.change_share) if day else 0
                start = time.perf_counter()
                held = write_membership(con, on)
                write_seconds = time.perf_counter() - start
                changes_today = con.execute("select count(*) from analytics.segment_membership_changes "
                                            "where as_of_date = ?", [on]).fetchall()[0][0]
                change_rows, snapshot_rows, run_dates = sizes(con)
            models = run_models(warehouse, work / "target")
            row = (day, on, run_dates, held, moved, changes_today, change_rows, snapshot_rows, write_seconds,
                   models.get("hist_segment_membership", 0.0), models.get("segment_migration", 0.0))
            rows.append(row)
            print(f"day {day:>3} {on}: {run_dates} run dates, {held:,} held, {changes_today:,} changes "
                  f"({moved:,} values moved); change rows {change_rows:,} vs snapshots {snapshot_rows:,}; "
                  f"write {write_seconds:.2f} s, hist {row[9]:.2f} s, migration {row[10]:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first, last = rows[1] if len(rows) > 1 else rows[0], rows[-1]
    per_day = lambda r: r[8] + r[9] + r[10]  # noqa: E731
    lines += [
        f"# Segment membership history: {people:,} parties, {args.days} more run dates ({date.today()})", "",
        f"Machine: {_machine_line()}. World: `{args.world}`. Change share per day: {args.change_share:.3%} of the parties "
        f"(RFM segment, lifecycle stage and value tier each moved). Former snapshot dates converted: {converted} "
        f"in {convert_seconds:.1f} s.", "",
        "| day | as-of | run dates | memberships held | changes that day | change rows held | rows a snapshot per run would hold "
        "| write_membership s | hist_segment_membership s | segment_migration s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:,} | {r[5]:,} | {r[6]:,} | {r[7]:,} | {r[8]:.2f} | {r[9]:.2f} | {r[10]:.2f} |"
              for r in rows]
    lines += ["", f"One more day on day {last[0]} against day {first[0]}: {per_day(last):.2f} s against "
              f"{per_day(first):.2f} s (ratio {per_day(last) / per_day(first):.2f}); change rows held "
              f"{last[6] / first[6]:.2f}x, snapshot rows would be {last[7] / first[7]:.2f}x."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        out = RESULTS / f"segment_history_{people}_{date.today()}.md"
        out.write_text(text, encoding="utf-8")
        print(f"written {out}")


if __name__ == "__main__":
    main()
