"""Benchmark the whole pipeline stage by stage, one new day, the SQL floor and the serving queries.

    python benchmarks/bench_pipeline.py --people 100000 [--out DIR] [--results-dir DIR]

1. generate the world into --out (default /tmp/crm_cif_bench/<people>) and hold back the files of
   the last business days (the newest dates in the file names) in <out>/held_back/<date>/;
2. full build, stage by stage (ingest, staging, integration, marts, analytics, publish) in one
   child process (benchmarks/pipeline_stages.py build);
3. the floor: benchmarks/sql_floor.sql on a copy of the built warehouse;
4. serving queries on the analyst copy (<out>/serving.duckdb), read-only;
5. new days (--new-days, default 2): the held-back days are delivered one at a time, the normal
   job runs once for each (the first after a full build, then a day like any other).

Per stage: wall time, peak RSS of the child's process tree while the stage ran (dbt runs as a
grandchild; /proc sampled every 0.2 s), rows per second, and how contended the machine was
(machine_probe.py: load average, CPU steal, iowait, kernel time, IO pressure); a fixed probe
(CPU on one thread and two, a memory-bound query, a disk write) runs before the build and after
the last new day. Results go to <results-dir>/pipeline_<people>_<date>.json and
.md. Nothing here is a test: no assertions on times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import dagster_project  # noqa: E402,F401  (DuckDB's allocator setting, before duckdb loads: every stage and the floor alike)
from bench_generate import machine  # noqa: E402
from machine_probe import SystemSample, contention, mean_load as mean_load_of, probe, sample  # noqa: E402

STAGE_RUNNER = HERE / "pipeline_stages.py"
FLOOR_SQL = HERE / "sql_floor.sql"
BUILD_STAGES = ["ingest", "staging", "integration", "marts", "analytics", "publish"]
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- memory: the RSS of a process tree, sampled from /proc -------------------------------------

def _tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants now."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)  # fields[1] is ppid
            rss[pid] = int(fields[21]) * PAGE  # rss in pages
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class TreeSampler(threading.Thread):
    """Samples (time, tree RSS) of one process every ``interval`` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.system: list[SystemSample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.time(), _tree_rss(self.pid)))
            self.system.append(sample())
            self._halt.wait(self.interval)

    def _system_between(self, start: float, end: float) -> list[SystemSample]:
        return [s for s in self.system if start <= s.at <= end]

    def contention(self, start: float, end: float) -> dict:
        """CPU steal, iowait, kernel time and IO pressure while a stage ran (machine_probe.contention)."""
        inside = self._system_between(start, end)
        return contention(inside[0], inside[-1]) if len(inside) > 1 else {}

    def mean_load(self, start: float, end: float) -> float | None:
        """The machine's mean 1-minute load average while a stage ran (other work on the cores shows here)."""
        return mean_load_of(self._system_between(start, end))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=0)


