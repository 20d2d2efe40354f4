"""Run one GX suite on a DuckDB table: read it into pandas, validate, build Data Docs.

GX through SQLAlchemy on DuckDB returns no observed values with our pins (ARCHITECTURE.md), so
the table is read with DuckDB into a pandas DataFrame with Arrow dtypes (the warehouse types
survive, even in all-null columns) and GX validates that. Only the suite's columns are read,
and a raw suite reads only the newest load batch, so checks stay cheap on large tables.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dagster_project.quality.gx_suites import SuiteFile

DOCS_SITE = "crm_cif"
_contexts: dict[Path, Any] = {}


@dataclass
class SuiteOutcome:
    passed: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # type, column, severity, observed
    docs_page: Path | None = None
    missing_table: bool = False

    @property
    def success(self) -> bool:
        return not self.failed and not self.missing_table

    @property
    def critical_failed(self) -> bool:
        return self.missing_table or any(f["severity"] == "critical" for f in self.failed)


def _context(docs_dir: Path) -> Any:
    """One ephemeral GX context per docs folder and process, so the Data Docs index lists every suite run."""
    if docs_dir not in _contexts:
        import great_expectations as gx  # slow import (~5 s): only when a check runs

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


def read_batch(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, present: list[str]) -> pd.DataFrame:
    """The rows and columns the suite needs, with warehouse types kept (Arrow dtypes)."""
    wanted = [c for c in _columns(suite_file.suite) if c in present] or present
    select = ", ".join(f'"{c}"' for c in wanted)
    where = ""
    if suite_file.batch == "latest_batch":
        where = f" where _batch_id = (select max_by(_batch_id, _loaded_at) from {suite_file.table})"
    arrow = con.sql(f"select {select} from {suite_file.table}{where}").to_arrow_table()
    return arrow.to_pandas(types_mapper=pd.ArrowDtype)


def _parameters(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile) -> dict[str, Any]:
    """Reference values for ``$PARAMETER`` kwargs: a one-cell query gives a scalar, else the first column's values."""
    values = {}
    for name, sql in suite_file.parameters.items():
        rows = con.execute(sql).fetchall()
        values[name] = rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 and "count(" in sql.lower() else [r[0] for r in rows]
    return values


def _observed(result: dict[str, Any]) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    return {k: result[k] for k in ("unexpected_count", "partial_unexpected_list") if k in result}


def run_suite(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, docs_dir: Path) -> SuiteOutcome:
    """Validate the suite's table through a GX checkpoint and update the Data Docs in ``docs_dir``."""
    import great_expectations as gx

    present = _table_exists(con, suite_file.table)
    if not present:
        return SuiteOutcome(passed=0, missing_table=True)
    frame = read_batch(con, suite_file, present)
    parameters = _parameters(con, suite_file)
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
    spec = {k: v for k, v in suite_file.suite.items() if k in ("name", "expectations", "meta", "notes")}
    suite = context.suites.add(gx.ExpectationSuite(**spec))
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=name, validation_definitions=[validation],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])]))
    result = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    outcome = SuiteOutcome(passed=0)
    for identifier, validation_result in result.run_results.items():
        for r in validation_result.results:
            config = r.expectation_config
            if r.success:
                outcome.passed += 1
                continue
            exception = r.exception_info.get("exception_message") if r.exception_info.get("raised_exception") else None
            outcome.failed.append({
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_list") or config.kwargs.get("column_set"),
                "severity": getattr(config.severity, "value", str(config.severity)),
                "observed": exception or _observed(r.result),
            })
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
        if urls:
            outcome.docs_page = Path(urls[0]["site_url"].removeprefix("file://"))
    return outcome
