"""dbt models, seeds and tests as Dagster assets and asset checks.

The dbt project is split in three around the Python assets: the models that feed identity
resolution (seeds, staging, the party records and identifiers); everything that needs a
``party_id``; and the marts built on the analytics assets (segment migration), which run after
them. Asset keys are ``[schema, model]`` so the graph reads by layer.
"""


import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource
from packaging.version import Version

from dagster_project.full_refresh import full_data_tests_requested, full_refresh_requested
from dagster_project.mart_previews import preview_markdown
from dagster_project.settings import DBT_PROJECT_DIR, PROJECT_ROOT, get_settings

SEEDS_DIR = PROJECT_ROOT / "seeds"

PRE_IDENTITY_MODELS = "path:models/staging int_party_record_versions int_party_records int_party_identifiers"
PRE_IDENTITY = f"resource_type:seed {PRE_IDENTITY_MODELS}"
ON_ANALYTICS = "path:models/marts/segments path:models/history/segments"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt beside this interpreter, so the CLI and tests work outside an activated venv."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def _manifest_is_current() -> bool:
    """True when no dbt model, macro, test, config or seed changed since the last parse."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return False
    parsed_at = manifest.stat().st_mtime
    folders = [DBT_PROJECT_DIR / name for name in ("models", "macros", "snapshots", "tests")]
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", *SEEDS_DIR.glob("*.*"), *(p for f in folders for p in f.rglob("*.*"))]
    return all(path.stat().st_mtime <= parsed_at for path in sources if path.is_file())


def ensure_manifest() -> Path:
    """Parse the dbt project when no manifest exists yet (fresh clone) or under `dagster dev`.

    dagster-dbt's own preparer looks for `dbt` on PATH, which fails outside an activated venv.
    """
    if _manifest_is_current() and not dbt_project.preparer.using_dagster_dev():
        return dbt_project.manifest_path
    # Processes importing this at once (parallel test workers on a fresh clone) parse one at a time.
    lock_path = Path(dbt_project.manifest_path).parent / ".parse.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _manifest_is_current() and not dbt_project.preparer.using_dagster_dev():
            return dbt_project.manifest_path  # parsed by the process that held the lock
        return _parse()


def _parse() -> Path:
    command = [dbt_executable(), "--quiet", "parse", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(dbt_project.target_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    if result.returncode != 0 or not dbt_project.manifest_path.exists():
        raise RuntimeError(f"dbt parse failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return dbt_project.manifest_path


class PipelineDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs per dbt step that this project never uses.

    Profiled at a million people (pyinstrument), each dbt step spent 3.9 s before dbt started:
    `dbt --version` in a subprocess (1.4 s) to tell dbt Core from the Fusion engine, and an
    in-process dbt adapter with every macro loaded (2.5 s), which dagster-dbt needs only for
    ``fetch_row_counts`` / ``fetch_column_metadata``. Row counts come from ``_with_row_counts``
    once dbt has exited, and the dbt run is ``dbt_executable()``: the dbt Core installed beside
    dagster-dbt, whose version is read from the package metadata.
    """

    @property
    def _cli_version(self) -> Version:
        return Version(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return PipelineDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                                  dbt_executable=dbt_executable())


