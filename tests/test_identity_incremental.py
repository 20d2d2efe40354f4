"""A daily run scores only the new and changed records, and ends with exactly the parties of a full
re-resolution with the same model.

Hand-made records and a hand-set model (m, u and term frequencies written below, so the scores
do not depend on training). Run 1 resolves three people; then a batch arrives with a record
that joins an existing party (by the model: same name and birth date, no shared key), one that
bridges two parties (the model ties it to one, an exact phone to the other), one brand new
person, a changed record and a vanished one. The incremental run is compared, table by table,
with a full re-resolution of the same inputs from the same previous state.
"""

import json
import shutil
from datetime import datetime

import duckdb
import pyarrow as pa
import pytest

from dagster_project.full_refresh import FULL_REFRESH_ENV, full_refresh_requested
from dagster_project.identity import pinned_model
from dagster_project.identity.pinned_model import PinnedModel
from dagster_project.identity.probabilistic import TF_COLUMNS, _settings, model_spec, score_candidate_pairs
from dagster_project.identity.resolve import Thresholds, resolve_parties
from dagster_project.identity.scoring_cache import CACHE_TABLES

RUN_AT = datetime(2026, 11, 25, 6, 0)
COLUMNS = "record_id, source_system, source_entity, source_key, party_type, trust_rank, first_name, last_name, " \
          "full_name, date_of_birth, email, phone, postcode"

FIRST_DAY = [
    # Ada: a branch customer and her web login (shared email)
    ("branch:customers:AC1", "branch", "customers", "AC1", "Ada", "Obi", "1980-01-02", "ada.obi@example.com", "+2341", "100001"),
    ("web:users:U1", "web", "users", "U1", "Ada", "Obi", "1980-01-02", "ada.obi@example.com", None, None),
    # Bola: a branch customer
    ("branch:customers:AC2", "branch", "customers", "AC2", "Bola", "Ade", "1975-05-06", "bola@example.net", "+2342", "200002"),
    # Chidi: an app user
    ("mobile:users:M1", "mobile", "users", "M1", "Chidi", "Eze", "1990-09-09", "chidi.eze@example.org", "+2343", None),
    # Dayo: a lead who will vanish from the sources
    ("marketing:leads:L9", "marketing", "leads", "L9", "Dayo", "Ola", "1966-06-16", "dayo@example.com", None, None),
]
NEW_DAY = [
    # joins Ada by the model only: same name and birth date, an email with a typo
    ("marketing:leads:L1", "marketing", "leads", "L1", "Ada", "Obi", "1980-01-02", "ada.obi@exmaple.com", None, None),
    # bridges Bola (model: name, birth date, postcode) and Chidi (exact phone)
    ("web:users:U2", "web", "users", "U2", "Bola", "Ade", "1975-05-06", None, "+2343", "200002"),
    # a brand-new person
    ("web:users:U3", "web", "users", "U3", "Efe", "Uche", "2001-12-12", "efe.uche@example.com", None, None),
]


def _hand_set_model() -> PinnedModel:
    """Exact agreement is strong evidence, fuzzy agreement some, disagreement against."""
    settings = _settings().create_settings_dict(sql_dialect_str="duckdb")
    settings["probability_two_random_records_match"] = 0.001
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            label = level.get("label_for_charts", "")
            m, u = (0.9, 0.001) if label.startswith("Exact") else (0.05, 0.95) if label.startswith("All other") \
                else (0.04, 0.01)
            level["m_probability"], level["u_probability"] = m, u
    term_frequencies = {c: pa.table({c: ["ada", "obi"] if c != "email" else ["bola@example.net"],
                                     f"tf_{c}": [0.002, 0.001] if c != "email" else [0.001]}) for c in TF_COLUMNS}
    return PinnedModel(model_json=settings, term_frequencies=term_frequencies, spec=model_spec())


