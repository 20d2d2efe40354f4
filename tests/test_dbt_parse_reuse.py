"""A dbt step starts from the newest saved parse of the steps' folders (dbt_assets.start_from_newest_parse).

dbt parses the whole project again when a folder's saved parse was made for another warehouse; the
real dbt run below checks that a parse copied from the step before is taken as it is (partial
parsing, nothing changed) and that one made for another warehouse is parsed again in full.
"""

from __future__ import annotations

import os
import subprocess

from dagster_project.dbt_assets import PARTIAL_PARSE_FILE, dbt_executable, start_from_newest_parse
from dagster_project.settings import DBT_PROJECT_DIR


def _saved(folder, content: bytes, mtime: float):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PARTIAL_PARSE_FILE
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


def test_a_step_without_a_parse_gets_the_newest_with_its_time(tmp_path):
    _saved(tmp_path / "dbt_staging", b"old", 1000)
    _saved(tmp_path / "dbt_analytics_marts", b"newest", 3000)
    start_from_newest_parse(tmp_path / "dbt_marts")
    copied = tmp_path / "dbt_marts" / PARTIAL_PARSE_FILE
    assert copied.read_bytes() == b"newest" and copied.stat().st_mtime == 3000
    assert sorted(p.name for p in (tmp_path / "dbt_marts").iterdir()) == [PARTIAL_PARSE_FILE]


def test_an_older_own_parse_is_replaced_and_a_current_one_kept(tmp_path):
    _saved(tmp_path / "dbt_staging", b"staging", 2000)
    own = _saved(tmp_path / "dbt_marts", b"marts", 1000)
    start_from_newest_parse(tmp_path / "dbt_marts")
    assert own.read_bytes() == b"staging"
    _saved(tmp_path / "dbt_marts", b"marts again", 2000)  # as new as the newest: its own is kept
    start_from_newest_parse(tmp_path / "dbt_marts")
    assert own.read_bytes() == b"marts again"
    start_from_newest_parse(tmp_path / "dbt_staging")  # the newest is its own
    assert (tmp_path / "dbt_staging" / PARTIAL_PARSE_FILE).read_bytes() == b"staging"


def test_nothing_saved_anywhere_leaves_the_folder_alone(tmp_path):
    start_from_newest_parse(tmp_path / "dbt_marts")
    assert not (tmp_path / "dbt_marts").exists()


def _parse(target, warehouse) -> str:
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run([dbt_executable(), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                             str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target / "logs")],
                            env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def test_dbt_takes_the_copied_parse_for_the_same_warehouse_and_not_for_another(tmp_path):
    runs, warehouse = tmp_path / "runs", tmp_path / "warehouse.duckdb"
    assert "saved manifest not found" in _parse(runs / "dbt_staging", warehouse)
    start_from_newest_parse(runs / "dbt_marts")
    out = _parse(runs / "dbt_marts", warehouse)
    assert "Unable to do partial parsing" not in out
    start_from_newest_parse(runs / "dbt_analytics_marts")
    assert "profile has changed" in _parse(runs / "dbt_analytics_marts", tmp_path / "other.duckdb")
