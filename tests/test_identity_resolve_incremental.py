"""A daily resolve that clusters only what the day touched gives exactly what a full resolve gives."""

import random
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dagster_project.identity import resolve_scope
from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER
from dagster_project.identity.resolve import SCORED_PAIRS_SCHEMA, Thresholds, resolve_parties
from dagster_project.identity.review import record_decision

OUTPUTS = ("party_xref", "party_identifiers", "match_review", "party_merge_log") + resolve_scope.STATE_TABLES
SWITCHBOARD = ("phone", "+2340000000000")  # a placeholder line carried by about the cap's number of records
TYPES = ["individual"] * 8 + ["unidentified"] * 2 + ["organisation"]


class World:
    """Records, their identifiers, the model's scored pairs and people's decisions, changed day by day."""

    def __init__(self, seed: int, decisions: Path):
        self.rng = random.Random(seed)
        self.decisions = decisions
        self.next_key = 0
        self.records: dict[str, str] = {}  # record_id -> party_type
        self.identifiers: dict[str, set[tuple[str, str]]] = {}
        self.pairs: dict[tuple[str, str], float] = {}
        for _ in range(70):
            self.add_record()
        for record in self.rng.sample(sorted(self.records), MAX_RECORDS_PER_IDENTIFIER):
            self.identifiers[record].add(SWITCHBOARD)
        for _ in range(30):
            self.set_pair()

    def pool_identifier(self) -> tuple[str, str]:
        kind = self.rng.choice(["email", "phone", "account_number"])
        return kind, f"{kind}-{self.rng.randrange(45)}"

    def add_record(self) -> None:
        record = f"src:entity:K{self.next_key:04d}"
        self.next_key += 1
        self.records[record] = self.rng.choice(TYPES)
        self.identifiers[record] = {("source_key", record)} | {self.pool_identifier()
                                                                for _ in range(self.rng.randint(0, 2))}

    def set_pair(self) -> None:
        left, right = self.rng.sample(sorted(self.records), 2)
        self.pairs[(left, right)] = self.rng.choice([0.99, 0.97, 0.96, 0.8, 0.6])

    def decide(self, day: int) -> None:
        """Mostly "not the same" on two records sharing an identifier: a cut inside a component."""
        carriers: dict[tuple[str, str], list[str]] = {}
        for record in sorted(self.records):
            for identifier in sorted(self.identifiers[record] - {SWITCHBOARD}):
                carriers.setdefault(identifier, []).append(record)
        shared = [records for _, records in sorted(carriers.items()) if len(records) > 1]
        left, right = self.rng.sample(self.rng.choice(shared), 2)
        record_decision(self.decisions, left, right, self.rng.choice(["link", "no_link", "no_link"]), "tester",
                        decided_at=datetime(2026, 1, 1 + day))

    def next_day(self, day: int) -> None:
        rng = self.rng
        for record in rng.sample(sorted(self.records), 2):  # two records leave the sources
            del self.records[record], self.identifiers[record]
        for _ in range(3):
            self.add_record()
        for record in rng.sample(sorted(self.records), 3):  # an identifier changes
            gone = rng.choice(sorted(self.identifiers[record]))
            self.identifiers[record] = (self.identifiers[record] - {gone}) | {self.pool_identifier()}
        carriers = [r for r in sorted(self.records) if SWITCHBOARD in self.identifiers[r]]
        if len(carriers) > MAX_RECORDS_PER_IDENTIFIER or rng.random() < 0.5:  # across the cap and back
            self.identifiers[rng.choice(carriers)].discard(SWITCHBOARD)
        else:
            self.identifiers[rng.choice([r for r in sorted(self.records) if r not in carriers])].add(SWITCHBOARD)
        self.records[rng.choice(sorted(self.records))] = rng.choice(TYPES)
        for _ in range(3):
            self.set_pair()
        self.pairs.pop(rng.choice(sorted(self.pairs)))
        if day % 2:
            self.decide(day)

    def write(self, con: duckdb.DuckDBPyConnection) -> pa.Table:
        """Write the dbt inputs into ``con``; return the scored pairs (records still present)."""
        con.execute("create schema if not exists integration")
        ids = sorted(self.records)
        con.register("_records", pa.table({"record_id": ids, "party_type": [self.records[r] for r in ids]}))
        con.execute("""
            create or replace table integration.int_party_records as
            select record_id, split_part(record_id, ':', 1) as source_system, split_part(record_id, ':', 2)
                   as source_entity, split_part(record_id, ':', 3) as source_key, party_type, 1 as trust_rank,
                   'Name ' || record_id as full_name, null::date as date_of_birth, null::varchar as email,
                   null::varchar as phone, null::varchar as postcode
            from _records
        """)
        rows = sorted((r, t, v) for r in ids for t, v in self.identifiers[r])
        con.register("_identifiers", pa.table({"record_id": [r[0] for r in rows], "id_type": [r[1] for r in rows],
                                               "id_value": [r[2] for r in rows]}))
        con.execute("create or replace table integration.int_party_identifiers as select * from _identifiers")
        for name in ("_records", "_identifiers"):
            con.unregister(name)
        pairs = sorted((lr, p) for lr, p in self.pairs.items() if lr[0] in self.records and lr[1] in self.records)
        return pa.table({"record_id_l": [lr[0] for lr, _ in pairs], "record_id_r": [lr[1] for lr, _ in pairs],
                         "match_weight": [p * 10 for _, p in pairs], "match_probability": [p for _, p in pairs]},
                        schema=SCORED_PAIRS_SCHEMA)


