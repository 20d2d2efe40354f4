"""Which raw columns identify a person, and the salted hash an erased identifier is kept as.

The erasure log holds no plain identifier, only ``sha256(salt | kind | normalised value)``.
Normalisation is staging's (dbt/macros/staging/cleaning.sql): lower-case email, E.164 phone,
trimmed keys, so '0803 123 4567' in a later file matches '+2348031234567' erased today. The
same rules exist in SQL (temp macros, for raw tables and files being loaded) and in Python
(for what a person types on the command line); a test checks they agree.

Which columns to look at comes from the source registry's column roles, so a new source is
covered without code here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from dagster_project.app.search_terms import normalize_phone
from dagster_project.sources import Entity

# Roles whose values link rows to one person: matched against the erasure log.
LINK_KINDS = ("account_number", "email", "phone", "web_user_id", "app_user_id", "lead_id", "contact_id",
              "device_id")
# Record keys of the entities that describe a person (a customer, a user, a lead, a contact):
# a row keyed by an erased one of these IS the erased person's record.
SUBJECT_KEY_KINDS = ("account_number", "web_user_id", "app_user_id", "lead_id", "contact_id")
# On a person's own record, these describe that person; any other identifier on it (a lead's
# `referred_by_account_number`) points at someone else and must not be taken for theirs.
OWN_CONTACT_KINDS = ("email", "phone", "device_id")
# Roles whose kind is given by a sibling column (`subject_type`, `customer_ref_type`).
TYPED_ROLES = ("contact_point", "typed_ref")


@dataclass(frozen=True)
class LinkColumn:
    """A raw column holding an identifier; ``kind_column`` names the column giving its kind, if any."""

    name: str
    kind: str | None
    kind_column: str | None = None


def normalise(kind: str, value: str | None, country_code: str = "234") -> str | None:
    """The form an identifier is hashed in (Python twin of the SQL macro ``_erasure_norm``)."""
    if value is None or not value.strip():
        return None
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        return normalize_phone(value, country_code)
    return value.strip()


def identifier_hash(kind: str, normalised: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}|{kind}|{normalised}".encode("utf-8")).hexdigest()


def install_sql_macros(con: duckdb.DuckDBPyConnection, salt: str, country_code: str = "234") -> None:
    """Temp macros ``_erasure_norm(kind, value)`` and ``_erasure_hash(kind, value)`` on this connection.

    Temp: they live with the connection and never land in the warehouse catalog.
    """
    cc = "".join(ch for ch in str(country_code) if ch.isdigit()) or "234"
    digits = "regexp_replace(v, '[^0-9]', '', 'g')"
    e164 = f"""case
        when {digits} like '{cc}0%' then '{cc}' || substr({digits}, {len(cc) + 2})
        when trim(v) like '+%' then {digits}
        when {digits} like '00%' then substr({digits}, 3)
        when {digits} like '0%' and length({digits}) >= 8 then '{cc}' || substr({digits}, 2)
        when {digits} like '{cc}%' then {digits}
        when length({digits}) between 7 and 10 then '{cc}' || {digits}
        else {digits} end"""
    con.execute(f"create or replace temp macro _erasure_phone(v) as "
                f"case when length({e164}) between 8 and 15 then '+' || {e164} end")
    con.execute("""create or replace temp macro _erasure_norm(kind, v) as
        case when nullif(trim(v), '') is null then null
             when kind = 'email' then lower(trim(v))
             when kind = 'phone' then _erasure_phone(v)
             else trim(v) end""")
    salt_sql = "'" + salt.replace("'", "''") + "'"
    con.execute(f"""create or replace temp macro _erasure_hash(kind, v) as
        sha256({salt_sql} || '|' || kind || '|' || _erasure_norm(kind, v))""")


def _kind_column(entity: Entity, name: str) -> str | None:
    names = set(entity.column_names)
    for candidate in (f"{name}_type", f"{name.removesuffix('_value')}_type"):
        if candidate in names:
            return candidate
    return None


def link_columns(entity: Entity) -> list[LinkColumn]:
    """The entity's columns that may hold an identifier of a person."""
    out = []
    for column in entity.columns:
        if column.role in LINK_KINDS:
            out.append(LinkColumn(column.name, column.role))
        elif column.role in TYPED_ROLES:
            kind_column = _kind_column(entity, column.name)
            if kind_column:
                out.append(LinkColumn(column.name, None, kind_column))
    return out


def subject_key_column(entity: Entity) -> LinkColumn | None:
    """The key column that makes a row a person's own record (branch customer, web user, ...), if any."""
    for column in entity.columns:
        if column.name in entity.key and column.role in SUBJECT_KEY_KINDS:
            return LinkColumn(column.name, column.role)
    return None


def kind_sql(column: LinkColumn, alias: str = "") -> str:
    """SQL giving the identifier kind of a link column's value."""
    prefix = f"{alias}." if alias else ""
    if column.kind:
        return f"'{column.kind}'"
    return f"lower(trim({prefix}\"{column.kind_column}\"))"


def hash_sql(column: LinkColumn, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"_erasure_hash({kind_sql(column, alias)}, {prefix}\"{column.name}\")"
