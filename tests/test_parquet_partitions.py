"""The Parquet export of a table partitioned by month: one folder per month, only changed months written."""

import hashlib
import json
from datetime import datetime, timedelta

import duckdb
import pytest

from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.parquet_partitions import NULL_PARTITION, partitioned_tables
from dagster_project.serving.policy import load_policy
from dagster_project.serving.publish import publish_copy
from tests.test_serving_incremental import _change, classification, warehouse  # noqa: F401 (fixtures)
from tests.test_serving_publish import SALT, _publish

PAYMENTS = "marts.fct_payments"
BY_MONTH = {PAYMENTS: "occurred_on"}
FOLDER = ("marts", "fct_payments")


def _with_payments(warehouse):
    """Payment i on 2025-01-01 + i days (i < 120: January to April), except i = 7, 47, 87: no date."""
    _change(warehouse, "create table marts.fct_payments as select 'pay' || i as payment_id, 'P' || (i % 3 + 1) as party_id, "
                       "case when i % 40 = 7 then null else date '2025-01-01' + cast(i as integer) end "
                       "as occurred_on, i * 1.5 as amount from range(120) t(i)")


@pytest.fixture
def copy(tmp_path, warehouse, classification):
    """An analyst copy holding the payments."""
    _with_payments(warehouse)
    path = tmp_path / "serving.duckdb"
    _publish(warehouse, path, "analyst", classification)
    return path


def _republish(warehouse, copy, classification, sql):
    _change(warehouse, sql)
    _publish(warehouse, copy, "analyst", classification)


