"""A run reads only landing files it has not hashed in their present state (ingest/file_hashes.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dagster_project.ingest import ingest_entity
from dagster_project.sources import get_entity

VISITS = get_entity("branch", "visits")
HEADER = "visit_id;account_number;branch_code;visit_ts;purpose;outcome\n"


def _write(landing: Path, name: str, lines: list[str]) -> Path:
    path = landing / "branch" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Names of the landing files the loader read, in order."""
    seen: list[str] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        seen.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    return seen


def _visit_ids(con) -> list[str]:
    return [r[0] for r in con.execute("select visit_id from raw.branch__visits order by visit_id").fetchall()]


def test_a_second_run_reads_only_the_new_file(con, tmp_path, reads):
    landing = tmp_path / "landing"
    first = _write(landing, "visits_20250201.csv", ["V1;AC1;B01;01/02/2025 09:30;enquiry;served"])
    _write(landing, "visits_20250202.csv", ["V2;AC2;B01;02/02/2025 09:30;enquiry;served"])
    assert ingest_entity(con, VISITS, landing).files_loaded == 2
    assert reads == ["visits_20250201.csv", "visits_20250202.csv"]
    remembered = con.execute("select source_file, source, entity, file_size, file_sha256 "
                             "from raw.landing_file_hashes order by 1").fetchall()
    assert remembered[0] == ("branch/visits_20250201.csv", "branch", "visits", first.stat().st_size,
                             hashlib.sha256(first.read_bytes()).hexdigest())
    assert len(remembered) == 2

    reads.clear()
    _write(landing, "visits_20250203.csv", ["V3;AC3;B01;03/02/2025 09:30;enquiry;served"])
    again = ingest_entity(con, VISITS, landing)
    assert reads == ["visits_20250203.csv"]  # the two known files were not read
    assert (again.files_loaded, again.files_skipped) == (1, 2)
    assert _visit_ids(con) == ["V1", "V2", "V3"]
    assert con.execute("select count(*) from raw.landing_file_hashes").fetchall() == [(3,)]


def test_content_rewritten_with_the_same_size_and_mtime_is_read_and_loaded(con, tmp_path, reads):
    landing = tmp_path / "landing"
    path = _write(landing, "visits_20250201.csv", ["V1;AC1;B01;01/02/2025 09:30;enquiry;served"])
    ingest_entity(con, VISITS, landing)
    before = path.stat()
    _write(landing, "visits_20250201.csv", ["V9;AC9;B01;01/02/2025 09:30;enquiry;served"])  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back, as `touch -r` would
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    reads.clear()
    result = ingest_entity(con, VISITS, landing)
    assert reads == ["visits_20250201.csv"]  # its ctime moved: read again
    assert result.files_loaded == 1
    assert _visit_ids(con) == ["V1", "V9"]


def test_a_known_file_whose_load_failed_is_read_again(con, tmp_path, reads):
    landing = tmp_path / "landing"
    path = _write(landing, "visits_20250201.csv", ["V1;AC1;B01;01/02/2025 09:30;enquiry;served"])
    ingest_entity(con, VISITS, landing)
    # as the loader leaves a file whose line accounting broke: retried on every run
    con.execute("update raw.file_ledger set status = 'failed'")
    con.execute("delete from raw.branch__visits")
    reads.clear()
    result = ingest_entity(con, VISITS, landing)
    assert reads == [path.name]
    assert result.files_loaded == 1
    assert _visit_ids(con) == ["V1"]


def test_re_delivered_content_under_a_new_name_is_read_and_skipped(con, tmp_path, reads):
    landing = tmp_path / "landing"
    line = ["V1;AC1;B01;01/02/2025 09:30;enquiry;served"]
    _write(landing, "visits_20250201.csv", line)
    ingest_entity(con, VISITS, landing)
    _write(landing, "visits_20250201_resent.csv", line)
    reads.clear()
    result = ingest_entity(con, VISITS, landing)
    assert reads == ["visits_20250201_resent.csv"]
    assert (result.files_loaded, result.skipped) == (0, ["branch/visits_20250201.csv", "branch/visits_20250201_resent.csv"])
    assert _visit_ids(con) == ["V1"]
