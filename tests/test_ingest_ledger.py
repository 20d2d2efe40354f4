"""Ledger semantics: re-delivery no-op, reconciliation, atomic files, failed-file retry."""

from __future__ import annotations

import pytest

from dagster_project.ingest import IngestError, ingest_entity
from dagster_project.ingest import loader
from dagster_project.sources import get_entity

E = get_entity("collections", "events")
HEADER = ",".join(E.column_names)


def line(i: int) -> str:
    return f"CE{i},AC{i},late_fee,{i}.50,2025-01-01,2025-01-0{i % 9 + 1},{i}"


def write(landing, name, lines):
    path = landing / "collections" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def count(con, table):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_redelivery_same_and_other_name_is_noop(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "events_20250101.csv", [line(1), line(2)])
    first = ingest_entity(con, E, landing)
    assert (first.files_loaded, first.rows_loaded, first.files_skipped) == (1, 2, 0)
    again = ingest_entity(con, E, landing)
    assert (again.files_loaded, again.rows_loaded, again.skipped) == (0, 0, ["collections/events_20250101.csv"])
    write(landing, "events_20250101_resent.csv", [line(1), line(2)])  # same bytes, new name
    renamed = ingest_entity(con, E, landing)
    assert (renamed.files_loaded, renamed.files_skipped) == (0, 2)
    assert count(con, "raw.collections__events") == 2
    assert count(con, "raw.file_ledger") == 1


def test_identical_files_in_one_batch_load_once_in_name_order(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "events_20250102.csv", [line(3)])
    write(landing, "events_20250101_b.csv", [line(1)])
    write(landing, "events_20250101_a.csv", [line(1)])
    res = ingest_entity(con, E, landing)
    assert [f.source_file for f in res.files] == ["collections/events_20250101_a.csv",
                                                  "collections/events_20250102.csv"]
    assert res.skipped == ["collections/events_20250101_b.csv"]


def test_ledger_reconciles_lines(con, tmp_path):
    landing = tmp_path / "landing"
    write(landing, "events_20250101.csv", [line(1), "broken,line", "", line(2), line(3) + ",x"])
    write(landing, "events_20250102.csv", [line(4)])
    ingest_entity(con, E, landing)
    ledger = con.execute("SELECT source_file, data_lines, blank_lines, rows_loaded, rows_rejected "
                         "FROM raw.file_ledger ORDER BY source_file").fetchall()
    assert ledger == [("collections/events_20250101.csv", 4, 1, 2, 2),
                      ("collections/events_20250102.csv", 1, 0, 1, 0)]
    per_file = con.execute("""
        SELECT l.source_file, l.data_lines,
               (SELECT count(*) FROM raw.collections__events r WHERE r._file_sha256 = l.file_sha256),
               (SELECT count(*) FROM raw.rejects j WHERE j.file_sha256 = l.file_sha256)
        FROM raw.file_ledger l ORDER BY 1""").fetchall()
    assert all(lines == loaded + rejected for _, lines, loaded, rejected in per_file)
    assert con.execute("SELECT _row_number FROM raw.collections__events ORDER BY _source_file, _row_number"
                       ).fetchall() == [(2,), (5,), (2,)]
    assert con.execute("SELECT line_number FROM raw.rejects ORDER BY 1").fetchall() == [(3,), (6,)]


def test_crash_mid_load_leaves_nothing_and_next_run_loads(con, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    write(landing, "events_20250101.csv", [line(1), "bad"])

    def boom(_con):
        raise RuntimeError("simulated crash after raw rows and rejects were inserted")

    monkeypatch.setattr(loader, "_insert_ledger", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_entity(con, E, landing)
    assert (count(con, "raw.collections__events"), count(con, "raw.rejects"), count(con, "raw.file_ledger")) \
        == (0, 0, 0)
    monkeypatch.undo()
    res = ingest_entity(con, E, landing)
    assert (res.files_loaded, res.rows_loaded, res.rows_rejected) == (1, 1, 1)
    assert (count(con, "raw.collections__events"), count(con, "raw.rejects"), count(con, "raw.file_ledger")) \
        == (1, 1, 1)


def test_accounting_mismatch_raises_names_file_and_is_retried(con, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    write(landing, "events_20250101.csv", [line(1), line(2)])
    write(landing, "events_20250102.csv", [line(3)])
    real = loader._staged_counts

    def lose_a_row(c):
        counts = real(c)
        fid = min(counts)  # the first file
        counts[fid] = (counts[fid][0] - 1, counts[fid][1])
        return counts

    monkeypatch.setattr(loader, "_staged_counts", lose_a_row)
    with pytest.raises(IngestError, match=r"collections/events_20250101\.csv: line accounting mismatch: "
                                          r"2 data lines but 1 rows loaded \+ 0 rejected"):
        ingest_entity(con, E, landing)
    # The other file is committed; the broken one is recorded as failed with no rows.
    assert con.execute("SELECT source_file, status, rows_loaded FROM raw.file_ledger ORDER BY 1").fetchall() == [
        ("collections/events_20250101.csv", "failed", 0), ("collections/events_20250102.csv", "loaded", 1)]
    assert count(con, "raw.collections__events") == 1
    monkeypatch.undo()
    res = ingest_entity(con, E, landing)  # 'failed' is retried
    assert (res.files_loaded, res.rows_loaded, res.files_skipped) == (1, 2, 1)
    assert con.execute("SELECT status FROM raw.file_ledger ORDER BY source_file").fetchall() == [
        ("loaded",), ("loaded",)]


def test_many_small_files_are_fast(con, tmp_path):
    """~3,000 tiny daily files load in a few seconds (chunked, set-based)."""
    import time

    landing = tmp_path / "landing"
    for i in range(3000):
        write(landing, f"events_2025{i // 28 % 12 + 1:02d}{i % 28 + 1:02d}_{i}.csv", [line(i), line(i + 1)])
    t0 = time.perf_counter()
    res = ingest_entity(con, E, landing)
    elapsed = time.perf_counter() - t0
    assert (res.files_loaded, res.rows_loaded) == (3000, 6000)
    assert elapsed < 20, elapsed
