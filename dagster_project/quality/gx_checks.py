"""Dagster asset checks around the GX suites in ``expectations/``: one check per suite, on its asset.

dagster-ge does not support GX 1.x, so each check is a thin ``@asset_check`` calling the runner.
A suite with a critical expectation makes a blocking check: when a critical expectation fails
the check fails with severity ERROR and Dagster runs nothing downstream in that run (so the
serving copies keep their previous version); warning-only failures are WARN and do not block.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.quality.gx_runner import SuiteOutcome, run_suite
from dagster_project.quality.gx_suites import SuiteFile, load_suites
from dagster_project.settings import get_settings

CHECK_NAME = "gx_expectations"


def _failed_markdown(outcome: SuiteOutcome) -> str:
    lines = ["| expectation | column | severity | observed |", "|---|---|---|---|"]
    lines += [f"| {f['expectation']} | {f['column']} | {f['severity']} | {str(f['observed'])[:200]} |"
              for f in outcome.failed]
    return "\n".join(lines)


def check_result(suite_file: SuiteFile, outcome: SuiteOutcome) -> dg.AssetCheckResult:
    """The Dagster result of one suite run: ERROR when a critical expectation failed, WARN otherwise."""
    metadata = {
        "suite": dg.MetadataValue.text(suite_file.name),
        "expectations_passed": dg.MetadataValue.int(outcome.passed),
        "expectations_failed": dg.MetadataValue.int(len(outcome.failed)),
    }
    if outcome.rows_validated is not None:
        metadata["rows_validated"] = dg.MetadataValue.int(outcome.rows_validated)
        metadata["rows_in_batch"] = dg.MetadataValue.int(outcome.rows_in_batch)
        metadata["validated"] = dg.MetadataValue.text(outcome.scope)
    if outcome.missing_table:
        metadata["missing_table"] = dg.MetadataValue.text(suite_file.table)
    if outcome.failed:
        metadata["failed_expectations"] = dg.MetadataValue.md(_failed_markdown(outcome))
    if outcome.docs_page is not None:
        metadata["data_docs"] = dg.MetadataValue.path(str(outcome.docs_page))
    severity = dg.AssetCheckSeverity.ERROR if outcome.critical_failed else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(passed=outcome.success, severity=severity, metadata=metadata)


def build_gx_check(suite_file: SuiteFile) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(list(suite_file.asset_key)), name=CHECK_NAME, blocking=suite_file.blocking,
                    description=f"Great Expectations suite expectations/{suite_file.name}.json "
                                f"({len(suite_file.suite['expectations'])} expectations).")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        docs_dir = get_settings().data_dir / "gx_docs"
        with duckdb.get_connection() as con:
            outcome = run_suite(con, suite_file, docs_dir)
        return check_result(suite_file, outcome)

    return _check


def build_gx_checks(asset_keys: set[dg.AssetKey] | None = None) -> list[dg.AssetChecksDefinition]:
    """One check per suite file; with ``asset_keys``, only the suites whose asset is among them."""
    return [build_gx_check(s) for s in load_suites()
            if asset_keys is None or dg.AssetKey(list(s.asset_key)) in asset_keys]
