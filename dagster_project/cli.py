"""`crm-cif`: generate the sample world, run the pipeline headless, summarise, open the UI."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from dagster_project.settings import PROJECT_ROOT, get_settings


# Marks a dagster.yaml this command wrote: it is rewritten when the default changes (or the home
# moved); delete the line to keep a file of your own (e.g. Postgres storage for a deployment).
MANAGED_MARK = "# Written by crm-cif: delete this line to keep your own changes."
# What `crm-cif run` wrote before the event log storage was added (rewritten when found).
EARLIER_DAGSTER_YAML = ("telemetry:\n  enabled: false\nconcurrency:\n  runs:\n    max_concurrent_runs: 1\n"
                        "  pools:\n    default_limit: 1\n",)


def dagster_yaml(home: Path) -> str:
    """The Dagster instance's config for `home`.

    DuckDB has one writer: a sensor-triggered ingest and the daily build must queue, not collide.
    The event log is Dagster's SQLite one with its connections kept (event_log_storage.py), in
    the folder Dagster's default uses, so existing run history stays readable.
    """
    return f"""{MANAGED_MARK}
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    default_limit: 1
event_log_storage:
  module: dagster_project.event_log_storage
  class: KeptConnectionsSqliteEventLogStorage
  config:
    base_dir: {json.dumps(str(home / "history" / "runs"))}
