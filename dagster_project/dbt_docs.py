"""Build the dbt docs site (lineage, model and column descriptions) as one static HTML file.

`dbt docs generate --static` embeds the manifest and the catalog in a single
`static_index.html`, so the site opens from disk (file://) with no server and no network.
The catalog reads column types from the warehouse, so run it when the pipeline is not
writing (DuckDB allows one writer and no reader beside it).
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR, get_settings


def docs_dir() -> Path:
    """Where `make docs` writes the site: <data dir>/dbt_docs (setting CRM_CIF_DATA_DIR)."""
    return get_settings().data_dir / "dbt_docs"


def build_dbt_docs(warehouse: Path | None = None, out_dir: Path | None = None) -> Path:
    """Generate the docs against `warehouse` and write `<out_dir>/index.html`; returns its path."""
    from dagster_project.dbt_assets import dbt_executable  # parses the dbt project on import

    warehouse = warehouse or get_settings().warehouse_path
    out_dir = out_dir or docs_dir()
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `crm-cif run` (or `make demo`) first")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(warehouse)}
    with tempfile.TemporaryDirectory(prefix="dbt_docs_") as target:
        command = [dbt_executable(), "--quiet", "docs", "generate", "--static", "--project-dir", str(DBT_PROJECT_DIR),
                   "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", target]
        result = subprocess.run(command, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, env=env)
        page = Path(target) / "static_index.html"
        if result.returncode != 0 or not page.exists():
            raise RuntimeError(f"dbt docs generate failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
        staged = out_dir / "index.html.tmp"
        shutil.copyfile(page, staged)
        final = out_dir / "index.html"
        staged.replace(final)  # a browser that has the old page open never sees half a file
    return final
