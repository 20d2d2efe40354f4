"""Shared fixtures: a generated sample world and a warehouse built from it, once per session."""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from dagster_project.settings import DBT_PROJECT_DIR, PROJECT_ROOT

E2E_PEOPLE = 10_000
SMALL_PEOPLE = 1_500  # the smallest world on which every step (CLV included) runs, over a year
CLI_TIMEOUT = 900

# Parallel workers (pytest-xdist, `-n 2` in pyproject.toml): each keeps its own dbt runs folder,
# since two dbt builds at once must not write one target folder, and its own default data folder,
# since importing the Definitions opens the default warehouse and DuckDB lets one process hold it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _WORKER = os.environ["PYTEST_XDIST_WORKER"]
    os.environ["CRM_CIF_DBT_RUNS_DIR"] = str(DBT_PROJECT_DIR / "target" / f"runs_{_WORKER}")
    os.environ["CRM_CIF_DATA_DIR"] = tempfile.mkdtemp(prefix=f"crm_cif_tests_{_WORKER}_")
    atexit.register(shutil.rmtree, os.environ["CRM_CIF_DATA_DIR"], ignore_errors=True)  # the worker's, gone with it


# Seconds each of the slowest scopes took (setup + calls, one worker; `pytest --durations=0`,
# 2026-12-06, on the 2-core CI machine). The scheduler hands them out longest first, so the two
# workers finish together: in xdist's order (most tests first) the fault module came last and one
# worker ran alone for minutes. Scopes not listed follow, in xdist's order; a stale figure only
# costs balance, never a test. The fault and erasure modules: 2026-12-07, since they share one
# build of the small world (the fault module, which comes first, builds it).
SCOPE_SECONDS = {
    "tests/test_faults.py": 210, "built_world": 250, "tests/test_erasure_world.py": 170,
    "tests/test_bench_harness.py": 150, "tests/test_day_by_day.py": 140, "tests/test_windowed_tests.py": 95,
    "tests/test_staging_incremental.py": 70, "tests/test_incremental_households.py": 63,
    "tests/test_incremental_history.py": 60, "tests/test_incremental_facts.py": 55,
    "tests/test_incremental_scd2_history.py": 44, "tests/test_dbt_staging.py": 41, "tests/test_bad_input.py": 32,
    "tests/test_duckdb_settings.py": 18, "tests/test_serving_incremental.py": 15,
}


SESSION_WORLD_SCOPE = "built_world"  # the scope of every module on the session's built world


def session_world_modules() -> set[str]:
    """The test modules that use the session's built world (they name its fixture)."""
    return {f"tests/{p.name}" for p in Path(__file__).parent.glob("test_*.py") if SESSION_WORLD_SCOPE in p.read_text()}


def pytest_xdist_make_scheduler(config, log):
    """Send each test module whole to one worker, every module on the built world to the same one,
    and the slowest first.

    A module's tests share its module-scoped worlds, and the session's built world is built once
    per worker that needs it: split across workers, each would build them again (minutes each).
    (xdist's own `--dist loadgroup` marks do not reach its scheduler under pytest 9.)
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    on_built_world = session_world_modules()

    class ModuleScheduling(LoadScopeScheduling):
        _longest_first = False

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SESSION_WORLD_SCOPE if module in on_built_world else module

        def _assign_work_unit(self, node) -> None:
            if not self._longest_first:  # the queue is complete by the first assignment
                ordered = sorted(self.workqueue.items(), key=lambda scope: -SCOPE_SECONDS.get(scope[0], 0))
                self.workqueue.clear()
                self.workqueue.update(ordered)
                self._longest_first = True
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


@dataclass(frozen=True)
class BuiltWorld:
    root: Path
    landing: Path
    truth: Path
    warehouse: Path
    first_run: object  # the ExecuteInProcessResult of the first run


def _point_settings_at(root: Path) -> None:
    os.environ["CRM_CIF_DATA_DIR"] = str(root)
    for var in ("CRM_CIF_LANDING_DIR", "CRM_CIF_TRUTH_DIR", "CRM_CIF_WAREHOUSE", "CRM_CIF_SERVING", "CRM_CIF_EXPORTS_DIR",
                "CRM_CIF_MATCH_DECISIONS", "CRM_CIF_SERVING_RESTRICTED", "CRM_CIF_PSEUDONYM_SALT"):
        os.environ.pop(var, None)


def run_job(job_name: str = "crm_cif_pipeline"):
    """Run a job in-process against whatever the settings point at now."""
    import dagster as dg

    from dagster_project.definitions import build_defs

    result = build_defs().resolve_job_def(job_name).execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                                                         raise_on_error=False)
    return result


def cli_env(root: Path) -> dict:
    """The environment of a `crm-cif` run on the data folder ``root``, as a user's shell would give it
    (none of the test session's settings but its dbt runs folder)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CRM_CIF_", "DAGSTER_")) or k == "CRM_CIF_DBT_RUNS_DIR"}
    env["CRM_CIF_DATA_DIR"] = str(root)
    return env


def cli_command() -> list[str]:
    return [sys.executable, "-m", "dagster_project.cli", "run"]


def run_cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`crm-cif run` on ``root`` in a subprocess, through the real CLI."""
    return subprocess.run([*cli_command(), *args], env={**cli_env(root), **env}, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A year of 1,500 people, generated and built by `crm-cif run`, once for the whole test run.

    Why: the fault and erasure modules both start from this world built clean (~85 s a build); each
    pytest-xdist worker has a session of its own, so the first to need it builds it under a file
    lock in the run's shared temporary folder and the others wait for it or find it built.
    Read-only: a test copies what it changes.
    """
    from dagster_project.sample_world import WorldConfig, generate_world

    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    root = shared / "small_world"
    with open(shared / "small_world.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when a crashed worker dies
        if not (root / ".built").exists():
            shutil.rmtree(root, ignore_errors=True)  # what a worker that died mid-way left
            generate_world(WorldConfig(people=SMALL_PEOPLE, seed=11, start=date(2025, 11, 1), end=date(2026, 10, 31),
                                       out=root))
            result = run_cli(root)
            assert result.returncode == 0, result.stderr[-3000:]
            (root / ".built").touch()
    return root


@pytest.fixture
def con(tmp_path):
    """A fresh warehouse file for tests that drive the loaders directly."""
    import duckdb

    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def built_world(tmp_path_factory) -> BuiltWorld:
    """A 10,000-person, one-year world, generated and run through the whole pipeline once."""
    from dagster_project.sample_world import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("e2e_world")
    previous = dict(os.environ)
    _point_settings_at(root)
    generate_world(WorldConfig(people=E2E_PEOPLE, seed=7, start=date(2025, 11, 1), end=date(2026, 10, 31), out=root))
    # The first run's dbt folders stay beside the world: tests read its run_results.json, which
    # later runs of other tests (some fail on purpose) would overwrite in the shared runs folder.
    runs_dir = os.environ.get("CRM_CIF_DBT_RUNS_DIR")
    os.environ["CRM_CIF_DBT_RUNS_DIR"] = str(root / "dbt_runs")
    result = run_job()
    if runs_dir is None:
        os.environ.pop("CRM_CIF_DBT_RUNS_DIR")
    else:
        os.environ["CRM_CIF_DBT_RUNS_DIR"] = runs_dir
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert result.success, f"pipeline failed: {failures}"
    yield BuiltWorld(root=root, landing=root / "landing", truth=root / "truth", warehouse=root / "warehouse.duckdb",
                     first_run=result)
    os.environ.clear()
    os.environ.update(previous)
