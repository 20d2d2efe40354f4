"""Compare two warehouses table by table, as multisets of rows, with party ids made run-independent.

Used by tests/test_day_by_day.py: a warehouse built one delivery at a time must hold the same
rows as one built from all files in one go. Two things legitimately differ and are neutralised
here, nothing else:

- columns that record when or in which run a row was loaded (``LOAD_TIME_COLUMNS``);
- party ids: a later cluster inherits its predecessor's id (identity/stable_ids.py), so the
  id of the same party depends on the run history. Every value that is a party id of the
  warehouse is replaced by a canonical key: ``P:`` + the party's smallest record_id in
  integration.party_xref; a household id (derived from its anchor member's party id) by
  ``H:`` + its smallest member's key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# Columns that state when / in which batch a row was loaded. A day-by-day build loads each file
# in its own run at its own time; a one-go build loads every file in one batch. Nothing else
# (business dates, valid_from/valid_to, as_of dates) is excluded.
LOAD_TIME_COLUMNS = frozenset({
    "_loaded_at",   # raw/staging lineage: when the line was loaded
    "_batch_id",    # raw/staging lineage: the loading run's id
    "loaded_at",    # raw.file_ledger, raw.rejects, history.*: load time kept beside business time
    "refreshed_at",  # the incremental facts: when the warehouse last wrote the row
    "batch_id",     # raw.file_ledger, raw.rejects: the loading run's id
})
LOAD_TIME_SUFFIXES = ("_loaded_at",)  # e.g. a history model's delivery_loaded_at
# (schema, table) -> columns that are load times in that table only.
LOAD_TIME_COLUMNS_OF = {("raw", "unmatched_files"): {"first_seen_at"},
                        # the landing file's own times and when it was hashed (ingest/file_hashes.py)
                        ("raw", "landing_file_hashes"): {"file_mtime_ns", "file_ctime_ns", "hashed_at"},
                        # the newest refreshed_at of the party's interactions (the facts' write times)
                        ("integration", "int_party_touchpoints"): {"refreshed_through"},
                        ("integration", "int_party_revenue"): {"refreshed_through"}}

PARTY_ID_SCHEMAS = ("integration", "history", "marts", "metrics", "analytics")


@dataclass(frozen=True)
class PerRunTable:
    """A table that records each run by design; compared on its final snapshot, or not at all."""
    reason: str
    final_snapshot: str | None = None  # SQL condition over the table's own columns; None: not compared
    drop_columns: tuple[str, ...] = ()  # columns that date the snapshot series, not the snapshot


@dataclass
class Comparison:
    compared: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_load_time(schema: str, table: str, column: str) -> bool:
    return (column in LOAD_TIME_COLUMNS or column.endswith(LOAD_TIME_SUFFIXES)
            or column in LOAD_TIME_COLUMNS_OF.get((schema, table), set()))


class _Side:
    """One warehouse as seen from the comparison connection: relations, columns, party keys."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, alias: str):
        self.con, self.alias = con, alias
        with duckdb.connect(str(path), read_only=True) as own:
            rows = own.execute("select table_schema, table_name, table_type from information_schema.tables "
                               "where table_catalog = current_database() and table_schema <> 'main'").fetchall()
            # Views name the warehouse's own catalog in their SQL: read them here, keep them as tables.
            for schema, table, kind in rows:
                if kind == "VIEW":
                    data = own.sql(f"select * from {_quote(schema)}.{_quote(table)}").to_arrow_table()
                    con.register("_view_data", data)
                    con.execute(f"create table memory.main.{_quote(self._view_name(schema, table))} as "
                                "select * from _view_data")
                    con.unregister("_view_data")
        con.execute(f"attach '{path}' as {alias} (read_only)")
        self.relations = {(s, t): kind for s, t, kind in rows}
        self._party_keys()

    def _view_name(self, schema: str, table: str) -> str:
        return f"{self.alias}__{schema}__{table}"

    def relation(self, schema: str, table: str) -> str:
        if self.relations[(schema, table)] == "VIEW":
            return f"memory.main.{_quote(self._view_name(schema, table))}"
        return f"{self.alias}.{_quote(schema)}.{_quote(table)}"

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return self.con.execute(f"select column_name, column_type from (describe {self.relation(schema, table)})").fetchall()

    def has(self, schema: str, table: str) -> bool:
        return (schema, table) in self.relations

    def _party_keys(self) -> None:
        keys = f"memory.main.{self.alias}__party_key"
        parts = []
        if self.has("integration", "party_xref"):
            parts.append(f"select party_id as id, 'P:' || min(record_id) as key "
                         f"from {self.alias}.integration.party_xref group by party_id")
        self.con.execute(f"create table {keys} as "
                         + (" union all ".join(parts) if parts else "select ''::varchar as id, ''::varchar as key where false"))
        if self.has("integration", "int_household_members"):
            self.con.execute(f"""
                insert into {keys}
                select m.household_id, 'H:' || min(coalesce(k.key, m.party_id))
                from {self.alias}.integration.int_household_members as m
                left join {keys} as k on k.id = m.party_id
                where m.household_id is not null
                group by m.household_id""")
        self.keys = keys

    def holds_party_ids(self, schema: str, table: str, column: str) -> bool:
        sql = (f"select count(*) from (select 1 from {self.relation(schema, table)} "
               f"where {_quote(column)} in (select id from {self.keys}) limit 1)")
        return self.con.execute(sql).fetchall()[0][0] > 0

    def select(self, schema: str, table: str, columns: list[str], party_columns: set[str], condition: str | None) -> str:
        """The rows to compare: chosen columns, party ids replaced by their canonical keys."""
        exprs, joins = [], []
        for i, col in enumerate(columns):
            if col in party_columns:
                joins.append(f"left join {self.keys} as k{i} on k{i}.id = t.{_quote(col)}")
                exprs.append(f"coalesce(k{i}.key, t.{_quote(col)}) as {_quote(col)}")
            else:
                exprs.append(f"t.{_quote(col)}")
        where = f" where {condition.format(rel=self.relation(schema, table))}" if condition else ""
        if not exprs:  # every column is a load time: compare the row counts only
            exprs = ["1 as row_present"]
        return f"select {', '.join(exprs)} from {self.relation(schema, table)} as t {' '.join(joins)}{where}"


