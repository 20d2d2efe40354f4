"""When the dbt assets rebuild their incremental models from scratch (`dbt build --full-refresh`).

Incremental models (staging `_checked` tables, and any later incremental mart) only add what
the new raw batches bring. They must be rebuilt whole when rows already staged changed: an
erasure scrubbed raw rows, a model's rules or columns changed. Three ways to ask, read by
``dbt_assets._build`` for every dbt asset of the run:

- the run tag ``crm_cif/full_refresh=true`` (`crm-cif run --full-refresh` sets it; in the
  Dagster UI: launch a run with that tag);
- the environment variable ``CRM_CIF_FULL_REFRESH=1`` (scripts, tests, benchmarks);
- a marker file next to the warehouse (``<warehouse>.full-refresh``), written by an erasure
  before it touches raw and removed only once a run succeeded: an erasure with --no-rebuild,
  or whose rebuild crashed, still gets its full refresh on the next run, whoever starts it.

Kept free of Dagster and dbt imports, so the erasure code can use it cheaply.
"""

import os
from collections.abc import Mapping
from pathlib import Path

FULL_REFRESH_ENV = "CRM_CIF_FULL_REFRESH"
FULL_REFRESH_TAG = "crm_cif/full_refresh"
_TRUE = {"1", "true", "yes"}


def marker_path(warehouse: Path | str) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.name}.full-refresh")


def request_full_refresh(warehouse: Path | str, reason: str) -> None:
    """Make the next runs rebuild every incremental model until one of them succeeds."""
    marker_path(warehouse).write_text(reason.strip() + "\n", encoding="utf-8")


def clear_full_refresh(warehouse: Path | str) -> None:
    marker_path(warehouse).unlink(missing_ok=True)


def full_refresh_requested(warehouse: Path | str, run_tags: Mapping[str, str] | None = None) -> bool:
    """True when the run tag, the environment or a pending marker asks for a full refresh."""
    if os.environ.get(FULL_REFRESH_ENV, "").strip().lower() in _TRUE:
        return True
    if (run_tags or {}).get(FULL_REFRESH_TAG, "").strip().lower() in _TRUE:
        return True
    return marker_path(warehouse).exists()
