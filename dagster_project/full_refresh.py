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

A lighter request, for the data tests only: dbt tests that check only the rows loaded since they
last passed (``unique_since_last_pass``) check whole tables when the run tag
``crm_cif/full_data_tests=true`` (`crm-cif run --full-data-tests`; the daily schedule sets it on
Sundays) or ``CRM_CIF_FULL_DATA_TESTS=1`` asks for it; a full refresh checks whole tables anyway.

Kept free of Dagster and dbt imports, so the erasure code can use it cheaply.
"""

import os
from collections.abc import Mapping
from pathlib import Path

FULL_REFRESH_ENV = "CRM_CIF_FULL_REFRESH"
FULL_REFRESH_TAG = "crm_cif/full_refresh"
FULL_DATA_TESTS_ENV = "CRM_CIF_FULL_DATA_TESTS"
FULL_DATA_TESTS_TAG = "crm_cif/full_data_tests"
_TRUE = {"1", "true", "yes"}


def marker_path(warehouse: Path | str) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.name}.full-refresh")


def request_full_refresh(warehouse: Path | str, reason: str) -> None:
    """Make the next runs rebuild every incremental model until one of them succeeds."""
    marker_path(warehouse).write_text(reason.strip() + "\n", encoding="utf-8")


def clear_full_refresh(warehouse: Path | str) -> None:
    marker_path(warehouse).unlink(missing_ok=True)


def _asks(env: str, tag: str, run_tags: Mapping[str, str] | None) -> bool:
    return (os.environ.get(env, "").strip().lower() in _TRUE
            or (run_tags or {}).get(tag, "").strip().lower() in _TRUE)


def full_data_tests_requested(run_tags: Mapping[str, str] | None = None) -> bool:
    """True when the run tag or the environment asks the windowed dbt tests to check whole tables."""
    return _asks(FULL_DATA_TESTS_ENV, FULL_DATA_TESTS_TAG, run_tags)


def full_refresh_requested(warehouse: Path | str, run_tags: Mapping[str, str] | None = None) -> bool:
    """True when the run tag, the environment or a pending marker asks for a full refresh."""
    return _asks(FULL_REFRESH_ENV, FULL_REFRESH_TAG, run_tags) or marker_path(warehouse).exists()