def _examples(con: duckdb.DuckDBPyConnection, sql: str, columns: list[str], limit: int) -> str:
    rows = con.execute(f"select * from ({sql}) order by all limit {limit}").fetchall()
    return "\n".join("      " + ", ".join(f"{c}={v!r}" for c, v in zip(columns, row)) for row in rows)


def _differing_columns(con: duckdb.DuckDBPyConnection, sql_a: str, sql_b: str, columns: list[str]) -> str:
    """Columns whose multiset of values differs between the two sides, with how many values differ."""
    out = []
    for col in columns:
        c = _quote(col)
        n = con.execute(f"select count(*) from ((select {c} from ({sql_a}) except all select {c} from ({sql_b})) "
                        f"union all (select {c} from ({sql_b}) except all select {c} from ({sql_a})))").fetchall()[0][0]
        if n:
            out.append(f"{col} ({n})")
    return ", ".join(out) or "none alone (the differences are in combinations of columns)"


def compare_warehouses(left: Path, right: Path, per_run: dict[tuple[str, str], PerRunTable],
                       ignored_columns: dict[str, str] | None = None,
                       names: tuple[str, str] = ("day-by-day", "one-go"), examples: int = 5) -> Comparison:
    """Every relation of both warehouses: same set, same columns, same rows (multiset, EXCEPT ALL both ways).

    ``ignored_columns``: column name -> why its value may differ (left out wherever it appears).
    """
    ignored = set(ignored_columns or {})
    result = Comparison()
    con = duckdb.connect()
    try:
        a, b = _Side(con, left, "wh_a"), _Side(con, right, "wh_b")
        for key in sorted(set(a.relations) ^ set(b.relations)):
            where = names[0] if a.has(*key) else names[1]
            result.problems.append(f"{'.'.join(key)}: only in the {where} warehouse")
        for schema, table in sorted(set(a.relations) & set(b.relations)):
            name = f"{schema}.{table}"
            rule = per_run.get((schema, table))
            if rule is not None and rule.final_snapshot is None:
                result.skipped[name] = rule.reason
                continue
            cols_a, cols_b = dict(a.columns(schema, table)), dict(b.columns(schema, table))
            dropped = set(rule.drop_columns) if rule else set()
            kept = [c for c in cols_a if c in cols_b and c not in dropped | ignored and not _is_load_time(schema, table, c)]
            if set(cols_a) != set(cols_b):
                result.problems.append(f"{name}: columns differ: only {names[0]} {sorted(set(cols_a) - set(cols_b))}, "
                                       f"only {names[1]} {sorted(set(cols_b) - set(cols_a))}")
            mistyped = [c for c in kept if cols_a[c] != cols_b[c]]
            if mistyped:
                result.problems.append(f"{name}: column types differ: "
                                       + ", ".join(f"{c} {cols_a[c]} vs {cols_b[c]}" for c in mistyped))
                kept = [c for c in kept if c not in mistyped]
            party = set()
            if schema in PARTY_ID_SCHEMAS:
                party = {c for c in kept if cols_a[c] == "VARCHAR"
                         and (a.holds_party_ids(schema, table, c) or b.holds_party_ids(schema, table, c))}
            condition = rule.final_snapshot if rule else None
            sql_a = a.select(schema, table, kept, party, condition)
            sql_b = b.select(schema, table, kept, party, condition)
            n_a = con.execute(f"select count(*) from ({sql_a})").fetchall()[0][0]
            n_b = con.execute(f"select count(*) from ({sql_b})").fetchall()[0][0]
            only_a = con.execute(f"select count(*) from ({sql_a} except all {sql_b})").fetchall()[0][0]
            only_b = con.execute(f"select count(*) from ({sql_b} except all {sql_a})").fetchall()[0][0]
            result.compared.append(name)
            if n_a != n_b or only_a or only_b:
                mapped = f" (party ids mapped in {sorted(party)})" if party else ""
                text = [f"{name}: {n_a} rows {names[0]} vs {n_b} rows {names[1]}; {only_a} rows only in "
                        f"{names[0]}, {only_b} only in {names[1]}{mapped}"]
                text.append("    columns whose values differ: " + _differing_columns(con, sql_a, sql_b, kept))
                if only_a:
                    text.append(f"    only in {names[0]}:\n" + _examples(con, f"{sql_a} except all {sql_b}", kept, examples))
                if only_b:
                    text.append(f"    only in {names[1]}:\n" + _examples(con, f"{sql_b} except all {sql_a}", kept, examples))
                result.problems.append("\n".join(text))
    finally:
        con.close()
    return result
