"""What transparent huge pages cost on this machine: the same work with THP on and off, alternating.

Why: the pipeline turns THP off for its processes (dagster_project/huge_pages.py) because DuckDB
asks for huge pages on its large hash tables and, on a VM that hands free memory back to its host,
each huge page fault is slow. This measures it rather than assuming it: in fresh child processes,
one with THP off (``prctl(PR_SET_THP_DISABLE, 1)``) and one with the kernel's setting
(``prctl(PR_SET_THP_DISABLE, 0)``), alternating,

- a DuckDB hash aggregate (``count(distinct i)`` over ``range(--rows)``, two threads), and
- NumPy filling an array of ``--numpy-gib`` GiB (NumPy madvises large arrays for huge pages),

each with its wall time, the child's kernel CPU time and the machine's huge page faults during it
(``thp_fault_alloc`` in /proc/vmstat; keep the machine quiet). Prints the figures and the on / off
ratios and writes ``huge_pages_<date>.md`` and ``.json`` to ``--results-dir``.

    python benchmarks/bench_huge_pages.py [--rows 50000000] [--numpy-gib 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import machine  # noqa: E402

HERE = Path(__file__).resolve().parent
# THP set with a raw prctl before anything else loads: importing dagster_project would turn it off
CHILD = r"""
import ctypes, json, resource, sys, time
mode, work, size = sys.argv[1], sys.argv[2], float(sys.argv[3])
ctypes.CDLL(None).prctl(41, 1 if mode == "off" else 0, 0, 0, 0)
sys.path.insert(0, sys.argv[4])
from machine_probe import huge_page_faults

def faults():
    return huge_page_faults() or 0

if work == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.execute("set enable_progress_bar = false")
    run = lambda: con.execute(f"select count(distinct i) from range({int(size)}) t(i)").fetchall()
else:
    import numpy as np
    run = lambda: float(np.ones(int(size * 1024**3) // 8).sum())
before_faults, before = faults(), resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
run()
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": round(seconds, 2), "kernel_seconds": round(after.ru_stime - before.ru_stime, 2),
                  "huge_page_faults": faults() - before_faults}))
"""


def run_child(mode: str, work: str, size: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, work, str(size), str(HERE)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(work: str, size: float, repeats: int) -> dict:
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for repeat in range(repeats):
        for mode in ("off", "on"):
            result = run_child(mode, work, size)
            runs[mode].append(result)
            print(f"{work} {size} THP {mode:3} #{repeat + 1}: {result['seconds']:6.2f} s, kernel "
                  f"{result['kernel_seconds']:6.2f} s, huge page faults {result['huge_page_faults']}", flush=True)
    median = {mode: statistics.median(r["seconds"] for r in results) for mode, results in runs.items()}
    return {"work": work, "size": size, "runs": runs, "median_seconds": median,
            "ratio_on_to_off": round(median["on"] / median["off"], 2) if median["off"] else None}


def markdown(result: dict) -> str:
    lines = [f"# Transparent huge pages on and off ({result['date']})", "",
             f"Machine: {result['machine']}", "",
             "| work | THP | runs: seconds (kernel seconds, huge page faults) | median | on / off |",
             "|---|---|---|---:|---:|"]
    for case in result["cases"]:
        label = (f"DuckDB count(distinct) over {int(case['size']):,} integers" if case["work"] == "duckdb"
                 else f"NumPy fills {case['size']} GiB")
        for mode in ("off", "on"):
            runs = ", ".join(f"{r['seconds']} ({r['kernel_seconds']}, {r['huge_page_faults']})" for r in case["runs"][mode])
            ratio = f"{case['ratio_on_to_off']}x" if mode == "on" else ""
            lines.append(f"| {label} | {mode} | {runs} | {case['median_seconds'][mode]:.2f} s | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--numpy-gib", type=float, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    args = ap.parse_args()
    now = datetime.now(timezone.utc)
    result = {"benchmark": "huge_pages", "date": now.date().isoformat(),
              "measured_at": now.isoformat(timespec="seconds"), "machine": machine(),
              "cases": [measure("duckdb", args.rows, args.repeats), measure("numpy", args.numpy_gib, args.repeats)]}
    for case in result["cases"]:
        print(f"{case['work']}: median off {case['median_seconds']['off']:.2f} s, on {case['median_seconds']['on']:.2f} s, "
              f"on / off {case['ratio_on_to_off']}x")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"huge_pages_{result['date']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {stem}.md and .json")


if __name__ == "__main__":
    main()
