"""Find (and delete) an erased person's rows in any table of any schema, and in files.

Generic on purpose: history tables, per-run tables (segment membership), quality tables and
whatever a later issue adds are covered without a list of tables to maintain. A "needle" is a
value only this person has: a party id, a normalised email, an E.164 phone, an account number
or a source key, and their pseudonym tokens. Names are not needles: other people share them.
A text value holds a needle when the needle stands alone or between separators (``:``, ``|``,
``,``, space, quotes...), so record ids like ``branch:customers:AC0001`` are found and
``ann@x.com`` does not match ``joann@x.com``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.ingest.ledger import quote_ident

# Column types that cannot hold an identifier.
NON_TEXT_TYPES = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|REAL|DECIMAL.*|"
                            r"BOOLEAN|DATE|TIME.*|INTERVAL|BLOB|BIT)$", re.IGNORECASE)
TEXT_SUFFIXES = {".csv", ".json", ".jsonl", ".md", ".html", ".htm", ".txt", ".yml", ".yaml", ".sql", ".log", ".svg"}
WORD = "a-z0-9_.@+-"


@dataclass(frozen=True)
class TableHit:
    schema: str
    table: str
    columns: tuple[str, ...]
    rows: int

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def needle_pattern(needles: set[str]) -> str | None:
    """One RE2 pattern matching any needle as a whole token, on lower-cased text."""
    words = sorted({n.strip().lower() for n in needles if n and n.strip()}, key=len, reverse=True)
    if not words:
        return None
    return f"(^|[^{WORD}])(" + "|".join(re.escape(w) for w in words) + f")($|[^{WORD}])"


def _text_columns(con: duckdb.DuckDBPyConnection, catalog: str | None, schemas: set[str] | None,
                  exclude: set[str]) -> dict[tuple[str, str], list[str]]:
    where = ["t.table_type = 'BASE TABLE'"]
    params: list = []
    if catalog:
        where.append("c.table_catalog = ?")
        params.append(catalog)
    rows = con.execute(f"""
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t using (table_catalog, table_schema, table_name)
        where {' and '.join(where)}
        order by c.table_schema, c.table_name, c.ordinal_position""", params).fetchall()
    out: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, data_type in rows:
        if schema in exclude or (schemas is not None and schema not in schemas):
            continue
        if not NON_TEXT_TYPES.match(data_type):
            out.setdefault((schema, table), []).append(column)
    return out


def _condition(column: str, pattern: str) -> str:
    return f"regexp_matches(lower(cast({quote_ident(column)} as varchar)), $pattern)"


def find_rows(con: duckdb.DuckDBPyConnection, needles: set[str], catalog: str | None = None,
              schemas: set[str] | None = None, exclude: set[str] = frozenset()) -> list[TableHit]:
    """Every base table with rows holding a needle: which columns, how many rows."""
    pattern = needle_pattern(needles)
    if pattern is None:
        return []
    prefix = f"{quote_ident(catalog)}." if catalog else ""
    hits = []
    for (schema, table), columns in _text_columns(con, catalog, schemas, exclude).items():
        relation = f"{prefix}{quote_ident(schema)}.{quote_ident(table)}"
        counts = con.execute(
            "select " + ", ".join(f"count(*) filter (where {_condition(c, pattern)})" for c in columns)
            + ", count(*) filter (where " + " or ".join(_condition(c, pattern) for c in columns) + f") from {relation}",
            {"pattern": pattern}).fetchall()[0]
        if counts[-1]:
            hit_columns = tuple(c for c, n in zip(columns, counts[:-1]) if n)
            hits.append(TableHit(schema, table, hit_columns, int(counts[-1])))
    return hits


def delete_rows(con: duckdb.DuckDBPyConnection, hits: list[TableHit], needles: set[str],
                catalog: str | None = None) -> int:
    """Delete the rows ``find_rows`` reported; returns how many."""
    pattern = needle_pattern(needles)
    prefix = f"{quote_ident(catalog)}." if catalog else ""
    total = 0
    for hit in hits:
        relation = f"{prefix}{quote_ident(hit.schema)}.{quote_ident(hit.table)}"
        condition = " or ".join(_condition(c, pattern) for c in hit.columns)
        con.execute(f"delete from {relation} where {condition}", {"pattern": pattern})
        total += hit.rows
    return total


def find_files(root: Path, needles: set[str], skip: list[Path]) -> list[Path]:
    """Text and Parquet files under ``root`` (outside ``skip``) holding a needle."""
    if not root.exists():
        return []
    pattern = needle_pattern(needles)
    if pattern is None:
        return []
    regex = re.compile(pattern)
    skipped = [p.resolve() for p in skip]
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            if regex.search(text):
                hits.append(path)
        elif suffix == ".parquet" and _parquet_holds(path, pattern):
            hits.append(path)
    return hits


def _parquet_holds(path: Path, pattern: str) -> bool:
    with duckdb.connect() as con:
        con.execute("create view p as select * from read_parquet('" + str(path).replace("'", "''") + "')")
        columns = [r[0] for r in con.execute("describe p").fetchall()]
        if not columns:
            return False
        condition = " or ".join(_condition(c, pattern) for c in columns)
        return bool(con.execute(f"select count(*) from p where {condition}", {"pattern": pattern}).fetchall()[0][0])
