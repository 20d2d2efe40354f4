"""The review queue of uncertain matches, and the link / no-link decisions people make on it.

Decisions are kept in a CSV file outside the warehouse (like a seed a person edits), so they
survive a rebuild of the warehouse and are honoured on every later run. Pairs are stored in
normalised order (record_id_l < record_id_r); when a pair was decided more than once, the
latest decision wins.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.summary import _has_table

DECISION_COLUMNS = ["record_id_l", "record_id_r", "decision", "decided_by", "decided_at", "note"]
DECISIONS = ("link", "no_link")
# What a reviewer compares side by side: the fields people tell persons apart by.
REVIEW_ATTRIBUTES = ["source_system", "full_name", "date_of_birth", "email", "phone", "postcode"]


@dataclass(frozen=True)
class Decision:
    record_id_l: str
    record_id_r: str
    decision: str
    decided_by: str
    decided_at: datetime
    note: str


def normalise_decision(text: str) -> str:
    """'link' or 'no_link'; 'no-link' (as typed on the command line) is accepted too."""
    value = text.strip().lower().replace("-", "_")
    if value not in DECISIONS:
        raise ValueError(f"decision must be 'link' or 'no_link', got {text!r}")
    return value


def _utc_naive(moment: datetime) -> datetime:
    """Timestamps are stored as naive UTC, like every other timestamp in the warehouse."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _ordered_pair(record_id_l: str, record_id_r: str) -> tuple[str, str]:
    left, right = record_id_l.strip(), record_id_r.strip()
    if not left or not right:
        raise ValueError("both record ids are required")
    if left == right:
        raise ValueError(f"a record cannot be matched with itself: {left!r}")
    return (left, right) if left < right else (right, left)


def record_decision(path: Path, record_id_l: str, record_id_r: str, decision: str, decided_by: str,
                    note: str = "", decided_at: datetime | None = None) -> None:
    """Append one decision to the decisions file (created with its header if missing)."""
    left, right = _ordered_pair(record_id_l, record_id_r)
    decision = normalise_decision(decision)
    if not decided_by.strip():
        raise ValueError("decided_by is required: who made the decision")
    moment = _utc_naive(decided_at or datetime.now(timezone.utc))
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists() or path.stat().st_size == 0
    if not fresh and not path.read_bytes().endswith(b"\n"):
        with path.open("a", encoding="utf-8") as handle:  # a hand edit left the last line open
            handle.write("\n")
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(DECISION_COLUMNS)
        writer.writerow([left, right, decision, decided_by.strip(), moment.isoformat(), note])