def _resolve(con, world: World, day: int, full: bool):
    return resolve_parties(con, scored_pairs=world.write(con), decisions_path=world.decisions, full=full,
                           run_id=f"day{day}", logged_at=datetime(2026, 2, 1 + day), thresholds=Thresholds())


def _tables(con) -> dict[str, list[tuple]]:
    return {name: sorted(con.execute(f"select * from integration.{name}").fetchall(), key=repr) for name in OUTPUTS}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_by_day_incremental_equals_full(seed, tmp_path, monkeypatch):
    monkeypatch.setattr(resolve_scope, "FULL_ABOVE", 1.0)  # a small world: never fall back for the scope's size
    world = World(seed, tmp_path / "decisions.csv")
    inc, full = duckdb.connect(), duckdb.connect()
    modes, resolved, moved = [], [], 0
    for day in range(12):
        if day:
            world.next_day(day)
        stats_inc, stats_full = _resolve(inc, world, day, full=False), _resolve(full, world, day, full=True)
        assert _tables(inc) == _tables(full), f"seed {seed}, day {day}"
        keep = {"mode": "-", "resolved_records": 0}
        assert stats_inc.__dict__ | keep == stats_full.__dict__ | keep
        modes.append(stats_inc.mode)
        resolved.append(stats_inc.resolved_records / stats_inc.records)
        moved += stats_inc.ids["merges"] + stats_inc.ids["splits"]
    assert modes == ["full"] + ["incremental"] * 11  # the first run has no state to start from
    assert max(resolved[1:]) < 1.0  # every later day left some parties alone
    assert moved > 0  # parties merged and split along the way
    assert len(world.decisions.read_text().splitlines()) > 3  # the header and the decisions of odd days


@pytest.fixture()
def two_people(tmp_path):
    """Ada (three records sharing an email or a phone) and Bola (two records sharing an email), resolved once."""
    world = World(0, tmp_path / "decisions.csv")
    world.records = {"src:e:A1": "individual", "src:e:A2": "individual", "src:e:A3": "individual",
                     "src:e:B1": "individual", "src:e:B2": "individual"}
    world.identifiers = {"src:e:A1": {("email", "ada")}, "src:e:A2": {("email", "ada"), ("phone", "1")},
                         "src:e:A3": {("phone", "1")}, "src:e:B1": {("email", "bola")},
                         "src:e:B2": {("email", "bola")}}
    world.pairs = {}
    con = duckdb.connect()
    assert _resolve(con, world, 0, full=False).mode == "full"
    yield con, world
    con.close()


def _party(con) -> dict[str, str]:
    return dict(con.execute("select record_id, party_id from integration.party_xref").fetchall())


def test_a_changed_record_re_resolves_its_party_only(two_people):
    con, world = two_people
    before = _party(con)
    world.identifiers["src:e:B2"] = {("email", "bola2")}  # Bola's second record splits off
    stats = _resolve(con, world, 1, full=False)
    assert (stats.mode, stats.resolved_records) == ("incremental", 2)  # Bola's two records, not Ada's three
    after = _party(con)
    assert {r: after[r] for r in before if r.startswith("src:e:A")} == \
        {r: before[r] for r in before if r.startswith("src:e:A")}
    assert after["src:e:B1"] == before["src:e:B1"] != after["src:e:B2"]
    assert stats.ids == {"kept": 2, "new": 1, "merges": 0, "splits": 1}


def test_a_quiet_day_clusters_nothing(two_people):
    con, world = two_people
    before = _tables(con)
    stats = _resolve(con, world, 1, full=False)
    assert (stats.mode, stats.resolved_records, stats.parties) == ("incremental", 0, 2)
    assert _tables(con)["party_xref"] == before["party_xref"]


def test_a_decision_re_resolves_both_parties(two_people, monkeypatch):
    monkeypatch.setattr(resolve_scope, "FULL_ABOVE", 1.0)
    con, world = two_people
    record_decision(world.decisions, "src:e:A3", "src:e:B1", "link", "tester")
    stats = _resolve(con, world, 1, full=False)
    assert (stats.mode, stats.resolved_records, stats.parties) == ("incremental", 5, 1)
    assert stats.ids["merges"] == 1


def test_state_in_doubt_resolves_everything(two_people):
    con, world = two_people
    con.execute("delete from integration.party_xref where record_id = 'src:e:B2'")  # as an erasure does
    assert _resolve(con, world, 1, full=False).mode == "full"
    assert _resolve(con, world, 2, full=False).mode == "incremental"
    stats = resolve_parties(con, scored_pairs=world.write(con), thresholds=Thresholds(link=0.9))
    assert stats.mode == "full"  # another link threshold: the stored model links mean something else


def test_a_scope_over_half_the_records_resolves_everything(two_people):
    con, world = two_people
    world.identifiers["src:e:A3"] = {("phone", "2")}  # Ada's three records of five: over half
    assert _resolve(con, world, 1, full=False).mode == "full"


def test_a_run_that_crashes_midway_leaves_no_state_to_trust(two_people, monkeypatch):
    con, world = two_people
    world.identifiers["src:e:B2"] = {("email", "bola2")}

    def crash(*_, **__):
        raise RuntimeError("killed")

    monkeypatch.setattr("dagster_project.identity.resolve.write_review_queue", crash)
    with pytest.raises(RuntimeError):
        _resolve(con, world, 1, full=False)  # party_xref is patched, the state is not
    monkeypatch.undo()
    world.identifiers["src:e:B2"] = {("email", "bola")}  # and the day's change is taken back
    assert _resolve(con, world, 2, full=False).mode == "full"
    reference = duckdb.connect()
    _resolve(reference, world, 0, full=True)
    assert _party(con) == _party(reference)