class LayerTranslator(DagsterDbtTranslator):
    """Keys models and seeds as ``[schema, name]`` and groups them by layer: their schema, or the
    ``layer`` in their meta (a helper stored in one schema and built with another layer's models:
    int_party_touchpoints sits in integration, which is not served, but reads a mart)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] in ("model", "seed", "snapshot"):
            config = props.get("config", {})
            schema = config.get("schema") or props.get("schema") or "main"
            layer = (config.get("meta") or {}).get("layer") or schema  # dbt mirrors a model's meta into its config
            return spec.replace_attributes(key=dg.AssetKey([schema, props["name"]]), group_name=layer)
        return spec


TRANSLATOR = LayerTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _event_asset_key(event: Any, context: dg.AssetExecutionContext) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.assets_def.keys_by_output_name[event.output_name]
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key
    return None


def _with_row_counts(events: list[Any], context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> Iterator[Any]:
    """Attach row counts once dbt has exited: DuckDB allows no second connection while it runs."""
    with duckdb.get_connection() as con:
        for event in events:
            key = _event_asset_key(event, context)
            if key is not None and len(key.path) == 2:
                schema, table = key.path
                try:
                    rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
                except Exception:  # noqa: BLE001 - a model that failed to build has no table to count
                    rows = None
                if rows is not None:
                    event = event.with_metadata({**(event.metadata or {}), "dagster/row_count": dg.MetadataValue.int(rows)})
                    preview = preview_markdown(con, (schema, table))
                    if preview is not None:
                        event = event.with_metadata({**event.metadata, "preview": dg.MetadataValue.md(preview)})
            yield event


# dbt settings of every pipeline step, unless the environment sets them.
DBT_ENV_DEFAULTS = {
    # A test whose parents span both dbt assets (a mart tested against a seed) runs with the
    # later asset only: "buildable" picks tests whose parents are all selected or upstream.
    "DBT_INDIRECT_SELECTION": "buildable",
    # dbt's own log file is off: dagster-dbt re-emits every dbt event of the run (each node's
    # start, result and errors) to the step's captured stdout, and at dbt's default file level
    # (debug) it also logged every SQL statement, about 10 MB per step per run. Measured at a
    # million people, a dbt_staging step with nothing new: 16.3 s with the debug file log, 15.7 s
    # at warn, 14.9 s with none. Set DBT_LOG_LEVEL_FILE=debug to get the SQL in dbt.log again.
    "DBT_LOG_LEVEL_FILE": "none",
}


def build_args(full_refresh: bool, full_data_tests: bool = False) -> list[str]:
    """The dbt command of a pipeline step.

    ``full_data_tests``: the windowed tests (unique_since_last_pass) check whole tables, not only
    the rows loaded since they last passed (full_refresh.py says how a run asks).

    dbt unit tests check model logic on fixed inputs, not the day's data: they run in the test
    suite (tests/test_dbt_unit_tests.py), not in every pipeline run, as dbt advises for production.
    DBT_EXCLUDE_RESOURCE_TYPES, when set, decides instead (dbt reads it when no flag is given).
    """
    args = ["build"]
    if "DBT_EXCLUDE_RESOURCE_TYPES" not in os.environ:
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if full_data_tests:
        args += ["--vars", "{full_data_tests: true}"]
    return args


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def start_from_newest_parse(target: Path) -> None:
    """Give a dbt step's folder the newest saved parse among the steps' folders, if its own is older.

    dbt parses the whole project again (~7.5 s against ~3 s) when a folder's saved parse was made
    for another warehouse file: the profile is part of what it checks. On a new warehouse (a first
    run, a test's world) the step before in the same run has just parsed for this one, so the later
    steps start from its parse. dbt checks what it is given (project files, profile, vars) and
    parses whole when it does not fit, so a wrong guess costs only the full parse it would have done.
    """
    own = target / PARTIAL_PARSE_FILE
    saved = [p for p in target.parent.glob(f"*/{PARTIAL_PARSE_FILE}") if p.is_file()]
    newest = max(saved, key=lambda p: p.stat().st_mtime, default=None)
    if newest is None or newest == own or (own.exists() and own.stat().st_mtime >= newest.stat().st_mtime):
        return
    target.mkdir(parents=True, exist_ok=True)
    partial = own.with_name(f".{PARTIAL_PARSE_FILE}.copying")
    shutil.copy2(newest, partial)  # keeps its time: the next run sees the two as equal
    os.replace(partial, own)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource) -> Iterator[Any]:
    os.environ["CRM_CIF_WAREHOUSE"] = duckdb.database  # profiles.yml reads it: one warehouse for both
    os.environ["CRM_CIF_DUCKDB_MEMORY_LIMIT"] = duckdb.connection_config.get("memory_limit", "")
    os.environ["CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY"] = get_settings().duckdb_block_allocator_memory
    os.environ["CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD"] = get_settings().duckdb_checkpoint_threshold
    for name, value in DBT_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # One target folder per dbt asset, reused by every run: dagster-dbt's default (a new folder
    # per run) would grow by megabytes a run, forever.
    target = get_settings().dbt_runs_dir / context.op_execution_context.op.name
    start_from_newest_parse(target)
    # Incremental models add only the new raw batches; a full refresh rebuilds them whole
    # (erasure, changed model rules): see dagster_project/full_refresh.py for how to ask.
    full_refresh = full_refresh_requested(duckdb.database, context.run.tags)
    if full_refresh:
        context.log.info("dbt build --full-refresh: incremental models are rebuilt from the raw tables.")
    full_data_tests = full_data_tests_requested(context.run.tags)
    if full_data_tests:
        context.log.info("Full data tests: the windowed dbt tests check whole tables this run.")
    args = build_args(full_refresh, full_data_tests)
    started = datetime.now(timezone.utc)
    invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
    events = list(invocation.stream())
    yield from _with_row_counts(events, context, duckdb)
    if not invocation.is_successful():
        failures = dbt_failures(_run_results_since(target / "run_results.json", started))
        raise dg.Failure(description="dbt build failed" + (": " + "; ".join(failures) if failures else "")
                         + ". See the dbt output above for the failing models and tests.")


def _run_results_since(path: Path, started: datetime) -> dict:
    """This invocation's run_results.json ({} when dbt wrote none: the folder keeps an earlier run's)."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        generated = datetime.fromisoformat(results["metadata"]["generated_at"].replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError):
        return {}
    return results if generated >= started else {}


