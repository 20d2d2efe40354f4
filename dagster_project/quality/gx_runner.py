"""Run one GX suite on a DuckDB table: read it into pandas, validate, build Data Docs.

GX through SQLAlchemy on DuckDB returns no observed values with our pins (ARCHITECTURE.md), so
the table is read with DuckDB into a pandas DataFrame with Arrow dtypes (the warehouse types
survive, even in all-null columns) and GX validates that. Only the suite's columns are read,
a raw suite reads only the newest load batch, and a ``new_rows`` suite (the big facts) only the rows
past its watermark (gx_watermark.py), so checks cost what changed, not the table's size.
Checks GX's pandas engine is slow at (membership in a large reference set, between on Arrow-typed
numbers and dates) are computed in DuckDB as flag columns of the batch (gx_flags.py).
"""

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from dagster_project.quality import gx_flags, gx_watermark
from dagster_project.quality.gx_suites import SuiteFile

DOCS_SITE = "crm_cif"
_contexts: dict[Path, Any] = {}
MAX_ROWS = 2_000_000  # rows of one batch GX reads at most (see _batch_filter)
SAMPLE_SEED = 42  # the same sample on every run: a check that passed on it passes again on it


@dataclass
class SuiteOutcome:
    passed: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # type, column, severity, observed
    docs_page: Path | None = None
    missing_table: bool = False
    rows_in_batch: int | None = None  # rows of the suite's batch (table, or newest raw load)
    rows_validated: int | None = None  # rows GX read: fewer when the batch was over MAX_ROWS
    scope: str = "table"  # table | latest_batch | new rows since <column> > <value> | full (watermark reset)

    @property
    def success(self) -> bool:
        return not self.failed and not self.missing_table

    @property
    def critical_failed(self) -> bool:
        return self.missing_table or any(f["severity"] == "critical" for f in self.failed)


