"""Publishing serving copies: the policy per column, no raw personal value in the analyst copy,
the atomic swap, a failed publish, the Parquet export, and the Dagster wiring."""

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.serving import assets as serving_assets
from dagster_project.serving import publish as publish_module
from dagster_project.serving.assets import ANALYST_COPY, build_serving_assets
from dagster_project.serving.classification import SERVING_SCHEMAS, Classification, load_classification, looks_personal
from dagster_project.serving.parquet_export import export_parquet
from dagster_project.serving.policy import load_policy, mask, token
from dagster_project.serving.publish import PublishError, TablePlan, publish_copy, sanity_check, serving_tables

SALT = "test-salt"

WAREHOUSE_SQL = """
create schema marts; create schema analytics; create schema metrics;
create table marts.dim_customer (party_id varchar, first_name varchar, last_name varchar, full_name varchar,
    date_of_birth date, email varchar, phone varchar, address_line varchar, city varchar, postcode varchar,
    email_source varchar, customer_status varchar);
insert into marts.dim_customer values
    ('P1', 'Ada', 'Obi', 'Ada Obi', '1985-03-02', 'ada.obi@example.com', '+2348031234567', '12 Marina Road',
     'Lagos', '101233', 'branch', 'active'),
    ('P2', 'Bola', 'Ade', 'Bola Ade', '1990-07-15', 'bola@example.org', '+2348059876543', '5 Aba Way',
     'Lagos', '101001', 'web', 'active'),
    ('P3', null, null, null, null, 'chi@example.net', null, null, null, null, 'email', 'contact');
create table marts.fct_party_relationships (from_party_id varchar, from_party_name varchar, relationship_type varchar,
    to_party_id varchar, to_party_name varchar, source_key varchar);
insert into marts.fct_party_relationships values
    ('P1', 'Ada Obi', 'household_member', 'H1', 'Obi household', '12 marina road|101233'),
    ('P2', 'Bola Ade', 'employee_of', 'O1', 'Zenith Paints Ltd', 'H000123');
create table marts.fct_interactions (interaction_id varchar, party_id varchar, channel varchar, detail varchar);
insert into marts.fct_interactions values ('i1', 'P1', 'web', 'login'), ('i2', 'P2', 'branch', 'deposit');
create table analytics.audience_birthday_this_week (party_id varchar, name varchar, channel varchar,
    contact_value varchar, channel_basis varchar, birthday_on date);
insert into analytics.audience_birthday_this_week values
    ('P1', 'Ada Obi', 'email', ' Ada.Obi@Example.com', 'preferred', '2026-03-02');
create table analytics.customer_notes (party_id varchar, contact_name varchar, note_count bigint);
insert into analytics.customer_notes values ('P1', 'Ada O.', 3);
create view metrics.customers_by_city as select city, count(*) as customers from marts.dim_customer group by city;
create view metrics.customer_emails as select party_id, email from marts.dim_customer;
"""


def _sha_token(text: str) -> str:
    return "tok_" + hashlib.sha256((SALT + text).encode()).hexdigest()[:16]


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path), config={"storage_compatibility_version": "v1.4.0"}) as con:
        con.execute(WAREHOUSE_SQL)
    return path


@pytest.fixture(scope="module")
def classification() -> Classification:
    return load_classification()


def _publish(warehouse: Path, target: Path, level: str, classification: Classification, **kw):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return publish_copy(con, target, load_policy()[level], classification, SALT, **kw)


def _rows(path: Path, sql: str):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _columns(path: Path, schema: str, table: str) -> list[str]:
    return [r[0] for r in _rows(path, "select column_name from information_schema.columns where table_schema = "
                                      f"'{schema}' and table_name = '{table}' order by ordinal_position")]


@pytest.fixture
def copies(tmp_path, warehouse, classification):
    analyst, restricted = tmp_path / "serving.duckdb", tmp_path / "serving_restricted.duckdb"
    _publish(warehouse, analyst, "analyst", classification)
    _publish(warehouse, restricted, "restricted", classification)
    return analyst, restricted


# --- the policy, value by value ---------------------------------------------------------------

