"""Day by day: a warehouse fed one daily delivery at a time equals one rebuilt from every file in one go,
and a change dated last month that arrives today corrects the past.

The sample world (1,000 people over five months, so the CLV model has a calibration
period and a 90-day holdout) is delivered into an empty landing folder: first every file up to
``DAILY_DAYS`` days before the end in one backlog delivery, then one business day at a time
(files are named ``<entity>_<YYYYMMDD>...``; the generator already delivers ~2% of rows 1-5 days
late, and they stay late). The pipeline runs after each delivery. A second warehouse is built
from all files in one run. Every table and view of every schema (raw, staging, integration,
history, marts, metrics, analytics, reference) is then compared: same relations, same columns,
same rows (EXCEPT ALL both ways), after

- excluding load-time columns (tests/warehouse_compare.py, ``LOAD_TIME_COLUMNS``): ``_loaded_at``
  and ``loaded_at`` (when a line / version was loaded: each day's files load in their own run),
  ``_batch_id`` and ``batch_id`` (the loading run's id), any ``*_loaded_at`` (a history model's
  delivery load time) and ``raw.unmatched_files.first_seen_at`` (when a stray file was first seen);
- mapping party ids to a run-independent key (smallest record_id of the party; a household by
  its smallest member), since a later cluster inherits its predecessor's id by design;
- the per-run tables in ``PER_RUN_TABLES``, which record each run by design.

Both builds score identity pairs with the same Splink model: the day-by-day build trains it on its
first (backlog) run and pins it in ``<data_dir>/identity/model``; the one-go build is given that
model, as a rebuild of the warehouse keeps it (it lives outside the warehouse, like people's match
decisions; only a full refresh retrains). Later days score only the pairs of new or changed records.
Likewise the CLV fit (``<data_dir>/analytics/clv_fit.json``, fitted on the first run and current for
a week): both builds score every customer with it.

Each run materializes the project's warehouse assets in-process (ingest, dbt staging, identity,
dbt marts with history, the analytics assets with the CLV fit, the analytics marts): the assets
of `crm-cif run` without the asset checks and the serving copies (they write nothing into the
warehouse) and with dbt's tests off (``DBT_EXCLUDE_RESOURCE_TYPES``: tests only read; the
end-to-end test runs them). A full `crm-cif run` per day would cost ~2 min on this machine.
Measured: the module takes ~5.5 min of wall time on the shared 2-core machine under load (2.8 min CPU):
four runs of 60-120 s (the first parses dbt) and a 3-second comparison.
"""

import csv
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest.discovery import discover
from dagster_project.sources import ENTITIES, SOURCES
from tests.conftest import _point_settings_at
from tests.warehouse_compare import PerRunTable, compare_warehouses

pytestmark = pytest.mark.e2e

PEOPLE = 1000
WORLD_START, WORLD_END = date(2026, 5, 1), date(2026, 9, 30)
DAILY_DAYS = 2  # the last days of the world, delivered and run one at a time after the backlog
LATE_BY_DAYS = 30  # the hand-made correction is dated this many days before the last delivery

PER_RUN_TABLES = {
    ("integration", "party_merge_log"): PerRunTable(
        "log of party-id merges and splits between consecutive runs; a one-go build has no previous run"),
    ("marts", "segment_migration"): PerRunTable(
        "moves between consecutive run dates of the segment assets; a one-go build has one run date"),
    ("analytics", "segment_membership_changes"): PerRunTable(
        "changes between consecutive run dates (a one-go build has one run date, where every membership enters): "
        "compared on what the latest run date holds, each key's latest change unless a leave",
        final_snapshot="t.segment is not null and t.as_of_date = (select max(c.as_of_date) from {rel} as c "
                       "where c.party_id = t.party_id and c.segment_type = t.segment_type)",
        drop_columns=("as_of_date",)),
    ("analytics", "segment_membership_runs"): PerRunTable(
        "one row per run date: compared on the latest", final_snapshot="as_of_date = (select max(as_of_date) from {rel})"),
    ("history", "hist_segment_membership"): PerRunTable(
        "SCD2 over the per-run segment changes: compared on the current periods; valid_from is the run date "
        "that opened the period, which depends on how many runs there were",
        final_snapshot="is_current", drop_columns=("valid_from",)),
}
# Tables that must be compared (not merely present) for the test to mean anything.
MUST_COMPARE = {"raw.branch__customers", "staging.stg_branch__customers_checked", "integration.party_xref",
                "integration.int_party_golden", "marts.dim_customer", "marts.customer_360", "marts.fct_transactions",
                "analytics.customer_clv", "analytics.customer_segments", "analytics.segment_membership_changes"}
