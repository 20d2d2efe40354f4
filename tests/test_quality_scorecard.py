"""`crm-cif quality` on the built world: every number equals the warehouse and the world's truth."""

import duckdb
import pandas as pd

from dagster_project.cli import main
from dagster_project.quality.scorecard import build_scorecard
from dagster_project.sources import SOURCES


def test_scorecard_numbers_match_the_truth(built_world):
    expected = pd.read_parquet(built_world.truth / "expected_counts.parquet").groupby("source").sum(numeric_only=True)
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        scores = {s.source: s for s in build_scorecard(con)}
        by_reason = con.execute("select source_system, reason_codes, count(*) from staging.stg_quarantine "
                                "group by all").fetchall()
        last = dict(con.execute("select source, max(business_date) from raw.file_ledger group by 1").fetchall())
    assert set(scores) == {s.name for s in SOURCES}
    for name, score in scores.items():
        assert score.raw_rows + score.rejects == expected.loc[name, "delivered_rows"], name
        assert score.rejects == expected.loc[name, "expected_rejected"], name
        assert score.quarantined == expected.loc[name, "expected_quarantined"], name
        assert score.last_delivery == last[name]
        assert all(r.passed for r in score.reconciliations), name
    assert {(s, r): n for s, r, n in by_reason} == {(s.source, r): n for s in scores.values()
                                                     for r, n in s.quarantined_by_reason.items()}


def test_quality_command_prints_the_scorecard_read_only(built_world, capsys):
    with duckdb.connect(str(built_world.warehouse), read_only=True):  # a reader holding the file open
        code = main(["quality"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"Quality scorecard: {built_world.warehouse}")
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        raw = con.execute("select count(*) from raw.branch__customers").fetchall()[0][0] + sum(
            con.execute(f"select count(*) from raw.branch__{e}").fetchall()[0][0] for e in ("visits", "teller_transactions"))
    branch = next(line for line in out.splitlines() if line.startswith("branch "))
    assert branch.split()[1] == f"{raw:,}" and branch.split()[4] == "4/4"


def test_quality_without_a_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRM_CIF_WAREHOUSE", str(tmp_path / "none.duckdb"))
    assert main(["quality"]) == 1
    assert "No warehouse at" in capsys.readouterr().err


def test_check_history_counts_the_latest_result_per_source(tmp_path):
    """From a real Dagster instance: a later passing run replaces an earlier failure; marts checks are not a source's."""
    import dagster as dg

    from dagster_project.quality.check_history import latest_check_tallies
    from dagster_project.quality.scorecard import render_scorecard

    outcome = {"visits": False}

    @dg.asset(key=["raw", "branch__visits"])
    def visits():
        return 1

    @dg.asset(key=["staging", "stg_web__sessions_checked"])
    def sessions():
        return 1

    @dg.asset(key=["marts", "dim_customer"])
    def dim_customer():
        return 1

    @dg.asset_check(asset=visits)
    def fresh():
        return dg.AssetCheckResult(passed=outcome["visits"])

    @dg.asset_check(asset=sessions)
    def unique_id():
        return dg.AssetCheckResult(passed=False)

    @dg.asset_check(asset=dim_customer)
    def contract():
        return dg.AssetCheckResult(passed=False)

    checks = [fresh, unique_id, contract]
    keys = [key for c in checks for key in c.check_keys]
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert dg.materialize([visits, sessions, dim_customer, *checks], instance=instance).success
        tallies = latest_check_tallies(instance, keys)
        assert (tallies["branch"].passed, tallies["branch"].failed) == (0, ["raw/branch__visits fresh"])
        outcome["visits"] = True
        assert dg.materialize([visits, fresh], instance=instance).success
        tallies = latest_check_tallies(instance, keys)
    assert set(tallies) == {"branch", "web"}
    assert (tallies["branch"].passed, tallies["branch"].failed) == (1, [])
    assert (tallies["web"].passed, tallies["web"].failed) == (0, ["staging/stg_web__sessions_checked unique_id"])
    assert "web: last run: staging/stg_web__sessions_checked unique_id" in render_scorecard([], tmp_path, tallies)
