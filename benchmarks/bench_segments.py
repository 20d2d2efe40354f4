"""Benchmark the segments on a built world: time, and agreement with the sample world's truth.

    python benchmarks/bench_segments.py --world /tmp/world_10k

The world must already be generated and built (``crm-cif run`` with CRM_CIF_DATA_DIR=world).
This rebuilds analytics.customer_segments and analytics.key_accounts on that warehouse (timed),
then scores them against the truth: lifecycle stage agreement per stage (precision, recall and
the confusion matrix, see dagster_project/sample_world/lifecycle_scoring.py), and per RFM
segment the people's true purchases in the period and the share that truly dropped out or left.
Writes benchmarks/results/segments_<people>_<date>.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_generate import machine  # noqa: E402
from dagster_project.analytics.key_accounts import build_key_accounts  # noqa: E402
from dagster_project.analytics.segments import build_customer_segments, warehouse_as_of  # noqa: E402
from dagster_project.sample_world.lifecycle_scoring import person_of_party_sql, score_lifecycle  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def rfm_against_truth(warehouse: Path, truth: Path) -> str:
    """Per RFM segment: parties, their true purchases in the period, and how many truly stopped."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"""
            with person_of_party as ({person_of_party_sql(truth)})
            select s.rfm_segment, count(*),
                round(avg(p.purchases_in_period), 1),
                round(avg(case when p.lapsed_on is not null or p.attrited_on is not null then 1.0 else 0 end), 3),
                round(avg(s.rfm_monetary), 0)
            from analytics.customer_segments as s
            join person_of_party as pp on pp.party_id = s.party_id
            join read_parquet('{truth / "persons.parquet"}') as p on p.person_id = pp.person_id
            where s.rfm_segment is not null
            group by 1 order by 3 desc
        """).fetchall()
    lines = ["| RFM segment | parties | true purchases in period (mean) | truly dropped out or left | net revenue (mean) |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {seg} | {n:,} | {purchases} | {dropped:.3f} | {revenue:,.0f} |" for seg, n, purchases, dropped, revenue in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, required=True, help="world root with warehouse.duckdb and truth/")
    ap.add_argument("--no-record", action="store_true", help="print only, write nothing to results/")
    args = ap.parse_args()
    warehouse, truth = args.world / "warehouse.duckdb", args.world / "truth"

    with duckdb.connect(str(warehouse)) as con:
        people = con.execute(f"select count(*) from read_parquet('{truth / 'persons.parquet'}')").fetchall()[0][0]
        t0 = time.perf_counter()
        as_of = warehouse_as_of(con)
        build_customer_segments(con, as_of)
        t1 = time.perf_counter()
        build_key_accounts(con, as_of)
        t2 = time.perf_counter()
    agreement = score_lifecycle(warehouse, truth)
    report = "\n".join([
        f"# Segments on a {people:,}-person world ({date.today().isoformat()})", "",
        f"Machine: {machine()}", "",
        f"customer_segments {t1 - t0:.2f} s, key_accounts {t2 - t1:.2f} s (as of {as_of}).", "",
        "## Lifecycle stage against the truth", "", agreement.markdown(), "",
        "## RFM segments against the truth", "", rfm_against_truth(warehouse, truth), "",
    ])
    print(report)
    if not args.no_record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"segments_{people}_{date.today().isoformat()}.md"
        out.write_text(report)
        print(f"written {out}")


if __name__ == "__main__":
    main()