class _CompiledTemplates(BytecodeCache):
    """Jinja's bytecode of GX's Data Docs templates, kept for the process (a documented Jinja hook)."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


def _share_compiled_templates() -> None:
    """Give every GX Data Docs view one bytecode cache, so each template is compiled once per process.

    Why: GX builds a new Jinja environment for every page it renders, and a new environment
    compiles every template again. On a three-expectation suite the Data Docs action was 3.8 of
    4.4 s of 12 checkpoint runs; with one cache a suite takes 0.08 s instead of 0.19 s (35 suites
    a day). The bucket key includes the template's source checksum, so an edited template is
    compiled afresh; the pages are the same.
    """
    from great_expectations.render.view.view import DefaultJinjaView

    build = DefaultJinjaView.__init__
    if getattr(build, "shares_compiled_templates", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        self.env.bytecode_cache = COMPILED_TEMPLATES

    init.shares_compiled_templates = True  # type: ignore[attr-defined]
    DefaultJinjaView.__init__ = init


def _context(docs_dir: Path) -> Any:
    """One ephemeral GX context per docs folder and process, so the Data Docs index lists every suite run."""
    if docs_dir not in _contexts:
        import great_expectations as gx  # slow import (~5 s): only when a check runs
        from great_expectations.execution_engine import pandas_execution_engine

        # GX hashes every cell of a batch under 1 GB into a "pandas_data_fingerprint" batch marker,
        # which nothing of ours reads: 4.9 of dim_customer's 9.8 s and 4.8 of customer_360's 6.2 s
        # at a million people (profiled). Our batches are named by the suite and its scope instead.
        pandas_execution_engine.HASH_THRESHOLD = 0
        _share_compiled_templates()

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        context.data_sources.add_pandas("duckdb_tables")
        _contexts[docs_dir] = context
    return _contexts[docs_dir]


def _columns(suite: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for e in suite["expectations"]:
        kw = e["kwargs"]
        for value in [kw.get("column"), kw.get("column_A"), kw.get("column_B"), *kw.get("column_list", []),
                      *kw.get("column_set", []), *kw.get("column_list_ordered", [])]:
            if value and value not in names:
                names.append(value)
    return names


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = con.execute("select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                       [schema, name]).fetchall()
    return [r[0] for r in rows]


def _batch_filter(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile,
                  new_rows_where: str = "") -> tuple[str, str, int, int]:
    """(where clause, sample clause, rows in the batch, rows GX reads) for the suite's batch.

    A batch over MAX_ROWS rows is cut, so GX (pandas, row by row) stays minutes below the build at a
    million people: a raw batch (the first load holds every file) keeps its newest files up to the
    cap, whole files so that (_source_file, _row_number) uniqueness is still checked per file; a
    mart keeps a fixed sample (``_sample_clause``). dbt's contract, unique and not_null tests cover
    whole marts, and a suite comparing an exact row count is never cut.
    """
    table = suite_file.table
    where = new_rows_where
    if suite_file.batch == "latest_batch":
        where = f" where _batch_id = (select max_by(_batch_id, _loaded_at) from {table})"
    rows = con.execute(f"select count(*) from {table}{where}").fetchall()[0][0]
    exact_count = any(e["type"] == "expect_table_row_count_to_equal" for e in suite_file.suite["expectations"])
    if rows <= MAX_ROWS or exact_count:
        return where, "", rows, rows
    if suite_file.batch == "latest_batch":
        newest = (f"select _source_file from (select _source_file, count(*) as n from {table}{where} group by 1) "
                  f"qualify sum(n) over (order by _source_file desc rows unbounded preceding) - n < {MAX_ROWS}")
        where += f" and _source_file in ({newest})"
        kept = con.execute(f"select count(*) from {table}{where}").fetchall()[0][0]
        return where, "", rows, kept
    return where, _sample_clause(rows), rows, MAX_ROWS


def _sample_clause(rows: int) -> str:
    """A seeded Bernoulli sample of a little over MAX_ROWS of ``rows`` rows (read_batch keeps MAX_ROWS).

    Why not ``reservoir(n rows)``: DuckDB's reservoir took 89 s to draw 2 M of the 42 M interactions
    at a million people (Bernoulli: 1 s). Bernoulli with a seed picks the same rows on every run and
    thread count; it draws before the WHERE (DuckDB samples the FROM rows), which for a per-row
    coin is the same as after. Six standard deviations over MAX_ROWS, so it never falls short.
    """
    share = min(1.0, (MAX_ROWS + 6 * MAX_ROWS ** 0.5 + 20) / rows)
    return f" using sample {100 * share:.6f} percent (bernoulli, {SAMPLE_SEED})"


def read_batch(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, present: list[str],
               extra: list[str] | None = None, batch: tuple[str, str] | None = None) -> pd.DataFrame:
    """The rows and columns the suite needs, with warehouse types kept (Arrow dtypes)."""
    wanted = [c for c in _columns(suite_file.suite) if c in present] or present
    columns = ", ".join(f'"{c}"' for c in wanted)
    where, sample = batch if batch is not None else _batch_filter(con, suite_file)[:2]
    # a sample keeps MAX_ROWS of its rows, chosen by row hash so the same rows on every run
    cut = f" order by hash({columns}) limit {MAX_ROWS}" if sample else ""
    rows = f"(select {columns} from {suite_file.table}{where}{sample}{cut}) as batch"  # cut first, then derive
    select = ", ".join([columns, *(extra or [])])
    arrow = con.sql(f"select {select} from {rows}").to_arrow_table()
    return arrow.to_pandas(types_mapper=pd.ArrowDtype)


def _parameters(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Reference values for ``$PARAMETER`` kwargs: a one-cell query gives a scalar, else the first column's values."""
    values = {}
    for name, sql in suite_file.parameters.items():
        if name in skip:  # checked through a membership flag (gx_flags.py)
            continue
        rows = con.execute(sql).fetchall()
        values[name] = rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 and "count(" in sql.lower() else [r[0] for r in rows]
    return values


def _observed(result: dict[str, Any]) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    return {k: result[k] for k in ("unexpected_count", "partial_unexpected_list") if k in result}


