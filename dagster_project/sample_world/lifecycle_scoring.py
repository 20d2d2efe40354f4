"""How well the lifecycle stages agree with the sample world's true lifecycle events (tests and
benchmarks only: the pipeline never reads the truth).

The true stage of a person applies the *same* stage order and day thresholds (seed
``lifecycle_rules``) to the true event dates of ``persons.parquet``: ``lead_captured_on``,
``became_customer_on``, ``attrited_on`` (closed everything), ``won_back_on`` (opened again) and
``lapsed_on`` (the last purchase before the customer dropped out). The pipeline sees none of
these: it infers them from leads, holdings and purchases, and "lapsed" only from silence. A
living customer who simply buys rarely falls silent too, so at_risk and lapsed are measured
against a latent truth that no observed rule can fully recover; the report shows how much.

Each resolved individual party is scored against the person most of its records belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.analytics.lifecycle import STAGES


@dataclass(frozen=True)
class StageScore:
    stage: str
    predicted: int
    true: int
    agreed: int

    @property
    def precision(self) -> float:
        return self.agreed / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.agreed / self.true if self.true else 1.0


@dataclass(frozen=True)
class LifecycleAgreement:
    as_of: date
    parties: int
    agreed: int
    stages: dict[str, StageScore]
    confusion: list[tuple[str, str, int]]  # (true stage, predicted stage, parties)

    @property
    def accuracy(self) -> float:
        return self.agreed / self.parties if self.parties else 1.0

    def markdown(self) -> str:
        lines = [f"Lifecycle agreement as of {self.as_of}: {self.agreed:,} of {self.parties:,} parties "
                 f"({self.accuracy:.3f})", "", "| stage | predicted | true | agreed | precision | recall |",
                 "|---|---:|---:|---:|---:|---:|"]
        for s in self.stages.values():
            lines.append(f"| {s.stage} | {s.predicted:,} | {s.true:,} | {s.agreed:,} | {s.precision:.3f} | {s.recall:.3f} |")
        predicted_stages = sorted({p for _, p, _ in self.confusion}, key=STAGES.index)
        cells = {(t, p): n for t, p, n in self.confusion}
        lines += ["", "Confusion (rows: true stage, columns: predicted)", "",
                  "| true \\ predicted | " + " | ".join(predicted_stages) + " |",
                  "|---|" + "---:|" * len(predicted_stages)]
        for t in sorted({t for t, _, _ in self.confusion}, key=STAGES.index):
            lines.append(f"| {t} | " + " | ".join(f"{cells.get((t, p), 0):,}" for p in predicted_stages) + " |")
        return "\n".join(lines)


def person_of_party_sql(truth: Path) -> str:
    """A query: each party's true person (the person most of its records belong to)."""
    return f"""
        select x.party_id, mode(r.person_id) as person_id
        from integration.party_xref as x
        join read_parquet('{truth / "record_map.parquet"}') as r
            on r.source = x.source_system and r.entity = x.source_entity and r.record_key = x.source_key
        group by x.party_id
    """


def true_stage_sql(rules: dict[str, int]) -> str:
    """The stage the truth's event dates imply under the pipeline's rules (columns of persons.parquet)."""
    silent = "date_diff('day', lapsed_on, $as_of)"
    dropped = "lapsed_on is not null and lapsed_on <= $as_of and won_back_on is null"
    return f"""case
        when became_customer_on is null or became_customer_on > $as_of then
            case when date_diff('day', lead_captured_on, $as_of) > {rules['prospect_days']} then 'lost_prospect'
                 else 'prospect' end
        when attrited_on <= $as_of and (won_back_on is null or won_back_on > $as_of) then 'attrited'
        when won_back_on <= $as_of and date_diff('day', won_back_on, $as_of) <= {rules['won_back_days']} then 'won_back'
        when date_diff('day', became_customer_on, $as_of) <= {rules['new_customer_days']} then 'new'
        when {dropped} and {silent} > {rules['lapsed_after_days']} then 'lapsed'
        when {dropped} and {silent} > {rules['at_risk_after_days']} then 'at_risk'
        else 'active'
    end"""


def score_lifecycle(warehouse: Path, truth: Path) -> LifecycleAgreement:
    """Compare analytics.customer_segments.lifecycle_stage with the true stage of each party's person."""
    from dagster_project.analytics.lifecycle import load_rules

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rules = load_rules(con)
        as_of = con.execute("select max(as_of_date) from analytics.customer_segments").fetchall()[0][0]
        con.execute(f"""
            create temp table scored as
            with person_of_party as ({person_of_party_sql(truth)}),
            truth as (
                select person_id, {true_stage_sql(rules)} as true_stage
                from read_parquet('{truth / "persons.parquet"}')
            )
            select s.party_id, s.lifecycle_stage as predicted, t.true_stage as actual
            from analytics.customer_segments as s
            join person_of_party as pp on pp.party_id = s.party_id
            join truth as t on t.person_id = pp.person_id
        """, {"as_of": as_of})
        confusion = con.execute("select actual, predicted, count(*) from scored group by all order by all").fetchall()
    stages = {}
    for stage in STAGES:
        predicted = sum(n for _, p, n in confusion if p == stage)
        true = sum(n for t, _, n in confusion if t == stage)
        agreed = sum(n for t, p, n in confusion if t == stage and p == stage)
        stages[stage] = StageScore(stage, predicted, true, agreed)
    parties = sum(n for _, _, n in confusion)
    agreed = sum(n for t, p, n in confusion if t == p)
    return LifecycleAgreement(as_of=as_of, parties=parties, agreed=agreed, stages=stages, confusion=confusion)
