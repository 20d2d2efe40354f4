"""Does one new day cost more as the history grows? The same people over longer histories.

    python benchmarks/bench_history_growth.py --people 100000 --starts 2025-11-01,2024-11-01,2022-11-01
    python benchmarks/bench_history_growth.py --table results/pipeline_100000_2026-12-05_*m.json

The issue's rule for the daily run is that it costs what the new day costs, not what the whole
history costs. bench_pipeline.py measures one history; this runs it for several world start dates
(same end date, same people, same seed), so the new day delivers about as many rows each time while
the history it lands on doubles, and prints the new day's steps, grouped, side by side: a step
whose seconds grow with the history is one that still reads it all. The steps are the last new day's
(a day like any other; the first after a full build runs on a fresh page cache), with every new
day's total below them (older results recorded one day). Results are recorded as
``pipeline_<people>_<date>_<months>m.json`` / ``.md`` beside the other pipeline runs.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_pipeline import history_months as months  # noqa: E402
GROUPS = (("ingest_", "ingest"), ("raw__", "raw GX"), ("marts__", "mart GX"), ("dbt_staging", "dbt staging"),
          ("dbt_marts", "dbt marts"), ("dbt_analytics_marts", "dbt analytics marts"),
          ("party_identity", "identity"), ("serving__", "serving copies + Parquet"))


def group_of(step: str) -> str:
    return next((name for prefix, name in GROUPS if step.startswith(prefix)), "analytics and checks")


def growth_table(runs: list[dict]) -> str:
    """New-day seconds per step group, one column per history length (shortest first)."""
    runs = sorted(runs, key=months)
    names = [name for _, name in GROUPS] + ["analytics and checks"]
    by_run = []
    for run in runs:
        sums = dict.fromkeys(names, 0.0)
        for step, seconds in _days(run)[-1]["steps"].items():
            sums[group_of(step)] += seconds
        by_run.append(sums)
    head = ["new-day step group", *(f"{months(r)} months" for r in runs)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(runs)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{s[name]:.1f} s" for s in by_run) + " |")

    def each_day(cell) -> Callable[[dict], str]:
        return lambda run: " / ".join(cell(day) for day in _days(run))

    rows = [("raw rows before the day", lambda r: f"{next(s['rows'] for s in r['stages'] if s['stage'] == 'ingest'):,}"),
            ("new raw rows (each new day)", each_day(lambda d: f"{d['rows']:,}")),
            ("**one new day** (each)", each_day(lambda d: f"**{d['seconds']:.1f} s**")),
            ("full build", lambda r: f"{r['full_build']['seconds']:.1f} s"),
            ("new day / full build", each_day(lambda d: f"{d['fraction_of_full_build']:.0%}")),
            ("mean load avg (new days)", each_day(lambda d: f"{d['mean_load_avg']:.2f}"))]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in runs) + " |")
    return "\n".join(lines) + "\n"


def _days(run: dict) -> list[dict]:
    """The run's new days in order (a result from before several days were recorded: its one)."""
    return run.get("new_days") or [run["new_day"]]


def run_one(people: int, start: str, end: str, results_dir: Path, no_floor: bool = False) -> Path:
    """bench_pipeline.py for one history; its result renamed with the history's length."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "world"
        done = subprocess.run([sys.executable, str(HERE / "bench_pipeline.py"), "--people", str(people),
                               "--start", start, "--end", end, "--out", str(out), "--results-dir", scratch,
                               *(["--no-floor"] if no_floor else [])])
        if done.returncode != 0:  # the world (and its log) is deleted with the scratch folder: show the log
            log = out / "bench.log"
            tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
            sys.exit(f"bench_pipeline.py failed for the history from {start}:\n" + "\n".join(tail))
        (written,) = Path(scratch).glob("pipeline_*.json")
        run = json.loads(written.read_text())
        target = results_dir / f"{written.stem}_{months(run)}m"
        shutil.copy(written, target.with_suffix(".json"))
        shutil.copy(written.with_suffix(".md"), target.with_suffix(".md"))
    return target.with_suffix(".json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--starts", default="2025-11-01,2024-11-01,2022-11-01", help="world start dates, comma-separated")
    ap.add_argument("--end", default="2026-10-31")
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    ap.add_argument("--table", nargs="+", type=Path, help="print the table of these recorded runs and exit")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the SQL floor (bench_pipeline.py --no-floor): it needs a copy of the warehouse on "
                         "disk, ~20 GB more at a million people over four years")
    args = ap.parse_args()
    if args.table:
        print(growth_table([json.loads(p.read_text()) for p in args.table]), end="")
        return
    paths = [run_one(args.people, start, args.end, args.results_dir, args.no_floor) for start in args.starts.split(",")]
    print(growth_table([json.loads(p.read_text()) for p in paths]), end="")


if __name__ == "__main__":
    main()
