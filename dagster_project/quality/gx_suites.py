"""Great Expectations suites as JSON files in ``expectations/``, and the raw ones written from the registry.

A suite file is GX's own suite JSON (name, expectations with type, kwargs and severity) plus a
``meta.crm_cif`` block telling the runner which table to read and which reference values to
fetch (``parameters``: name -> SQL, used as ``{"$PARAMETER": name}`` in kwargs). Stewards read
and edit the mart suites by hand; the raw suites are rendered from the registry
(``python -m dagster_project.quality.gx_suites``) and a test fails when they drift.

Raw keeps every delivered row, duplicates and bad rows included, so a raw suite checks only
what the loader guarantees (contract columns as text, lineage filled, one row per file line)
and leaves row-level validity to staging; key columns filled and a non-empty table are warnings.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_project.settings import PROJECT_ROOT
from dagster_project.sources import ENTITIES, Entity

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LINEAGE_TYPES = {"_batch_id": "str", "_source_file": "str", "_file_sha256": "str", "_row_number": "int",
                 "_loaded_at": "datetime"}


@dataclass(frozen=True)
class SuiteFile:
    """One suite as stored: the GX suite dict and where the runner reads its batch."""

    name: str
    asset_key: tuple[str, ...]
    table: str  # schema.table
    batch: str  # all | latest_batch (raw: only the rows of the newest load) | new_rows (past a watermark, gx_watermark.py)
    parameters: dict[str, str]
    suite: dict[str, Any]

    @property
    def blocking(self) -> bool:
        """A suite with a critical expectation gates what is downstream of its asset."""
        return any(e.get("severity", "critical") == "critical" for e in self.suite["expectations"])


def _expectation(kind: str, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "severity": severity}


def raw_suite(entity: Entity) -> dict[str, Any]:
    """The raw suite of one registry entity (columns as text, lineage, one row per file line)."""
    columns = [*entity.column_names, *LINEAGE_TYPES]
    expectations = [
        _expectation("expect_table_columns_to_match_set", column_set=columns, exact_match=False),
        # A source with no delivery yet must not hold back the others: staging is one step for all.
        _expectation("expect_table_row_count_to_be_between", "warning", min_value=1),
    ]
    expectations += [_expectation("expect_column_values_to_be_of_type", column=c, type_="str")
                     for c in entity.column_names]
    for column, type_ in LINEAGE_TYPES.items():
        expectations.append(_expectation("expect_column_values_to_be_of_type", column=column, type_=type_))
        expectations.append(_expectation("expect_column_values_to_not_be_null", column=column))
    expectations.append(_expectation("expect_compound_columns_to_be_unique", column_list=["_source_file", "_row_number"]))
    expectations += [_expectation("expect_column_values_to_not_be_null", "warning", column=k) for k in entity.key]
    return {
        "name": f"raw.{entity.table}",
        "meta": {"crm_cif": {"asset_key": ["raw", entity.table], "table": f"raw.{entity.table}",
                             "batch": "latest_batch", "generated_from": "dagster_project/sources.py"}},
        "expectations": expectations,
    }


def suite_path(name: str) -> Path:
    return EXPECTATIONS_DIR / f"{name}.json"


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def write_raw_suites() -> list[Path]:
    """Write one raw suite per registry entity; returns the paths written."""
    EXPECTATIONS_DIR.mkdir(exist_ok=True)
    paths = []
    for entity in ENTITIES:
        suite = raw_suite(entity)
        path = suite_path(suite["name"])
        path.write_text(render(suite), encoding="utf-8")
        paths.append(path)
    return paths


def parse_suite(suite: dict[str, Any]) -> SuiteFile:
    meta = suite.get("meta", {}).get("crm_cif", {})
    return SuiteFile(name=suite["name"], asset_key=tuple(meta["asset_key"]), table=meta["table"],
                     batch=meta.get("batch", "all"), parameters=dict(meta.get("parameters", {})), suite=suite)


def load_suites(folder: Path = EXPECTATIONS_DIR) -> list[SuiteFile]:
    """Every suite file in ``folder``, sorted by name."""
    return [parse_suite(json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("*.json"))]


if __name__ == "__main__":
    for written in write_raw_suites():
        print(written.relative_to(PROJECT_ROOT))
