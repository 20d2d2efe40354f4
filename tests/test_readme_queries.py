"""The README's query examples run, as written, against a warehouse built by the pipeline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def _query_examples() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Query the warehouse", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def test_readme_has_the_three_ways_to_query():
    examples = _query_examples()
    assert len(examples) == 3
    assert any(".venv/bin/duckdb -readonly" in e for e in examples)
    assert any("duckdb.connect" in e for e in examples)
    assert any("crm-cif sql" in e for e in examples)


@pytest.mark.parametrize("index", range(3))
def test_readme_query_example_runs(built_world, tmp_path, index):
    example = _query_examples()[index]
    # The README runs from the project root: data/ and .venv/ there, here pointing at this test's world.
    (tmp_path / "data").symlink_to(built_world.root)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {**os.environ, "CRM_CIF_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", example], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"customer_status|touchpoints|revenue_to_date", result.stdout), result.stdout
    assert "Error" not in result.stdout + result.stderr
