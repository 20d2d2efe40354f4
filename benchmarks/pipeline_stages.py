"""The child process of bench_pipeline.py: runs pipeline stages and writes when each ran.

    python benchmarks/pipeline_stages.py generate --people N --out DIR --events FILE ...
    python benchmarks/pipeline_stages.py build --stages ingest,staging,... --events FILE
    python benchmarks/pipeline_stages.py daily --events FILE

`build` materializes the asset groups of the project's own Definitions in pipeline order, one
Dagster run per stage, in ONE process with one instance (as `crm-cif run` does), so the stages
add up to a normal full run; `daily` runs the normal job `crm_cif_pipeline` once. Each stage
appends one JSON line to FILE with wall-clock start/end (time.time(), so the parent can match
its memory samples), its steps' durations from the Dagster event log, dbt's per-node timings
(run_results.json) and the rows it processed, counted after the stage's end time.
"""

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ["ingest", "staging", "integration", "marts", "analytics", "publish"]
CHECK_OPS = ("gx_expectations", "reconciliation_checks", "freshness_checks")
# A failed step can leave its DuckDB connection open in this process, and opening the warehouse
# read-only beside it fails ("different configuration"), hiding the stage's own error: not counted.
NOT_COUNTED = (0, "not counted: the stage failed")


def _emit(events: Path, record: dict) -> None:
    with events.open("a") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


def stage_selections() -> dict:
    """Stage name -> AssetSelection over the project's assets (checks on them come along)."""
    import dagster as dg

    from dagster_project import definitions as d

    def keys(*assets_defs, groups=None):
        out = [k for a in assets_defs for k in a.keys if groups is None or a.group_names_by_key[k] in groups]
        return dg.AssetSelection.assets(*out)

    after_identity = keys(d.dbt_mart_assets)
    # the intermediate models and whatever of the post-identity dbt models they read (e.g. the
    # membership groups read the scheme list's history), so the stage builds on its own
    integration = (keys(d.dbt_mart_assets, groups={"integration"}).upstream() & after_identity)
    return {
        "ingest": dg.AssetSelection.groups("raw"),
        # seeds, staging (typed, quarantined) and the identity inputs: the dbt_staging step
        "staging": keys(d.dbt_staging_assets),
        # identity resolution and the intermediate models after it (golden record, households, ...)
        "integration": keys(d.party_identity) | integration,
        "marts": after_identity - integration,
        "analytics": dg.AssetSelection.groups("analytics") | keys(d.dbt_analytics_mart_assets),
        "publish": dg.AssetSelection.groups("serving"),
    }


def _step_times(instance, run_id: str) -> dict:
    """Step key -> seconds, from the run's STEP_START / STEP_SUCCESS|FAILURE events."""
    starts, out = {}, {}
    for rec in instance.all_logs(run_id):
        ev = rec.dagster_event
        if ev is None or not ev.step_key:
            continue
        if ev.event_type_value == "STEP_START":
            starts[ev.step_key] = rec.timestamp
        elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in starts:
            out[ev.step_key] = round(rec.timestamp - starts[ev.step_key], 2)
    return out


def _shared_seconds(results: list[dict]) -> dict[str, float]:
    """Each node's execution time with every moment split evenly among the nodes running then.

    Why: dbt runs two nodes at once on one DuckDB instance (one thread pool), so two overlapping
    nodes each report the whole overlap; their execution times sum to more than the wall time they
    took. Shared seconds sum to the wall time the nodes were running.
    """
    edges = []
    for r in results:
        execute = next((t for t in r.get("timing", []) if t.get("name") == "execute"), None)
        if execute and execute.get("started_at") and execute.get("completed_at"):
            start = datetime.fromisoformat(execute["started_at"].replace("Z", "+00:00")).timestamp()
            end = datetime.fromisoformat(execute["completed_at"].replace("Z", "+00:00")).timestamp()
            edges += [(start, 1, r["unique_id"]), (end, -1, r["unique_id"])]
    shared: dict[str, float] = {}
    running: set[str] = set()
    previous = None
    for moment, change, node in sorted(edges, key=lambda e: (e[0], e[1])):
        if previous is not None and running:
            for active in running:
                shared[active] = shared.get(active, 0.0) + (moment - previous) / len(running)
        previous = moment
        (running.add if change > 0 else running.discard)(node)
    return shared


