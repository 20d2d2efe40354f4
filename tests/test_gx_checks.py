"""GX suites as Dagster asset checks: results, metadata, blocking, and raw suites equal to the registry."""

import json
from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.quality.gx_checks import CHECK_NAME, build_gx_check, check_result
from dagster_project.quality.gx_runner import run_suite
from dagster_project.quality.gx_suites import EXPECTATIONS_DIR, load_suites, parse_suite, raw_suite, render, suite_path
from dagster_project.sources import ENTITIES

PEOPLE = dg.AssetKey(["marts", "people"])


def _suite(*expectations, parameters=None) -> dict:
    return {"name": "marts.people", "expectations": list(expectations),
            "meta": {"crm_cif": {"asset_key": ["marts", "people"], "table": "marts.people", "batch": "all",
                                 "parameters": parameters or {}}}}


def _exp(kind, severity="critical", **kwargs):
    return {"type": kind, "kwargs": kwargs, "severity": severity}


def _people(con, ids, statuses):
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.people (id varchar, status varchar, age bigint)")
    con.executemany("insert into marts.people values (?, ?, ?)", [(i, s, 30) for i, s in zip(ids, statuses)])
    con.execute("create or replace table marts.known (id varchar)")
    con.executemany("insert into marts.known values (?)", [("a",), ("b",), ("c",)])


GOOD_SUITE = _suite(
    _exp("expect_table_columns_to_match_ordered_list", column_list=["id", "status", "age"]),
    _exp("expect_column_values_to_be_of_type", column="age", type_="int"),
    _exp("expect_column_values_to_be_unique", column="id"),
    _exp("expect_column_values_to_be_in_set", column="id", value_set={"$PARAMETER": "known_ids"}),
    _exp("expect_table_row_count_to_equal", value={"$PARAMETER": "known_count"}),
    _exp("expect_column_values_to_be_in_set", "warning", column="status", value_set=["active", "closed"]),
    parameters={"known_ids": "select id from marts.known", "known_count": "select count(*) from marts.known"},
)


def test_passing_suite_passes_with_docs(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a", "b", "c"], ["active", "closed", "active"])
    suite_file = parse_suite(GOOD_SUITE)
    outcome = run_suite(con, suite_file, tmp_path / "gx_docs")
    assert (outcome.passed, outcome.failed, outcome.success) == (6, [], True)
    assert outcome.docs_page.is_file() and outcome.docs_page.is_relative_to(tmp_path / "gx_docs")
    assert (tmp_path / "gx_docs" / "index.html").is_file()
    result = check_result(suite_file, outcome)
    assert result.passed
    assert result.metadata["expectations_passed"].value == 6
    assert result.metadata["expectations_failed"].value == 0
    assert result.metadata["data_docs"].value == str(outcome.docs_page)


def test_data_docs_templates_are_compiled_once_per_process(tmp_path, monkeypatch):
    """GX renders each Data Docs page with a new Jinja environment; the runner gives them one
    bytecode cache, so the second suite's pages compile no template, and the pages still render."""
    from jinja2 import Environment
    from great_expectations.render.view.view import DefaultJinjaPageView

    from dagster_project.quality import gx_runner

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a", "b", "c"], ["active", "closed", "active"])
    assert run_suite(con, parse_suite(GOOD_SUITE), tmp_path / "gx_docs").success
    assert DefaultJinjaPageView().env.bytecode_cache is gx_runner.COMPILED_TEMPLATES
    compiled = []
    compile_template = Environment.compile
    monkeypatch.setattr(Environment, "compile", lambda self, *a, **k: compiled.append(a) or compile_template(self, *a, **k))
    second = run_suite(con, parse_suite({**GOOD_SUITE, "name": "marts.people_again"}), tmp_path / "gx_docs")
    assert second.success and second.docs_page.is_file()
    assert "marts.people_again" in second.docs_page.read_text(encoding="utf-8")
    assert compiled == []


def test_validated_batches_are_not_kept_in_memory(tmp_path):
    """GX's engine caches every batch it validated; the runner empties it after each suite, or a
    long run would hold every validated DataFrame (~7 GiB through a 1,000,000-person build)."""
    import gc

    import pandas as pd

    from dagster_project.quality.gx_runner import _context

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a", "b", "c"], ["active", "closed", "active"])
    assert run_suite(con, parse_suite(GOOD_SUITE), tmp_path / "gx_docs").success
    engine = _context(tmp_path / "gx_docs").data_sources.get("duckdb_tables").get_execution_engine()
    assert engine.batch_manager.batch_data_cache == {} and engine.batch_manager.batch_cache == {}
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and "status" in o.columns
                and list(o["id"]) == ["a", "b", "c"]]


