"""Apply the erasure log to rows: a person's own records are suppressed, their identifiers blanked elsewhere.

One rule, used twice: by ``crm-cif erase`` on the raw tables, and by the loader on every file
it loads afterwards (before anything is written), so a warehouse rebuilt from the landing files
equals the erased one and the person never comes back.

- A row of an entity that describes a person (branch customer, web or app user, lead, sales
  contact), keyed by an erased identifier, is the person's own record: it is **suppressed**
  (not kept), and counted in ``raw.suppressions`` (action ``suppressed``, reason
  ``erased_subject``, no content), so delivered lines = raw rows + rejects + suppressed.
- Any other row holding an erased identifier (a transaction, a visit, an email event, a
  spouse's record sharing the address book email) keeps its business facts (amounts, dates,
  codes) with that identifier set to NULL: it is **anonymised** and stays counted, so revenue
  and event totals do not move. It then matches no party (touchpoints keep a NULL party_id).
- A rejected line (``raw.rejects``) holding an erased identifier anywhere in its text is
  suppressed: its text cannot be anonymised field by field.
"""

from __future__ import annotations

import duckdb

from dagster_project.privacy.identifiers import LINK_KINDS, hash_sql, link_columns, subject_key_column
from dagster_project.sources import Entity

ERASED = "(select identifier_hash from _erased_hashes)"
# Separators a rejected line is cut at to find identifier-looking fields (CSV and JSON alike).
LINE_FIELD_SPLIT = r'[,;|\t"{}\[\]:]'



def _counts(con: duckdb.DuckDBPyConnection, table: str, group: str, where: str) -> dict[tuple, int]:
    rows = con.execute(f"select {group}, count(*) from {table} where {where} group by all").fetchall()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def scrub_rows(con: duckdb.DuckDBPyConnection, entity: Entity, table: str,
               group: str, apply: bool = True) -> tuple[dict[tuple, int], dict[tuple, int]]:
    """Suppress subject rows and anonymise the rest of ``table`` (rows of ``entity``).

    Needs the temp macros (identifiers.install_sql_macros) and ``_erased_hashes``. Returns
    (suppressed, anonymised) row counts per value of the ``group`` columns; ``apply=False``
    only counts (a dry run).
    """
    suppressed: dict[tuple, int] = {}
    subject = subject_key_column(entity)
    own_record = "false"
    if subject is not None:
        own_record = f"coalesce({hash_sql(subject)} in {ERASED}, false)"
        suppressed = _counts(con, table, group, own_record)
        if suppressed and apply:
            con.execute(f"delete from {table} where {own_record}")
    columns = link_columns(entity)
    if not columns:
        return suppressed, {}
    conditions = {c.name: f"{hash_sql(c)} in {ERASED}" for c in columns}
    anonymised = _counts(con, table, group,
                         f"not {own_record} and (" + " or ".join(f"({c})" for c in conditions.values()) + ")")
    if anonymised and apply:
        for name, condition in conditions.items():
            con.execute(f'update {table} set "{name}" = null where {condition}')
    return suppressed, anonymised


def scrub_lines(con: duckdb.DuckDBPyConnection, table: str, line_column: str, group: str,
                where: str = "true", apply: bool = True) -> dict[tuple, int]:
    """Suppress rejected lines whose text holds an erased identifier; counts per ``group``."""
    kinds = "[" + ", ".join(f"'{k}'" for k in LINK_KINDS) + "]"
    con.execute(f"""create or replace temp table _erased_line_hits as
        select distinct rid from (
            select rid, unnest(fields) as field from (
                select rowid as rid, regexp_split_to_array({line_column}, '{LINE_FIELD_SPLIT}') as fields
                from {table} where {where} and {line_column} is not null)
        ) pieces, (select unnest({kinds}) as kind) kinds
        where _erasure_hash(kind, field) in {ERASED}""")
    hits = _counts(con, table, group, "rowid in (select rid from _erased_line_hits)")
    if hits and apply:
        con.execute(f"delete from {table} where rowid in (select rid from _erased_line_hits)")
    con.execute("drop table _erased_line_hits")
    return hits
