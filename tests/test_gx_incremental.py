"""GX on the big facts validates the rows past a watermark: new bad rows fail, old rows are not re-read."""

from datetime import datetime, timedelta, timezone

import duckdb

from dagster_project.quality import gx_flags, gx_runner, gx_watermark
from dagster_project.quality.gx_runner import run_suite
from dagster_project.quality.gx_suites import parse_suite


def _suite(watermark=("_loaded_at", "occurred_at")) -> dict:
    exp = lambda kind, **kw: {"type": kind, "kwargs": kw, "severity": "critical"}  # noqa: E731
    return {"name": "marts.events", "expectations": [
        exp("expect_table_row_count_to_be_between", min_value=1),
        exp("expect_column_values_to_not_be_null", column="event_id"),
        exp("expect_column_values_to_be_in_set", column="party_id", value_set={"$PARAMETER": "parties"}),
    ], "meta": {"crm_cif": {"asset_key": ["marts", "events"], "table": "marts.events", "batch": "new_rows",
                            "watermark": list(watermark), "parameters": {"parties": "select party_id from marts.parties"}}}}


def _world(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    con.execute("create table marts.parties as select * from (values ('p1'), ('p2')) t(party_id)")
    con.execute("create table marts.events (event_id varchar, party_id varchar, occurred_at timestamp)")
    con.execute("insert into marts.events values ('e1', 'p1', '2026-01-01 10:00'), ('e2', 'p2', '2026-01-02 10:00')")
    return con


def test_new_bad_row_fails_and_old_rows_are_not_reread(tmp_path):
    con, suite = _world(tmp_path), parse_suite(_suite())
    first = run_suite(con, suite, tmp_path / "docs")
    assert (first.success, first.rows_validated, first.scope) == (True, 2, "table (full validation; watermark occurred_at reset)")
    assert gx_watermark.load(tmp_path / "gx_watermarks", suite).value == "2026-01-02 10:00:00"

    con.execute("insert into marts.events values ('e3', 'p9', '2026-01-03 10:00')")  # orphan party: bad
    second = run_suite(con, suite, tmp_path / "docs")
    assert second.rows_validated == 1 and second.critical_failed
    assert second.scope == "new rows: occurred_at > cast('2026-01-02 10:00:00' as TIMESTAMP)"
    assert second.failed[0]["observed"]["partial_unexpected_list"] == ["p9"]
    # a failed run keeps the watermark, so the bad row is read again next time
    assert gx_watermark.load(tmp_path / "gx_watermarks", suite).value == "2026-01-02 10:00:00"

    con.execute("update marts.events set party_id = 'p1' where event_id = 'e3'")
    con.execute("update marts.events set event_id = null where event_id = 'e1'")  # an old row: not re-read
    third = run_suite(con, suite, tmp_path / "docs")
    assert (third.success, third.rows_validated, third.passed) == (True, 1, 3)
    assert gx_watermark.load(tmp_path / "gx_watermarks", suite).value == "2026-01-03 10:00:00"

    nothing_new = run_suite(con, suite, tmp_path / "docs")
    assert (nothing_new.success, nothing_new.rows_validated) == (True, 0)


def test_full_validation_when_the_suite_changes_or_is_due(tmp_path):
    con, suite = _world(tmp_path), parse_suite(_suite())
    run_suite(con, suite, tmp_path / "docs")
    con.execute("update marts.events set event_id = null where event_id = 'e1'")  # old bad row
    assert run_suite(con, suite, tmp_path / "docs").rows_validated == 0
    edited = parse_suite({**_suite(), "notes": "edited by a steward"})
    full = run_suite(con, edited, tmp_path / "docs")
    assert (full.rows_validated, full.critical_failed) == (2, True)
    state = tmp_path / "gx_watermarks"
    mark = gx_watermark.load(state, suite)
    gx_watermark.save(state, suite, gx_watermark.Watermark(
        gx_watermark.suite_hash(suite), mark.column, mark.value,
        (datetime.now(timezone.utc) - gx_watermark.FULL_EVERY - timedelta(hours=1)).isoformat()))
    assert run_suite(con, suite, tmp_path / "docs").rows_validated == 2


def test_no_watermark_column_validates_the_table(tmp_path):
    con, suite = _world(tmp_path), parse_suite(_suite(watermark=("_loaded_at",)))
    for _ in range(2):
        outcome = run_suite(con, suite, tmp_path / "docs")
        assert (outcome.success, outcome.rows_validated, outcome.scope) == (True, 2, "table")


def test_membership_is_computed_on_the_sample_only(tmp_path, monkeypatch):
    """Over the cap, the reference lookups run on the sampled rows (a subquery), not on every row."""
    con, suite = _world(tmp_path), parse_suite({**_suite(), "meta": {"crm_cif": {
        **_suite()["meta"]["crm_cif"], "batch": "all"}}})
    con.execute("insert into marts.events select 'x' || i, 'p1', timestamp '2026-02-01' from range(50) t(i)")
    monkeypatch.setattr(gx_runner, "MAX_ROWS", 10)
    monkeypatch.setattr(gx_flags, "LARGE_REFERENCE_SET", 1)
    where, sample, rows, kept = gx_runner._batch_filter(con, suite)
    frame = gx_runner.read_batch(con, suite, ["event_id", "party_id", "occurred_at"],
                                 gx_flags.flag_terms(gx_flags.flag_checks(con, suite)),
                                 (where, sample))
    plan = con.execute("explain " + f"select 1 from (select party_id from marts.events{where}{sample}) as batch "
                       "where party_id in (select * from (select party_id from marts.parties))").fetchall()
    assert (rows, kept, len(frame)) == (52, 10, 10)
    assert frame["party_id__in__parties"].tolist() == [True] * 10
    assert "RESERVOIR" in str(plan).upper() or "SAMPLE" in str(plan).upper()


def test_a_sampled_batch_is_the_same_rows_every_run_and_only_new_rows(tmp_path, monkeypatch):
    """Over the cap GX reads exactly MAX_ROWS rows, the same ones each run, all from the batch.

    The sample draws before the WHERE (DuckDB samples the FROM rows), so a batch of new rows over
    the cap must still yield MAX_ROWS of the new rows, none of the old ones.
    """
    con, suite = _world(tmp_path), parse_suite(_suite())
    con.execute("insert into marts.events select 'old' || i, 'p1', timestamp '2026-01-01' from range(3000) t(i)")
    con.execute("insert into marts.events select 'new' || i, 'p2', timestamp '2026-03-01' from range(400) t(i)")
    monkeypatch.setattr(gx_runner, "MAX_ROWS", 100)
    new_rows = " where occurred_at > timestamp '2026-02-01'"
    where, sample, rows, cap = gx_runner._batch_filter(con, suite, new_rows)
    assert (rows, cap) == (400, 100)
    frames = [gx_runner.read_batch(con, suite, ["event_id", "party_id", "occurred_at"], None, (where, sample))
              for _ in range(2)]
    assert [len(f) for f in frames] == [100, 100]
    assert all(f["event_id"].str.startswith("new").all() for f in frames)
    assert sorted(frames[0]["event_id"]) == sorted(frames[1]["event_id"])


def test_next_run_reads_the_suite_afresh_and_stays_incremental(tmp_path):
    """Each Dagster run is a new process that re-reads the suite file: its watermark must still apply.

    GX writes into the suite it is given (meta.great_expectations_version); when that reached the
    suite the hash was taken from, every new process saw "suite changed" and re-validated in full.
    """
    con = _world(tmp_path)
    suite = parse_suite(_suite())
    as_read = gx_watermark.suite_hash(suite)
    first = run_suite(con, suite, tmp_path / "docs")
    assert first.scope == "table (full validation; watermark occurred_at reset)"
    assert gx_watermark.suite_hash(suite) == as_read  # GX left the suite as it was read
    con.execute("insert into marts.events values ('e3', 'p1', '2026-01-03 10:00')")
    next_run = run_suite(con, parse_suite(_suite()), tmp_path / "docs")  # as a new process reads it
    assert (next_run.success, next_run.rows_validated) == (True, 1)
    assert next_run.scope == "new rows: occurred_at > cast('2026-01-02 10:00:00' as TIMESTAMP)"


def test_a_late_row_is_validated_the_day_it_loads(tmp_path):
    """The facts' watermark is their load time first: a row with an old business time loaded
    today is past it, where an occurred_at watermark would skip it until the weekly full run."""
    con = _world(tmp_path)
    con.execute("alter table marts.events add column loaded_at timestamp")
    con.execute("update marts.events set loaded_at = timestamp '2026-01-03 06:00'")
    suite = parse_suite(_suite(watermark=("loaded_at", "_loaded_at", "occurred_at")))
    assert run_suite(con, suite, tmp_path / "docs").success
    con.execute("insert into marts.events values ('e0', 'p9', '2025-12-31 10:00', '2026-01-04 06:00')")  # late, bad
    late = run_suite(con, parse_suite(_suite(watermark=("loaded_at", "_loaded_at", "occurred_at"))), tmp_path / "docs")
    assert (late.rows_validated, late.critical_failed) == (1, True)
    assert late.scope == "new rows: loaded_at > cast('2026-01-03 06:00:00' as TIMESTAMP)"
    assert late.failed[0]["observed"]["partial_unexpected_list"] == ["p9"]


def _raw_suite(**extra) -> dict:
    exp = lambda kind, **kw: {"type": kind, "kwargs": kw, "severity": "critical"}  # noqa: E731
    return {"name": "raw.t", "expectations": [exp("expect_column_values_to_not_be_null", column="id")],
            "meta": {"crm_cif": {"asset_key": ["raw", "t"], "table": "raw.t", "batch": "latest_batch"}}, **extra}


def test_a_raw_batch_is_validated_once(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.t (id varchar, _batch_id varchar, _source_file varchar, _row_number bigint, "
                "_loaded_at timestamp)")
    load = "insert into raw.t values (?, ?, 't.csv', 1, ?)"
    con.execute(load, ["a", "b1", "2026-01-01"])
    con.execute(load, ["b", "b1", "2026-01-01"])
    suite = parse_suite(_raw_suite())
    first = run_suite(con, suite, tmp_path / "docs")
    assert (first.success, first.rows_validated) == (True, 2)

    again = run_suite(con, suite, tmp_path / "docs")  # nothing loaded since: b1 is not read again
    assert (again.success, again.rows_validated, again.scope) == (
        True, 0, "no new batch: the latest (b1) passed in an earlier run")

    con.execute(load, [None, "b2", "2026-01-02"])  # a bad batch: validated, and again until it passes
    for _ in range(2):
        bad = run_suite(con, suite, tmp_path / "docs")
        assert (bad.rows_validated, bad.critical_failed) == (1, True)
    con.execute("update raw.t set id = 'c' where _batch_id = 'b2'")
    assert run_suite(con, suite, tmp_path / "docs").rows_validated == 1
    assert run_suite(con, suite, tmp_path / "docs").rows_validated == 0
    edited = parse_suite(_raw_suite(notes="edited by a steward"))  # an edited suite validates the batch again
    assert run_suite(con, edited, tmp_path / "docs").rows_validated == 1
