"""`crm-cif quality`: one line per source — rows, rejects, quarantine, checks, last delivery.

The reconciliation and freshness checks are always recomputed from the warehouse (opened
read-only): same tables as the asset checks, so the same answer, even with no Dagster instance.
When the Dagster instance has recorded check results (``check_history``), the "checks ok"
column counts those instead: every check of the source, its dbt tests included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.quality.freshness import SourceFreshness, freshness
from dagster_project.quality.reconciliation import Reconciliation, reconcile
from dagster_project.sources import SOURCES
from dagster_project.warehouse import has_table


@dataclass
class SourceScore:
    source: str
    raw_rows: int
    rejects: int
    quarantined_by_reason: dict[str, int]
    reconciliations: list[Reconciliation]
    freshness: SourceFreshness
    failed_checks: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    @property
    def checks_total(self) -> int:
        return len(self.reconciliations) + 1

    @property
    def checks_passed(self) -> int:
        return sum(r.passed for r in self.reconciliations) + (not self.freshness.late)

    @property
    def last_delivery(self) -> date | None:
        return self.freshness.latest


def build_scorecard(con: duckdb.DuckDBPyConnection) -> list[SourceScore]:
    quarantine: dict[str, dict[str, int]] = {}
    if has_table(con, "staging", "stg_quarantine"):
        for source, reason, n in con.execute("select source_system, reason_codes, count(*) from staging.stg_quarantine "
                                             "group by all order by 1, 3 desc, 2").fetchall():
            quarantine.setdefault(source, {})[reason] = n
    fresh = {f.source: f for f in freshness(con, list(SOURCES))}
    scores = []
    for source in SOURCES:
        recs = reconcile(con, source.entities)
        score = SourceScore(source.name, sum(r.raw for r in recs), sum(r.rejects for r in recs),
                            quarantine.get(source.name, {}), recs, fresh[source.name])
        score.failed_checks = [f"reconciliation {p}" for r in recs for p in r.problems]
        if score.freshness.late:
            score.failed_checks.append(f"freshness (warning) {score.freshness.message()}")
        scores.append(score)
    return scores


def render_scorecard(scores: list[SourceScore], warehouse: Path, history: dict | None = None,
                     max_problems: int = 10) -> str:
    history = history or {}
    origin = ("checks: latest results recorded by Dagster, reconciliation and freshness also recomputed now"
              if history else "checks recomputed from the warehouse now")

    def checks(s: SourceScore) -> str:
        tally = history.get(s.source)
        return f"{tally.passed}/{tally.total}" if tally else f"{s.checks_passed}/{s.checks_total}"

    lines = [f"Quality scorecard: {warehouse} ({origin})", "",
             f"{'source':<12} {'raw rows':>10} {'rejects':>8} {'quarant.':>9} {'checks ok':>10}  last delivery"]
    for s in scores:
        lines.append(f"{s.source:<12} {s.raw_rows:>10,} {s.rejects:>8,} {s.quarantined:>9,} "
                     f"{checks(s):>10}  {s.last_delivery or 'never'}")
    lines += ["", "Quarantined by reason:"]
    lines += [f"  {s.source}: " + ", ".join(f"{reason} {n:,}" for reason, n in s.quarantined_by_reason.items())
              for s in scores if s.quarantined_by_reason] or ["  (none)"]
    problems = [f"  {s.source}: {p}" for s in scores for p in s.failed_checks]
    problems += [f"  {source}: last run: {name}" for source, tally in history.items() for name in tally.failed]
    lines += ["", f"Failed checks ({len(problems)}):"] + (problems[:max_problems] or ["  (none)"])
    if len(problems) > max_problems:
        lines.append(f"  ... and {len(problems) - max_problems} more")
    return "\n".join(lines)


def scorecard_text(warehouse: Path, history: dict | None = None) -> tuple[str, bool]:
    """The rendered scorecard and whether every blocking (reconciliation) check passes now."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        scores = build_scorecard(con)
    finally:
        con.close()
    ok = all(r.passed for s in scores for r in s.reconciliations)
    return render_scorecard(scores, warehouse, history), ok
