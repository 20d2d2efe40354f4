"""Faults: a run killed during ingestion, its resumption killed during the dbt build, and a
re-delivered file leave a warehouse equal to a clean run's once the next run completes (the
re-delivered file arrives before the run that resumes the killed ingestion: one chain of runs
checks all three).

Runs go through the real CLI in a subprocess on a small world (the session's `small_world`, whose
clean build is the reference), so a SIGKILL hits the process (and its dbt child) exactly as a
crash would. Tables are compared by row count and a hash
over every column except the load lineage (batch ids and load times, which differ by design).
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from dagster_project.settings import PROJECT_ROOT
from dagster_project.sources import get_entity
from tests.conftest import cli_command, cli_env, run_cli

pytestmark = pytest.mark.e2e

COMPARED_SCHEMAS = ("staging", "integration", "marts")
# when a row was loaded or (refreshed_at, the facts) last written: differs between a resumed and a clean run
LINEAGE_COLUMNS = {"_batch_id", "batch_id", "_loaded_at", "loaded_at", "refreshed_at",
                   "refreshed_through"}  # int_party_touchpoints, int_party_revenue: the newest refreshed_at of the party's rows
def _run_and_kill_at(root: Path, marker: str) -> str:
    """Start a run and SIGKILL its whole process group at the first output line matching ``marker``."""
    proc = subprocess.Popen(cli_command(), env=cli_env(root), cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if re.search(marker, line):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=60)
        proc.stdout.close()
        _wait_until_gone(proc.pid)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-20:])
    return "".join(seen)


def _wait_until_gone(group: int, timeout: float = 60) -> None:
    """Wait until no live process of the process group is left. Why: SIGKILL reaches the run and
    its dbt child when it is sent, but each dies in its own time, one busy in the kernel (writing
    the warehouse) last; until it has, its lock on the warehouse holds and opening the file fails
    (seen once: "Could not set lock on file ... Conflicting lock")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone while being read
            if int(fields[2]) == group and fields[0] != "Z":  # its process group; Z: dead, not yet reaped
                alive.append(stat.parent.name)
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes {alive} of the killed run's group {group} still alive after {timeout} s")


def fingerprints(warehouse: Path) -> dict[str, tuple[int, int]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
                "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
                "join information_schema.tables t using (table_schema, table_name) "
                f"where c.table_schema in {COMPARED_SCHEMAS} and t.table_type = 'BASE TABLE' "
                "order by c.table_schema, c.table_name, c.ordinal_position").fetchall():
            if column not in LINEAGE_COLUMNS:
                columns.setdefault(f'"{schema}"."{table}"', []).append(f'"{column}"')
        return {table: tuple(con.execute(f"select count(*), coalesce(sum(hash({', '.join(cols)})), 0) "
                                         f"from {table}").fetchall()[0])
                for table, cols in columns.items()}


def _count(warehouse: Path, sql: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


@pytest.fixture(scope="module")
def clean(small_world) -> dict:
    """The fingerprints of the session's small world (conftest.py) built clean, in one run of the
    CLI; its landing files are what every test here delivers."""
    prints = fingerprints(small_world / "warehouse.duckdb")
    assert len(prints) > 50 and prints["\"marts\".\"dim_customer\""][0] > 0
    return prints


def _fresh_copy(small_world: Path, tmp_path: Path) -> Path:
    root = tmp_path / "w"
    shutil.copytree(small_world / "landing", root / "landing")
    return root


def test_kills_during_ingestion_and_during_the_dbt_build_then_a_rerun_equals_a_clean_run(small_world, clean, tmp_path):
    """Two crashes in a row, then a run that completes: one chain, so the suite pays for one
    completed run rather than two (each ~80 s); each kill still hits a warehouse in the state a
    crash at that point leaves (the second run's dbt build is the warehouse's first)."""
    root = _fresh_copy(small_world, tmp_path)
    _run_and_kill_at(root, r"file\(s\) loaded")  # the first entity committed, the others not yet
    warehouse = root / "warehouse.duckdb"
    total_files = sum(1 for p in (root / "landing").rglob("*") if p.is_file())
    loaded = _count(warehouse, "select count(*) from raw.file_ledger")
    assert 0 < loaded < total_files
    # Before the resumed run, a file the killed run had committed is delivered again under another
    # name: its content is in the ledger, so it is skipped with its entity's other files and changes
    # nothing (the ledger does not list it).
    with duckdb.connect(str(warehouse), read_only=True) as con:
        committed, source_system, entity = con.execute(
            "select source_file, source, entity from raw.file_ledger where status = 'loaded' "
            "order by source_file desc limit 1").fetchone()
        (entity_files,) = con.execute("select count(*) from raw.file_ledger where source = ? and entity = ?",
                                      [source_system, entity]).fetchone()
    source = root / "landing" / committed
    shutil.copy(source, source.with_name(source.stem + "_again" + source.suffix))
    # The resumed run loads the rest, then is killed in its dbt build. Staging models are tables
    # or (the checked ones) incrementals; either kind counts.
    out = _run_and_kill_at(root, r"\b5 of \d+ OK created sql (table|incremental) model staging\.")
    table = get_entity(source_system, entity).table
    assert f"{table}: 0 file(s) loaded, {entity_files + 1} skipped" in out
    assert _count(warehouse, "select count(*) from raw.file_ledger") == total_files
    assert re.search(r"OK created sql (table|incremental) model staging\.", out)
    result = run_cli(root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _count(warehouse, "select count(*) from raw.file_ledger") == total_files
    assert fingerprints(warehouse) == clean


@pytest.fixture
def mount_point(tmp_path):
    """Mount points unmounted after the test, whatever happens (the tests run as root)."""
    mounted: list[Path] = []

    def mount(*args: str, target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(target)], check=True)
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", str(target)], check=False)


def _summary(result: subprocess.CompletedProcess) -> str:
    return result.stderr[result.stderr.index("Run FAILED"):]


def test_disk_full_gives_a_clear_message(small_world, tmp_path, mount_point):
    disk = mount_point("-t", "tmpfs", "-o", "size=2m", "tmpfs", target=tmp_path / "tiny")
    root = _fresh_copy(small_world, tmp_path)
    result = run_cli(root, "--job", "ingest_new_files", CRM_CIF_WAREHOUSE=str(disk / "warehouse.duckdb"))
    assert result.returncode == 1
    summary = _summary(result)
    assert "No space left on device" in summary
    assert "A disk is full" in summary
    assert "Traceback" not in summary


def test_read_only_landing_folder_loads_everything(small_world, tmp_path, mount_point):
    """Ingestion only reads the landing folder: a read-only one loads like any other."""
    root = tmp_path / "w"
    writable = _fresh_copy(small_world, tmp_path / "src") / "landing"
    landing = mount_point("--bind", str(writable), target=root / "landing")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(landing)], check=True)
    with pytest.raises(OSError):
        (landing / "probe").write_text("x")
    result = run_cli(root, "--job", "ingest_new_files")
    assert result.returncode == 0, result.stderr[-3000:]
    total_files = sum(1 for p in landing.rglob("*") if p.is_file())
    assert _count(root / "warehouse.duckdb", "select count(*) from raw.file_ledger") == total_files
