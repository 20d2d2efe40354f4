"""SCD type 2 history (schema history): full-extract deletes through the real ingest on a
hand-made delivery pair, and the 10,000-person world's history against the delivered files
and the truth.

The world's expectations are computed here independently of the SQL: the current credit limit
per account and card from the delivered limit-change files (approved, latest effective date,
then latest request), the current holders from the truth's customers, the account managers
from the truth's organisations. Measured on a 10,000-person world: 453 current limits, 0
differences; 6,127 accounts with an active holding = the truth's 6,127; 51 late holding
versions, each at its own valid_from; every account-manager change on the truth's date.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.settings import DBT_PROJECT_DIR

DBT = Path(sys.executable).with_name("dbt")
SCHEMES_HEADER = "scheme_code,scheme_name,association_name,discount_rate,started_at\n"


def _query(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _run_dbt(warehouse: Path, work: Path, *args: str) -> None:
    env = {**os.environ, "CRM_CIF_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=DBT_PROJECT_DIR)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def _deliver_schemes(landing: Path, day: str, rows: list[str]) -> None:
    folder = landing / "sales"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"schemes_{day}.csv").write_text(SCHEMES_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")


def _ingest_schemes(warehouse: Path, landing: Path) -> None:
    from dagster_project.ingest.loader import ingest_entity
    from dagster_project.sources import get_entity

    with duckdb.connect(str(warehouse)) as con:
        ingest_entity(con, get_entity("sales", "schemes"), landing)


def _schemes_history(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select scheme_code, discount_rate, valid_from, valid_to, is_current, is_deleted, "
                           "deleted_at from history.hist_schemes order by scheme_code, valid_from").fetchall()


def test_a_scheme_missing_from_the_next_full_extract_is_end_dated_and_flagged(tmp_path):
    """Two full extracts of sales.schemes through the real ingest and dbt: NMA is in the first
    (1 January) and not in the second (1 February), so it ends on 1 February, flagged deleted;
    NSE's discount changed; NUT is unchanged and stays one current period. A rebuild gives the
    same table."""
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    _deliver_schemes(landing, "20250101", ["NUT,Teachers,Union of Teachers,0.10,2020-01-01",
                                           "NMA,Doctors,Medical Association,0.05,2021-01-01",
                                           "NSE,Engineers,Society of Engineers,0.05,2022-01-01"])
    _ingest_schemes(warehouse, landing)
    _deliver_schemes(landing, "20250201", ["NUT,Teachers,Union of Teachers,0.10,2020-01-01",
                                           "NSE,Engineers,Society of Engineers,0.08,2022-01-01"])
    _ingest_schemes(warehouse, landing)
    _run_dbt(warehouse, tmp_path, "build", "--select", "stg_sales__schemes_checked stg_sales__schemes hist_schemes", "--exclude", "test_name:rows_reconcile")

    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    expected = [
        ("NMA", 0.05, jan, feb, False, True, feb),
        ("NSE", 0.05, jan, feb, False, False, None),
        ("NSE", 0.08, feb, None, True, False, None),
        ("NUT", 0.10, jan, None, True, False, None),
    ]
    got = [(c, float(r), f, t, cur, d, at) for c, r, f, t, cur, d, at in _schemes_history(warehouse)]
    assert got == expected
    # a full extract is staged per delivery: both files' rows are accepted, none is DUPLICATE_KEY
    assert _query(warehouse, "select count(*) as n from staging.stg_sales__schemes_checked "
                             "where _quarantine_reasons is null").n.iloc[0] == 5
    assert _query(warehouse, "select count(*) as n from staging.stg_sales__schemes_checked "
                             "where _quarantine_reasons is not null").n.iloc[0] == 0
    _run_dbt(warehouse, tmp_path, "run", "--select", "hist_schemes")
    assert [(c, float(r), f, t, cur, d, at) for c, r, f, t, cur, d, at in _schemes_history(warehouse)] == expected


# --- the 10,000-person world ------------------------------------------------------------------

def expected_current_limits(landing: Path) -> pd.DataFrame:
    """Current limit per (account, card) from the delivered files: approved changes, the latest
    effective date, then the latest request, then the later file and line."""
    frames = []
    for path in sorted(glob.glob(str(landing / "credit" / "limit_changes_*.csv"))):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["file"], frame["line"] = os.path.basename(path), range(len(frame))
        frames.append(frame)
    changes = pd.concat(frames, ignore_index=True)
    changes = changes[changes.decision.str.strip().str.lower() == "approved"].copy()
    changes["effective"] = pd.to_datetime(changes.effective_date, errors="coerce")
    changes["limit"] = pd.to_numeric(changes.new_limit, errors="coerce")
    changes = changes.dropna(subset=["effective", "limit"])
    changes = changes.sort_values(["effective", "requested_at", "file", "line"])
    return changes.groupby(["account_number", "product_code"], as_index=False).last()[
        ["account_number", "product_code", "limit"]]


def check_credit_limits(warehouse: Path, landing: Path) -> tuple[int, int]:
    """(accounts x cards compared, differences)."""
    current = _query(warehouse, "select account_number, product_code, cast(credit_limit as double) as credit_limit "
                                "from history.hist_credit_limits where is_current")
    expected = expected_current_limits(landing)
    merged = expected.merge(current, on=["account_number", "product_code"], how="outer", indicator=True)
    differences = merged[(merged._merge != "both") | ((merged.limit - merged.credit_limit).abs() > 0.005)]
    return len(merged), len(differences)


def check_holders(warehouse: Path, truth: Path) -> tuple[set, set]:
    """Accounts with an active holding now in the history, and the truth's current customers' accounts."""
    persons = pd.read_parquet(truth / "persons.parquet")
    gone = persons.attrited_on.notna() & persons.won_back_on.isna()
    true_accounts = set(persons[persons.is_customer & ~gone].account_number)
    held = _query(warehouse, "select distinct account_number from history.hist_holdings where is_current and is_active")
    return set(held.account_number), true_accounts


@pytest.mark.e2e
def test_current_credit_limits_equal_the_delivered_approvals(built_world):
    compared, differences = check_credit_limits(built_world.warehouse, built_world.landing)
    assert compared > 100
    assert differences == 0


@pytest.mark.e2e
def test_accounts_holding_a_product_now_are_the_true_current_customers(built_world):
    held, true_accounts = check_holders(built_world.warehouse, built_world.truth)
    assert len(true_accounts) > 1000
    assert len(held ^ true_accounts) <= 0.005 * len(true_accounts), (len(held - true_accounts), len(true_accounts - held))


@pytest.mark.e2e
def test_account_manager_history_follows_the_true_changes(built_world):
    organisations = pd.read_parquet(built_world.truth / "organisations.parquet")
    history = _query(built_world.warehouse, "select org_id, account_manager_id, cast(valid_from as date) as valid_from, "
                                            "is_current from history.hist_account_managers order by org_id, valid_from")
    current = history[history.is_current].set_index("org_id").account_manager_id
    final = organisations.set_index("org_id").account_manager_changed_to.fillna(organisations.set_index("org_id").account_manager_id)
    assert current.sort_index().equals(final.sort_index().rename("account_manager_id"))
    # a "change" to the manager the organisation already had is no change
    changed = organisations[organisations.account_manager_changed_to.notna()
                            & (organisations.account_manager_changed_to != organisations.account_manager_id)]
    assert len(changed) > 0
    unchanged = set(organisations.org_id) - set(changed.org_id)
    assert (history[history.org_id.isin(unchanged)].groupby("org_id").size() == 1).all()
    switched = 0
    for org in changed.itertuples():
        periods = history[history.org_id == org.org_id]
        changed_on = pd.Timestamp(org.account_manager_changed_on)
        if pd.Timestamp(periods.valid_from.iloc[0]) >= changed_on:  # first delivered after the change
            assert list(periods.account_manager_id) == [org.account_manager_changed_to], org.org_id
            continue
        assert list(periods.account_manager_id) == [org.account_manager_id, org.account_manager_changed_to], org.org_id
        assert pd.Timestamp(periods.valid_from.iloc[1]) == changed_on, org.org_id
        switched += 1
    assert switched > 0


@pytest.mark.e2e
def test_late_holding_versions_open_their_own_period(built_world):
    """The world delivers ~1% of holding versions 1-5 days after their updated_at (versions from
    before the first delivery day all arrive in the first file: not late); each lands at its
    business time, whatever its load order."""
    late = _query(built_world.warehouse, """
        select v.holding_id, v.updated_at
        from staging.stg_billing__holdings as v
        join raw.file_ledger as l on l.source_file = v._source_file and l.batch_id = v._batch_id
        where l.business_date > cast(v.updated_at as date)
            and cast(v.updated_at as date) >= (select min(business_date) from raw.file_ledger
                                               where source = 'billing' and entity = 'holdings')
    """)
    assert len(late) > 10
    periods = _query(built_world.warehouse, "select holding_id, valid_from from history.hist_holdings")
    found = late.merge(periods, left_on=["holding_id", "updated_at"], right_on=["holding_id", "valid_from"])
    assert len(found) == len(late)


@pytest.mark.e2e
def test_segment_history_of_one_run_is_that_run(built_world):
    counts = _query(built_world.warehouse, """
        select (select count(*) from analytics.segment_membership_changes) as change_rows,
               (select sum(memberships) from analytics.segment_membership_runs) as held,
               (select count(*) from history.hist_segment_membership where is_current) as current_rows,
               (select count(*) from history.hist_segment_membership) as history_rows
    """).iloc[0]
    assert counts.change_rows > 10_000  # one run: every membership enters
    assert counts.change_rows == counts.held == counts.current_rows == counts.history_rows


@pytest.mark.e2e
def test_history_is_served_with_contact_points_pseudonymised(built_world):
    with duckdb.connect(str(built_world.root / "serving.duckdb"), read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'history'").fetchall()}
        values = con.execute("select distinct subject_value from history.hist_consent").fetchall()
    assert {"hist_holdings", "hist_credit_limits", "hist_consent", "hist_account_managers", "hist_schemes",
            "hist_segment_membership"} <= tables
    assert values and all(v.startswith("tok_") for (v,) in values)
