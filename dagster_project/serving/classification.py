"""Which columns hold personal data, declared once and read here, never guessed at publish time.

dbt models declare it in each column's ``config: meta: {pii, pii_kind}`` (read from the dbt
manifest); tables built in Python are declared in ``analytics_classification.yml`` by
``schema.table`` pattern. A column whose name merely *looks* personal is a warning sign, not a
classification: the tests require every such mart column to be classified, and publishing treats
an unclassified one by the policy's ``unclassified_personal`` rule.
"""

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# history (SCD2, schema history) is served too: analysts ask "what did we know on date D"
SERVING_SCHEMAS = ("marts", "analytics", "metrics", "history")
PII_LEVELS = ("direct_identifier", "quasi_identifier", "none")
ANALYTICS_CLASSIFICATION = Path(__file__).with_name("analytics_classification.yml")

# A column name holding a word like these is probably about a person. Deliberately broad, but
# timestamps (first_email_at), counts, source-system columns (email_source), flags
# (consent_email) and the names of things that are not people (product_name) are not personal
# by their name alone.
PERSONAL_WORDS = ("name", "names", "surname", "email", "phone", "msisdn", "address", "postcode", "zip", "dob",
                  "birth", "birthday", "date_of_birth", "contact_value", "ssn", "passport", "bvn", "nin")
PERSONAL_NAME = re.compile(r"(^|_)(" + "|".join(PERSONAL_WORDS) + r")(_|$)")
NOT_PERSONAL_SUFFIXES = ("_at", "_count", "_source", "_flag")
NOT_PERSONAL_PREFIXES = ("consent_", "is_", "has_")
# "<thing>_name" where the thing is not a person
THING_NAMES = re.compile(r"(^|_)(product|scheme|segment|metric|measure|channel|department|campaign|org|"
                         r"organisation|association|industry|tier|stage|audience|model|table|column|file|rule)_name$")


def looks_personal(column: str) -> bool:
    name = column.lower()
    if name.endswith(NOT_PERSONAL_SUFFIXES) or name.startswith(NOT_PERSONAL_PREFIXES) or THING_NAMES.search(name):
        return False
    return bool(PERSONAL_NAME.search(name))


@dataclass(frozen=True)
class ColumnClass:
    pii: str                 # direct_identifier | quasi_identifier | none
    kind: str | None = None  # name | email | phone | address | ... (None when pii is none)

    @property
    def is_personal(self) -> bool:
        return self.pii != "none"


def _column_class(meta: Mapping, where: str) -> ColumnClass | None:
    if "pii" not in meta:
        return None
    pii, kind = meta["pii"], meta.get("pii_kind")
    if pii not in PII_LEVELS:
        raise ValueError(f"{where}: pii must be one of {PII_LEVELS}, not {pii!r}")
    if pii != "none" and not kind:
        raise ValueError(f"{where}: personal column without pii_kind")
    return ColumnClass(pii=pii, kind=kind if pii != "none" else None)


@dataclass(frozen=True)
class Classification:
    """Exact (schema, table) -> {column: class} from dbt, plus pattern rules for Python-built tables."""

    exact: Mapping[tuple[str, str], Mapping[str, ColumnClass]] = field(default_factory=dict)
    patterns: tuple[tuple[str, Mapping[str, ColumnClass]], ...] = ()

    def table(self, schema: str, table: str) -> dict[str, ColumnClass]:
        """Every classified column of one table (lower-case column names)."""
        columns: dict[str, ColumnClass] = {}
        for pattern, rules in self.patterns:
            if fnmatch.fnmatchcase(f"{schema}.{table}", pattern):
                columns.update(rules)
        columns.update(self.exact.get((schema, table), {}))
        return columns

    def column(self, schema: str, table: str, column: str) -> ColumnClass | None:
        return self.table(schema, table).get(column.lower())


def dbt_models(manifest_path: Path) -> Iterator[tuple[tuple[str, str], dict]]:
    """(schema, table) and node of every model in the dbt manifest: what the serving code reads of dbt."""
    stat = Path(manifest_path).stat()
    yield from _models(str(manifest_path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _models(manifest_path: str, mtime_ns: int, size: int) -> tuple[tuple[tuple[str, str], dict], ...]:
    """The manifest's models, parsed once per version of the file (2.7 MB, ~0.1 s to parse; each
    publish reads it for the classification, the keyed tables and the month-ordered tables)."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    return tuple(((node["schema"], node.get("alias") or node["name"]), node)
                 for node in manifest["nodes"].values() if node["resource_type"] == "model")


def merged_meta(entry: Mapping) -> dict:
    """A model's or column's ``meta``, with ``config: meta`` (dbt's newer place for it) winning."""
    return {**entry.get("meta", {}), **entry.get("config", {}).get("meta", {})}


def from_dbt_manifest(manifest_path: Path, schemas: Iterable[str] = SERVING_SCHEMAS) -> dict[tuple[str, str], dict]:
    """Column classes of every dbt model in the serving schemas, from ``config.meta`` (or ``meta``)."""
    wanted = set(schemas)
    found: dict[tuple[str, str], dict[str, ColumnClass]] = {}
    for table, node in dbt_models(manifest_path):
        if node["schema"] not in wanted:
            continue
        classes = {}
        for name, column in node.get("columns", {}).items():
            column_class = _column_class(merged_meta(column), f"{node['name']}.{name}")
            if column_class is not None:
                classes[name.lower()] = column_class
        found[table] = classes
    return found


def from_registry(path: Path = ANALYTICS_CLASSIFICATION) -> tuple[tuple[str, dict[str, ColumnClass]], ...]:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    rules = []
    for pattern, columns in (document.get("tables") or {}).items():
        rules.append((pattern, {name.lower(): _column_class(meta, f"{pattern}.{name}")
                                for name, meta in (columns or {}).items()}))
    return tuple(rules)


def load_classification(manifest_path: Path | None = None, registry_path: Path = ANALYTICS_CLASSIFICATION) -> Classification:
    """dbt meta (from the current manifest) plus the Python tables' registry."""
    if manifest_path is None:
        # importing dbt_assets parses the dbt project when its manifest is missing or stale
        from dagster_project.dbt_assets import dbt_project

        manifest_path = dbt_project.manifest_path
    return Classification(exact=from_dbt_manifest(manifest_path), patterns=from_registry(registry_path))
