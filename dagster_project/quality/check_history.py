"""The latest result of every asset check of a source, as the Dagster instance recorded it.

This covers what the scorecard cannot recompute cheaply: the dbt tests on each source's
staging models, next to reconciliation and freshness. A check belongs to a source through its
asset: ``raw/<source>__<entity>`` or ``staging/stg_<source>__<entity>[_checked]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.sources import SOURCES

SOURCE_NAMES = {s.name for s in SOURCES}


@dataclass
class CheckTally:
    passed: int = 0
    failed: list[str] = field(default_factory=list)  # "<asset> <check>"

    @property
    def total(self) -> int:
        return self.passed + len(self.failed)


def source_of(asset_path: list[str]) -> str | None:
    if len(asset_path) != 2 or asset_path[0] not in ("raw", "staging"):
        return None
    name = asset_path[1].removeprefix("stg_")
    source = name.split("__", 1)[0]
    return source if "__" in name and source in SOURCE_NAMES else None


def latest_check_tallies(instance, check_keys: Iterable) -> dict[str, CheckTally]:
    """Per source: the latest completed evaluation of each of its checks, passed or failed."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    keys = [k for k in check_keys if source_of(list(k.asset_key.path))]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    tallies: dict[str, CheckTally] = {}
    for key, record in records.items():
        tally = tallies.setdefault(source_of(list(key.asset_key.path)), CheckTally())
        if record.status == Status.SUCCEEDED:
            tally.passed += 1
        elif record.status == Status.FAILED:
            tally.failed.append(f"{key.asset_key.to_user_string()} {key.name}")
    return tallies


def tallies_from_home(dagster_home: Path) -> dict[str, CheckTally] | None:
    """Read the instance the CLI runs in; None when there is none or it never evaluated a check."""
    if not (dagster_home / "dagster.yaml").exists():
        return None
    import dagster as dg

    from dagster_project.definitions import build_defs

    check_keys = build_defs().resolve_asset_graph().asset_check_keys
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        tallies = latest_check_tallies(instance, check_keys)
    return tallies or None
