"""How well identity resolution found the sample world's true people (tests and benchmarks only).

Pairwise measures over the party records the truth knows (``record_map``): a pair of records
is predicted linked when they share a party_id and truly linked when they share a person_id.
Precision = true links found / links made; recall = true links found / true links. Counting
pairs within groups (n·(n-1)/2) keeps this exact without listing a million pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class PairScore:
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


@dataclass(frozen=True)
class IdentityScore:
    overall: PairScore
    by_source_pair: dict[tuple[str, str], PairScore]
    true_people: int
    individual_parties: int

    @property
    def person_count_error(self) -> float:
        """Relative error of the distinct-person count: (parties − people) / people."""
        return (self.individual_parties - self.true_people) / self.true_people


def score_identity(con: duckdb.DuckDBPyConnection, truth_dir: Path, schema: str = "integration") -> IdentityScore:
    """Compare ``party_xref`` with the truth's record → person map."""
    con.execute(f"""
        create or replace temp table _scored_records as
        select x.source_system as source, x.party_id, t.person_id
        from {schema}.party_xref x
        join read_parquet('{truth_dir / "record_map.parquet"}') t
          on t.source = x.source_system and t.entity = x.source_entity and t.record_key = x.source_key
    """)
    overall = _pair_score(con, "select party_id, person_id, source from _scored_records")
    sources = [r[0] for r in con.execute("select distinct source from _scored_records order by 1").fetchall()]
    by_pair = {}
    for i, left in enumerate(sources):
        for right in sources[i:]:
            by_pair[(left, right)] = _cross_source_score(con, left, right)
    true_people = con.execute(f"select count(distinct person_id) from read_parquet('{truth_dir / 'persons.parquet'}')").fetchall()[0][0]
    parties = con.execute(f"select count(distinct party_id) from {schema}.party_xref where party_type = 'individual'").fetchall()[0][0]
    return IdentityScore(overall=overall, by_source_pair=by_pair, true_people=true_people, individual_parties=parties)


def _pair_score(con: duckdb.DuckDBPyConnection, records_sql: str) -> PairScore:
    predicted, true, correct = con.execute(f"""
        with r as ({records_sql}),
        by_party as (select count(*) as n from r group by party_id),
        by_person as (select count(*) as n from r group by person_id),
        by_both as (select count(*) as n from r group by party_id, person_id)
        select (select coalesce(sum(n * (n - 1) / 2), 0) from by_party),
               (select coalesce(sum(n * (n - 1) / 2), 0) from by_person),
               (select coalesce(sum(n * (n - 1) / 2), 0) from by_both)
    """).fetchall()[0]
    return PairScore(int(predicted), int(true), int(correct))


def _cross_source_score(con: duckdb.DuckDBPyConnection, left: str, right: str) -> PairScore:
    """Pairs with one record from each source (or both from one source, when left = right)."""
    if left == right:
        return _pair_score(con, f"select * from _scored_records where source = '{left}'")
    return PairScore(*_cross_counts(con, left, right))


def _cross_counts(con: duckdb.DuckDBPyConnection, left: str, right: str) -> tuple[int, int, int]:
    def count(key: str) -> int:
        return int(con.execute(f"""
            select coalesce(sum(l * r), 0) from (
                select count(*) filter (where source = '{left}') as l, count(*) filter (where source = '{right}') as r
                from _scored_records where source in ('{left}', '{right}') group by {key}
            )
        """).fetchall()[0][0])
    return count("party_id"), count("person_id"), count("party_id, person_id")