def test_tokens_are_salted_sha256_of_the_normalised_value():
    assert token("ada.obi@example.com", SALT) == _sha_token("ada.obi@example.com")
    assert token("  Ada.Obi@EXAMPLE.com\t", SALT) == _sha_token("ada.obi@example.com")
    assert token("Ada   Obi", SALT) == token("ada obi", SALT) == _sha_token("ada obi")
    assert token("ada.obi@example.com", "other-salt") != token("ada.obi@example.com", SALT)
    assert token(None, SALT) is None and token("  ", SALT) is None


def test_masks():
    assert mask("ada.obi@example.com", "email") == "a***@example.com"
    assert mask("+2348031234567", "phone") == "+234********67"
    assert mask("+23480", "phone") == "******"
    assert mask("Ada Obi", "name") == "A***"
    assert mask("12 Marina Road", "address") == "***"
    assert mask(date(1985, 3, 2), "date_of_birth") is None


def test_analyst_copy_values(copies):
    analyst, _ = copies
    assert _columns(analyst, "marts", "dim_customer") == [
        "party_id", "first_name", "last_name", "full_name", "birth_year", "email", "phone", "address_line", "city",
        "postcode", "email_source", "customer_status"]
    rows = _rows(analyst, "select * from marts.dim_customer order by party_id")
    assert rows[0] == ("P1", _sha_token("ada"), _sha_token("obi"), _sha_token("ada obi"), 1985,
                       _sha_token("ada.obi@example.com"), _sha_token("+2348031234567"), _sha_token("12 marina road"),
                       "Lagos", "101", "branch", "active")
    assert rows[2] == ("P3", None, None, None, None, _sha_token("chi@example.net"), None, None, None, None, "email",
                       "contact")
    # the household address key and the names of relationships are pseudonymised too
    assert _rows(analyst, "select source_key, to_party_name from marts.fct_party_relationships order by 1") == sorted(
        [(_sha_token("12 marina road|101233"), _sha_token("obi household")),
         (_sha_token("h000123"), _sha_token("zenith paints ltd"))])
    # audiences: contact value tokenised, this year's birthday dropped
    assert _columns(analyst, "analytics", "audience_birthday_this_week") == [
        "party_id", "name", "channel", "contact_value", "channel_basis"]
    # personal-looking columns nobody classified are left out (fail closed), views included
    assert _columns(analyst, "analytics", "customer_notes") == ["party_id", "note_count"]
    assert _columns(analyst, "metrics", "customer_emails") == ["party_id"]
    assert _rows(analyst, "select * from metrics.customers_by_city order by 1 nulls last") == [("Lagos", 2), (None, 1)]


def test_tokens_keep_joins_and_distinct_counts(copies, warehouse):
    analyst, _ = copies
    # the audience's contact value ' Ada.Obi@Example.com' and dim_customer's email are one person
    joined = _rows(analyst, "select d.party_id from analytics.audience_birthday_this_week a "
                            "join marts.dim_customer d on d.email = a.contact_value")
    assert joined == [("P1",)]
    assert _rows(analyst, "select d.party_id from marts.fct_party_relationships r join marts.dim_customer d "
                          "on d.full_name = r.from_party_name order by 1") == [("P1",), ("P2",)]
    sql = "select count(distinct email), count(distinct phone), count(distinct full_name) from marts.dim_customer"
    assert _rows(analyst, sql) == _rows(warehouse, sql) == [(3, 2, 2)]


def test_tokens_are_stable_across_publishes(tmp_path, warehouse, classification, copies):
    analyst, _ = copies
    again = tmp_path / "again.duckdb"
    _publish(warehouse, again, "analyst", classification)
    sql = "select * from marts.dim_customer order by party_id"
    assert _rows(again, sql) == _rows(analyst, sql)


def test_restricted_copy_keeps_everything(copies, warehouse):
    _, restricted = copies
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = serving_tables(con)
    assert len(tables) == 7
    for schema, table in tables:
        sql = f"select * from {schema}.{table} order by all"
        assert _rows(restricted, sql) == _rows(warehouse, sql), f"{schema}.{table}"


