"""Expectations GX checks on a flag computed in DuckDB, where GX's pandas engine is slow.

- **Membership in a large reference set** (``value_set: {$PARAMETER: name}`` of more than
  ``LARGE_REFERENCE_SET`` values): GX re-serialises an expectation's kwargs (pydantic) for every
  metric it resolves, so a million-element value_set costs minutes per suite (profiled: 23 s for
  10,000 party ids on 0.4 M rows).
- **Between on a number, date or timestamp column**: GX's pandas engine compares vectorised only
  numpy int, float and datetime64 columns and maps a Python function over every value of any other
  dtype; our frames keep the warehouse types as Arrow dtypes (gx_runner.read_batch), so the four
  between checks of dim_customer cost 3-7 s of its 5-11 s at a million people, against ~2 s for
  the rest of the suite.

The flag column (``<column>__in__<parameter>``, ``<column>__between__<expectation index>``) is
evaluated over the batch's rows only (read_batch adds it to the batch subquery); it is NULL where
the value is NULL, as GX ignores NULLs, and true where the value passes. The suite GX runs checks
``value_set: [true]`` on it (``mostly`` kept); a failure is reported as the suite's own
expectation on its own column, with up to 20 failing values read from DuckDB. Anything else about
a between check (a parameter as a bound, a row condition, a text column, a number against a date)
leaves it to GX as written.
"""

import math
from dataclasses import dataclass
from typing import Any

import duckdb

from dagster_project.quality.gx_suites import SuiteFile

LARGE_REFERENCE_SET = 5_000
IN_REFERENCE = "__in__"  # membership flag: <column>__in__<parameter>
BETWEEN = "__between__"  # between flag: <column>__between__<expectation index>
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN_TYPE = "expect_column_values_to_be_between"
BETWEEN_KWARGS = {"column", "min_value", "max_value", "strict_min", "strict_max", "mostly"}
FLAGGED_KWARGS = {"column", "value_set", "min_value", "max_value", "strict_min", "strict_max"}  # what the flag replaces
TEMPORAL_TYPES = ("DATE", "TIMESTAMP")
COMPARABLE_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "DATE", "TIMESTAMP")


@dataclass(frozen=True)
class FlagCheck:
    expectation: str  # the suite's expectation type, as reported
    column: str       # the column it tests
    flag: str         # the derived column GX reads
    condition: str    # SQL: true where the column's value passes
    describes: str    # what the flag checks (the Data Docs' meta)
    parameter: str | None = None  # the reference set's parameter (membership), which GX then need not load


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    return {c: t.upper() for c, t in con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, name]).fetchall()}


def _membership(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile, kwargs: dict[str, Any]) -> FlagCheck | None:
    value_set = kwargs.get("value_set")
    name = value_set.get("$PARAMETER") if isinstance(value_set, dict) else None
    if name not in suite_file.parameters:
        return None
    sql = suite_file.parameters[name]
    if con.execute(f"select count(*) from ({sql})").fetchall()[0][0] <= LARGE_REFERENCE_SET:
        return None
    column = kwargs["column"]
    return FlagCheck(IN_SET, column, f"{column}{IN_REFERENCE}{name}", f"{_quote(column)} in (select * from ({sql}))",
                     f"{column} in ${name} (membership computed in DuckDB)", name)


def _bound(value: Any, sql_type: str) -> str | None:
    """A between bound as SQL of the column's type; None = not a literal this module compares (a
    number against a date, text against a number, NaN or infinity: GX says what it makes of them)."""
    temporal = sql_type.startswith(TEMPORAL_TYPES)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not temporal and math.isfinite(value):
        return repr(value)
    if isinstance(value, str) and temporal:
        return f"cast('{value.replace(chr(39), chr(39) * 2)}' as {sql_type})"
    return None


def _between(index: int, kwargs: dict[str, Any], types: dict[str, str]) -> FlagCheck | None:
    column = kwargs.get("column")
    sql_type = types.get(column, "")
    if set(kwargs) - BETWEEN_KWARGS or not sql_type.startswith(COMPARABLE_TYPES):
        return None
    terms, shown = [], []
    for key, strict_key, operator in (("min_value", "strict_min", ">"), ("max_value", "strict_max", "<")):
        if kwargs.get(key) is None:
            continue
        bound = _bound(kwargs[key], sql_type)
        if bound is None:
            return None
        comparison = operator if kwargs.get(strict_key) else operator + "="
        terms.append(f"{_quote(column)} {comparison} {bound}")
        shown.append(f"{comparison} {kwargs[key]}")
    if not terms:
        return None
    return FlagCheck(BETWEEN_TYPE, column, f"{column}{BETWEEN}{index}", " and ".join(terms),
                     f"{column} {' and '.join(shown)} (compared in DuckDB)")


def flag_checks(con: duckdb.DuckDBPyConnection, suite_file: SuiteFile) -> dict[int, FlagCheck]:
    """Expectation index -> its flag check, for the suite's expectations GX is slow at (see above)."""
    checks = {}
    types = None
    for i, expectation in enumerate(suite_file.suite["expectations"]):
        check = None
        if expectation["type"] == IN_SET:
            check = _membership(con, suite_file, expectation["kwargs"])
        elif expectation["type"] == BETWEEN_TYPE:
            types = types if types is not None else _column_types(con, suite_file.table)
            check = _between(i, expectation["kwargs"], types)
        if check is not None:
            checks[i] = check
    return checks


def flag_terms(checks: dict[int, FlagCheck]) -> list[str]:
    """SELECT terms computing each flag once (NULL stays NULL, as GX ignores it)."""
    flags = {c.flag: c for c in checks.values()}  # one name, one condition: the same reference check twice
    return [f"case when {_quote(c.column)} is null then null else ({c.condition}) end as {_quote(c.flag)}"
            for c in flags.values()]


def suite_with_flags(suite: dict[str, Any], checks: dict[int, FlagCheck]) -> dict[str, Any]:
    """The suite as GX runs it: each flagged expectation checks ``value_set [true]`` on its flag."""
    expectations = []
    added = list(dict.fromkeys(c.flag for c in checks.values()))
    for i, e in enumerate(suite["expectations"]):
        kwargs = e["kwargs"]
        if added and e["type"] == "expect_table_columns_to_match_ordered_list":  # read after the table's columns
            e = {**e, "kwargs": {**kwargs, "column_list": [*kwargs["column_list"], *added]}}
        elif added and e["type"] == "expect_table_columns_to_match_set":
            e = {**e, "kwargs": {**kwargs, "column_set": [*kwargs["column_set"], *added]}}
        if i in checks:
            check = checks[i]
            kept = {k: v for k, v in kwargs.items() if k not in FLAGGED_KWARGS}  # mostly, result_format
            e = {**e, "type": IN_SET, "kwargs": {**kept, "column": check.flag, "value_set": [True]},
                 "meta": {**e.get("meta", {}), "checks": check.describes}}
        expectations.append(e)
    return {**suite, "expectations": expectations}


def failing_values(con: duckdb.DuckDBPyConnection, table: str, where: str, check: FlagCheck) -> list[Any]:
    """Up to 20 values of the batch (``where``) that fail the check (GX's partial unexpected list)."""
    column = _quote(check.column)
    rows = con.execute(f"select {column} from (select {column} from {table}{where}) "
                       f"where {column} is not null and not ({check.condition}) order by 1 limit 20").fetchall()
    return [r[0] for r in rows]
