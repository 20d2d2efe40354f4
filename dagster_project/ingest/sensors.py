"""A sensor that requests a run when the landing folder changed.

It only lists files (path, size, mtime): it never opens the warehouse, because even a
read-only DuckDB connection would block the pipeline's writer.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dagster as dg

from dagster_project.settings import get_settings


def landing_fingerprint(landing_dir: Path) -> tuple[str, int]:
    """sha256 over the sorted (relative path, size, mtime_ns) of every file; and the file count."""
    entries = []
    for root, _dirs, names in os.walk(landing_dir):
        for name in names:
            path = Path(root) / name
            try:
                st = path.stat()
            except FileNotFoundError:  # removed while listing
                continue
            entries.append(f"{path.relative_to(landing_dir).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}")
    entries.sort()
    return hashlib.sha256("\n".join(entries).encode()).hexdigest(), len(entries)


def build_landing_sensor(job, *, name: str = "landing_sensor", minimum_interval_seconds: int = 60,
                         default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
                         ) -> dg.SensorDefinition:
    """Sensor that runs ``job`` when the landing listing's fingerprint differs from its cursor."""

    @dg.sensor(name=name, job=job, minimum_interval_seconds=minimum_interval_seconds,
               default_status=default_status,
               description="Requests a run when files in the landing folder were added or changed.")
    def _landing_sensor(context: dg.SensorEvaluationContext):
        landing = get_settings().landing_dir
        if not landing.is_dir():
            return dg.SkipReason(f"landing folder {landing} does not exist")
        fingerprint, n_files = landing_fingerprint(landing)
        if fingerprint == context.cursor:
            return dg.SkipReason(f"no change in {landing} ({n_files} files)")
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint, tags={"landing_files": str(n_files)})

    return _landing_sensor