# Columns whose value is a choice made by ordering party ids, which depend on the run history by design.
# None left: a household's anchor is chosen by a run-independent order (int_party_seniority).
RUN_DEPENDENT_CHOICES: dict[str, str] = {}
GOLDEN_HISTORY_TABLES = ("history.hist_party_golden", "marts.dim_customer_history")


@dataclass(frozen=True)
class LateChange:
    """One branch customer version in the hand-made late file, and what the warehouse said before it."""
    account_number: str
    party_id: str
    stated_at: datetime  # the version's updated_at: a month before the delivery
    new_address: str
    golden_address_before: str
    next_version_at: datetime | None  # a later version of the record already delivered (None: the late one is the latest)
    history_before: dict  # table -> {"before": address as of the day before, "at": as of stated_at + 1 h, "next": ...}


@dataclass
class Builds:
    world: Path
    daily: Path
    full: Path
    deliveries: list[tuple[date, int]]  # (last business day included, files) per day-by-day run
    late_file: Path | None = None
    late: list[LateChange] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    before_last: dict[str, list[tuple]] = field(default_factory=dict)  # COMPARED_BY_ROW tables before the last run


# Incremental by comparison (dbt/macros/incremental_by_comparison.sql): a run writes only their new and
# changed rows, with its refreshed_at.
COMPARED_BY_ROW = ("marts.dim_customer", "marts.customer_360")


def _keep_before_last_run(warehouse: Path, kept: dict[str, list[tuple]]) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in COMPARED_BY_ROW:
            kept[table] = con.execute(f"select * from {table}").fetchall()


def _business_day(path: Path) -> date:
    entity = next(e for s in SOURCES if s.name == path.parent.name for e in s.entities if e.file_pattern.match(path.name))
    return datetime.strptime(entity.file_pattern.match(path.name).group(1), "%Y%m%d").date()


