"""Who is being erased: from a party id, an email or a phone to every identifier the person carries.

The identity layer knows which source records are one person (``integration.party_xref``) and
which identifiers each party holds (``integration.party_identifiers``: account numbers, emails,
phones, web/app user ids, lead and contact ids). The person's own raw records add what identity
does not index (a device id, an old phone number in an earlier version of the record).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from dagster_project.ingest.ledger import quote_ident
from dagster_project.privacy.identifiers import (
    LINK_KINDS, OWN_CONTACT_KINDS, kind_sql, link_columns, normalise, subject_key_column,
)
from dagster_project.serving.policy import token
from dagster_project.sources import ENTITIES
from dagster_project.warehouse import has_table


class UnknownSubject(ValueError):
    """An identifier or party id the warehouse does not know (nothing was changed)."""


@dataclass
class Subject:
    party_ids: set[str] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    identifiers: dict[str, set[str]] = field(default_factory=dict)  # kind -> normalised values

    def add(self, kind: str, value: str | None) -> None:
        if value:
            self.identifiers.setdefault(kind, set()).add(value)

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, normalised value) of every identifier, party ids included, sorted."""
        out = [(kind, v) for kind, values in self.identifiers.items() for v in values]
        out += [("party_id", p) for p in self.party_ids]
        return sorted(out)

    def needles(self, pseudonym_salt: str) -> set[str]:
        """Values only this person has, plain and as serving-copy tokens (see scan.py)."""
        values = {v for _, v in self.pairs()} | self.record_ids
        tokens = {token(v, pseudonym_salt) for kind, v in self.pairs() if kind in ("email", "phone")}
        return values | {t for t in tokens if t}


def _parties_by_identifier(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> list[tuple[str, str]]:
    return con.execute("""
        select distinct i.party_id, x.party_type from integration.party_identifiers i
        join integration.party_xref x using (party_id)
        where i.id_type = ? and i.id_value = ?""", [kind, value]).fetchall()


def find_parties(con: duckdb.DuckDBPyConnection, party_ids: list[str], emails: list[str], phones: list[str],
                 country_code: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Party id -> party type for each input; and the inputs nobody holds, as (kind, normalised)."""
    for table in ("party_xref", "party_identifiers"):
        if not has_table(con, "integration", table):
            raise UnknownSubject(f"integration.{table} is not built yet: run `crm-cif run` first")
    found: dict[str, str] = {}
    unknown: list[tuple[str, str]] = []
    for party_id in party_ids:
        rows = con.execute("select distinct party_type from integration.party_xref where party_id = ?",
                           [party_id.strip()]).fetchall()
        if rows:
            found[party_id.strip()] = rows[0][0]
        else:
            unknown.append(("party_id", party_id.strip()))
    for kind, values in (("email", emails), ("phone", phones)):
        for text in values:
            value = normalise(kind, text, country_code)
            if value is None:
                raise UnknownSubject(f"not a valid {kind}: {text!r}")
            rows = _parties_by_identifier(con, kind, value)
            if len(rows) > 1:
                raise UnknownSubject(f"the {kind} {text!r} belongs to {len(rows)} parties "
                                     f"({', '.join(r[0] for r in rows)}): erase by --party-id instead")
            if rows:
                found[rows[0][0]] = rows[0][1]
            else:
                unknown.append((kind, value))
    return found, unknown


def collect_subject(con: duckdb.DuckDBPyConnection, party_ids: set[str]) -> Subject:
    """Every record and identifier of the parties, plus the emails, phones and devices on their own raw records.

    Needs the temp macros of identifiers.install_sql_macros on ``con``.
    """
    subject = Subject(party_ids=set(party_ids))
    ids = sorted(party_ids)
    marks = ", ".join("?" for _ in ids)
    for (record_id,) in con.execute(f"select record_id from integration.party_xref where party_id in ({marks})",
                                    ids).fetchall():
        subject.record_ids.add(record_id)
    for kind, value in con.execute(f"select id_type, id_value from integration.party_identifiers "
                                   f"where party_id in ({marks})", ids).fetchall():
        if kind in LINK_KINDS:
            subject.add(kind, value)
    _add_raw_record_identifiers(con, subject)
    return subject


def _add_raw_record_identifiers(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    for entity in ENTITIES:
        key = subject_key_column(entity)
        keys = sorted(subject.identifiers.get(key.kind, set())) if key else []
        if not keys or not has_table(con, "raw", entity.table):
            continue
        marks = ", ".join("?" for _ in keys)
        for column in link_columns(entity):
            if column.kind not in OWN_CONTACT_KINDS:
                continue  # the key itself is known; another key on the record is someone else's
            kind = kind_sql(column)
            rows = con.execute(
                f"select distinct {kind}, _erasure_norm({kind}, {quote_ident(column.name)}) "
                f"from raw.{quote_ident(entity.table)} "
                f"where _erasure_norm('{key.kind}', {quote_ident(key.name)}) in ({marks})", keys).fetchall()
            for row_kind, value in rows:
                subject.add(row_kind, value)
