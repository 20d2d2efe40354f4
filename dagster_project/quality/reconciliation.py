"""Row reconciliation per source entity and batch: no delivered line may vanish without a trace.

Two equations must hold for every load batch of every entity:

* landed lines = raw rows + rejects + suppressed. Landed lines are the ledger's ``data_lines`` of
  the files it marks ``loaded`` (counted by the reader; header and blank lines excluded), so the
  ledger's own count is checked against what actually sits in ``raw``. Suppressed lines are an
  erased person's (``raw.suppressions``, action ``suppressed``; see dagster_project/privacy/).
* raw rows = accepted + quarantined: the accepted staging view plus ``staging.stg_quarantine``.

Counting per batch (not only in total) catches a loss in one batch hidden by a surplus in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from dagster_project.ingest.ledger import quote_ident
from dagster_project.sources import Entity
from dagster_project.warehouse import has_table


@dataclass
class Reconciliation:
    source: str
    entity: str
    landed: int = 0
    raw: int = 0
    rejects: int = 0
    suppressed: int = 0
    accepted: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)  # one line per broken batch or missing table

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return f"{self.source}.{self.entity}"


def _per_batch(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict[str, int]:
    return {batch: int(n) for batch, n in con.execute(sql, params or []).fetchall()}


def reconcile_entity(con: duckdb.DuckDBPyConnection, entity: Entity) -> Reconciliation:
    """Count landed, raw, rejected, accepted and quarantined rows per batch of one entity."""
    rec = Reconciliation(entity.source, entity.name)
    stg = f"stg_{entity.table}"
    missing = [f"{schema}.{table}" for schema, table in [
        ("raw", "file_ledger"), ("raw", "rejects"), ("raw", entity.table),
        ("staging", stg), ("staging", "stg_quarantine")] if not has_table(con, schema, table)]
    if missing:
        rec.problems.append(f"{rec.name}: not built yet: {', '.join(missing)}")
        return rec
    who = [entity.source, entity.name]
    counts = {
        "landed": _per_batch(con, "select batch_id, sum(data_lines) from raw.file_ledger "
                                  "where status = 'loaded' and source = ? and entity = ? group by 1", who),
        "raw": _per_batch(con, f"select _batch_id, count(*) from raw.{quote_ident(entity.table)} group by 1"),
        "rejects": _per_batch(con, "select batch_id, count(*) from raw.rejects "
                                   "where source = ? and entity = ? group by 1", who),
        "suppressed": _per_batch(con, "select batch_id, sum(rows) from raw.suppressions where action = 'suppressed' "
                                      "and source = ? and entity = ? group by 1", who)
        if has_table(con, "raw", "suppressions") else {},
        "accepted": _per_batch(con, f"select _batch_id, count(*) from staging.{quote_ident(stg)} group by 1"),
        "quarantined": _per_batch(con, "select batch_id, count(*) from staging.stg_quarantine "
                                       "where source_system = ? and source_entity = ? group by 1", who),
    }
    for name, per_batch in counts.items():
        setattr(rec, name, sum(per_batch.values()))
    batches = sorted(set().union(*counts.values()), key=lambda b: (b is None, b or ""))
    for batch in batches:
        n = {name: per_batch.get(batch, 0) for name, per_batch in counts.items()}
        if n["landed"] != n["raw"] + n["rejects"] + n["suppressed"]:
            suppressed = f" + {n['suppressed']} suppressed" if n["suppressed"] else ""
            rec.problems.append(f"{rec.name} batch {batch}: {n['landed']} landed lines but {n['raw']} raw rows "
                                f"+ {n['rejects']} rejects{suppressed}")
        if n["raw"] != n["accepted"] + n["quarantined"]:
            rec.problems.append(f"{rec.name} batch {batch}: {n['raw']} raw rows but {n['accepted']} accepted "
                                f"+ {n['quarantined']} quarantined")
    return rec


def reconcile(con: duckdb.DuckDBPyConnection, entities) -> list[Reconciliation]:
    return [reconcile_entity(con, e) for e in entities]