def _deliver(files: list[Path], landing_from: Path, landing_to: Path) -> None:
    for path in files:
        target = landing_to / path.relative_to(landing_from)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def materialize_warehouse(data_dir: Path) -> None:
    """One pipeline run over ``data_dir`` (its landing folder and warehouse), in-process."""
    import dagster as dg

    from dagster_project import definitions

    _point_settings_at(data_dir)
    os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "test unit_test"
    resources = definitions.build_defs().resources
    result = dg.materialize(definitions.warehouse_assets, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    failures = [f"{e.step_key}: {e.step_failure_data.error.message}" for e in result.all_events if e.is_step_failure]
    assert result.success, f"pipeline failed on {data_dir}: {failures}"


def write_late_corrections(warehouse: Path, landing: Path, late_day: date) -> tuple[Path, list[LateChange]]:
    """Write ``branch/customers_<late_day>_late.csv`` by hand, in the source's format (semicolon CSV, Latin-1,
    DD/MM/YYYY), with two address changes stated on ``late_day``:

    - customer A: no record of the party changed since, so the late version becomes the latest one;
    - customer B: a later version was already delivered, so the late one fills a past period only.
    """
    stated_at = datetime.combine(late_day, clock(10, 30))
    branch = next(e for e in ENTITIES if e.table == "branch__customers")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        latest = con.execute("""
            select c.account_number, i.party_id, c._source_file, c._row_number, null::timestamp as next_at
            from staging.stg_branch__customers as c
            join integration.party_identifiers as i on i.id_type = 'account_number' and i.id_value = c.account_number
            join marts.dim_customer as d on d.party_id = i.party_id
            where d.party_type = 'individual' and d.address_line is not null
              and i.party_id not in (select x.party_id from integration.party_xref as x
                                     join integration.int_party_records as r using (record_id)
                                     where r.record_updated_at >= ?)
            qualify row_number() over (partition by c.account_number order by c.updated_at desc) = 1
            order by c.account_number limit 1""", [stated_at - timedelta(days=1)]).fetchall()
        between = con.execute("""
            with versions as (
                select account_number, updated_at, _source_file, _row_number,
                    lead(updated_at) over (partition by account_number order by updated_at) as next_at
                from staging.stg_branch__customers
            )
            select v.account_number, i.party_id, v._source_file, v._row_number, v.next_at
            from versions as v
            join integration.party_identifiers as i on i.id_type = 'account_number' and i.id_value = v.account_number
            join marts.dim_customer as d on d.party_id = i.party_id
            where d.party_type = 'individual' and v.updated_at < ? and v.next_at > ?
            order by v.account_number limit 1""", [stated_at - timedelta(days=1), stated_at + timedelta(days=1)]).fetchall()
        assert latest and between, "the world has no customer fit for a late correction (A: quiet since, B: changed since)"
        history = [t for t in GOLDEN_HISTORY_TABLES if _has(con, t)]
        changes, lines = [], []
        for (account, party_id, source_file, row_number, next_at), address in zip(
                [latest[0], between[0]], ["7 Crèche Late Lane", "12 Élan Correction Road"]):
            columns = ", ".join(f'"{c}"' for c in branch.column_names)
            row = dict(zip(branch.column_names, con.execute(
                f"select {columns} from raw.branch__customers where _source_file = ? and _row_number = ?",
                [source_file, row_number]).fetchall()[0]))
            row.update(address_line=address, updated_at=stated_at.strftime("%d/%m/%Y %H:%M"))
            lines.append([row[c] or "" for c in branch.column_names])
            golden = con.execute("select address_line from marts.dim_customer where party_id = ?", [party_id]).fetchall()[0][0]
            moments = _history_moments(stated_at, next_at)
            before = {t: {k: _address_as_of(con, t, party_id, m) for k, m in moments.items()} for t in history}
            changes.append(LateChange(account, party_id, stated_at, address, golden, next_at, before))
    path = landing / "branch" / branch.file_name(late_day.strftime("%Y%m%d"), "_late")
    with open(path, "w", encoding=branch.encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=branch.delimiter, lineterminator="\n")
        writer.writerow(branch.column_names)
        writer.writerows(lines)
    return path, changes


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, name]).fetchall()[0][0] > 0


def _history_moments(stated_at: datetime, next_at: datetime | None) -> dict[str, datetime]:
    moments = {"day_before": stated_at - timedelta(days=1), "after": stated_at + timedelta(hours=1)}
    if next_at is not None:
        moments["after_next"] = next_at + timedelta(minutes=1)
    return moments


