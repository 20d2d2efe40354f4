"""Shared fixtures: a generated sample world and a warehouse built from it, once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

E2E_PEOPLE = 10_000


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
    result = run_job()
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert result.success, f"pipeline failed: {failures}"
    yield BuiltWorld(root=root, landing=root / "landing", truth=root / "truth", warehouse=root / "warehouse.duckdb",
                     first_run=result)
    os.environ.clear()
    os.environ.update(previous)
