"""Benchmark identity resolution on a built world: time, peak memory, accuracy against the truth.

    python benchmarks/bench_identity.py --world /tmp/world_1m

The world must already be generated and built (``crm-cif run`` with CRM_CIF_DATA_DIR=world),
so the dbt inputs (``int_party_records``, ``int_party_identifiers``) exist. This re-runs only
the identity step (the Splink model, then clustering and stable ids) on that warehouse and
scores it: pairwise precision and recall overall and per pair of sources, and the distinct
person count. Writes benchmarks/results/identity_<people>_<date>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_generate import machine  # noqa: E402
from dagster_project.identity.probabilistic import score_candidate_pairs  # noqa: E402
from dagster_project.identity.resolve import Thresholds, resolve_parties  # noqa: E402
from dagster_project.sample_world.identity_scoring import score_identity  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, required=True, help="world root with warehouse.duckdb and truth/")
    ap.add_argument("--no-record", action="store_true", help="print only, write nothing to results/")
    args = ap.parse_args()

    con = duckdb.connect(str(args.world / "warehouse.duckdb"))
    people = con.execute(f"select count(*) from read_parquet('{args.world / 'truth' / 'persons.parquet'}')").fetchall()[0][0]
    t0 = time.perf_counter()
    scored = score_candidate_pairs(con)
    t1 = time.perf_counter()
    stats = resolve_parties(con, scored_pairs=scored.pairs, decisions_path=args.world / "identity" / "match_decisions.csv",
                            thresholds=Thresholds(), run_id="benchmark")
    t2 = time.perf_counter()
    score = score_identity(con, args.world / "truth")
    con.close()

    result = {
        "benchmark": "identity", "date": date.today().isoformat(), "machine": machine(), "people": people,
        "candidate_records": scored.candidates, "scored_pairs": scored.pairs.num_rows, "records": stats.records,
        "seconds": {"splink_train_and_predict": round(t1 - t0, 1), "cluster_and_ids": round(t2 - t1, 1),
                    "total": round(t2 - t0, 1)},
        "peak_rss_gib": peak_rss_gib(),
        "parties": stats.parties_by_type, "model_links": stats.model_links, "review_queue": stats.review_queue,
        "precision": round(score.overall.precision, 5), "recall": round(score.overall.recall, 5),
        "true_people": score.true_people, "individual_parties": score.individual_parties,
        "person_count_error": round(score.person_count_error, 5),
        "by_source_pair": {f"{left}-{right}": {"true_pairs": s.true_pairs, "precision": round(s.precision, 5),
                                               "recall": round(s.recall, 5)}
                           for (left, right), s in score.by_source_pair.items() if s.true_pairs},
    }
    print(json.dumps(result, indent=2))
    if args.no_record:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"identity_{people}_{result['date']}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"# Identity resolution, {r['people']:,} people ({r['date']})", "",
        f"Machine: {m['nproc']} cores, {m['memory_gib']} GiB, {m['cpu_model']}, Python {m['python']}.", "",
        "| measure | value |", "|---|---:|",
        f"| candidate records (Splink) | {r['candidate_records']:,} |",
        f"| all party records | {r['records']:,} |",
        f"| scored pairs ≥ 0.5 | {r['scored_pairs']:,} |",
        f"| Splink train + predict | {r['seconds']['splink_train_and_predict']} s |",
        f"| clustering + stable ids + writes | {r['seconds']['cluster_and_ids']} s |",
        f"| **identity total** | **{r['seconds']['total']} s** |",
        f"| peak memory (process RSS) | {r['peak_rss_gib']} GiB |",
        f"| pairwise precision | {r['precision']} |",
        f"| pairwise recall | {r['recall']} |",
        f"| individual parties / true people | {r['individual_parties']:,} / {r['true_people']:,} "
        f"({r['person_count_error']:+.2%}) |",
        "", "Per pair of sources:", "", "| sources | true pairs | precision | recall |", "|---|---:|---:|---:|",
    ]
    for pair, s in r["by_source_pair"].items():
        lines.append(f"| {pair} | {s['true_pairs']:,} | {s['precision']} | {s['recall']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