def _address_as_of(con: duckdb.DuckDBPyConnection, table: str, party_id: str, moment: datetime) -> str | None:
    """The party's golden address as of ``moment`` in an SCD2 table (valid_to exclusive, NULL while current)."""
    rows = con.execute(f"select address_line from {table} where party_id = ? and valid_from <= ? "
                       "and (valid_to is null or valid_to > ?)", [party_id, moment, moment]).fetchall()
    assert len(rows) <= 1, f"{table}: {len(rows)} periods of {party_id} hold {moment}"
    return rows[0][0] if rows else None


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> Builds:
    from dagster_project.sample_world import WorldConfig, generate_world

    previous = dict(os.environ)
    root = tmp_path_factory.mktemp("day_by_day")
    out = Builds(world=root / "world", daily=root / "daily", full=root / "full", deliveries=[])
    try:
        started = time.perf_counter()
        generate_world(WorldConfig(people=PEOPLE, seed=23, start=WORLD_START, end=WORLD_END, out=out.world))
        out.seconds["generate"] = time.perf_counter() - started
        landing = out.world / "landing"
        found = discover(landing)
        assert not found.unknown, found.reasons
        files = sorted((p for e in ENTITIES for p in found.for_entity(e)), key=lambda p: (_business_day(p), str(p)))
        cut = WORLD_END - timedelta(days=DAILY_DAYS)
        steps = [cut] + [cut + timedelta(days=i) for i in range(1, DAILY_DAYS + 1)]
        (out.daily / "landing").mkdir(parents=True)
        delivered = date.min
        for day in steps:
            batch = [p for p in files if delivered < _business_day(p) <= day]
            if day == steps[-1]:
                # The last delivery also brings a correction dated a month ago (in the world's landing
                # folder too, so the one-go build reads it like any other file).
                out.late_file, out.late = write_late_corrections(out.daily / "warehouse.duckdb", landing,
                                                                 day - timedelta(days=LATE_BY_DAYS))
                batch.append(out.late_file)
            _deliver(batch, landing, out.daily / "landing")
            if day == steps[-1]:
                _keep_before_last_run(out.daily / "warehouse.duckdb", out.before_last)
            started = time.perf_counter()
            materialize_warehouse(out.daily)
            out.seconds[f"day-by-day run to {day}"] = time.perf_counter() - started
            out.deliveries.append((day, len(batch)))
            delivered = day
        _deliver([p for p in landing.rglob("*") if p.is_file()], landing, out.full / "landing")
        shutil.copytree(out.daily / "identity" / "model", out.full / "identity" / "model")
        # the CLV fit is kept beside it and a rebuild keeps it too (analytics/clv_fit_store.py)
        shutil.copytree(out.daily / "analytics", out.full / "analytics", ignore=shutil.ignore_patterns("*.md", "*.png"))
        started = time.perf_counter()
        materialize_warehouse(out.full)
        out.seconds["one-go run"] = time.perf_counter() - started
        print("\nday-by-day timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in out.seconds.items()))
        yield out
    finally:
        os.environ.clear()
        os.environ.update(previous)


def _fetch(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _tables(warehouse: Path) -> set[str]:
    return {f"{s}.{t}" for s, t in _fetch(warehouse, "select table_schema, table_name from information_schema.tables "
                                                     "where table_catalog = current_database()")}


def test_each_daily_delivery_was_loaded_in_its_own_run(builds):
    """The day-by-day warehouse really was fed day by day, and late rows arrived in the daily files."""
    daily = builds.daily / "warehouse.duckdb"
    batches = _fetch(daily, "select batch_id, min(business_date), max(business_date), count(*) from raw.file_ledger "
                            "where status = 'loaded' group by batch_id order by max(business_date)")
    late_day = builds.late[0].stated_at.date()
    expected = [(date.min, builds.deliveries[0][0])] + [(d, d) for d, _ in builds.deliveries[1:-1]] + \
        [(late_day, builds.deliveries[-1][0])]
    assert [(first if i else date.min, last) for i, (_, first, last, _) in enumerate(batches)] == expected
    assert [n for *_, n in batches] == [n for _, n in builds.deliveries]
    assert _fetch(builds.full / "warehouse.duckdb", "select count(distinct batch_id) from raw.file_ledger") == [(1,)]
    # Rows of the daily files stated (their first timestamp column) before the file's business day: late.
    late = 0
    for entity in ENTITIES:
        stated = next((c.name for c in entity.columns if c.type == "timestamp"), None)
        if stated:
            late += _fetch(daily, f"""
                select count(*) from staging.stg_{entity.table} as v
                join raw.file_ledger as f on f.source_file = v._source_file
                where f.business_date > ? and cast(v.{stated} as date) < f.business_date""", [builds.deliveries[0][0]])[0][0]
    assert late > 0, "no late row in the daily deliveries: the generator's late rows are missing"


def test_day_by_day_build_equals_a_rebuild_from_raw_table_by_table(builds):
    result = compare_warehouses(builds.daily / "warehouse.duckdb", builds.full / "warehouse.duckdb", PER_RUN_TABLES,
                                RUN_DEPENDENT_CHOICES)
    print(f"\ncompared {len(result.compared)} relations; per-run tables not compared row by row: {result.skipped}")
    assert not result.problems, (f"{len(result.problems)} of {len(result.compared)} relations differ between the "
                                 "day-by-day and the one-go warehouse:\n\n" + "\n\n".join(result.problems))
    missing = MUST_COMPARE - set(result.compared)
    assert not missing, f"expected relations not compared: {missing}"
    history = {t for t in _tables(builds.full / "warehouse.duckdb") if t.startswith("history.")}
    assert history <= set(result.compared), f"history tables not compared: {history - set(result.compared)}"


def test_the_last_run_wrote_exactly_the_new_and_changed_rows_of_the_tables_compared_by_row(builds):
    """dim_customer and customer_360 (incremental by comparison): the rows with the last run's
    refreshed_at are those new or different from the table before it; every other row is the same
    row as before, refreshed_at included; keys the run dropped are gone. The one-go comparison
    (above) shows the table equals a rebuild."""
    daily = builds.daily / "warehouse.duckdb"
    for table in COMPARED_BY_ROW:
        columns = [r[0] for r in _fetch(daily, "select column_name from information_schema.columns where "
                                               "table_schema || '.' || table_name = ? order by ordinal_position", [table])]
        assert columns[0] == "party_id" and columns[-1] == "refreshed_at", table
        before = {row[0]: row for row in builds.before_last[table]}
        after = {row[0]: row for row in _fetch(daily, f"select * from {table}")}
        last_run = max(row[-1] for row in after.values())
        written = {key for key, row in after.items() if row[-1] == last_run}
        changed = {key for key, row in after.items() if key not in before or before[key][:-1] != row[:-1]}
        assert written == changed, (table, sorted(written ^ changed)[:5])
        assert all(after[key] == before[key] for key in after.keys() - written), table
        assert 0 < len(written) < len(after) / 2, (table, len(written), len(after))
    # the keys each has are the keys its model gives now (the post-hooks delete those it no longer gives)
    assert {r[0] for r in _fetch(daily, "select party_id from marts.dim_customer")} == {
        r[0] for r in _fetch(daily, "select party_id from integration.int_party_golden")}
    assert {r[0] for r in _fetch(daily, "select party_id from marts.customer_360")} == {
        r[0] for r in _fetch(daily, "select party_id from marts.dim_customer where customer_status <> 'contact'")}


def test_a_change_dated_last_month_corrects_that_period_and_the_current_record(builds):
    """The late file loads; the versions, the golden record and (where built) its history show the change
    in the right period: A's address changed from the late date on and is current; B's only until the
    version B already had after it."""
    daily = builds.daily / "warehouse.duckdb"
    late_day = builds.late[0].stated_at.date()
    source_file = builds.late_file.relative_to(builds.world / "landing").as_posix()
    assert _fetch(daily, "select status, business_date, rows_loaded, rows_rejected from raw.file_ledger "
                         "where source_file = ?", [source_file]) == [("loaded", late_day, 2, 0)]
    checked = ["raw.file_ledger", "staging.stg_branch__customers", "integration.int_party_records", "marts.dim_customer"]
    with duckdb.connect(str(daily), read_only=True) as con:
        history = [t for t in GOLDEN_HISTORY_TABLES if _has(con, t)]
        for change in builds.late:
            versions = con.execute("select address_line from staging.stg_branch__customers where account_number = ? "
                                   "and updated_at = ?", [change.account_number, change.stated_at]).fetchall()
            assert versions == [(change.new_address,)], change.account_number  # Latin-1 accents intact
            party_id = con.execute("select party_id from integration.party_identifiers where id_type = 'account_number' "
                                   "and id_value = ?", [change.account_number]).fetchall()[0][0]
            record = con.execute("select address_line from integration.int_party_records where source_system = 'branch' "
                                 "and account_number = ?", [change.account_number]).fetchall()[0][0]
            golden = con.execute("select address_line from marts.dim_customer where party_id = ?", [party_id]).fetchall()[0][0]
            if change.next_version_at is None:  # A: the late version is the record's latest
                assert (record, golden) == (change.new_address, change.new_address), change
            else:  # B: a later version was delivered before: the present is unchanged
                assert record != change.new_address and golden == change.golden_address_before, change
            for table in history:
                now = {k: _address_as_of(con, table, party_id, m)
                       for k, m in _history_moments(change.stated_at, change.next_version_at).items()}
                before = change.history_before[table]
                assert before["after"] != change.new_address, (table, change)
                assert now["day_before"] == before["day_before"], (table, change, now)
                assert now["after"] == change.new_address, (table, change, now)
                if change.next_version_at is not None:
                    assert now["after_next"] == before["after_next"], (table, change, now)
                else:
                    current = con.execute(f"select address_line from {table} where party_id = ? and valid_to is null",
                                          [party_id]).fetchall()
                    assert current == [(change.new_address,)], (table, change)
    print(f"\nlate correction checked in: {', '.join(checked + history)}; "
          f"golden history tables not built on this branch: {sorted(set(GOLDEN_HISTORY_TABLES) - set(history)) or 'none'}")