def _dbt_timings(op_names: list[str]) -> dict:
    """Per dbt step: seconds by node type (model, test, seed) and the slowest models, from run_results.json."""
    from dagster_project.settings import get_settings

    runs = get_settings().dbt_runs_dir
    out = {}
    for op in op_names:
        path = runs / op / "run_results.json"
        if not path.exists():
            continue
        results = json.loads(path.read_text())["results"]
        by_type: dict[str, float] = {}
        models, tests = [], []
        for r in results:
            kind = r["unique_id"].split(".")[0]
            by_type[kind] = round(by_type.get(kind, 0.0) + r["execution_time"], 2)
            if kind == "model":
                models.append((r["unique_id"].split(".")[-1], round(r["execution_time"], 2)))
            elif kind == "test":
                tests.append((r["unique_id"].split(".")[2], round(r["execution_time"], 2)))
        shared = _shared_seconds(results)
        out[op] = {"seconds_by_type": by_type, "nodes": len(results),
                   "slowest_models": sorted(models, key=lambda m: -m[1])[:8],
                   "slowest_tests": sorted(tests, key=lambda t: -t[1])[:8],
                   "models": dict(models),
                   "models_shared": {name: round(shared.get(r["unique_id"], 0.0), 2) for r in results
                                     if (name := r["unique_id"].split(".")[-1]) in dict(models)}}
        path.unlink()  # the next stage's subset of the same dbt op writes its own
    return out


def table_rows(warehouse: Path, schemas: tuple[str, ...]) -> dict:
    """schema.table -> rows, for base tables of the given schemas (views are not stored rows)."""
    import duckdb

    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute("select schema_name, table_name from duckdb_tables() where schema_name in "
                            f"({', '.join('?' for _ in schemas)})", list(schemas)).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0] for s, t in names}


def rows_processed(stage: str, before: dict, after: dict, settings) -> tuple[int, str]:
    """The rows a stage processed, and what they are (so rows/s says what it measures)."""
    def total(d, prefix, skip=()):
        return sum(v for k, v in d.items() if k.startswith(prefix) and k not in skip)

    raw_skip = ("raw.file_ledger", "raw.unmatched_files")
    if stage == "ingest":
        return total(after, "raw.", raw_skip) - total(before, "raw.", raw_skip), "raw rows + rejects loaded"
    if stage == "staging":
        return total(after, "raw.", raw_skip + ("raw.rejects",)), "raw rows read (every raw row is re-staged)"
    if stage == "integration":
        return after.get("integration.int_party_records", 0), "party records resolved"
    if stage == "marts":
        return total(after, "marts."), "mart rows written"
    if stage == "analytics":
        return total(after, "analytics."), "analytics rows written"
    if stage == "publish":
        import duckdb
        serving = settings.serving_path
        if not serving.exists():
            return 0, "rows in the analyst serving copy"
        with duckdb.connect(str(serving), read_only=True) as con:
            names = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            rows = sum(con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0] for s, t in names)
        return rows, "rows in the analyst serving copy (written twice: analyst + restricted, and to Parquet)"
    return 0, ""


def _run_job(defs, job_name: str, instance) -> tuple[bool, str, dict, list]:
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    steps = _step_times(instance, result.run_id)
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return result.success, result.run_id, steps, failed


def _summarise(stage: str, started: float, ended: float, ok: bool, steps: dict, failed: list, dbt: dict,
               rows: tuple[int, str]) -> dict:
    check_seconds = round(sum(v for k, v in steps.items() if any(c in k for c in CHECK_OPS)), 2)
    return {"stage": stage, "start": started, "end": ended, "seconds": round(ended - started, 2), "success": ok,
            "failed_steps": failed, "steps": steps, "check_seconds": check_seconds, "dbt": dbt,
            "rows": rows[0], "rows_what": rows[1]}


def cmd_build(args: argparse.Namespace) -> None:
    import dagster as dg

    from dagster_project import cli, definitions as d
    from dagster_project.settings import get_settings

    cli._dagster_home()
    settings = get_settings()
    selections = stage_selections()
    stages = args.stages.split(",") if args.stages else STAGES
    jobs = [dg.define_asset_job(f"bench_{s}", selection=selections[s], executor_def=dg.in_process_executor)
            for s in stages]
    base = d.build_defs()
    defs = dg.Definitions(assets=d.all_assets, asset_checks=[*d.gx_checks, *d.QUALITY_CHECKS], jobs=jobs,
                          resources=base.resources)
    counted = ("raw", "integration", "marts", "analytics")
    with dg.DagsterInstance.get() as instance:
        before = table_rows(settings.warehouse_path, counted)
        for stage in stages:
            started = time.time()
            ok, _, steps, failed = _run_job(defs, f"bench_{stage}", instance)
            ended = time.time()
            dbt = _dbt_timings([k for k in ("dbt_staging", "dbt_marts", "dbt_analytics_marts") if k in steps])
            if not ok:
                _emit(args.events, _summarise(stage, started, ended, ok, steps, failed, dbt, NOT_COUNTED))
                sys.exit(f"stage {stage} failed: {failed}")
            after = table_rows(settings.warehouse_path, counted)
            rows = rows_processed(stage, before, after, settings)
            before = after
            _emit(args.events, _summarise(stage, started, ended, ok, steps, failed, dbt, rows))