def dbt_failures(run_results: Mapping, limit: int = 5) -> list[str]:
    """'<node>: <dbt's message, whitespace collapsed, at most 300 characters>' for the nodes that
    errored or failed, so the run's summary names them and says why (and quality/alerts.py can add
    a hint) without reading dbt's log. dbt's first line is often only "Compilation Error in model
    ..."; the reason follows on the next lines."""
    failed = [r for r in run_results.get("results", []) if r.get("status") in ("error", "fail", "runtime error")]
    lines = []
    for result in failed[:limit]:
        name = result.get("unique_id", "?").split(".")[2] if result.get("unique_id", "").count(".") >= 2 else "?"
        message = " ".join(str(result.get("message") or "").split())
        lines.append(f"{name}: {message[:300]}" if message else name)
    if len(failed) > limit:
        lines.append(f"and {len(failed) - limit} more")
    return lines


ensure_manifest()


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select=PRE_IDENTITY,
            dagster_dbt_translator=TRANSLATOR, name="dbt_staging")
def dbt_staging_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
    """Seeds, staging (typed, standardised, quarantined) and the identity inputs."""
    yield from _build(context, dbt, duckdb)


# The models after identity, selected as models rather than "everything but the seeds": excluding
# the seeds made dbt leave out every test with a seed among its parents (the facts' channel,
# department and product relationships never ran). Selected this way, DBT_INDIRECT_SELECTION
# "buildable" runs them here, their seeds being upstream.
@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select="resource_type:model",
            exclude=f"{PRE_IDENTITY_MODELS} {ON_ANALYTICS}",
            dagster_dbt_translator=TRANSLATOR, name="dbt_marts")
def dbt_mart_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
    """Golden record, households, and the marts: everything that needs a party_id."""
    yield from _build(context, dbt, duckdb)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select=ON_ANALYTICS,
            dagster_dbt_translator=TRANSLATOR, name="dbt_analytics_marts")
def dbt_analytics_mart_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
    """Marts on the analytics assets' tables (segment migration), built after them."""
    yield from _build(context, dbt, duckdb)