def run_child(args: list[str], env: dict, events: Path, log: Path) -> tuple[list[dict], TreeSampler, float]:
    """Run the stage runner; returns its stage records (with peak RSS), the sampler and its wall time."""
    if events.exists():
        events.unlink()
    started = time.time()
    with log.open("a") as out:
        proc = subprocess.Popen([sys.executable, str(STAGE_RUNNER), *args, "--events", str(events)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait()
        sampler.stop()
    wall = time.time() - started
    records = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    for r in records:
        r["peak_rss_gib"] = round(sampler.peak(r["start"], r["end"]) / 1024**3, 2)
        r["rss_at_start_gib"] = round(sampler.peak(r["start"] - 0.5, r["start"] + 0.5) / 1024**3, 2)
        r["rows_per_second"] = round(r["rows"] / r["seconds"]) if r.get("seconds") else None
        r["mean_load_avg"] = sampler.mean_load(r["start"], r["end"])
        r.update(sampler.contention(r["start"], r["end"]))
    if code != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed (exit {code}); see {log}")
    return records, sampler, wall


# --- the world: hold back the last business day ------------------------------------------------

def _file_date(name: str) -> str | None:
    for part in name.split(".")[0].split("_"):
        if len(part) == 8 and part.isdigit():
            return part
    return None


def hold_back_last_days(landing: Path, held: Path, days: int = 1) -> list[tuple[str, int]]:
    """Move every landing file of the ``days`` newest business dates to ``held/<date>/`` (same source
    folders); returns (date, files) oldest first, the order they are delivered in."""
    files = [p for p in landing.glob("*/*") if p.is_file() and _file_date(p.name)]
    newest = sorted({_file_date(p.name) for p in files})[-days:]
    moved = dict.fromkeys(newest, 0)
    for p in files:
        day = _file_date(p.name)
        if day in moved:
            target = held / day / p.parent.name / p.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(p), target)
            moved[day] += 1
    return list(moved.items())


def deliver_held_back(landing: Path, held: Path, day: str) -> int:
    """Move one held-back date's files back into the landing folders; returns how many."""
    moved = 0
    for p in sorted((held / day).glob("*/*")):
        shutil.move(str(p), landing / p.parent.name / p.name)
        moved += 1
    return moved


# --- serving queries ---------------------------------------------------------------------------

LOOKUP_SQL = "select * from marts.customer_360 where party_id = ?"
SEGMENT_SQL = ("select s.rfm_segment, count(*) as customers, avg(c.clv) as avg_clv, avg(c.net_clv) as avg_net_clv "
               "from analytics.customer_segments as s left join analytics.customer_clv as c "
               "on c.party_id = s.party_id and c.as_of_date = s.as_of_date "
               "where s.as_of_date = (select max(as_of_date) from analytics.customer_segments) "
               "group by s.rfm_segment order by customers desc")


def serving_queries(serving: Path, repeats: int) -> dict:
    """customer_360 by party id (cold: a fresh read-only connection per lookup; warm: one connection)
    and a segment aggregate (count, average CLV by RFM segment); medians in milliseconds."""
    import duckdb

    with duckdb.connect(str(serving), read_only=True) as con:
        ids = [r[0] for r in con.execute(
            f"select party_id from marts.customer_360 using sample reservoir({int(repeats)} rows) repeatable (7)").fetchall()]
    cold, warm, segment = [], [], []
    for pid in ids:
        t0 = time.perf_counter()
        with duckdb.connect(str(serving), read_only=True) as con:
            con.execute(LOOKUP_SQL, [pid]).fetchall()
            cold.append((time.perf_counter() - t0) * 1000)
    with duckdb.connect(str(serving), read_only=True) as con:
        con.execute(LOOKUP_SQL, [ids[0]]).fetchall()
        for pid in ids:
            t0 = time.perf_counter()
            con.execute(LOOKUP_SQL, [pid]).fetchall()
            warm.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        con.execute(SEGMENT_SQL).fetchall()
        segment_first = (time.perf_counter() - t0) * 1000
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = con.execute(SEGMENT_SQL).fetchall()
            segment.append((time.perf_counter() - t0) * 1000)
    return {
        "serving_file": str(serving), "repeats": len(ids),
        "customer_360_lookup_cold_ms": round(statistics.median(cold), 2),
        "customer_360_lookup_warm_ms": round(statistics.median(warm), 2),
        "segment_aggregate_first_ms": round(segment_first, 2),
        "segment_aggregate_warm_ms": round(statistics.median(segment), 2),
        "segment_rows": len(rows),
        "lookup_sql": LOOKUP_SQL, "segment_sql": SEGMENT_SQL,
        "cold_means": "a new read-only connection per lookup (DuckDB's buffer empty; the OS page cache is not dropped)",
    }


# --- the profile of the build's slowest model ---------------------------------------------------

def slowest_model(build: list[dict]) -> tuple[str, float, str] | None:
    """(model, seconds, stage) of the slowest dbt model of the full build, from run_results."""
    found = [(m, sec, s["stage"]) for s in build for timings in s["dbt"].values()
             for m, sec in timings.get("slowest_models", [])]
    return max(found, key=lambda f: f[1], default=None)


def compiled_sql(model: str) -> Path | None:
    """The model's compiled select, as dbt wrote it under its Dagster step's target folder."""
    from dagster_project.settings import get_settings

    # dbt also compiles each unit test's fixture under <tests>.yml/<model>.sql: not the model.
    hits = sorted(p for p in get_settings().dbt_runs_dir.glob(f"*/compiled/**/{model}.sql")
                  if not any(part.endswith(".yml") for part in p.parts))
    return hits[0] if hits else None


def run_floor(build: list[dict], out: Path, env: dict, events: Path, log: Path, say) -> tuple[dict, dict | None]:
    """The SQL floor on a copy of the built warehouse, and the slowest model's profile on that copy."""
    say("floor: benchmarks/sql_floor.sql on a copy of the warehouse")
    floor_db = out / "floor_copy.duckdb"  # not floor.duckdb: the catalog would clash with schema floor
    shutil.copyfile(out / "warehouse.duckdb", floor_db)
    profile = profile_slowest(build, floor_db, env, events, log, out)
    if profile:
        say(f"  profile of {profile['model']}: {profile['seconds_alone']:.1f} s alone")
    floor, _, _ = run_child(["floor", "--db", str(floor_db), "--sql", str(FLOOR_SQL)], env, events, log)
    floor_db.unlink()
    say(f"  floor: {floor[0]['seconds']:.1f} s")
    return {**floor[0], "statements": len(floor[0]["statements"]), "statement_seconds": floor[0]["statements"]}, profile


def floor_ratios(transform: dict, floor_seconds: float) -> dict:
    """The transform's times as ratios to the floor's."""
    return {"floor_seconds": floor_seconds,
            "ratio_step_wall": round(transform["dbt_step_wall_seconds"] / floor_seconds, 2),
            "ratio_models": round(transform["dbt_model_seconds"] / floor_seconds, 2),
            "ratio_like_for_like": round(transform["dbt_floor_models_seconds"] / floor_seconds, 2),
            "ratio_like_for_like_shared": round(transform["dbt_floor_models_shared_seconds"] / floor_seconds, 2)}


def profile_slowest(build: list[dict], db: Path, env: dict, events: Path, log: Path, out: Path) -> dict | None:
    """DuckDB's JSON profile of the slowest model, re-run alone on the floor copy (2 threads)."""
    slowest = slowest_model(build)
    sql = compiled_sql(slowest[0]) if slowest else None
    if sql is None:
        return None
    records, _, _ = run_child(["profile", "--db", str(db), "--sql", str(sql), "--model", slowest[0],
                               "--profile-json", str(out / "profile.json")], env, events, log)
    p = records[0]
    top = sorted(p["operators"], key=lambda o: -o["seconds"])[:10]
    return {"model": slowest[0], "stage": slowest[2], "seconds_in_build": slowest[1], "seconds_alone": p["seconds"],
            "cpu_seconds": p["cpu_seconds"], "peak_buffer_gib": p["peak_buffer_gib"], "spilled_gib": p["spilled_gib"],
            "peak_rss_gib": p["peak_rss_gib"], "top_operators": top}


# --- report ------------------------------------------------------------------------------------

# The dbt models whose work benchmarks/sql_floor.sql redoes by hand (like for like).
FLOOR_ENTITIES = ["billing__transactions", "billing__holdings", "branch__visits", "branch__teller_transactions",
                  "web__sessions", "web__orders", "mobile__events", "callcentre__calls", "email__events",
                  "service__cases", "credit__limit_changes", "collections__events"]
FLOOR_MODELS = {*(f"stg_{e}_checked" for e in FLOOR_ENTITIES), *(f"stg_{e}" for e in FLOOR_ENTITIES),
                "stg_quarantine", "int_holdings_current", "fct_interactions", "fct_transactions",
                "fct_service_cases", "dim_customer"}


def transform_seconds(stages: dict) -> dict:
    """The pipeline's transform time three ways: the dbt steps' wall (models, tests, dbt start-up),
    dbt model execution only, and the execution of only the models the floor redoes."""
    step_wall = model_seconds = like_for_like = shared = 0.0
    for name in ("staging", "integration", "marts"):
        s = stages[name]
        step_wall += sum(v for k, v in s["steps"].items() if k in ("dbt_staging", "dbt_marts"))
        for op in ("dbt_staging", "dbt_marts"):
            timings = s["dbt"].get(op, {})
            model_seconds += timings.get("seconds_by_type", {}).get("model", 0.0)
            like_for_like += sum(v for m, v in timings.get("models", {}).items() if m in FLOOR_MODELS)
            shared += sum(v for m, v in timings.get("models_shared", {}).items() if m in FLOOR_MODELS)
    return {"dbt_step_wall_seconds": round(step_wall, 2), "dbt_model_seconds": round(model_seconds, 2),
            "dbt_floor_models_seconds": round(like_for_like, 2),
            "dbt_floor_models_shared_seconds": round(shared, 2), "floor_models": sorted(FLOOR_MODELS)}


def render_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# Pipeline benchmark: {result['people']:,} people ({result['date']})", "",
             f"Machine: {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB, Python {m['python']}. "
             f"Commit {result['commit']}. World: seed {result['seed']}, {result['start']}..{result['end']}; "
             f"last business days {', '.join(d['date'] for d in _held_days(result))} "
             f"({result['held_back']['files']} files) held back for the new-day runs.",
             "", "Load avg = the machine's mean 1-minute load average during the stage (2 cores: above 2, other work "
             "competed for the CPU and the stage's time is inflated). Steal = CPU time the hypervisor gave to other "
             "machines, iowait = CPU time waiting on the disk, kernel = CPU time in the kernel (faulting fresh memory "
             "in, IO; all % of all CPU time), IO full = % of the stage's wall "
             "time in which every runnable task waited on IO (/proc/pressure/io); high values mean a slower machine, "
             "not slower code.",
             "", "| stage | wall | peak RSS (tree) | rows | rows/s | rows are | of which checks | load avg | steal | iowait "
             "| kernel | IO full |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    days = _new_days(result)
    rows = [(s["stage"], s) for s in result["stages"]] + [(f"new day {d.get('date', '')}".strip(), d) for d in days]
    for label, s in rows:
        lines.append(f"| {label} | {s['seconds']:.1f} s | {s['peak_rss_gib']:.2f} GiB | {s['rows']:,} | "
                     f"{(s['rows_per_second'] or 0):,} | {s['rows_what']} | {s['check_seconds']:.1f} s | {s.get('mean_load_avg')} | "
                     f"{_pct(s, 'cpu_steal_pct')} | {_pct(s, 'iowait_pct')} | {_pct(s, 'kernel_pct')} | "
                     f"{_pct(s, 'io_pressure_full_pct')} |")
    fb = result["full_build"]
    lines += [f"| **full build** (ingest..publish) | **{fb['seconds']:.1f} s** | **{fb['peak_rss_gib']:.2f} GiB** | | | | {fb['check_seconds']:.1f} s | | | | | |"]
    probes = result.get("machine_probe", {})
    if probes:
        lines += ["", "Machine probe (benchmarks/machine_probe.py; the same work every run):", "",
                  "| when | CPU, one thread | CPU, two threads | memory-bound, two threads | disk: write + fsync | "
                  "sync first | steal | iowait | kernel | IO full |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {when} | {p['cpu_seconds']:.2f} s | {_seconds(p, 'cpu2_seconds')} | {_seconds(p, 'memory_seconds')} | "
                  f"{p['disk_write_mib_s']:,.0f} MiB/s ({p['disk_mib']} MiB) | "
                  f"{p['sync_seconds']:.1f} s | {_pct(p, 'cpu_steal_pct')} | {_pct(p, 'iowait_pct')} | "
                  f"{_pct(p, 'kernel_pct')} | {_pct(p, 'io_pressure_full_pct')} |" for when, p in probes.items()]
    lines += ["", "| measure | value |", "|---|---:|"]
    t, sq, fl = result["transform"], result["serving"], result["floor"]
    measured = fl is not None and "ratio_step_wall" in t
    lines += [
        f"| full build (sum of stages) | {fb['seconds']:.1f} s |",
        f"| child process wall (incl. start-up, imports, row counts between stages) | {fb['process_wall_seconds']:.1f} s |",
        (f"| SQL floor (benchmarks/sql_floor.sql, {fl['statements']} statements) | {fl['seconds']:.1f} s, peak {fl['peak_rss_gib']:.2f} GiB |"
         if measured else "| SQL floor | not measured (--no-floor) |"),
        f"| transform = dbt_staging + dbt_marts steps (models + dbt tests + dbt start-up) | {t['dbt_step_wall_seconds']:.1f} s |",
        *([f"| transform / floor | **{t['ratio_step_wall']:.2f}x** |"] if measured else []),
        f"| dbt model execution only (run_results), staging + marts | {t['dbt_model_seconds']:.1f} s |",
        *([f"| models only / floor | {t['ratio_models']:.2f}x |"] if measured else []),
        f"| the same models the floor redoes (staging of its 12 entities, facts, holdings, dim_customer) | {t['dbt_floor_models_seconds']:.1f} s |",
        *([f"| like for like / floor | **{t['ratio_like_for_like']:.2f}x** |"] if measured else []),
        *([f"| the same models' time shared with the nodes running beside them (dbt runs two at once; "
           f"overlaps counted once) | {t['dbt_floor_models_shared_seconds']:.1f} s |",
           f"| like for like, shared / floor | **{t['ratio_like_for_like_shared']:.2f}x** |"]
          if measured and "ratio_like_for_like_shared" in t else []),
        *(line for i, nd in enumerate(days, 1) for line in (
            f"| new day {i}{' ' + nd['date'] if 'date' in nd else ''} (normal job, {nd['rows']:,} new raw rows) | "
            f"{nd['seconds']:.1f} s, peak {nd['peak_rss_gib']:.2f} GiB |",
            f"| new day {i} / full build | **{nd['fraction_of_full_build']:.1%}** (mean load avg {nd.get('mean_load_avg')}) |")),
        f"| customer_360 lookup, cold / warm (median of {sq['repeats']}) | {sq['customer_360_lookup_cold_ms']:.1f} / {sq['customer_360_lookup_warm_ms']:.1f} ms |",
        f"| segment aggregate, first / warm median | {sq['segment_aggregate_first_ms']:.1f} / {sq['segment_aggregate_warm_ms']:.1f} ms |",
        "", "Slowest steps of the new-day runs:", "",
        "| step | " + " | ".join(f"day {i} seconds" for i in range(1, len(days) + 1)) + " |",
        "|---|" + "---:|" * len(days)]
    slowest = sorted(days[0]["steps"].items(), key=lambda kv: -kv[1])[:12]
    lines += [f"| {k} | " + " | ".join(f"{d['steps'].get(k, 0.0):.1f}" for d in days) + " |" for k, _ in slowest]
    nodes = [(kind, name, sec, s["stage"]) for s in result["stages"] for t in s.get("dbt", {}).values()
             for kind, key in (("model", "slowest_models"), ("test", "slowest_tests")) for name, sec in t.get(key, [])]
    if nodes:
        lines += ["", "Slowest dbt nodes of the full build (run_results execution time; two run at once):", "",
                  "| node | kind | stage | seconds |", "|---|---|---|---:|"]
        lines += [f"| {name} | {kind} | {stage} | {sec:.1f} |"
                  for kind, name, sec, stage in sorted(nodes, key=lambda n: -n[2])[:15]]
    pr = result.get("profile")
    if pr:
        lines += ["", f"Profile of the full build's slowest model, `{pr['model']}` ({pr['stage']} stage): "
                  f"{pr['seconds_in_build']:.1f} s in the build (beside other dbt nodes), {pr['seconds_alone']:.2f} s "
                  f"re-run alone on a copy (CPU {pr['cpu_seconds']:.1f} s on 2 threads, DuckDB buffer peak "
                  f"{pr['peak_buffer_gib']:.2f} GiB, spilled {pr['spilled_gib']:.2f} GiB). Its most expensive operators "
                  "(DuckDB JSON profile):", "", "| operator | seconds (summed over threads) | rows out | detail |",
                  "|---|---:|---:|---|"]
        lines += [f"| {o['operator']} | {o['seconds']:.2f} | {o['rows'] or 0:,} | {o['detail'].replace('|', '/')} |"
                  for o in pr["top_operators"]]
    return "\n".join(lines) + "\n"


def _probe_cell(run: dict) -> str:
    """The machine probe before / after the run: each query's seconds, disk MiB/s ("n/a" before 2026-12-06)."""
    probes = list(run.get("machine_probe", {}).values())
    if not probes:
        return "n/a"
    cells = [" / ".join(f"{p[key]:.2f}" for p in probes) + f" s {label}"
             for key, label in (("cpu_seconds", "CPU"), ("cpu2_seconds", "CPU x2"), ("memory_seconds", "memory"))
             if all(key in p for p in probes)]
    return "; ".join([*cells, " / ".join(f"{p['disk_write_mib_s']:,.0f}" for p in probes) + " MiB/s"])


def _new_days(result: dict) -> list[dict]:
    """The run's new days (runs before 2026-12-06 measured one, as ``new_day``)."""
    return result.get("new_days") or [result["new_day"]]


def _held_days(result: dict) -> list[dict]:
    held = result["held_back"]
    return held.get("days") or [{"date": held["date"], "files": held["files"]}]


def _seconds(record: dict, key: str) -> str:
    return f"{record[key]:.2f} s" if record.get(key) is not None else "n/a"


def _pct(record: dict, key: str) -> str:
    return f"{record[key]:.1f}%" if record.get(key) is not None else "n/a"


def _transform_cell(t: dict) -> str:
    if "ratio_step_wall" not in t:
        return "not measured"
    if not t.get("dbt_floor_models_seconds"):
        return f"{t['ratio_step_wall']:.1f}x (n/a)"
    shared = f"; {t['ratio_like_for_like_shared']:.1f}x" if "ratio_like_for_like_shared" in t else ""
    return f"{t['ratio_step_wall']:.1f}x ({t['ratio_like_for_like']:.1f}x{shared})"


def history_months(run: dict) -> int:
    """The world's span in months, from a recorded run's start and end dates (calendar months)."""
    start, end = date.fromisoformat(run["start"]), date.fromisoformat(run["end"])
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _history_cell(run: dict) -> str:
    try:
        return f"{history_months(run)} mo"
    except (KeyError, ValueError):
        return "n/a"


def summary_table(results_dir: Path) -> str:
    """One row per recorded pipeline run (every pipeline_<people>_<date>.json): the README's table."""
    runs = []
    for path in sorted(results_dir.glob("pipeline_*_*.json")):
        r = json.loads(path.read_text())
        if r.get("benchmark") == "pipeline" and "full_build" in r:
            runs.append(r)
    runs.sort(key=lambda r: (r["date"], r["people"], r.get("measured_at", "")))
    names = ["generate", *BUILD_STAGES]
    head = ["date", "commit", "people", "history", *names, "full build", "peak RSS",
            "transform / floor (like for like; shared)",
            "new day", "new day / full", "c360 lookup cold / warm", "segment agg.", "load avg",
            "machine probe before / after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        by = {s["stage"]: s for s in r["stages"]}
        t, sq = r["transform"], r["serving"]
        days = _new_days(r)
        loads = [s["mean_load_avg"] for s in r["stages"] if s.get("mean_load_avg") is not None]
        cells = [r["date"], r.get("commit", "n/a"), f"{r['people']:,}", _history_cell(r),
                 *(f"{by[n]['seconds']:.0f} s" for n in names),
                 f"{r['full_build']['seconds']:.0f} s", f"{r['full_build']['peak_rss_gib']:.1f} GiB",
                 _transform_cell(t),
                 " / ".join(f"{d['seconds']:.0f} s" for d in days),
                 " / ".join(f"{d['fraction_of_full_build']:.0%}" for d in days),
                 f"{sq['customer_360_lookup_cold_ms']:.0f} / {sq['customer_360_lookup_warm_ms']:.1f} ms",
                 f"{sq['segment_aggregate_warm_ms']:.0f} ms",
                 f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a", _probe_cell(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _commit() -> str:
    """HEAD when the run started, '+dirty' when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default="2024-11-01")
    ap.add_argument("--end", default="2026-10-31")
    ap.add_argument("--out", type=Path, help="world + warehouse folder (default /tmp/crm_cif_bench/<people>)")
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    ap.add_argument("--repeats", type=int, default=25, help="serving query repetitions (median reported)")
    ap.add_argument("--new-days", type=int, default=2,
                    help="last business days held back and run one at a time after the full build")
    ap.add_argument("--probe-disk-mib", type=int, default=1024, help="MiB the machine probe writes and fsyncs")
    ap.add_argument("--probe-repeats", type=int, default=3,
                    help="times the machine probe runs each query (median reported; 1 for a quick smoke)")
    ap.add_argument("--keep", action="store_true", help="keep the world and warehouse afterwards")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the SQL floor and the slowest model's profile, which run on a copy of the "
                         "warehouse (a history-growth run; a disk without room for the copy)")
    ap.add_argument("--table", action="store_true", help="print the table of every recorded run and exit")
    args = ap.parse_args()
    if args.new_days < 1:
        ap.error("--new-days must be at least 1")
    if args.table:
        print(summary_table(args.results_dir), end="")
        return

    commit = _commit()
    out = (args.out or Path("/tmp/crm_cif_bench") / str(args.people)).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = {**os.environ, "CRM_CIF_DATA_DIR": str(out), "PYTHONUNBUFFERED": "1"}
    for var in ("CRM_CIF_WAREHOUSE", "CRM_CIF_LANDING_DIR", "CRM_CIF_SERVING", "CRM_CIF_SERVING_RESTRICTED",
                "CRM_CIF_EXPORTS_DIR", "CRM_CIF_MATCH_DECISIONS", "DAGSTER_HOME"):
        env.pop(var, None)
    log = out / "bench.log"
    events = out / "events.jsonl"
    say = lambda m: print(f"[{datetime.now():%H:%M:%S}] {m}", flush=True)  # noqa: E731

    say(f"generate {args.people:,} people into {out}")
    gen, _, _ = run_child(["generate", "--people", str(args.people), "--seed", str(args.seed), "--start", args.start,
                           "--end", args.end, "--out", str(out)], env, events, log)
    held = hold_back_last_days(out / "landing", out / "held_back", args.new_days)
    say(f"held back {sum(n for _, n in held)} files of {', '.join(d for d, _ in held)}; machine probe")
    probes = {"before": probe(out, args.probe_disk_mib, args.probe_repeats)}
    say(f"  {probes['before']}; full build, stage by stage")
    build, _, build_wall = run_child(["build", "--stages", ",".join(BUILD_STAGES)], env, events, log)
    for s in build:
        say(f"  {s['stage']}: {s['seconds']:.1f} s, peak {s['peak_rss_gib']} GiB, {s['rows']:,} rows")
    stages = {s["stage"]: s for s in build}

    floor, profile = (None, None) if args.no_floor else run_floor(build, out, env, events, log, say)

    say("serving queries on the analyst copy")
    serving = serving_queries(out / "serving.duckdb", args.repeats)

    full_seconds = sum(s["seconds"] for s in build)
    new_days = []
    for day_date, _ in held:
        delivered = deliver_held_back(out / "landing", out / "held_back", day_date)
        say(f"new day {day_date}: {delivered} files delivered, normal job")
        daily, _, daily_wall = run_child(["daily"], env, events, log)
        new_days.append({**daily[0], "date": day_date, "files": delivered,
                         "process_wall_seconds": round(daily_wall, 2),
                         "fraction_of_full_build": round(daily[0]["seconds"] / full_seconds, 4)})
        say(f"  new day: {daily[0]['seconds']:.1f} s")
    probes["after"] = probe(out, args.probe_disk_mib, args.probe_repeats)
    say(f"machine probe after: {probes['after']}")

    transform = transform_seconds(stages)
    if floor is not None:
        transform.update(floor_ratios(transform, floor["seconds"]))
    today = date.today().isoformat()
    result = {
        "benchmark": "pipeline", "people": args.people, "seed": args.seed, "start": args.start, "end": args.end,
        "date": today, "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit, "machine": machine(), "out": str(out),
        "held_back": {"date": held[-1][0], "files": sum(n for _, n in held),
                      "days": [{"date": d, "files": n} for d, n in held]},
        "machine_probe": probes,
        "stages": [*gen, *build],
        "full_build": {"seconds": round(full_seconds, 2), "process_wall_seconds": round(build_wall, 2),
                       "peak_rss_gib": max(s["peak_rss_gib"] for s in build),
                       "check_seconds": round(sum(s["check_seconds"] for s in build), 2),
                       "means": "sum of the six build stages (generate excluded)"},
        "floor": floor,  # None: not measured (--no-floor)
        "transform": transform,
        "new_day": new_days[0],  # the first day after the full build (what runs before 2026-12-06 measured)
        "new_days": new_days,
        "serving": serving,
        "profile": profile,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"pipeline_{args.people}_{today}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(render_markdown(result))
    print(render_markdown(result))
    say(f"written {stem}.json and .md")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
