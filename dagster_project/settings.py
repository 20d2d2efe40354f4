"""Paths and knobs in one place. Environment variables override every default.

``CRM_CIF_DATA_DIR`` moves everything at once; the other variables move one path each.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DEFAULT_PSEUDONYM_SALT = "crm-cif-sample-world"


# 40% of the machine's memory: DuckDB's own default (80%) let one build reach 16 GiB of 24 at a
# million people, while the Python side (Splink, CLV, GX) needs room beside it.
DEFAULT_DUCKDB_MEMORY_LIMIT = "40%"

# How much of that limit DuckDB's block allocator keeps once touched instead of handing it back to
# the operating system after each query (a percentage is of the memory limit). Without it, a dbt
# build at a million people spent ~30 of its ~120 CPU seconds in the kernel faulting fresh pages
# in; with 6 GiB (60% of a 40% limit is 5.6 GiB on 24 GiB) a no-op marts build ran 8-10 s faster
# in three paired runs out of three; 2 GiB gained nothing (benchmarks/README.md). It applies to
# dbt, a process that exits after its build.
DEFAULT_DUCKDB_BLOCK_ALLOCATOR_MEMORY = "60%"

# The write-ahead log size at which dbt's DuckDB checkpoints by itself (DuckDB's default: 16 MiB).
# A daily marts build crossed 16 MiB again and again (its delete+insert logs and small tables), and
# each checkpoint rewrote the changed tables' metadata mid-build, paid by whichever statement
# committed (a 1.2 s `drop table` of an empty backup). At 1 GB dbt's DuckDB checkpoints once, when
# the step ends: a marts step with nothing new at a million people 42.0-43.8 -> 39.6-40.9 s (three
# runs against two, benchmarks/README.md, stop 37). Large inserts are written to the file as they
# go either way, so the log holds little data.
DEFAULT_DUCKDB_CHECKPOINT_THRESHOLD = "1GB"


def _whole_days(var: str, default: int) -> int:
    value = os.environ.get(var, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{var}={value!r}: expected a whole number of days (0 or more)")
    return int(value)


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    truth_dir: Path
    warehouse_path: Path
    serving_path: Path
    serving_restricted_path: Path
    exports_dir: Path
    match_decisions_path: Path
    default_country_code: str
    currency: str
    pseudonym_salt: str
    alert_webhook_url: str | None = None
    erasure_log_path: Path | None = None
    erasure_salt: str = DEFAULT_PSEUDONYM_SALT
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    duckdb_block_allocator_memory: str = DEFAULT_DUCKDB_BLOCK_ALLOCATOR_MEMORY
    duckdb_checkpoint_threshold: str = DEFAULT_DUCKDB_CHECKPOINT_THRESHOLD
    dbt_runs_dir: Path = DBT_PROJECT_DIR / "target" / "runs"
    serving_spare: bool = True
    serving_check_days: int = 7

    @property
    def serving_check_every(self) -> timedelta | None:
        """How often a keyed table's serving copy is checked against the warehouse's hash sum (None: every publish)."""
        return timedelta(days=self.serving_check_days) if self.serving_check_days > 0 else None

    @classmethod
    def load(cls) -> "Settings":
        data_dir = _path("CRM_CIF_DATA_DIR", PROJECT_ROOT / "data")
        return cls(
            data_dir=data_dir,
            landing_dir=_path("CRM_CIF_LANDING_DIR", data_dir / "landing"),
            truth_dir=_path("CRM_CIF_TRUTH_DIR", data_dir / "truth"),
            warehouse_path=_path("CRM_CIF_WAREHOUSE", data_dir / "warehouse.duckdb"),
            # The analyst copy (personal data pseudonymised) and the restricted copy (kept as is).
            serving_path=_path("CRM_CIF_SERVING", data_dir / "serving.duckdb"),
            serving_restricted_path=_path("CRM_CIF_SERVING_RESTRICTED", data_dir / "serving_restricted.duckdb"),
            exports_dir=_path("CRM_CIF_EXPORTS_DIR", data_dir / "exports"),
            # People's link / no-link decisions: a file, not a table, so a warehouse rebuild keeps them.
            match_decisions_path=_path("CRM_CIF_MATCH_DECISIONS", data_dir / "identity" / "match_decisions.csv"),
            # Calling code used to turn national phone numbers (0803...) into E.164.
            default_country_code=os.environ.get("CRM_CIF_COUNTRY_CODE", "234"),
            currency=os.environ.get("CRM_CIF_CURRENCY", "NGN"),
            # Secret mixed into pseudonym tokens. The default is for the sample world only: anyone who
            # knows it can test a guessed email against a token, so set your own in production.
            pseudonym_salt=os.environ.get("CRM_CIF_PSEUDONYM_SALT", DEFAULT_PSEUDONYM_SALT),
            # Optional: `crm-cif run` POSTs a JSON alert here when a step or check fails.
            alert_webhook_url=os.environ.get("CRM_CIF_ALERT_WEBHOOK") or None,
            # Salted hashes of erased people's identifiers (`crm-cif erase`): a file, so a warehouse
            # rebuild keeps suppressing them. Keep the salt once chosen, or old hashes stop matching.
            erasure_log_path=_path("CRM_CIF_ERASURE_LOG", data_dir / "privacy" / "erasure_log.csv"),
            erasure_salt=os.environ.get("CRM_CIF_ERASURE_SALT")
            or os.environ.get("CRM_CIF_PSEUDONYM_SALT", DEFAULT_PSEUDONYM_SALT),
            # DuckDB's buffer limit for the warehouse (pipeline steps and dbt alike); it spills
            # to disk beyond it. A DuckDB size: '8GiB', '12GB' or a share of memory, '40%'.
            duckdb_memory_limit=os.environ.get("CRM_CIF_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT,
            # Memory dbt's DuckDB keeps for its buffers rather than returning it after each query:
            # a size or a share of the memory limit ('60%'); '0B' turns it off.
            duckdb_block_allocator_memory=os.environ.get("CRM_CIF_DUCKDB_BLOCK_ALLOCATOR_MEMORY")
            or DEFAULT_DUCKDB_BLOCK_ALLOCATOR_MEMORY,
            # The log size at which dbt's DuckDB checkpoints before its step ends ('1GB', '16MiB').
            duckdb_checkpoint_threshold=os.environ.get("CRM_CIF_DUCKDB_CHECKPOINT_THRESHOLD")
            or DEFAULT_DUCKDB_CHECKPOINT_THRESHOLD,
            # dbt's target folder of each dbt step (compiled SQL, run_results.json, dbt.log), one
            # sub-folder per step reused by every run. Two pipelines running at once from one
            # checkout (two warehouses, parallel test workers) each need their own.
            dbt_runs_dir=_path("CRM_CIF_DBT_RUNS_DIR", DBT_PROJECT_DIR / "target" / "runs"),
            # Keep the serving copy a publish replaces as the next publish's starting file
            # (serving/spare.py): saves copying both copies every day, costs their size again on
            # disk. 'off' for a disk without the room or a policy of no older copy at rest.
            serving_spare=os.environ.get("CRM_CIF_SERVING_SPARE", "on").strip().lower()
            not in ("off", "0", "false", "no"),
            # Days between the checks of a keyed table's serving copy against the warehouse's hash
            # sum of every row (serving/publish.py); between them the copy follows the rows written
            # since and the row counts. 0 checks at every publish (~5 s more a day at a million people).
            serving_check_days=_whole_days("CRM_CIF_SERVING_CHECK_DAYS", 7),
        )


def get_settings() -> Settings:
    """Read settings now (not at import), so tests can point the pipeline elsewhere."""
    return Settings.load()