def test_mask_and_generalise_in_sql_match_python(tmp_path, warehouse, classification):
    policy_path = tmp_path / "policy.yml"
    policy_path.write_text("levels:\n  masked:\n    unclassified_personal: drop\n    kinds:\n"
                           + "".join(f"      {k}: mask\n" for k in ("name", "email", "phone", "address", "contact_value",
                                                                   "date_of_birth", "birthday", "city"))
                           + "      postcode: generalise\n")
    target = tmp_path / "masked.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        publish_copy(con, target, load_policy(policy_path)["masked"], classification, SALT)
    assert _rows(target, "select full_name, date_of_birth, email, phone, address_line, city, postcode "
                         "from marts.dim_customer where party_id = 'P1'") == [
        ("A***", None, "a***@example.com", "+234********67", "***", "***", "101")]
    originals = _rows(warehouse, "select full_name, email, phone from marts.dim_customer order by party_id")
    masked = _rows(target, "select full_name, email, phone from marts.dim_customer order by party_id")
    for original, got in zip(originals, masked):
        assert got == (mask(original[0], "name"), mask(original[1], "email"), mask(original[2], "phone"))


# --- no raw personal value reaches the analyst copy -------------------------------------------

def personal_values(warehouse: Path, classification: Classification, level: str = "analyst") -> list[str]:
    """Every distinct value (as text) of every column the level does not keep as it is."""
    policy = load_policy()[level]
    values: set[str] = set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table in serving_tables(con):
            classes = classification.table(schema, table)
            columns = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ?", [schema, table]).fetchall()]
            for column in columns:
                column_class = classes.get(column.lower())
                if column_class is None:
                    hidden = looks_personal(column) and policy.unclassified_personal != "keep"
                else:
                    hidden = column_class.is_personal and policy.action(column_class.kind) != "keep"
                if hidden:
                    values |= {r[0] for r in con.execute(
                        f'select distinct cast("{column}" as varchar) from {schema}.{table} '
                        f'where "{column}" is not null').fetchall()}
    return sorted(values)


def _kept_columns(con, classification: Classification, policy):
    for schema, table in serving_tables(con):
        classes = classification.table(schema, table)
        for (column,) in con.execute("select column_name from information_schema.columns where table_catalog = "
                                     "current_database() and table_schema = ? and table_name = ?",
                                     [schema, table]).fetchall():
            column_class = classes.get(column.lower())
            personal = looks_personal(column) if column_class is None else column_class.is_personal
            if not personal:
                yield schema, table, column


def public_values(warehouse: Path, classification: Classification, values: list[str]) -> set[str]:
    """The values that also stand in a non-personal column of the warehouse (an organisation's name in a
    party-name column, a lead id in a relationship's source_key): not personal data where they are kept."""
    found: set[str] = set()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.register("candidates", pa.table({"v": pa.array(values, pa.string())}))
        for schema, table, column in list(_kept_columns(con, classification, load_policy()["analyst"])):
            found |= {r[0] for r in con.execute(
                f'select v from candidates where v in (select cast("{column}" as varchar) from "{schema}"."{table}")'
            ).fetchall()}
    return found


def occurrences(copy: Path, values: list[str]) -> dict[str, int]:
    """schema.table.column -> rows of the copy whose value (as text) is one of ``values``."""
    found = {}
    with duckdb.connect(str(copy), read_only=True) as con:
        con.register("personal_values", pa.table({"v": pa.array(values, pa.string())}))
        for schema, table in serving_tables(con):
            for (column,) in con.execute("select column_name from information_schema.columns where table_catalog = "
                                         "current_database() and table_schema = ? and table_name = ?",
                                         [schema, table]).fetchall():
                n = con.execute(f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) '
                                "in (select v from personal_values)").fetchall()[0][0]
                if n:
                    found[f"{schema}.{table}.{column}"] = n
    return found


def test_no_raw_personal_value_reaches_the_analyst_copy(copies, warehouse, classification):
    analyst, restricted = copies
    values = personal_values(warehouse, classification)
    for expected in ("ada.obi@example.com", "+2348031234567", "Ada Obi", "Obi", "12 Marina Road", "1985-03-02",
                     "101233", "12 marina road|101233", " Ada.Obi@Example.com", "2026-03-02", "Ada O."):
        assert expected in values
    assert public_values(warehouse, classification, values) == set()
    assert occurrences(analyst, values) == {}
    # the search does find them where they are kept
    kept = occurrences(restricted, values)
    assert kept["marts.dim_customer.email"] == 3 and kept["analytics.customer_notes.contact_name"] == 1