def cmd_daily(args: argparse.Namespace) -> None:
    """The normal job over everything, as the daily schedule / `crm-cif run` does."""
    import dagster as dg

    from dagster_project import cli, definitions as d
    from dagster_project.settings import get_settings

    cli._dagster_home()
    settings = get_settings()
    counted = ("raw", "integration", "marts", "analytics")
    before = table_rows(settings.warehouse_path, counted)
    defs = d.build_defs()
    with dg.DagsterInstance.get() as instance:
        started = time.time()
        ok, _, steps, failed = _run_job(defs, "crm_cif_pipeline", instance)
        ended = time.time()
    dbt = _dbt_timings([k for k in ("dbt_staging", "dbt_marts", "dbt_analytics_marts") if k in steps])
    if not ok:
        _emit(args.events, _summarise("daily", started, ended, ok, steps, failed, dbt, NOT_COUNTED))
        sys.exit(f"daily run failed: {failed}")
    after = table_rows(settings.warehouse_path, counted)
    rows = rows_processed("ingest", before, after, settings)
    _emit(args.events, _summarise("daily", started, ended, ok, steps, failed, dbt, rows))


def cmd_generate(args: argparse.Namespace) -> None:
    from datetime import date

    from dagster_project.sample_world import WorldConfig, generate_world

    cfg = WorldConfig(people=args.people, seed=args.seed, start=date.fromisoformat(args.start),
                      end=date.fromisoformat(args.end), out=Path(args.out), bad_row_rate=0.002)
    started = time.time()
    summary = generate_world(cfg)
    ended = time.time()
    _emit(args.events, {"stage": "generate", "start": started, "end": ended, "seconds": round(ended - started, 2),
                        "success": True, "rows": summary.total_rows, "rows_what": "rows delivered (landing files)",
                        "files": summary.files, "steps": {}, "check_seconds": 0.0, "dbt": {}, "failed_steps": []})


FLOOR_COVERED = ("visits", "teller_transactions", "sessions", "orders", "events", "calls", "cases",
                 "limit_changes")


def floor_agreement(con) -> dict:
    """Rows the floor and the pipeline's mart disagree on (each way), so the floor is shown to do the same work."""
    covered = ", ".join(f"'{e}'" for e in FLOOR_COVERED)
    pairs = {
        "fct_interactions": (f"select * from marts.fct_interactions where source_entity in ({covered})",
                             "select * from floor.fct_interactions"),
        "fct_transactions": ("select * from marts.fct_transactions", "select * from floor.fct_transactions"),
        "fct_service_cases": ("select * from marts.fct_service_cases", "select * from floor.fct_service_cases"),
        "dim_customer": ("select * from marts.dim_customer", "select * from floor.dim_customer"),
    }
    out = {}
    for name, (mart, floor) in pairs.items():
        # the mart's own bookkeeping (e.g. the incremental facts' loaded_at) is not the floor's work
        columns = [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'floor' and table_name = ? "
            "order by column_index", [name]).fetchall()]
        mart = mart.replace("select *", "select " + ", ".join(f'"{c}"' for c in columns), 1)
        only_mart = con.execute(f"select count(*) from ({mart} except all {floor})").fetchall()[0][0]
        only_floor = con.execute(f"select count(*) from ({floor} except all {mart})").fetchall()[0][0]
        out[name] = {"only_in_mart": only_mart, "only_in_floor": only_floor}
    return out


