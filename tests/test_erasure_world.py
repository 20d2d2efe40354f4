"""Right to erasure on a generated world, checked against its ground truth.

A module-scoped copy of the session's built 1,500-person world (`small_world`, conftest.py; the
original and the 10,000-person session world are never touched): a person with many records
erased (through the pipeline rebuild), then every column of
every table of the warehouse and both serving copies, and every file under the data folder but
the landing files and the generator's truth, is searched for each of their identifiers. Then a
file re-delivering them is loaded, and the whole warehouse is rebuilt from the landing files.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.privacy.erasure import ErasureRequest, erase
from dagster_project.quality.reconciliation import reconcile
from dagster_project.serving.policy import token
from dagster_project.settings import get_settings
from dagster_project.sources import ENTITIES
from tests.conftest import _point_settings_at, run_job

pytestmark = pytest.mark.e2e

TEXT_TYPES = ("VARCHAR", "JSON")


@dataclass
class Person:
    party_id: str
    first_name: str
    last_name: str
    emails: set[str]
    phones: set[str]  # E.164
    keys: set[str]  # account number and source record keys


@dataclass
class Erased:
    root: Path
    person: Person
    before: dict
    report: object
    seconds: float


def _choose(root: Path) -> Person:
    """The person with most source records, all resolved to one party, whose name pair nobody else has."""
    persons = pd.read_parquet(root / "truth" / "persons.parquet")
    records = pd.read_parquet(root / "truth" / "record_map.parquet")
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        xref = con.execute("select record_id, party_id from integration.party_xref").df()
    records["record_id"] = records.source + ":" + records.entity + ":" + records.record_key
    records = records.merge(xref, on="record_id", how="left")
    names = pd.concat([persons[["person_id", "first_name", "last_name"]],
                       persons[["person_id", "first_name", "maiden_name"]].rename(columns={"maiden_name": "last_name"})])
    name_counts = names.drop_duplicates().groupby(["first_name", "last_name"]).person_id.nunique()
    for person_id, group in sorted(records.groupby("person_id"), key=lambda kv: (-len(kv[1]), kv[0])):
        p = persons.set_index("person_id").loc[person_id]
        if group.party_id.isna().any() or group.party_id.nunique() != 1 or not p.is_customer:
            continue
        if name_counts.get((p.first_name, p.last_name), 0) != 1:
            continue
        return Person(party_id=group.party_id.iloc[0], first_name=p.first_name, last_name=p.last_name,
                      emails={e.lower() for e in (p.email, p.first_email) if isinstance(e, str)},
                      phones={ph for ph in (p.phone, p.first_phone) if isinstance(ph, str)},
                      keys={p.account_number, *group.record_key})
    raise AssertionError("no suitable person in the world")


def _measure(warehouse: Path, party_id: str) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        one = lambda sql: con.execute(sql).fetchall()[0]  # noqa: E731
        return {
            "transactions": one("select count(*), sum(amount), count(*) filter (where party_id is null) "
                                "from marts.fct_transactions"),
            "person_transactions": one(f"select count(*) from marts.fct_transactions where party_id = '{party_id}'")[0],
            "interactions": one("select count(*) from marts.fct_interactions")[0],
            "person_leads": one("select count(*) from marts.fct_interactions where source_entity = 'leads' "
                                f"and party_id = '{party_id}'")[0],
            "customers": {r[0] for r in con.execute("select party_id from marts.dim_customer").fetchall()},
            "raw": {e.table: one(f"select count(*) from raw.{e.table}")[0] for e in ENTITIES},
            "segments_dates": one("select count(*) from analytics.segment_membership_runs")[0],
        }


@pytest.fixture(scope="module")
def erased(small_world, tmp_path_factory) -> Erased:
    root = tmp_path_factory.mktemp("erasure_world") / "world"
    shutil.copytree(small_world, root)
    previous = dict(os.environ)
    _point_settings_at(root)
    for var in ("CRM_CIF_ERASURE_LOG", "CRM_CIF_ERASURE_SALT"):
        os.environ.pop(var, None)
    person = _choose(root)
    before = _measure(root / "warehouse.duckdb", person.party_id)
    started = time.perf_counter()
    report = erase(get_settings(), ErasureRequest([person.party_id], [], [], "dpo", "test"),
                   rebuild=lambda: run_job().success)
    seconds = time.perf_counter() - started
    print(f"\nerased {person.party_id} in {seconds:.0f}s: {report.seconds}")
    yield Erased(root, person, before, report, seconds)
    os.environ.clear()
    os.environ.update(previous)


def _needles(person: Person) -> dict[str, str]:
    """What to look for, lower-case: identifiers, national phone digits, pseudonym tokens."""
    salt = get_settings().pseudonym_salt
    out = {v.lower(): "identifier" for v in person.emails | person.phones | person.keys | {person.party_id}}
    out.update({ph[-10:]: "phone digits" for ph in person.phones})
    out.update({token(v, salt): "token" for v in person.emails | person.phones})
    return out


def _table_hits(database: Path, person: Person) -> list[str]:
    needles = _needles(person)
    first, last = person.first_name.lower(), person.last_name.lower()
    hits = []
    with duckdb.connect(str(database), read_only=True) as con:
        columns = con.execute("select table_schema, table_name, column_name, data_type from information_schema.columns "
                              "order by all").fetchall()
        tables: dict[tuple[str, str], list[str]] = {}
        for schema, table, column, data_type in columns:
            if data_type.upper().startswith(TEXT_TYPES) or data_type.endswith("[]") or data_type.startswith("STRUCT"):
                tables.setdefault((schema, table), []).append(column)
        for (schema, table), cols in tables.items():
            text = " || '\x1f' || ".join(f"coalesce(lower(cast(\"{c}\" as varchar)), '')" for c in cols)
            digits = " || '\x1f' || ".join(f"coalesce(regexp_replace(cast(\"{c}\" as varchar), '[^0-9]', '', 'g'), '')"
                                           for c in cols)
            for needle, what in needles.items():
                expr = digits if what == "phone digits" else text
                n = con.execute(f'select count(*) from "{schema}"."{table}" where contains({expr}, ?)', [needle]).fetchall()[0][0]
                if n:
                    hits.append(f"{database.name}:{schema}.{table} {what} {needle!r}: {n}")
            n = con.execute(f'select count(*) from "{schema}"."{table}" where regexp_matches({text}, ?) '
                            f"and regexp_matches({text}, ?)", [rf"\b{re.escape(first)}\b", rf"\b{re.escape(last)}\b"]
                            ).fetchall()[0][0]
            if n:
                hits.append(f"{database.name}:{schema}.{table} name {first} {last}: {n}")
    return hits


def _file_hits(root: Path, person: Person) -> list[str]:
    needles = [n for n, what in _needles(person).items() if what != "phone digits"]
    hits = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in ("landing", "truth"):
            continue
        data = path.read_bytes().lower()
        hits += [f"{rel}: {n!r}" for n in needles if n.encode() in data]
    return hits


def test_no_identifier_left_in_any_table_of_the_warehouse_or_serving_copies(erased):
    assert erased.report.rebuilt and erased.report.ok, erased.report.residual
    hits = []
    for name in ("warehouse.duckdb", "serving.duckdb", "serving_restricted.duckdb"):
        assert (erased.root / name).exists()
        hits += _table_hits(erased.root / name, erased.person)
    assert hits == []


def test_no_identifier_left_in_any_file_not_even_in_free_blocks(erased):
    """Every file under the data folder (databases byte by byte, exports, reports, decisions, log, models)."""
    assert _file_hits(erased.root, erased.person) == []


def test_the_erasure_log_holds_hashes_and_times_only(erased):
    log = pd.read_csv(erased.root / "privacy" / "erasure_log.csv", dtype=str)
    assert list(log.columns) == ["erasure_id", "erased_at", "identifier_kind", "identifier_hash", "requested_by", "reason"]
    assert log.identifier_hash.str.fullmatch(r"[0-9a-f]{64}").all()
    assert {"party_id", "email", "phone", "account_number"} <= set(log.identifier_kind)
    assert len(log) >= len(erased.person.keys) + 2


def test_counts_and_aggregates_stay_consistent(erased):
    before = erased.before
    after = _measure(erased.root / "warehouse.duckdb", erased.person.party_id)
    # Every transaction is still counted with its amount; the person's now belong to nobody.
    assert after["transactions"][:2] == before["transactions"][:2]
    assert after["transactions"][2] == before["transactions"][2] + before["person_transactions"]
    assert before["person_transactions"] > 0 and after["person_transactions"] == 0
    # Only the person's own records (their leads among the interactions) are gone.
    assert after["interactions"] == before["interactions"] - before["person_leads"]
    # Customers: exactly the erased person fewer, every other party keeps its id.
    assert after["customers"] == before["customers"] - {erased.person.party_id}
    # Raw lost exactly the suppressed rows; every batch still reconciles.
    report = erased.report
    for entity in ENTITIES:
        suppressed = report.raw.get(f"raw.{entity.table}", (0, 0))[0]
        assert after["raw"][entity.table] == before["raw"][entity.table] - suppressed, entity.table
    assert sum(s for s, _ in report.raw.values()) >= len(erased.person.keys) - 1
    with duckdb.connect(str(erased.root / "warehouse.duckdb"), read_only=True) as con:
        problems = [p for r in reconcile(con, ENTITIES) for p in r.problems]
    assert problems == []
    # Past segment dates are kept (the person's rows in them are not).
    assert after["segments_dates"] >= before["segments_dates"]


def _redeliver(root: Path, person: Person) -> dict[str, int]:
    """Copy every landing line naming the person into new files; returns lines per new file."""
    written = {}
    for folder, pattern, header in (("branch", "customers_*.csv", True), ("web", "users_*.jsonl", False)):
        lines, first = [], None
        for path in sorted((root / "landing" / folder).glob(pattern)):
            text = path.read_bytes().decode("latin-1").splitlines()
            first = first or (text[0] if header else None)
            body = text[1:] if header else text
            lines += [ln for ln in body if any(k in ln for k in person.keys)]
        if lines:
            name = pattern.replace("*", "20261031_redelivered")
            out = root / "landing" / folder / name
            out.write_bytes(("\n".join(([first] if header else []) + lines) + "\n").encode("latin-1"))
            written[f"{folder}/{name}"] = len(lines)
    return written


def test_redelivered_lines_are_suppressed_and_counted_and_a_rebuild_does_not_bring_them_back(erased):
    erased_counts = _measure(erased.root / "warehouse.duckdb", erased.person.party_id)
    written = _redeliver(erased.root, erased.person)
    assert written, "the person has no line to re-deliver"
    assert run_job("ingest_new_files").success
    with duckdb.connect(str(erased.root / "warehouse.duckdb"), read_only=True) as con:
        counted = dict(con.execute("select source_file, sum(rows) from raw.suppressions where stage = 'ingest' "
                                   "and action = 'suppressed' group by 1").fetchall())
        ledger = dict(con.execute("select source_file, rows_loaded from raw.file_ledger "
                                  "where source_file like '%redelivered%'").fetchall())
        problems = [p for r in reconcile(con, ENTITIES) for p in r.problems]
    assert counted == written
    assert ledger == {name: 0 for name in written}
    assert problems == []
    assert _table_hits(erased.root / "warehouse.duckdb", erased.person) == []

    # A rebuild from every landing file (the re-delivered ones included) equals the erased warehouse.
    shutil.move(erased.root / "warehouse.duckdb", erased.root / "erased.duckdb.bak")
    try:
        assert run_job().success
        rebuilt = _measure(erased.root / "warehouse.duckdb", erased.person.party_id)
        assert _table_hits(erased.root / "warehouse.duckdb", erased.person) == []
        for name in ("serving.duckdb", "serving_restricted.duckdb"):
            assert _table_hits(erased.root / name, erased.person) == []
        assert rebuilt["transactions"] == erased_counts["transactions"]
        assert rebuilt["interactions"] == erased_counts["interactions"]
        assert rebuilt["raw"] == erased_counts["raw"]
        assert len(rebuilt["customers"]) == len(erased_counts["customers"])
        with duckdb.connect(str(erased.root / "warehouse.duckdb"), read_only=True) as con:
            assert [p for r in reconcile(con, ENTITIES) for p in r.problems] == []
    finally:
        (erased.root / "erased.duckdb.bak").unlink(missing_ok=True)
