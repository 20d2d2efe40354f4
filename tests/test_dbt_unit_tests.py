"""Every dbt unit test passes. Pipeline runs leave them out (dbt_assets._build: they check model
logic on fixed inputs, not the day's data), so this is where they run: against a copy of the built
sample-world warehouse, which gives them the upstream relations dbt reads column types from."""

import json
import shutil

from dagster_project.dbt_assets import build_args
from tests.test_dbt_staging import run_dbt


def test_every_dbt_unit_test_passes(built_world, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_world.warehouse, warehouse)
    run_dbt(warehouse, tmp_path, "test", "--select", "test_type:unit")
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    results = [r for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
               if not r["unique_id"].startswith("operation.")]  # the on-run-end hook
    defined = set(manifest["unit_tests"])
    assert len(defined) >= 20
    assert {r["unique_id"] for r in results} == defined
    assert {r["unique_id"]: r["status"] for r in results if r["status"] != "pass"} == {}


def test_pipeline_runs_leave_unit_tests_out(built_world, monkeypatch):
    monkeypatch.delenv("DBT_EXCLUDE_RESOURCE_TYPES", raising=False)
    assert build_args(False) == ["build", "--exclude-resource-type", "unit_test"]
    assert build_args(True) == ["build", "--exclude-resource-type", "unit_test", "--full-refresh"]
    # and what the built world's first run did (every run goes through build_args)
    for step in ("dbt_staging", "dbt_marts"):
        path = built_world.root / "dbt_runs" / step / "run_results.json"
        kinds = {r["unique_id"].split(".")[0] for r in json.loads(path.read_text())["results"]}
        assert "model" in kinds and "unit_test" not in kinds, (step, kinds)