def test_failing_suite_reports_observed_values(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a", "a", "z", "c"], ["active", "gone", "closed", "active"])  # duplicate, orphan, bad code
    suite_file = parse_suite(GOOD_SUITE)
    outcome = run_suite(con, suite_file, tmp_path / "gx_docs")
    failed = {(f["expectation"], f["column"]): f for f in outcome.failed}
    assert outcome.passed == 2  # columns and type
    assert failed[("expect_column_values_to_be_unique", "id")]["observed"]["unexpected_count"] == 2
    assert failed[("expect_column_values_to_be_in_set", "id")]["observed"]["partial_unexpected_list"] == ["z"]
    assert failed[("expect_table_row_count_to_equal", None)]["observed"] == 4
    assert failed[("expect_column_values_to_be_in_set", "status")]["severity"] == "warning"
    result = check_result(suite_file, outcome)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["expectations_failed"].value == 4
    assert "expect_column_values_to_be_unique" in result.metadata["failed_expectations"].value


@pytest.mark.parametrize("large_set", [False, True], ids=["value_set_in_gx", "membership_in_duckdb"])
def test_reference_check_same_outcome_for_small_and_large_sets(tmp_path, monkeypatch, large_set):
    """A large reference set is checked by membership computed in DuckDB: same verdicts, same orphans named."""
    from dagster_project.quality import gx_flags

    monkeypatch.setattr(gx_flags, "LARGE_REFERENCE_SET", 1 if large_set else 5_000)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a", "z", "y", None], ["active", "closed", "active", "active"])  # two orphans, one NULL
    outcome = run_suite(con, parse_suite(GOOD_SUITE), tmp_path / "gx_docs")
    failed = {(f["expectation"], f["column"]): f for f in outcome.failed}
    in_set = failed[("expect_column_values_to_be_in_set", "id")]
    assert in_set["observed"]["unexpected_count"] == 2  # the NULL is not counted, as GX ignores NULLs
    assert sorted(in_set["observed"]["partial_unexpected_list"]) == ["y", "z"]
    assert in_set["severity"] == "critical" and outcome.critical_failed
    _people(con, ["a", "b", None], ["active", "closed", "active"])
    outcome = run_suite(con, parse_suite(GOOD_SUITE), tmp_path / "gx_docs")
    assert [f for f in outcome.failed if f["expectation"] == "expect_column_values_to_be_in_set"] == []


def _ages(con, rows):
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.ages (id varchar, age bigint, born date, note varchar)")
    con.executemany("insert into marts.ages values (?, ?, ?, ?)", rows)


AGES_ROWS = [("a", 30, "1980-01-01", "x"), ("b", -1, "1850-06-01", "y"), ("c", None, None, None),
             ("d", 200, "2000-01-01", "z"), ("e", 0, "1900-01-01", "x")]


def _ages_suite(*expectations) -> dict:
    return {"name": "marts.ages", "expectations": [
        _exp("expect_table_columns_to_match_ordered_list", column_list=["id", "age", "born", "note"]), *expectations],
        "meta": {"crm_cif": {"asset_key": ["marts", "ages"], "table": "marts.ages", "batch": "all"}}}


@pytest.mark.parametrize("in_duckdb", [False, True], ids=["between_in_gx", "between_in_duckdb"])
def test_between_on_numbers_and_dates_same_outcome_in_duckdb_as_in_gx(tmp_path, monkeypatch, in_duckdb):
    """A between check on an Arrow-typed number or date is compared in DuckDB: GX's verdicts, failing values named."""
    from dagster_project.quality import gx_flags

    if not in_duckdb:
        monkeypatch.setattr(gx_flags, "COMPARABLE_TYPES", ())
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _ages(con, AGES_ROWS)
    suite = parse_suite(_ages_suite(
        _exp("expect_column_values_to_be_between", column="age", min_value=0, max_value=150),
        _exp("expect_column_values_to_be_between", "warning", column="born", min_value="1900-01-01",
             max_value="2100-12-31"),
        _exp("expect_column_values_to_be_between", column="age", min_value=0, strict_min=True, mostly=0.5)))
    outcome = run_suite(con, suite, tmp_path / "gx_docs")
    assert len(gx_flags.flag_checks(con, suite)) == (3 if in_duckdb else 0)
    assert outcome.passed == 2  # the columns, and age > 0 for 2 of 4 non-null rows (mostly 0.5)
    assert outcome.failed == [
        {"expectation": "expect_column_values_to_be_between", "column": "age", "severity": "critical",
         "observed": {"unexpected_count": 2, "partial_unexpected_list": [-1, 200]}},
        {"expectation": "expect_column_values_to_be_between", "column": "born", "severity": "warning",
         "observed": {"unexpected_count": 1, "partial_unexpected_list": [date(1850, 6, 1)]}}]
    _ages(con, [row for row in AGES_ROWS if row[0] in ("a", "c")])
    assert run_suite(con, suite, tmp_path / "gx_docs").failed == []


def test_between_checks_left_to_gx_as_written(tmp_path):
    """A bound given as a parameter, a text column or another keyword (a row condition): GX checks it as written."""
    from dagster_project.quality import gx_flags

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _ages(con, AGES_ROWS)
    untouched = parse_suite(_ages_suite(
        _exp("expect_column_values_to_be_between", column="age", min_value={"$PARAMETER": "lowest"}),
        _exp("expect_column_values_to_be_between", column="note", min_value=0),
        _exp("expect_column_values_to_be_between", column="born", min_value=0),
        _exp("expect_column_values_to_be_between", column="age", max_value=float("inf"))))
    assert gx_flags.flag_checks(con, untouched) == {}
    suite = parse_suite(_ages_suite(
        _exp("expect_column_values_to_be_between", column="age", min_value=0, row_condition='id != "b"',
             condition_parser="pandas"),
        _exp("expect_column_values_to_be_between", column="born", max_value="2100-12-31")))
    checks = gx_flags.flag_checks(con, suite)
    assert [(i, c.flag, c.condition) for i, c in checks.items()] == [
        (2, "born__between__2", "\"born\" <= cast('2100-12-31' as DATE)")]
    assert run_suite(con, suite, tmp_path / "gx_docs").failed == []  # the row condition leaves b (-1) out
    _ages(con, [*AGES_ROWS, ("f", -5, "2101-01-01", None)])
    failed = [(f["column"], f["observed"]) for f in run_suite(con, suite, tmp_path / "gx_docs").failed]
    assert failed == [("age", {"unexpected_count": 1, "partial_unexpected_list": [-5]}),
                      ("born", {"unexpected_count": 1, "partial_unexpected_list": [date(2101, 1, 1)]})]


def test_warning_only_failure_is_warn(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _people(con, ["a"], ["gone"])
    suite_file = parse_suite(_suite(_exp("expect_column_values_to_not_be_null", column="id"),
                                    _exp("expect_column_values_to_be_in_set", "warning", column="status", value_set=["active"])))
    assert suite_file.blocking  # a critical expectation makes the check blocking
    result = check_result(suite_file, run_suite(con, suite_file, tmp_path / "gx_docs"))
    assert (result.passed, result.severity) == (False, dg.AssetCheckSeverity.WARN)


def test_missing_table_fails_as_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    suite_file = parse_suite(GOOD_SUITE)
    result = check_result(suite_file, run_suite(con, suite_file, tmp_path / "gx_docs"))
    assert (result.passed, result.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert result.metadata["missing_table"].value == "marts.people"


@pytest.mark.parametrize("ids, downstream_runs", [(["a", "b", "c"], True), (["a", "a", "c"], False)])
def test_failed_blocking_check_stops_downstream(tmp_path, monkeypatch, ids, downstream_runs):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    database = str(tmp_path / "w.duckdb")

    @dg.asset(key=PEOPLE)
    def people(duckdb: DuckDBResource):
        with duckdb.get_connection() as con:
            _people(con, ids, ["active"] * len(ids))

    @dg.asset(key=dg.AssetKey(["serving", "copy"]), deps=[PEOPLE])
    def serving_copy():
        return None

    check = build_gx_check(parse_suite(GOOD_SUITE))
    assert check.check_specs_by_output_name and all(s.blocking for s in check.check_specs)
    result = dg.materialize([people, serving_copy, check], resources={"duckdb": DuckDBResource(database=database)},
                            raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert (evaluation.check_name, evaluation.passed) == (CHECK_NAME, downstream_runs)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert PEOPLE in materialized
    assert (dg.AssetKey(["serving", "copy"]) in materialized) is downstream_runs
    assert evaluation.metadata["data_docs"].value.startswith(str(tmp_path / "gx_docs"))


def test_raw_suites_equal_the_registry():
    raw_files = {p.name for p in EXPECTATIONS_DIR.glob("raw.*.json")}
    assert raw_files == {f"raw.{e.table}.json" for e in ENTITIES}
    for entity in ENTITIES:
        assert suite_path(f"raw.{entity.table}").read_text(encoding="utf-8") == render(raw_suite(entity)), (
            "expectations/ raw suites are stale: run `python -m dagster_project.quality.gx_suites`")


def test_every_suite_targets_a_raw_or_mart_asset_and_is_valid_gx():
    import great_expectations as gx

    suites = load_suites()
    assert {s.asset_key[0] for s in suites} == {"raw", "marts"}
    for s in suites:
        assert s.table == ".".join(s.asset_key)
        gx.ExpectationSuite(**{k: v for k, v in s.suite.items() if k != "id"})  # parses as a GX suite
    customer_360 = json.loads(suite_path("marts.customer_360").read_text())
    # validated by the rows written since its last pass; the row reconciliation with dim_customer
    # is the dbt test customer_360_has_every_customer_and_prospect (test below)
    assert customer_360["meta"]["crm_cif"]["batch"] == "new_rows"
    assert "expect_table_row_count_to_equal" not in {e["type"] for e in customer_360["expectations"]}


def test_customer_360_reconciliation_names_each_party_out_of_place(tmp_path):
    """The dbt test that customer_360 holds exactly dim_customer's customers and prospects fails,
    naming the party and what is wrong, for each way the two can disagree."""
    from tests.test_dbt_staging import run_dbt

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.dim_customer as select * from (values ('P1', 'active'), "
                    "('P2', 'prospect'), ('P3', 'contact'), ('P5', 'contact')) as t(party_id, customer_status)")
        con.execute("create table marts.customer_360 as select * from (values ('P1'), ('P3'), ('P4')) as t(party_id)")
    name = "customer_360_has_every_customer_and_prospect"
    result = run_dbt(warehouse, tmp_path, "test", "--select", name, "--store-failures", check=False)
    assert result.returncode == 1, result.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        failures = con.execute(f"select party_id, problem from dbt_test__audit.{name} order by 1").fetchall()
    assert failures == [("P2", "customer or prospect missing from customer_360"),
                        ("P3", "a bare contact in customer_360"), ("P4", "not a party of dim_customer")]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into marts.customer_360 values ('P2')")
        con.execute("delete from marts.customer_360 where party_id in ('P3', 'P4')")
    assert run_dbt(warehouse, tmp_path, "test", "--select", name, check=False).returncode == 0


def test_every_gx_check_passes_on_the_sample_world(built_world):
    evaluations = [e for e in built_world.first_run.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
    suites = load_suites()
    assert len(evaluations) == len(suites)
    failed = {e.asset_key.to_user_string(): e.metadata.get("failed_expectations") for e in evaluations if not e.passed}
    assert failed == {}
    assert (built_world.root / "gx_docs" / "index.html").is_file()


def test_raw_suite_on_a_source_not_delivered_yet_warns_only(tmp_path):
    from dagster_project.ingest.ledger import ensure_raw_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_schema(con)  # every raw table, empty
    suite_file = parse_suite(raw_suite(ENTITIES[0]))
    outcome = run_suite(con, suite_file, tmp_path / "gx_docs")
    assert [(f["expectation"], f["observed"]) for f in outcome.failed] == [("expect_table_row_count_to_be_between", 0)]
    assert check_result(suite_file, outcome).severity == dg.AssetCheckSeverity.WARN


def test_blocking_mart_checks_sit_before_the_serving_copies():
    from dagster_project.definitions import build_defs
    from dagster_project.serving.assets import ANALYST_COPY, RESTRICTED_COPY

    graph = build_defs().resolve_asset_graph()
    gx_checks = {k.asset_key for k in graph.asset_check_keys if k.name == CHECK_NAME}
    assert gx_checks == {dg.AssetKey(list(s.asset_key)) for s in load_suites()}
    blocking_marts = {dg.AssetKey(list(s.asset_key)) for s in load_suites() if s.blocking and s.asset_key[0] == "marts"}
    assert len(blocking_marts) == 11
    for copy in (ANALYST_COPY, RESTRICTED_COPY):
        assert blocking_marts <= graph.get(copy).parent_keys


def test_a_batch_over_the_cap_is_cut_to_whole_newest_files_or_a_sample(tmp_path, monkeypatch):
    """GX reads at most MAX_ROWS rows of a batch: a raw load keeps whole newest files, a mart a sample."""
    from dagster_project.quality import gx_runner

    monkeypatch.setattr(gx_runner, "MAX_ROWS", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.t (id varchar, _batch_id varchar, _source_file varchar, _row_number bigint, "
                "_loaded_at timestamp)")
    rows = [(f"{f}{r}", "b2", f"t_2026010{f}.csv", r, "2026-01-02") for f in (1, 2, 3) for r in (1, 2, 3, 4)]
    con.executemany("insert into raw.t values (?, ?, ?, ?, ?)", [("old", "b1", "t_20251231.csv", 1, "2026-01-01"), *rows])
    raw = parse_suite({"name": "raw.t", "expectations": [
        _exp("expect_compound_columns_to_be_unique", column_list=["_source_file", "_row_number"]),
        _exp("expect_column_values_to_not_be_null", column="id")],
        "meta": {"crm_cif": {"asset_key": ["raw", "t"], "table": "raw.t", "batch": "latest_batch"}}})
    outcome = run_suite(con, raw, tmp_path / "gx_docs")
    # batch b2 holds 12 rows in 3 files; the newest two files (8 rows) are the first to reach 5 rows
    assert (outcome.rows_in_batch, outcome.rows_validated, outcome.failed) == (12, 8, [])
    con.execute("update raw.t set _row_number = 1 where _source_file = 't_20260103.csv'")  # a duplicate line number
    # raw is append-only, so a batch that passed is not validated again; a fresh state validates it
    assert run_suite(con, raw, tmp_path / "gx_docs").rows_validated == 0
    assert (run_suite(con, raw, tmp_path / "gx_docs", state_dir=tmp_path / "fresh").failed[0]["expectation"]
            == "expect_compound_columns_to_be_unique")

    _people(con, [f"p{i}" for i in range(9)], ["active"] * 9)
    mart = parse_suite(_suite(_exp("expect_column_values_to_not_be_null", column="id"),
                              _exp("expect_column_values_to_be_in_set", column="status", value_set=["active"])))
    outcome = run_suite(con, mart, tmp_path / "gx_docs")
    assert (outcome.rows_in_batch, outcome.rows_validated, outcome.passed, outcome.failed) == (9, 5, 2, [])
    exact = parse_suite(GOOD_SUITE)  # compares an exact row count: never cut
    assert run_suite(con, exact, tmp_path / "gx_docs").rows_validated == 9