def _stamps(folder):
    return {p.relative_to(folder): (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.rglob("*.parquet")}


def _dataset(folder):
    with duckdb.connect() as con:
        return sorted(con.execute(f"select payment_id, party_id, occurred_on, amount, occurred_on_month "
                                  f"from read_parquet('{folder}/*/*.parquet', hive_partitioning = true)").fetchall(),
                      key=str)


def _expected(copy):
    with duckdb.connect(str(copy), read_only=True) as con:
        return sorted(con.execute("select *, strftime(occurred_on, '%Y-%m') from marts.fct_payments").fetchall(), key=str)


def test_a_partitioned_table_is_one_folder_per_month_that_reads_back_as_the_table(tmp_path, copy):
    out = tmp_path / "parquet"
    manifest = export_parquet(copy, out, partitions=BY_MONTH)
    folder = out.joinpath(*FOLDER)
    assert sorted(p.name for p in folder.iterdir()) == [
        "occurred_on_month=2025-01", "occurred_on_month=2025-02", "occurred_on_month=2025-03",
        "occurred_on_month=2025-04", f"occurred_on_month={NULL_PARTITION}"]
    assert not out.joinpath("marts", "fct_payments.parquet").exists()
    assert _dataset(folder) == _expected(copy)  # every row, the month back as a column, NULL for no date
    entry = next(e for e in manifest["tables"] if e["table"] == "fct_payments")
    assert (entry["file"], entry["rows"], entry["partition_column"]) == ("marts/fct_payments", 120, "occurred_on_month")
    # 31, 28, 31 and 30 days, less the undated i = 7, 47 and 87 in the first three months
    assert {p["partition"]: p["rows"] for p in entry["parts"]} == {"2025-01": 30, "2025-02": 27, "2025-03": 30,
                                                                 "2025-04": 30, None: 3}
    for part in entry["parts"]:
        for f in part["files"]:
            assert hashlib.sha256((out / f["file"]).read_bytes()).hexdigest() == f["sha256"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert not list(out.rglob("*.tmp"))


def test_only_the_months_that_changed_are_written_and_the_export_equals_a_fresh_one(tmp_path, warehouse, classification,
                                                                                    copy):
    out = tmp_path / "parquet"
    export_parquet(copy, out, partitions=BY_MONTH)
    folder = out.joinpath(*FOLDER)
    before = _stamps(folder)

    seconds = {}
    export_parquet(copy, out, seconds, partitions=BY_MONTH)  # nothing changed: nothing written, no scan
    assert _stamps(folder) == before and seconds == {}

    # a new day in March, a corrected February amount (i = 50), the undated payments dated in April
    _republish(warehouse, copy, classification,
               "insert into marts.fct_payments values ('pay_new', 'P1', date '2025-03-31', 9.5); "
               "update marts.fct_payments set amount = 0 where payment_id = 'pay50'; "
               "update marts.fct_payments set occurred_on = date '2025-04-02' where occurred_on is null")
    manifest = export_parquet(copy, out, seconds, partitions=BY_MONTH)
    after = _stamps(folder)
    changed = {str(p.parent) for p in after if before.get(p) != after[p]}
    assert changed == {"occurred_on_month=2025-02", "occurred_on_month=2025-03", "occurred_on_month=2025-04"}
    assert not (folder / f"occurred_on_month={NULL_PARTITION}").exists()  # a month with no rows left is removed
    assert set(seconds) == {PAYMENTS}
    assert _dataset(folder) == _expected(copy)

    fresh = export_parquet(copy, tmp_path / "fresh", partitions=BY_MONTH)
    assert manifest["tables"] == fresh["tables"]  # same parts, rows, sums, files, sha256 as a fresh export


def test_a_deleted_month_file_is_written_again(tmp_path, copy):
    out = tmp_path / "parquet"
    export_parquet(copy, out, partitions=BY_MONTH)
    folder = out.joinpath(*FOLDER)
    before = _stamps(folder)
    gone = next(p for p in before if str(p.parent) == "occurred_on_month=2025-02")
    (folder / gone).unlink()  # e.g. an erasure deleted the file naming the person
    export_parquet(copy, out, partitions=BY_MONTH)
    after = _stamps(folder)
    assert {p for p in after if before.get(p) != after[p]} == {gone}
    assert _dataset(folder) == _expected(copy)


def test_switching_a_table_between_one_file_and_months_leaves_only_the_new_layout(tmp_path, copy):
    out = tmp_path / "parquet"
    export_parquet(copy, out)
    assert out.joinpath("marts", "fct_payments.parquet").is_file()
    export_parquet(copy, out, partitions=BY_MONTH)
    assert not out.joinpath("marts", "fct_payments.parquet").exists()
    assert _dataset(out.joinpath(*FOLDER)) == _expected(copy)
    manifest = export_parquet(copy, out)
    assert not out.joinpath(*FOLDER).exists()
    assert next(e for e in manifest["tables"] if e["table"] == "fct_payments")["file"] == "marts/fct_payments.parquet"


def test_a_crashed_export_leaves_the_old_months_and_the_next_one_cleans_up(tmp_path, warehouse, classification, copy,
                                                                            monkeypatch):
    from dagster_project.serving import parquet_partitions

    out = tmp_path / "parquet"
    export_parquet(copy, out, partitions=BY_MONTH)
    manifest_before = (out / "manifest.json").read_text()
    _republish(warehouse, copy, classification,
               "insert into marts.fct_payments values ('pay_new', 'P1', date '2025-03-31', 9.5)")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(parquet_partitions.pq, "ParquetFile", crash)
    with pytest.raises(OSError):
        export_parquet(copy, out, partitions=BY_MONTH)
    assert (out / "manifest.json").read_text() == manifest_before
    monkeypatch.undo()
    export_parquet(copy, out, partitions=BY_MONTH)
    assert _dataset(out.joinpath(*FOLDER)) == _expected(copy)
    assert not list(out.rglob("*.tmp"))


def test_a_partition_column_that_is_not_a_date_is_a_clear_error(tmp_path, copy):
    with pytest.raises(ValueError, match=r"marts\.fct_payments: export_partition_by names 'amount', which is not a date"):
        export_parquet(copy, tmp_path / "parquet", partitions={PAYMENTS: "amount"})


def test_the_transactions_ask_for_a_monthly_export_in_their_dbt_meta():
    from dagster_project.dbt_assets import dbt_project

    assert partitioned_tables(dbt_project.manifest_path) == {"marts.fct_transactions": "occurred_on"}


@pytest.mark.e2e
def test_the_built_worlds_transactions_are_exported_by_month_with_every_row(built_world):
    table = "fct_transactions"
    folder = built_world.root / "exports" / "parquet" / "marts" / table
    manifest = json.loads((built_world.root / "exports" / "parquet" / "manifest.json").read_text())
    entry = next(e for e in manifest["tables"] if e["table"] == table)
    with duckdb.connect() as con:
        con.execute(f"attach '{built_world.root / 'serving.duckdb'}' as copy (read_only)")
        con.execute(f"create view exported as select * from read_parquet('{folder}/*/*.parquet', hive_partitioning = true)")
        copy_rows, months = con.execute(f"select count(*), count(distinct strftime(occurred_on, '%Y-%m')) "
                                        f"from copy.marts.{table}").fetchall()[0]
        missing = con.execute(f"select count(*) from (select * from copy.marts.{table} except all "
                              "select * exclude (occurred_on_month) from exported)").fetchall()[0][0]
        extra = con.execute(f"select count(*) from (select * exclude (occurred_on_month) from exported except all "
                            f"select * from copy.marts.{table})").fetchall()[0][0]
        misplaced = con.execute("select count(*) from exported where occurred_on_month is distinct from "
                                "strftime(occurred_on, '%Y-%m')").fetchall()[0][0]
    assert (missing, extra, misplaced) == (0, 0, 0)
    assert entry["rows"] == copy_rows > 10_000
    # the built world runs from November 2025 to October 2026: twelve months of activity
    assert len([p for p in entry["parts"] if p["partition"] is not None]) == months == 12


@pytest.mark.e2e
def test_the_months_benchmark_runs_on_a_built_world_and_leaves_it_as_it_was(built_world):
    """Smoke of benchmarks/bench_parquet_months.py with its worst day (no timed assertions): it reads
    the world's analyst copy, reports each fact's rows, and changes nothing in the world."""
    import subprocess
    import sys
    from pathlib import Path

    copy = built_world.root / "serving.duckdb"
    stamp = (copy.stat().st_mtime_ns, copy.stat().st_size)
    before = sorted(p.name for p in built_world.root.iterdir())
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_parquet_months.py"
    run = subprocess.run([sys.executable, str(script), "--world", str(built_world.root), "--every-month"],
                         capture_output=True, text=True, timeout=600)
    print(run.stdout)
    assert run.returncode == 0, run.stderr[-3000:]
    with duckdb.connect(str(copy), read_only=True) as con:
        for table in ("fct_transactions", "fct_interactions"):
            rows = con.execute(f"select count(*) from marts.{table}").fetchall()[0][0]
            assert f"marts.{table}: {rows:,} rows in 12 months" in run.stdout
    assert run.stdout.count("one file ") == run.stdout.count("by month ") == 2
    assert run.stdout.count("a day that changed every month, by month: new day") == 2
    assert (copy.stat().st_mtime_ns, copy.stat().st_size) == stamp
    assert sorted(p.name for p in built_world.root.iterdir()) == before


def test_months_of_a_timestamp_column_split_at_midnight_across_the_new_year(tmp_path):
    """The month bounds of one COPY per month: the last second of December is December's, the first of
    January is January's, and the year rolls over (month 12 is followed by 01 of the next year)."""
    from dagster_project.serving.parquet_partitions import _month_bounds, export_partitioned

    assert _month_bounds("2024-12") == ("2024-12-01", "2025-01-01")
    assert _month_bounds("2025-09") == ("2025-09-01", "2025-10-01")
    path = tmp_path / "copy.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.events as select * from (values "
                    "(1, timestamp '2024-11-30 23:59:59'), (2, timestamp '2024-12-01 00:00:00'), "
                    "(3, timestamp '2024-12-31 23:59:59.999'), (4, timestamp '2025-01-01 00:00:00'), "
                    "(5, timestamp '2025-01-31 12:00:00'), (6, null)) t(event_id, happened_at)")
        entry, written = export_partitioned(con, "marts", "events", "happened_at", tmp_path / "out", None, "f1")
    assert written == 4
    assert {p["partition"]: p["rows"] for p in entry["parts"]} == {"2024-11": 1, "2024-12": 2, "2025-01": 2, None: 1}
    with duckdb.connect() as con:
        back = con.execute(f"select happened_at_month, list(event_id order by event_id) from read_parquet("
                           f"'{tmp_path / 'out' / 'marts' / 'events'}/*/*.parquet', hive_partitioning = true) "
                           "group by all order by all").fetchall()
    assert back == [("2024-11", [1]), ("2024-12", [2, 3]), ("2025-01", [4, 5]), (None, [6])]


def test_a_month_exported_table_is_stored_in_date_order_in_the_copy(tmp_path, warehouse, classification):
    """The copy stores the table in its date column's order (nulls last), so a month's COPY reads only
    that month's row groups; a table without that column is written as it is."""
    from dagster_project.serving.assets import _month_ordered
    from dagster_project.dbt_assets import dbt_project

    assert _month_ordered(dbt_project.manifest_path) == {("marts", "fct_transactions"): "occurred_on"}
    # dates in the warehouse's rows: newest first, with an undated payment in the middle
    _change(warehouse, "create table marts.fct_payments as select 'pay' || i as payment_id, "
                       "case when i = 5 then null else date '2025-03-01' - cast(i as integer) end as occurred_on "
                       "from range(10) t(i)")
    path = tmp_path / "serving.duckdb"
    report = _publish(warehouse, path, "analyst", classification,
                      order_by={("marts", "fct_payments"): "occurred_on", ("marts", "dim_customer"): "occurred_on"})
    assert "marts.fct_payments" in report.rewritten
    with duckdb.connect(str(path), read_only=True) as con:
        stored = [r[0] for r in con.execute("select payment_id from marts.fct_payments order by rowid").fetchall()]
        customers = con.execute("select count(*) from marts.dim_customer").fetchall()[0][0]
    assert stored == ["pay9", "pay8", "pay7", "pay6", "pay4", "pay3", "pay2", "pay1", "pay0", "pay5"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert customers == con.execute("select count(*) from marts.dim_customer").fetchall()[0][0]


SALES = "marts.fct_sales"
SALES_KEYED = {("marts", "fct_sales"): "sale_id"}


def _publish_on(warehouse, copy, classification, day):
    """Publish the analyst copy on ``day`` (days after 2026-01-05), checking keyed tables weekly."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return publish_copy(con, copy, load_policy()["analyst"], classification, SALT, keyed=SALES_KEYED,
                            check_every=timedelta(days=7), now=datetime(2026, 1, 5) + timedelta(days=day),
                            keep_spare=False)


def _month_parts(manifest):
    return {p["partition"]: p for p in next(e for e in manifest["tables"] if e["table"] == "fct_sales")["parts"]}


def test_a_keyed_table_is_exported_by_month_comparing_cursors_until_its_copy_is_checked_again(
        tmp_path, warehouse, classification):
    _change(warehouse, "create table marts.fct_sales as select 's' || i as sale_id, date '2025-01-01' + cast(i as integer) "
                       "as occurred_on, i * 1.0 as amount, timestamp '2025-05-01 06:00:00' as refreshed_at "
                       "from range(120) t(i)")
    copy, out = tmp_path / "serving.duckdb", tmp_path / "parquet"
    by_month = {SALES: "occurred_on"}
    _publish_on(warehouse, copy, classification, 0)
    manifest = export_parquet(copy, out, partitions=by_month)  # the first export compares by sums
    entry = next(e for e in manifest["tables"] if e["table"] == "fct_sales")
    assert entry["checked_through"] == "2026-01-05T00:00:00"
    assert _month_parts(manifest)["2025-02"]["through"] == "2025-05-01 06:00:00"
    folder = out / "marts" / "fct_sales"

    # the next day: a new April sale (new refreshed_at), and a January amount changed in place (old one)
    _change(warehouse, "insert into marts.fct_sales values ('s_new', date '2025-04-20', 5.0, timestamp '2025-05-02 06:00:00'); "
                       "update marts.fct_sales set amount = -1 where sale_id = 's3'")
    _publish_on(warehouse, copy, classification, 1)
    # a forged sum for February: compared by cursor, February is not even looked at by its sum
    forged = json.loads((out / "manifest.json").read_text())
    next(e for e in forged["tables"] if e["table"] == "fct_sales")["parts"][1]["hash_sum"] = "0"
    (out / "manifest.json").write_text(json.dumps(forged))
    before = _stamps(folder)
    manifest = export_parquet(copy, out, partitions=by_month)
    after = _stamps(folder)
    assert {str(p.parent) for p in after if before.get(p) != after[p]} == {"occurred_on_month=2025-04"}
    parts = _month_parts(manifest)
    assert parts["2025-04"]["through"] == "2025-05-02 06:00:00" and parts["2025-02"]["hash_sum"] == "0"
    with duckdb.connect() as con:  # the April sum is that of its rows, computed for the month written
        april = con.execute(f"select sum(cast(hash(sale_id, occurred_on, amount, refreshed_at) as hugeint)) from "
                            f"read_parquet('{folder}/occurred_on_month=2025-04/*.parquet')").fetchall()[0][0]
    assert parts["2025-04"]["hash_sum"] == str(april)

    # a week on, the copy is checked: the in-place change is repaired, and the export compares sums again:
    # January (the repaired amount) and February (the forged sum) are written, March and April kept
    report = _publish_on(warehouse, copy, classification, 7)
    assert report.repaired == [SALES]
    before = _stamps(folder)
    manifest = export_parquet(copy, out, partitions=by_month)
    after = _stamps(folder)
    assert {str(p.parent) for p in after if before.get(p) != after[p]} == {"occurred_on_month=2025-01",
                                                                          "occurred_on_month=2025-02"}
    assert next(e for e in manifest["tables"] if e["table"] == "fct_sales")["checked_through"] == "2026-01-12T00:00:00"
    with duckdb.connect() as con:
        exported = sorted(con.execute(f"select sale_id, occurred_on, amount, refreshed_at from "
                                      f"read_parquet('{folder}/*/*.parquet', hive_partitioning = true)").fetchall())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert exported == sorted(con.execute("select * from marts.fct_sales").fetchall())