def read_decisions(path: Path) -> dict[tuple[str, str], Decision]:
    """The latest decision per normalised pair; ValueError naming the file and line if malformed."""
    if not path.exists():
        return {}
    latest: dict[tuple[str, str], tuple[datetime, int, Decision]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return {}
        if [h.strip() for h in header] != DECISION_COLUMNS:
            raise ValueError(f"{path}, line 1: the header must be {','.join(DECISION_COLUMNS)}")
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            line = reader.line_num
            try:
                decision = _parse_row(fields)
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from None
            key = (decision.record_id_l, decision.record_id_r)
            if key not in latest or (decision.decided_at, line) >= latest[key][:2]:
                latest[key] = (decision.decided_at, line, decision)
    return {key: value[2] for key, value in sorted(latest.items())}


def _parse_row(fields: list[str]) -> Decision:
    if len(fields) != len(DECISION_COLUMNS):
        raise ValueError(f"expected {len(DECISION_COLUMNS)} fields, found {len(fields)}")
    record_id_l, record_id_r, decision, decided_by, decided_at, note = fields
    left, right = _ordered_pair(record_id_l, record_id_r)
    if not decided_by.strip():
        raise ValueError("decided_by is empty")
    try:
        moment = datetime.fromisoformat(decided_at.strip())
    except ValueError:
        raise ValueError(f"decided_at is not an ISO timestamp: {decided_at!r}") from None
    return Decision(left, right, normalise_decision(decision), decided_by.strip(), _utc_naive(moment), note)


def load_decisions(con: duckdb.DuckDBPyConnection, path: Path, schema: str = "integration") -> int:
    """Create or replace ``<schema>.match_decisions`` from the decisions file; the number of pairs decided."""
    decisions = list(read_decisions(path).values())
    table = pa.table({
        "record_id_l": pa.array([d.record_id_l for d in decisions], pa.string()),
        "record_id_r": pa.array([d.record_id_r for d in decisions], pa.string()),
        "decision": pa.array([d.decision for d in decisions], pa.string()),
        "decided_by": pa.array([d.decided_by for d in decisions], pa.string()),
        "decided_at": pa.array([d.decided_at for d in decisions], pa.timestamp("us")),
        "note": pa.array([d.note for d in decisions], pa.string()),
    })
    con.execute(f"create schema if not exists {schema}")
    con.register("_match_decisions", table)
    try:
        con.execute(f"""
            create or replace table {schema}.match_decisions as
            select record_id_l, record_id_r, decision, decided_by, decided_at::timestamp as decided_at, note
            from _match_decisions order by record_id_l, record_id_r
        """)
    finally:
        con.unregister("_match_decisions")
    return len(decisions)


def write_review_queue(con: duckdb.DuckDBPyConnection, pairs: str, schema: str = "integration",
                       lower: float = 0.5, upper: float = 0.95) -> int:
    """Create or replace ``<schema>.match_review``: undecided pairs with probability in [lower, upper).

    ``pairs`` names a table (record_id_l, record_id_r, match_probability, match_weight). Each
    pair comes with both records' attributes side by side and their current party ids.
    """
    if not 0.0 <= lower <= upper <= 1.0:
        raise ValueError(f"need 0 <= lower <= upper <= 1, got lower={lower}, upper={upper}")
    decided = f"{schema}.match_decisions" if _has_table(con, schema, "match_decisions") else \
        "(select null::varchar as record_id_l, null::varchar as record_id_r where false)"
    xref = f"{schema}.party_xref" if _has_table(con, schema, "party_xref") else \
        "(select null::varchar as record_id, null::varchar as party_id where false)"
    attributes = ",\n".join(f"l.{a} as {a}_l, r.{a} as {a}_r" for a in REVIEW_ATTRIBUTES)
    con.execute(f"""
        create or replace table {schema}.match_review as
        with normalised as (
            select least(record_id_l, record_id_r) as record_id_l, greatest(record_id_l, record_id_r) as record_id_r,
                   match_probability::double as match_probability, match_weight::double as match_weight
            from {pairs}
            where match_probability >= {lower} and match_probability < {upper} and record_id_l <> record_id_r
        ),
        candidates as (
            select * from (
                select *, row_number() over (partition by record_id_l, record_id_r
                                             order by match_probability desc) as nth
                from normalised
            ) where nth = 1
        )
        select c.record_id_l, c.record_id_r, c.match_probability, c.match_weight,
               xl.party_id as party_id_l, xr.party_id as party_id_r,
               {attributes}
        from candidates c
        left join {schema}.int_party_records l on l.record_id = c.record_id_l
        left join {schema}.int_party_records r on r.record_id = c.record_id_r
        left join {xref} xl on xl.record_id = c.record_id_l
        left join {xref} xr on xr.record_id = c.record_id_r
        where not exists (select 1 from {decided} d
                          where d.record_id_l = c.record_id_l and d.record_id_r = c.record_id_r)
        order by c.match_probability desc, c.record_id_l, c.record_id_r
    """)
    return con.execute(f"select count(*) from {schema}.match_review").fetchall()[0][0]


def render_review_pairs(rows: list[dict], total: int, already_decided: int = 0) -> str:
    """The queue as a reviewer reads it: each pair's two records side by side, and how to decide."""
    if total == 0:
        return "The review queue is empty: no uncertain pair awaits a decision."
    lines = [f"{total:,} pair(s) await review" + (f"; {already_decided:,} more decided since the last run "
                                                  "(they take effect on the next run)" if already_decided else "")
             + (f"; showing the {len(rows):,} most likely" if len(rows) < total else "") + "."]
    for number, row in enumerate(rows, start=1):
        lines += ["", f"#{number}  probability {row['match_probability']:.3f}  weight {row['match_weight']:.2f}"]
        for label, key in [("record", "record_id"), ("party", "party_id")] + [(a, a) for a in REVIEW_ATTRIBUTES]:
            left, right = (row.get(f"{key}_{side}") for side in ("l", "r"))
            lines.append(f"  {label:<14} {'' if left is None else str(left):<40} | {'' if right is None else str(right)}")
        lines.append(f"  decide: crm-cif review decide '{row['record_id_l']}' '{row['record_id_r']}' "
                     "link|no-link --by NAME")
    return "\n".join(lines)
