"""The DuckDB knobs in settings reach the DuckDB that dbt opens (profiles.yml), in order: the block
allocator's share is taken of the memory limit the profile set before it."""

import json

from dagster_project.settings import (DEFAULT_DUCKDB_BLOCK_ALLOCATOR_MEMORY, DEFAULT_DUCKDB_CHECKPOINT_THRESHOLD,
                                      get_settings)
from tests.test_dbt_staging import run_dbt

SHOW_SETTINGS = ("select current_setting('memory_limit') as memory_limit, "
                 "current_setting('block_allocator_memory') as block_allocator_memory, "
                 "current_setting('checkpoint_threshold') as checkpoint_threshold")


def _dbt_duckdb_settings(tmp_path) -> dict:
    result = run_dbt(tmp_path / "warehouse.duckdb", tmp_path, "show", "--inline", SHOW_SETTINGS,
                     "--output", "json", "--quiet")
    return json.loads(result.stdout)["show"][0]


def test_dbt_gets_the_memory_limit_and_the_block_allocator_share_of_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DUCKDB_MEMORY_LIMIT", "2GiB")
    monkeypatch.setenv("CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY", "50%")
    monkeypatch.delenv("CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD", raising=False)
    assert _dbt_duckdb_settings(tmp_path) == {"memory_limit": "2.0 GiB", "block_allocator_memory": "1.0 GiB",
                                              "checkpoint_threshold": "953.6 MiB"}  # 1GB, dbt's default here
    monkeypatch.setenv("CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY", "0B")
    monkeypatch.setenv("CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD", "16MiB")
    found = _dbt_duckdb_settings(tmp_path)
    assert (found["block_allocator_memory"], found["checkpoint_threshold"]) == ("0 bytes", "16.0 MiB")


def test_checkpoint_threshold_setting(monkeypatch):
    monkeypatch.delenv("CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD", raising=False)
    assert get_settings().duckdb_checkpoint_threshold == DEFAULT_DUCKDB_CHECKPOINT_THRESHOLD == "1GB"
    monkeypatch.setenv("CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD", "64MiB")
    assert get_settings().duckdb_checkpoint_threshold == "64MiB"


def test_block_allocator_memory_setting(monkeypatch):
    monkeypatch.delenv("CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY", raising=False)
    assert get_settings().duckdb_block_allocator_memory == DEFAULT_DUCKDB_BLOCK_ALLOCATOR_MEMORY == "60%"
    monkeypatch.setenv("CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY", "3GiB")
    assert get_settings().duckdb_block_allocator_memory == "3GiB"


def test_duckdb_allocator_setting_is_in_place_before_duckdb_loads_and_a_user_value_is_kept():
    """``import dagster_project`` sets DUCKDB_JE_MALLOC_CONF (read once, when DuckDB's library loads)
    without loading duckdb itself, so every process of the pipeline and the dbt processes it starts get it."""
    import os
    import subprocess
    import sys

    from dagster_project import DUCKDB_ALLOCATOR
    from dagster_project.settings import PROJECT_ROOT

    probe = "import os, sys, dagster_project; print(os.environ['DUCKDB_JE_MALLOC_CONF'], 'duckdb' in sys.modules)"

    def run(extra: dict) -> str:
        env = {k: v for k, v in os.environ.items() if k != "DUCKDB_JE_MALLOC_CONF"} | extra
        return subprocess.run([sys.executable, "-c", probe], env=env, cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert run({}) == f"{DUCKDB_ALLOCATOR} False"
    assert run({"DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:1000"}) == "dirty_decay_ms:1000 False"


def test_transparent_huge_pages_are_off_for_the_pipeline_and_its_children_unless_set_on():
    """``import dagster_project`` turns THP off for its process (huge_pages.py) and a process it starts
    (as dagster-dbt starts dbt) inherits that; CRM_CIF_TRANSPARENT_HUGE_PAGES=on leaves it as it was."""
    import os
    import subprocess
    import sys

    from dagster_project.settings import PROJECT_ROOT

    # each probe first turns THP back on for itself (this test process has it off), then imports
    # the package and reports its own state and that of a child (the kernel's view, /proc/<pid>/status)
    probe = ("import ctypes, subprocess; ctypes.CDLL(None).prctl(41, 0, 0, 0, 0); import dagster_project; "
             "from dagster_project.huge_pages import huge_pages_disabled; "
             "child = subprocess.run(['grep', 'THP_enabled', '/proc/self/status'], capture_output=True, text=True); "
             "print(huge_pages_disabled(), child.stdout.split()[-1])")

    def run(extra: dict) -> str:
        env = {k: v for k, v in os.environ.items() if k != "CRM_CIF_TRANSPARENT_HUGE_PAGES"} | extra
        return subprocess.run([sys.executable, "-c", probe], env=env, cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()

    assert run({}) == "True 0"
    assert run({"CRM_CIF_TRANSPARENT_HUGE_PAGES": "on"}) == "False 1"
    assert run({"CRM_CIF_TRANSPARENT_HUGE_PAGES": "off"}) == "True 0"