def _write_inputs(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute("create schema if not exists integration")
    values = pa.table({name: [r[i] for r in rows] for i, name in enumerate(
        ["record_id", "source_system", "source_entity", "source_key", "first_name", "last_name", "date_of_birth",
         "email", "phone", "postcode"])})
    con.register("_rows", values)
    con.execute(f"""
        create or replace table integration.int_party_records as
        select record_id, source_system, source_entity, source_key, 'individual' as party_type, 1 as trust_rank,
               first_name, last_name, first_name || ' ' || last_name as full_name,
               date_of_birth::date as date_of_birth, email, phone, postcode
        from _rows
    """)
    con.execute("""
        create or replace table integration.int_party_identifiers as
        select record_id, 'email' as id_type, email as id_value from _rows where email is not null
        union all select record_id, 'phone', phone from _rows where phone is not null
        union all select record_id, 'source_key', record_id from _rows
    """)
    con.unregister("_rows")


def _run(con: duckdb.DuckDBPyConnection, model_dir, full_refresh: bool = False):
    scored = score_candidate_pairs(con, model_dir=model_dir, full_refresh=full_refresh)
    resolve_parties(con, scored_pairs=scored.pairs, thresholds=Thresholds(), run_id="r", logged_at=RUN_AT)
    return scored


def _changed_day() -> list[tuple]:
    """The new day's inputs: Dayo gone, Chidi's email changed, three new records."""
    chidi = FIRST_DAY[3][:7] + ("chidi@example.org",) + FIRST_DAY[3][8:]
    return FIRST_DAY[:3] + [chidi] + NEW_DAY


@pytest.fixture()
def after_first_day(tmp_path):
    model_dir = tmp_path / "model"
    _hand_set_model().save(model_dir)
    path = tmp_path / "day1.duckdb"
    with duckdb.connect(str(path)) as con:
        _write_inputs(con, FIRST_DAY)
        first = _run(con, model_dir)
        assert (first.mode, first.rescored_records) == ("pinned model", 5)  # no scores to reuse yet
    return path, model_dir


def _table(con, name: str) -> list[tuple]:
    return sorted(con.execute(f"select * from integration.{name}").fetchall(), key=repr)


def test_incremental_day_equals_full_re_resolution(after_first_day, tmp_path):
    day1, model_dir = after_first_day
    incremental, full = tmp_path / "incremental.duckdb", tmp_path / "full.duckdb"
    shutil.copy(day1, incremental)
    shutil.copy(day1, full)
    with duckdb.connect(str(incremental)) as inc, duckdb.connect(str(full)) as ful:
        _write_inputs(inc, _changed_day())
        _write_inputs(ful, _changed_day())
        ful.execute("drop table integration.match_scoring_state")  # no cache: every pair is scored
        scored_inc, scored_full = _run(inc, model_dir), _run(ful, model_dir)
        assert (scored_inc.mode, scored_inc.rescored_records) == ("pinned model", 4)  # 3 new + Chidi changed
        assert scored_full.rescored_records == 7
        for name in ("party_xref", "party_identifiers", "match_review", "party_merge_log", "match_scored_pairs",
                     "match_candidates"):
            assert _table(inc, name) == _table(ful, name), name
        party = dict(inc.execute("select record_id, party_id from integration.party_xref").fetchall())
        rule = dict(inc.execute("select record_id, match_rule from integration.party_xref").fetchall())
        merges = inc.execute("select event, records_moved from integration.party_merge_log").fetchall()
    before = dict(duckdb.connect(str(day1), read_only=True).execute(
        "select record_id, party_id from integration.party_xref").fetchall())
    # the new lead joins Ada's party, kept id, linked by the model
    assert party["marketing:leads:L1"] == party["branch:customers:AC1"] == before["branch:customers:AC1"]
    assert rule["marketing:leads:L1"] == "model:splink"
    # the bridge puts Bola and Chidi in one party; one id lives on, the other is logged as merged
    assert party["web:users:U2"] == party["branch:customers:AC2"] == party["mobile:users:M1"]
    assert party["branch:customers:AC2"] in {before["branch:customers:AC2"], before["mobile:users:M1"]}
    assert merges == [("merge", 1)]
    # the brand-new person is a party of their own; the vanished lead is gone
    assert party["web:users:U3"] not in set(before.values()) | {party[r] for r in party if r != "web:users:U3"}
    assert "marketing:leads:L9" not in party
    assert len(set(party.values())) == 3


def test_a_quiet_day_scores_nothing_and_changes_nothing(after_first_day):
    day1, model_dir = after_first_day
    with duckdb.connect(str(day1)) as con:
        before = {name: _table(con, name) for name in ("party_xref", "match_scored_pairs", "match_review")}
        scored = _run(con, model_dir)
        assert scored.rescored_records == 0
        assert {name: _table(con, name) for name in before} == before


def test_full_refresh_retrains_and_rescores_everything(after_first_day, monkeypatch):
    """A full refresh replaces the pinned model (here: with one trained on the data) and rescores all records."""
    day1, model_dir = after_first_day
    trained = _hand_set_model()
    calls = []

    def fake_train(records, **_):
        calls.append(records.num_rows)
        return trained

    monkeypatch.setattr("dagster_project.identity.probabilistic.train_model", fake_train)
    monkeypatch.setenv(FULL_REFRESH_ENV, "1")
    with duckdb.connect(str(day1)) as con:
        scored = _run(con, model_dir, full_refresh=full_refresh_requested(day1, {}))
        state = con.execute("select model_id from integration.match_scoring_state").fetchall()
    assert calls == [5] and scored.mode == "trained" and scored.rescored_records == 5
    assert state == [(trained.model_id,)]
    assert set(CACHE_TABLES) == {"match_candidates", "match_scored_pairs", "match_scoring_state"}


def test_a_model_for_another_specification_is_not_reused(tmp_path):
    model = _hand_set_model()
    model.save(tmp_path)
    assert pinned_model.load_pinned_model(tmp_path, model.spec, list(TF_COLUMNS)) is not None
    assert pinned_model.load_pinned_model(tmp_path, "another-spec", list(TF_COLUMNS)) is None


def test_the_pinned_term_frequencies_are_findable_by_erasure_and_a_missing_one_retrains(tmp_path):
    """The term-frequency files hold people's values in plain bytes (erasure searches files byte by byte
    and deletes those holding a person's values); without one of them the model is not reused."""
    model = _hand_set_model()
    model.save(tmp_path)
    assert b"bola@example.net" in (tmp_path / "tf_email.parquet").read_bytes()
    (tmp_path / "tf_email.parquet").unlink()
    assert pinned_model.load_pinned_model(tmp_path, model.spec, list(TF_COLUMNS)) is None


def test_the_model_id_ignores_last_bit_noise_of_training():
    """Two trainings on the same data differ in the last bits (EM's parallel sums): same model id."""
    model = _hand_set_model()
    noisy = json.loads(json.dumps(model.model_json))
    level = noisy["comparisons"][0]["comparison_levels"][1]
    level["m_probability"] = level["m_probability"] * (1 + 1e-14)
    assert PinnedModel(noisy, model.term_frequencies, model.spec).model_id == model.model_id
    level["m_probability"] = 0.5
    assert PinnedModel(noisy, model.term_frequencies, model.spec).model_id != model.model_id


def test_the_saved_model_keeps_its_id_and_an_older_file_computes_it(tmp_path):
    """The id is computed once, when the model is pinned (1.2 s over a million people's term
    frequencies), and read back; a model file written before ids were saved still gets its id."""
    model = _hand_set_model()
    model.save(tmp_path)
    loaded = pinned_model.load_pinned_model(tmp_path, model.spec, list(TF_COLUMNS))
    assert loaded.saved_id == model.computed_id() == loaded.computed_id()
    assert loaded.model_id == model.model_id
    saved = json.loads((tmp_path / pinned_model.MODEL_FILE).read_text())
    del saved["model_id"]
    (tmp_path / pinned_model.MODEL_FILE).write_text(json.dumps(saved))
    older = pinned_model.load_pinned_model(tmp_path, model.spec, list(TF_COLUMNS))
    assert older.saved_id is None and older.model_id == model.model_id


def test_the_cache_is_written_alike_with_or_without_the_staged_fingerprints(after_first_day, tmp_path):
    """write_scoring_cache reuses the fingerprints changed_records staged; on a connection where
    none are staged it hashes the records itself and stores the same snapshot."""
    from dagster_project.identity.probabilistic import CANDIDATES_SQL
    from dagster_project.identity.scoring_cache import changed_records, write_scoring_cache

    day1, model_dir = after_first_day
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(day1, copy)
    model_id = pinned_model.load_pinned_model(model_dir, model_spec(), list(TF_COLUMNS)).model_id
    snapshots = []
    for path, staged in ((day1, True), (copy, False)):
        with duckdb.connect(str(path)) as con:
            _write_inputs(con, _changed_day())
            records = con.sql(CANDIDATES_SQL.format(schema="integration")).to_arrow_table()
            changed = changed_records(con, records, model_id)
            assert changed == {"mobile:users:M1", "marketing:leads:L1", "web:users:U2", "web:users:U3"}
            if not staged:
                con.execute("drop table _candidates_now")
            no_pairs = con.sql("select * from integration.match_scored_pairs limit 0").to_arrow_table()
            write_scoring_cache(con, records, no_pairs, model_id, changed)
            snapshots.append(con.execute("select unique_id, fingerprint from integration.match_candidates "
                                         "order by unique_id").fetchall())
    assert snapshots[0] == snapshots[1]
    assert [row[0] for row in snapshots[0]] == sorted(r[0] for r in _changed_day())