# --- the atomic swap --------------------------------------------------------------------------

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
count = lambda: con.execute("select count(*) from marts.dim_customer").fetchall()[0][0]
print(count(), flush=True)
sys.stdin.readline()
print(count(), flush=True)
"""


def test_swap_keeps_old_readers_and_shows_new_readers_the_new_copy(tmp_path, warehouse, classification):
    target = tmp_path / "serving.duckdb"
    _publish(warehouse, target, "analyst", classification)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "3"
        with duckdb.connect(str(warehouse)) as con:  # the pipeline writes and publishes while the reader reads
            con.execute("insert into marts.dim_customer (party_id, email, customer_status) "
                        "values ('P4', 'dee@example.com', 'contact')")
            publish_copy(con, target, load_policy()["analyst"], classification, SALT)
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "3"  # the old connection still reads the old copy
    finally:
        reader.stdin.close()
        assert reader.wait(timeout=60) == 0
    fresh = subprocess.run([sys.executable, "-c", READER, str(target)], input="\n", capture_output=True, text=True,
                           check=True)
    assert fresh.stdout.split() == ["4", "4"]
    # the replaced copy (the reader's file) stays as the spare the next publish starts from (spare.py)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".serving.duckdb.spare", "serving.duckdb",
                                                          "warehouse.duckdb"]


def test_failure_mid_publish_keeps_the_previous_copy(tmp_path, warehouse, classification, monkeypatch):
    target = tmp_path / "serving.duckdb"
    _publish(warehouse, target, "analyst", classification)
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    real_copy, calls = publish_module.copy_table, []

    def copy_then_fail(*args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_copy(*args)

    monkeypatch.setattr(publish_module, "copy_table", copy_then_fail)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from marts.dim_customer where party_id = 'P3'")
        with pytest.raises(RuntimeError, match="disk full"):  # a full publish: every table is copied
            publish_copy(con, target, load_policy()["analyst"], classification, SALT, incremental=False)
        # the connection is usable afterwards: nothing stays attached
        assert [r[0] for r in con.execute("select database_name from duckdb_databases() "
                                          "where not internal").fetchall()] == ["warehouse"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert _rows(target, "select count(*) from marts.dim_customer") == [(3,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "warehouse.duckdb"]


def test_sanity_check_rejects_a_wrong_copy(tmp_path):
    copy = tmp_path / "copy.duckdb"
    with duckdb.connect(str(copy)) as con:
        con.execute("create schema marts; create table marts.dim_customer as "
                    "select * from (values ('P1', 'ada.obi@example.com'), ('P2', 'tok_0123456789abcdef')) t(party_id, email)")
    plan = TablePlan("marts", "dim_customer", ("*",), {"email": "pseudonymise"}, (), ("email",))
    with pytest.raises(PublishError, match="email: 1 values are not tokens"):
        sanity_check(copy, [plan], {"marts.dim_customer": 2})
    with pytest.raises(PublishError, match="2 rows in the copy, 3 in the warehouse"):
        sanity_check(copy, [plan], {"marts.dim_customer": 3})
    with pytest.raises(PublishError, match="expected"):
        sanity_check(copy, [plan, TablePlan("marts", "fct_interactions", ("*",), {}, (), ())],
                     {"marts.dim_customer": 2, "marts.fct_interactions": 0})


def test_copy_opens_in_the_duckdb_1_5_shell(copies):
    """Written in the v1.4 storage format like the warehouse, so the shell shipped with the project reads it."""
    analyst, _ = copies
    tags = _rows(analyst, "select tags from duckdb_databases() where not internal")[0][0]
    assert tags["storage_version"].startswith("v1.4.0")
    shell = Path(sys.executable).parent / "duckdb"
    result = subprocess.run([str(shell), "-readonly", "-csv", str(analyst),
                             "select count(*), count(distinct email) from marts.dim_customer"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[1] == "3,3"


# --- Parquet export ---------------------------------------------------------------------------

def test_parquet_export_has_every_table_with_its_rows(tmp_path, copies):
    analyst, _ = copies
    out = tmp_path / "exports" / "parquet"
    manifest = export_parquet(analyst, out)
    with duckdb.connect(str(analyst), read_only=True) as con:
        tables = serving_tables(con)
        counts = {f"{s}.{t}": con.execute(f"select count(*) from {s}.{t}").fetchall()[0][0] for s, t in tables}
    assert {f"{e['schema']}.{e['table']}": e["rows"] for e in manifest["tables"]} == counts
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for entry in manifest["tables"]:
        path = out / entry["file"]
        assert path == out / entry["schema"] / f"{entry['table']}.parquet"
        assert pq.ParquetFile(path).metadata.num_rows == entry["rows"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    dim = pq.read_table(out / "marts" / "dim_customer.parquet")
    assert dim.column("email").to_pylist()[0] == _sha_token("ada.obi@example.com")
    assert not list(out.rglob("*.tmp"))


def test_parquet_export_removes_files_of_tables_that_are_gone(tmp_path, warehouse, classification):
    target, out = tmp_path / "serving.duckdb", tmp_path / "parquet"
    _publish(warehouse, target, "analyst", classification)
    export_parquet(target, out)
    assert (out / "analytics" / "customer_notes.parquet").exists()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table analytics.customer_notes")
    _publish(warehouse, target, "analyst", classification)
    manifest = export_parquet(target, out)
    assert not (out / "analytics" / "customer_notes.parquet").exists()
    assert len(manifest["tables"]) == 6


# --- Dagster: publish only after the upstream steps succeeded ---------------------------------

def _materialization(result, key: dg.AssetKey):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.step_materialization_data.materialization


def _materialize(tmp_path, warehouse, monkeypatch, fail: bool):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRM_CIF_SERVING", raising=False)
    monkeypatch.delenv("CRM_CIF_EXPORTS_DIR", raising=False)
    # the hand-made fct_interactions has no occurred_on to export by month (the built world's does)
    monkeypatch.setattr(serving_assets, "partitioned_tables", lambda manifest_path: {})

    @dg.asset(key=["marts", "dim_customer"])
    def upstream() -> None:
        if fail:
            raise dg.Failure(description="dbt build failed")

    assets = [upstream, *build_serving_assets([upstream.key])]
    return dg.materialize(assets, resources={"duckdb": DuckDBResource(database=str(warehouse))},
                          raise_on_error=False)


def test_publish_is_skipped_when_an_upstream_step_fails(tmp_path, warehouse, monkeypatch):
    result = _materialize(tmp_path, warehouse, monkeypatch, fail=True)
    assert not result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set()
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["marts__dim_customer"]
    assert [e.step_key for e in result.all_events if e.is_step_start] == ["marts__dim_customer"]
    assert not (tmp_path / "serving.duckdb").exists()
    assert not (tmp_path / "serving_restricted.duckdb").exists()


def test_serving_assets_publish_both_copies_and_the_export(tmp_path, warehouse, monkeypatch):
    result = _materialize(tmp_path, warehouse, monkeypatch, fail=False)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} >= {
        ANALYST_COPY, dg.AssetKey(["serving", "restricted_copy"]), dg.AssetKey(["serving", "parquet_export"])}
    assert _rows(tmp_path / "serving_restricted.duckdb", "select email from marts.dim_customer where party_id = 'P1'") == [
        ("ada.obi@example.com",)]
    assert _rows(tmp_path / "serving.duckdb", "select email from marts.dim_customer where party_id = 'P1'") == [
        (token("ada.obi@example.com", "crm-cif-sample-world"),)]
    manifest = json.loads((tmp_path / "exports" / "parquet" / "manifest.json").read_text())
    assert len(manifest["tables"]) == 7
    metadata = _materialization(result, ANALYST_COPY).metadata
    assert metadata["dagster/row_count"].value == 3 + 2 + 2 + 1 + 1 + 2 + 3  # every table of the copy
    assert metadata["unclassified_dropped"].value == ["analytics.customer_notes.contact_name",
                                                      "metrics.customer_emails.email"]


def test_pipeline_and_daily_jobs_publish_after_every_served_asset():
    from dagster_project.definitions import build_defs

    defs = build_defs()
    graph = defs.resolve_asset_graph()
    served = {k for k in graph.get_all_asset_keys() if k.path[0] in SERVING_SCHEMAS}
    assert {k.path[0] for k in served} == {"marts", "analytics", "metrics", "history"} == set(SERVING_SCHEMAS)
    assert dg.AssetKey(["marts", "dim_customer"]) in served and len(served) >= 20
    for key in (ANALYST_COPY, dg.AssetKey(["serving", "restricted_copy"])):
        assert graph.get(key).parent_keys == served
        assert graph.get(key).group_name == "serving"
    for job in ("crm_cif_pipeline", "build_warehouse"):
        assert ANALYST_COPY in defs.resolve_job_def(job).asset_layer.executable_asset_keys
    assert ANALYST_COPY not in defs.resolve_job_def("ingest_new_files").asset_layer.executable_asset_keys


# --- end to end -------------------------------------------------------------------------------

@pytest.mark.e2e
def test_pipeline_publishes_an_analyst_copy_without_raw_personal_values(built_world, classification):
    analyst = built_world.root / "serving.duckdb"
    restricted = built_world.root / "serving_restricted.duckdb"
    with duckdb.connect(str(analyst), read_only=True) as con:
        tables = set(serving_tables(con))
    for table in ("dim_customer", "customer_360", "fct_interactions", "fct_transactions", "dim_household"):
        assert ("marts", table) in tables
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        contacts = [r[0] for r in con.execute("select email from marts.dim_customer where email is not null union "
                                              "select phone from marts.dim_customer where phone is not null").fetchall()]
        filled = con.execute("select count(email), count(phone) from marts.dim_customer").fetchall()[0]
    assert len(contacts) > 10_000
    assert occurrences(analyst, contacts) == {}
    kept = occurrences(restricted, contacts)
    assert (kept["marts.dim_customer.email"], kept["marts.dim_customer.phone"]) == filled
    # every other personal value too: names, addresses, dates of birth, postcodes, audience contacts
    values = personal_values(built_world.warehouse, classification)
    private = sorted(set(values) - public_values(built_world.warehouse, classification, values))
    assert len(private) > 30_000
    assert occurrences(analyst, private) == {}
    manifest = json.loads((built_world.root / "exports" / "parquet" / "manifest.json").read_text())
    assert {(e["schema"], e["table"]) for e in manifest["tables"]} == tables


@pytest.mark.e2e
def test_every_personal_looking_served_column_is_classified(built_world, classification):
    """Not only the columns the ymls list: every column the warehouse serves. A personal-looking
    column nobody classified is dropped from the analyst copy with a warning on every run
    (hist_party_golden's names were, until their yml listed them)."""
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                              f"where table_schema in {tuple(SERVING_SCHEMAS)} order by all").fetchall()
    assert len({(s, t) for s, t, _ in columns}) > 40
    unclassified = [f"{s}.{t}.{c}" for s, t, c in columns
                    if looks_personal(c) and classification.column(s, t, c) is None]
    assert unclassified == []
    dropped = [event.event_specific_data.materialization.metadata["unclassified_dropped"].value
               for event in built_world.first_run.all_events
               if event.event_type_value == "ASSET_MATERIALIZATION"
               and event.event_specific_data.materialization.asset_key == ANALYST_COPY]
    assert dropped == [[]]
    # the golden history's names reach the analyst copy as the same tokens as dim_customer_history's
    analyst = built_world.root / "serving.duckdb"
    same = _rows(analyst, "select count(*), count(h.first_name), count(*) filter (where h.first_name is not distinct from d.first_name "
                          "and h.email is not distinct from d.email and h.birth_year is not distinct from d.birth_year) "
                          "from history.hist_party_golden as h join marts.dim_customer_history as d "
                          "on d.party_id = h.party_id and d.valid_from = h.valid_from")[0]
    assert same[0] > 10_000 and same[1] > 5_000 and same[2] == same[0]
    assert _rows(analyst, "select count(*) from history.hist_party_golden_attributes "
                          "where first_name not like 'tok\\_%' escape '\\'")[0][0] == 0