def cmd_floor(args: argparse.Namespace) -> None:
    """Run the hand-written SQL floor on a copy of the warehouse (DuckDB only, same threads as dbt),
    with transparent huge pages as the kernel gives them: the floor is the best plain DuckDB does
    here, and it is faster with them (the pipeline, many processes on fresh memory, is not)."""
    from dagster_project.huge_pages import keep_kernel_setting

    huge_pages_off = keep_kernel_setting()
    import duckdb

    sql = Path(args.sql).read_text()
    statements = [s.strip() for s in sql.split(";\n") if s.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in s.splitlines())]
    con = duckdb.connect(str(args.db))
    con.execute(f"set threads = {args.threads}")
    started = time.time()
    per_statement = []
    for statement in statements:
        t0 = time.time()
        con.execute(statement)
        first = next((line for line in statement.splitlines() if line.strip() and not line.strip().startswith("--")), "")
        per_statement.append((first[:90], round(time.time() - t0, 2)))
    ended = time.time()
    rows = {t: con.execute(f"select count(*) from floor.{t}").fetchall()[0][0]
            for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'floor'").fetchall()}
    agreement = floor_agreement(con)
    con.close()
    _emit(args.events, {"stage": "floor", "agreement_with_marts": agreement, "start": started, "end": ended, "seconds": round(ended - started, 2),
                        "success": True, "rows": sum(rows.values()), "rows_what": "rows written by the floor script",
                        "tables": rows, "statements": per_statement, "steps": {}, "check_seconds": 0.0, "dbt": {},
                        "failed_steps": [], "huge_pages_off": huge_pages_off})


def _operators(node: dict, depth: int = 0) -> list[dict]:
    """The plan's operators, depth first, with their own time and output rows."""
    out = []
    for child in node.get("operator") or node.get("children") or []:
        info = child.get("extra_info") or {}
        detail = "; ".join(f"{k}: {v}" for k, v in info.items() if k != "Estimated Cardinality")[:160]
        out.append({"depth": depth, "operator": child.get("name"), "seconds": round(child.get("timing", 0.0), 3),
                    "rows": child.get("intermediate_rows"), "detail": detail})
        out.extend(_operators(child, depth + 1))
    return out


def cmd_profile(args: argparse.Namespace) -> None:
    """DuckDB's profiler on one compiled dbt model, rebuilt as a temp table on a copy of the warehouse:
    the operators that take the time of the build's slowest model."""
    import duckdb

    sql = Path(args.sql).read_text()
    out = Path(args.profile_json)
    con = duckdb.connect()
    con.execute(f"attach '{args.db}' as warehouse (read_only)")  # dbt compiles "warehouse"."schema"."table"
    con.execute("use warehouse")
    con.execute(f"set threads = {args.threads}")
    con.execute("set enable_profiling = 'json'")
    con.execute(f"set profiling_output = '{out}'")
    started = time.time()
    con.execute(f"create or replace temp table __profiled as {sql}")
    ended = time.time()
    con.execute("set enable_profiling = 'no_output'")
    con.close()
    tree = json.loads(out.read_text())
    query = tree.get("query", {})
    system = tree.get("system", {})
    # A model on a tiny world runs in milliseconds: keep four decimals so its time is never 0.
    _emit(args.events, {"stage": "profile", "model": args.model, "start": started, "end": ended,
                        "seconds": round(ended - started, 4), "success": True, "rows": 0, "rows_what": "",
                        "cpu_seconds": round(query.get("cpu_time", 0.0), 4),
                        "peak_buffer_gib": round(system.get("peak_buffer_memory", 0) / 1024**3, 2),
                        "spilled_gib": round(system.get("total_bytes_spilled", 0) / 1024**3, 2),
                        "operators": _operators(tree), "steps": {}, "check_seconds": 0.0, "dbt": {},
                        "failed_steps": []})


def _die_with_parent() -> None:
    """Linux: be killed when the harness dies (a killed smoke test must not leave a pipeline running)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> None:
    _die_with_parent()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--people", type=int, required=True)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--start", required=True)
    g.add_argument("--end", required=True)
    g.add_argument("--out", required=True)
    b = sub.add_parser("build")
    b.add_argument("--stages", default="")
    sub.add_parser("daily")
    f = sub.add_parser("floor")
    f.add_argument("--db", required=True)
    f.add_argument("--sql", required=True)
    f.add_argument("--threads", type=int, default=2)
    pr = sub.add_parser("profile")
    pr.add_argument("--db", required=True)
    pr.add_argument("--sql", required=True, help="a compiled dbt model (a select)")
    pr.add_argument("--model", required=True)
    pr.add_argument("--profile-json", required=True)
    pr.add_argument("--threads", type=int, default=2)
    for p in (g, b, sub.choices["daily"], f, pr):
        p.add_argument("--events", type=Path, required=True)
    args = ap.parse_args()
    {"generate": cmd_generate, "build": cmd_build, "daily": cmd_daily, "floor": cmd_floor,
     "profile": cmd_profile}[args.command](args)


if __name__ == "__main__":
    main()