def run_suite(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, docs_dir: Path,
              state_dir: Path | None = None) -> SuiteOutcome:
    """Validate the suite's batch through a GX checkpoint and update the Data Docs in ``docs_dir``.

    A ``new_rows`` suite keeps its watermark in ``state_dir`` (default ``<docs_dir>/../gx_watermarks``)
    and moves it only when no critical expectation failed, so failed rows are read again next run;
    a ``latest_batch`` suite keeps there the batch it passed on, and skips that batch afterwards.
    With no new rows GX does not run and the suite passes (an empty table always gets a full run).
    """
    present = _table_exists(con, suite_file.table)
    if not present:
        return SuiteOutcome(passed=0, missing_table=True)
    state_dir = Path(state_dir) if state_dir is not None else Path(docs_dir).parent / "gx_watermarks"
    latest = None
    if suite_file.batch == gx_watermark.LATEST_BATCH:
        latest = gx_watermark.latest_batch(con, suite_file)
        if gx_watermark.batch_validated(state_dir, suite_file, latest):
            return SuiteOutcome(passed=0, rows_in_batch=0, rows_validated=0,
                                scope=f"no new batch: the latest ({latest}) passed in an earlier run")
    scope = gx_watermark.scope(con, suite_file, state_dir) if suite_file.batch == gx_watermark.NEW_ROWS else None
    where, sample, rows_in_batch, _ = _batch_filter(con, suite_file, scope.where if scope else "")
    label = suite_file.batch if suite_file.batch == "latest_batch" else "table"
    if scope is not None and scope.column is not None and not scope.incremental:
        label = f"table (full validation; watermark {scope.column} reset)"
    if scope is not None and scope.incremental:
        label = f"new rows: {scope.column} > {scope.where.split('> ', 1)[1]}" if scope.where else label
        if rows_in_batch == 0:
            gx_watermark.record(state_dir, suite_file, scope)
            return SuiteOutcome(passed=0, rows_in_batch=0, rows_validated=0, scope=label)
    outcome = _validate(con, suite_file, docs_dir, present, (where, sample), rows_in_batch)
    outcome.scope = label
    if scope is not None and not outcome.critical_failed:
        gx_watermark.record(state_dir, suite_file, scope)
    if latest is not None and not outcome.critical_failed:
        gx_watermark.record_batch(state_dir, suite_file, latest)
    return outcome


def _forget_batches(source: Any) -> None:
    """Drop the batches GX's engine caches: it keeps every validated DataFrame for the life of the
    context (the process), which held ~7 GiB through the rest of a 1,000,000-person build."""
    manager = source.get_execution_engine().batch_manager
    manager.reset_batch_cache()
    manager.batch_data_cache.clear()


def _validate(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, docs_dir: Path, present: list[str],
              batch_filter: tuple[str, str], rows_in_batch: int) -> SuiteOutcome:
    import great_expectations as gx

    where, sample = batch_filter
    flags = gx_flags.flag_checks(con, suite_file)
    frame = read_batch(con, suite_file, present, gx_flags.flag_terms(flags), (where, sample))
    parameters = _parameters(con, suite_file, skip={c.parameter for c in flags.values() if c.parameter})
    context = _context(docs_dir)
    name = suite_file.name
    for store, delete in ((context.checkpoints, context.checkpoints.delete),
                          (context.validation_definitions, context.validation_definitions.delete),
                          (context.suites, context.suites.delete)):
        try:
            delete(name=name)  # a re-run in the same process replaces the suite as edited on disk
        except Exception:  # noqa: BLE001 - not there yet
            pass
    source = context.data_sources.get("duckdb_tables")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    batch = asset.batch_definitions[0] if asset.batch_definitions else asset.add_batch_definition_whole_dataframe("whole")
    # A deep copy: GX writes into what it is given (meta.great_expectations_version), and the suite
    # as read from its file must stay as it is, or its hash (the watermark's key) moves.
    spec = copy.deepcopy({k: v for k, v in gx_flags.suite_with_flags(suite_file.suite, flags).items()
                          if k in ("name", "expectations", "meta", "notes")})
    suite = context.suites.add(gx.ExpectationSuite(**spec))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=name, validation_definitions=[validation],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])]))
    try:
        result = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    finally:
        _forget_batches(source)
    outcome = SuiteOutcome(passed=0, rows_in_batch=rows_in_batch, rows_validated=len(frame))
    flagged = {c.flag: c for c in flags.values()}
    for identifier, validation_result in result.run_results.items():
        for r in validation_result.results:
            config = r.expectation_config
            if r.success:
                outcome.passed += 1
                continue
            exception = r.exception_info.get("exception_message") if r.exception_info.get("raised_exception") else None
            column = config.kwargs.get("column") or config.kwargs.get("column_list") or config.kwargs.get("column_set")
            observed = exception or _observed(r.result)
            expectation = config.type
            if isinstance(column, str) and column in flagged:  # the suite's own check and the failing values, not the flags
                check = flagged[column]
                expectation, column = check.expectation, check.column
                if isinstance(observed, dict):
                    observed = {**observed, "partial_unexpected_list": gx_flags.failing_values(
                        con, suite_file.table, where, check)}
            outcome.failed.append({
                "expectation": expectation,
                "column": column,
                "severity": getattr(config.severity, "value", str(config.severity)),
                "observed": observed,
            })
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
        if urls:
            outcome.docs_page = Path(urls[0]["site_url"].removeprefix("file://"))
    return outcome
