"""Benchmark the sample-world generator: wall time, peak memory, rows written.

    python benchmarks/bench_generate.py --people 1000000 --out /tmp/world_1m [--keep]

Writes benchmarks/results/generate_<people>.json and appends a line to
benchmarks/results/generate.md. Only measured numbers are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster_project.huge_pages import huge_pages_disabled  # noqa: E402
from dagster_project.sample_world import WorldConfig, generate_world  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory_gib": mem_gib, "cpu_model": cpu, "python": platform.python_version(),
            "platform": platform.platform(), **huge_pages()}


def huge_pages() -> dict:
    """The kernel's transparent huge pages mode and whether this process has them (huge_pages.py
    turns them off for the pipeline's processes: on this machine a huge page fault costs ~20 ms)."""
    found = {}
    try:
        modes = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().split()
        found["thp_kernel"] = next((m.strip("[]") for m in modes if m.startswith("[")), None)
    except OSError:
        pass
    disabled = huge_pages_disabled()
    if disabled is not None:
        found["thp_in_process"] = not disabled
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 1))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2026, 10, 31))
    ap.add_argument("--bad-row-rate", type=float, default=0.002)
    ap.add_argument("--out", type=Path, default=Path("/tmp/crm_cif_bench_world"))
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--no-record", action="store_true", help="print only, write nothing to results/")
    args = ap.parse_args()

    cfg = WorldConfig(people=args.people, seed=args.seed, start=args.start, end=args.end, out=args.out,
                      bad_row_rate=args.bad_row_rate)
    t0 = time.perf_counter()
    summary = generate_world(cfg, log=lambda m: print(f"  {m}", flush=True))
    wall = time.perf_counter() - t0
    peak_rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    result = {
        "benchmark": "generate",
        "people": args.people,
        "seed": args.seed,
        "start": args.start.isoformat(),
        "end": args.end.isoformat(),
        "bad_row_rate": args.bad_row_rate,
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(peak_rss_gib, 2),
        "rows_written": summary.total_rows,
        "rows_per_second": round(summary.total_rows / wall),
        "rows_per_person": round(summary.total_rows / args.people, 1),
        "files": summary.files,
        "bad_rows": summary.bad_rows,
        "output_gib": round(size / 1024**3, 2),
        "rows_by_entity": summary.rows,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rows_by_entity"}, indent=2))
    if not args.no_record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"generate_{args.people}.json").write_text(json.dumps(result, indent=2) + "\n")
        m = result["machine"]
        line = (f"| {result['measured_at'][:10]} | {args.people:,} | {result['wall_seconds']} s | "
                f"{result['peak_rss_gib']} GiB | {result['rows_written']:,} | {result['rows_per_second']:,} | "
                f"{result['files']:,} | {result['output_gib']} GiB | {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB |\n")
        md = RESULTS / "generate.md"
        if not md.exists():
            md.write_text("# crm-cif generate benchmark (measured)\n\n"
                          "| date | people | wall | peak RSS | rows | rows/s | files | output | machine |\n"
                          "|---|---|---|---|---|---|---|---|---|\n")
        with md.open("a") as fh:
            fh.write(line)
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
