"""Render the dbt yml that mirrors the source registry, so dbt and the registry never drift.

Two files per source under ``dbt/models/staging/<source>/``:

- ``_<source>__sources.yml``: the raw tables as dbt sources (schema ``raw``), with column
  descriptions from the registry and the Dagster asset key of the ingest asset that writes
  them (``meta.dagster.asset_key``, read by dagster-dbt's default translator), so the dbt
  graph hangs off the ingest assets.
- ``_<source>__models.yml``: the staging models of every entity with their column types and
  the tests the registry implies (keys unique, checked for the rows loaded since the test last
  passed, and not null, code columns within their accepted values, product/branch/channel
  codes present in the seeds, raw rows reconciled with accepted plus quarantined rows).

The generated files are committed; ``tests/test_dbt_staging.py`` fails when they are stale.
Regenerate with ``python -m dagster_project.dbt_sources_yml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.sources import SOURCES, Column, Entity, Source, get_source

STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"

HEADER = "# Generated from dagster_project/sources.py by dagster_project/dbt_sources_yml.py; do not edit.\n"

# Staged type of each registry type (COMMON.md: the typing everyone builds on).
STAGED_TYPES = {
    "string": "varchar",
    "integer": "bigint",
    "decimal": "decimal(18,2)",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}

LINEAGE_COLUMNS = (
    ("_batch_id", "varchar", "Ingest batch that loaded the row."),
    ("_source_file", "varchar", "Landing file the row came from, relative to the landing dir."),
    ("_row_number", "bigint", "Line (CSV, JSONL) or row (Parquet) number of the row in its file."),
    ("_loaded_at", "timestamp", "When the row was loaded into raw."),
)
RAW_LINEAGE_COLUMNS = (
    LINEAGE_COLUMNS[:2]
    + (("_file_sha256", "varchar", "SHA-256 of the landing file."),)
    + LINEAGE_COLUMNS[2:]
)

# Seeds that reference-code columns must exist in: (seed, seed column).
SEED_REFERENCES = {
    "products": ("products", "product_code"),
    "branches": ("branches", "branch_code"),
    "channels": ("channels", "channel_code"),
}


def seed_reference(column: Column) -> tuple[str, str] | None:
    """The seed a column's values must exist in, from the registry's "(seed x)" wording.

    Columns named ``branch_code`` are branch codes even where the description does not say so.
    """
    for word, reference in SEED_REFERENCES.items():
        if f"(seed {word})" in column.description:
            return reference
    if column.name == "branch_code":
        return SEED_REFERENCES["branches"]
    return None


def checked_model_name(entity: Entity) -> str:
    return f"stg_{entity.table}_checked"


def accepted_model_name(entity: Entity) -> str:
    return f"stg_{entity.table}"


def _dump(document: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def render_sources_yml(source: Source | str) -> str:
    """The dbt sources yml of one registry source (raw tables, columns, Dagster asset keys)."""
    source = get_source(source) if isinstance(source, str) else source
    tables = []
    for entity in source.entities:
        columns = [{"name": c.name, "description": c.description} for c in entity.columns]
        columns += [{"name": n, "description": d} for n, _, d in RAW_LINEAGE_COLUMNS]
        tables.append(
            {
                "name": entity.table,
                "description": entity.description,
                "config": {"meta": {"dagster": {"asset_key": ["raw", entity.table]}}},
                "columns": columns,
            }
        )
    document = {
        "version": 2,
        "sources": [
            {
                "name": source.name,
                "description": f"{source.system}: {source.description}",
                "schema": "raw",
                "loaded_at_field": "_loaded_at",
                "tables": tables,
            }
        ],
    }
    return _dump(document)


def _test(name: str, **arguments: Any) -> dict[str, Any]:
    return {name: {"arguments": arguments}}


def unique_key(entity: Entity) -> tuple[str, ...]:
    """What is unique among accepted rows: the key, and for a full extract the key per delivery
    (every file is a whole snapshot, so each holds every key once: macro stage_entity full_extract)."""
    return (*entity.key, "_source_file") if entity.extract == "full" else entity.key


def _accepted_column_tests(entity: Entity, column: Column) -> list[Any]:
    tests: list[Any] = []
    if column.name in entity.key:
        tests.append("not_null")
        if len(unique_key(entity)) == 1:
            # staged rows never change once accepted, so only keys loaded since the last pass can
            # clash (dbt/tests/generic/unique_since_last_pass.sql)
            tests.append("unique_since_last_pass")
    if column.accepted_values:
        tests.append(_test("accepted_values", values=list(column.accepted_values)))
    reference = seed_reference(column)
    if reference:
        seed, field = reference
        tests.append(_test("relationships", to=f"ref('{seed}')", field=field))
    return tests


def _model_columns(entity: Entity, with_tests: bool) -> list[dict[str, Any]]:
    columns = []
    for column in entity.columns:
        spec: dict[str, Any] = {
            "name": column.name,
            "description": column.description,
            "data_type": STAGED_TYPES[column.type],
        }
        tests = _accepted_column_tests(entity, column) if with_tests else []
        if tests:
            spec["data_tests"] = tests
        columns.append(spec)
    columns += [{"name": n, "description": d, "data_type": t} for n, t, d in LINEAGE_COLUMNS]
    return columns


def _entity_models(entity: Entity) -> list[dict[str, Any]]:
    checked_columns = _model_columns(entity, with_tests=False) + [
        {
            "name": "_record_key",
            "description": "The registry key columns as delivered, joined with '|'.",
            "data_type": "varchar",
        },
        {
            "name": "_quarantine_reasons",
            "description": "NULL when the row is accepted, else its reason codes, sorted, comma-separated.",
            "data_type": "varchar",
        },
    ]
    accepted_tests: list[Any] = [
        _test(
            "rows_reconcile",
            raw_relation=f"source('{entity.source}', '{entity.table}')",
            quarantine_relation="ref('stg_quarantine')",
            source_system=entity.source,
            source_entity=entity.name,
        )
    ]
    if len(unique_key(entity)) > 1:
        accepted_tests.insert(0, _test("unique_combination_of_columns", combination=list(unique_key(entity))))
    return [
        {
            "name": checked_model_name(entity),
            # Incremental by raw batch: the logic and the reasons are in macro stage_entity.
            "config": {"materialized": "incremental", "incremental_strategy": "append",
                       "on_schema_change": "fail"},
            "description": (
                f"Every raw row of {entity.table}, typed and standardised, with its quarantine "
                "reasons (NULL when accepted)."
            ),
            "columns": checked_columns,
        },
        {
            "name": accepted_model_name(entity),
            "description": f"{entity.description} Accepted rows only, typed and standardised.",
            "data_tests": accepted_tests,
            "columns": _model_columns(entity, with_tests=True),
        },
    ]


def render_models_yml(source: Source | str) -> str:
    """The dbt models yml of one source's staging models (columns, types, tests)."""
    source = get_source(source) if isinstance(source, str) else source
    models = [model for entity in source.entities for model in _entity_models(entity)]
    return _dump({"version": 2, "models": models})


def expected_files(staging_dir: Path = STAGING_DIR) -> dict[Path, str]:
    """Every generated file with the content it should have."""
    files: dict[Path, str] = {}
    for source in SOURCES:
        folder = staging_dir / source.name
        files[folder / f"_{source.name}__sources.yml"] = render_sources_yml(source)
        files[folder / f"_{source.name}__models.yml"] = render_models_yml(source)
    return files


def write_all(staging_dir: Path = STAGING_DIR) -> list[Path]:
    """Write every generated yml; returns the paths whose content changed."""
    changed = []
    for path, text in expected_files(staging_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    for written in write_all():
        print(f"wrote {written}")