"""


def _dagster_home() -> Path:
    """One persistent Dagster instance for `crm-cif run` and `crm-cif dev`, so runs show in the UI."""
    home = get_settings().data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(home)
    current = config.read_text() if config.exists() else None
    if current is None or current in EARLIER_DAGSTER_YAML or (current.startswith(MANAGED_MARK) and current != wanted):
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_generate(args: argparse.Namespace) -> int:
    from dagster_project.sample_world import WorldConfig, generate_world

    out = Path(args.out).resolve() if args.out else get_settings().data_dir
    started = time.perf_counter()
    try:
        config = WorldConfig(people=args.people, seed=args.seed, start=args.start, end=args.end,
                             out=out, bad_row_rate=args.bad_row_rate)
        summary = generate_world(config)
    except ValueError as exc:
        print(f"crm-cif generate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"crm-cif generate: cannot write the world to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"Sample world of {args.people:,} people written to {out / 'landing'} "
          f"(ground truth in {out / 'truth'}) in {time.perf_counter() - started:.1f}s")
    if summary is not None:
        print(summary)
    return 0


def run_pipeline(job_name: str = "crm_cif_pipeline", full_refresh: bool = False, full_data_tests: bool = False):
    """Materialize every asset in-process; returns the run's outcome (quality.alerts.RunOutcome).

    ``full_refresh`` tags the run so the dbt assets rebuild incremental models whole; a pending
    request (an erasure's marker, dagster_project/full_refresh.py) is honoured too and is
    cleared once such a run succeeded. ``full_data_tests`` tags it so the windowed dbt tests
    check whole tables.
    """
    home = _dagster_home()
    import dagster as dg

    from dagster_project.full_refresh import FULL_DATA_TESTS_TAG, FULL_REFRESH_TAG, clear_full_refresh, marker_path

    from dagster_project.definitions import build_defs
    from dagster_project.quality.alerts import outcome_of

    job = build_defs().resolve_job_def(job_name)
    warehouse = get_settings().warehouse_path
    pending = marker_path(warehouse).exists()
    started = time.perf_counter()
    print(f"Running {job_name} (warehouse {get_settings().warehouse_path}) ...", flush=True)
    with dg.DagsterInstance.get() as instance:
        from dagster_project.quality.recovery import release_dead_runs

        for run_id in release_dead_runs(instance):
            print(f"Run {run_id} was killed before it finished: marked failed, its warehouse slot released.", flush=True)
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        tags={**({FULL_REFRESH_TAG: "true"} if full_refresh else {}),
                                              **({FULL_DATA_TESTS_TAG: "true"} if full_data_tests else {})},
                                        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
    outcome = outcome_of(result, job_name)
    if pending and outcome.ok and job_name != "ingest_new_files":
        clear_full_refresh(warehouse)
    elapsed = time.perf_counter() - started
    if outcome.ok:
        print(f"Pipeline finished in {elapsed:.0f}s.")
    else:
        print(f"\nPipeline FAILED after {elapsed:.0f}s.", file=sys.stderr)
    _tell_people(outcome, str(home))
    return outcome


def _tell_people(outcome, dagster_home: str) -> None:
    """The one-screen summary on stderr and, if configured, the JSON webhook alert."""
    from dagster_project.quality.alerts import post_alert, render_outcome

    text = render_outcome(outcome, dagster_home)
    if text:
        print(text, file=sys.stderr)
    url = get_settings().alert_webhook_url
    if url and outcome.status != "succeeded":
        error = post_alert(url, outcome.to_alert())
        print(error or f"Alert sent to {url}.", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    outcome = run_pipeline(args.job, full_refresh=args.full_refresh, full_data_tests=args.full_data_tests)
    if outcome.ok:
        from dagster_project.summary import warehouse_summary

        print(warehouse_summary(get_settings().warehouse_path))
    return 0 if outcome.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not any(settings.landing_dir.glob("*/*")):
        print("No landing files yet: generating the default sample world.")
        cmd_generate(argparse.Namespace(people=args.people, seed=42, start=date(2024, 11, 1), end=date(2026, 10, 31),
                                        out=str(settings.data_dir), bad_row_rate=0.002))
    else:
        print(f"Using the files already in {settings.landing_dir} (delete data/ for a fresh world).")
    return cmd_run(argparse.Namespace(job="crm_cif_pipeline"))


def cmd_summary(args: argparse.Namespace) -> int:
    from dagster_project.summary import warehouse_summary

    print(warehouse_summary(get_settings().warehouse_path))
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """Print the per-source scorecard; exit 1 when a reconciliation (blocking) check fails."""
    import duckdb

    from dagster_project.quality.check_history import tallies_from_home
    from dagster_project.quality.scorecard import scorecard_text

    warehouse = get_settings().warehouse_path
    if not warehouse.exists():
        print(f"No warehouse at {warehouse}: run `crm-cif run` first.", file=sys.stderr)
        return 1
    try:
        text, ok = scorecard_text(warehouse, tallies_from_home(get_settings().data_dir / "dagster_home"))
    except duckdb.Error as exc:
        print(f"crm-cif quality: cannot read the warehouse: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0 if ok else 1


def cmd_sql(args: argparse.Namespace) -> int:
    """Run one read-only query against the warehouse and print the result."""
    import duckdb

    warehouse = get_settings().warehouse_path
    if not warehouse.exists():
        print(f"No warehouse at {warehouse}: run `make demo` first.", file=sys.stderr)
        return 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            con.sql(args.query).show(max_rows=args.max_rows)
        except duckdb.Error as exc:
            print(f"query failed: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_review_list(args: argparse.Namespace) -> int:
    """Print the uncertain pairs still waiting for a person's decision."""
    import duckdb

    from dagster_project.identity.review import read_decisions, render_review_pairs
    from dagster_project.warehouse import has_table

    settings = get_settings()
    if args.limit < 1:
        print("crm-cif review list: --limit must be at least 1", file=sys.stderr)
        return 2
    if not settings.warehouse_path.exists():
        print(f"No warehouse at {settings.warehouse_path}: run `crm-cif run` first.", file=sys.stderr)
        return 1
    try:
        decided = read_decisions(settings.match_decisions_path)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            if not has_table(con, "integration", "match_review"):
                print("No review queue yet: `crm-cif run` builds it (integration.match_review).", file=sys.stderr)
                return 1
            cursor = con.execute("select * from integration.match_review")
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    except ValueError as exc:
        print(f"crm-cif review list: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"crm-cif review list: cannot read the warehouse: {exc}", file=sys.stderr)
        return 1
    pending = [row for row in rows if (row["record_id_l"], row["record_id_r"]) not in decided]
    print(render_review_pairs(pending[: args.limit], total=len(pending), already_decided=len(rows) - len(pending)))
    return 0


def _unknown_records(record_ids: list[str]) -> list[str]:
    """Record ids the warehouse does not know (none checked when there is no warehouse yet)."""
    import duckdb

    from dagster_project.warehouse import has_table

    warehouse = get_settings().warehouse_path
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if not has_table(con, "integration", "int_party_records"):
            return []
        known = {row[0] for row in con.execute(
            "select record_id from integration.int_party_records where record_id in (?, ?)", record_ids).fetchall()}
    return [record_id for record_id in record_ids if record_id not in known]


def cmd_review_decide(args: argparse.Namespace) -> int:
    """Record a person's link / no-link decision; the next run honours it."""
    import duckdb

    from dagster_project.identity.review import read_decisions, record_decision

    path = get_settings().match_decisions_path
    try:
        read_decisions(path)  # a broken file is reported now, not at the next run
        if args.record_l.strip() == args.record_r.strip():
            raise ValueError(f"a record cannot be matched with itself: {args.record_l!r}")
        unknown = _unknown_records([args.record_l.strip(), args.record_r.strip()])
        if unknown:
            raise ValueError(f"unknown record id(s) (not in integration.int_party_records): {', '.join(unknown)}")
        record_decision(path, args.record_l, args.record_r, args.decision, args.by, note=args.note)
    except ValueError as exc:
        print(f"crm-cif review decide: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"crm-cif review decide: cannot check the record ids in the warehouse: {exc}", file=sys.stderr)
        return 1
    print(f"Recorded {args.decision} for {args.record_l} and {args.record_r} by {args.by} in {path}; "
          "it takes effect on the next `crm-cif run`.")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a person from every layer (or, with --dry-run, count what would be touched)."""
    import duckdb

    from dagster_project.privacy.erasure import ErasureRequest, erase
    from dagster_project.privacy.subject import UnknownSubject

    if not args.dry_run and not (args.by.strip() and args.reason.strip()):
        print("crm-cif erase: --by and --reason are required (they are kept in the erasure log; "
              "do not name the person in them)", file=sys.stderr)
        return 2
    request = ErasureRequest(party_ids=args.party_id, emails=args.email, phones=args.phone,
                             requested_by=args.by.strip(), reason=args.reason.strip(), dry_run=args.dry_run)
    rebuild = None if args.no_rebuild else (lambda: run_pipeline().ok)
    try:
        report = erase(get_settings(), request, rebuild)
    except UnknownSubject as exc:
        print(f"crm-cif erase: {exc}", file=sys.stderr)
        return 2
    except (duckdb.Error, OSError, ValueError) as exc:
        print(f"crm-cif erase: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        if isinstance(exc, duckdb.IOException):
            print("The warehouse is probably in use (a run, `crm-cif dev` or a reader): stop it and retry.",
                  file=sys.stderr)
        return 1
    print(report.render())
    if not report.party_ids:
        return 0
    if not args.dry_run and args.no_rebuild:
        print("Not rebuilt (--no-rebuild): the person's rows are gone everywhere, but aggregates (customer "
              "counts, segments, CLV) are recomputed only by the next `crm-cif run`.", file=sys.stderr)
    if not args.dry_run and not args.no_rebuild and not report.rebuilt:
        print("The rebuild failed: the person is gone from raw and the derived tables, but the serving copies "
              "may be stale; fix the run (`crm-cif run`) and re-run this erasure to verify.", file=sys.stderr)
        return 1
    return 0 if report.ok else 1


def cmd_dev(args: argparse.Namespace) -> int:
    _dagster_home()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-m", "dagster_project.definitions",
               "-h", args.host, "-p", str(args.port)]
    return subprocess.call(command, cwd=PROJECT_ROOT)


def cmd_docs(args: argparse.Namespace) -> int:
    from dagster_project.sources_doc import DOC_PATH, write_sources_markdown

    write_sources_markdown(DOC_PATH)
    print(f"wrote {DOC_PATH}")
    if args.dbt:
        from dagster_project.dbt_docs import build_dbt_docs

        try:
            page = build_dbt_docs()
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"crm-cif docs: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {page} (dbt docs: lineage, models and columns; open it in a browser)")
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-cif", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write the seeded synthetic sample world (landing files + ground truth)")
    gen.add_argument("--people", type=int, default=5000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", type=_date, default=date(2024, 11, 1))
    gen.add_argument("--end", type=_date, default=date(2026, 10, 31))
    gen.add_argument("--out", help="world root: files go to OUT/landing, ground truth to OUT/truth (default: data/)")
    gen.add_argument("--bad-row-rate", type=float, default=0.002)
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="materialize every asset headless, then print a summary")
    run.add_argument("--job", default="crm_cif_pipeline", choices=["crm_cif_pipeline", "ingest_new_files", "build_warehouse"])
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild the incremental dbt models (staging) from the raw tables instead of adding "
                          "only the new batches: after a change to a model's rules or columns")
    run.add_argument("--full-data-tests", action="store_true",
                     help="dbt tests that check only the rows loaded since they last passed check whole "
                          "tables (the daily schedule does this on Sundays)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="generate the default world if none is landed, run everything, summarise")
    demo.add_argument("--people", type=int, default=5000)
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("summary", help="print what the warehouse holds").set_defaults(func=cmd_summary)

    sub.add_parser("quality", help="per-source scorecard: rows, rejects, quarantine by reason, checks, last delivery"
                   ).set_defaults(func=cmd_quality)

    sql = sub.add_parser("sql", help="run a read-only SQL query against the warehouse")
    sql.add_argument("query")
    sql.add_argument("--max-rows", type=int, default=40)
    sql.set_defaults(func=cmd_sql)

    review = sub.add_parser("review", help="the queue of uncertain matches, and people's link / no-link decisions")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    review_list = review_sub.add_parser("list", help="print the pairs awaiting a decision, most likely first")
    review_list.add_argument("--limit", type=int, default=20)
    review_list.set_defaults(func=cmd_review_list)
    decide = review_sub.add_parser("decide", help="record that two records are (link) or are not (no-link) one party")
    decide.add_argument("record_l", metavar="RECORD_L")
    decide.add_argument("record_r", metavar="RECORD_R")
    decide.add_argument("decision", choices=["link", "no-link"])
    decide.add_argument("--by", required=True, help="who decides (kept with the decision)")
    decide.add_argument("--note", default="", help="why, for whoever reads the decision later")
    decide.set_defaults(func=cmd_review_decide)

    erase = sub.add_parser("erase", help="right to erasure: remove a person from every layer, keep only salted "
                           "hashes in the erasure log, suppress them in later deliveries")
    erase.add_argument("--party-id", action="append", default=[], help="party id (P + 16 hex); repeatable")
    erase.add_argument("--email", action="append", default=[], help="an email the person is known by; repeatable")
    erase.add_argument("--phone", action="append", default=[], help="a phone number in any format; repeatable")
    erase.add_argument("--by", default="", help="who requested or approved the erasure (kept in the log)")
    erase.add_argument("--reason", default="", help="why, e.g. a ticket number (kept in the log; never the name)")
    erase.add_argument("--dry-run", action="store_true", help="only count what would be touched; change nothing")
    erase.add_argument("--no-rebuild", action="store_true",
                       help="scrub raw and derived tables but do not re-run the pipeline (batching several erasures)")
    erase.set_defaults(func=cmd_erase)

    dev = sub.add_parser("dev", help="open the Dagster UI on the project")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=cmd_dev)

    docs = sub.add_parser("docs", help="render docs/sources.md from the source registry (--dbt: and the dbt docs site)")
    docs.add_argument("--dbt", action="store_true",
                      help="also build the dbt docs (lineage, column descriptions) into <data dir>/dbt_docs/index.html")
    docs.set_defaults(func=cmd_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
